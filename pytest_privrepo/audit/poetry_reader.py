"""A Poetry project as the audit sees it: ``[[tool.poetry.source]]`` and poetry.lock.

Facts used here (Poetry 1.8.5 and 2.5.1, tests/test_poetry_precedence.py):

- a source without ``priority`` is ``primary``; 1.8 also reads ``default = true`` and
  ``secondary = true`` (2.x rejects both);
- primary sources are merged (the highest allowed version wins); a *supplemental* source is
  asked only for names no primary source has, so a name registered on PyPI is taken from
  PyPI; a *secondary* source (1.8) is merged like a primary listed last; an *explicit*
  source serves only the dependencies pinned to it with ``source = "<name>"``;
- poetry.lock records ``[package.source] type = "legacy", reference = "<source name>"``
  for a package from a configured source and no ``[package.source]`` for PyPI.
"""

from __future__ import annotations

import re
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from ..gateway.hosts import PYPI_SIMPLE_URL
from .errors import AuditError
from .locations import parse_source_url
from .model import (
    PYPI,
    LockedPackage,
    ProjectModel,
    RiskySetting,
    Source,
    bare_requirement,
)
from .toml_files import array_of_tables, read_toml, table

__all__ = ["pin_fix", "read_poetry_project"]


_PRIORITIES = ("primary", "supplemental", "explicit", "default", "secondary")


def _sources(pyproject: dict[str, Any], path: Path) -> dict[str, Source]:
    """``{name as written: source}``; a source at PyPI's URL is named :data:`PYPI`."""
    poetry = table(table(pyproject, "tool", path=path, what="[tool]"), "poetry", path=path,
                   what="[tool.poetry]")
    entries = array_of_tables(poetry, "source", path=path, what="[[tool.poetry.source]]")
    sources: dict[str, Source] = {}
    for entry in entries:
        name = entry.get("name")
        if not isinstance(name, str) or not name:
            raise AuditError(f"{path}: a [[tool.poetry.source]] has no name")
        if any(written.lower() == name.lower() for written in sources):
            raise AuditError(f"{path}: two [[tool.poetry.source]] are named {name!r}")
        priority = entry.get("priority")
        if priority is None:
            priority = ("default" if entry.get("default") else
                        "secondary" if entry.get("secondary") else "primary")
        if priority not in _PRIORITIES:
            raise AuditError(f"{path}: source {name!r} has unknown priority {priority!r} "
                             f"(Poetry knows {', '.join(_PRIORITIES)})")
        url = entry.get("url")
        if url is None and name.lower() == "pypi":
            # shown for Poetry's PyPI, whose JSON API Poetry reads (the stand-in serves both)
            url = PYPI_SIMPLE_URL
        location = parse_source_url(name, url, where=str(path))
        sources[name] = Source(PYPI if location.is_pypi else name, location, priority)
    return sources


def _pins(pyproject: dict[str, Any]) -> dict[str, str]:
    """``{package key: source}`` for every ``source = "<name>"`` in the dependency tables."""
    poetry = pyproject.get("tool", {}).get("poetry", {})
    tables = [poetry.get("dependencies", {}), poetry.get("dev-dependencies", {})]
    for group in (poetry.get("group") or {}).values():
        if isinstance(group, dict):
            tables.append(group.get("dependencies", {}))
    pins: dict[str, str] = {}
    for deps in tables:
        if not isinstance(deps, dict):
            continue
        for name, spec in deps.items():
            specs = spec if isinstance(spec, list) else [spec]
            for one in specs:
                if isinstance(one, dict) and isinstance(one.get("source"), str):
                    pins[canonicalize_name(name)] = one["source"]
    return pins


_EXTRA_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def _requires(pkg: dict[str, Any], locked: AbstractSet[str]) -> tuple[str, ...]:
    deps = pkg.get("dependencies") or {}
    out: list[str] = []
    for name, spec in deps.items() if isinstance(deps, dict) else ():
        if canonicalize_name(name) not in locked:
            continue  # not locked for any platform: nothing would serve it
        for one in spec if isinstance(spec, list) else [spec]:
            if isinstance(one, dict):
                if one.get("optional"):
                    continue  # listed under [package.extras]
                out.append(bare_requirement(name, one.get("extras") or (), one.get("markers")))
            else:
                out.append(bare_requirement(name))
    return tuple(dict.fromkeys(out))


