"""Drive the real pdm against ephemeral indexes: a project with ``[[tool.pdm.source]]``,
credentials and certificates in pdm's *global* config, ``pdm lock -S static_urls`` parsed.

Supported: pdm 2.17.2 and newer (read from its source; where releases differ, the code
names them).

What this wrapper encodes about pdm:

* Sources are ``[[tool.pdm.source]]`` tables (``name``, ``url``, ``verify_ssl``,
  ``include_packages``, ``exclude_packages``). By default pdm merges every source and takes
  the best version; ``[tool.pdm.resolution] respect-source-order = true`` makes the first
  source that has the project win.
* Credentials and certificates are ``pypi.<name>.username|password|ca_certs|client_cert|
  client_key`` in the global config (``ca_certs``/``client_cert``/``client_key`` are
  global-only keys). ``pdm config pypi.<name>.password ...`` hands the password to the
  keyring when one is importable and silently loses it with a null keyring, so this module
  writes the TOML file at ``PDM_CONFIG_FILE`` itself.
* Config entries for sources the project does not list would be added as extra indexes
  (plus the implicit PyPI): ``PDM_IGNORE_STORED_INDEX=1`` turns that off, so only the
  project's sources take part.
* pdm.lock records no index unless ``pdm lock -S static_urls``; then every file entry has
  the URL it was found at, which :class:`PdmLockResult` maps back to a source name.

``pdm publish`` (2.29, ``pdm/cli/commands/publish/``), driven by :meth:`PdmProject.publish`:

* Routes (:data:`PDM_PUBLISH_ROUTES`): ``config`` = ``[repository.<name>]`` in the global
  config (``url``, ``username``, ``password``, ``ca_certs``, ``verify_ssl``, ``client_cert``,
  ``client_key``) and ``-r <name>``; ``cli`` = ``-r URL -u USER -P PASSWORD --ca-certs CA``;
  ``env`` = ``PDM_PUBLISH_REPO``, ``PDM_PUBLISH_USERNAME``, ``PDM_PUBLISH_PASSWORD``,
  ``PDM_PUBLISH_CA_CERTS``. Options win over variables, which win over the config entry.
* There is no option or variable for a client certificate: only a ``[repository.<name>]``
  entry carries one. ``-r URL`` uses the settings (certificates *and* credentials) of a config
  repository whose ``url`` is exactly that string, so for an mTLS index the ``cli``/``env``
  routes write an entry holding only the URL and the client certificate.
* A password without a username is sent as user ``__token__``. A username without a password
  is completed from URL userinfo, the keyring, then PyPI's trusted publishing (an
  unauthenticated ``GET /_/oidc/audience`` to the *upload host*), else non-interactive pdm
  stops: "Username and password are required".
* ``--no-build`` uploads every file in the project's ``dist/`` (``-d`` for another folder),
  wheels first; without it pdm first builds the project, which needs its build backend from an
  index. The harness always passes ``--no-build`` with dists it copied into ``dist/``.
* The upload is one multipart POST, redirects not followed; an error status becomes
  ``[PublishError]: Client error '<status> <reason>' for url '<url>'``. From pdm 2.26.3 (which
  requires hishel >= 1) the reason is httpx's standard phrase ("403 Forbidden"), not the
  server's: the response passes through pdm's hishel cache transport, which drops it
  (``pdm --no-cache publish`` keeps it); earlier pdm (hishel 0.x) shows the server's reason.
  :meth:`Pdm.publish_error` spells the line for the pdm at hand.
* The upload session is built like a source's, so the ``ca_certs`` + ``client_cert`` problem
  described in :meth:`Pdm.configure_source` applies to publishing too (``--ca-certs`` as well).
"""

from __future__ import annotations

import functools
import http
import os
import re
import shutil
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import tomlkit
from packaging.utils import canonicalize_name
from packaging.version import Version
from tomlkit.items import AoT

from pytest_privrepo.access import IndexAccess
from pytest_privrepo.clients.env import DEFAULT_TIMEOUT, ClientEnv, IndexArg
from pytest_privrepo.clients.result import CommandResult, parse_release
from pytest_privrepo.errors import ClientError, ConfigError

from .pyproject import PyprojectDocument

