"""The request log: what a hit records (and that secrets are never recorded), clearing it,
and that the server's RequestLog survives pytest-httpserver's inherited ``clear()``."""

from __future__ import annotations

import ssl

import pytest
from helpers import mtls_handshake


def test_server_clear_keeps_its_request_log_and_error_lists(privrepo, http, monkeypatch):
    """HTTPServerBase.clear() assigns new lists; the server's RequestLog must survive it."""
    from pytest_privrepo import RequestLog, ServerError

    idx = privrepo.index("cleared", tls="mtls")
    server, log, errors = idx.server, idx.server.log, idx.server.handler_errors
    assert http.get(idx.url, verify=idx.ca_cert, cert=idx.client_cert).status_code == 200
    with pytest.raises((ssl.SSLError, ConnectionResetError, BrokenPipeError)):
        if not mtls_handshake(idx, None):
            raise ConnectionResetError("closed")
    server.wait_for_tls_failure()
    server.clear()
    assert server.log is log and isinstance(log, RequestLog) and len(log) == 0
    assert server.tls_failures == [] and server.handler_errors is errors
    assert len(idx.log) == 1  # the index's own log is not the server's
    assert http.get(idx.url, verify=idx.ca_cert, cert=idx.client_cert).status_code == 200
    assert [hit.path for hit in server.log] == ["/simple/"]

    def explode(*args, **kwargs):
        raise RuntimeError("after clear")

    monkeypatch.setattr(idx, "page", explode)
    assert http.get(idx.url, verify=idx.ca_cert, cert=idx.client_cert).status_code == 500
    with pytest.raises(ServerError, match="after clear"):  # errors still reach the test
        privrepo.check()


def test_request_log_records_everything(privrepo, http):
    idx = privrepo.index("log", auth=("alice", "pw"))
    idx.add("pkg", "1.0")
    http.get(idx.url + "pkg/?x=1", auth=idx.auth, headers={"User-Agent": "probe/1.0"})
    (hit,) = idx.log.filter(path="/simple/pkg/")
    assert (hit.method, hit.query, hit.status, hit.user) == ("GET", "x=1", 200, "alice")
    assert hit.user_agent == "probe/1.0" and hit.host == idx.netloc
    assert hit.header("authorization") is None  # secrets never recorded
    assert "pw" not in repr(hit)
    idx.log.clear()
    assert len(idx.log) == 0
