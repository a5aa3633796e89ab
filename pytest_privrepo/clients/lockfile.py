"""A package of a parsed lock file (or any list of packages), found by its name.

Why one piece: poetry.lock, uv.lock and pdm.lock results, and the audit's report, are all
asked "where is ``Corp_Utils``?"; each answered it with its own loop over PEP 503
normalised names and its own KeyError. :class:`PackagesByName` is that answer once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Generic, Protocol, TypeVar

from packaging.utils import canonicalize_name

__all__ = ["PackagesByName", "find_package"]


class _Named(Protocol):
    @property
    def name(self) -> str: ...


P = TypeVar("P", bound=_Named)


def find_package(packages: Sequence[P], name: str, where: str) -> P:
    """The package called ``name`` (PEP 503 normalised), or a KeyError naming ``where`` it
    was looked for and what is there."""
    key = canonicalize_name(name)
    for package in packages:
        if canonicalize_name(package.name) == key:
            return package
    raise KeyError(f"{name} is not in {where} (locked: {', '.join(p.name for p in packages)})")


class PackagesByName(Generic[P]):
    """``result["Corp_Utils"]``, ``"corp-utils" in result`` and ``result.names`` for a
    (frozen dataclass) result with a ``packages`` tuple; :attr:`lock_file` names the file in
    the KeyError."""

    packages: tuple[P, ...]
    #: the file the packages were read from, for messages
    lock_file: ClassVar[str] = "the lock file"

    def __getitem__(self, name: str) -> P:
        return find_package(self.packages, name, self.lock_file)

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        key = canonicalize_name(name)
        return any(canonicalize_name(p.name) == key for p in self.packages)

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.packages]