__all__ = [
    "PDM_PUBLISH_ROUTES",
    "Pdm",
    "PdmLockResult",
    "PdmLockedPackage",
    "PdmProject",
    "parse_pdm_lock",
]

_NAME_RE = re.compile(r"^[A-Za-z0-9_-]+$")


def provision_extras(version: str | None) -> tuple[str, ...]:
    """What to install next to ``pdm==version``: pdm's own "locked" extra (2.17.0+), which pins
    the dependency versions that release was tested with. Unpinned, pdm 2.29.3 resolves
    hishel 2 / unearth 0.19 and fails on every lock."""
    return (f"pdm[locked]=={version}" if version else "pdm[locked]",)

#: Ways to hand ``pdm publish`` an index's upload URL, credentials and CA (see the module doc).
PDM_PUBLISH_ROUTES = ("config", "cli", "env")

#: Key prefix in ``Pdm._env_cas`` for repositories (source names contain no dots).
_REPO_KEY = "repository."

#: From this release pdm requires hishel >= 1, whose cache transport rebuilds every response
#: without the server's reason phrase (2.26.1/2.26.2 require hishel < 1; 2.26.0 and earlier
#: lock hishel 0.x).
_HISHEL1_SINCE = Version("2.26.3")

#: pdm 2.17.0 and 2.17.1 skip the global config's ``[pypi.<name>]`` entirely when
#: ``PDM_IGNORE_STORED_INDEX`` is set, even for the project's own sources: credentials,
#: ``ca_certs`` and ``client_cert`` are silently lost. 2.17.2 keeps them (it only stops
#: *adding* stored sources). Without that variable pdm adds PyPI and every stored source, so
#: the harness cannot work around it: it needs 2.17.2 (the oldest release with pdm's
#: ``locked`` extra, 2.17.0, is where provisioning starts anyway).
_SOURCE_CONFIG_SINCE = Version("2.17.2")


