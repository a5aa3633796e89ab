"""A Poetry project on disk: pyproject.toml written with tomlkit, commands with parsed results.

Two styles, because both are in the field: Poetry 2's ``[project]`` table (PEP 621) and
Poetry 1.8's ``[tool.poetry]`` metadata with ``[tool.poetry.dependencies]``. Sources always
go under ``[[tool.poetry.source]]``. :meth:`PoetryProject.load` takes a user's existing
pyproject.toml and edits it with tomlkit, so comments and formatting survive.

Results are values a test can assert on: which source each locked package came from
(:class:`PoetryLockedPackage`), which files ``poetry build`` wrote.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import tomlkit
from tomlkit.items import AoT, Table

from ..access import IndexAccess
from ..dists import DistFile, inspect_dist
from ..errors import ConfigError
from .indexes import IndexArg
from .lockfile import PackagesByName
from .poetry import Poetry
from .pyproject import PyprojectDocument
from .result import CommandResult

__all__ = [
    "PRIORITIES",
    "STYLES",
    "LockResult",
    "LockedPackage",
    "PoetryLockResult",
    "PoetryLockedPackage",
    "PoetryProject",
    "parse_lock",
    "parse_poetry_lock",
    "pep440_constraint",
]

STYLES = ("pep621", "poetry")
PRIORITIES = ("primary", "supplemental", "explicit", "default", "secondary")


@dataclass(frozen=True)
class PoetryLockedPackage:
    """One ``[[package]]`` of poetry.lock."""

    name: str
    version: str
    #: ``reference`` of ``[package.source]`` (the source name), None for PyPI
    source: str | None
    #: ``url`` of ``[package.source]``, None for PyPI
    source_url: str | None
    source_type: str | None
    files: tuple[tuple[str, str], ...]  # (filename, "sha256:...")


@dataclass(frozen=True)
class PoetryLockResult(PackagesByName[PoetryLockedPackage]):
    """poetry.lock, parsed."""

    lock_file = "poetry.lock"

    lock_version: str | None
    packages: tuple[PoetryLockedPackage, ...]

    def sources(self) -> dict[str, str | None]:
        """{package name: source name (None = PyPI)}."""
        return {p.name: p.source for p in self.packages}

    def versions(self) -> dict[str, str]:
        return {p.name: p.version for p in self.packages}


def _bump(release: list[int], index: int) -> str:
    head = release[:index] + [release[index] + 1]
    return ".".join(map(str, head))


def pep440_constraint(constraint: str) -> str:
    """Translate Poetry's ``^``/``~`` constraints for PEP 621 ``[project]`` dependencies.

    ``^1.2.3`` -> ``>=1.2.3,<2``; ``^0.2`` -> ``>=0.2,<0.3``; ``~1.2`` -> ``>=1.2,<1.3``;
    ``*`` -> ``""``; anything else is passed through (it is PEP 440 already).
    """
    c = constraint.strip()
    if c in ("", "*"):
        return ""
    if c[0] in "^~" and not c.startswith("~="):
        base = c[1:].strip()
        try:
            release = [int(x) for x in base.split(".")]
        except ValueError:
            raise ConfigError(f"cannot translate constraint {constraint!r} to PEP 440") from None
        if c[0] == "^":
            index = next((i for i, x in enumerate(release) if x != 0), len(release) - 1)
        else:
            index = min(1, len(release) - 1)
        return f">={base},<{_bump(release, index)}"
    return c


def parse_poetry_lock(path: Path) -> PoetryLockResult:
    """Read poetry.lock (both lock-version 2.0 and 2.1)."""
    if not path.exists():
        raise ConfigError(f"{path} does not exist: run lock first")
    data = tomlkit.parse(path.read_text()).unwrap()
    packages = []
    for pkg in data.get("package", []):
        src = pkg.get("source") or {}
        packages.append(PoetryLockedPackage(
            name=pkg["name"],
            version=pkg["version"],
            source=src.get("reference"),
            source_url=src.get("url"),
            source_type=src.get("type"),
            files=tuple((f.get("file", ""), f.get("hash", "")) for f in pkg.get("files", [])),
        ))
    return PoetryLockResult(data.get("metadata", {}).get("lock-version"), tuple(packages))


class PoetryProject(PyprojectDocument):
    """A project directory that a :class:`Poetry` runs in."""

    def __init__(self, path: str | Path, poetry: Poetry) -> None:
        self.path = Path(path)
        self.poetry = poetry
        self._doc: tomlkit.TOMLDocument | None = None

    # -- pyproject.toml -----------------------------------------------------------------------
    @property
    def style(self) -> str:
        return "pep621" if "project" in self.doc else "poetry"

    def create(
        self,
        name: str = "demo-app",
        version: str = "0.1.0",
        *,
        style: str | None = None,
        python: str = ">=3.9",
        dependencies: Mapping[str, str] | None = None,
        description: str = "A project made by pytest-privrepo",
        package: bool = True,
    ) -> PoetryProject:
        """Write a new pyproject.toml (and a package dir) in ``style`` (default: by Poetry major)."""
        style = style or ("pep621" if self.poetry.major >= 2 else "poetry")
        if style not in STYLES:
            raise ConfigError(f"unknown pyproject style {style!r}: use 'pep621' or 'poetry'")
        if style == "pep621" and self.poetry.major < 2:
            raise ConfigError("Poetry 1.8 does not read [project]: use style='poetry'")
        self.path.mkdir(parents=True, exist_ok=True)
        doc = tomlkit.document()
        if style == "pep621":
            project = tomlkit.table()
            project["name"] = name
            project["version"] = version
            project["description"] = description
            project["authors"] = [{"name": "privrepo", "email": "privrepo@example.invalid"}]
            project["requires-python"] = python
            project["dependencies"] = tomlkit.array()
            doc["project"] = project
            doc["tool"] = {"poetry": {}}
        else:
            poetry = tomlkit.table()
            poetry["name"] = name
            poetry["version"] = version
            poetry["description"] = description
            poetry["authors"] = ["privrepo <privrepo@example.invalid>"]
            poetry["dependencies"] = {"python": python}
            doc["tool"] = {"poetry": poetry}
        doc["build-system"] = {
            "requires": ["poetry-core>=1.0.0"],
            "build-backend": "poetry.core.masonry.api",
        }
        self._doc = doc
        if package:
            pkg = self.path / re.sub(r"[-.]+", "_", name).lower()
            pkg.mkdir(exist_ok=True)
            (pkg / "__init__.py").write_text(f'__version__ = "{version}"\n')
        for dep, constraint in (dependencies or {}).items():
            self.add_dependency(dep, constraint)
        return self.save()

    def _tool_poetry(self) -> Table:
        tool = self.doc.setdefault("tool", tomlkit.table())
        return tool.setdefault("poetry", tomlkit.table())  # type: ignore[no-any-return]

    def add_source(self, name: str, url: str | IndexArg | None = None, *,
                   priority: str | None = None, default: bool = False,
                   secondary: bool = False) -> PoetryProject:
        """Append a ``[[tool.poetry.source]]`` (1.8's ``default``/``secondary`` keys allowed).

        ``url`` is the source URL as written, or an index (an ``Index`` or
        :class:`~pytest_privrepo.access.IndexAccess`: its simple URL); credentials and
        certificates go to Poetry's config (:meth:`Poetry.configure`), never into the file.
        The source named ``pypi`` has no URL: it is PyPI itself, which Poetry 1.8.5 and
        2.5.1 refuse to relocate ("The PyPI repository cannot be configured with a custom
        url.", ``poetry/factory.py``); listing it keeps PyPI next to primary sources, which
        otherwise deactivate it."""
        if url is None:
            if name.lower() != "pypi":
                raise ConfigError(f"source {name!r} needs a url (only the source named "
                                  "'pypi' has none)")
        elif name.lower() == "pypi":
            raise ConfigError("the source named 'pypi' is PyPI itself: Poetry refuses a url "
                              "for it, pass none")
        elif not isinstance(url, str):
            url = IndexAccess.of(url).url
        if priority is not None and priority not in PRIORITIES:
            raise ConfigError(f"unknown source priority {priority!r}: use one of {', '.join(PRIORITIES)}")
        sources = self._tool_poetry().get("source")
        if sources is None:
            sources = AoT([])
            self._tool_poetry()["source"] = sources
        if any(s.get("name") == name for s in sources):
            raise ConfigError(f"pyproject already has a source named {name!r}")
        entry = tomlkit.table()
        entry["name"] = name
        if url is not None:
            entry["url"] = url
        if priority:
            entry["priority"] = priority
        if default:
            entry["default"] = True
        if secondary:
            entry["secondary"] = True
        sources.append(entry)
        return self.save()

    def add_dependency(self, name: str, constraint: str = "*", *, source: str | None = None) -> PoetryProject:
        """Declare a dependency (optionally pinned to an explicit source), in the file's style."""
        if self.style == "pep621":
            pep440 = pep440_constraint(constraint)
            spec = name if not pep440 else f"{name} ({pep440})"
            self.doc["project"].setdefault("dependencies", tomlkit.array()).append(spec)
            if source:
                deps = self._tool_poetry().setdefault("dependencies", tomlkit.table())
                deps[name] = {"source": source}
        else:
            deps = self._tool_poetry().setdefault("dependencies", tomlkit.table())
            deps[name] = {"version": constraint, "source": source} if source else constraint
        return self.save()

    # -- commands ------------------------------------------------------------------------------
    def run(self, *args: str, check: bool = True, input: str | None = None) -> CommandResult:
        return self.poetry.run(*args, cwd=self.path, check=check, input=input)

    def lock(self, *args: str) -> PoetryLockResult:
        """``poetry lock`` (1.8: without updating pins only when asked), then the parsed lock."""
        self.run("lock", *args)
        return self.lock_result()

    def lock_result(self) -> PoetryLockResult:
        return parse_poetry_lock(self.path / "poetry.lock")

    def install(self, *args: str) -> CommandResult:
        return self.run("install", *args)

    def add(self, spec: str, *, source: str | None = None) -> CommandResult:
        args = ["add", spec]
        if source:
            args += ["--source", source]
        self._doc = None
        return self.run(*args)

    def build(self, *args: str) -> list[DistFile]:
        """``poetry build``; return the distributions it wrote to dist/ (newest run only)."""
        dist = self.path / "dist"
        before = {p: p.stat().st_mtime_ns for p in dist.glob("*")} if dist.exists() else {}
        self.run("build", *args)
        files = [p for p in sorted(dist.glob("*"))
                 if p.suffix in (".whl", ".gz") and before.get(p) != p.stat().st_mtime_ns]
        return [inspect_dist(p) for p in files]

    def publish(self, repository: str | None = None, *, username: str | None = None,
                password: str | None = None, build: bool = False, check: bool = True,
                extra: Sequence[str] = ()) -> CommandResult:
        args = ["publish"]
        if repository:
            args += ["-r", repository]
        if username is not None:
            args += ["--username", username]
        if password is not None:
            args += ["--password", password]
        if build:
            args.append("--build")
        return self.run(*args, *extra, check=check)

    def version(self, rule: str | None = None) -> str:
        """``poetry version [rule]``; return the project's version afterwards."""
        out = self.run("version", *([rule] if rule else []), "--short").stdout.strip()
        self._doc = None
        return out.splitlines()[-1].strip()

    @property
    def venv_python(self) -> Path:
        return self.path / ".venv" / "bin" / "python"

    def python(self, code: str) -> CommandResult:
        """Run Python code in the project's virtualenv (e.g. to import what was installed)."""
        return self.poetry.env.run([str(self.venv_python), "-c", code], cwd=self.path)


# Deprecated names (before the Poetry prefix matched PdmLockResult, parse_uv_lock ...): the
# same objects, kept for code and README examples that use them.
LockedPackage = PoetryLockedPackage
LockResult = PoetryLockResult
parse_lock = parse_poetry_lock
