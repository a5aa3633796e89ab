"""Drive the real pip against ephemeral indexes and report what it installed from where.

Why a wrapper at all: each pip run needs the same careful plumbing: credentials
percent-encoded into the URL (or a netrc, a pip.conf, a keyring), one ``--cert`` bundle
covering every index's CA, one ``--client-cert``, a JSON ``--report`` to learn which
index actually served each file; and a test should state its intent
(``pip.install("demo", index=corp)``), not rebuild that command line. Everything runs
inside a :class:`~pytest_privrepo.clients.env.ClientEnv`, so the machine's pip.conf,
``PIP_*`` and CA variables never take part.

pip installs into the environment of the interpreter given as ``python``; by default pip
itself comes from the interpreter running pytest, via ``pip --python`` (pip >= 22.3), so
the target venvs need no pip of their own (:func:`make_venv`).

Every route pip reads its index configuration from can be exercised
(``install(route=..., auth=...)``): a private index that works by one route and not
by another is exactly the bug a user hits. What pip does, from its source
(``network/auth.py``, ``configuration.py``, ``cli/parser.py``; 23.1 to 26.3):

* ``route="cli"`` (formerly ``"args"``; ``--index-url``, ``--extra-index-url``, ``--cert``,
  ``--client-cert``) and ``"env"`` (``PIP_INDEX_URL`` ...): every pip version.
  ``PIP_CONFIG_FILE`` stays :data:`os.devnull`, so no config file is read at all.
* ``route="file"``: a pip.conf named by ``PIP_CONFIG_FILE`` for that run. pip then
  skips the *user* files but always merges the *global* ones (``/etc/pip.conf``;
  ``$XDG_CONFIG_DIRS/pip/pip.conf``, which :class:`ClientEnv` points at an empty
  directory; macOS ``/Library/Application Support/pip``) and the *site* one
  (``sys.prefix/pip.conf``) under it, and no variable turns that off. Merging goes key
  by key (``section.key``), and pip then applies ``[global]``, then the section of the
  running command (``[install]``, ``[download]`` ...), then ``PIP_*``: a machine's
  ``[install] index-url`` beats any ``[global]`` one. So the file sets every key that
  decides where pip looks, how it gets there and whom it trusts (``index-url``,
  ``extra-index-url``, ``find-links``, ``no-index``, ``trusted-host``, ``cert``,
  ``client-cert``, ``proxy``, ``no-proxy-env``, ``keyring-provider``,
  ``use-deprecated``) in ``[global]`` and in the section of every command that takes
  index options (install, download, wheel, index, list, lock), with pip's default when
  unused: an empty value (pip lets the later file's empty value replace the global one,
  then drops it), ``false`` for the flags ``no-index`` and ``no-proxy-env``. A
  machine-wide file cannot add or remove an index, a CA, a trusted host or a proxy.
* credentials: URL userinfo and netrc go with the first request. The keyring is asked
  only after a 401 and only with ``--keyring-provider import|subprocess`` (pip >= 23.1;
  older pips, and ``auto``, ask it only when they may prompt, never under
  ``PIP_NO_INPUT``), first for the index URL (credentials removed, trailing slash),
  then for ``host:port``. ``import`` needs keyring importable by the interpreter pip
  *runs in*: with ``--python`` that is the target interpreter (pip re-executes itself
  there and redirects only its own package), and a failed import silently turns the
  keyring off. ``subprocess`` runs the first ``keyring`` on ``PATH`` outside pip's own
  scripts directory: up to 26.1 as ``keyring get URL USER``, so the user name must be
  in the URL; from 26.2 as ``keyring --mode=creds --output=json get URL [USER]``
  (keyring >= 25.2.1), which a backend may answer without a user name.
  ``auth="keyring"`` here always puts the user name in the URL (the form every version
  and :class:`~pytest_privrepo.clients.keyring_backend.FileKeyring`, which needs a user
  name, can answer), so pip's first request carries that user with an *empty*
  password, gets the 401 and is retried with the keyring's password.
* trust: pip >= 24.2 verifies with truststore, which on Linux reads ``SSL_CERT_FILE``
  (in a routed ClientEnv the public CA, so the PyPI stand-in is trusted by default);
  older pips use their vendored certifi only. ``--cert`` is one bundle for every host,
  and what it does to the default store differs: pip 26.3 (truststore 0.10.5, urllib3 2)
  keeps trusting it next to ``--cert``, pip 24.2 (truststore 0.9.1, urllib3 1.26) does
  not: with the private CA alone PyPI failed ("There was a problem confirming the ssl
  certificate ... CERTIFICATE_VERIFY_FAILED ... - skipping", tests/test_pypi_precedence.py).
  So when PyPI takes part (no ``index``) or an https index has no CA of its own, the
  ``--cert`` bundle also holds the public roots (certifi's and the gateway's), as a user
  must write it for pip 24.2 (:func:`~pytest_privrepo.clients.indexes.needs_public_roots`,
  the rule uv's ``SSL_CERT_FILE`` follows too).
"""

