"""werkzeug's request handler, extended for an index: keep-alive, peer certificates, quiet.

werkzeug's development server closes every connection after one response. Package clients
keep connections open (pip, uv, Poetry all pool them), and over TLS a new connection per
request means a new handshake per request: the harness would measure the handshake, not the
index. :meth:`_Handler.run_wsgi` keeps HTTP/1.1 connections open when the response has a
known length (or is chunked), and drains whatever request body the application left unread
so the next request on the connection starts at its request line.
"""

from __future__ import annotations

import io
from typing import Any

from werkzeug.serving import WSGIRequestHandler

__all__ = ["PEER_CERT_KEY", "KeepAliveHandler", "CONNECTION_TIMEOUT"]

#: environ key holding the DER certificate the client presented (or None)
PEER_CERT_KEY = "privrepo.peer_cert_der"

#: Seconds an idle keep-alive connection or a stalled handshake may hold a thread.
CONNECTION_TIMEOUT = 30.0

#: Unread request bodies up to this size are drained to keep the connection; beyond, it closes.
_MAX_DRAIN = 1 << 30


class _CountingInput(io.RawIOBase):
    """Wraps the request body stream and counts what the application consumed."""

    def __init__(self, stream: Any, length: int | None) -> None:
        self._stream = stream
        self.length = length  # None: chunked / unknown, read to EOF
        self.consumed = 0
        self.eof = False

    def readable(self) -> bool:
        return True

    def _cap(self, size: int) -> int:
        if self.length is None:
            return size
        left = self.length - self.consumed
        return left if size < 0 or size > left else size

    def read(self, size: int = -1) -> bytes:  # type: ignore[override]
        size = self._cap(size)
        if size == 0:
            return b""
        data = self._stream.read(size) if size > 0 else self._stream.read()
        self.consumed += len(data)
        if not data:
            self.eof = True
        return data

    def readinto(self, buffer: Any) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def readline(self, size: int = -1) -> bytes:  # type: ignore[override]
        size = self._cap(size)
        if size == 0:
            return b""
        data = self._stream.readline(size) if size > 0 else self._stream.readline()
        self.consumed += len(data)
        return data

    def drain(self) -> bool:
        """Discard the unread rest of the body; False if it is too big (close instead)."""
        if self.length is not None and self.length - self.consumed > _MAX_DRAIN:
            return False
        total = 0
        while not self.eof:
            chunk = self.read(1 << 16)
            if not chunk:
                break
            total += len(chunk)
            if total > _MAX_DRAIN:
                return False
        return True


class KeepAliveHandler(WSGIRequestHandler):
    """Handler with HTTP/1.1 keep-alive, the peer certificate in environ, and no stderr."""

    protocol_version = "HTTP/1.1"
    timeout = CONNECTION_TIMEOUT

    def make_environ(self) -> dict[str, Any]:
        environ = super().make_environ()
        getpeercert = getattr(self.connection, "getpeercert", None)
        if getpeercert is not None:
            try:
                environ[PEER_CERT_KEY] = getpeercert(binary_form=True)
            except ValueError:
                environ[PEER_CERT_KEY] = None
        length: int | None
        if environ.get("wsgi.input_terminated"):
            length = None
        else:
            try:
                length = max(int(environ.get("CONTENT_LENGTH") or 0), 0)
            except ValueError:
                length = 0
                self.close_connection = True
        environ["wsgi.input"] = _CountingInput(environ["wsgi.input"], length)
        return environ

    def run_wsgi(self) -> None:
        if self.headers.get("Expect", "").lower().strip() == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        environ = self.environ = self.make_environ()
        status_headers: list[Any] = []
        sent = False
        chunked = False

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None):  # type: ignore[no-untyped-def]
            if exc_info is not None and sent:
                raise exc_info[1].with_traceback(exc_info[2])
            status_headers[:] = [status, headers]
            return write

        def send_head() -> None:
            nonlocal sent, chunked
            status, headers = status_headers
            code_str, _, reason = status.partition(" ")
            code = int(code_str)
            self.send_response(code, reason)
            keys = set()
            for key, value in headers:
                if key.lower() in ("date", "server"):  # send_response() wrote them
                    continue
                self.send_header(key, value)
                keys.add(key.lower())
            if (
                "content-length" not in keys
                and environ["REQUEST_METHOD"] != "HEAD"
                and not (100 <= code < 200 or code in (204, 304))
            ):
                chunked = True
                self.send_header("Transfer-Encoding", "chunked")
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            sent = True

        def write(data: bytes) -> None:
            if not sent:
                send_head()
            if data and environ["REQUEST_METHOD"] != "HEAD":
                if chunked:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                else:
                    self.wfile.write(data)

        body: _CountingInput = environ["wsgi.input"]
        try:
            app_iter = self.server.app(environ, start_response)
            try:
                for data in app_iter:
                    write(data)
                if not sent:
                    write(b"")
                if chunked:
                    self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
            finally:
                close = getattr(app_iter, "close", None)
                if close is not None:
                    close()
            if not self.close_connection and not body.drain():
                self.close_connection = True
        except (ConnectionError, TimeoutError, OSError):
            self.close_connection = True
        except Exception:
            self.close_connection = True
            if not sent:
                try:
                    self.send_error(500)
                except OSError:
                    pass
            self.server.handle_error(self.request, self.client_address)  # type: ignore[attr-defined]

    def handle(self) -> None:
        try:
            super().handle()
        except (ConnectionError, TimeoutError, OSError):
            pass

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass

    def log_error(self, *args: Any) -> None:
        pass

    def log_message(self, *args: Any) -> None:
        pass

