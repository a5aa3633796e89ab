"""What an audit knows about a project: its sources, its locked packages, its risky settings.

Why one shape for every client: the stand-up, the run and the comparison do not care
whether the sources came from ``[[tool.poetry.source]]``, ``[[tool.uv.index]]``,
``[[tool.pdm.source]]`` or a requirements file; the readers (:mod:`.poetry_reader`,
:mod:`.uv_reader`, :mod:`.pdm_reader`, :mod:`.pip_reader`) translate each client's files
into these values, and only they know the files' layout.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from packaging.utils import canonicalize_name

from .locations import SourceLocation

__all__ = ["PYPI", "LockedPackage", "ProjectModel", "RiskySetting", "Source", "bare_requirement",
           "source_for_url"]

#: The name the report gives PyPI (the implicit source of every client).
PYPI = "PyPI"


@dataclass(frozen=True)
class Source:
    """One configured source (index) of the project."""

    name: str
    location: SourceLocation
    #: the client's own word for how it is searched: Poetry's priority (``primary``,
    #: ``supplemental``, ``explicit``, ``default``, ``secondary``), uv's ``index`` /
    #: ``explicit`` / ``default``
    role: str
    #: credentials written into the source itself, as ``(role, text)`` with role
    #: ``username`` / ``password`` and text a literal or ``${VARIABLE}`` (pdm's URL userinfo)
    credential_parts: tuple[tuple[str, str], ...] = field(default=(), repr=False)

    @property
    def url(self) -> str:
        return self.location.url

    @property
    def is_pypi(self) -> bool:
        return self.location.is_pypi


@dataclass(frozen=True)
class LockedPackage:
    """One registry package of the lock file: where it must come from, and what it needs."""

    name: str
    version: str
    #: the source it was locked from (:data:`PYPI` for PyPI)
    source: str
    #: its dependencies as PEP 508 strings without versions (the audit serves one version
    #: of each, so the lock's constraints add nothing; markers are kept)
    requires: tuple[str, ...] = ()
    #: its extras: ``{extra: requirements}``
    extras: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def key(self) -> str:
        return canonicalize_name(self.name)


@dataclass(frozen=True)
class RiskySetting:
    """A setting that makes where a package comes from depend on version numbers or on
    which index happens to list a name (each client has its own)."""

    #: where it is written (``[[tool.poetry.source]] "acme"``, ``[tool.uv]``)
    where: str
    #: the setting as written (``priority = "supplemental"``) or what is missing
    value: str
    why: str
    fix: str


@dataclass(frozen=True)
class ProjectModel:
    """A project as the audit reads it (nothing here is a secret: no credentials)."""

    client: str
    root: Path
    #: the files the audit read, relative to ``root``
    files: tuple[str, ...]
    lockfile: str
    sources: tuple[Source, ...]
    packages: tuple[LockedPackage, ...]
    #: locked packages the audit does not serve (path, git, url sources): ``(name, why)``
    skipped: tuple[tuple[str, str], ...] = ()
    risky: tuple[RiskySetting, ...] = field(default=())
    #: ``{package key: source name}`` for the packages pinned to one source in the project
    pins: tuple[tuple[str, str], ...] = ()

    def source(self, name: str) -> Source | None:
        return next((s for s in self.sources if s.name == name), None)

    def source_for_url(self, url: str) -> str | None:
        """See :func:`source_for_url`."""
        return source_for_url(self.sources, url)

    @property
    def private_sources(self) -> tuple[Source, ...]:
        return tuple(s for s in self.sources if not s.is_pypi)

    @property
    def internal(self) -> tuple[LockedPackage, ...]:
        """Packages locked from a private source."""
        return tuple(p for p in self.packages if p.source != PYPI)


def bare_requirement(name: str, extras: object = (), marker: object = None) -> str:
    """``name[extras]; marker`` as a PEP 508 string without a version (see
    :attr:`LockedPackage.requires`); a marker packaging cannot read is dropped, because the
    lock already decided where it applies."""
    from packaging.markers import InvalidMarker, Marker

    spec = name
    if isinstance(extras, (list, tuple)) and extras:
        spec += "[" + ",".join(str(e) for e in extras) + "]"
    if isinstance(marker, str) and marker.strip():
        try:
            spec += f"; {Marker(marker)}"
        except InvalidMarker:
            pass
    return spec


def source_for_url(sources: Iterable[Source], url: str) -> str | None:
    """The source a page or file URL belongs to: :data:`PYPI` for PyPI's hosts, else the
    private source on that host with the longest path prefix; None for none of them."""
    from urllib.parse import urlsplit

    from ..gateway.hosts import PYPI_HOSTS

    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if host in PYPI_HOSTS:
        return PYPI
    best = max((s for s in sources if not s.is_pypi and s.location.host == host
                and parts.path.startswith(s.location.prefix + "/")),
               key=lambda s: len(s.location.prefix), default=None)
    return best.name if best is not None else None
