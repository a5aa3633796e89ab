"""Small helpers shared by the plugin's own tests (one copy, imported as ``tests.helpers``
or ``helpers``: pytest puts the tests directory on ``sys.path`` in rootdir mode)."""

from __future__ import annotations

import dataclasses
import hashlib
import socket
import ssl
from pathlib import Path

from pytest_privrepo.access import IndexAccess

__all__ = ["file_sha256", "flat", "mtls_handshake", "no_client_cert"]


def flat(text: str) -> str:
    """``text`` with every run of whitespace as one space: clients (uv, twine's rich) wrap
    their messages to the terminal width, so tests compare phrases, not line breaks."""
    return " ".join(text.split())


def file_sha256(path: Path) -> str:
    """The hex sha256 of a file's bytes (what an index records for an upload)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def no_client_cert(index) -> IndexAccess:  # type: ignore[no-untyped-def]
    """The index's URLs, credentials and CA, but no client certificate."""
    return dataclasses.replace(index.access, client_cert=None)


def mtls_handshake(idx, cert) -> bytes:  # type: ignore[no-untyped-def]
    """Handshake and one request; in TLS 1.3 the server's refusal shows on the first read."""
    ctx = ssl.create_default_context(cafile=idx.ca_cert)
    if cert:
        ctx.load_cert_chain(cert)
    with socket.create_connection((idx.host, idx.port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            tls.sendall(b"GET /simple/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            return tls.recv(100)
