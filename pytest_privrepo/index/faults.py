"""Faults injected into one index for one test: pytest-httpserver's handler API in front of it.

Why pytest-httpserver's API: many test suites already stub HTTP with it, so
``index.expect_oneshot_request("/simple/demo/").respond_with_data("busy", status=503)``
reads the way its users expect, and its :class:`RequestMatcher` (method, headers, query,
body, regex or :class:`URIPattern` URIs) and :class:`RequestHandler` (``respond_with_*``,
``with_post_hook``) are used as they are; nothing here matches a request itself. What
differs from ``HTTPServer``, because the index is the server and the handlers only bend it:

- URIs are paths *below the index's prefix* (``/simple/demo/`` for an index mounted at
  ``/corp``), and a string path must be one the index serves (a page, a file, the upload
  API; see :func:`served_path`): a fault on any other path could never fire;
- a request no handler matches falls through to the index (``HTTPServer`` answers 500),
  and so does a request that does not match the head of the ordered handlers (no
  "permanent failure" mode);
- an injected handler answers in front of the index, like a load balancer: before the
  index checks credentials. :meth:`Faults.index_answer` is the index's own answer, for a
  handler that bends it instead of replacing it (the ready-made body faults do).

The ready-made faults (:meth:`Faults.status`, :meth:`~Faults.latency`, :meth:`~Faults.reset`,
:meth:`~Faults.truncate`, :meth:`~Faults.trickle`, :meth:`~Faults.wrong_sha256`,
:meth:`~Faults.metadata`, :meth:`~Faults.tls_handshake_failure`) are such handlers: ``times=n``
registers n oneshot handlers, ``times=None`` one permanent handler (the TLS failure, which
comes before any path, is a count on the server instead). The body faults (truncate,
trickle, wrong sha256, metadata) bend the index's 2xx answers only: another answer (the 401
challenge uv and pip's netrc/keyring routes ask for first, a 404, a 304) goes out unchanged
and does not use the fault up. Connection-level effects
(a TCP reset, a close after a cut body) are carried out by the connection's handler
(:data:`~pytest_privrepo.index.handler.CONNECTION_FAULT_KEY`). Every answer shaped by a
fault is logged like any other, with :attr:`Hit.fault <pytest_privrepo.index.log.Hit.fault>`
naming it. Faults last until :meth:`Faults.clear` (or the end of :meth:`Faults.scope`) and
are cleared when the server stops, i.e. when a function-scoped ``privrepo`` closes.
"""

from __future__ import annotations

import hashlib
import math
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from http import HTTPStatus
from re import Pattern
from typing import TYPE_CHECKING, Any, Union

from packaging.utils import InvalidName, canonicalize_name
from pytest_httpserver import METHOD_ALL, URI_DEFAULT, RequestHandler, RequestMatcher, URIPattern
from pytest_httpserver.httpserver import UNDEFINED, HandlerType, RequestHandlerList
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Request, Response

from ..errors import ConfigError
from ..redact import redact, redact_header
from .handler import CONNECTION_FAULT_KEY
from .responses import text_response
from .routes import route_of

if TYPE_CHECKING:
    from typing_extensions import Unpack
    from pytest_httpserver import RequestMatcherKwargs

    from .index import Index, StoredFile

__all__ = [
    "FAULT_KEY",
    "WRONG_METADATA_LINE",
    "FaultInjection",
    "FaultPath",
    "Faults",
    "HandlerType",
    "fault_of",
    "served_path",
    "wrong_sha256",
]

#: environ key naming the fault that answered a request (read by the server for its Hit)
FAULT_KEY = "privrepo.fault"

#: environ key holding the index's own answer, as a callable, while handlers run
_ANSWER_KEY = "privrepo.index_answer"

#: What a fault is set on: a path below the index's prefix, a served file, or (as with
#: pytest-httpserver) a compiled regex or a URIPattern, matched against that path.
FaultPath = Union[str, "StoredFile", Pattern[str], URIPattern]

#: Ticks per second of a trickled body: the writes are small enough to look continuous.
_TRICKLE_TICKS = 10

#: The line :meth:`Faults.metadata` (``wrong=True``) adds to a wheel's METADATA.
WRONG_METADATA_LINE = b"Requires-Dist: privrepo-wrong-metadata"


