"""The gateway: one loopback HTTP proxy between the clients under test and every named host.

Why a proxy and not ``/etc/hosts``: a test cannot change name resolution for a client
process, but every client takes a proxy from ``HTTPS_PROXY``/``HTTP_PROXY`` (pip, Poetry,
twine and flit through requests, uv through reqwest, pdm and hatch through httpx; see
products.md), and behind a proxy a client never resolves the name itself: it sends
``CONNECT pypi.corp.example:443`` or ``GET http://host/path``. So the gateway decides what
each name is:

- a declared host (a named index, the PyPI stand-in) is tunnelled to the loopback server
  that serves it; that server terminates TLS with a certificate for the name (and asks for
  a client certificate where the index is mTLS), so the client's own TLS and credential
  code runs exactly as against the real host;
- any other host is refused with ``403`` and a reason the client shows ("Tunnel connection
  failed: 403 ..."), and the attempt is recorded. Nothing is ever forwarded off the machine:
  the only addresses the gateway connects to are the loopback backends it was given.

Every request is reported to the subscribers (:meth:`Gateway.subscribe`) as an
:class:`~pytest_privrepo.gateway.egress.EgressRecord`: refusals by the gateway itself,
answered requests by the backend servers (:meth:`Gateway.record`), which see inside TLS.
"""

from __future__ import annotations

import selectors
import socket
import struct
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeVar
from urllib.parse import urlsplit

from ..access import GatewayAccess
from ..errors import ConfigError, ServerError
from ..index.auth import AuthDecision, loggable_identity
from ..tls.ca import CertificateAuthority
from .egress import EgressRecord
from .hosts import default_port

__all__ = ["Gateway", "Route"]

_T = TypeVar("_T")

#: Longest request head (request line and headers) the gateway reads.
MAX_HEAD = 64 * 1024

#: Seconds a connection may stay idle (a head not finished, a tunnel with no traffic).
IDLE_TIMEOUT = 30.0

_HOP_BY_HOP = frozenset({"connection", "proxy-connection", "keep-alive", "proxy-authorization",
                         "proxy-authenticate", "te", "trailer", "upgrade"})


@dataclass(frozen=True)
class Route:
    """Where the gateway sends one declared ``host:port``."""

    host: str
    port: int
    scheme: Literal["http", "https"]
    #: the loopback server that serves it
    backend: tuple[str, int]
    #: the TLS mode of that server (None, "tls", "mtls"): one per host:port
    tls: str | None = None


class _Head:
    """A request head read from a client: request line, headers, and bytes read past it."""

    def __init__(self, method: str, target: str, version: str,
                 headers: list[tuple[str, str]], rest: bytes) -> None:
        self.method, self.target, self.version = method, target, version
        self.headers, self.rest = headers, rest

    def get(self, name: str) -> str | None:
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return value
        return None


