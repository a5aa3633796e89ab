"""A pdm project (pyproject.toml with ``[[tool.pdm.source]]``), its commands, and pdm.lock.

The project side of :mod:`pytest_privrepo.clients.pdm`, as Poetry and uv have theirs in
``poetry_project.py`` / ``uv_project.py``: :class:`PdmProject` writes sources (their
credentials and certificates go to pdm's global config through :class:`Pdm`), locks with
``-S static_urls`` and maps every locked file back to the source it came from
(:class:`PdmLockResult`), and publishes by each of pdm's routes (see pdm.py's docstring).
With ``implicit_pypi`` pdm adds its default PyPI source, as for any user (see
:class:`PdmProject`).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import tomlkit
from packaging.utils import canonicalize_name
from tomlkit.items import AoT

from pytest_privrepo.access import IndexAccess
from pytest_privrepo.clients.indexes import IndexArg
from pytest_privrepo.clients.lockfile import PackagesByName
from pytest_privrepo.clients.pdm import PDM_PUBLISH_ROUTES, Pdm, check_pdm_name
from pytest_privrepo.clients.pyproject import PyprojectDocument
from pytest_privrepo.clients.result import CommandResult
from pytest_privrepo.clients.runner import Route
from pytest_privrepo.errors import ConfigError

__all__ = ["PdmLockResult", "PdmLockedPackage", "PdmProject", "parse_pdm_lock"]


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
class PdmLockResult(PackagesByName[PdmLockedPackage]):
    """pdm.lock, parsed; ``command`` is the ``pdm lock`` run."""

    lock_file = "pdm.lock"

    command: CommandResult
    packages: tuple[PdmLockedPackage, ...]

    @property
    def ok(self) -> bool:
        return self.command.ok

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

    def __init__(self, path: str | os.PathLike[str], pdm: Pdm, *,
                 implicit_pypi: bool = False) -> None:
        self.path = Path(path).absolute()
        self.pdm = pdm
        self._doc: tomlkit.TOMLDocument | None = None
        self.source_urls: dict[str, str] = {}
        #: let pdm add its implicit PyPI source (``pypi.url``, https://pypi.org/simple) as
        #: it does for every user: the harness's ``PDM_IGNORE_STORED_INDEX=1`` is dropped for
        #: this project's runs. pdm 2.29.3 (``Project.get_sources``) then puts PyPI *first*,
        #: before the ``[[tool.pdm.source]]`` tables, unless a source is itself named
        #: ``pypi`` (that one replaces it, in its place). The stored ``[pypi.<name>]`` entries
        #: the harness writes carry no ``url``, so no other source comes with it. Off by
        #: default: without a gateway (a routed ClientEnv with ``privrepo.pypi``) PyPI is
        #: unreachable and every lock would fail on it.
        self.implicit_pypi = implicit_pypi

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
        check_pdm_name(name)
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
            from pytest_privrepo.clients.venv import make_venv

            make_venv(self.path / ".venv", python=self.pdm.python, env=self.pdm.env)
        return python

    def run(self, *args: str, check: bool = True,
            extra_env: Mapping[str, str | os.PathLike[str] | None] | None = None) -> CommandResult:
        env: dict[str, str | os.PathLike[str] | None] = {"PDM_PYTHON": self.ensure_venv()}
        if self.implicit_pypi:
            env["PDM_IGNORE_STORED_INDEX"] = None
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
        route: Route | str = "file",
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
        route = self.pdm.check_route(route, PDM_PUBLISH_ROUTES)
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
        if route == "file":
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