from __future__ import annotations

import configparser
import hashlib
import io
import ipaddress
import json
import os
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple, get_args
from urllib.parse import urlsplit

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from pytest_privrepo.access import IndexAccess, url_with_credentials
from pytest_privrepo.clients.env import DEFAULT_TIMEOUT, ClientEnv
from pytest_privrepo.clients.indexes import IndexArg
from pytest_privrepo.clients.isolated_keyring import IsolatedKeyring
from pytest_privrepo.clients.result import CommandResult
from pytest_privrepo.clients.runner import (
    ClientRunner,
    Route,
    check_choice,
    check_route,
    option_args,
)
from pytest_privrepo.clients.indexes import needs_public_roots
# make_venv's old home: ``from pytest_privrepo.clients.pip import make_venv`` keeps working
from pytest_privrepo.clients.venv import make_venv, resolve_python  # noqa: F401
from pytest_privrepo.errors import ClientError, ConfigError
from pytest_privrepo.gateway.hosts import PYPI_SIMPLE_URL

__all__ = [
    "InstalledPackage",
    "LEGACY_CERTS",
    "PIP_ROUTES",
    "Pip",
    "PipAuth",
    "PipConfigRoute",
    "PipInstallResult",
    "PipKeyringProvider",
    "TRUSTSTORE_IP_HOST_BUG",
]

#: How credentials reach pip: ``"url"`` = percent-encoded userinfo in the index URL
#: (pip's most reliable route, also applied to file URLs on the same host); ``"netrc"``
#: = a ``machine`` entry in the environment's netrc (pip reads it before the first
#: request); ``"keyring"`` = the user name in the URL, the password in an isolated
#: keyring that pip asks after a 401 (see the module docstring); ``"none"`` = no
#: credentials, to test anonymous access.
PipAuth = Literal["url", "netrc", "keyring", "none"]

#: Where pip reads the index options from: ``"cli"`` = the command line (``"args"``, the
#: old spelling, still works), ``"env"`` =
#: ``PIP_INDEX_URL``/``PIP_EXTRA_INDEX_URL``/``PIP_CERT``/``PIP_CLIENT_CERT``,
#: ``"file"`` = a pip.conf named by ``PIP_CONFIG_FILE`` for that run (``[global]`` and
#: the same keys in every command section, see the module docstring).
PipConfigRoute = Literal["cli", "env", "file", "args"]
#: The routes :meth:`Pip.index_options` has (``"args"`` maps to ``"cli"``).
PIP_ROUTES: tuple[Route, ...] = ("cli", "env", "file")

#: pip's ``--keyring-provider`` for ``auth="keyring"``: ``"subprocess"`` (the default)
#: works with any pip >= 23.1, ``"import"`` only where pip's interpreter can import
#: keyring.
PipKeyringProvider = Literal["subprocess", "import"]

#: First pip with ``--keyring-provider``; older ones never ask the keyring under
#: --no-input.
KEYRING_PROVIDER_PIP = Version("23.1")

