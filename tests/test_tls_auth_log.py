"""TLS, mutual TLS, authentication and the request log, with real handshakes."""

from __future__ import annotations

import socket
import ssl

import pytest
import requests

from pytest_privrepo import ConfigError


def test_issue_example(privrepo):
    """The example from the README and issue 2, as written."""
    corp = privrepo.index("corp", auth=("alice", "s3cret"), tls="mtls")
    corp.add("corp-utils", "1.2.0", requires=["attrs>=21"], requires_python=">=3.9")
    corp.add("corp-utils", "1.3.0", yanked="broken build")
    assert corp.url.startswith("https://127.0.0.1:") and corp.url.endswith("/simple/")
    assert corp.upload_url == corp.url[: -len("simple/")] + "legacy/"
    assert corp.username == "alice" and corp.password == "s3cret"
    assert corp.auth == ("alice", "s3cret")
    r = requests.get(corp.url + "corp-utils/", auth=corp.auth,
                     verify=corp.ca_cert, cert=corp.client_cert)
    assert r.status_code == 200
    hit = corp.log[-1]
    assert hit.path == "/simple/corp-utils/" and hit.user == "alice"
    assert hit.client_cert is not None and "corp-client" in hit.client_cert


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


def _mtls_handshake(idx, cert):
    """Handshake and one request; in TLS 1.3 the server's refusal shows on the first read."""
    ctx = ssl.create_default_context(cafile=idx.ca_cert)
    if cert:
        ctx.load_cert_chain(cert)
    with socket.create_connection((idx.host, idx.port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            tls.sendall(b"GET /simple/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            return tls.recv(100)


@pytest.mark.parametrize("kind", ["none", "expired", "foreign"])
def test_mtls_refuses_bad_client_certificates(privrepo, kind):
    idx = privrepo.index("mtls", tls="mtls")
    cert = {
        "none": None,
        "expired": privrepo.client_cert("old@privrepo.test", expired=True),
        "foreign": privrepo.client_cert("evil@privrepo.test", foreign=True),
    }[kind]
    with pytest.raises((ssl.SSLError, ConnectionResetError, BrokenPipeError)):
        data = _mtls_handshake(idx, cert)
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


def test_basic_auth_401_challenge_and_wrong_password(privrepo, http):
    idx = privrepo.index("auth", auth=[("alice", "pw1"), ("bob", "pw2")])
    r = http.get(idx.url)
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"].startswith('Basic realm="')
    assert http.get(idx.url, auth=("alice", "nope")).status_code == 401
    assert http.get(idx.url, auth=("mallory", "pw1")).status_code == 401
    assert http.get(idx.url, auth=("bob", "pw2")).status_code == 200
    users = [(h.user, h.auth_ok) for h in idx.log]
    assert users == [(None, None), ("alice", False), ("mallory", False), ("bob", True)]


def test_token_is_user___token__(privrepo, http):
    idx = privrepo.index("tok", token="pypi-secret")
    assert idx.username == "__token__" and idx.auth == ("__token__", "pypi-secret")
    assert http.get(idx.url, auth=("__token__", "pypi-secret")).status_code == 200
    assert http.get(idx.url, auth=("__token__", "wrong")).status_code == 401
    assert http.get(idx.url, headers={"Authorization": "Bearer pypi-secret"}).status_code == 200
    assert idx.log.filter(status=200, user="__token__")


def test_public_read(privrepo, http):
    idx = privrepo.index("pub", auth=("ci", "pw"), public_read=True)
    assert http.get(idx.url).status_code == 200


@pytest.mark.parametrize("status", [403, 404])
def test_anonymous_status_profiles(privrepo, http, status):
    idx = privrepo.index("prof", auth=("ci", "pw"), anonymous_status=status)
    r = http.get(idx.url)
    assert r.status_code == status and "WWW-Authenticate" not in r.headers


@pytest.mark.parametrize("status", [401, 403, 404])
def test_refusals_follow_anonymous_status_for_reads_and_uploads(privrepo, http, status):
    """One refusal rule for pages and uploads: on a 404 index a wrong password gets the
    same 404 as none (nothing tells a probe the index exists); anonymous uploads follow
    anonymous_status instead of always 401."""
    idx = privrepo.index("w", auth=("ci", "pw"), anonymous_status=status)
    rs = [http.get(idx.url), http.get(idx.url, auth=("ci", "nope")),
          http.post(idx.upload_url), http.post(idx.upload_url, auth=("ci", "nope"))]
    assert [(r.status_code, "WWW-Authenticate" in r.headers) for r in rs] == {
        401: [(401, True), (401, True), (401, True), (403, False)],
        403: [(403, False), (401, True), (403, False), (403, False)],
        404: [(404, False)] * 4}[status]
    assert [h.auth_ok for h in idx.log] == [None, False, None, False]


def test_indexes_share_one_host_port_under_prefixes(privrepo, http):
    a = privrepo.index("team-a", auth=("alice", "a"), prefix="/artifactory/api/pypi/team-a")
    b = privrepo.index("team-b", auth=("bob", "b"), share=a)
    assert a.netloc == b.netloc
    assert b.url.endswith("/team-b/simple/")
    a.add("only-in-a", "1.0")
    assert http.get(a.url + "only-in-a/", auth=a.auth).status_code == 200
    assert http.get(b.url + "only-in-a/", auth=b.auth).status_code == 404
    # per-prefix credentials: a's user is not b's user
    assert http.get(b.url, auth=a.auth).status_code == 401
    assert [h.index for h in a.server.log] == ["team-a", "team-b", "team-b"]
    assert len(a.log) == 1 and len(b.log) == 2
    assert http.get(f"http://{a.netloc}/elsewhere/").status_code == 404


def test_mounting_binds_the_origin_into_the_index(privrepo, http):
    from pytest_privrepo.index.origin import Origin

    a = privrepo.index("bound", tls="tls")
    b = privrepo.index("beside", share=a)
    assert a.origin == Origin("https", "127.0.0.1", a.server.port, "")
    assert b.origin == Origin("https", "127.0.0.1", a.server.port, "/beside")
    assert b.url == f"https://127.0.0.1:{a.server.port}/beside/simple/" and b.tls == "tls"
    assert http.get(b.url, verify=b.ca_cert).status_code == 200
    with pytest.raises(ConfigError, match="'bound' is already mounted at https://127.0.0.1:"):
        a.bind(b.server, b.origin, b.tls)  # an index answers at one place only


def test_an_index_has_no_address_until_it_is_mounted(tmp_path):
    from pytest_privrepo import ServerError
    from pytest_privrepo.index import AuthPolicy, Credentials, Index, IndexServer

    index = Index("loose", prefix="/loose", directory=tmp_path, policy=AuthPolicy(Credentials()),
                  ca_cert=None, client_cert=None)
    assert repr(index) == "<Index loose (not mounted) prefix='/loose'>"
    with pytest.raises(ConfigError, match="index 'loose' is not mounted on a server yet"):
        index.url
    with pytest.raises(ServerError, match="mount index 'loose' on a started server"):
        IndexServer().mount(index)  # port 0 is not a port yet: nothing to bind
    assert index.origin is None


def test_server_clear_keeps_its_request_log_and_error_lists(privrepo, http, monkeypatch):
    """HTTPServerBase.clear() assigns new lists; the server's RequestLog must survive it."""
    from pytest_privrepo import RequestLog, ServerError

    idx = privrepo.index("cleared", tls="mtls")
    server, log, errors = idx.server, idx.server.log, idx.server.handler_errors
    assert http.get(idx.url, verify=idx.ca_cert, cert=idx.client_cert).status_code == 200
    with pytest.raises((ssl.SSLError, ConnectionResetError, BrokenPipeError)):
        if not _mtls_handshake(idx, None):
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


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tls": "ssl"}, "unknown tls mode 'ssl'"),
        ({"auth": ("alice",)}, "auth"),
        ({"auth": ("alice", "")}, "empty password"),
        ({"token": ""}, "token"),
        ({"host": "10.0.0.1"}, "not a loopback address"),
        ({"prefix": "nope/"}, "invalid path prefix"),
        ({"anonymous_status": 500}, "anonymous_status"),
    ],
)
def test_bad_arguments_raise_clear_errors(privrepo, kwargs, message):
    with pytest.raises(ConfigError, match=message):
        privrepo.index("bad", **kwargs)
    assert privrepo.indexes == {}


@pytest.mark.parametrize(
    ("name", "version", "message"),
    [("bad name!", "1.0", "name"), ("pkg", "1.x", "malformed version")],
)
def test_bad_distributions_raise_clear_errors(privrepo, name, version, message):
    idx = privrepo.index("dists")
    with pytest.raises(ConfigError, match=message):
        idx.add(name, version)
    assert idx.projects == []


def test_port_in_use_is_a_clear_error(privrepo):
    first = privrepo.index("first")
    with pytest.raises(ConfigError, match=f"port {first.port} .* already in use"):
        privrepo.index("second", port=first.port)


def test_duplicate_index_name(privrepo):
    privrepo.index("twice")
    with pytest.raises(ConfigError, match="already exists"):
        privrepo.index("twice")


def test_server_errors_surface_in_the_test(privrepo, http, monkeypatch):
    from pytest_privrepo import ServerError

    idx = privrepo.index("boom")

    def explode(*args, **kwargs):
        raise RuntimeError("kaboom in handler")

    monkeypatch.setattr(idx, "page", explode)
    r = http.get(idx.url)
    assert r.status_code == 500
    with pytest.raises(ServerError, match="kaboom in handler"):
        privrepo.check()
