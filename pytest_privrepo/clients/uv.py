"""Drive the real uv (``uv venv``, ``uv pip install``, ``uv publish``) against ephemeral
indexes.

uv differs from pip in ways a test harness has to encode (hence this wrapper):

* TLS is configured by environment, not options that every version has:
  ``SSL_CERT_FILE`` *replaces* uv's built-in (Mozilla) roots, ``SSL_CLIENT_CERT`` is one
  PEM with key and certificate. Both are per run, so CAs are merged and two client
  certificates are an error.
* Credentials can come from the URL, from ``UV_INDEX_<NAME>_USERNAME/PASSWORD`` for a
  named index (``--index name=url``), from netrc, or from uv's own credential store.
* Index order: uv searches ``--index`` entries before ``--default-index`` and, with the
  default ``first-index`` strategy, stops at the first index that has the project at
  all. Here ``index`` is the default index and ``extra_indexes`` are ``--index``
  entries, mirroring uv's own ``--index-url`` / ``--extra-index-url`` semantics.
* ``--python`` must be a path with a separator: ``--python v1`` is read as a version
  request. :func:`~pytest_privrepo.clients.pip.resolve_python` makes paths absolute.

Routes by which a test can hand uv its indexes (``route=`` of :meth:`Uv.index_options`),
because a user may rely on any of them and each has its own rules:

* ``"cli"`` (formerly ``"options"``, still accepted): ``--index`` / ``--default-index`` on
  the command line;
* ``"env"``: ``UV_INDEX`` (space-separated) / ``UV_DEFAULT_INDEX``, as CI images do;
* ``"file"`` (formerly ``"config"``, still accepted): ``[[index]]`` tables in a uv.toml
  of the test's own (:class:`~pytest_privrepo.clients.uv_config.UvConfig`),
  passed with ``--config-file``. uv then reads that file *instead of* every file it
  would discover: the user and system uv.toml, a uv.toml next to the project, and the
  project's own ``[tool.uv]`` (its indexes included). ``--config-file`` wins over
  ``UV_NO_CONFIG=1``, so the isolated environment keeps hiding the machine's config
  either way.

``[[tool.uv.index]]`` in pyproject.toml is
:class:`~pytest_privrepo.clients.uv_project.UvProject`.
:meth:`Uv.publish` drives ``uv publish`` by upload URL or by index name.

Oldest uv this harness supports: 0.8.14. ``uv publish --index NAME`` (``route="index"``
here, :meth:`UvProject.publish <pytest_privrepo.clients.uv_project.UvProject.publish>`)
exists from 0.5.8, but before 0.8.14 uv sends the index's ``UV_INDEX_<NAME>_*``
credentials neither to its check of the index page (anonymous: a 401, so files already
there are uploaded again; uv 0.5.10 even fails the check of a project the index does
not have yet) nor to the upload ("Missing credentials" without ``--username``); those
runs raise :class:`~pytest_privrepo.errors.ConfigError` naming 0.8.14. Older uvs differ
in more than that: ``first-index`` stops at a 401/403 from 0.7.0 (uv 0.6 moves on to
the next index), and before 0.5.30 requests for an index's files (metadata, wheels)
go out anonymously first, get a 401 and are retried with the index's credentials.

uv's own words change between 0.8.14 and 0.13.9 (the tests pin each exactly): a 403 from
the first index is "could not be queried due to a lack of valid authentication
credentials (403 Forbidden)" before 0.9.5, "returned a 403 Forbidden error" from it; a
refused upload "Upload failed with status code 403 Forbidden." before 0.9.29, "Server
returned status code 403 Forbidden." from it; a failed publish names the URL in
backticks from 0.12.19; uploads carry ``blake2_256_digest`` next to ``sha256_digest``
from 0.8.18. uv wraps its hints to the terminal width, so tests compare them with the
whitespace flattened.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, NamedTuple, get_args

from packaging.utils import canonicalize_name
from packaging.version import Version

from pytest_privrepo.access import IndexAccess, url_with_credentials
from pytest_privrepo.clients.env import DEFAULT_TIMEOUT, ClientEnv
from pytest_privrepo.clients.indexes import IndexArg
from pytest_privrepo.clients.provision import venv_python
from pytest_privrepo.clients.result import CommandResult
from pytest_privrepo.clients.runner import ClientRunner, Route, check_choice, option_args
from pytest_privrepo.clients.indexes import needs_public_roots
from pytest_privrepo.clients.uv_config import (
    UvConfig,
    check_uv_index_name,
    uv_credential_env,
    uv_tls_env,
)
# Their old home: ``from pytest_privrepo.clients.uv import UvConfig, index_table, ...`` works.
from pytest_privrepo.clients.uv_config import index_table, uv_env_name, uv_index_env  # noqa: F401
from pytest_privrepo.clients.venv import make_venv, resolve_python
from pytest_privrepo.errors import ClientError, ConfigError
from pytest_privrepo.redact import redact

__all__ = [
    "UV_INDEX_ROUTES",
    "UV_PUBLISH_ROUTES",
    "Uv",
    "UvAuth",
    "UvChange",
    "UvIndexRoute",
    "UvInstallResult",
    "UvPublishRoute",
    "parse_changes",
]

#: ``"url"``: userinfo in the index URL; ``"env"``: a named index plus
#: ``UV_INDEX_<NAME>_USERNAME/PASSWORD``; ``"netrc"``: the environment's netrc file
#: (uv sends it after a 401); ``"none"``: anonymous.
UvAuth = Literal["url", "env", "netrc", "none"]

#: How the index URLs reach uv (see the module docstring).
UvIndexRoute = Literal["cli", "env", "file", "options", "config"]
UV_INDEX_ROUTES: tuple[Route, ...] = ("cli", "env", "file")

#: ``"url"``: ``--publish-url``; ``"index"``: ``--index NAME`` of a configured index
#: with a ``publish-url`` (uv then checks that index's simple page for the files first).
UvPublishRoute = Literal["url", "index"]
UV_PUBLISH_ROUTES: tuple[Route, ...] = ("url", "index")

#: First uv whose ``uv publish --index NAME`` sends the index's ``UV_INDEX_<NAME>_*``
#: credentials to its check of the index page and to the upload (module docstring).
PUBLISH_INDEX_CREDENTIALS_UV = Version("0.8.14")

#: What uv before PUBLISH_INDEX_CREDENTIALS_UV does not do (for the ConfigError).
PUBLISH_INDEX_LIMIT = (
    "sends the index's UV_INDEX_<NAME>_* credentials neither to the check nor to "
    "the upload of `uv publish --index`"
)

_CHANGE_RE = re.compile(r"^ ([+\-~]) (\S+?)(?:==(\S+)| @ (\S+))\s*$")


class UvChange(NamedTuple):
    """A line of uv's summary: ``+`` installed, ``-`` removed, ``~`` reinstalled."""

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
        """``(name, version)`` of every package this run installed or reinstalled."""
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