def fault_of(request: Request) -> str | None:
    """The name of the fault that shaped the answer to ``request``, or None."""
    value = request.environ.get(FAULT_KEY)
    return value if isinstance(value, str) else None


def wrong_sha256(sha256: str) -> str:
    """The hash :meth:`Faults.wrong_sha256` puts on a page instead of ``sha256``:
    deterministic, so a test can look for it in a client's message."""
    return hashlib.sha256(b"privrepo wrong sha256 " + sha256.encode()).hexdigest()


def _below(prefix: str, path: str) -> str | None:
    """``path`` relative to ``prefix`` (the server's routing rule), None when outside."""
    if not prefix:
        return path
    if path == prefix or path.startswith(prefix + "/"):
        return path[len(prefix):] or "/"
    return None


class _BelowPrefix(URIPattern):
    """A pytest-httpserver URI (a regex or a URIPattern) applied below an index's prefix."""

    def __init__(self, prefix: str, pattern: Pattern[str] | URIPattern) -> None:
        self.prefix = prefix
        self.pattern = pattern

    def match(self, uri: str) -> bool:
        rest = _below(self.prefix, uri)
        if rest is None:
            return False
        if isinstance(self.pattern, URIPattern):
            return self.pattern.match(rest)
        return bool(self.pattern.match(rest))

    def __repr__(self) -> str:
        return f"{self.prefix!r} + {self.pattern!r}" if self.prefix else repr(self.pattern)


def _serves(index: "Index", rest: str) -> bool:
    """Whether ``rest`` (below the prefix) is a path the index answers as a page, a file,
    the upload API or the JSON API (:func:`pytest_privrepo.index.routes.route_of`)."""
    return route_of(index, rest) is not None


def served_path(index: "Index", path: object) -> str:
    """``path`` if ``index`` serves it (below its prefix), else a :class:`ConfigError` that
    says why and what it serves. ``""`` (pytest-httpserver's ``URI_DEFAULT``) is every path."""
    if not isinstance(path, str):
        raise ConfigError(f"a fault path must be a string, a served file, a compiled regex or "
                          f"a URIPattern, not {type(path).__name__}")
    if path == URI_DEFAULT:
        return path
    simple, upload = index.behaviour.simple_path, index.behaviour.upload_path or "/"
    what = (f"index {index.name!r} serves pages ({simple}/, {simple}/<project>/), files "
            f"({index.files_path}<project>/<filename>) and uploads ({upload})"
            + (" and the JSON API (/pypi/<project>/json)" if index.json_api else ""))
    if "://" in path:
        raise ConfigError(f"fault path {path!r} is a URL: give the path below the index's "
                          f"prefix, e.g. '/simple/<project>/'; {what}")
    if "?" in path or "#" in path:
        raise ConfigError(f"fault path {path!r} has a query or fragment: match the query with "
                          "query_string=")
    if not path.startswith("/"):
        raise ConfigError(f"fault path {path!r} must start with '/'; {what}")
    if _serves(index, path):
        return path
    hint = ""
    inner = _below(index.prefix, path) if index.prefix else None
    if inner is not None and _serves(index, inner):
        hint = f" (paths are given below the prefix {index.prefix!r}: use {inner!r})"
    raise ConfigError(f"index {index.name!r} does not serve {path!r}{hint}: a fault there "
                      f"could never fire; {what}")


def _check_times(times: object) -> int | None:
    if times is None:
        return None
    if isinstance(times, bool) or not isinstance(times, int) or times < 1:
        raise ConfigError(f"times must be a positive number of answers or None (every "
                          f"time), not {times!r}")
    return times