#: pips whose default TLS (truststore over urllib3 1.26) fails on IP-address hosts
#: ("check_hostname requires server_hostname"): from 24.2 (truststore always on) up to
#: 26.1 (urllib3 2). See the module docstring.
TRUSTSTORE_IP_HOST_BUG = (Version("24.2"), Version("26.1"))
#: their way back to pip's own certificate handling (``--cert``, certifi)
LEGACY_CERTS = "legacy-certs"

#: The pip.conf sections ``route="file"`` writes: ``[global]``, and the sections of the
#: commands that take index options (``lock``: pip >= 25.1; older pips ignore it), which
#: pip reads after ``[global]``, so a machine-wide file's ``[install]`` would beat it.
_CONFIG_SECTIONS = ("global", "install", "download", "wheel", "index", "list", "lock")

def _check_choice(what: str, value: str, choices: tuple[str, ...]) -> None:
    check_choice(f"pip {what}", value, choices)


def _route(route: str | None, config: str | None) -> str:
    """``route=``, or ``config=`` (its old name); "cli" when neither is given."""
    if route is not None and config is not None and route != config:
        raise ConfigError(f"give route= or config= (its old name), not both: {route!r}, {config!r}")
    return check_route("pip", route or config or "cli", PIP_ROUTES)


def _keyring_service(url: str) -> str:
    """The first name pip asks the keyring for: the index URL without credentials,
    with a trailing slash."""
    return url_with_credentials(url, replace_userinfo=True).rstrip("/") + "/"


def _is_tls_to_ip_address(url: str) -> bool:
    """``https://`` with an IP address (not a name) as the host."""
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        return False
    try:
        ipaddress.ip_address(parts.hostname)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class _IndexSettings:
    """The index options of one run, before they are written to a route."""

    index_url: str | None
    extra_index_urls: tuple[str, ...]
    cert: Path | None
    client_cert: Path | None
    keyring_provider: str | None
    #: ``--use-deprecated``: ``legacy-certs`` for the pips in TRUSTSTORE_IP_HOST_BUG
    use_deprecated: str | None = None


def _as_args(settings: _IndexSettings) -> list[str]:
    args: list[str] = []
    if settings.index_url is not None:
        args += ["--index-url", settings.index_url]
    for url in settings.extra_index_urls:
        args += ["--extra-index-url", url]
    if settings.cert is not None:
        args += ["--cert", os.fspath(settings.cert)]
    if settings.client_cert is not None:
        args += ["--client-cert", os.fspath(settings.client_cert)]
    if settings.keyring_provider is not None:
        args += ["--keyring-provider", settings.keyring_provider]
    if settings.use_deprecated is not None:
        args.append(f"--use-deprecated={settings.use_deprecated}")
    return args


def _as_env(settings: _IndexSettings) -> dict[str, str]:
    env: dict[str, str] = {}
    if settings.index_url is not None:
        env["PIP_INDEX_URL"] = settings.index_url
    if settings.extra_index_urls:  # pip splits list variables on whitespace
        env["PIP_EXTRA_INDEX_URL"] = " ".join(settings.extra_index_urls)
    if settings.cert is not None:
        env["PIP_CERT"] = os.fspath(settings.cert)
    if settings.client_cert is not None:
        env["PIP_CLIENT_CERT"] = os.fspath(settings.client_cert)
    if settings.keyring_provider is not None:
        env["PIP_KEYRING_PROVIDER"] = settings.keyring_provider
    if settings.use_deprecated is not None:
        env["PIP_USE_DEPRECATED"] = settings.use_deprecated
    return env


