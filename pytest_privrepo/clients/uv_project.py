"""A uv project on disk: ``[[tool.uv.index]]`` / ``[tool.uv.sources]`` written with
tomlkit, ``uv lock`` run in a :class:`~pytest_privrepo.clients.env.ClientEnv`, uv.lock
parsed.

Why a project helper and not just ``uv pip install``: index *precedence* in uv is mostly
a project feature. ``explicit = true`` indexes,
``[tool.uv.sources] pkg = {index = ...}`` pins, ``ignore-error-codes`` and
``authenticate`` only exist in pyproject.toml, and uv.lock records, per package, the
registry it resolved from (``source = { registry = "<url>" }``), which is exactly what a
dependency-confusion test asserts on.

Credentials never go into pyproject.toml or the lock: each named index gets
``UV_INDEX_<NAME>_USERNAME/PASSWORD`` for the ``uv lock`` run. TLS is per run as well:
``SSL_CERT_FILE`` (a bundle of every index's CA, plus the public roots while no entry is
``default = true`` and uv still reaches its implicit PyPI) and ``SSL_CLIENT_CERT`` (one
PEM).

``uv publish --index NAME`` (:meth:`UvProject.publish`) is the project's publish route:
it needs the index's ``publish-url`` in pyproject.toml, checks the index URL for the
files first, and takes the index's ``UV_INDEX_<NAME>_*`` credentials for the check and,
unless given others on the command line, for the upload too.

A uv.toml passed with ``--config-file`` (``lock(extra_args=...)``, see
:class:`~pytest_privrepo.clients.uv.UvConfig`) *replaces* the ``[tool.uv]`` settings: uv
then ignores the pyproject's ``[[tool.uv.index]]`` and uses the file's ``[[index]]``
tables. ``[tool.uv.sources]`` is still read, but cannot name an index of the uv.toml
(uv 0.13: "references an undeclared index").
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import tomlkit

from pytest_privrepo.access import IndexAccess
from pytest_privrepo.clients.indexes import IndexArg, needs_public_roots
from pytest_privrepo.clients.lockfile import PackagesByName
from pytest_privrepo.clients.result import CommandResult
from pytest_privrepo.clients.uv import PUBLISH_INDEX_CREDENTIALS_UV, PUBLISH_INDEX_LIMIT, Uv
from pytest_privrepo.clients.uv_config import append_index, uv_index_env
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


def _norm_url(url: str) -> str:
    return url.rstrip("/")


@dataclass(frozen=True)
class UvLockedPackage:
    """One ``[[package]]`` of uv.lock."""

    name: str
    version: str | None
    #: ``source.registry`` (written without credentials), None for non-registry sources
    registry: str | None
    #: the name of the ``[[tool.uv.index]]`` whose URL is ``registry``, if any
    index: str | None
    #: ``{"url": ..., "hash": ...}`` of ``sdist`` and ``wheels``, as written by uv
    files: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class UvLockResult(PackagesByName[UvLockedPackage]):
    """uv.lock, parsed; ``command`` is the ``uv lock`` run that wrote it."""

    lock_file = "uv.lock"

    command: CommandResult
    packages: tuple[UvLockedPackage, ...]

    def versions(self) -> dict[str, str | None]:
        """``{name: version}`` of the registry packages (not the project itself)."""
        return {p.name: p.version for p in self.packages if p.registry is not None}

    def indexes(self) -> dict[str, str | None]:
        """``{name: configured index name}`` of the registry packages."""
        return {p.name: p.index for p in self.packages if p.registry is not None}

    def registries(self) -> dict[str, str]:
        """``{name: registry URL}`` of the registry packages."""
        return {p.name: p.registry for p in self.packages if p.registry is not None}


def parse_uv_lock(
    path: str | os.PathLike[str], index_urls: Mapping[str, str] | None = None
) -> tuple[UvLockedPackage, ...]:
    """Read uv.lock; ``index_urls`` (``{name: url}``) maps registries back to names."""
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
            f"{system} exists: uv project commands would read it (UV_NO_CONFIG cannot "
            "be used with a project, it hides [tool.uv] too), so the run would not be "
            "isolated"
        )


class UvProject(PyprojectDocument):
    """A project directory that ``uv`` locks; create it with :meth:`create`."""

    def __init__(self, path: str | os.PathLike[str], uv: Uv) -> None:
        self.path = Path(path).absolute()
        self.uv = uv
        self._doc: tomlkit.TOMLDocument | None = None
        #: connection details (credentials, CA, client cert) per configured index name
        self.specs: dict[str, IndexAccess] = {}

    # -- pyproject.toml ---------------------------------------------------------------
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
        """Write a new pyproject.toml with a ``[project]`` table (no build system: uv
        treats it as a virtual project, so locking never builds the project itself)."""
        self._new_project(name, version, requires_python, dependencies)
        return self.save()

    def add_dependency(
        self, requirement: str, *, index: str | None = None
    ) -> UvProject:
        """Append a PEP 508 requirement; ``index`` pins it in ``[tool.uv.sources]``."""
        self._append_requirement(requirement)
        if index is not None:
            self.pin(re.split(r"[\s<>=!~;\[(@]", requirement, maxsplit=1)[0], index)
        return self.save()

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
    ) -> UvProject:
        """Append a ``[[tool.uv.index]]`` entry. Order matters: uv searches entries in
        file order, with ``default = true`` last. ``publish_url`` enables
        :meth:`publish`. Credentials/TLS of ``index`` are remembered and passed to
        :meth:`lock` and :meth:`publish` by environment, never written to the file."""
        append_index(self._tool("uv"), self.specs, name, index,
                     owner="pyproject already has a uv index",
                     default=default, explicit=explicit, authenticate=authenticate,
                     ignore_error_codes=ignore_error_codes, publish_url=publish_url)
        return self.save()

    def pin(self, package: str, index: str) -> UvProject:
        """``[tool.uv.sources] package = { index = "index" }``."""
        sources = self._tool("uv").setdefault("sources", tomlkit.table())
        inline = tomlkit.inline_table()
        inline["index"] = index
        sources[package] = inline
        return self.save()

    # -- commands ---------------------------------------------------------------------
    @property
    def implicit_pypi(self) -> bool:
        """uv also searches PyPI: no ``[[tool.uv.index]]`` entry is ``default = true``, so
        ``https://pypi.org/simple`` is the default index, searched after every entry."""
        entries = self.doc.get("tool", {}).get("uv", {}).get("index") or []
        return not any(entry.get("default") for entry in entries)

    def lock_env(self) -> dict[str, str]:
        """``UV_INDEX_<NAME>_*``, ``SSL_CERT_FILE``, ``SSL_CLIENT_CERT`` for them;
        ``SSL_CERT_FILE`` keeps the public roots where uv still needs them (the implicit
        PyPI, an https index without a CA:
        :func:`~pytest_privrepo.clients.indexes.needs_public_roots`)."""
        public = needs_public_roots(self.specs.values(), implicit_pypi=self.implicit_pypi)
        return uv_index_env(self.uv.env, self.specs, public_roots=public)

    def run(
        self,
        *args: str,
        check: bool = True,
        extra_env: Mapping[str, str | os.PathLike[str] | None] | None = None,
    ) -> CommandResult:
        env: dict[str, str | os.PathLike[str] | None] = dict(self.lock_env())
        # UV_NO_CONFIG (set by ClientEnv) also hides the project's own [tool.uv] table,
        # so project runs drop it; user/system uv.toml stay hidden by the isolated
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
        extra_env: Mapping[str, str | os.PathLike[str] | None] | None = None,
    ) -> UvLockResult:
        """``uv lock`` (fresh: an old uv.lock is removed first) and the parsed lock.

        ``extra_args``/``extra_env`` add to the run, e.g. the ``(args, env)`` of
        :meth:`Uv.index_options <pytest_privrepo.clients.uv.Uv.index_options>` for
        indexes from ``UV_INDEX`` or a uv.toml instead of pyproject.toml. With
        ``check=False`` a failing run returns a result with no packages; the error is in
        ``result.command.output``.
        """
        if index_strategy is not None and index_strategy not in INDEX_STRATEGIES:
            raise ConfigError(
                f"unknown index strategy {index_strategy!r}: "
                f"use one of {INDEX_STRATEGIES}"
            )
        if self.lockfile.exists():
            self.lockfile.unlink()
        args = ["lock", "--python", os.fspath(python), "--no-progress"]
        if index_strategy is not None:
            args += ["--index-strategy", index_strategy]
        args += list(extra_args)
        result = self.run(*args, check=check, extra_env=extra_env)
        if not result.ok:
            return UvLockResult(command=result, packages=())
        if not self.lockfile.exists():
            raise ClientError(
                f"`uv lock` succeeded but wrote no {self.lockfile}:\n{result.output}"
            )
        urls = {name: spec.url for name, spec in self.specs.items()}
        return UvLockResult(command=result, packages=parse_uv_lock(self.lockfile, urls))

    def publish(
        self,
        files: Sequence[str | os.PathLike[str]],
        index: str,
        *,
        username: str | None = None,
        password: str | None = None,
        token: str | None = None,
        certificates: bool = True,
        check: bool = True,
        extra_args: Sequence[str] = (),
    ) -> CommandResult:
        """``uv publish --index <index>`` in the project: the upload goes to that
        ``[[tool.uv.index]]``'s ``publish-url`` (:meth:`add_index` ``publish_url=``).

        uv first looks for the files on the index's simple page, then uploads what is
        not there; both requests carry the index's
        ``UV_INDEX_<NAME>_USERNAME/PASSWORD``. ``username``/``password`` (or ``token``,
        sent as ``--token``) go on the command line instead, and uv uses them for the
        upload only; a ``password`` alone is sent with the index's username, because uv
        0.13 refuses ``--password`` without ``--username`` (it does not take the one
        from ``UV_INDEX_<NAME>_USERNAME``). ``certificates=False`` leaves out
        ``SSL_CERT_FILE`` / ``SSL_CLIENT_CERT``.
        """
        if not files:
            raise ConfigError("publish() needs at least one distribution file")
        entries = self._tool("uv").get("index") or []
        entry = next((e for e in entries if e.get("name") == index), None)
        if entry is None:
            raise ConfigError(
                f"pyproject has no [[tool.uv.index]] named {index!r}: "
                f"configured: {', '.join(self.specs) or 'none'}"
            )
        if "publish-url" not in entry:
            raise ConfigError(
                f"[[tool.uv.index]] {index!r} has no publish-url: "
                "add_index(..., publish_url=index.upload_url)"
            )
        if token is not None and (username is not None or password is not None):
            raise ConfigError("publish(): give token= or username=/password=, not both")
        if password is not None and username is None and index in self.specs:
            username = self.specs[index].username
        # uv < 0.8.14 sends the index's credentials neither to the check nor to the
        # upload (uv.py's module docstring)
        self.uv.require(PUBLISH_INDEX_CREDENTIALS_UV, PUBLISH_INDEX_LIMIT)
        args = ["publish", "--trusted-publishing", "never", "--no-progress"]
        args += ["--index", index]
        if token is not None:
            args += ["--token", token]
        if username is not None:
            args += ["--username", username]
        if password is not None:
            args += ["--password", password]
        env: dict[str, str | os.PathLike[str] | None] = {}
        if not certificates:
            env.update(SSL_CERT_FILE=None, SSL_CLIENT_CERT=None)
        args += [*extra_args, *(os.fspath(f) for f in files)]
        return self.run(*args, check=check, extra_env=env)
