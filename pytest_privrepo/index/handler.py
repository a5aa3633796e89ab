"""werkzeug's request handler, extended for an index: keep-alive, strict framing, quiet.

werkzeug's development server closes every connection after one response. Package clients
keep connections open (pip, uv, Poetry all pool them), and over TLS a new connection per
request means a new handshake per request: the harness would measure the handshake, not the
index. :meth:`KeepAliveHandler.run_wsgi` keeps HTTP/1.1 connections open when the response
has a known length (or is chunked), and drains whatever request body the application left
unread so the next request on the connection starts at its request line.

Keeping connections open makes request framing matter (RFC 9112 section 6): a body whose
length is ambiguous would let one request's bytes be read as the next request. So the
handler decides the framing itself instead of werkzeug's development-server code:

- ``Transfer-Encoding`` other than exactly ``chunked``, ``Transfer-Encoding`` together with
  ``Content-Length``, or a ``Content-Length`` that is not one non-negative number: 400 and
  the connection is closed;
- chunked bodies are decoded by :class:`_ChunkedInput`, which bounds the chunk-size and
  trailer lines and answers a malformed one with 400 (werkzeug's ``DechunkedInput`` raises a
  plain ``OSError``, which became a 500 and a ``ServerError`` at teardown);
- a request line or header block cut off by end of stream (the client went away, or the
  fixture closed the connection) is not a request: nothing is answered or logged. HTTP/0.9
  requests (no version) and versions other than 1.0/1.1 get 400.

Every error the handler finds before the application runs is still answered and logged by
the application: the handler puts ``(status, message)`` under :data:`PROTOCOL_ERROR_KEY` in
the environ, and the server's WSGI app answers it like any other request, so the request log
is the one place where every answer appears.

Speed matters as well (issue 15: uv sends 2,000 requests to resolve 1,000 packages), so
the request line and headers are parsed here too (:meth:`KeepAliveHandler.parse_request`,
the stdlib's steps and messages, with plain ``name: value`` lines read without the email
parser; any other header block still goes to it), and an answer's head leaves in the same
write as its body.

The other way round, an injected fault (:mod:`pytest_privrepo.index.faults`) that is about
the connection, not the answer, asks the handler for it under :data:`CONNECTION_FAULT_KEY`:
``"reset"`` aborts the connection with a TCP RST instead of answering, ``"close"`` closes it
once the (cut) body is written, whatever its ``Content-Length`` promised.
"""

from __future__ import annotations

import email.parser
import email.utils
import functools
import http.client
import io
import re
import socket
import struct
import sys
import time
from typing import Any, Callable
from urllib.parse import unquote_to_bytes, urlsplit

from werkzeug.exceptions import BadRequest, ClientDisconnected
from werkzeug.serving import WSGIRequestHandler

__all__ = [
    "CONNECTION_FAULT_KEY",
    "CONNECTION_TIMEOUT",
    "MAX_CHUNK_LINE",
    "MAX_HEADERS",
    "MAX_HEADER_LINE",
    "MAX_TRAILER_SIZE",
    "PEER_CERT_KEY",
    "PROTOCOL_ERROR_KEY",
    "KeepAliveHandler",
]

#: environ key holding the DER certificate the client presented (or None)
PEER_CERT_KEY = "privrepo.peer_cert_der"

#: environ key holding ``(status, message)`` for a request the handler refused before the
#: application ran (bad request line, bad framing); the application answers and logs it.
PROTOCOL_ERROR_KEY = "privrepo.protocol_error"

#: environ key an injected fault sets to ``"reset"`` (RST instead of an answer) or
#: ``"close"`` (close the connection after the answer's body, however short it is)
CONNECTION_FAULT_KEY = "privrepo.connection_fault"

#: Seconds an idle keep-alive connection, a stalled handshake or a stalled read (request
#: line, header, body chunk) may hold a thread.
CONNECTION_TIMEOUT = 30.0