def _as_config(settings: _IndexSettings) -> dict[str, dict[str, str]]:
    """``[global]`` and the same keys in every section of :data:`_CONFIG_SECTIONS`.

    Keys that decide where pip looks, through which proxy and whom it trusts are always
    written (empty or ``false`` = pip's default) because pip merges its global and site
    files under this one, and reads a command's section after ``[global]``: without
    them, /etc/pip.conf could add an index, a CA, a trusted host or a proxy to the run,
    or turn the index off (see the module docstring)."""
    values = {
        "index-url": settings.index_url or PYPI_SIMPLE_URL,
        "extra-index-url": "\n".join(settings.extra_index_urls),
        "find-links": "",
        # Pip.install(no_index=True) passes --no-index, which beats any file.
        "no-index": "false",
        "trusted-host": "",
        "cert": os.fspath(settings.cert) if settings.cert is not None else "",
        "client-cert": (
            os.fspath(settings.client_cert) if settings.client_cert is not None else ""
        ),
        # ClientEnv's *_PROXY variables apply: a file's proxy would replace them and
        # ignore NO_PROXY, a file's no-proxy-env (pip >= 26.2) would ignore them.
        "proxy": "",
        "no-proxy-env": "false",
        "keyring-provider": settings.keyring_provider or "",
        "use-deprecated": settings.use_deprecated or "",
    }
    return {section: dict(values) for section in _CONFIG_SECTIONS}


class InstalledPackage(NamedTuple):
    """One entry of pip's installation report: a tuple, so tests compare directly."""

    name: str
    version: str
    url: (
        str | None
    )  # download_info.url: where pip fetched the file (credentials removed)


@dataclass(frozen=True)
class PipInstallResult:
    """Outcome of :meth:`Pip.install`: the command, and pip's own account of it."""

    command: CommandResult
    installed: tuple[InstalledPackage, ...] = ()
    report: Mapping[str, Any] | None = field(default=None, repr=False)
    #: the pip.conf written for a ``route="file"`` run (its ``PIP_CONFIG_FILE``)
    config_file: Path | None = None

    @property
    def ok(self) -> bool:
        return self.command.ok

    @property
    def versions(self) -> dict[str, str]:
        """``{canonical name: version}`` of everything pip (would have) installed."""
        return {canonicalize_name(p.name): p.version for p in self.installed}

    def url_of(self, name: str) -> str | None:
        """The URL pip downloaded ``name`` from; :class:`KeyError` if not installed."""
        wanted = canonicalize_name(name)
        for package in self.installed:
            if canonicalize_name(package.name) == wanted:
                return package.url
        raise KeyError(
            f"{name} is not in pip's report; installed: {sorted(self.versions)}"
        )


def _pip_runner(pip: str | os.PathLike[str] | Sequence[str] | None) -> list[str]:
    if pip is None:
        return [sys.executable, "-m", "pip"]
    if isinstance(pip, (str, os.PathLike)):
        return [os.fspath(pip)]
    runner = [os.fspath(part) for part in pip]
    if not runner:
        raise ConfigError("pip= must not be an empty command")
    return runner


