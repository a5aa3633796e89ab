"""A uv project as the audit sees it: ``[[tool.uv.index]]``, ``[tool.uv.sources]``, uv.lock.

Facts used here (uv 0.13; tests/test_uv_routes.py, test_precedence.py):

- indexes are searched in file order, a ``default = true`` one last, PyPI last of all
  unless an index is the default; with the default ``index-strategy = "first-index"`` a
  name is taken from the first index that lists it at all; ``unsafe-first-match`` and
  ``unsafe-best-match`` look further (best-match: the highest version on any index wins);
- an ``explicit = true`` index serves only packages pinned to it in ``[tool.uv.sources]``,
  and those pins are read for the project's own dependencies only;
- a uv.toml next to pyproject.toml replaces the ``[tool.uv]`` settings;
- uv.lock records ``source = { registry = "<index url>" }`` per package.
"""

from __future__ import annotations

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

__all__ = ["UNNAMED_ROLES", "read_uv_project", "uv_pin_fix"]


_UNSAFE = ("unsafe-first-match", "unsafe-best-match")


#: Roles of the indexes from uv's pip-style settings: unnamed, so no UV_INDEX_<NAME>_*
#: variables and no [tool.uv.sources] pins reach them.
UNNAMED_ROLES = ("extra-index-url", "index-url")


def uv_pin_fix(source: str, packages: list[LockedPackage], *, unnamed: bool = False) -> str:
    """The fix for uv: an explicit named index and a pin per internal package."""
    if unnamed:
        return ("replace the pip-style index-url / extra-index-url with a named "
                '[[tool.uv.index]] (name = "<name>", explicit = true), pin every internal '
                "package to it in [tool.uv.sources] and set UV_INDEX_<NAME>_USERNAME / "
                "_PASSWORD in CI")
    pins = ", ".join(f'{p.name} = {{ index = "{source}" }}' for p in packages)
    return (f'mark index "{source}" explicit = true and pin every internal package to it in '
            f"[tool.uv.sources] (uv reads pins of direct dependencies only: list transitive "
            f"internal packages as dependencies too): "
            f"{pins or '<package> = { index = ' + repr(source) + ' }'}; keep the default "
            f'index-strategy "first-index"')


def _settings(root: Path, pyproject: dict[str, Any]) -> tuple[dict[str, Any], str]:
    uv_toml = root / "uv.toml"
    if uv_toml.exists():
        return read_toml(uv_toml, what="uv.toml"), "uv.toml"
    path = root / "pyproject.toml"
    return table(table(pyproject, "tool", path=path, what="[tool]"), "uv", path=path,
                 what="[tool.uv]"), "[tool.uv]"