#: Longest request line or header line (the stdlib's http.client limit); beyond: 414/431.
MAX_HEADER_LINE = 65536

#: Longest chunk-size line of a chunked body, with its chunk extensions.
MAX_CHUNK_LINE = 4096

#: Largest trailer section after the last chunk of a chunked body.
MAX_TRAILER_SIZE = 16 * 1024

#: Unread request bodies up to this size are drained to keep the connection; beyond, it closes.
_MAX_DRAIN = 1 << 30

_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")
#: A header line the email parser would read as exactly ``name: value``: a token, a colon,
#: no CR or LF inside (the email parser splits lines there), no continuation line.
_PLAIN_HEADER = re.compile(rb"([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*([^\r\n]*)\r?\n")
#: ``http.client.parse_headers``'s ``_MAXHEADERS``: the header lines and the empty line
#: that ends them may be this many, so at most 99 header lines are taken.
MAX_HEADERS = 100
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}")


class _BadFraming(BadRequest):
    """The body does not follow its declared framing; the connection cannot be reused."""


class _ChunkedInput(io.RawIOBase):
    """A ``Transfer-Encoding: chunked`` body (RFC 9112 section 7.1), strictly decoded."""

    def __init__(self, rfile: Any) -> None:
        self._rfile = rfile
        self._left = 0
        self._done = False

    def readable(self) -> bool:
        return True

    def _line(self, what: str, limit: int) -> bytes:
        line = self._rfile.readline(limit + 1)
        if not line.endswith(b"\n"):
            if len(line) > limit:
                raise _BadFraming(f"chunked body: {what} is longer than {limit} bytes")
            raise _BadFraming(f"chunked body: the body ended inside the {what}")
        return line

    def _next_chunk(self) -> None:
        line = self._line("chunk-size line", MAX_CHUNK_LINE)
        size = line.split(b";", 1)[0].strip(b" \t\r\n")
        if not _CHUNK_SIZE.fullmatch(size):
            raise _BadFraming(f"chunked body: invalid chunk size {size[:20]!r}")
        self._left = int(size, 16)
        if self._left == 0:
            total = 0
            while True:  # trailer section, ends with an empty line
                trailer = self._line("trailer section", MAX_TRAILER_SIZE)
                if trailer in (b"\r\n", b"\n"):
                    break
                total += len(trailer)
                if total > MAX_TRAILER_SIZE:
                    raise _BadFraming(
                        f"chunked body: trailer section is longer than {MAX_TRAILER_SIZE} bytes"
                    )
            self._done = True

    def readinto(self, buffer: Any) -> int:  # type: ignore[override]
        if self._done or not len(buffer):
            return 0
        if self._left == 0:
            self._next_chunk()
            if self._done:
                return 0
        data = self._rfile.read(min(len(buffer), self._left))
        if not data:
            raise _BadFraming("chunked body: the body ended inside a chunk")
        buffer[: len(data)] = data
        self._left -= len(data)
        if self._left == 0 and self._rfile.readline(3) not in (b"\r\n", b"\n"):
            raise _BadFraming("chunked body: chunk data is not followed by CRLF")
        return len(data)