class Pip(ClientRunner):
    """Runs pip inside ``env``, installing into the environment of ``python``.

    * ``python``: interpreter (or venv directory) whose environment pip installs into;
      ``None`` lets pip install into its own environment (no ``--python`` is passed).
    * ``pip``: how to start pip: default ``<pytest's python> -m pip``; a path (e.g. the
      executable returned by ``provision("pip", "24.2", ...)``) or an argv prefix.
    * ``retries`` / ``network_timeout``: pip's ``--retries`` and ``--timeout`` (seconds
      pip waits on a socket). Retries default to 0 because pip's back-off turns every
      expected failure (401, TLS error) into ~10 s.
    * ``timeout``: how long one pip process may run, as for every runner (this was pip's
      network timeout before; that is ``network_timeout`` now).
    """

    tool = "pip"
    must_exist = False

    def __init__(
        self,
        env: ClientEnv,
        python: str | os.PathLike[str] | None = None,
        *,
        pip: str | os.PathLike[str] | Sequence[str] | None = None,
        retries: int = 0,
        network_timeout: float = 30.0,
        timeout: float | None = None,
    ) -> None:
        super().__init__(env, _pip_runner(pip), timeout=timeout)
        self.python = resolve_python(python) if python is not None else None
        self.retries = retries
        #: pip's ``--timeout``: seconds it waits on a socket before it gives up
        self.network_timeout = network_timeout

    @property
    def runner(self) -> list[str]:
        """How pip is started (:attr:`command`, the name this harness used for it)."""
        return self.command

    def parse_version(self, words: list[str]) -> str | None:
        """``pip 26.3 from ... (python 3.11)``: the second word."""
        return words[1] if len(words) >= 2 else None

    # ------------------------------------------------------------------ plumbing
    def argv(self, *args: str | os.PathLike[str]) -> list[str]:
        """The full command line for ``pip <args>`` (with ``--python`` when set); what
        :meth:`run` runs, for any pip subcommand (unwrapped flows)."""
        prefix = list(self.command)
        if self.python is not None:
            prefix += ["--python", os.fspath(self.python)]
        return [*prefix, *(os.fspath(a) for a in args)]

    def index_args(
        self,
        index: IndexArg | None = None,
        extra_indexes: Sequence[IndexArg] = (),
        *,
        auth: PipAuth = "url",
    ) -> list[str]:
        """pip options for these indexes: URLs, credentials, --cert, --client-cert.

        pip has a single ``--cert`` and ``--client-cert`` per run, applied to every
        host: CAs are merged into one bundle; two different client certificates are an
        error (pip cannot present a different one per index). Only the routes that fit
        on a command line: the keyring route also needs variables for the run, so it is
        available from :meth:`index_options` and :meth:`install`.
        """
        if auth == "keyring":
            raise ConfigError(
                "auth route 'keyring' needs environment variables for the run "
                "(keyring backend, PATH), which index_args() cannot return: use "
                "index_options() or install()"
            )
        _check_choice("auth route", auth, ("url", "netrc", "none"))
        args, _ = self.index_options(index, extra_indexes, auth=auth)
        return args

    def index_options(
        self,
        index: IndexArg | None = None,
        extra_indexes: Sequence[IndexArg] = (),
        *,
        auth: PipAuth = "url",
        route: PipConfigRoute | None = None,
        keyring_provider: PipKeyringProvider = "subprocess",
        config: PipConfigRoute | None = None,
    ) -> tuple[list[str], dict[str, str]]:
        """Options and variables that give pip these indexes by ``route`` (``config=`` is
        its old name; default ``"cli"``).

        Returns ``(args, env)`` for one run (``pip.run(*args, extra_env=env)``). The
        side effects stay inside :attr:`env`: ``auth="netrc"`` adds netrc entries,
        ``auth="keyring"`` stores each password in the isolated keyring
        (:attr:`keyring_store`), ``route="file"`` writes a pip.conf under
        ``root/pip-config``.
        """
        _check_choice("auth route", auth, get_args(PipAuth))
        chosen = _route(route, config)
        _check_choice(
            "keyring provider", keyring_provider, get_args(PipKeyringProvider)
        )
        specs = ([IndexAccess.of(index)] if index is not None else []) + [
            IndexAccess.of(i) for i in extra_indexes
        ]
        env: dict[str, str] = {}
        if auth == "keyring":
            self.require(KEYRING_PROVIDER_PIP, (
                f"has no --keyring-provider (added in pip {KEYRING_PROVIDER_PIP}; before that "
                "pip asks the keyring only when it may prompt, which PIP_NO_INPUT forbids)"))
            env.update(self.keyring_env())
        urls: list[str] = []
        for spec in specs:
            url = spec.url
            if auth == "url":
                url = spec.url_with_credentials()
            elif auth == "netrc" and spec.has_credentials:
                self.env.write_netrc(
                    spec.hostname, spec.username or "", spec.password or ""
                )
            elif auth == "keyring" and spec.username is not None:
                url = url_with_credentials(spec.url, spec.username)
                if spec.password is not None:
                    self.keyring.set(
                        _keyring_service(spec.url), spec.username, spec.password, env
                    )
            urls.append(url)

        client_certs = {s.client_cert for s in specs if s.client_cert is not None}
        if len(client_certs) > 1:
            raise ConfigError(
                "pip presents one --client-cert to every host, but these indexes need "
                f"different client certificates: {sorted(map(str, client_certs))}"
            )
        settings = _IndexSettings(
            index_url=urls[0] if index is not None else None,
            extra_index_urls=tuple(urls[1:] if index is not None else urls),
            cert=self.env.ca_bundle(
                (s.ca_cert for s in specs if s.ca_cert is not None),
                include_public_roots=needs_public_roots(specs, implicit_pypi=index is None),
            ),
            client_cert=client_certs.pop() if client_certs else None,
            keyring_provider=keyring_provider if auth == "keyring" else None,
            use_deprecated=(
                LEGACY_CERTS
                if any(_is_tls_to_ip_address(s.url) for s in specs)
                and self._truststore_fails_on_ip_hosts()
                else None
            ),
        )
        if chosen == "cli":
            return _as_args(settings), env
        if chosen == "env":
            env.update(_as_env(settings))
            return [], env
        env["PIP_CONFIG_FILE"] = os.fspath(self.write_config(_as_config(settings)))
        return [], env

    def write_config(self, sections: Mapping[str, Mapping[str, str]]) -> Path:
        """Write a pip.conf with these ``{section: {key: value}}`` and return its path.

        Written by :mod:`configparser` as pip reads it (``RawConfigParser``: no ``%``
        interpolation, so percent-encoded credentials stay as they are; a value with
        line breaks is a list). Named by content under ``root/pip-config``, so an
        earlier run's file is never rewritten; mode 0600, as it may hold credentials.
        Use it for a run with ``extra_env={"PIP_CONFIG_FILE": path}``.
        """
        parser = configparser.RawConfigParser()
        for section, values in sections.items():
            parser[section] = dict(values)
        buffer = io.StringIO()
        parser.write(buffer)
        data = buffer.getvalue().encode("utf-8")
        directory = self.env.root / "pip-config"
        directory.mkdir(exist_ok=True)
        path = directory / f"pip-{hashlib.sha256(data).hexdigest()[:16]}.conf"
        if not path.exists():
            path.write_bytes(data)
            path.chmod(0o600)
        return path

    # ------------------------------------------------------------------ keyring
    @property
    def keyring(self) -> IsolatedKeyring:
        """This environment's isolated keyring (shared with Poetry in the same env)."""
        return IsolatedKeyring(self.env)

    @property
    def keyring_store(self) -> Path:
        """The JSON file of the isolated keyring (exists once a password was stored)."""
        return self.keyring.store

    def keyring_contents(self) -> dict[str, dict[str, str]]:
        """``{service: {user: password}}`` as stored in :attr:`keyring_store`."""
        return self.keyring.contents()

    def keyring_env(self) -> dict[str, str]:
        """Variables that give pip (and the ``keyring`` it runs) the isolated keyring.

        :mod:`~pytest_privrepo.clients.keyring_backend` is copied into ``root`` and
        named by ``PYTHON_KEYRING_BACKEND``, never the user's keyring. A link to the
        ``keyring`` command of the environment running pytest goes first on ``PATH``,
        for the subprocess provider: a provisioned pip's venv has no keyring, and pip
        skips a keyring in its own scripts directory anyway. Per run, not
        :meth:`ClientEnv.set`, so other runs keep the failing default backend.
        """
        keyring = self.keyring
        paths = [os.fspath(keyring.backend_dir())]
        if self.env.vars.get("PYTHONPATH"):
            paths.append(self.env.vars["PYTHONPATH"])
        return {
            **keyring.backend_vars(),
            "PYTHONPATH": os.pathsep.join(paths),
            "PATH": os.pathsep.join(
                [os.fspath(keyring.command().parent), self.env.vars.get("PATH", os.defpath)]
            ),
        }

    def _truststore_fails_on_ip_hosts(self) -> bool:
        """Whether this pip is one of :data:`TRUSTSTORE_IP_HOST_BUG` (runs pip once)."""
        try:
            current = Version(self.version())
        except InvalidVersion:
            return False  # a development build: let pip itself decide
        first, fixed = TRUSTSTORE_IP_HOST_BUG
        return first <= current < fixed

    # ------------------------------------------------------------------ commands
    def install(
        self,
        packages: str | Sequence[str],
        *,
        index: IndexArg | None = None,
        extra_indexes: Sequence[IndexArg] = (),
        auth: PipAuth = "url",
        route: PipConfigRoute | None = None,
        keyring_provider: PipKeyringProvider = "subprocess",
        config: PipConfigRoute | None = None,
        no_index: bool = False,
        find_links: Sequence[str | os.PathLike[str]] = (),
        no_deps: bool = False,
        upgrade: bool = False,
        force_reinstall: bool = False,
        pre: bool = False,
        only_binary: str | None = None,
        target: str | os.PathLike[str] | None = None,
        dry_run: bool = False,
        report: bool = True,
        no_cache: bool = False,
        extra_args: Sequence[str] = (),
        check: bool = True,
        timeout: float | None = DEFAULT_TIMEOUT,
    ) -> PipInstallResult:
        """``pip install``, its ``--report`` parsed into ``PipInstallResult.installed``.

        ``index`` becomes ``--index-url`` (it *replaces* PyPI); ``None`` keeps pip's
        default, PyPI, exactly as pip would. ``extra_indexes`` become
        ``--extra-index-url``: pip merges all indexes with no priority and picks the
        best version, which is what dependency-confusion tests need to observe.
        ``auth`` is how credentials reach pip, ``config`` where pip reads the index
        options from (command line, ``PIP_*`` variables or a pip.conf) and
        ``keyring_provider`` pip's ``--keyring-provider`` for ``auth="keyring"``: see
        :meth:`index_options` and the module docstring. ``dry_run`` adds ``--dry-run
        --ignore-installed`` so the report lists the full resolution without touching
        the environment. ``report`` needs pip >= 22.2. With ``check=False`` a failed
        install returns a result instead of raising.
        """
        names = [packages] if isinstance(packages, str) else list(packages)
        if not names:
            raise ConfigError("pip install needs at least one package")
        args = ["install", "--progress-bar", "off", "--retries", str(self.retries)]
        args += ["--timeout", f"{self.network_timeout:g}"]
        index_args, run_env = self.index_options(
            index,
            extra_indexes,
            auth=auth,
            route=route,
            config=config,
            keyring_provider=keyring_provider,
        )
        args += index_args
        args += option_args(
            ("--no-index", no_index),
            ("--find-links", find_links),
            ("--no-deps", no_deps),
            ("--upgrade", upgrade),
            ("--force-reinstall", force_reinstall),
            ("--pre", pre),
            ("--only-binary", only_binary),
            ("--target", Path(target).absolute() if target is not None else None),
            ("--dry-run", dry_run),
            ("--ignore-installed", dry_run),
            ("--no-cache-dir", no_cache),
        )
        report_path: Path | None = None
        if report:
            report_dir = self.env.root / "pip-reports"
            report_dir.mkdir(exist_ok=True)
            # Unique per call, also across Pip objects sharing one ClientEnv; empty
            # until pip writes it, so a run that failed early is recognised below.
            fd, name = tempfile.mkstemp(
                prefix="install-", suffix=".json", dir=report_dir
            )
            os.close(fd)
            report_path = Path(name)
            args += ["--report", os.fspath(report_path)]
        args += list(extra_args)
        args += names

        result = self.run(*args, check=check, timeout=timeout, extra_env=run_env)
        config_file = (
            Path(run_env["PIP_CONFIG_FILE"]) if "PIP_CONFIG_FILE" in run_env else None
        )
        if report_path is None or report_path.stat().st_size == 0:
            return PipInstallResult(command=result, config_file=config_file)
        try:
            data = json.loads(report_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ClientError(
                f"pip wrote an unreadable report {report_path}: {exc}"
            ) from None
        return PipInstallResult(
            command=result,
            installed=_parse_report(data),
            report=data,
            config_file=config_file,
        )



def _parse_report(data: Mapping[str, Any]) -> tuple[InstalledPackage, ...]:
    """Read ``install[]`` of a pip installation report (format version 1)."""
    packages: list[InstalledPackage] = []
    for item in data.get("install", []):
        metadata = item.get("metadata", {})
        download = item.get("download_info") or {}
        packages.append(
            InstalledPackage(
                name=str(metadata.get("name", "")),
                version=str(metadata.get("version", "")),
                url=download.get("url"),
            )
        )
    return tuple(packages)
