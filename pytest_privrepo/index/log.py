"""The request log: what reached an index, from whom, with which certificate.

A test asserts on these records ("the file download carried alice's credentials", "no
request reached the public index"), so each is a small immutable value and the log offers
filters instead of making tests loop over raw requests. Passwords and tokens are never
recorded: ``Authorization`` is not kept (:attr:`Hit.user`, :attr:`Hit.auth_ok` and
:attr:`Hit.auth_scheme` say what a test needs, see
:func:`~pytest_privrepo.index.auth.loggable_identity`), other credential headers
(``Proxy-Authorization``, ``Cookie``, ``X-Auth-Token``, ...) keep only their scheme
(:func:`recordable_headers`), and URL userinfo in any header is hidden.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from types import EllipsisType
from typing import TYPE_CHECKING

from ..records import Records
from ..redact import redact_header
from .auth import AuthDecision, Credentials, loggable_identity

if TYPE_CHECKING:
    from werkzeug.wrappers import Request

__all__ = ["Hit", "RequestLog", "recordable_headers"]


def recordable_headers(
    headers: Iterable[tuple[str, str]], secrets: Iterable[str] = ()
) -> tuple[tuple[str, str], ...]:
    """The request headers as a :class:`Hit` keeps them: without ``Authorization``, with
    credential headers shown as ``Basic ****`` / ``****``, and with ``secrets`` (the
    index's passwords and tokens) hidden wherever else a client put them."""
    kept = tuple((name, value) for name, value in headers if name.lower() != "authorization")
    return _recordable(kept, tuple(secrets))


@functools.lru_cache(maxsize=512)
def _recordable(headers: tuple[tuple[str, str], ...],
                secrets: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    # Remembered: a client sends the same header block with request after request, and
    # redacting every header was a sixth of a page request's cost in the server
    # (bench/README.md, issue 15). A pure function of its arguments, so the cache cannot
    # show one request's headers for another's.
    return tuple((name, redact_header(name, value, secrets)) for name, value in headers)


@dataclass(frozen=True)
class Hit:
    """One request an index server answered."""

    method: str
    path: str
    query: str
    status: int
    #: user name sent in the Authorization header (Basic), whether or not it was accepted;
    #: None when none was sent or what was sent may be a secret (no ``user:``, an empty
    #: password, a password or token in the user name's place)
    user: str | None
    #: True: credentials accepted, False: sent but rejected (also an unsupported scheme),
    #: None: none sent (or no index checked them)
    auth_ok: bool | None
    #: RFC 4514 subject of the client certificate presented (mTLS), else None
    client_cert: str | None
    host: str | None
    user_agent: str | None
    accept: str | None = None
    #: name of the index that answered, None when no index matched the path
    index: str | None = None
    #: "basic", "bearer", another scheme, or None
    auth_scheme: str | None = None
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    #: the injected fault that gave this answer (``"status"``, ``"reset"``, ... or
    #: ``"handler"``, see :mod:`~pytest_privrepo.index.faults`), None for the index's own
    fault: str | None = None

    @classmethod
    def from_request(
        cls,
        request: Request,
        *,
        status: int,
        decision: AuthDecision,
        credentials: Credentials | None,
        client_cert: str | None,
        index: str | None,
    ) -> Hit:
        """The record of one answered request (``credentials``: those of the index that
        answered, None when none did). The one place a request becomes a log entry, so that
        what is withheld (:func:`recordable_headers`,
        :func:`~pytest_privrepo.index.auth.loggable_identity`) is withheld for every hit."""
        secrets = credentials.secrets if credentials is not None else ()
        identity = loggable_identity(decision, request.headers.get("Authorization"), credentials)
        return cls(
            method=request.method,
            path=request.path,
            query=request.query_string.decode("latin-1"),
            status=status,
            user=identity.user,
            auth_ok=identity.ok,
            client_cert=client_cert,
            host=request.host or None,
            user_agent=request.headers.get("User-Agent"),
            accept=request.headers.get("Accept"),
            index=index,
            auth_scheme=identity.scheme,
            headers=recordable_headers(request.headers.items(), secrets),
        )

    def header(self, name: str) -> str | None:
        """Value of a request header (case-insensitive); Authorization is never stored,
        other credential headers only as ``<scheme> ****``."""
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return value
        return None


class RequestLog(Records[Hit]):
    """A thread-safe, append-only list of :class:`Hit` with filtering helpers."""

    noun = "hits"

    def filter(
        self,
        *,
        method: str | None = None,
        path: str | None = None,
        path_prefix: str | None = None,
        path_contains: str | None = None,
        status: int | None = None,
        user: str | None | EllipsisType = ...,
        index: str | None = None,
    ) -> list[Hit]:
        """Hits matching every given criterion (``user=None`` means "sent no credentials")."""
        out = []
        for hit in self._snapshot():
            if method is not None and hit.method != method.upper():
                continue
            if path is not None and hit.path != path:
                continue
            if path_prefix is not None and not hit.path.startswith(path_prefix):
                continue
            if path_contains is not None and path_contains not in hit.path:
                continue
            if status is not None and hit.status != status:
                continue
            if user is not ... and hit.user != user:
                continue
            if index is not None and hit.index != index:
                continue
            out.append(hit)
        return out

    @property
    def paths(self) -> list[str]:
        """Request paths in arrival order."""
        return [h.path for h in self._snapshot()]

    @property
    def users(self) -> set[str | None]:
        """Every user name seen (None stands for requests without credentials)."""
        return {h.user for h in self._snapshot()}

    @property
    def downloads(self) -> list[Hit]:
        """GET requests for distribution files (not pages, not .metadata)."""
        return [
            h for h in self._snapshot()
            if h.method == "GET" and "/files/" in h.path and not h.path.endswith(".metadata")
        ]