class Pdm:
    """Runs the pdm executable inside ``env``.

    ``python`` is the base interpreter (``PDM_PYTHON``, so pdm never searches for or
    downloads one); :class:`PdmProject` gives each project a venv made from it. pdm's global config lives at :attr:`config_file`
    (``PDM_CONFIG_FILE``), its cache inside the environment (``PDM_CACHE_DIR``).
    """

    def __init__(
        self,
        env: ClientEnv,
        executable: str | os.PathLike[str],
        *,
        python: str | os.PathLike[str] = sys.executable,
    ) -> None:
        self.env = env
        self.exe = os.fspath(executable)
        self.python = os.fspath(python)
        self.config_file = env.xdg_config / "pdm" / "config.toml"
        self._config: dict[str, dict[str, object]] = {}
        self._repositories: dict[str, dict[str, object]] = {}
        self._env_cas: dict[str, Path] = {}
        self._write_config()

    # ------------------------------------------------------------------ config
    def _write_config(self) -> None:
        doc = tomlkit.document()
        doc["check_update"] = False
        for section, entries in (("pypi", self._config), ("repository", self._repositories)):
            if not entries:
                continue
            outer = tomlkit.table(is_super_table=True)
            for name, values in entries.items():
                table = tomlkit.table()
                for key, value in values.items():
                    table[key] = value
                outer[name] = table
            doc[section] = outer
        self.config_file.parent.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(tomlkit.dumps(doc), encoding="utf-8")
        self.config_file.chmod(0o600)

    def configure_source(
        self,
        name: str,
        index: IndexArg | None = None,
        *,
        username: str | None = None,
        password: str | None = None,
        ca_certs: str | os.PathLike[str] | None = None,
        client_cert: str | os.PathLike[str] | None = None,
        client_key: str | os.PathLike[str] | None = None,
    ) -> Path:
        """Write ``[pypi.<name>]`` credentials/certificates into the global config file.

        Values come from ``index`` (its username, password, CA, client certificate) unless
        given explicitly, e.g. a wrong password. Returns the config file path. A
        :class:`ConfigError` for pdm < 2.17.2, which ignores these entries (see
        ``_SOURCE_CONFIG_SINCE``).
        """
        if not _NAME_RE.match(name):
            raise ConfigError(f"{name!r} cannot be used as a pdm source name")
        spec = IndexAccess.of(index) if index is not None else None
        values: dict[str, object] = {}
        user = username if username is not None else (spec.username if spec else None)
        secret = password if password is not None else (spec.password if spec else None)
        ca = ca_certs if ca_certs is not None else (spec.ca_cert if spec else None)
        cert = client_cert if client_cert is not None else (spec.client_cert if spec else None)
        if user is not None:
            values["username"] = user
        if secret is not None:
            values["password"] = secret
        self._env_cas.pop(name, None)  # a reconfigured source must not keep an old CA
        if ca is not None and cert is not None:
            # pdm 2.29 + httpx 0.28: a source with ca_certs gets ``verify=<path str>``, and
            # httpx's create_ssl_context returns early for a str verify, before loading
            # ``cert``: the client certificate is silently never presented. Without
            # ca_certs pdm uses its truststore context, which (on Linux) reads the trust
            # roots from SSL_CERT_FILE, and loads the client certificate: so the CA goes to
            # SSL_CERT_FILE for such sources (see run()).
            self._env_cas[name] = Path(ca).absolute()
        elif ca is not None:
            values["ca_certs"] = os.fspath(Path(ca).absolute())
        if cert is not None:
            values["client_cert"] = os.fspath(Path(cert).absolute())
        if client_key is not None:
            values["client_key"] = os.fspath(Path(client_key).absolute())
        if values and self.release < _SOURCE_CONFIG_SINCE:
            self._env_cas.pop(name, None)
            raise ConfigError(
                f"pdm {self.release} ignores [pypi.{name}] ({', '.join(values)}) for the "
                f"project's own sources when PDM_IGNORE_STORED_INDEX is set (fixed in pdm "
                f"{_SOURCE_CONFIG_SINCE}): use pdm >= {_SOURCE_CONFIG_SINCE}"
            )
        self._config[name] = values
        self._write_config()
        return self.config_file

    def configure_repository(
        self,
        name: str,
        index: IndexArg | None = None,
        *,
        url: str | None = None,
        username: str | None = None,
        password: str | None = None,
        ca_certs: str | os.PathLike[str] | None = None,
        client_cert: str | os.PathLike[str] | None = None,
        client_key: str | os.PathLike[str] | None = None,
        verify_ssl: bool | None = None,
        credentials: bool = True,
        certificates: bool = True,
        split_ca: bool = True,
    ) -> Path:
        """Write ``[repository.<name>]`` (what ``pdm publish -r <name>`` reads) into the global
        config file, replacing an earlier entry of that name. Returns the config file path.

        ``index`` is an :class:`~pytest_privrepo.access.IndexAccess` or an ``Index`` (its
        ``upload_url``, credentials and certificates); explicit keywords win over its values.
        ``credentials=False`` / ``certificates=False`` leave the index's own out.
        ``split_ca=False`` writes ``ca_certs`` next to ``client_cert``, which pdm 2.29 turns
        into a connection without the client certificate (see :meth:`configure_source`).
        """
        if not _NAME_RE.match(name):
            raise ConfigError(f"{name!r} cannot be used as a pdm repository name")
        access = IndexAccess.of(index) if index is not None else None
        target = url if url is not None else (access.upload_url if access else None)
        if not target:
            raise ConfigError("configure_repository() needs url= or an index with upload_url")
        own = access if access is not None and credentials else None
        trust = access if access is not None and certificates else None
        user = username if username is not None else (own.username if own else None)
        secret = password if password is not None else (own.password if own else None)
        ca = ca_certs if ca_certs is not None else (trust.ca_cert if trust else None)
        cert = client_cert if client_cert is not None else (trust.client_cert if trust else None)
        values: dict[str, object] = {"url": target}
        if user is not None:
            values["username"] = user
        if secret is not None:
            values["password"] = secret
        self._env_cas.pop(_REPO_KEY + name, None)
        if ca is not None and cert is not None and split_ca:
            # Same pdm 2.29 + httpx 0.28 problem as for sources (configure_source): the
            # upload session is built from this entry by the same code, and ``ca_certs``
            # makes httpx ignore ``client_cert``. The CA goes to SSL_CERT_FILE instead.
            self._env_cas[_REPO_KEY + name] = Path(ca).absolute()
        elif ca is not None:
            values["ca_certs"] = os.fspath(Path(ca).absolute())
        if verify_ssl is not None:
            values["verify_ssl"] = verify_ssl
        if cert is not None:
            values["client_cert"] = os.fspath(Path(cert).absolute())
        if client_key is not None:
            values["client_key"] = os.fspath(Path(client_key).absolute())
        self._repositories[name] = values
        self._write_config()
        return self.config_file

    def remove_repository(self, name: str) -> None:
        """Drop ``[repository.<name>]`` (and its CA in SSL_CERT_FILE), if written."""
        self._repositories.pop(name, None)
        self._env_cas.pop(_REPO_KEY + name, None)
        self._write_config()

    def repositories(self) -> dict[str, dict[str, object]]:
        """The ``[repository.*]`` entries this Pdm wrote (a copy)."""
        return {name: dict(values) for name, values in self._repositories.items()}

    # ------------------------------------------------------------------ plumbing
    def run(
        self,
        *args: str,
        cwd: str | os.PathLike[str] | None = None,
        check: bool = True,
        timeout: float | None = DEFAULT_TIMEOUT,
        extra_env: Mapping[str, str | os.PathLike[str] | None] | None = None,
    ) -> CommandResult:
        env: dict[str, str | os.PathLike[str] | None] = {
            "PDM_CONFIG_FILE": self.config_file,
            "PDM_CACHE_DIR": self.env.xdg_cache / "pdm",
            "PDM_IGNORE_STORED_INDEX": "1",
            "PDM_PYTHON": self.python,
            "PDM_CHECK_UPDATE": "false",
            "PDM_NON_INTERACTIVE": "1",
            # pdm uses the project's venv; never one the caller happens to have active
            "PDM_IGNORE_ACTIVE_VENV": "1",
            # pdm <= 2.19.3 (fixed in 2.20.0) picks each source's proxy from httpx's
            # environment proxy map sorted by *key string*: "all://" (ALL_PROXY) sorts
            # before "all://127.0.0.1" (NO_PROXY) and wins, so every request to a loopback
            # index went to the ClientEnv's blackhole proxy ("Connection refused"). Without
            # ALL_PROXY the NO_PROXY entries sort first, and HTTP_PROXY/HTTPS_PROXY still
            # stop anything leaving the machine; for 2.20+ this changes nothing.
            "ALL_PROXY": None,
            "all_proxy": None,
        }
        bundle = self.env.ca_bundle(self._env_cas.values())
        if bundle is not None:
            env["SSL_CERT_FILE"] = bundle
        env.update(extra_env or {})
        return self.env.run(
            [self.exe, *args], cwd=cwd, check=check, timeout=timeout, extra_env=env
        )

    def version(self) -> str:
        """``pdm --version`` -> ``PDM, version 2.29.3``: the last word."""
        out = self.run("--version").stdout.split()
        if not out:
            raise ClientError("`pdm --version` printed nothing")
        return out[-1]

    @functools.cached_property
    def release(self) -> Version:
        """:meth:`version`, parsed (asked once): for expectations that differ by release."""
        return parse_release("pdm", self.version())

    def publish_error(self, url: str, status: int, reason: str) -> str:
        """The line ``pdm publish`` ends with when ``url`` answers the upload with ``status``
        and the reason phrase ``reason``: ``[PublishError]: Client error '403 <reason>' for
        url '<url>'``. pdm >= 2.26.3 (hishel 1) shows httpx's standard phrase instead of the
        server's (see the module docstring)."""
        if self.release >= _HISHEL1_SINCE:
            reason = http.HTTPStatus(status).phrase
        kind = "Client" if status < 500 else "Server"
        return f"[PublishError]: {kind} error '{status} {reason}' for url '{url}'"