def _check_seconds(what: str, value: object, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or value < 0 or (positive and value == 0):
        bound = "a positive" if positive else "a non-negative"
        raise ConfigError(f"{what} must be {bound} number, not {value!r}")
    return float(value)


def _header_value(name: str, value: object) -> str:
    text = str(value)
    if not text.isprintable() or not text.isascii():
        raise ConfigError(f"{name} header value {text!r} must be printable ASCII on one line")
    return text


class _Declined(Exception):
    """A body fault met an answer it does not apply to (a 401 challenge, a 304, a 404):
    that answer goes out unchanged and the fault is kept for the next request."""

    def __init__(self, response: Response) -> None:
        super().__init__()
        self.response = response


class Faults:
    """The faults injected into one index (``index.faults``); see the module docstring.

    Thread-safe: handlers are added from the test while the server's threads answer.
    """

    def __init__(self, index: "Index") -> None:
        self._index = index
        self._lock = threading.Lock()
        self._ordered: list[RequestHandler] = []
        self._oneshot = RequestHandlerList()
        self._permanent = RequestHandlerList()
        self._kinds: dict[int, str] = {}  # id(handler) -> fault name for the request log
        self._tls_left = 0
        self._tls_always = False
        #: set by clear(): ends the waits of the latency and trickle faults added before it
        #: (each fault holds the event current when it was added, so a clear() racing with
        #: a request that already took the handler still ends its wait)
        self._released = threading.Event()

    def __repr__(self) -> str:
        with self._lock:
            counts = (len(self._ordered), len(self._oneshot), len(self._permanent))
        return (f"<Faults of {self._index.name}: {counts[0]} ordered, {counts[1]} oneshot, "
                f"{counts[2]} permanent>")

    # -- pytest-httpserver's API --------------------------------------------------------------
    def expect_request(self, uri: FaultPath, *, handler_type: HandlerType = HandlerType.PERMANENT,
                       **kwargs: Unpack[RequestMatcherKwargs]) -> RequestHandler:
        """Register a handler for requests to ``uri`` (below the index's prefix), as
        ``HTTPServer.expect_request``: answer it with ``.respond_with_data(...)``,
        ``.respond_with_json``, ``.respond_with_response`` or ``.respond_with_handler``."""
        if not isinstance(handler_type, HandlerType):
            raise ConfigError(f"handler_type must be a HandlerType, not {handler_type!r}")
        handler = RequestHandler(self._matcher(uri, kwargs))
        self._register(handler, handler_type, "handler")
        return handler

    def expect_oneshot_request(self, uri: FaultPath,
                               **kwargs: Unpack[RequestMatcherKwargs]) -> RequestHandler:
        """A handler used for one matching request, then dropped."""
        return self.expect_request(uri, handler_type=HandlerType.ONESHOT, **kwargs)

    def expect_ordered_request(self, uri: FaultPath,
                               **kwargs: Unpack[RequestMatcherKwargs]) -> RequestHandler:
        """A oneshot handler that must be used in the order registered: only the first
        unused one is tried; a request it does not match goes on to the other handlers
        and the index."""
        return self.expect_request(uri, handler_type=HandlerType.ORDERED, **kwargs)

    def index_answer(self, request: Request) -> Response:
        """The index's own answer to ``request`` (auth rules included), for a handler
        (``respond_with_handler``) that changes it instead of replacing it."""
        answer = request.environ.get(_ANSWER_KEY)
        if answer is None:
            raise ConfigError("index_answer() works inside one of this index's fault "
                              "handlers only, for the request that handler is answering")
        return answer()

    # -- state ------------------------------------------------------------------------------
    @property
    def ordered_handlers(self) -> list[RequestHandler]:
        """Ordered handlers not used yet, in order."""
        with self._lock:
            return list(self._ordered)

    @property
    def oneshot_handlers(self) -> list[RequestHandler]:
        """Oneshot handlers not used yet."""
        with self._lock:
            return list(self._oneshot)

    @property
    def handlers(self) -> list[RequestHandler]:
        """Permanent handlers."""
        with self._lock:
            return list(self._permanent)

    @property
    def tls_failures_left(self) -> int | None:
        """TLS handshakes still to be refused (None: every one)."""
        with self._lock:
            return None if self._tls_always else self._tls_left

    def all_used(self) -> bool:
        """True when every oneshot and ordered handler (and every counted TLS failure) was
        used: a fault that never fired usually means the test did not test it."""
        with self._lock:
            return not self._ordered and not self._oneshot and self._tls_left == 0

    def assert_all_used(self) -> None:
        """Raise AssertionError listing what was never used (see :meth:`all_used`)."""
        with self._lock:
            unused = [self._describe(h, "ordered") for h in self._ordered]
            unused += [self._describe(h, "oneshot") for h in self._oneshot]
            if self._tls_left:
                unused.append(f"{self._tls_left} TLS handshake failure(s)")
        if unused:
            raise AssertionError(f"index {self._index.name!r}: injected faults never used:\n"
                                 + "\n".join(f"    {u}" for u in unused))

    def clear(self) -> None:
        """Remove every fault of this index; latency and trickle faults in flight stop
        waiting (the rest of their answer goes out at once)."""
        with self._lock:
            self._ordered.clear()
            self._oneshot.clear()
            self._permanent.clear()
            self._kinds.clear()
            self._tls_left, self._tls_always = 0, False
            released, self._released = self._released, threading.Event()
        released.set()

    @contextmanager
    def scope(self) -> Iterator["Faults"]:
        """``with index.faults.scope():`` clears every fault of this index when the block
        ends: what a test on a session-scoped index uses, since only a server's stop clears
        faults on its own."""
        try:
            yield self
        finally:
            self.clear()

    # -- ready-made faults --------------------------------------------------------------------
    def status(self, path: FaultPath, status: int, *, times: int | None = None,
               retry_after: int | str | None = None,
               headers: Mapping[str, str] | None = None) -> None:
        """Answer ``status`` (4xx or 5xx) instead of the index, ``times`` times (None:
        always), with ``Retry-After`` (seconds, or an HTTP date) when given."""
        if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599:
            raise ConfigError(f"status must be a 4xx or 5xx code, not {status!r}: other answers "
                              "are set with expect_request(...).respond_with_data(...)")
        extra = {str(k): _header_value(str(k), v) for k, v in (headers or {}).items()}
        if retry_after is not None:
            if isinstance(retry_after, bool) or not isinstance(retry_after, (int, str)) or \
                    (isinstance(retry_after, int) and retry_after < 0):
                raise ConfigError(f"retry_after must be non-negative seconds or an HTTP date, "
                                  f"not {retry_after!r}")
            extra["Retry-After"] = _header_value("Retry-After", retry_after)
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Error"
        message = f"{status} {phrase} (privrepo fault)"
        self._add(path, "status", lambda request: text_response(status, message, extra),
                  times=times)

    def latency(self, path: FaultPath, seconds: float, *, times: int | None = None) -> None:
        """Wait ``seconds`` before the index answers (the whole answer is late)."""
        delay = _check_seconds("seconds", seconds)
        released = self._released  # set by the next clear(), even mid-wait

        def respond(request: Request) -> Response:
            released.wait(delay)
            return self.index_answer(request)

        self._add(path, "latency", respond, times=times)

    def reset(self, path: FaultPath, *, times: int | None = None) -> None:
        """Abort the connection with a TCP reset instead of answering (logged with status
        0: no status line was sent)."""

        def respond(request: Request) -> Response:
            request.environ[CONNECTION_FAULT_KEY] = "reset"
            return Response(b"", 200)  # never sent

        self._add(path, "reset", respond, times=times)

    def truncate(self, path: FaultPath, after_bytes: int, *, times: int | None = None) -> None:
        """Send the index's answer with its full ``Content-Length`` but only its first
        ``after_bytes`` body bytes, then close the connection (GET, 2xx answers only)."""
        if isinstance(after_bytes, bool) or not isinstance(after_bytes, int) or after_bytes < 0:
            raise ConfigError(f"after_bytes must be a non-negative number of bytes, not "
                              f"{after_bytes!r}")

        def respond(request: Request) -> Response:
            response = self._body_answer(request)
            length = response.content_length
            if length is None or after_bytes >= length:
                response.close()
                raise ConfigError(
                    f"truncate({request.path!r}, after_bytes={after_bytes}): the index's answer "
                    f"has {length if length is not None else 'an unknown number of'} bytes, "
                    "so there is nothing to cut")
            request.environ[CONNECTION_FAULT_KEY] = "close"
            return _rebody(response, _cut(response, after_bytes))

        self._add(path, "truncate", respond, times=times, method="GET")

    def trickle(self, path: FaultPath, bytes_per_second: float, *,
                times: int | None = None) -> None:
        """Send the index's answer body at ``bytes_per_second`` (GET, 2xx answers only)."""
        rate = _check_seconds("bytes_per_second", bytes_per_second, positive=True)
        step = max(1, int(rate / _TRICKLE_TICKS))
        released = self._released  # set by the next clear(), even mid-body

        def respond(request: Request) -> Response:
            response = self._body_answer(request)

            def body() -> Iterator[bytes]:
                try:
                    for chunk in response.iter_encoded():
                        for start in range(0, len(chunk), step):
                            piece = chunk[start:start + step]
                            yield piece
                            released.wait(len(piece) / rate)
                finally:
                    response.close()

            return _rebody(response, body())

        self._add(path, "trickle", respond, times=times, method="GET")

    def wrong_sha256(self, project: str, *, times: int | None = None) -> None:
        """The project's page (HTML and JSON, and PyPI's JSON API on the stand-in) gives
        every file a wrong sha256 (:func:`wrong_sha256` of the right one); the files
        themselves are unchanged."""
        canonical = self._served_project(project)
        pages = rf"/simple/{re.escape(canonical)}/"
        if self._index.json_api:  # PyPI's JSON API (Poetry reads it) lists digests too
            pages += rf"|/pypi/{re.escape(canonical)}/(?:[^/]+/)?json/?"

        def respond(request: Request) -> Response:
            response = self._body_answer(request)
            body = response.get_data()
            for stored in self._index.files(canonical):
                body = body.replace(stored.sha256.encode(), wrong_sha256(stored.sha256).encode())
            response.set_data(body)
            return response

        self._add(re.compile(rf"(?:{pages})\Z"), "wrong_sha256", respond, times=times,
                  method="GET")

    def metadata(self, project: str, *, missing: bool = False, wrong: bool = False,
                 times: int | None = None) -> None:
        """The project's wheels' ``.metadata`` files (PEP 658), still advertised on the page,
        are answered 404 (``missing=True``) or served with an extra line,
        :data:`WRONG_METADATA_LINE`, so they no longer match the advertised hash
        (``wrong=True``)."""
        if bool(missing) == bool(wrong):
            raise ConfigError("metadata() takes exactly one of missing=True or wrong=True")
        canonical = self._served_project(project)
        if not any(f.metadata_sha256 for f in self._index.files(canonical)):
            raise ConfigError(f"index {self._index.name!r} advertises no .metadata file for "
                              f"{canonical!r}: only wheels have one")
        pattern = re.compile(re.escape(f"{self._index.files_path}{canonical}/") + r"[^/]+\.metadata\Z")

        def respond(request: Request) -> Response:
            response = self._body_answer(request)
            if missing:
                response.close()
                return text_response(404, "404 Not Found")
            first, _, rest = response.get_data().partition(b"\n")
            response.set_data(first + b"\n" + WRONG_METADATA_LINE + b"\n" + rest)
            return response

        self._add(pattern, "metadata", respond, times=times, method="GET")

    def tls_handshake_failure(self, *, times: int | None = None) -> None:
        """Refuse the next ``times`` TLS handshakes (None: every one) with a
        ``handshake_failure`` alert. A handshake comes before any path, so this holds for
        every index on the same host:port; each refusal is recorded in
        ``index.server.tls_failures``."""
        count = _check_times(times)
        if self._index.tls is None:
            raise ConfigError(f"index {self._index.name!r} serves plain HTTP: there is no TLS "
                              "handshake to fail")
        with self._lock:
            if count is None:
                self._tls_always = True
            else:
                self._tls_left += count

    # -- used by the server ---------------------------------------------------------------
    def answer(self, request: Request, index_answer: Callable[[], Response]) -> Response:
        """The injected answer to ``request``, or ``index_answer()`` when no handler takes it.

        Sets :data:`FAULT_KEY` in the environ to the fault's name before the handler runs,
        so an answer that fails inside a handler is still logged as that fault's.
        """
        request.environ[_ANSWER_KEY] = index_answer
        handler, kind = self._take(request)
        if handler is None:
            return index_answer()
        request.environ[FAULT_KEY] = kind
        try:
            response: Any = handler.respond(request)
        except _Declined as declined:
            request.environ.pop(FAULT_KEY, None)
            request.environ.pop(CONNECTION_FAULT_KEY, None)
            self._give_back(handler, kind)
            return declined.response
        if response is None:  # as HTTPServer.dispatch
            response = Response("")
        elif isinstance(response, str):
            response = Response(response)
        return response

    def take_tls_failure(self) -> bool:
        """Whether the handshake now starting is to be refused (and one fewer is left)."""
        with self._lock:
            if self._tls_always:
                return True
            if self._tls_left > 0:
                self._tls_left -= 1
                return True
            return False

    # -- inside -----------------------------------------------------------------------------
    def _describe(self, handler: RequestHandler, handler_type: str) -> str:
        """One handler for a message: what it matches, with credential headers as
        ``Basic ****`` and the index's secrets hidden (pytest-httpserver's repr shows
        header values and request bodies as given)."""
        matcher = handler.matcher
        secrets = self._index.policy.credentials.secrets
        parts = [f"{handler_type} {self._kinds.get(id(handler), 'handler')}"]
        if matcher.method != METHOD_ALL:
            parts.append(matcher.method)
        parts.append(redact(str(matcher.uri) if isinstance(matcher.uri, str)
                            else repr(matcher.uri), secrets))
        if matcher.query_string is not None:
            parts.append(f"query_string={redact(str(matcher.query_string), secrets)}")
        if matcher.headers:
            shown = {k: redact_header(k, v, secrets) for k, v in matcher.headers.items()}
            parts.append(f"headers={shown}")
        if matcher.data is not None:
            parts.append(f"data=<{len(matcher.data)} bytes>")
        if matcher.json is not UNDEFINED or getattr(matcher, "data_form", None) is not None:  # 1.2.1+
            parts.append("with a body matcher")
        return " ".join(parts)

    def _uri(self, path: FaultPath) -> str | URIPattern:
        from .index import StoredFile  # index.py imports this module

        if isinstance(path, StoredFile):
            if self._index.file(path.project, path.filename) is None:
                raise ConfigError(f"index {self._index.name!r} does not serve {path.filename!r}")
            path = f"{self._index.files_path}{path.project}/{path.filename}"
        if isinstance(path, (Pattern, URIPattern)):
            return _BelowPrefix(self._index.prefix, path)
        served = served_path(self._index, path)
        if served == URI_DEFAULT:
            return _BelowPrefix(self._index.prefix, re.compile(""))
        return self._index.prefix + served

    def _matcher(self, uri: FaultPath, kwargs: Mapping[str, Any]) -> RequestMatcher:
        options = dict(kwargs)
        if "method" in options:
            options["method"] = str(options["method"]).upper()
        try:
            return RequestMatcher(self._uri(uri), **options)
        except ConfigError:
            raise
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"fault on {uri!r}: {exc}") from None

    def _register(self, handler: RequestHandler, handler_type: HandlerType, kind: str) -> None:
        with self._lock:
            self._kinds[id(handler)] = kind
            if handler_type is HandlerType.ORDERED:
                self._ordered.append(handler)
            elif handler_type is HandlerType.ONESHOT:
                self._oneshot.append(handler)
            else:
                self._permanent.append(handler)

    def _add(self, path: FaultPath, kind: str, respond: Callable[[Request], Response], *,
             times: int | None, method: str = METHOD_ALL) -> None:
        """``times`` oneshot handlers (None: one permanent handler) answering with
        ``respond``, each complete before the server can see it."""
        count = _check_times(times)
        matcher = self._matcher(path, {"method": method})
        for _ in range(count or 1):
            handler = RequestHandler(matcher)
            handler.respond_with_handler(respond)
            self._register(handler, HandlerType.PERMANENT if count is None else HandlerType.ONESHOT,
                           kind)

    def _take(self, request: Request) -> tuple[RequestHandler | None, str]:
        """The handler that answers ``request``, removed when it is ordered or oneshot.

        Matched outside the lock (a matcher may read the request body); a handler another
        request took meanwhile is looked for again.
        """
        while True:
            with self._lock:
                if not (self._ordered or self._oneshot or self._permanent):
                    return None, ""
                head = self._ordered[0] if self._ordered else None
                oneshot = RequestHandlerList(self._oneshot)
                permanent = RequestHandlerList(self._permanent)
            if head is not None and head.matcher.match(request):
                with self._lock:
                    if self._ordered and self._ordered[0] is head:
                        self._ordered.pop(0)
                        return head, self._kinds.pop(id(head), "handler")
                continue
            found = oneshot.match(request)
            if found is not None:
                with self._lock:
                    if any(h is found for h in self._oneshot):
                        self._oneshot.remove(found)
                        return found, self._kinds.pop(id(found), "handler")
                continue
            found = permanent.match(request)
            if found is None:
                return None, ""
            with self._lock:
                return found, self._kinds.get(id(found), "handler")

    def _give_back(self, handler: RequestHandler, kind: str) -> None:
        """A declined oneshot handler goes back to the front, to be used by the next match.
        (A declined ordered handler comes from ready-made faults only, which are never
        ordered; a permanent one was never removed.)"""
        with self._lock:
            if any(h is handler for h in self._permanent):
                return
            self._kinds[id(handler)] = kind
            self._oneshot.insert(0, handler)

    def _body_answer(self, request: Request) -> Response:
        """The index's answer when it is a 2xx with a body a body fault can bend; any
        other answer is :class:`_Declined` (goes out as it is, the fault stays)."""
        try:
            response = self.index_answer(request)
        except HTTPException as exc:  # the index's 404 for a file it does not serve
            raise _Declined(exc.get_response(request.environ)) from None
        if not 200 <= response.status_code < 300 or response.status_code == 204:
            raise _Declined(response)
        return response

    def _served_project(self, project: object) -> str:
        if not isinstance(project, str):
            raise ConfigError(f"project must be a project name, not {project!r}")
        try:
            canonical = canonicalize_name(project, validate=True)
        except InvalidName:
            raise ConfigError(f"invalid project name {project!r}") from None
        if canonical not in self._index.projects:
            served = ", ".join(self._index.projects) or "nothing yet"
            raise ConfigError(f"index {self._index.name!r} serves no project {project!r} "
                              f"(it serves: {served}): add it before injecting a fault into "
                              "its page")
        return canonical


