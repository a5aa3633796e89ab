"""A pdm project as the audit sees it: ``[[tool.pdm.source]]`` and pdm.lock.

Facts used here (pdm 2.29.3, ``pdm/project/core.py`` ``Project.get_sources``,
``pdm/utils.py`` ``filtered_sources`` / ``expand_env_vars_in_auth``,
``pdm/models/repositories/base.py``):

- unless ``PDM_IGNORE_STORED_INDEX`` is set (CI does not set it), PyPI (config
  ``pypi.url``) is added *first* to the project's sources, unless a source is named
  ``pypi`` (that source then replaces PyPI);
- every source is asked and the best version wins, unless
  ``[tool.pdm.resolution] respect-source-order = true`` (then the first source that has
  the name wins: PyPI, when it was added implicitly);
- a source's ``include_packages`` patterns (fnmatch on the normalised name) restrict those
  packages to the sources that include them; ``exclude_packages`` keeps them away;
- credentials come from the source URL's userinfo, where ``${NAME}`` is replaced by the
  environment variable ``NAME`` (only that form; an unset variable becomes empty);
- pdm.lock records where a file came from only when locked with ``-S static_urls``.
"""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

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
    source_for_url,
)
from .toml_files import array_of_tables, read_toml, table

__all__ = ["PdmSourceAuth", "pdm_pin_fix", "pdm_source_auth", "read_pdm_project"]


_PLACEHOLDER = re.compile(r"\$\{(.+?)\}")


class PdmSourceAuth:
    """The userinfo of one source URL: literal parts and the variables pdm expands."""

    def __init__(self, user: str, password: str | None) -> None:
        self.user, self.password = user, password

    def variables(self) -> dict[str, str]:
        """``{role: variable}`` for each part that is exactly one ``${NAME}``."""
        out = {}
        for role, part in (("username", self.user), ("password", self.password)):
            match = _PLACEHOLDER.fullmatch(part or "")
            if match:
                out[role] = match.group(1)
        return out


def pdm_source_auth(url: str) -> tuple[str, PdmSourceAuth | None]:
    """``url`` without its userinfo, and that userinfo (None when there is none)."""
    parts = urlsplit(url)
    userinfo, at, host = parts.netloc.rpartition("@")
    if not at:
        return url, None
    user, colon, password = userinfo.partition(":")
    clean = urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    return clean, PdmSourceAuth(unquote(user), unquote(password) if colon else None)


def pdm_pin_fix(source: str, packages: list[LockedPackage]) -> str:
    patterns = sorted({p.key for p in packages}) or ["<package>"]
    return (f'pin the internal packages to source "{source}" with include_packages = '
            f"{patterns!r} in its [[tool.pdm.source]] (pdm then asks no other source for "
            "them); a pattern such as \"acme-*\" covers new ones too")


def _included(source: dict[str, Any], name: str) -> bool:
    key = canonicalize_name(name)
    return any(fnmatch.fnmatch(key, str(p).lower()) for p in source.get("include_packages") or [])