def _extras(pkg: dict[str, Any], locked: AbstractSet[str]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    extras = pkg.get("extras") or {}
    out = []
    for extra, reqs in extras.items() if isinstance(extras, dict) else ():
        names = []
        for req in reqs if isinstance(reqs, list) else []:
            match = _EXTRA_NAME.match(str(req))
            if match and canonicalize_name(match.group(1)) in locked:
                names.append(match.group(1))
        out.append((str(extra), tuple(names)))
    return tuple(out)


def read_poetry_project(root: Path) -> ProjectModel:
    """Read ``root``'s pyproject.toml and poetry.lock (never written)."""
    pyproject_path, lock_path = root / "pyproject.toml", root / "poetry.lock"
    pyproject = read_toml(pyproject_path, what="pyproject.toml")
    by_name = _sources(pyproject, pyproject_path)
    sources = list(by_name.values())
    if not any(not s.is_pypi for s in sources):
        raise AuditError(
            f"{pyproject_path}: no private source ([[tool.poetry.source]] with a url): "
            "the project installs from PyPI only, there is nothing to audit"
        )
    lock = read_toml(lock_path, what="poetry.lock", hint="run `poetry lock` and commit it")
    entries = array_of_tables(lock, "package", path=lock_path, what="[[package]]")
    locked = {canonicalize_name(str(p.get("name", ""))) for p in entries}
    packages: list[LockedPackage] = []
    skipped: list[tuple[str, str]] = []
    for pkg in entries:
        name, version = pkg.get("name"), pkg.get("version")
        if not isinstance(name, str) or not isinstance(version, str):
            raise AuditError(f"{lock_path}: a [[package]] has no name or version")
        src = pkg.get("source") or {}
        kind = src.get("type") if isinstance(src, dict) else None
        if kind in (None, "legacy"):
            reference = PYPI if kind is None else src.get("reference")
            if reference != PYPI and reference not in by_name:
                raise AuditError(
                    f"{lock_path}: {name} {version} is locked from source {reference!r}, "
                    f"which {pyproject_path.name} does not declare (declared: "
                    f"{', '.join(by_name)}): the lock is stale, run `poetry lock`"
                )
            if reference != PYPI:
                reference = by_name[reference].name  # PYPI for a source at PyPI's URL
            packages.append(LockedPackage(name, version, str(reference),
                                          _requires(pkg, locked), _extras(pkg, locked)))
        else:
            skipped.append((name, f"a {kind} source, not an index"))
    if not packages:
        raise AuditError(f"{lock_path}: no package locked from an index: nothing to audit")
    pins = _pins(pyproject)
    return ProjectModel(
        client="poetry", root=root, files=("pyproject.toml", "poetry.lock"),
        lockfile="poetry.lock", sources=tuple(sources), packages=tuple(packages),
        skipped=tuple(skipped), risky=_risky(sources, packages, pins),
        pins=tuple(sorted(pins.items())),
    )


def pin_fix(source: str, packages: list[LockedPackage]) -> str:
    names = ", ".join(f'{p.name} = {{ version = "...", source = "{source}" }}' for p in packages)
    return (f'give source "{source}" priority = "explicit" and pin every internal package to it '
            f"in [tool.poetry.dependencies] (transitive ones too, as direct dependencies): "
            f"{names or '<package> = { version = ..., source = ' + repr(source) + ' }'}")


def _risky(sources: list[Source], packages: list[LockedPackage],
           pins: dict[str, str]) -> tuple[RiskySetting, ...]:
    found: list[RiskySetting] = []
    pypi_primary = any(s.is_pypi and s.role in ("primary", "default") for s in sources)
    for source in sources:
        if source.is_pypi:
            continue
        mine = [p for p in packages if p.source == source.name]
        where = f'[[tool.poetry.source]] "{source.name}"'
        if source.role == "supplemental":
            found.append(RiskySetting(
                where, 'priority = "supplemental"',
                "Poetry asks a supplemental source only for names no primary source has: "
                "once the name is on PyPI, PyPI's package is taken",
                pin_fix(source.name, mine)))
        elif source.role == "secondary":
            found.append(RiskySetting(
                where, "secondary = true",
                "Poetry 1.8 merges a secondary source with the primary ones: the highest "
                "version wins, wherever it is",
                pin_fix(source.name, mine)))
        elif source.role in ("primary", "default") and pypi_primary:
            unpinned = [p for p in mine if pins.get(p.key) != source.name]
            if unpinned:
                found.append(RiskySetting(
                    where, f'priority = "{source.role}"',
                    "PyPI is a primary source too: Poetry merges primary sources and the "
                    "highest version wins, wherever it is",
                    pin_fix(source.name, unpinned)))
    return tuple(found)
