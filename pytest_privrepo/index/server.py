"""The HTTP(S) server that hosts one or more indexes on a loopback port.

Built on pytest-httpserver's :class:`HTTPServerBase` (lifecycle, URLs, errors re-raised in
the test) and werkzeug's threaded WSGI server (HTTP/1.1 keep-alive), extended where an index
harness needs more than either gives:

- the port is bound here, so a busy port raises :class:`ConfigError` in the test instead of
  werkzeug printing to stderr and calling ``sys.exit``;
- the TLS handshake runs in the connection's own thread, not the accept loop, so a client
  that stalls or fails its handshake cannot block other clients, and every failed handshake
  is recorded (:attr:`IndexServer.tls_failures`) for negative tests;
- the peer certificate of each request is read from the socket and logged;
- ``stop()`` wakes the accept loop at once and closes idle keep-alive connections, so no
  thread or socket outlives the fixture;
- each index's injected faults (:mod:`.faults`) answer before the index does, and a TLS
  handshake a fault refuses gets a real ``handshake_failure`` alert; ``stop()`` clears them.
"""

from __future__ import annotations

import dataclasses
import errno
import ipaddress
import selectors
import socket
import ssl
import threading
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from pytest_httpserver.httpserver import HTTPServerBase
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.serving import ThreadedWSGIServer
from werkzeug.wrappers import Request, Response

from ..errors import ConfigError, ServerError
from ..tls.ca import peer_subject
from .auth import AuthDecision
from .faults import fault_of
from .handler import (
    CONNECTION_FAULT_KEY,
    CONNECTION_TIMEOUT,
    PEER_CERT_KEY,
    PROTOCOL_ERROR_KEY,
    KeepAliveHandler,
)
from .index import Index
from .log import Hit, RequestLog
from .origin import Origin, format_host
from .responses import text_response

__all__ = ["IndexServer", "TLSFailure"]

#: A TLS alert record: fatal (2), handshake_failure (40), as a TLS 1.2+ server sends when it
#: shares no cipher or version with the client (RFC 8446 section 6.2).
HANDSHAKE_FAILURE_ALERT = bytes([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28])


@dataclass(frozen=True)
class TLSFailure:
    """A TLS handshake the server refused or that broke off."""

    client: str
    reason: str


