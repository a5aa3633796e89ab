"""What the client harnesses take as an index, in one place.

Every entry point (install, lock, publish, configure, the snippets) takes an
:class:`~pytest_privrepo.access.IndexAccess`, an ``Index`` (or another :class:`IndexLike`)
or a plain URL string (:data:`IndexArg`), and reads it through ``IndexAccess.of``: the one
adapter, so no harness probes an arbitrary object with ``getattr``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Protocol, runtime_checkable

from pytest_privrepo.access import IndexAccess

__all__ = ["IndexAccess", "IndexArg", "IndexLike", "IndexSpec", "needs_public_roots"]


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


def needs_public_roots(specs: Iterable[IndexAccess], *, implicit_pypi: bool) -> bool:
    """Whether a run whose one trust file names these indexes' CAs must also carry the
    public roots: when the client still uses its implicit PyPI (uv without
    ``--default-index`` or a ``default = true`` entry; pip without ``--index-url``) or an
    https index without a CA of its own (it is trusted the way PyPI is).

    Why one rule for pip and uv: both take one trust file per run and it replaces the
    default store (in a routed :class:`~pytest_privrepo.clients.env.ClientEnv` the
    gateway's public CA, standing in for the machine's roots). uv 0.13.9 reads
    ``SSL_CERT_FILE`` instead of its built-in roots: a ``uv lock`` with one private TLS
    index and the implicit PyPI failed with "invalid peer certificate: UnknownIssuer" for
    ``https://pypi.org/simple/...`` when only the private CA was passed; pip 24.2 stops
    trusting ``SSL_CERT_FILE`` once ``--cert`` is given (tests/test_pypi_precedence.py).

    """
    return implicit_pypi or any(
        s.ca_cert is None and s.url.startswith("https:") for s in specs
    )
