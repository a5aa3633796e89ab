"""Drive the real uv (``uv venv``, ``uv pip install``) against ephemeral indexes.

uv differs from pip in ways a test harness has to encode, which is why this wrapper exists:

* TLS is configured by environment, not options that every version has: ``SSL_CERT_FILE``
  *replaces* uv's built-in (Mozilla) roots, ``SSL_CLIENT_CERT`` is one PEM with key and
  certificate. Both are per run, so CAs are merged and two client certificates are an error.
* Credentials can come from the URL, from ``UV_INDEX_<NAME>_USERNAME/PASSWORD`` for a named
  index (``--index name=url``), from netrc, or from uv's own credential store.
* Index order: uv searches ``--index`` entries before ``--default-index`` and, with the
  default ``first-index`` strategy, stops at the first index that has the project at all.
  Here ``index`` is the default index and ``extra_indexes`` are ``--index`` entries,
  mirroring uv's own ``--index-url`` / ``--extra-index-url`` semantics.
* ``--python`` must be a path with a separator: ``--python v1`` is read as a version
  request. :func:`~pytest_privrepo.clients.pip.resolve_python` makes paths absolute.

Lock and publish flows are added by other modules on top of :meth:`Uv.run` and
:meth:`Uv.index_options`.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, NamedTuple

from packaging.utils import canonicalize_name

from pytest_privrepo.clients.env import DEFAULT_TIMEOUT, ClientEnv, IndexLike, IndexSpec
from pytest_privrepo.clients.pip import resolve_python
from pytest_privrepo.clients.provision import venv_python
from pytest_privrepo.clients.result import CommandResult
from pytest_privrepo.errors import ClientError, ConfigError

__all__ = [
    "Uv",
    "UvAuth",
    "UvChange",
    "UvInstallResult",
    "parse_changes",
    "uv_env_name",
]

#: ``"url"``: userinfo in the index URL; ``"env"``: a named index plus
#: ``UV_INDEX_<NAME>_USERNAME/PASSWORD``; ``"netrc"``: the environment's netrc file
#: (uv sends it after a 401); ``"none"``: anonymous.
UvAuth = Literal["url", "env", "netrc", "none"]

IndexArg = IndexLike | IndexSpec | str

_CHANGE_RE = re.compile(r"^ ([+\-~]) (\S+?)(?:==(\S+)| @ (\S+))\s*$")
_UV_INDEX_NAME_RE = re.compile(r"^[A-Za-z0-9._-]+$")


def uv_env_name(index_name: str) -> str:
    """The ``<NAME>`` in ``UV_INDEX_<NAME>_USERNAME``: upper-cased, non-alphanumerics -> ``_``."""
    return re.sub(r"[^A-Z0-9]", "_", index_name.upper())


class UvChange(NamedTuple):
    """One line of uv's install summary: ``+`` installed, ``-`` removed, ``~`` reinstalled."""

    op: str
    name: str
    version: str | None  # None for direct references (``name @ url``)
    url: str | None = None


@dataclass(frozen=True)
class UvInstallResult:
    """Outcome of :meth:`Uv.pip_install`, parsed from uv's summary lines."""

    command: CommandResult
    changes: tuple[UvChange, ...] = ()

    @property
    def ok(self) -> bool:
        return self.command.ok

    @property
    def installed(self) -> tuple[tuple[str, str | None], ...]:
        """``(name, version)`` of every package uv installed or reinstalled in this run."""
        return tuple((c.name, c.version) for c in self.changes if c.op in "+~")

    @property
    def removed(self) -> tuple[tuple[str, str | None], ...]:
        return tuple((c.name, c.version) for c in self.changes if c.op == "-")

    @property
    def versions(self) -> dict[str, str | None]:
        """``{canonical name: version}`` of what this run installed."""
        return {canonicalize_name(name): version for name, version in self.installed}


def parse_changes(output: str) -> tuple[UvChange, ...]:
    """Pick uv's `` + name==version`` summary lines out of its (stderr) output."""
    changes: list[UvChange] = []
    for line in output.splitlines():
        match = _CHANGE_RE.match(line)
        if match:
            op, name, version, url = match.groups()
            changes.append(UvChange(op, name, version, url))
    return tuple(changes)