class _WSGIServer(ThreadedWSGIServer):
    """Threaded werkzeug server with deferred handshakes and tracked connections."""

    def __init__(self, sock: socket.socket, app: Callable, tls_context: ssl.SSLContext | None,
                 on_tls_failure: Callable[[TLSFailure], None],
                 on_error: Callable[[Exception], None],
                 handshake_fault: Callable[[], str | None]) -> None:
        host, port = sock.getsockname()[:2]
        super().__init__(host, port, app, handler=KeepAliveHandler, fd=sock.fileno())
        sock.close()  # werkzeug dup()ed it
        # accept() only after the selector reported a connection; one that the client
        # reset in between is gone from the queue, and a blocking accept() would then wait
        # for the next client, deaf to wake() (stop() would hang for its join timeout).
        self.socket.setblocking(False)
        # werkzeug reads ssl_context to decide the URL scheme; wrapping happens per connection.
        self.ssl_context = tls_context
        self._tls = tls_context
        self._on_tls_failure = on_tls_failure
        self._on_error = on_error
        self._handshake_fault = handshake_fault
        self._conns: dict[socket.socket, threading.Thread] = {}
        self._conn_lock = threading.Lock()
        self._stop = False
        self._wake_r, self._wake_w = socket.socketpair()

    def get_request(self) -> tuple[socket.socket, Any]:
        conn, addr = self.socket.accept()  # BlockingIOError (an OSError): nothing to accept
        conn.setblocking(True)  # the handler sets its own timeouts
        # A small answer leaves in one write, but a chunked body's last chunk and a file's
        # later blocks are separate writes; with Nagle's algorithm each would wait for the
        # client's delayed ACK (~40 ms per keep-alive request, bench/README.md).
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self._tls is not None:
            conn = self._tls.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
        return conn, addr

    def process_request(self, request: socket.socket, client_address: Any) -> None:  # type: ignore[override]
        thread = threading.Thread(
            target=self.process_request_thread, args=(request, client_address),
            name=f"privrepo-conn-{self.port}", daemon=True,
        )
        with self._conn_lock:
            self._conns[request] = thread
        thread.start()

    def finish_request(self, request: socket.socket, client_address: Any) -> None:  # type: ignore[override]
        if isinstance(request, ssl.SSLSocket):
            request.settimeout(CONNECTION_TIMEOUT)
            fault = self._handshake_fault()
            if fault is not None:
                _refuse_handshake(request)
                self._on_tls_failure(TLSFailure(str(client_address[0]), fault))
                return
            try:
                request.do_handshake()
            except (ssl.SSLError, OSError) as exc:
                if not self._stop:
                    self._on_tls_failure(TLSFailure(str(client_address[0]), _reason(exc)))
                return
        super().finish_request(request, client_address)

    def shutdown_request(self, request: socket.socket) -> None:  # type: ignore[override]
        with self._conn_lock:
            self._conns.pop(request, None)
        super().shutdown_request(request)

    def log(self, type: str, message: str, *args: Any) -> None:
        """Silent: werkzeug prints e.g. "Cannot fetch SSL peer certificate info" to stderr
        for a TLS connection that closes mid-request; the request log and
        :attr:`IndexServer.tls_failures` are where such events are recorded."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = _current_exception()
        if not isinstance(exc, Exception) or isinstance(
                exc, (ConnectionError, TimeoutError, ssl.SSLError)):
            return
        if not self._stop:
            self._on_error(exc)

    def serve_until_stopped(self) -> None:
        """The accept loop; :meth:`wake` ends it at once (no 0.5 s polling)."""
        try:
            with selectors.DefaultSelector() as sel:
                sel.register(self.socket, selectors.EVENT_READ)
                sel.register(self._wake_r, selectors.EVENT_READ)
                while not self._stop:
                    for key, _ in sel.select():
                        if self._stop:
                            break
                        if key.fileobj is self.socket:
                            self._accept_one()
        finally:
            self.server_close()

    def _accept_one(self) -> None:
        """socketserver's ``_handle_request_noblock``, from its public steps: accept the
        connection the selector reported and hand it to a thread."""
        try:
            request, client_address = self.get_request()
        except OSError:
            return
        try:
            self.process_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
            self.shutdown_request(request)
        except BaseException:
            self.shutdown_request(request)
            raise

    def wake(self) -> None:
        self._stop = True
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass

    def open_connections(self) -> list[socket.socket]:
        """The client connections whose threads are running now."""
        with self._conn_lock:
            return list(self._conns)

    def close_connections(self, timeout: float = 5.0) -> list[threading.Thread]:
        """Close every open client connection and wait for its thread; return stragglers."""
        with self._conn_lock:
            items = list(self._conns.items())
        for conn, _ in items:
            try:
                socket.socket.shutdown(conn, socket.SHUT_RDWR)
            except OSError:
                pass
        stragglers = []
        for _, thread in items:
            thread.join(timeout)
            if thread.is_alive():
                stragglers.append(thread)
        self._wake_r.close()
        self._wake_w.close()
        return stragglers


def _reason(exc: BaseException) -> str:
    verify = getattr(exc, "verify_message", None)
    if isinstance(exc, ssl.SSLError) and exc.reason:
        return f"{exc.reason}: {verify}" if verify else str(exc.reason)
    return f"{type(exc).__name__}: {exc}"


def _refuse_handshake(conn: socket.socket) -> None:
    """Read the client's first TLS record (its ClientHello) and answer it with a fatal
    ``handshake_failure`` alert, on the raw socket under the not yet started TLS layer:
    what a client meets at a server whose TLS settings it cannot agree with."""
    try:
        head = b""
        while len(head) < 5:
            data = socket.socket.recv(conn, 5 - len(head))
            if not data:
                return
            head += data
        left = min(int.from_bytes(head[3:5], "big"), 1 << 14)
        while left > 0:
            data = socket.socket.recv(conn, left)
            if not data:
                return
            left -= len(data)
        socket.socket.sendall(conn, HANDSHAKE_FAILURE_ALERT)
    except OSError:
        pass


def _safe_authorization(request: Request) -> None:
    """Parse the Authorization header once, so later reads cannot raise.

    werkzeug 3.1's ``Authorization.from_header`` turns bad base64 into None but raises
    ValueError for non-ASCII in a Basic credential (found by tests/test_fuzz.py); that is
    the same client mistake, so it gets the same answer: no usable credentials.
    """
    try:
        request.authorization
    except ValueError:
        request.authorization = None  # werkzeug's cached_property accepts a value


def _current_exception() -> BaseException | None:
    import sys

    return sys.exc_info()[1]


def bind_socket(host: str, port: int) -> socket.socket:
    """Bind and listen on host:port; a busy port or non-loopback host is a ConfigError."""
    try:
        addr = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        if host != "localhost":
            raise ConfigError(
                f"host {host!r} is not a loopback address: use 127.0.0.1, ::1 or localhost"
            ) from None
        addr = ipaddress.ip_address("127.0.0.1")
        host = "127.0.0.1"
    if not addr.is_loopback:
        raise ConfigError(f"host {host!r} is not a loopback address: indexes only listen on loopback")
    if not isinstance(port, int) or not 0 <= port <= 65535:
        raise ConfigError(f"invalid port {port!r}")
    family = socket.AF_INET6 if addr.version == 6 else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((str(addr), port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(f"port {port} on {addr} is already in use") from None
        raise ConfigError(f"cannot listen on {addr}:{port}: {exc.strerror or exc}") from None
    return sock


class IndexServer(HTTPServerBase):
    """One listening socket serving any number of :class:`Index` objects by path prefix.

    :attr:`log` is a :class:`RequestLog` (every request, matched by an index or not), not
    the base class's list of ``(request, response)`` pairs; :meth:`clear` empties it in
    place, since the CLI's printer and tests hold a reference to it.
    """

    # HTTPServerBase declares a list of (Request, Response); this server records Hits.
    log: RequestLog  # type: ignore[assignment]

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *,
                 ssl_context: ssl.SSLContext | None = None, tls: str | None = None,
                 public: tuple[str, int] | None = None,
                 on_hit: Callable[[Request, Hit], None] | None = None,
                 on_tls_failure: Callable[[TLSFailure], None] | None = None) -> None:
        super().__init__(host, port, ssl_context, threaded=True)
        self.tls = tls
        #: the declared ``(name, port)`` this server answers at through the gateway, None
        #: for a server reached at its own loopback address; the indexes' URLs use it
        self.public = public
        #: called with every request and its record (the gateway's egress log)
        self.on_hit = on_hit
        #: called with every failed handshake (the gateway's egress log)
        self.on_tls_failure = on_tls_failure
        self.log = RequestLog()
        #: handshakes the server refused or that broke off (negative TLS tests)
        self.tls_failures: list[TLSFailure] = []
        self._tls_failed = threading.Condition()
        self._mounts: list[tuple[str, Index]] = []
        self._mount_lock = threading.Lock()
        self._wsgi: _WSGIServer | None = None

    # -- mounting -----------------------------------------------------------------------
    def mount(self, index: Index) -> None:
        """Serve ``index`` under its prefix and bind its :class:`Origin` into it.

        The server must be listening: with port 0 only then is the port known, and an
        index's URLs are fixed from the moment it is mounted.
        """
        if not self.is_running():
            raise ServerError(f"mount index {index.name!r} on a started server")
        with self._mount_lock:
            for prefix, other in self._mounts:
                if prefix == index.prefix:
                    where = self.public or (self.host, self.port)
                    raise ConfigError(
                        f"index {index.name!r} cannot share {format_host(where[0])}:{where[1]}"
                        f" with {other.name!r} under the same path prefix {prefix or '/'!r}"
                    )
            scheme: Literal["http", "https"] = "http" if self.ssl_context is None else "https"
            host, port = self.public or (self.host, self.port)
            index.bind(self, Origin(scheme, host, port, index.prefix), self.tls)
            self._mounts.append((index.prefix, index))
            self._mounts.sort(key=lambda m: len(m[0]), reverse=True)

    @property
    def indexes(self) -> list[Index]:
        with self._mount_lock:
            return [i for _, i in self._mounts]

    def _route(self, path: str) -> tuple[Index, str] | None:
        with self._mount_lock:
            mounts = list(self._mounts)
        for prefix, index in mounts:
            if not prefix:
                return index, path
            if path == prefix or path.startswith(prefix + "/"):
                return index, path[len(prefix):] or "/"
        return None

    # -- lifecycle ----------------------------------------------------------------------
    def start(self) -> None:
        if self.is_running():
            raise ServerError("server is already running")
        sock = bind_socket(self.host, self.port)
        self.host = sock.getsockname()[0]
        try:
            self._wsgi = _WSGIServer(sock, self._wsgi_app, self.ssl_context,
                                     self._record_tls_failure, self._record_handler_error,
                                     self._handshake_fault)
        except BaseException:
            sock.close()
            raise
        self.server = self._wsgi
        self.port = self._wsgi.port
        self.server_thread = threading.Thread(
            target=self._wsgi.serve_until_stopped, name=f"privrepo-server-{self.port}", daemon=True
        )
        self.server_thread.start()

    def stop(self) -> None:
        """Stop accepting, close open connections, join every thread. Idempotent."""
        if self._wsgi is None:
            return
        for index in self.indexes:  # first: ends latency and trickle waits in flight
            index.faults.clear()
        wsgi, thread = self._wsgi, self.server_thread
        wsgi.wake()
        if thread is not None:
            thread.join(10)
        stragglers = wsgi.close_connections()
        self._wsgi = None
        self.server = None
        self.server_thread = None
        if stragglers:
            raise ServerError(f"{len(stragglers)} connection thread(s) did not stop")

    def clear(self) -> None:
        """Empty the request log, the handler errors and :attr:`tls_failures`, in place.

        HTTPServerBase's ``clear()`` assigns fresh lists: the log would stop being a
        :class:`RequestLog`, and whoever holds the old objects would stop seeing anything.
        """
        super().clear()
        with self._tls_failed:
            self.tls_failures.clear()

    def clear_log(self) -> None:
        self.log.clear()

    def clear_handler_errors(self) -> None:
        self.handler_errors.clear()

    def _record_handler_error(self, exc: Exception) -> None:
        self.handler_errors.append(exc)

    def open_connections(self) -> list[socket.socket]:
        """The client connections open now (keep-alive ones included); [] when stopped."""
        return self._wsgi.open_connections() if self._wsgi is not None else []

    def _handshake_fault(self) -> str | None:
        """The reason for refusing the handshake now starting, when a fault of one of the
        indexes here asks for it (one refusal is used up), else None."""
        for index in self.indexes:
            if index.faults.take_tls_failure():
                return f"privrepo fault: tls_handshake_failure (index {index.name!r})"
        return None

    def _record_tls_failure(self, failure: TLSFailure) -> None:
        if self.on_tls_failure is not None:  # first: a test reads the log once its client failed
            try:
                self.on_tls_failure(failure)
            except Exception as exc:
                self._record_handler_error(exc)
        with self._tls_failed:
            self.tls_failures.append(failure)
            self._tls_failed.notify_all()

    def wait_for_tls_failure(self, count: int = 1, timeout: float = 5.0) -> TLSFailure:
        """Wait until ``count`` handshakes failed; return the last. The client may see its
        error before the server thread has recorded it, so tests wait on this, not on a clock."""
        with self._tls_failed:
            if not self._tls_failed.wait_for(lambda: len(self.tls_failures) >= count, timeout):
                raise AssertionError(
                    f"expected {count} failed TLS handshake(s) within {timeout}s, "
                    f"saw {len(self.tls_failures)}"
                )
            return self.tls_failures[-1]

    def check(self) -> None:
        """Raise the first error a request handler hit, as a ServerError with its traceback."""
        if self.handler_errors:
            exc = self.handler_errors.pop(0)
            text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            raise ServerError(f"an index request failed inside the server:\n{text}") from exc

    # -- requests -------------------------------------------------------------------------
    def dispatch(self, request: Request) -> Response:  # pragma: no cover - see _wsgi_app
        raise NotImplementedError

    def _wsgi_app(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        request = Request(environ)
        _safe_authorization(request)
        index, rest = self._route(request.path) or (None, "")
        decision = AuthDecision(None, None, None)
        protocol_error = environ.get(PROTOCOL_ERROR_KEY)
        try:
            if protocol_error is not None:  # refused by the handler, answered and logged here
                status, message = protocol_error
                response = text_response(status, message)
            elif index is not None:
                decision = index.policy.decide(request.authorization)
                response = index.faults.answer(
                    request, lambda: index.handle(request, rest, decision))
            else:
                raise NotFound()
        except HTTPException as exc:
            response = exc.get_response(environ)
        except Exception as exc:  # surfaced in the test by check()
            self._record_handler_error(exc)
            trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            response = text_response(
                500, "privrepo: internal error, see the test report\n" + trace.rstrip("\n"))
        reset = environ.get(CONNECTION_FAULT_KEY) == "reset"
        hit = Hit.from_request(
            request,
            status=0 if reset else response.status_code,  # a reset sends no status line
            decision=decision,
            credentials=index.policy.credentials if index is not None else None,
            client_cert=peer_subject(environ.get(PEER_CERT_KEY)),
            index=index.name if index else None,
        )
        fault = fault_of(request)
        if fault is not None:
            hit = dataclasses.replace(hit, fault=fault)
        self.log.append(hit)
        if index is not None:
            index.log.append(hit)
        if self.on_hit is not None:
            try:
                self.on_hit(request, hit)
            except Exception as exc:  # surfaced by check(); the client still gets its answer
                self._record_handler_error(exc)
        return response(environ, start_response)