def read_uv_project(root: Path) -> ProjectModel:
    """Read ``root``'s pyproject.toml (and uv.toml) and uv.lock (never written)."""
    pyproject_path, lock_path = root / "pyproject.toml", root / "uv.lock"
    pyproject = read_toml(pyproject_path, what="pyproject.toml")
    settings, where = _settings(root, pyproject)
    entries = array_of_tables(settings, "index", path=pyproject_path, what=f"{where} index")
    sources: list[Source] = []
    for number, entry in enumerate(entries, 1):
        name = entry.get("name") or f"index-{number}"
        if not isinstance(name, str):
            raise AuditError(f"{pyproject_path}: index {number} has a name that is not a string")
        if any(s.name == name for s in sources):
            raise AuditError(f"{pyproject_path}: two indexes are named {name!r}")
        location = parse_source_url(name, entry.get("url"), where=str(pyproject_path))
        role = "explicit" if entry.get("explicit") else "default" if entry.get("default") else "index"
        sources.append(Source(PYPI if location.is_pypi else name, location, role))
    # the pip-style settings uv still reads (uv 0.13 docs, "Index URL"): extra-index-url
    # entries are extra indexes, index-url is the default index (it replaces PyPI)
    extra = settings.get("extra-index-url") or []
    for number, url in enumerate(extra if isinstance(extra, list) else [extra], 1):
        location = parse_source_url(f"extra-index-url-{number}", url, where=str(pyproject_path))
        sources.append(Source(PYPI if location.is_pypi else f"extra-index-url-{number}",
                              location, "extra-index-url"))
    if isinstance(settings.get("index-url"), str):
        location = parse_source_url("index-url", settings["index-url"], where=str(pyproject_path))
        sources.append(Source(PYPI if location.is_pypi else "index-url", location, "index-url"))
    if not any(not s.is_pypi for s in sources):
        raise AuditError(
            f"{pyproject_path}: no private index ([[tool.uv.index]] with a url): the project "
            "installs from PyPI only, there is nothing to audit"
        )
    lock = read_toml(lock_path, what="uv.lock", hint="run `uv lock` and commit it")
    if not any(s.is_pypi or s.role in ("default", "index-url") for s in sources):
        sources.append(Source(PYPI, parse_source_url(PYPI, PYPI_SIMPLE_URL, where="uv"), "default"))
    by_url = {s.url.rstrip("/"): s for s in sources}
    pkg_entries = array_of_tables(lock, "package", path=lock_path, what="[[package]]")
    locked = {canonicalize_name(str(p.get("name", ""))) for p in pkg_entries}
    packages: list[LockedPackage] = []
    skipped: list[tuple[str, str]] = []
    for pkg in pkg_entries:
        name, version = pkg.get("name"), pkg.get("version")
        source = pkg.get("source") or {}
        registry = source.get("registry") if isinstance(source, dict) else None
        if not isinstance(name, str):
            raise AuditError(f"{lock_path}: a [[package]] has no name")
        if registry is None:
            if not (isinstance(source, dict) and source.get("virtual") == "."
                    or isinstance(source, dict) and source.get("editable") == "."):
                kind = next(iter(source), "unknown") if isinstance(source, dict) else "unknown"
                skipped.append((name, f"a {kind} source, not an index"))
            continue
        match = by_url.get(str(registry).rstrip("/"))
        if match is None:
            raise AuditError(
                f"{lock_path}: {name} {version} is locked from {registry}, which is no index "
                f"of {where} (indexes: {', '.join(s.url for s in sources)}): the lock is "
                "stale, run `uv lock`"
            )
        if not isinstance(version, str):
            raise AuditError(f"{lock_path}: {name} has no version")
        requires = tuple(dict.fromkeys(
            bare_requirement(d["name"], d.get("extra") or (), d.get("marker"))
            for d in pkg.get("dependencies", []) or []
            if isinstance(d, dict) and isinstance(d.get("name"), str)
            and canonicalize_name(d["name"]) in locked))
        extras = tuple(
            (str(extra), tuple(d["name"] for d in deps if isinstance(d, dict) and "name" in d))
            for extra, deps in (pkg.get("optional-dependencies") or {}).items())
        packages.append(LockedPackage(name, version, match.name, requires, extras))
    if not packages:
        raise AuditError(f"{lock_path}: no package locked from an index: nothing to audit")
    pins: dict[str, str] = {}
    for name, spec in table(table(table(pyproject, "tool", path=pyproject_path, what="[tool]"),
                                  "uv", path=pyproject_path, what="[tool.uv]"),
                            "sources", path=pyproject_path, what="[tool.uv.sources]").items():
        for one in spec if isinstance(spec, list) else [spec]:
            if isinstance(one, dict) and isinstance(one.get("index"), str):
                pins[canonicalize_name(name)] = one["index"]
    risky: list[RiskySetting] = []
    strategy = settings.get("index-strategy")
    if strategy in _UNSAFE:
        for source in sources:
            if source.is_pypi or source.role == "explicit":
                continue
            mine = [p for p in packages if p.source == source.name]
            unnamed = source.role in UNNAMED_ROLES
            risky.append(RiskySetting(
                where, f'index-strategy = "{strategy}"',
                ("uv takes each name from the index with the highest version, wherever it is"
                 if strategy == "unsafe-best-match" else
                 "uv looks for a version on every index in order, so PyPI serves any version "
                 "the private index lacks"),
                uv_pin_fix(source.name, mine, unnamed=unnamed)))
    return ProjectModel(
        client="uv", root=root, files=("pyproject.toml", "uv.lock"), lockfile="uv.lock",
        sources=tuple(sources), packages=tuple(packages), skipped=tuple(skipped),
        risky=tuple(risky), pins=tuple(sorted(pins.items())),
    )