@dataclass(frozen=True)
class PdmLockedPackage:
    """One ``[[package]]`` of pdm.lock."""

    name: str
    version: str
    #: URLs of the locked files (only with ``-S static_urls``), credentials removed by pdm
    urls: tuple[str, ...]
    #: names of the sources whose URL prefix the files' URLs start with (sorted)
    sources: tuple[str, ...]

    @property
    def source(self) -> str | None:
        """The one source every file came from (None: unknown; error: several)."""
        if not self.sources:
            return None
        if len(self.sources) > 1:
            raise ValueError(f"{self.name}'s files come from several sources: {self.sources}")
        return self.sources[0]


@dataclass(frozen=True)
class PdmLockResult:
    """pdm.lock, parsed; ``command`` is the ``pdm lock`` run."""

    command: CommandResult
    packages: tuple[PdmLockedPackage, ...]

    @property
    def ok(self) -> bool:
        return self.command.ok

    def __getitem__(self, name: str) -> PdmLockedPackage:
        key = canonicalize_name(name)
        for package in self.packages:
            if canonicalize_name(package.name) == key:
                return package
        raise KeyError(f"{name} is not in pdm.lock (locked: {', '.join(self.names)})")

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and any(
            canonicalize_name(p.name) == canonicalize_name(name) for p in self.packages
        )

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.packages]

    def versions(self) -> dict[str, str]:
        return {p.name: p.version for p in self.packages}

    def sources(self) -> dict[str, str | None]:
        """``{package: source name}`` (from the static file URLs)."""
        return {p.name: p.source for p in self.packages}