class _BadHead(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def _read_head(conn: socket.socket) -> _Head | None:
    """Read up to the blank line; None when the client sent nothing (or went away).

    The whole head must arrive within :data:`IDLE_TIMEOUT` (not each read: a client that
    sends a byte every few seconds would hold its thread for ever)."""
    data = b""
    deadline = time.monotonic() + IDLE_TIMEOUT
    while b"\r\n\r\n" not in data:
        if len(data) > MAX_HEAD:
            raise _BadHead(431, f"request head is longer than {MAX_HEAD} bytes")
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("request head not received in time")
        conn.settimeout(left)
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    if len(head) > MAX_HEAD:
        raise _BadHead(431, f"request head is longer than {MAX_HEAD} bytes")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise _BadHead(400, "malformed request line: send CONNECT host:port HTTP/1.1 or "
                            "an absolute URI")
    headers = []
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip():
            raise _BadHead(400, "malformed header line")
        headers.append((name, value.strip()))
    return _Head(parts[0], parts[1], parts[2], headers, rest)


def _answer(conn: socket.socket, status: int, reason: str, message: str) -> None:
    body = (message + "\n").encode("utf-8")
    head = (f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode("latin-1")
    try:
        conn.sendall(head + body)
    except OSError:
        pass


def _authority(target: str) -> tuple[str, int] | None:
    """``host:port`` of a CONNECT target (``[::1]:443`` too), or None when malformed."""
    host, colon, port = target.rpartition(":")
    if not colon or not port.isdigit() or not host:
        return None
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    number = int(port)
    return (host.lower(), number) if 0 < number < 65536 else None


class Gateway:
    """A loopback HTTP proxy that serves declared host names and refuses every other one.

    ``public_ca`` signs the hosts of the public world (the PyPI stand-in); its certificate
    is the clients' default trust store (:attr:`access`), while private indexes keep the
    session CA a test must configure. ``root`` holds the trust bundle (a temporary directory
    removed by :meth:`stop` when not given).
    """

    def __init__(self, *, public_ca: CertificateAuthority | None = None,
                 root: str | Path | None = None) -> None:
        self.public_ca = public_ca or CertificateAuthority("pytest-privrepo public roots")
        self._tmp = None if root is not None else tempfile.mkdtemp(prefix="privrepo-gateway-")
        self.root = Path(root if root is not None else self._tmp)  # type: ignore[arg-type]
        self._routes: dict[tuple[str, int], Route] = {}
        self._lock = threading.Lock()
        self._subscribers: list[Callable[[EgressRecord], None]] = []
        self._owners: list[Callable[[str | None], frozenset[str]]] = []
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._conns: dict[socket.socket, threading.Thread] = {}
        self._wake_r, self._wake_w = socket.socketpair()
        self._stopping = False
        self.errors: list[BaseException] = []
        self._bundle: Path | None = None

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> Gateway:
        if self._sock is not None:
            raise ServerError("the gateway is already running")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        # accept() only after the selector saw a connection, which the client may have
        # reset in between: a blocking accept() would then miss stop()'s wake-up
        sock.setblocking(False)
        self._sock = sock
        self._thread = threading.Thread(target=self._accept_loop, daemon=True,
                                        name=f"privrepo-gateway-{self.port}")
        self._thread.start()
        return self

    @property
    def running(self) -> bool:
        return self._sock is not None and not self._stopping

    @property
    def port(self) -> int:
        if self._sock is None:
            raise ServerError("the gateway is not running")
        return int(self._sock.getsockname()[1])

    @property
    def proxy_url(self) -> str:
        """``http://127.0.0.1:<port>``: what ``HTTP(S)_PROXY`` of every client is set to."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def proxies(self) -> dict[str, str]:
        """requests' ``proxies=`` for reaching declared hosts from the test itself."""
        return {"http": self.proxy_url, "https": self.proxy_url}

    @property
    def trust_bundle(self) -> Path:
        """PEM of the public CA: the clients' default trust store."""
        if self._bundle is None:
            self._bundle = self.public_ca.write_ca_bundle(self.root, "public-roots.pem")
        return self._bundle

    @property
    def access(self) -> GatewayAccess:
        """What a :class:`~pytest_privrepo.clients.env.ClientEnv` needs to route through it."""
        return GatewayAccess(self.proxy_url, self.trust_bundle)

    def stop(self) -> None:
        """Stop accepting, close every connection and tunnel, join the threads. Idempotent."""
        if self._sock is None or self._stopping:
            return
        self._stopping = True
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass
        if self._thread is not None:
            self._thread.join(10)
        with self._lock:
            conns = list(self._conns.items())
        for conn, _ in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for _, thread in conns:
            thread.join(5)
        stuck = [t for _, t in conns if t.is_alive()]
        self._sock.close()
        self._wake_r.close()
        self._wake_w.close()
        if self._tmp is not None:
            import shutil

            shutil.rmtree(self._tmp, ignore_errors=True)
        if stuck:
            raise ServerError(f"{len(stuck)} gateway connection thread(s) did not stop")

    def check(self) -> None:
        """Raise the first error a gateway thread hit."""
        if self.errors:
            exc = self.errors.pop(0)
            raise ServerError(f"the gateway failed: {type(exc).__name__}: {exc}") from exc

    # -- routes and subscribers -----------------------------------------------------------
    def add_route(self, route: Route) -> None:
        """Serve ``route.host:route.port`` from ``route.backend``; a ConfigError if that
        host:port is already declared."""
        key = (route.host, route.port)
        with self._lock:
            if key in self._routes:
                raise ConfigError(f"host {route.host}:{route.port} is already declared in this "
                                  "test session")
            self._routes[key] = route

    def remove_route(self, host: str, port: int) -> None:
        with self._lock:
            self._routes.pop((host, port), None)

    def route(self, host: str, port: int) -> Route | None:
        with self._lock:
            return self._routes.get((host.lower(), port))

    @property
    def routes(self) -> list[Route]:
        with self._lock:
            return list(self._routes.values())

    def _register(self, items: list[_T], item: _T) -> Callable[[], None]:
        """Add ``item`` to one of the gateway's lists; return the function that removes it."""
        with self._lock:
            items.append(item)

        def remove() -> None:
            with self._lock:
                if item in items:
                    items.remove(item)
        return remove

    def subscribe(self, listener: Callable[[EgressRecord], None]) -> Callable[[], None]:
        """Call ``listener`` with every later record; returns the function that unsubscribes."""
        return self._register(self._subscribers, listener)

    def add_credential_owner(self, owners: Callable[[str | None], frozenset[str]]) -> Callable[[], None]:
        """Register a function that names the indexes an ``Authorization`` value belongs to
        (a :class:`~pytest_privrepo.session.Privrepo` registers its indexes); returns the
        function that removes it."""
        return self._register(self._owners, owners)

    def credentials_of(self, authorization: str | None) -> frozenset[str]:
        """The indexes whose credentials ``authorization`` carries (empty: none of ours)."""
        if not authorization:
            return frozenset()
        with self._lock:
            owners = list(self._owners)
        found: frozenset[str] = frozenset()
        for owner in owners:
            found |= owner(authorization)
        return found

    def record(self, record: EgressRecord) -> None:
        """Report one request to every subscriber (backends call this for what they answer)."""
        with self._lock:
            listeners = list(self._subscribers)
        for listener in listeners:
            listener(record)

    # -- connections ----------------------------------------------------------------------
    def _accept_loop(self) -> None:
        assert self._sock is not None
        with selectors.DefaultSelector() as sel:
            sel.register(self._sock, selectors.EVENT_READ)
            sel.register(self._wake_r, selectors.EVENT_READ)
            while not self._stopping:
                for key, _ in sel.select():
                    if self._stopping or key.fileobj is not self._sock:
                        continue
                    try:
                        conn, _addr = self._sock.accept()
                    except OSError:  # BlockingIOError: nothing left to accept
                        continue
                    conn.setblocking(True)
                    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    thread = threading.Thread(target=self._serve, args=(conn,), daemon=True,
                                              name=f"privrepo-gateway-conn-{self.port}")
                    with self._lock:
                        self._conns[conn] = thread
                    thread.start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(IDLE_TIMEOUT)
            try:
                head = _read_head(conn)
            except _BadHead as bad:
                _answer(conn, bad.status, "Bad Request", f"privrepo gateway: {bad.message}")
                return
            if head is None:
                return
            conn.settimeout(IDLE_TIMEOUT)
            if head.method == "CONNECT":
                self._connect(conn, head)
            elif head.target.lower().startswith(("http://", "https://")):
                self._forward(conn, head)
            else:
                _answer(conn, 400, "Bad Request",
                        "privrepo gateway: this is a proxy; send CONNECT host:port or a request "
                        "with an absolute URI (http://host/path)")
        except (OSError, TimeoutError):
            pass
        except Exception as exc:  # noqa: BLE001 - surfaced by check(); the client sees a close
            if not self._stopping:
                self.errors.append(exc)
        finally:
            with self._lock:
                self._conns.pop(conn, None)
            try:
                conn.close()
            except OSError:
                pass

    def _refuse(self, conn: socket.socket, head: _Head, host: str, port: int,
                path: str | None, reason: str) -> None:
        """One record, then 403 for an undeclared host, with the reason in the reason phrase
        too (clients print only that: urllib3 raises "Tunnel connection failed: 403 <reason>")."""
        declared = ", ".join(sorted(f"{r.host}:{r.port}" for r in self.routes)) or "none"
        message = (f"privrepo gateway: {host}:{port} is {reason}; the clients under test reach "
                   f"only declared hosts (declared: {declared}); declare it with "
                   "privrepo.index(..., host=...) or use privrepo.pypi")
        authorization = head.get("Authorization") if path is not None else head.get("Proxy-Authorization")
        identity = loggable_identity(AuthDecision(None, None, None), authorization)
        self.record(EgressRecord(
            host=host, port=port, method=head.method, path=path, status=403, index=None,
            user=identity.user, credentials_offered=bool(authorization),
            credentials_of=self.credentials_of(head.get("Authorization")),
            reason=reason,
        ))  # before the answer: a test reads the log as soon as its client has failed
        _answer(conn, 403, f"Forbidden (privrepo: {host}:{port} is {reason})", message)

    def _connect(self, conn: socket.socket, head: _Head) -> None:
        authority = _authority(head.target)
        if authority is None:
            _answer(conn, 400, "Bad Request",
                    f"privrepo gateway: CONNECT needs host:port, not {head.target[:100]!r}")
            return
        host, port = authority
        route = self.route(host, port)
        if route is None:
            self._refuse(conn, head, host, port, None, "not a declared host")
            return
        backend = socket.create_connection(route.backend, timeout=10)
        try:
            backend.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            if head.rest:
                backend.sendall(head.rest)
            self._splice(conn, backend)
        finally:
            backend.close()

    def _forward(self, conn: socket.socket, head: _Head) -> None:
        """An absolute-URI request: to a declared http host, in origin form, one per
        connection (``Connection: close`` both ways keeps the framing the backend's)."""
        try:
            url = urlsplit(head.target)
            host = (url.hostname or "").lower()
            port = url.port or default_port(url.scheme.lower())
        except ValueError:
            _answer(conn, 400, "Bad Request", "privrepo gateway: malformed request URI")
            return
        path = url.path or "/"
        route = self.route(host, port)
        if route is None or url.scheme.lower() != "http" or route.scheme != "http":
            reason = ("not a declared host" if route is None
                      else "served over https: send CONNECT" if route.scheme == "https"
                      else "not reachable with https:// in an absolute URI: send CONNECT")
            self._refuse(conn, head, host, port, path, reason)
            return
        target = path + (f"?{url.query}" if url.query else "")
        lines = [f"{head.method} {target} {head.version}"]
        lines += [f"{k}: {v}" for k, v in head.headers if k.lower() not in _HOP_BY_HOP]
        if head.get("Host") is None:
            lines.append(f"Host: {url.netloc.rpartition('@')[2]}")
        lines.append("Connection: close")
        backend = socket.create_connection(route.backend, timeout=10)
        try:
            backend.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            backend.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + head.rest)
            self._splice(conn, backend)
        finally:
            backend.close()

    def _splice(self, a: socket.socket, b: socket.socket) -> None:
        """Copy bytes both ways until both sides are done (or the gateway stops)."""
        peers = {a: b, b: a}
        open_reads = {a, b}
        with selectors.DefaultSelector() as sel:
            for s in open_reads:
                sel.register(s, selectors.EVENT_READ)
            while open_reads and not self._stopping:
                events = sel.select(IDLE_TIMEOUT)
                if not events:
                    return  # idle: drop the tunnel, as a server drops an idle keep-alive
                for key, _ in events:
                    src: socket.socket = key.fileobj  # type: ignore[assignment]
                    dst = peers[src]
                    try:
                        data = src.recv(65536)
                    except ConnectionResetError:
                        # pass a reset on as a reset (a fault test's RST must not reach
                        # the client as a clean end of stream): close with SO_LINGER 0
                        dst.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                        return
                    except OSError:
                        data = b""
                    if data:
                        try:
                            dst.sendall(data)
                            continue
                        except OSError:
                            return
                    sel.unregister(src)
                    open_reads.discard(src)
                    try:
                        dst.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass

    def __repr__(self) -> str:
        where = self.proxy_url if self._sock is not None else "(not running)"
        return f"<Gateway {where} {len(self.routes)} hosts>"
