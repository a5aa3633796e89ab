"""uv's configuration model: a uv.toml of the test's own, ``[[index]]`` tables, and the
variables that carry each named index's credentials and TLS files.

Why apart from uv.py: the same model serves three writers (a ``--config-file`` uv.toml,
pyproject's ``[[tool.uv.index]]`` in :mod:`~pytest_privrepo.clients.uv_project`, and ``uv
publish --index``) and the snippets' variable names; none of them needs the runner.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.items import AoT, Table

from pytest_privrepo.access import IndexAccess
from pytest_privrepo.clients.env import ClientEnv
from pytest_privrepo.clients.indexes import IndexArg
from pytest_privrepo.errors import ConfigError

__all__ = [
    "UvConfig",
    "append_index",
    "check_uv_index_name",
    "index_table",
    "uv_credential_env",
    "uv_env_name",
    "uv_index_env",
    "uv_tls_env",
]

_UV_INDEX_NAME_RE = re.compile(r"^[A-Za-z0-9._-]+$")


def uv_env_name(index_name: str) -> str:
    """``<NAME>`` of ``UV_INDEX_<NAME>_USERNAME``: upper case, others -> ``_``."""
    return re.sub(r"[^A-Z0-9]", "_", index_name.upper())


def check_uv_index_name(name: str, taken: Iterable[str] = ()) -> str:
    """``name`` if uv accepts it as an index name and no name in ``taken`` maps to the
    same ``UV_INDEX_<NAME>_*`` variables (``corp-a`` and ``corp.a`` would share
    credentials)."""
    if not _UV_INDEX_NAME_RE.match(name):
        raise ConfigError(
            f"{name!r} cannot be a uv index name: use letters, digits, '.', '_' or '-'"
        )
    key = uv_env_name(name)
    for other in taken:
        if uv_env_name(other) == key:
            raise ConfigError(
                f"index names {other!r} and {name!r} both map to UV_INDEX_{key}_*: "
                "give them names that differ in more than case or punctuation"
            )
    return name


def index_table(
    name: str,
    url: str,
    *,
    default: bool = False,
    explicit: bool = False,
    authenticate: str | None = None,
    ignore_error_codes: Sequence[int] | None = None,
    publish_url: str | None = None,
) -> Table:
    """One ``[[index]]`` (uv.toml) or ``[[tool.uv.index]]`` (pyproject.toml) entry: both
    files take the same keys, so both writers use this."""
    if authenticate not in (None, "always", "auto", "never"):
        raise ConfigError(
            f"authenticate must be 'always', 'auto' or 'never', not {authenticate!r}"
        )
    entry = tomlkit.table()
    entry["name"] = name
    entry["url"] = url
    if default:
        entry["default"] = True
    if explicit:
        entry["explicit"] = True
    if authenticate is not None:
        entry["authenticate"] = authenticate
    if ignore_error_codes is not None:
        entry["ignore-error-codes"] = [int(c) for c in ignore_error_codes]
    if publish_url is not None:
        entry["publish-url"] = publish_url
    return entry


def uv_index_env(
    env: ClientEnv,
    specs: Mapping[str, IndexAccess],
    *,
    public_roots: bool = False,
) -> dict[str, str]:
    """``UV_INDEX_<NAME>_USERNAME/PASSWORD``, ``SSL_CERT_FILE`` and ``SSL_CLIENT_CERT``
    for named indexes (``{name: spec}``): what a run needs besides the file naming them.

    ``SSL_CERT_FILE`` *replaces* uv's built-in roots, so ``public_roots`` adds the public
    ones for runs that must still reach a public HTTPS index (:func:`~pytest_privrepo.clients.indexes.needs_public_roots`).
    uv presents one ``SSL_CLIENT_CERT`` to every host, so two different client
    certificates are errors.
    """
    variables: dict[str, str] = {}
    for name, spec in specs.items():
        variables.update(uv_credential_env(name, spec))
    variables.update(uv_tls_env(env, specs.values(), public_roots=public_roots))
    return variables


def uv_credential_env(name: str, spec: IndexAccess) -> dict[str, str]:
    """``UV_INDEX_<NAME>_USERNAME/PASSWORD`` of the index named ``name`` (none without a
    user name)."""
    if spec.username is None:
        return {}
    key = uv_env_name(name)
    variables = {f"UV_INDEX_{key}_USERNAME": spec.username}
    if spec.password is not None:
        variables[f"UV_INDEX_{key}_PASSWORD"] = spec.password
    return variables


def uv_tls_env(
    env: ClientEnv, specs: Iterable[IndexAccess], *, public_roots: bool
) -> dict[str, str]:
    """``SSL_CERT_FILE`` (the indexes' CAs merged, plus the public roots with
    ``public_roots``: certifi's and, in a routed ClientEnv, the gateway's public CA; see
    :meth:`~pytest_privrepo.clients.env.ClientEnv.ca_bundle`) and ``SSL_CLIENT_CERT`` for
    one uv run (see :func:`uv_index_env`, :func:`~pytest_privrepo.clients.indexes.needs_public_roots`)."""
    specs = list(specs)
    variables: dict[str, str] = {}
    cas = [s.ca_cert for s in specs if s.ca_cert is not None]
    if cas:
        bundle = env.ca_bundle(cas, include_public_roots=public_roots)
        assert bundle is not None
        variables["SSL_CERT_FILE"] = os.fspath(bundle)
    client_certs = {s.client_cert for s in specs if s.client_cert is not None}
    if len(client_certs) > 1:
        raise ConfigError(
            "uv presents one SSL_CLIENT_CERT to every host, but these indexes need "
            f"different client certificates: {sorted(map(str, client_certs))}"
        )
    if client_certs:
        variables["SSL_CLIENT_CERT"] = os.fspath(client_certs.pop())
    return variables


def append_index(
    parent: MutableMapping[str, Any],
    specs: dict[str, IndexAccess],
    name: str,
    index: IndexArg,
    *,
    owner: str,
    **options: Any,
) -> IndexAccess:
    """Append one index table (:func:`index_table`, ``options`` as there) to ``parent``'s
    ``index`` array, and remember the index's access under ``name`` in ``specs``.

    One rule for uv.toml's ``[[index]]`` (:class:`UvConfig`) and pyproject's
    ``[[tool.uv.index]]`` (``UvProject``): a name once per file, a name uv accepts and
    whose ``UV_INDEX_<NAME>_*`` variables no other entry shares. ``owner`` starts the
    error for a repeated name ("pyproject already has a uv index").
    """
    if name in specs:
        raise ConfigError(f"{owner} named {name!r}")
    check_uv_index_name(name, specs)
    spec = IndexAccess.of(index)
    entries = parent.get("index")
    if entries is None:
        entries = AoT([])
        parent["index"] = entries
    entries.append(index_table(name, spec.url, **options))
    specs[name] = spec
    return spec


class UvConfig:
    """A uv.toml of the test's own holding ``[[index]]`` tables, for ``--config-file``.

    Why: a uv.toml is how machines, CI images and users without a project configure uv,
    and besides pyproject.toml it is the only place for ``explicit``, ``authenticate``,
    ``ignore-error-codes`` and ``publish-url``. uv reads a ``--config-file`` *instead
    of* every discovered file (user, system and project uv.toml, the project's
    ``[tool.uv]``), even with ``UV_NO_CONFIG=1``, so runs that use it stay isolated from
    the machine.

    Credentials never go into the file (unless the URL itself carries them): each named
    index gets ``UV_INDEX_<NAME>_USERNAME/PASSWORD`` from :meth:`env_vars`, next to the
    TLS variables. Call :meth:`save` (or :meth:`args`, which saves) before running uv.
    """

    def __init__(self, path: str | os.PathLike[str], env: ClientEnv) -> None:
        self.path = Path(path).absolute()
        self.env = env
        self.doc = tomlkit.document()
        #: connection details (credentials, CA, client cert) per index name
        self.specs: dict[str, IndexAccess] = {}

    def add_index(
        self,
        name: str,
        index: IndexArg,
        *,
        default: bool = False,
        explicit: bool = False,
        authenticate: str | None = None,
        ignore_error_codes: Sequence[int] | None = None,
        publish_url: str | None = None,
    ) -> UvConfig:
        """Append an ``[[index]]`` table. uv searches the entries in file order, the
        ``default = true`` one last; ``publish_url`` for ``uv publish --index``."""
        append_index(self.doc, self.specs, name, index, owner=f"{self.path.name} already has an index",
                     default=default, explicit=explicit, authenticate=authenticate,
                     ignore_error_codes=ignore_error_codes, publish_url=publish_url)
        return self

    @property
    def text(self) -> str:
        return tomlkit.dumps(self.doc)

    def save(self) -> Path:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(self.text, encoding="utf-8")
        return self.path

    def args(self) -> list[str]:
        """``["--config-file", path]`` (the file is written first)."""
        return ["--config-file", os.fspath(self.save())]

    def env_vars(self, *, public_roots: bool = False) -> dict[str, str]:
        """Credentials and TLS variables for the indexes (see :func:`uv_index_env`)."""
        return uv_index_env(self.env, self.specs, public_roots=public_roots)

    def urls(self) -> dict[str, str]:
        """``{name: url}``, e.g. to map uv.lock registries back to index names."""
        return {name: spec.url for name, spec in self.specs.items()}
