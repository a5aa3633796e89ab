"""Small helpers shared by the plugin's own tests (one copy, imported as ``tests.helpers``
or ``helpers``: pytest puts the tests directory on ``sys.path`` in rootdir mode).

Fixtures live in conftest.py; this module holds plain values and functions: test data
shared by several modules (credentials, the TLS parameter list, the corp and token indexes),
and assertions on what an index saw that more than one client's tests make."""

from __future__ import annotations

import dataclasses
import hashlib
import socket
import ssl
from pathlib import Path

import pytest
import tomlkit
from packaging.version import Version

from pytest_privrepo import Index, Privrepo
from pytest_privrepo.access import IndexAccess
from pytest_privrepo.clients import IndexSpec

__all__ = [
    "CI",
    "CLIENT_CN",
    "DEMO_METADATA",
    "DEMO_PAGES",
    "DEMO_WHEELS",
    "HARD_PASSWORD",
    "READ_TOKEN",
    "TLS",
    "TOKEN",
    "assert_auth_error",
    "assert_client_cert_sent",
    "assert_client_certs",
    "assert_served_to_alice",
    "assert_token_hits",
    "assert_uploads",
    "corp_index",
    "fake_pem",
    "file_sha256",
    "flat",
    "mtls_handshake",
    "no_client_cert",
    "pages",
    "token_index",
    "token_spec",
    "uv_config",
    "uv_release",
]

#: An index's TLS modes as test parameters, with readable ids.
TLS = [pytest.param(None, id="http"), pytest.param("tls", id="https"),
       pytest.param("mtls", id="mtls")]
#: The subject of the client certificate of an index named ``corp``.
CLIENT_CN = "CN=corp-client@privrepo.test"

#: Upload credentials (user, password) and the upload token of the publish tests.
CI = ("ci", "s3cret-pw")
TOKEN = "pypi-tok-1234"

#: Characters that break unencoded URL userinfo, a space, and a ``%`` that an
#: interpolating config parser would choke on.
HARD_PASSWORD = "p@ss:w/rd %"

#: The read token of :func:`token_index`, and what a client asks that index for when it
#: installs ``demo`` (pages, metadata, wheels).
READ_TOKEN = "tok-1"
DEMO_PAGES = {"/simple/demo/", "/simple/helper/"}
DEMO_METADATA = {"/files/demo/demo-1.0-py3-none-any.whl.metadata",
                 "/files/helper/helper-2.0-py3-none-any.whl.metadata"}
DEMO_WHEELS = {"/files/demo/demo-1.0-py3-none-any.whl", "/files/helper/helper-2.0-py3-none-any.whl"}


# --------------------------------------------------------------------------- text and files


def flat(text: str) -> str:
    """``text`` with every run of whitespace as one space: clients (uv, twine's rich) wrap
    their messages to the terminal width, so tests compare phrases, not line breaks."""
    return " ".join(text.split())


def file_sha256(path: Path) -> str:
    """The hex sha256 of a file's bytes (what an index records for an upload)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def uv_config(path: Path) -> dict:  # type: ignore[type-arg]
    """A TOML file (a uv.toml the harness wrote) as plain dicts and lists."""
    return tomlkit.parse(path.read_text(encoding="utf-8")).unwrap()


def fake_pem(path: Path, text: str) -> Path:
    """A file shaped like a PEM certificate holding ``text``: for tests of the options a
    harness derives from certificate paths and contents, no TLS involved."""
    path.write_text(f"-----BEGIN CERTIFICATE-----\n{text}\n-----END CERTIFICATE-----\n")
    return path


# --------------------------------------------------------------------------- indexes


def corp_index(privrepo, tls: str | None, password: str = HARD_PASSWORD):  # type: ignore[no-untyped-def]
    """Index ``corp`` (user alice, ``password``) serving demo 1.0, which requires helper>=2."""
    index = privrepo.index("corp", auth=("alice", password), tls=tls)
    index.add("demo", "1.0", requires=["helper>=2"])
    index.add("helper", "2.0")
    return index


def token_index(privrepo: Privrepo, tls: str | None) -> Index:
    """Index ``corp`` readable with :data:`READ_TOKEN`, serving what :func:`corp_index` serves."""
    index = privrepo.index("corp", token=READ_TOKEN, tls=tls)
    index.add("demo", "1.0", requires=["helper>=2"])
    index.add("helper", "2.0")
    return index


def token_spec(index: Index, *, client_cert: bool = True) -> IndexSpec:
    """The index as a client gets it: user ``__token__`` + the token, its CA and (unless
    ``client_cert=False``) its client certificate."""
    return IndexSpec(
        index.url,
        ca_cert=Path(index.ca_cert) if index.ca_cert else None,
        client_cert=Path(index.client_cert) if client_cert and index.client_cert else None,
        username="__token__",
        password=READ_TOKEN,
        name=index.name,
    )


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


def uv_release(uv) -> Version:  # type: ignore[no-untyped-def]
    """The running uv's version, for the gates on its output (texts differ by release)."""
    return Version(uv.version())


# --------------------------------------------------------------------------- what an index saw


def pages(index: Index, project: str) -> list:  # type: ignore[type-arg]
    """The index's requests for ``project``'s simple page (any status, any query)."""
    return index.log.filter(path_prefix=f"/simple/{project}/")


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


def assert_token_hits(index: Index, paths: set[str]) -> None:
    """Every request carried the token (accepted, as Basic user ``__token__``) and, over
    mTLS, the client certificate; together they asked for exactly ``paths``."""
    hits = list(index.log)
    assert {h.path for h in hits} == paths, hits
    assert {(h.method, h.status, h.user, h.auth_ok, h.auth_scheme) for h in hits} == {
        ("GET", 200, "__token__", True, "basic")}, hits
    for hit in hits:
        if index.tls == "mtls":
            assert hit.client_cert and hit.client_cert.startswith(CLIENT_CN + ","), hit
        else:
            assert hit.client_cert is None, hit


def assert_client_cert_sent(index) -> None:  # type: ignore[no-untyped-def]
    """Over mTLS every request carried the client certificate; otherwise none did."""
    for hit in index.log:
        if index.tls == "mtls":
            assert hit.client_cert and "corp-client@privrepo.test" in hit.client_cert
        else:
            assert hit.client_cert is None


def assert_client_certs(index: Index) -> None:
    """Over mTLS every request carried the index's client certificate, else none."""
    assert list(index.log)
    for hit in index.log:
        if index.tls == "mtls":
            assert hit.client_cert
            assert f"{index.name}-client@privrepo.test" in hit.client_cert
        else:
            assert hit.client_cert is None


def assert_uploads(index, expected: list[tuple[Path, str]]) -> None:  # type: ignore[no-untyped-def]
    """The index recorded exactly these (file, user) uploads, each with the file's sha256."""
    got = sorted((u.filename, u.sha256, u.user) for u in index.uploads)
    assert got == sorted((p.name, file_sha256(p), user) for p, user in expected)


def assert_auth_error(output: str, phrases: tuple[str, ...]) -> None:
    """Each phrase of a client's auth error is in its (whitespace-flattened) output."""
    for phrase in phrases:
        assert phrase in flat(output), output