def read_pdm_project(root: Path) -> ProjectModel:
    """Read ``root``'s pyproject.toml and pdm.lock (never written)."""
    pyproject_path, lock_path = root / "pyproject.toml", root / "pdm.lock"
    pyproject = read_toml(pyproject_path, what="pyproject.toml")
    pdm = table(table(pyproject, "tool", path=pyproject_path, what="[tool]"), "pdm",
                path=pyproject_path, what="[tool.pdm]")
    entries = array_of_tables(pdm, "source", path=pyproject_path, what="[[tool.pdm.source]]")
    sources: list[Source] = []
    raw: dict[str, dict[str, Any]] = {}
    for entry in entries:
        name = entry.get("name")
        if not isinstance(name, str) or not name:
            raise AuditError(f"{pyproject_path}: a [[tool.pdm.source]] has no name")
        if entry.get("type", "index") != "index":
            raise AuditError(f"{pyproject_path}: source {name!r} is of type "
                             f"{entry.get('type')!r}: the audit stands up indexes only")
        url = entry.get("url")
        if not isinstance(url, str):
            raise AuditError(f"{pyproject_path}: source {name!r} has no url")
        clean, auth = pdm_source_auth(url)
        if auth is not None and auth.password is not None and "password" not in auth.variables():
            raise AuditError(
                f"{pyproject_path}: source {name!r} has a password in its url (committed with "
                "the project): write ${VARIABLE} there and set the variable in CI")
        location = parse_source_url(name, clean, where=str(pyproject_path))
        role = "index" if name != "pypi" else "replaces PyPI"
        parts = () if auth is None else tuple(
            (r, t) for r, t in (("username", auth.user), ("password", auth.password)) if t)
        sources.append(Source(PYPI if location.is_pypi else name, location, role, parts))
        raw[name] = entry
    if not any(not s.is_pypi for s in sources):
        raise AuditError(f"{pyproject_path}: no private source ([[tool.pdm.source]] with a "
                         "url): the project installs from PyPI only, there is nothing to audit")
    implicit_pypi = "pypi" not in raw
    if implicit_pypi:
        sources.insert(0, Source(PYPI, parse_source_url(PYPI, PYPI_SIMPLE_URL, where="pdm"),
                                 "implicit, first"))
    lock = read_toml(lock_path, what="pdm.lock", hint="run `pdm lock` and commit it")
    strategy = lock.get("metadata", {}).get("strategy", []) if isinstance(lock.get("metadata"), dict) else []
    static = "static_urls" in (strategy or [])
    pkg_entries = array_of_tables(lock, "package", path=lock_path, what="[[package]]")
    locked = {canonicalize_name(str(p.get("name", ""))) for p in pkg_entries}
    private = [s for s in sources if not s.is_pypi]
    packages: list[LockedPackage] = []
    for pkg in pkg_entries:
        name, version = pkg.get("name"), pkg.get("version")
        if not isinstance(name, str) or not isinstance(version, str):
            raise AuditError(f"{lock_path}: a [[package]] has no name or version")
        origin = _locked_source(pkg, name, sources, raw, static, lock_path)
        requires = []
        for dep in pkg.get("dependencies", []) or []:
            match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?[^;]*(?:;(.*))?$",
                             str(dep))
            if match and canonicalize_name(match.group(1)) in locked:
                extras = [e.strip() for e in (match.group(2) or "[]")[1:-1].split(",") if e.strip()]
                requires.append(bare_requirement(match.group(1), extras, match.group(3)))
        packages.append(LockedPackage(name, version, origin, tuple(dict.fromkeys(requires))))
    if not static and any(not (raw[s.name].get("include_packages")) for s in private):
        unpinned = [s.name for s in private if not raw[s.name].get("include_packages")]
        raise AuditError(
            f"{lock_path} does not record where each package came from (it was locked without "
            f"`-S static_urls`) and source {', '.join(unpinned)} pins no package with "
            "include_packages: lock with `pdm lock -S static_urls`, or pin the internal "
            "packages with include_packages")
    risky: list[RiskySetting] = []
    order = bool(table(pdm, "resolution", path=pyproject_path, what="[tool.pdm.resolution]")
                 .get("respect-source-order", False))
    for source in private:
        mine = [p for p in packages if p.source == source.name]
        unpinned_pkgs = [p for p in mine if not _included(raw[source.name], p.name)]
        if not unpinned_pkgs:
            continue
        why = ("pdm asks every source and takes the highest version, wherever it is"
               if not order else
               "pdm takes each name from the first source that has it"
               + (", and PyPI comes first (added implicitly)" if implicit_pypi else ""))
        risky.append(RiskySetting(
            f'[[tool.pdm.source]] "{source.name}"',
            "no include_packages for " + ", ".join(p.name for p in unpinned_pkgs), why,
            pdm_pin_fix(source.name, unpinned_pkgs)))
    return ProjectModel(
        client="pdm", root=root, files=("pyproject.toml", "pdm.lock"), lockfile="pdm.lock",
        sources=tuple(sources), packages=tuple(packages), risky=tuple(risky),
        pins=tuple(sorted((p.key, s) for p in packages for s in raw
                          if _included(raw[s], p.name))),
    )


def _locked_source(pkg: dict[str, Any], name: str, sources: list[Source],
                   raw: dict[str, dict[str, Any]], static: bool, lock_path: Path) -> str:
    """The source ``pkg`` was locked from: its file URLs, else its include_packages pin,
    else PyPI."""
    urls = [str(f["url"]) for f in pkg.get("files", []) or [] if isinstance(f, dict) and "url" in f]
    if static and urls:
        found: set[str] = set()
        for url in urls:
            origin = source_for_url(sources, url)
            if origin is None:
                raise AuditError(f"{lock_path}: {name} is locked from {url}, which is no "
                                 "source of pyproject.toml: the lock is stale, run `pdm lock`")
            found.add(origin)
        if len(found) > 1:
            raise AuditError(f"{lock_path}: {name}'s files come from several sources: "
                             f"{', '.join(sorted(found))}")
        return found.pop()
    pinned = [s for s in raw if _included(raw[s], name)]
    if pinned:
        source = next(s for s in sources if s.name == pinned[0] or
                      (s.is_pypi and pinned[0] == "pypi"))
        return source.name
    return PYPI
