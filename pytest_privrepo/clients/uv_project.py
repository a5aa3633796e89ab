"""A uv project on disk: ``[[tool.uv.index]]`` / ``[tool.uv.sources]`` written with tomlkit,
``uv lock`` run in a :class:`~pytest_privrepo.clients.env.ClientEnv`, uv.lock parsed.

Why a project helper and not just ``uv pip install``: index *precedence* in uv is mostly a
project feature. ``explicit = true`` indexes, ``[tool.uv.sources] pkg = {index = ...}`` pins,
``ignore-error-codes`` and ``authenticate`` only exist in pyproject.toml, and uv.lock
records, per package, the registry it resolved from (``source = { registry = "<url>" }``),
which is exactly what a dependency-confusion test asserts on.

Credentials never go into pyproject.toml or the lock: each named index gets
``UV_INDEX_<NAME>_USERNAME/PASSWORD`` for the ``uv lock`` run. TLS is per run as well:
``SSL_CERT_FILE`` (a bundle of every index's CA) and ``SSL_CLIENT_CERT`` (one PEM).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import tomlkit
from packaging.utils import canonicalize_name
from tomlkit.items import AoT

from pytest_privrepo.clients.env import IndexLike, IndexSpec
from pytest_privrepo.clients.result import CommandResult
from pytest_privrepo.clients.uv import Uv, uv_env_name
from pytest_privrepo.errors import ClientError, ConfigError

from .pyproject import PyprojectDocument

__all__ = [
    "INDEX_STRATEGIES",
    "UvLockedPackage",
    "UvLockResult",
    "UvProject",
    "parse_uv_lock",
]

INDEX_STRATEGIES = ("first-index", "unsafe-first-match", "unsafe-best-match")
_NAME_RE = re.compile(r"^[A-Za-z0-9._-]+$")


def _norm_url(url: str) -> str:
    return url.rstrip("/")


@dataclass(frozen=True)
class UvLockedPackage:
    """One ``[[package]]`` of uv.lock."""

    name: str
    version: str | None
    #: ``source.registry`` (uv writes it without credentials), None for non-registry sources
    registry: str | None
    #: the name of the configured ``[[tool.uv.index]]`` whose URL is ``registry``, if any
    index: str | None
    #: ``{"url": ..., "hash": ...}`` of ``sdist`` and ``wheels``, as written by uv
    files: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class UvLockResult:
    """uv.lock, parsed; ``command`` is the ``uv lock`` run that wrote it."""

    command: CommandResult
    packages: tuple[UvLockedPackage, ...]

    def __getitem__(self, name: str) -> UvLockedPackage:
        key = canonicalize_name(name)
        for package in self.packages:
            if canonicalize_name(package.name) == key:
                return package
        raise KeyError(f"{name} is not in uv.lock (locked: {', '.join(self.names)})")

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and any(
            canonicalize_name(p.name) == canonicalize_name(name) for p in self.packages
        )

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.packages]

    def versions(self) -> dict[str, str | None]:
        """``{name: version}`` of the registry packages (the project itself excluded)."""
        return {p.name: p.version for p in self.packages if p.registry is not None}

    def indexes(self) -> dict[str, str | None]:
        """``{name: configured index name}`` of the registry packages."""
        return {p.name: p.index for p in self.packages if p.registry is not None}

    def registries(self) -> dict[str, str]:
        """``{name: registry URL}`` of the registry packages."""
        return {p.name: p.registry for p in self.packages if p.registry is not None}


def parse_uv_lock(path: str | os.PathLike[str], index_urls: Mapping[str, str] | None = None) -> tuple[UvLockedPackage, ...]:
    """Read uv.lock; ``index_urls`` (``{index name: url}``) maps registries back to names."""
    lock = Path(path)
    if not lock.exists():
        raise ConfigError(f"{lock} does not exist: run `uv lock` first")
    data = tomlkit.parse(lock.read_text(encoding="utf-8")).unwrap()
    by_url = {_norm_url(url): name for name, url in (index_urls or {}).items()}
    packages = []
    for pkg in data.get("package", []):
        source = pkg.get("source") or {}
        registry = source.get("registry")
        files: list[tuple[str, str]] = []
        sdist = pkg.get("sdist")
        if sdist and "url" in sdist:
            files.append((sdist["url"], sdist.get("hash", "")))
        for wheel in pkg.get("wheels", []):
            if "url" in wheel:
                files.append((wheel["url"], wheel.get("hash", "")))
        packages.append(
            UvLockedPackage(
                name=pkg["name"],
                version=pkg.get("version"),
                registry=registry,
                index=by_url.get(_norm_url(registry)) if registry else None,
                files=tuple(files),
            )
        )
    return tuple(packages)


def _check_system_config() -> None:
    system = Path("/etc/uv/uv.toml")
    if os.name == "posix" and system.exists():
        raise ConfigError(
            f"{system} exists: uv project commands would read it (UV_NO_CONFIG cannot be "
            "used with a project, it hides [tool.uv] too), so the run would not be isolated"
        )


class UvProject(PyprojectDocument):
    """A project directory that ``uv`` locks; create it with :meth:`create`."""

    def __init__(self, path: str | os.PathLike[str], uv: Uv) -> None:
        self.path = Path(path).absolute()
        self.uv = uv
        self._doc: tomlkit.TOMLDocument | None = None
        #: connection details (credentials, CA, client cert) per configured index name
        self.specs: dict[str, IndexSpec] = {}

    # -- pyproject.toml -----------------------------------------------------------------------
    @property
    def lockfile(self) -> Path:
        return self.path / "uv.lock"

    def create(
        self,
        name: str = "demo-app",
        version: str = "0.1.0",
        *,
        dependencies: Iterable[str] = (),
        requires_python: str = ">=3.9",
    ) -> UvProject:
        """Write a new pyproject.toml with a ``[project]`` table (no build system: uv treats
        it as a virtual project, so locking never builds the project itself)."""
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
        self._doc = doc
        return self.save()

    def add_dependency(self, requirement: str, *, index: str | None = None) -> UvProject:
        """Append a PEP 508 requirement; ``index`` pins it with ``[tool.uv.sources]``."""
        self.doc["project"].setdefault("dependencies", tomlkit.array()).append(requirement)
        if index is not None:
            self.pin(re.split(r"[\s<>=!~;\[(@]", requirement, maxsplit=1)[0], index)
        return self.save()

    def _tool_uv(self) -> tomlkit.items.Table:
        tool = self.doc.setdefault("tool", tomlkit.table(is_super_table=True))
        return tool.setdefault("uv", tomlkit.table())  # type: ignore[no-any-return]

    def add_index(
        self,
        name: str,
        index: IndexLike | IndexSpec | str,
        *,
        default: bool = False,
        explicit: bool = False,
        authenticate: str | None = None,
        ignore_error_codes: Sequence[int] | None = None,
    ) -> UvProject:
        """Append a ``[[tool.uv.index]]`` entry. Order matters: uv searches entries in file
        order, with ``default = true`` last. Credentials/TLS of ``index`` are remembered and
        passed to :meth:`lock` by environment, never written to the file."""
        if not _NAME_RE.match(name):
            raise ConfigError(f"{name!r} cannot be a uv index name")
        if name in self.specs:
            raise ConfigError(f"pyproject already has a uv index named {name!r}")
        if authenticate not in (None, "always", "auto", "never"):
            raise ConfigError(f"authenticate must be 'always', 'auto' or 'never', not {authenticate!r}")
        spec = IndexSpec.of(index)
        if any(uv_env_name(other) == uv_env_name(name) for other in self.specs):
            raise ConfigError(f"index name {name!r} maps to the same UV_INDEX_* variables as another")
        entries = self._tool_uv().get("index")
        if entries is None:
            entries = AoT([])
            self._tool_uv()["index"] = entries
        entry = tomlkit.table()
        entry["name"] = name
        entry["url"] = spec.url
        if default:
            entry["default"] = True
        if explicit:
            entry["explicit"] = True
        if authenticate is not None:
            entry["authenticate"] = authenticate
        if ignore_error_codes is not None:
            entry["ignore-error-codes"] = [int(c) for c in ignore_error_codes]
        entries.append(entry)
        self.specs[name] = spec
        return self.save()

    def pin(self, package: str, index: str) -> UvProject:
        """``[tool.uv.sources] package = { index = "index" }``."""
        sources = self._tool_uv().setdefault("sources", tomlkit.table())
        inline = tomlkit.inline_table()
        inline["index"] = index
        sources[package] = inline
        return self.save()

    # -- commands -----------------------------------------------------------------------------
    def lock_env(self) -> dict[str, str]:
        """``UV_INDEX_<NAME>_*``, ``SSL_CERT_FILE`` and ``SSL_CLIENT_CERT`` for the indexes."""
        env: dict[str, str] = {}
        for name, spec in self.specs.items():
            if spec.username is not None:
                env[f"UV_INDEX_{uv_env_name(name)}_USERNAME"] = spec.username
                if spec.password is not None:
                    env[f"UV_INDEX_{uv_env_name(name)}_PASSWORD"] = spec.password
        cas = [s.ca_cert for s in self.specs.values() if s.ca_cert is not None]
        if cas:
            bundle = self.uv.env.ca_bundle(cas)
            assert bundle is not None
            env["SSL_CERT_FILE"] = os.fspath(bundle)
        client_certs = {s.client_cert for s in self.specs.values() if s.client_cert is not None}
        if len(client_certs) > 1:
            raise ConfigError(
                "uv presents one SSL_CLIENT_CERT to every host, but these indexes need "
                f"different client certificates: {sorted(map(str, client_certs))}"
            )
        if client_certs:
            env["SSL_CLIENT_CERT"] = os.fspath(client_certs.pop())
        return env

    def run(self, *args: str, check: bool = True,
            extra_env: Mapping[str, str | os.PathLike[str] | None] | None = None) -> CommandResult:
        env: dict[str, str | os.PathLike[str] | None] = dict(self.lock_env())
        # UV_NO_CONFIG (set by ClientEnv) also hides the project's own [tool.uv] table, so
        # project runs drop it; user/system uv.toml stay hidden by the isolated
        # XDG_CONFIG_HOME / XDG_CONFIG_DIRS (only a machine-wide /etc/uv/uv.toml could
        # still be read, see _check_system_config).
        env["UV_NO_CONFIG"] = None
        env.update(extra_env or {})
        _check_system_config()
        return self.uv.run(*args, check=check, extra_env=env, cwd=self.path)

    def lock(
        self,
        *,
        index_strategy: str | None = None,
        python: str | os.PathLike[str] = sys.executable,
        check: bool = True,
        extra_args: Sequence[str] = (),
    ) -> UvLockResult:
        """``uv lock`` (fresh: an old uv.lock is removed first) and the parsed lock.

        With ``check=False`` a failing run returns a result with no packages; the error is
        in ``result.command.output``.
        """
        if index_strategy is not None and index_strategy not in INDEX_STRATEGIES:
            raise ConfigError(f"unknown index strategy {index_strategy!r}: use one of {INDEX_STRATEGIES}")
        if self.lockfile.exists():
            self.lockfile.unlink()
        args = ["lock", "--python", os.fspath(python), "--no-progress"]
        if index_strategy is not None:
            args += ["--index-strategy", index_strategy]
        args += list(extra_args)
        result = self.run(*args, check=check)
        if not result.ok:
            return UvLockResult(command=result, packages=())
        if not self.lockfile.exists():
            raise ClientError(f"`uv lock` succeeded but wrote no {self.lockfile}:\n{result.output}")
        urls = {name: spec.url for name, spec in self.specs.items()}
        return UvLockResult(command=result, packages=parse_uv_lock(self.lockfile, urls))
