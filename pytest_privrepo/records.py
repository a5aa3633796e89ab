"""A thread-safe, append-only list of records: what the request log and the egress log share.

Why a base of its own: server threads append while the test thread reads, so every log needs
the same lock, snapshot and sequence behaviour; :class:`~pytest_privrepo.index.log.RequestLog`
(what one index answered) and :class:`~pytest_privrepo.gateway.egress.EgressLog` (what left
the clients) add only their questions on top.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Generic, TypeVar, overload

__all__ = ["Records"]

T = TypeVar("T")


class Records(Generic[T]):
    """Append, clear, iterate, index, len: each on a consistent snapshot."""

    #: the noun in the repr (``<RequestLog 3 hits>``)
    noun = "records"

    def __init__(self) -> None:
        self._items: list[T] = []
        self._lock = threading.Lock()

    def append(self, item: T) -> None:
        with self._lock:
            self._items.append(item)

    def clear(self) -> None:
        """Empty the log in place (whoever holds it keeps seeing new records)."""
        with self._lock:
            self._items.clear()

    def _snapshot(self) -> list[T]:
        with self._lock:
            return list(self._items)

    def __iter__(self) -> Iterator[T]:
        return iter(self._snapshot())

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    @overload
    def __getitem__(self, item: int) -> T: ...

    @overload
    def __getitem__(self, item: slice) -> list[T]: ...

    def __getitem__(self, item: int | slice) -> T | list[T]:
        return self._snapshot()[item]

    def __bool__(self) -> bool:
        return len(self) > 0

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {len(self)} {self.noun}>"