class Uv(ClientRunner):
    """Runs the uv executable ``uv`` inside ``env``.

    ``retries`` sets ``UV_HTTP_RETRIES`` (default 0: uv otherwise retries 5xx and
    connection errors three times with back-off, which slows every negative test);
    ``None`` keeps uv's default.
    """

    tool = "uv"
    must_exist = False

    def __init__(
        self,
        env: ClientEnv,
        uv: str | os.PathLike[str],
        *,
        retries: int | None = 0,
        timeout: float | None = None,
    ) -> None:
        super().__init__(env, uv, timeout=timeout)
        self.retries = retries

    # ------------------------------------------------------------------ plumbing
    def run_env(self) -> dict[str, str | os.PathLike[str] | None]:
        """``UV_HTTP_RETRIES`` (see the class docstring)."""
        return {} if self.retries is None else {"UV_HTTP_RETRIES": str(self.retries)}

    def parse_version(self, words: list[str]) -> str | None:
        """``uv --version`` -> ``uv 0.13.9 (...)``: the second word."""
        return words[1] if len(words) >= 2 else None

    def require_version(self, minimum: Version, feature: str) -> None:
        """Deprecated name of :meth:`require`."""
        self.require(minimum, feature)

    def index_options(
        self,
        index: IndexArg | None = None,
        extra_indexes: Sequence[IndexArg] = (),
        *,
        auth: UvAuth = "url",
        route: UvIndexRoute = "cli",
    ) -> tuple[list[str], dict[str, str]]:
        """Command-line options and environment variables for these indexes.

        Returns ``(args, env)``. ``route`` says how uv learns the URLs (module
        docstring): ``"cli"`` gives ``--index``/``--default-index`` options;
        ``"env"`` gives ``UV_INDEX`` (space-separated) and ``UV_DEFAULT_INDEX``;
        ``"config"`` writes the indexes as ``[[index]]`` tables into a uv.toml under
        ``env.root/uv-config`` (one file per content, so earlier runs' files stay as
        they were) and gives ``--config-file <it>``. ``auth`` says how the credentials
        travel (:data:`UvAuth`); ``"env"`` names each index (``name=url``, the config's
        ``name``) so that ``UV_INDEX_<NAME>_USERNAME/PASSWORD`` apply. The config route
        always names its indexes (``index<N>`` for unnamed ones).

        The environment also gets ``SSL_CERT_FILE`` / ``SSL_CLIENT_CERT``. When a CA
        file is needed and some index (or the implicit PyPI) has none, the public roots
        are added to the bundle, because ``SSL_CERT_FILE`` replaces uv's built-in roots.
        """
        check_choice("uv auth route", auth, get_args(UvAuth))
        route = self.check_route(route, UV_INDEX_ROUTES)  # type: ignore[assignment]
        primary = IndexAccess.of(index) if index is not None else None
        extras = [IndexAccess.of(i) for i in extra_indexes]
        specs = ([primary] if primary is not None else []) + extras
        env: dict[str, str] = {}
        used_names: list[str] = []

        def entry(spec: IndexAccess, position: int) -> tuple[str | None, str]:
            """``(name or None, url)``; the credentials go where ``auth`` says."""
            named = route == "file" or (auth == "env" and spec.has_credentials)
            name = None
            if named:
                name = check_uv_index_name(spec.name or f"index{position}", used_names)
                used_names.append(name)
            if auth == "url":
                return name, spec.url_with_credentials()
            if auth == "netrc" and spec.has_credentials:
                self.env.write_netrc(
                    spec.hostname, spec.username or "", spec.password or ""
                )
            if auth == "env" and spec.has_credentials:
                assert name is not None
                env.update(uv_credential_env(name, spec))
            return name, spec.url

        def value(name: str | None, url: str) -> str:
            return f"{name}={url}" if name is not None else url

        # Extras first: uv gives earlier --index entries priority, like its
        # --extra-index-url over --index-url.
        extra_entries = [entry(s, n) for n, s in enumerate(extras, start=1)]
        primary_entry = entry(primary, 0) if primary is not None else None
        args: list[str] = []
        if route == "cli":
            for name, url in extra_entries:
                args += ["--index", value(name, url)]
            if primary_entry is not None:
                args += ["--default-index", value(*primary_entry)]
        elif route == "env":
            # Space-separated: URLs have no spaces (url_with_userinfo percent-encodes).
            if extra_entries:
                env["UV_INDEX"] = " ".join(value(n, u) for n, u in extra_entries)
            if primary_entry is not None:
                env["UV_DEFAULT_INDEX"] = value(*primary_entry)
        else:
            config = UvConfig(self.env.root / "uv-config" / "uv.toml", self.env)
            for name, url in extra_entries:
                assert name is not None
                config.add_index(name, url)
            if primary_entry is not None:
                assert primary_entry[0] is not None
                config.add_index(primary_entry[0], primary_entry[1], default=True)
            digest = hashlib.sha256(config.text.encode()).hexdigest()[:16]
            config.path = config.path.with_name(f"uv-{digest}.toml")
            args += config.args()

        public = needs_public_roots(specs, implicit_pypi=primary is None)
        env.update(uv_tls_env(self.env, specs, public_roots=public))
        return args, env

    # ------------------------------------------------------------------ commands
    def venv(
        self,
        path: str | os.PathLike[str],
        *,
        python: str | os.PathLike[str] = sys.executable,
        seed: bool = False,
    ) -> Path:
        """``uv venv`` at ``path`` with an explicit interpreter; returns its python.

        The interpreter is always explicit because downloads are disabled
        (``UV_PYTHON_DOWNLOADS=never``) and uv's own discovery depends on the machine.
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
        venv: str | os.PathLike[str] | None = None,
        index: IndexArg | None = None,
        extra_indexes: Sequence[IndexArg] = (),
        auth: UvAuth = "url",
        route: UvIndexRoute = "cli",
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

        ``venv`` is a venv directory or its interpreter; by default :attr:`target_venv`, a
        fresh venv of this environment (never the one pytest runs from). ``index`` is the default index
        (replaces PyPI; ``None`` keeps PyPI), ``extra_indexes`` are searched first (see
        the module docstring). ``auth`` and ``route`` as in :meth:`index_options`.
        ``index_strategy``: ``first-index`` (uv's default), ``unsafe-first-match`` or
        ``unsafe-best-match``.
        """
        names = [packages] if isinstance(packages, str) else list(packages)
        if not names:
            raise ConfigError("uv pip install needs at least one package")
        python = resolve_python(self.target_venv if venv is None else venv)
        index_args, env = self.index_options(
            index, extra_indexes, auth=auth, route=route
        )
        args = ["pip", "install", "--python", os.fspath(python), *index_args]
        args += option_args(
            ("--index-strategy", index_strategy),
            ("--no-index", no_index),
            ("--find-links", find_links),
            ("--no-deps", no_deps),
            ("--reinstall", reinstall),
            ("--upgrade", upgrade),
            ("--prerelease", prerelease),
            ("--dry-run", dry_run),
            ("--no-cache", no_cache),
        )
        args += list(extra_args)
        args += names
        result = self.run(*args, check=check, timeout=timeout, extra_env=env)
        return UvInstallResult(command=result, changes=parse_changes(result.output))

    @property
    def target_venv(self) -> Path:
        """The interpreter of ``<env root>/uv-target``, a venv created on first use: where
        :meth:`pip_install` and :meth:`pip_list` work when no ``venv`` is given."""
        python = venv_python(self.env.root / "uv-target")
        if not python.exists():  # a plain pip-less venv, made in process (make_venv)
            make_venv(self.env.root / "uv-target", env=self.env)
        return python

    def pip_list(self, venv: str | os.PathLike[str] | None = None) -> dict[str, str]:
        """``{canonical name: version}`` of everything installed in ``venv`` (default:
        :attr:`target_venv`)."""
        python = resolve_python(self.target_venv if venv is None else venv)
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

    def publish(
        self,
        files: Sequence[str | os.PathLike[str]],
        index: IndexArg,
        *,
        route: UvPublishRoute = "url",
        username: str | None = None,
        password: str | None = None,
        token: str | None = None,
        check_url: bool | str | None = None,
        certificates: bool = True,
        check: bool = True,
        extra_args: Sequence[str] = (),
        timeout: float | None = DEFAULT_TIMEOUT,
    ) -> CommandResult:
        """``uv publish --trusted-publishing never`` of ``files`` to ``index`` (an
        :class:`~pytest_privrepo.access.IndexAccess` or an ``Index``: its ``url``,
        ``upload_url``, credentials, certificates and ``name``).

        ``route="url"``: ``--publish-url <upload_url>``. ``route="index"``: a uv.toml
        with ``[[index]] name/url/publish-url`` (:class:`UvConfig`, under
        ``env.root/uv-publish``) and ``--index <name>``; uv then always checks the
        index's simple page for the files first, and sends that check the index's
        ``UV_INDEX_<NAME>_USERNAME/PASSWORD``, never the publish credentials, so the
        index's own credentials are set there. (:meth:`UvProject.publish
        <pytest_privrepo.clients.uv_project.UvProject.publish>` is the same route
        through pyproject's ``[[tool.uv.index]]``.)

        Credentials: the index's own, ``--username``/``--password``; ``username`` /
        ``password`` override them (a wrong password ...). ``token=``, or user
        ``__token__``, becomes ``--token`` (uv sends user ``__token__`` itself).
        ``check_url``: None, no check; True, the index's simple URL with the publish
        credentials as userinfo (uv 0.13 sends none to ``--check-url`` by itself, takes
        the 401 as "not there" and uploads anyway); a string is passed as it is. The
        index route takes only None or True: uv checks the index URL there by itself.
        ``SSL_CERT_FILE`` is the index's CA (it replaces uv's built-in roots),
        ``SSL_CLIENT_CERT`` its one-PEM client certificate; ``certificates=False``
        leaves both out.
        """
        route = self.check_route(route, UV_PUBLISH_ROUTES)  # type: ignore[assignment]
        if not files:
            raise ConfigError("publish() needs at least one distribution file")
        own = IndexAccess.of(index)
        upload_url = own.needs_upload_url("publish()")
        index_url = own.url
        if token is not None and (username is not None or password is not None):
            raise ConfigError("publish(): give token= or username=/password=, not both")
        if check_url is False:
            check_url = None
        if route == "index" and check_url not in (None, True):
            raise ConfigError(
                "with route='index' uv checks the index's own URL: check_url must be "
                f"None or True, not {redact(repr(check_url))}"
            )
        if token is not None:
            user: str | None = "__token__"
            secret: str | None = token
        else:
            user = own.username if username is None else username
            secret = own.password if password is None else password

        args = ["publish", "--trusted-publishing", "never", "--no-progress"]
        env: dict[str, str | os.PathLike[str] | None] = {}
        if route == "url":
            args += ["--publish-url", upload_url]
            if check_url is True:
                check_url = url_with_credentials(index_url, user, secret)
            if check_url is not None:
                args += ["--check-url", check_url]
        else:
            self.require(PUBLISH_INDEX_CREDENTIALS_UV, PUBLISH_INDEX_LIMIT)
            name = check_uv_index_name(own.name or "privrepo")
            reader = IndexAccess(index_url, username=own.username, password=own.password)
            config = UvConfig(self.env.root / "uv-publish" / f"{name}.toml", self.env)
            config.add_index(name, reader, publish_url=upload_url)
            args += [*config.args(), "--index", name]
            env.update(uv_credential_env(name, reader))
        if user == "__token__" and secret is not None:
            args += ["--token", secret]
        else:
            if user is not None:
                args += ["--username", user]
            if secret is not None:
                args += ["--password", secret]
        if certificates:
            ca, client_cert = own.ca_cert, own.client_cert
            if ca:
                env["SSL_CERT_FILE"] = os.fspath(ca)
            if client_cert:
                env["SSL_CLIENT_CERT"] = os.fspath(client_cert)
        args += [*extra_args, *(os.fspath(f) for f in files)]
        return self.run(*args, check=check, timeout=timeout, extra_env=env)
