"""A raw HTTP/1.1 client for the server tests: bytes in, every response out.

requests and http.client refuse to send most malformed requests (CR/LF in a path, two
framings, a lying Content-Length), and the point of these tests is what the index answers
to exactly such bytes. So the request goes out as given, over a plain, TLS or mutual-TLS
socket to the index's loopback port; then the client half-closes its side (so a body that
promised more bytes ends instead of leaving the server waiting) and reads every response
until the server closes the connection.
"""

from __future__ import annotations

import base64
import http.client
import socket
import ssl
from dataclasses import dataclass, field

from pytest_privrepo import Index

__all__ = ["RawResponse", "basic", "exchange", "open_socket"]


@dataclass
class RawResponse:
    status: int
    reason: str
    headers: http.client.HTTPMessage
    body: bytes = field(repr=False)


class _FileSock:
    """What http.client.HTTPResponse wants from a socket: one shared buffered reader, so
    bytes of the next response are not lost between two HTTPResponse objects."""

    def __init__(self, fp) -> None:  # type: ignore[no-untyped-def]
        self._fp = fp

    def makefile(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return _Unclosable(self._fp)


class _Unclosable:
    """HTTPResponse closes its file when a body ends; the next response needs it still."""

    def __init__(self, fp) -> None:  # type: ignore[no-untyped-def]
        self._fp = fp

    def close(self) -> None:
        pass

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self._fp, name)


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def open_socket(index: Index, *, timeout: float = 20.0, client_cert: bool = True) -> socket.socket:
    """A connected socket to ``index``: TLS verified with the index's CA, and the index's
    client certificate on an mTLS index (unless ``client_cert=False``)."""
    sock = socket.create_connection((index.host, index.port), timeout=timeout)
    if index.tls is None:
        return sock
    context = ssl.create_default_context(cafile=index.ca_cert)
    if index.client_cert and client_cert:
        context.load_cert_chain(index.client_cert)
    try:
        return context.wrap_socket(sock, server_hostname=index.host)
    except BaseException:
        sock.close()
        raise


def exchange(index: Index, data: bytes, *, timeout: float = 20.0, half_close: bool = True,
             head: bool = False) -> list[RawResponse]:
    """Send ``data`` as is; return every response the server sent before it closed.

    ``head``: the request was a HEAD, so its response has no body.
    """
    with open_socket(index, timeout=timeout) as sock:
        try:
            sock.sendall(data)
            if half_close:
                # socket.socket.shutdown, not SSLSocket.shutdown: the TLS session stays
                # usable for reading; the server sees end of stream after the request bytes.
                socket.socket.shutdown(sock, socket.SHUT_WR)
        except OSError:
            pass  # the server answered and closed before taking every byte: read its answer
        responses: list[RawResponse] = []
        with sock.makefile("rb") as fp:
            while True:
                response = http.client.HTTPResponse(_FileSock(fp), method="HEAD" if head else None)  # type: ignore[arg-type]
                try:
                    response.begin()
                    body = response.read()
                except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError,
                        ssl.SSLError):
                    # closed; over TLS, a server that read our half-close as an unexpected
                    # end of stream may end the session with an alert instead of a response
                    break
                finally:
                    # while fp is open: a response garbage-collected after it flushes a
                    # closed file in __del__, an unraisable error on Python 3.13
                    response.close()
                responses.append(RawResponse(response.status, response.reason,
                                             response.headers, body))
                if response.will_close:
                    break
        return responses