class Uv:
    """Runs the uv executable ``uv`` inside ``env``.

    ``retries`` sets ``UV_HTTP_RETRIES`` (default 0: uv otherwise retries 5xx and
    connection errors three times with back-off, which slows every negative test);
    ``None`` keeps uv's default.
    """

    def __init__(
        self,
        env: ClientEnv,
        uv: str | os.PathLike[str],
        *,
        retries: int | None = 0,
    ) -> None:
        self.env = env
        self.exe = os.fspath(uv)
        self.retries = retries

    # ------------------------------------------------------------------ plumbing
    def run(
        self,
        *args: str,
        check: bool = True,
        timeout: float | None = DEFAULT_TIMEOUT,
        extra_env: Mapping[str, str | os.PathLike[str] | None] | None = None,
        cwd: str | os.PathLike[str] | None = None,
    ) -> CommandResult:
        """Run ``uv <args>`` in the isolated environment."""
        env: dict[str, str | os.PathLike[str] | None] = {}
        if self.retries is not None:
            env["UV_HTTP_RETRIES"] = str(self.retries)
        env.update(extra_env or {})
        return self.env.run(
            [self.exe, *args], check=check, timeout=timeout, extra_env=env, cwd=cwd
        )

    def version(self) -> str:
        """uv's version (``uv --version`` -> ``uv 0.13.9 (...)``)."""
        out = self.run("--version").stdout.split()
        if len(out) < 2:
            raise ClientError(f"unexpected `uv --version` output: {' '.join(out)!r}")
        return out[1]

    def index_options(
        self,
        index: IndexArg | None = None,
        extra_indexes: Sequence[IndexArg] = (),
        *,
        auth: UvAuth = "url",
    ) -> tuple[list[str], dict[str, str]]:
        """Command-line options and environment variables for these indexes.

        Returns ``(args, env)``: ``--default-index``/``--index`` options, and
        ``SSL_CERT_FILE`` / ``SSL_CLIENT_CERT`` / ``UV_INDEX_*`` variables. When a CA file
        is needed and some index (or the implicit PyPI) has none, the public roots are
        added to the bundle, because ``SSL_CERT_FILE`` replaces uv's built-in roots.
        """
        if auth not in ("url", "env", "netrc", "none"):
            raise ConfigError(
                f"unknown uv auth route {auth!r}: use 'url', 'env', 'netrc' or 'none'"
            )
        primary = IndexSpec.of(index) if index is not None else None
        extras = [IndexSpec.of(i) for i in extra_indexes]
        specs = ([primary] if primary is not None else []) + extras
        args: list[str] = []
        env: dict[str, str] = {}
        used_names: set[str] = set()

        def option_value(spec: IndexSpec, position: int) -> str:
            if auth == "url":
                return spec.url_with_userinfo()
            if auth == "netrc" and spec.has_credentials:
                self.env.write_netrc(
                    spec.hostname, spec.username or "", spec.password or ""
                )
                return spec.url
            if auth != "env" or not spec.has_credentials:
                return spec.url
            name = spec.name or f"index{position}"
            if not _UV_INDEX_NAME_RE.match(name):
                raise ConfigError(
                    f"index name {name!r} cannot be used as a uv index name"
                )
            key = uv_env_name(name)
            if key in used_names:
                raise ConfigError(
                    f"two indexes map to UV_INDEX_{key}_*: give them names that differ "
                    "in more than case or punctuation"
                )
            used_names.add(key)
            env[f"UV_INDEX_{key}_USERNAME"] = spec.username or ""
            if spec.password is not None:
                env[f"UV_INDEX_{key}_PASSWORD"] = spec.password
            return f"{name}={spec.url}"

        # Extras first: uv gives earlier --index entries priority, like its
        # --extra-index-url over --index-url.
        for position, spec in enumerate(extras, start=1):
            args += ["--index", option_value(spec, position)]
        if primary is not None:
            args += ["--default-index", option_value(primary, 0)]

        cas = [s.ca_cert for s in specs if s.ca_cert is not None]
        if cas:
            needs_public = primary is None or any(
                s.ca_cert is None and s.url.startswith("https:") for s in specs
            )
            bundle = self.env.ca_bundle(cas, include_certifi=needs_public)
            assert bundle is not None
            env["SSL_CERT_FILE"] = os.fspath(bundle)
        client_certs = {s.client_cert for s in specs if s.client_cert is not None}
        if len(client_certs) > 1:
            raise ConfigError(
                "uv presents one SSL_CLIENT_CERT to every host, but these indexes need "
                f"different client certificates: {sorted(map(str, client_certs))}"
            )
        if client_certs:
            env["SSL_CLIENT_CERT"] = os.fspath(client_certs.pop())
        return args, env

    # ------------------------------------------------------------------ commands
    def venv(
        self,
        path: str | os.PathLike[str],
        *,
        python: str | os.PathLike[str] = sys.executable,
        seed: bool = False,
    ) -> Path:
        """``uv venv`` at ``path`` with an explicit interpreter; returns the venv's python.

        The interpreter is always explicit because downloads are disabled
        (``UV_PYTHON_DOWNLOADS=never``) and uv's own discovery would depend on the machine.
        """
        target = Path(path).absolute()
        args = [
            "venv",
            "--no-project",
            "--python",
            os.fspath(Path(python).absolute()),
            os.fspath(target),
        ]
        if seed:
            args.insert(1, "--seed")
        self.run(*args)
        return venv_python(target)

    def pip_install(
        self,
        packages: str | Sequence[str],
        *,
        venv: str | os.PathLike[str],
        index: IndexArg | None = None,
        extra_indexes: Sequence[IndexArg] = (),
        auth: UvAuth = "url",
        index_strategy: str | None = None,
        no_index: bool = False,
        find_links: Sequence[str | os.PathLike[str]] = (),
        no_deps: bool = False,
        reinstall: bool = False,
        upgrade: bool = False,
        prerelease: str | None = None,
        dry_run: bool = False,
        no_cache: bool = False,
        extra_args: Sequence[str] = (),
        check: bool = True,
        timeout: float | None = DEFAULT_TIMEOUT,
    ) -> UvInstallResult:
        """``uv pip install --python <venv>`` and parse which packages it installed.

        ``venv`` is a venv directory or its interpreter. ``index`` is the default index
        (replaces PyPI; ``None`` keeps PyPI), ``extra_indexes`` are searched first (see the
        module docstring). ``index_strategy``: ``first-index`` (uv's default),
        ``unsafe-first-match`` or ``unsafe-best-match``.
        """
        names = [packages] if isinstance(packages, str) else list(packages)
        if not names:
            raise ConfigError("uv pip install needs at least one package")
        python = resolve_python(venv)
        index_args, env = self.index_options(index, extra_indexes, auth=auth)
        args = ["pip", "install", "--python", os.fspath(python), *index_args]
        if index_strategy is not None:
            args += ["--index-strategy", index_strategy]
        if no_index:
            args.append("--no-index")
        for link in find_links:
            args += ["--find-links", os.fspath(link)]
        if no_deps:
            args.append("--no-deps")
        if reinstall:
            args.append("--reinstall")
        if upgrade:
            args.append("--upgrade")
        if prerelease is not None:
            args += ["--prerelease", prerelease]
        if dry_run:
            args.append("--dry-run")
        if no_cache:
            args.append("--no-cache")
        args += list(extra_args)
        args += names
        result = self.run(*args, check=check, timeout=timeout, extra_env=env)
        return UvInstallResult(command=result, changes=parse_changes(result.output))

    def pip_list(self, venv: str | os.PathLike[str]) -> dict[str, str]:
        """``{canonical name: version}`` of everything installed in ``venv``."""
        python = resolve_python(venv)
        out = self.run(
            "pip", "list", "--python", os.fspath(python), "--format", "json"
        ).stdout
        try:
            rows = json.loads(out)
        except ValueError:
            raise ClientError(
                f"`uv pip list --format json` printed no JSON:\n{out}"
            ) from None
        return {canonicalize_name(row["name"]): row["version"] for row in rows}
