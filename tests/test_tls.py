"""TLS and mutual TLS of an index, with real handshakes: the server certificate (loopback
names, our CA only, hostname check) and client certificates (refused when missing,
expired or foreign; an extra valid one is accepted and its subject logged)."""

from __future__ import annotations

import socket
import ssl

import pytest
import requests
from helpers import mtls_handshake


def test_plain_http_has_no_certificates(privrepo, http):
    idx = privrepo.index("plain")
    assert idx.url.startswith("http://") and idx.ca_cert is None and idx.client_cert is None
    assert http.get(idx.url).status_code == 200
    assert idx.log[-1].client_cert is None


def test_tls_server_certificate_covers_loopback_names(privrepo, http):
    idx = privrepo.index("tls", tls="tls")
    for host in ("localhost", "127.0.0.1"):
        r = http.get(f"https://{host}:{idx.port}/simple/", verify=idx.ca_cert)
        assert r.status_code == 200
    ctx = ssl.create_default_context(cafile=idx.ca_cert)
    with socket.create_connection(("127.0.0.1", idx.port)) as raw:
        with ctx.wrap_socket(raw, server_hostname="::1") as tls:  # SAN IP ::1 is present
            assert tls.version() is not None


def test_tls_rejected_without_our_ca(privrepo, http):
    idx = privrepo.index("tls", tls="tls")
    with pytest.raises(requests.exceptions.SSLError):
        http.get(idx.url, verify=True)  # certifi bundle does not know our CA


def test_wrong_host_fails_hostname_check(privrepo, http):
    idx = privrepo.index("otherhost", tls="tls", cert_hosts=["other.example"])
    with pytest.raises(requests.exceptions.SSLError, match="(?i)hostname|match|IP address"):
        http.get(idx.url, verify=idx.ca_cert)


@pytest.mark.parametrize("kind", ["none", "expired", "foreign"])
def test_mtls_refuses_bad_client_certificates(privrepo, kind):
    idx = privrepo.index("mtls", tls="mtls")
    cert = {
        "none": None,
        "expired": privrepo.client_cert("old@privrepo.test", expired=True),
        "foreign": privrepo.client_cert("evil@privrepo.test", foreign=True),
    }[kind]
    with pytest.raises((ssl.SSLError, ConnectionResetError, BrokenPipeError)):
        data = mtls_handshake(idx, cert)
        if not data:  # the server closed the connection: no HTTP answer at all
            raise ConnectionResetError("closed")
    assert idx.log.paths == []  # nothing reached the application
    reason = idx.server.wait_for_tls_failure().reason.upper()
    expected = {"none": "CERTIFICATE", "expired": "EXPIRED", "foreign": "CERTIFICATE"}[kind]
    assert expected in reason


def test_mtls_accepts_extra_valid_client_cert_and_logs_subject(privrepo, http):
    idx = privrepo.index("mtls", tls="mtls")
    extra = privrepo.client_cert("bob@privrepo.test", filename="bob.pem")
    assert http.get(idx.url, verify=idx.ca_cert, cert=str(extra)).status_code == 200
    assert "CN=bob@privrepo.test" in idx.log[-1].client_cert