class _CountingInput(io.RawIOBase):
    """The request body as the application sees it: bounded, counted, failing as a 400.

    A read that fails at the socket (reset, timeout, TLS EOF) raises
    :class:`~werkzeug.exceptions.ClientDisconnected`, a 400: the client caused it, and the
    server must neither crash nor count it as its own error. ``100 Continue`` is sent on the
    first read only, so a request refused from its headers (401, 413) never invites the body.
    """

    def __init__(self, stream: Any, length: int | None,
                 on_first_read: Callable[[], None] | None = None) -> None:
        self._stream = stream
        self.length = length  # None: chunked, read to its end
        self.consumed = 0
        self.eof = False
        #: the framing broke or the socket failed: the connection must close
        self.broken = False
        self._on_first_read = on_first_read

    def readable(self) -> bool:
        return True

    def _cap(self, size: int) -> int:
        if self.length is None:
            return size
        left = self.length - self.consumed
        return left if size < 0 or size > left else size

    def _call(self, method: Callable[..., bytes], size: int) -> bytes:
        if self._on_first_read is not None:
            callback, self._on_first_read = self._on_first_read, None
            try:
                callback()
            except OSError:
                self.broken = True
                raise ClientDisconnected() from None
        try:
            data = method(size) if size > 0 else method()
        except BadRequest:
            self.broken = True
            raise
        except (OSError, ValueError):  # reset, timeout, TLS errors; ValueError: closed file
            self.broken = True
            raise ClientDisconnected() from None
        self.consumed += len(data)
        if not data:
            self.eof = True
        return data

    def read(self, size: int = -1) -> bytes:  # type: ignore[override]
        size = self._cap(size)
        if size == 0:
            return b""
        return self._call(self._stream.read, size)

    def readinto(self, buffer: Any) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def readline(self, size: int = -1) -> bytes:  # type: ignore[override]
        size = self._cap(size)
        if size == 0:
            return b""
        return self._call(self._stream.readline, size)

    @property
    def unsent(self) -> bool:
        """``Expect: 100-continue`` and answered without reading: the client may never send
        the body (RFC 9110 section 10.1.1), and a late 100 would follow the answer, so the
        connection closes instead of being drained."""
        return self._on_first_read is not None and (self.length is None or self.length > self.consumed)

    def drain(self) -> bool:
        """Discard the unread rest of the body; False if the connection must close instead."""
        if self.broken:
            return False
        if self.unsent:
            return False
        if self.length is not None and self.length - self.consumed > _MAX_DRAIN:
            return False
        total = 0
        try:
            while not self.eof:
                chunk = self.read(1 << 16)
                if not chunk:
                    break
                total += len(chunk)
                if total > _MAX_DRAIN:
                    return False
        except BadRequest:
            return False
        if self.length is not None and self.consumed < self.length:
            return False  # ended early: the client is gone
        return True


class _DeadlineIO(io.RawIOBase):
    """The connection's reads, with a deadline for the request line and headers.

    A socket timeout bounds one read; a client that sends one header byte every 29 s
    would keep its thread forever. While ``deadline`` is set every read waits only for what
    is left of it; for the body (``deadline`` None) each read may wait ``idle`` seconds.
    """

    def __init__(self, sock: Any, idle: float) -> None:
        self._sock = sock
        self.idle = idle
        self.deadline: float | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:  # type: ignore[override]
        wait = self.idle
        if self.deadline is not None:
            wait = min(wait, self.deadline - time.monotonic())
            if wait <= 0:
                raise TimeoutError("request head not received in time")
        self._sock.settimeout(wait)
        return self._sock.recv_into(buffer)


def _http_version(word: str) -> tuple[int, int] | None:
    """``HTTP/<major>.<minor>`` as two numbers (RFC 2145 section 3.1), or None."""
    if not word.startswith("HTTP/"):
        return None
    parts = word[5:].split(".")
    # isascii: "¹" (Latin-1 0xB9) is a digit to isdigit() but not to int()
    if len(parts) != 2 or not all(p.isascii() and p.isdigit() and len(p) <= 10 for p in parts):
        return None
    return int(parts[0]), int(parts[1])


