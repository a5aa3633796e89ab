"""What the client harnesses take as an index, in one place.

Every entry point (install, lock, publish, configure, the snippets) takes an
:class:`~pytest_privrepo.access.IndexAccess`, an ``Index`` (or another :class:`IndexLike`)
or a plain URL string (:data:`IndexArg`), and reads it through ``IndexAccess.of``: the one
adapter, so no harness probes an arbitrary object with ``getattr``.
"""

from __future__ import annotations

import os
from typing import Protocol, runtime_checkable

from pytest_privrepo.access import IndexAccess

__all__ = ["IndexAccess", "IndexArg", "IndexLike", "IndexSpec"]


@runtime_checkable
class IndexLike(Protocol):
    """What the runners read from an index object (``privrepo.index(...)`` objects have it
    all); :meth:`IndexAccess.of <pytest_privrepo.access.IndexAccess.of>` adapts it."""

    @property
    def url(self) -> str: ...  # simple API URL with trailing slash

    @property
    def ca_cert(self) -> str | os.PathLike[str] | None: ...  # Index gives a str path

    @property
    def client_cert(self) -> str | os.PathLike[str] | None: ...  # one PEM: key + certificate

    @property
    def username(self) -> str | None: ...

    @property
    def password(self) -> str | None: ...


#: What every client entry point takes as an index: an :class:`IndexAccess`, an ``Index``
#: (or another :class:`IndexLike`), or a plain URL string; normalised by ``IndexAccess.of``.
IndexArg = IndexAccess | IndexLike | str

#: Deprecated name of :class:`~pytest_privrepo.access.IndexAccess` (same class: ``IndexSpec(url,
#: username=..., password=...)`` and ``IndexSpec.of(...)`` keep working). New code writes
#: ``dataclasses.replace(index.access, password="wrong")``.
IndexSpec = IndexAccess
