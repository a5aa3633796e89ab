"""Drive the real pdm against ephemeral indexes: a project with ``[[tool.pdm.source]]``,
credentials and certificates in pdm's *global* config, ``pdm lock -S static_urls`` parsed.

What this wrapper encodes about pdm (2.2x, read from its source):

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
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import tomlkit
from packaging.utils import canonicalize_name
from tomlkit.items import AoT

from pytest_privrepo.clients.env import DEFAULT_TIMEOUT, ClientEnv, IndexLike, IndexSpec
from pytest_privrepo.clients.result import CommandResult
from pytest_privrepo.errors import ClientError, ConfigError

from .pyproject import PyprojectDocument

__all__ = [
    "Pdm",
    "PdmLockedPackage",
    "PdmLockResult",
    "PdmProject",
    "parse_pdm_lock",
]

_NAME_RE = re.compile(r"^[A-Za-z0-9_-]+$")


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
        self._env_cas: dict[str, Path] = {}
        self._write_config()

    # ------------------------------------------------------------------ config
    def _write_config(self) -> None:
        doc = tomlkit.document()
        doc["check_update"] = False
        if self._config:
            pypi = tomlkit.table(is_super_table=True)
            for name, values in self._config.items():
                table = tomlkit.table()
                for key, value in values.items():
                    table[key] = value
                pypi[name] = table
            doc["pypi"] = pypi
        self.config_file.parent.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(tomlkit.dumps(doc), encoding="utf-8")
        self.config_file.chmod(0o600)

    def configure_source(
        self,
        name: str,
        index: IndexLike | IndexSpec | str | None = None,
        *,
        username: str | None = None,
        password: str | None = None,
        ca_certs: str | os.PathLike[str] | None = None,
        client_cert: str | os.PathLike[str] | None = None,
        client_key: str | os.PathLike[str] | None = None,
    ) -> Path:
        """Write ``[pypi.<name>]`` credentials/certificates into the global config file.

        Values come from ``index`` (its username, password, CA, client certificate) unless
        given explicitly, e.g. a wrong password. Returns the config file path.
        """
        if not _NAME_RE.match(name):
            raise ConfigError(f"{name!r} cannot be used as a pdm source name")
        spec = IndexSpec.of(index) if index is not None else None
        values: dict[str, object] = {}
        user = username if username is not None else (spec.username if spec else None)
        secret = password if password is not None else (spec.password if spec else None)
        ca = ca_certs if ca_certs is not None else (spec.ca_cert if spec else None)
        cert = client_cert if client_cert is not None else (spec.client_cert if spec else None)
        if user is not None:
            values["username"] = user
        if secret is not None:
            values["password"] = secret
        if ca is not None and cert is not None:
            # pdm 2.29 + httpx 0.28: a source with ca_certs gets ``verify=<path str>``, and
            # httpx's create_ssl_context returns early for a str verify, before loading
            # ``cert``: the client certificate is silently never presented. Without
            # ca_certs pdm uses its truststore context, which (on Linux) reads the trust
            # roots from SSL_CERT_FILE, and loads the client certificate: so the CA goes to
            # SSL_CERT_FILE for such sources (see run()).
            self._env_cas[name] = Path(ca).absolute()
        elif ca is not None:
            self._env_cas.pop(name, None)
            values["ca_certs"] = os.fspath(Path(ca).absolute())
        if cert is not None:
            values["client_cert"] = os.fspath(Path(cert).absolute())
        if client_key is not None:
            values["client_key"] = os.fspath(Path(client_key).absolute())
        self._config[name] = values
        self._write_config()
        return self.config_file

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


def _source_prefix(url: str) -> str:
    """Where a source's files may live: the simple URL without its ``simple/`` tail,
    scheme and host lower-cased, no credentials."""
    parts = urlsplit(url)
    path = parts.path
    if path.rstrip("/").endswith("/simple"):
        path = path.rstrip("/")[: -len("simple")]
    host = (parts.hostname or "").lower()
    netloc = f"{host}:{parts.port}" if parts.port else host
    return f"{parts.scheme.lower()}://{netloc}{path}"


def _strip_userinfo(url: str) -> str:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    netloc = f"{host}:{parts.port}" if parts.port else host
    return f"{parts.scheme.lower()}://{netloc}{parts.path}"


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
        self.path.mkdir(parents=True, exist_ok=True)
        doc = tomlkit.document()
        project = tomlkit.table()
        project["name"] = name
        project["version"] = version
        project["requires-python"] = requires_python
        deps = tomlkit.array()
        for dep in dependencies:
            deps.append(dep)
        project["dependencies"] = deps
        doc["project"] = project
        tool = tomlkit.table(is_super_table=True)
        pdm = tomlkit.table()
        pdm["distribution"] = distribution
        tool["pdm"] = pdm
        doc["tool"] = tool
        self._doc = doc
        return self.save()

    def _tool_pdm(self) -> tomlkit.items.Table:
        tool = self.doc.setdefault("tool", tomlkit.table(is_super_table=True))
        return tool.setdefault("pdm", tomlkit.table())  # type: ignore[no-any-return]

    def add_dependency(self, requirement: str) -> PdmProject:
        self.doc["project"].setdefault("dependencies", tomlkit.array()).append(requirement)
        return self.save()

    def add_source(
        self,
        name: str,
        index: IndexLike | IndexSpec | str,
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
        spec = IndexSpec.of(index)
        sources = self._tool_pdm().get("source")
        if sources is None:
            sources = AoT([])
            self._tool_pdm()["source"] = sources
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
        resolution = self._tool_pdm().setdefault("resolution", tomlkit.table())
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