def parse_header_lines(lines: list[bytes],
                       message_class: type[http.client.HTTPMessage]) -> http.client.HTTPMessage:
    """The header block read by ``http.client.parse_headers``, as it would parse it.

    That function hands the block to the email parser, which was a fifth of the server's
    work per request (bench/README.md, issue 15). A block of plain ``name: value`` lines
    (what every client sends) is built here with the value the parser's compat32 policy
    gives (leading blanks dropped, trailing kept); anything else (a continuation line, a
    line without a colon, a CR inside) still goes to the email parser, so the answer to odd
    input is the stdlib's.
    """
    message = message_class()
    body = lines[:-1] if lines and lines[-1] in (b"\r\n", b"\n", b"") else lines
    pairs = []
    for line in body:
        match = _PLAIN_HEADER.fullmatch(line)
        if match is None:
            text = b"".join(lines).decode("iso-8859-1")
            return email.parser.Parser(_class=message_class).parsestr(text)
        pairs.append((match[1].decode("ascii"), match[2].decode("iso-8859-1")))
    for name, value in pairs:
        message[name] = value
    return message


class _LineTracker:
    """Wraps ``rfile`` while the header block is read, to see whether it was cut off.

    ``http.client.parse_headers`` treats end of stream like the empty line that ends the
    headers, so a half-sent request would otherwise be run as if it were complete.
    """

    def __init__(self, rfile: Any) -> None:
        self._rfile = rfile
        self.cut = False

    def readline(self, size: int = -1) -> bytes:
        line = self._rfile.readline(size)
        if not line.endswith(b"\n") and (size < 0 or len(line) < size):
            self.cut = True
        return line

    def __getattr__(self, name: str) -> Any:
        return getattr(self._rfile, name)


@functools.lru_cache(maxsize=2)
def _http_date(second: int) -> str:
    return email.utils.formatdate(second, usegmt=True)