def _strip_userinfo(url: str, *, path: str | None = None) -> str:
    """``url`` compared by origin and path: scheme and host lower-cased, no credentials, no
    query (``path`` replaces the URL's own). A source URL and the file URLs pdm locked from
    it go through this one function, so they match however either spells its host."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    netloc = f"{host}:{parts.port}" if parts.port else host
    return f"{parts.scheme.lower()}://{netloc}{parts.path if path is None else path}"


def _source_prefix(url: str) -> str:
    """Where a source's files may live: the simple URL without its ``simple/`` tail,
    scheme and host lower-cased, no credentials."""
    path = urlsplit(url).path
    if path.rstrip("/").endswith("/simple"):
        path = path.rstrip("/")[: -len("simple")]
    return _strip_userinfo(url, path=path)


def parse_pdm_lock(path: str | os.PathLike[str], source_urls: Mapping[str, str] | None = None) -> tuple[PdmLockedPackage, ...]:
    """Read pdm.lock; ``source_urls`` (``{source name: simple url}``) names each file's source
    by the longest matching URL prefix."""
    lock = Path(path)
    if not lock.exists():
        raise ConfigError(f"{lock} does not exist: run `pdm lock` first")
    data = tomlkit.parse(lock.read_text(encoding="utf-8")).unwrap()
    prefixes = sorted(
        ((_source_prefix(url), name) for name, url in (source_urls or {}).items()),
        key=lambda item: len(item[0]),
        reverse=True,
    )
    packages = []
    for pkg in data.get("package", []):
        urls = tuple(f["url"] for f in pkg.get("files", []) if "url" in f)
        names: set[str] = set()
        for url in urls:
            clean = _strip_userinfo(url)
            for prefix, name in prefixes:
                if clean.startswith(prefix):
                    names.add(name)
                    break
        packages.append(
            PdmLockedPackage(
                name=pkg["name"],
                version=str(pkg.get("version", "")),
                urls=urls,
                sources=tuple(sorted(names)),
            )
        )
    return tuple(packages)


class PdmProject(PyprojectDocument):
    """A pdm project directory; :meth:`create` writes a non-distributable ``[project]``."""

    def __init__(self, path: str | os.PathLike[str], pdm: Pdm) -> None:
        self.path = Path(path).absolute()
        self.pdm = pdm
        self._doc: tomlkit.TOMLDocument | None = None
        self.source_urls: dict[str, str] = {}

    # -- pyproject.toml -----------------------------------------------------------------------
    @property
    def lockfile(self) -> Path:
        return self.path / "pdm.lock"

    def create(
        self,
        name: str = "demo-app",
        version: str = "0.1.0",
        *,
        dependencies: Iterable[str] = (),
        requires_python: str = ">=3.9",
        distribution: bool = False,
    ) -> PdmProject:
        """Write pyproject.toml. ``distribution=False`` (``[tool.pdm] distribution = false``)
        means ``pdm install`` installs only the dependencies and never builds the project."""
        self._new_project(name, version, requires_python, dependencies)
        self._tool("pdm")["distribution"] = distribution
        return self.save()

    def add_dependency(self, requirement: str) -> PdmProject:
        self._append_requirement(requirement)
        return self.save()

    def add_source(
        self,
        name: str,
        index: IndexArg,
        *,
        verify_ssl: bool | None = None,
        include_packages: Sequence[str] | None = None,
        exclude_packages: Sequence[str] | None = None,
        credentials: bool = True,
        username: str | None = None,
        password: str | None = None,
    ) -> PdmProject:
        """Append a ``[[tool.pdm.source]]`` (URL without credentials) and, with
        ``credentials``, put the index's username/password/CA/client certificate (or the
        explicit ``username``/``password``) into pdm's global config as ``pypi.<name>``."""
        if not _NAME_RE.match(name):
            raise ConfigError(f"{name!r} cannot be used as a pdm source name")
        if name in self.source_urls:
            raise ConfigError(f"pyproject already has a pdm source named {name!r}")
        spec = IndexAccess.of(index)
        sources = self._tool("pdm").get("source")
        if sources is None:
            sources = AoT([])
            self._tool("pdm")["source"] = sources
        entry = tomlkit.table()
        entry["name"] = name
        entry["url"] = spec.url
        if verify_ssl is not None:
            entry["verify_ssl"] = verify_ssl
        if include_packages is not None:
            entry["include_packages"] = list(include_packages)
        if exclude_packages is not None:
            entry["exclude_packages"] = list(exclude_packages)
        sources.append(entry)
        self.source_urls[name] = spec.url
        if credentials:
            self.pdm.configure_source(name, spec, username=username, password=password)
        return self.save()

    def respect_source_order(self, value: bool = True) -> PdmProject:
        """``[tool.pdm.resolution] respect-source-order = value``."""
        resolution = self._tool("pdm").setdefault("resolution", tomlkit.table())
        resolution["respect-source-order"] = value
        return self.save()

    # -- commands -----------------------------------------------------------------------------
    def ensure_venv(self) -> Path:
        """The project's own ``.venv`` (created from the Pdm's ``python`` on first use).

        pdm installs into the environment of the interpreter it is given; handing it the
        interpreter that runs pytest (itself usually a venv) would install the test's
        packages into the test runner's venv. So every project gets its own venv and
        ``PDM_PYTHON`` points at it.
        """
        python = self.venv_python
        if not python.exists():
            from pytest_privrepo.clients.pip import make_venv

            make_venv(self.path / ".venv", python=self.pdm.python, env=self.pdm.env)
        return python

    def run(self, *args: str, check: bool = True,
            extra_env: Mapping[str, str | os.PathLike[str] | None] | None = None) -> CommandResult:
        env: dict[str, str | os.PathLike[str] | None] = {"PDM_PYTHON": self.ensure_venv()}
        env.update(extra_env or {})
        return self.pdm.run(*args, cwd=self.path, check=check, extra_env=env)

    def lock(self, *, static_urls: bool = True, check: bool = True,
             extra_args: Sequence[str] = ()) -> PdmLockResult:
        """A fresh ``pdm lock`` (old pdm.lock removed) with ``-S static_urls`` by default.

        With ``check=False`` a failed run returns a result without packages."""
        if self.lockfile.exists():
            self.lockfile.unlink()
        args = ["lock"]
        if static_urls:
            args += ["-S", "static_urls"]
        args += list(extra_args)
        result = self.run(*args, check=check)
        if not result.ok:
            return PdmLockResult(command=result, packages=())
        return PdmLockResult(command=result, packages=self.lock_result())

    def lock_result(self) -> tuple[PdmLockedPackage, ...]:
        return parse_pdm_lock(self.lockfile, self.source_urls)

    def install(self, *args: str, check: bool = True) -> CommandResult:
        """``pdm install`` (creates ``.venv`` from ``PDM_PYTHON`` when needed)."""
        return self.run("install", *args, check=check)

    @property
    def venv_python(self) -> Path:
        from pytest_privrepo.clients.provision import venv_python

        return venv_python(self.path / ".venv")

    def installed(self) -> dict[str, str]:
        """``{canonical name: version}`` in the project's ``.venv`` (via importlib.metadata)."""
        code = (
            "import importlib.metadata as m, json;"
            "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))"
        )
        import json

        out = self.pdm.env.run([os.fspath(self.venv_python), "-c", code], cwd=self.path).stdout
        return {canonicalize_name(k): v for k, v in json.loads(out).items()}

    # -- publish ------------------------------------------------------------------------------
    @property
    def dist_dir(self) -> Path:
        """``dist/``: what ``pdm publish --no-build`` uploads."""
        return self.path / "dist"

    def publish(
        self,
        index: IndexArg,
        *,
        dists: Sequence[str | os.PathLike[str]] | None = None,
        route: str = "config",
        repository_name: str = "privrepo",
        username: str | None = None,
        password: str | None = None,
        token: str | None = None,
        certificates: bool = True,
        split_ca: bool = True,
        check: bool = True,
        extra_args: Sequence[str] = (),
    ) -> CommandResult:
        """``pdm publish --no-build`` to ``index`` (an :class:`~pytest_privrepo.access.IndexAccess`
        or an ``Index``) by ``route`` (see the module docstring).

        ``dists``: files copied into an emptied ``dist/`` first (pdm uploads *every* file
        there); None uploads ``dist/`` as it is. ``username``/``password`` override the
        index's own (``"__token__"`` + token, a wrong password ...); ``token`` passes only a
        password, no username, and pdm itself sends it as user ``__token__``.
        ``certificates=False`` leaves out CA and client certificate; ``split_ca=False`` hands
        pdm CA and client certificate together (the combination that loses the certificate).

        ``repository_name`` names the ``[repository.*]`` entry: the ``config`` route's
        credentials and certificates, or (``cli``/``env`` on an mTLS index) only the URL and
        client certificate, pdm's one way to get a client certificate for ``-r URL``. An
        entry of that name from an earlier call is replaced or removed, so the command-line
        routes never pick up its credentials (pdm matches ``-r URL`` to an entry by URL).
        """
        if route not in PDM_PUBLISH_ROUTES:
            raise ConfigError(
                f"unknown pdm publish route {route!r}: use one of {', '.join(PDM_PUBLISH_ROUTES)}")
        access = IndexAccess.of(index).overridden(
            username=username, password=password, certificates=certificates)
        url = access.needs_upload_url("publish()")
        if token is not None and (username is not None or password is not None):
            raise ConfigError("publish(): give token= or username=/password=, not both")
        user, secret = (None, token) if token is not None else (access.username, access.password)
        ca, client = access.ca_cert, access.client_cert

        if dists is not None:
            if not dists:
                raise ConfigError("publish() needs at least one distribution file")
            sources = [Path(d).absolute() for d in dists]
            if self.dist_dir.exists():
                shutil.rmtree(self.dist_dir)
            self.dist_dir.mkdir(parents=True)
            for src in sources:
                shutil.copy2(src, self.dist_dir / src.name)
        elif not self.dist_dir.is_dir():
            raise ConfigError(f"{self.dist_dir} does not exist: pass dists=")

        argv: list[str] = ["publish", "--no-build"]
        extra_env: dict[str, str | os.PathLike[str] | None] = {}
        if route == "config":
            self.pdm.configure_repository(
                repository_name, url=url, username=user, password=secret,
                ca_certs=ca, client_cert=client, split_ca=split_ca, credentials=False,
                certificates=False)
            argv += ["-r", repository_name]
        else:
            if client is not None:
                # No option or variable exists for a client certificate: an entry with just
                # the URL (which -r URL matches) and the certificate. With split_ca the CA
                # goes to SSL_CERT_FILE through that entry, not --ca-certs (which would drop
                # the certificate, as ca_certs does: see configure_source).
                self.pdm.configure_repository(
                    repository_name, url=url, client_cert=client,
                    ca_certs=ca if split_ca else None, credentials=False, certificates=False)
                if split_ca:
                    ca = None
            else:
                self.pdm.remove_repository(repository_name)
            options = {"-r": url, "-u": user, "-P": secret,
                       "--ca-certs": os.fspath(Path(ca).absolute()) if ca else None}
            if route == "cli":
                for flag, value in options.items():
                    if value is not None:
                        argv += [flag, value]
            else:
                names = {"-r": "PDM_PUBLISH_REPO", "-u": "PDM_PUBLISH_USERNAME",
                         "-P": "PDM_PUBLISH_PASSWORD", "--ca-certs": "PDM_PUBLISH_CA_CERTS"}
                for flag, value in options.items():
                    if value is not None:
                        extra_env[names[flag]] = value
        argv += list(extra_args)
        # pdm publish installs nothing: no project venv needed, so Pdm.run, not self.run
        return self.pdm.run(*argv, cwd=self.path, check=check, extra_env=extra_env)
