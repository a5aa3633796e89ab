"""Small helpers shared by the plugin's own tests (one copy, imported as ``tests.helpers``
or ``helpers``: pytest puts the tests directory on ``sys.path`` in rootdir mode)."""

from __future__ import annotations

import dataclasses
import hashlib
import socket
import ssl
from pathlib import Path

import pytest

from pytest_privrepo.access import IndexAccess

__all__ = [
    "CI",
    "CLIENT_CN",
    "HARD_PASSWORD",
    "TLS",
    "TOKEN",
    "assert_auth_error",
    "assert_client_cert_sent",
    "assert_served_to_alice",
    "assert_uploads",
    "corp_index",
    "file_sha256",
    "flat",
    "mtls_handshake",
    "no_client_cert",
]

#: Characters that break unencoded URL userinfo, a space, and a ``%`` that an
#: interpolating config parser would choke on.
HARD_PASSWORD = "p@ss:w/rd %"

#: An index's TLS modes as test parameters, with readable ids.
TLS = [pytest.param(None, id="http"), pytest.param("tls", id="https"),
       pytest.param("mtls", id="mtls")]


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


def corp_index(privrepo, tls: str | None, password: str = HARD_PASSWORD):  # type: ignore[no-untyped-def]
    """Index ``corp`` (user alice, ``password``) serving demo 1.0, which requires helper>=2."""
    index = privrepo.index("corp", auth=("alice", password), tls=tls)
    index.add("demo", "1.0", requires=["helper>=2"])
    index.add("helper", "2.0")
    return index


def assert_served_to_alice(index, tls: str | None) -> None:  # type: ignore[no-untyped-def]
    """Every request came from alice, the two wheels of :func:`corp_index` were downloaded,
    and over mTLS each carried the client certificate."""
    hits = list(index.log)
    assert hits, "the index saw no request"
    assert {(h.user, h.auth_ok) for h in hits} == {("alice", True)}, hits
    assert sorted(h.path.rsplit("/", 1)[-1] for h in index.log.downloads) == [
        "demo-1.0-py3-none-any.whl",
        "helper-2.0-py3-none-any.whl",
    ]
    certs = {h.client_cert for h in hits}
    if tls == "mtls":
        assert len(certs) == 1 and "CN=corp-client@privrepo.test" in certs.pop()
    else:
        assert certs == {None}


def assert_auth_error(output: str, phrases: tuple[str, ...]) -> None:
    """Each phrase of a client's auth error is in its (whitespace-flattened) output."""
    for phrase in phrases:
        assert phrase in flat(output), output


def assert_uploads(index, expected: list[tuple[Path, str]]) -> None:  # type: ignore[no-untyped-def]
    """The index recorded exactly these (file, user) uploads, each with the file's sha256."""
    got = sorted((u.filename, u.sha256, u.user) for u in index.uploads)
    assert got == sorted((p.name, file_sha256(p), user) for p, user in expected)


def assert_client_cert_sent(index) -> None:  # type: ignore[no-untyped-def]
    """Over mTLS every request carried the client certificate; otherwise none did."""
    for hit in index.log:
        if index.tls == "mtls":
            assert hit.client_cert and "corp-client@privrepo.test" in hit.client_cert
        else:
            assert hit.client_cert is None


#: Upload credentials (user, password) and a token of the publish tests.
CI = ("ci", "s3cret-pw")


TOKEN = "pypi-tok-1234"


CLIENT_CN = "CN=corp-client@privrepo.test"