class KeepAliveHandler(WSGIRequestHandler):
    """Handler with HTTP/1.1 keep-alive, strict framing, the peer certificate, no stderr."""

    protocol_version = "HTTP/1.1"
    timeout = CONNECTION_TIMEOUT

    #: seconds for a request line and its headers to arrive, in all (slow-drip clients)
    header_timeout = CONNECTION_TIMEOUT

    _protocol_error: tuple[int, str] | None = None
    _reader: _DeadlineIO
    _version: str | None = None

    def version_string(self) -> str:
        """``Werkzeug/<version> Python/<version>``, built once instead of joined again for
        every response."""
        if KeepAliveHandler._version is None:
            KeepAliveHandler._version = super().version_string()
        return KeepAliveHandler._version

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The ``Date`` header, formatted once per second instead of once per response."""
        if timestamp is not None:
            return super().date_time_string(timestamp)
        return _http_date(int(time.time()))

    def setup(self) -> None:
        super().setup()
        self.rfile.close()  # the makefile() reader holds a reference that defers the close
        self._reader = _DeadlineIO(self.connection, self.timeout)
        self.rfile = io.BufferedReader(self._reader, 64 * 1024)  # type: ignore[assignment]

    # -- request line and headers ---------------------------------------------------------
    def handle_one_request(self) -> None:
        self._protocol_error = None
        self.command = None  # type: ignore[assignment]
        self.path = ""
        self.request_version = "HTTP/1.1"
        self.close_connection = True
        self._reader.deadline = time.monotonic() + self.header_timeout
        try:
            line = self.rfile.readline(MAX_HEADER_LINE + 1)
        except (OSError, ValueError):
            return
        if not line:
            return
        if len(line) > MAX_HEADER_LINE:
            self._refuse(414, f"request line is longer than {MAX_HEADER_LINE} bytes")
            return
        if not line.endswith(b"\n"):
            return  # cut off by end of stream: no request, nothing to answer or log
        self.raw_requestline = line
        tracker = _LineTracker(self.rfile)
        real, self.rfile = self.rfile, tracker  # type: ignore[assignment]
        try:
            parsed = self.parse_request()
        except (OSError, ValueError):
            return
        finally:
            self.rfile = real
        self._reader.deadline = None  # the body: each read may wait CONNECTION_TIMEOUT
        if tracker.cut:
            self.close_connection = True
            return  # headers cut off by end of stream
        if not parsed:
            if self._protocol_error is not None:
                self._refuse(*self._protocol_error)
            return
        if self.request_version not in ("HTTP/1.0", "HTTP/1.1"):
            self._refuse(400, f"unsupported HTTP version {self.request_version!r}: "
                              "use HTTP/1.0 or HTTP/1.1")
            return
        self.run_wsgi()
        try:
            self.wfile.flush()
        except OSError:
            self.close_connection = True

    def parse_request(self) -> bool:
        """The stdlib's ``parse_request`` (Python 3.11's steps; 3.10's lacks the version
        number's digit and length checks, and answers such lines with 400 too), with the
        header block parsed by
        :func:`parse_header_lines` instead of the email parser; errors go to
        :meth:`send_error` with the stdlib's messages."""
        self.command = None  # type: ignore[assignment]
        self.request_version = self.default_request_version
        self.close_connection = True
        requestline = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
        self.requestline = requestline
        words = requestline.split()
        if not words:
            return False
        if len(words) >= 3:
            version = words[-1]
            number = _http_version(version)
            if number is None:
                self.send_error(400, f"Bad request version ({version!r})")
                return False
            if number >= (1, 1):
                self.close_connection = False
            if number >= (2, 0):
                self.send_error(505, f"Invalid HTTP version ({version[5:]})")
                return False
            self.request_version = version
        if not 2 <= len(words) <= 3:
            self.send_error(400, f"Bad request syntax ({requestline!r})")
            return False
        command, path = words[:2]
        if len(words) == 2:
            self.close_connection = True
            if command != "GET":
                self.send_error(400, f"Bad HTTP/0.9 request type ({command!r})")
                return False
        if path.startswith("//"):  # gh-87389: not an absolute URI without scheme
            path = "/" + path.lstrip("/")
        self.command, self.path = command, path
        lines: list[bytes] = []
        while True:
            line = self.rfile.readline(MAX_HEADER_LINE + 1)
            if len(line) > MAX_HEADER_LINE:
                self.send_error(431, "Line too long")
                return False
            lines.append(line)
            if len(lines) > MAX_HEADERS:
                self.send_error(431, "Too many headers")
                return False
            if line in (b"\r\n", b"\n", b""):
                break
        self.headers = parse_header_lines(lines, self.MessageClass)
        # What the stdlib decides from the headers it parsed (Python 3.10-3.13).
        conntype = self.headers.get("Connection", "").lower()
        if conntype == "close":
            self.close_connection = True
        elif conntype == "keep-alive":
            self.close_connection = False
        if (self.headers.get("Expect", "").lower() == "100-continue"
                and self.request_version >= "HTTP/1.1"):
            return self.handle_expect_100()
        return True

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Called by ``parse_request``: keep the error, it is answered through the app.

        A version above 1.x gets 400, not 505: every answer to a client's bad request is a
        4xx here, so a test can tell client errors from server errors by the first digit.
        """
        # Fixed texts: the stdlib's messages quote the raw request line, which may carry
        # anything the client put there (a URL with credentials, control characters).
        text = message or ""
        if code >= 500:
            status, text = 400, "unsupported HTTP version: use HTTP/1.0 or HTTP/1.1"
        elif text.startswith("Bad request version"):
            status, text = 400, "malformed HTTP version in the request line"
        elif text.startswith("Bad HTTP/0.9"):
            status, text = 400, "HTTP/0.9 requests are not supported"
        elif text.startswith("Line too long"):
            status, text = 431, f"a header line is longer than {MAX_HEADER_LINE} bytes"
        elif text.startswith("Too many headers"):
            status, text = 431, f"{MAX_HEADERS - 1} header lines at most"
        else:
            status, text = (code if 400 <= code < 500 else 400), "malformed request line"
        self._protocol_error = (status, text)

    def handle_expect_100(self) -> bool:
        return True  # sent on the first body read instead (see _CountingInput)

    def _refuse(self, status: int, message: str) -> None:
        """Answer a request the handler could not parse, through the application."""
        self.close_connection = True
        environ = self._minimal_environ()
        environ[PROTOCOL_ERROR_KEY] = (status, message)
        self.request_version = "HTTP/1.1"
        self._run(environ)

    def _minimal_environ(self) -> dict[str, Any]:
        command = self.command if isinstance(self.command, str) and _TOKEN.fullmatch(self.command) else ""
        path = ""
        query = ""
        if self.path:
            try:
                url = urlsplit(self.path)
                path = unquote_to_bytes(url.path).decode("latin-1")
                query = url.query.encode("latin-1", "replace").decode("latin-1")
            except ValueError:
                pass
        host, port = self.server.server_address[:2]
        return {
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http" if self.server.ssl_context is None else "https",
            "wsgi.input": io.BytesIO(b""),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "REQUEST_METHOD": command,
            "SCRIPT_NAME": "",
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "REMOTE_ADDR": self.address_string(),
            "REMOTE_PORT": self.port_integer(),
            "SERVER_NAME": str(host),
            "SERVER_PORT": str(port),
            "SERVER_PROTOCOL": "HTTP/1.1",
            PEER_CERT_KEY: self._peer_cert(),
        }

    def _peer_cert(self) -> bytes | None:
        getpeercert = getattr(self.connection, "getpeercert", None)
        if getpeercert is None:
            return None
        try:
            return getpeercert(binary_form=True)
        except (ValueError, OSError):
            return None

    # -- environ and framing --------------------------------------------------------------
    def make_environ(self) -> dict[str, Any]:
        try:
            environ = super().make_environ()
        except ValueError:  # urlsplit: e.g. a malformed IPv6 authority
            environ = self._minimal_environ()
            environ[PROTOCOL_ERROR_KEY] = (400, "malformed request target")
            self.close_connection = True
            return environ
        environ[PEER_CERT_KEY] = self._peer_cert()
        environ.pop("SSL_CLIENT_CERT", None)
        environ.pop("wsgi.input_terminated", None)
        length, error = self._framing()
        if error is not None:
            environ[PROTOCOL_ERROR_KEY] = (400, error)
            environ["wsgi.input"] = _CountingInput(io.BytesIO(b""), 0)
            environ["CONTENT_LENGTH"] = "0"
            self.close_connection = True
            return environ
        send_continue = None
        if (self.headers.get("Expect", "").strip().lower() == "100-continue"
                and self.request_version == "HTTP/1.1"):
            send_continue = self._send_continue
        if length is None:
            environ["wsgi.input_terminated"] = True
            environ.pop("CONTENT_LENGTH", None)
            stream: Any = _ChunkedInput(self.rfile)
        else:
            environ["CONTENT_LENGTH"] = str(length)
            stream = self.rfile
        environ["wsgi.input"] = _CountingInput(stream, length, send_continue)
        return environ

    def _framing(self) -> tuple[int | None, str | None]:
        """(Content-Length or None for chunked, error) per RFC 9112 section 6.3."""
        codings = [c.strip().lower() for h in self.headers.get_all("Transfer-Encoding") or []
                   for c in h.split(",") if c.strip()]
        lengths = [v.strip() for h in self.headers.get_all("Content-Length") or []
                   for v in h.split(",")]
        if codings:
            if codings != ["chunked"]:
                return 0, (f"unsupported Transfer-Encoding {', '.join(codings)[:80]!r}: "
                           "only 'chunked' is accepted")
            if lengths:
                return 0, "both Transfer-Encoding and Content-Length: send one of them"
            if self.request_version != "HTTP/1.1":
                return 0, "Transfer-Encoding in an HTTP/1.0 request"
            return None, None
        if not lengths:
            return 0, None
        if len(set(lengths)) != 1 or not all(v.isascii() and v.isdigit() for v in lengths) \
                or len(lengths[0]) > 18:
            return 0, f"invalid Content-Length {', '.join(lengths)[:80]!r}"
        return int(lengths[0]), None

    def _send_continue(self) -> None:
        self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    # -- running the application ----------------------------------------------------------
    def run_wsgi(self) -> None:
        self._run(self.make_environ())

    def _run(self, environ: dict[str, Any]) -> None:
        self.environ = environ
        status_headers: list[Any] = []
        sent = False
        chunked = False

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None):  # type: ignore[no-untyped-def]
            if exc_info is not None and sent:
                raise exc_info[1].with_traceback(exc_info[2])
            status_headers[:] = [status, headers]
            return write

        def send_head() -> bytes:
            """The status line and headers, as bytes: what ``send_response`` and
            ``send_header`` write, built here so that :func:`write` can send them with the
            body. A ``Connection`` header of the application's decides like there."""
            nonlocal sent, chunked
            status, headers = status_headers
            code_str, _, reason = status.partition(" ")
            code = int(code_str)
            lines = [f"{self.protocol_version} {code} {reason}",
                     f"Server: {self.version_string()}", f"Date: {self.date_time_string()}"]
            keys = set()
            for key, value in headers:
                lower = key.lower()
                if lower in ("date", "server"):  # written above
                    continue
                if lower == "connection":
                    if value.lower() == "close":
                        self.close_connection = True
                    elif value.lower() == "keep-alive":
                        self.close_connection = False
                lines.append(f"{key}: {value}")
                keys.add(lower)
            if (
                "content-length" not in keys
                and environ["REQUEST_METHOD"] != "HEAD"
                and not (100 <= code < 200 or code in (204, 304))
            ):
                chunked = True
                lines.append("Transfer-Encoding: chunked")
            if self.close_connection:
                lines.append("Connection: close")
            head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
            sent = True  # only now: a header that is not Latin-1 still gets the 500
            return head

        def write(data: bytes) -> None:
            # The head leaves in the same write as the first piece of the body: one
            # segment (one TLS record) per small answer instead of two, and no chance of
            # Nagle's algorithm holding the body back (see _WSGIServer.get_request).
            head = b"" if sent else send_head()
            if data and environ["REQUEST_METHOD"] != "HEAD":
                if chunked:
                    data = b"%x\r\n%s\r\n" % (len(data), data)
            else:
                data = b""
            if head or data:
                self.wfile.write(head + data if head else data)

        body: _CountingInput = environ["wsgi.input"] if isinstance(
            environ["wsgi.input"], _CountingInput) else _CountingInput(environ["wsgi.input"], 0)
        try:
            app_iter = self.server.app(environ, start_response)
            try:
                fault = environ.get(CONNECTION_FAULT_KEY)
                if fault == "reset":
                    self._reset()
                    return
                if body.broken or body.unsent:  # the answer goes out, then the connection closes
                    self.close_connection = True
                for data in app_iter:
                    write(data)
                if not sent:
                    write(b"")
                if chunked:
                    self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
                if fault == "close":  # only now: the head must not announce the close
                    self.close_connection = True
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
                    self.send_error_response(500)
                except OSError:
                    pass
            self.server.handle_error(self.request, self.client_address)  # type: ignore[attr-defined]

    def _reset(self) -> None:
        """Abort the connection: with ``SO_LINGER`` 0 a close sends RST, not FIN, and drops
        whatever is unsent or unread. Closed here, before socketserver's
        ``shutdown_request``, whose ``shutdown(SHUT_WR)`` would send a FIN first."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.connection.close()

    def send_error_response(self, code: int) -> None:
        """A bare error response (only for a failure inside the application)."""
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.send_header("Connection", "close")
        self.end_headers()

    def handle(self) -> None:
        try:
            super().handle()
        except (ConnectionError, TimeoutError, OSError):
            pass

    def log(self, *args: Any, **kwargs: Any) -> None:
        pass

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass

    def log_error(self, *args: Any) -> None:
        pass

    def log_message(self, *args: Any) -> None:
        pass