def _cut(response: Response, limit: int) -> Iterator[bytes]:
    """The first ``limit`` bytes of ``response``'s body; the response is closed after."""
    try:
        left = limit
        for chunk in response.iter_encoded():
            if left <= 0:
                break
            piece = chunk[:left]
            left -= len(piece)
            yield piece
    finally:
        response.close()


def _rebody(response: Response, body: Iterator[bytes]) -> Response:
    """``response``'s status and headers (its Content-Length too) with another body."""
    return Response(body, status=response.status, headers=list(response.headers.items()),
                    direct_passthrough=True)


_CREATE = threading.Lock()


class FaultInjection:
    """What :class:`~pytest_privrepo.index.index.Index` inherits from this module:
    ``index.faults`` and pytest-httpserver's three ``expect_*`` methods on the index."""

    @property
    def faults(self) -> Faults:
        """The faults injected into this index (created on first use)."""
        faults = self.__dict__.get("_fault_injection")
        if faults is None:
            with _CREATE:
                faults = self.__dict__.get("_fault_injection")
                if faults is None:
                    faults = self.__dict__["_fault_injection"] = Faults(self)  # type: ignore[arg-type]
        return faults

    def expect_request(self, uri: FaultPath, *, handler_type: HandlerType = HandlerType.PERMANENT,
                       **kwargs: Unpack[RequestMatcherKwargs]) -> RequestHandler:
        """:meth:`Faults.expect_request` (pytest-httpserver's, below this index's prefix)."""
        return self.faults.expect_request(uri, handler_type=handler_type, **kwargs)

    def expect_oneshot_request(self, uri: FaultPath,
                               **kwargs: Unpack[RequestMatcherKwargs]) -> RequestHandler:
        """:meth:`Faults.expect_oneshot_request`."""
        return self.faults.expect_oneshot_request(uri, **kwargs)

    def expect_ordered_request(self, uri: FaultPath,
                               **kwargs: Unpack[RequestMatcherKwargs]) -> RequestHandler:
        """:meth:`Faults.expect_ordered_request`."""
        return self.faults.expect_ordered_request(uri, **kwargs)
