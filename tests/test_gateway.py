"""The gateway, named hosts and the egress log, with real sockets and real TLS.

Requests from the test itself go through the gateway like a client's would: requests'
``proxies=`` sends ``CONNECT host:443`` (https) or an absolute URI (http) to it. Real clients
against named hosts and the PyPI stand-in are in the flow tests (test_pypi_*).
"""

from __future__ import annotations

import socket
import threading

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_privrepo import ConfigError, Gateway, Privrepo
from helpers import CLIENT_CN

SECRET = "hush-8b1d"  # a known secret: never in a record, a repr or a message


def get(http: requests.Session, gateway: Gateway, url: str, **kwargs):  # type: ignore[no-untyped-def]
    return http.get(url, proxies=gateway.proxies, timeout=20, **kwargs)


def raw(gateway: Gateway, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=20) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize("tls", [None, "tls", "mtls"])
def test_named_index_answers_at_its_name(privrepo, http, tls) -> None:
    corp = privrepo.index("corp", host="pypi.corp.example", tls=tls, auth=("alice", SECRET))
    corp.add("internal-lib", "1.0")
    scheme = "https" if tls else "http"
    assert corp.url == f"{scheme}://pypi.corp.example/simple/"
    assert corp.access.hostname == "pypi.corp.example"
    kwargs = {"verify": corp.ca_cert} if tls else {}
    if tls == "mtls":
        kwargs["cert"] = corp.client_cert
    page = get(http, privrepo.gateway, corp.url + "internal-lib/", auth=("alice", SECRET), **kwargs)
    assert page.status_code == 200 and "internal_lib-1.0" in page.text
    (record,) = privrepo.egress.to("pypi.corp.example")
    assert (record.method, record.path, record.status, record.index) == (
        "GET", "/simple/internal-lib/", 200, "corp")
    assert record.user == "alice" and record.credentials_of == {"corp"}
    if tls == "mtls":
        assert record.client_cert.startswith(CLIENT_CN)
    else:
        assert record.client_cert is None
    assert SECRET not in repr(record) and SECRET not in repr(corp.access)
    privrepo.egress.assert_no_leaks()


def test_named_tls_index_is_not_trusted_through_the_public_roots(privrepo, http) -> None:
    """The private index is signed by the session CA, not the public one: a client that
    trusts only the default store (the public CA) fails the handshake."""
    corp = privrepo.index("corp", host="pypi.corp.example", tls="tls")
    with pytest.raises(requests.exceptions.SSLError):
        get(http, privrepo.gateway, corp.url, verify=str(privrepo.gateway.trust_bundle))


def test_mtls_named_index_refuses_a_client_without_certificate(privrepo, http) -> None:
    corp = privrepo.index("corp", host="pypi.corp.example", tls="mtls")
    with pytest.raises(requests.exceptions.SSLError):
        get(http, privrepo.gateway, corp.url, verify=corp.ca_cert)
    assert corp.server.wait_for_tls_failure().reason


def test_indexes_share_a_named_host_under_prefixes(privrepo, http) -> None:
    a = privrepo.index("a", host="repo.corp.example", tls="tls", prefix="/api/pypi/a")
    b = privrepo.index("b", host="repo.corp.example", prefix="/api/pypi/b")
    assert b.tls == "tls" and a.server is b.server
    assert b.url == "https://repo.corp.example/api/pypi/b/simple/"
    b.add("only-in-b", "2.0")
    assert get(http, privrepo.gateway, b.url + "only-in-b/", verify=b.ca_cert).status_code == 200
    assert get(http, privrepo.gateway, a.url + "only-in-b/", verify=a.ca_cert).status_code == 404
    assert [r.index for r in privrepo.egress] == ["b", "a"]


def test_two_named_hosts_have_two_netrc_entries(privrepo, client_env) -> None:
    one = privrepo.index("one", host="one.corp.example", auth=("alice", "pw-one-1"))
    two = privrepo.index("two", host="two.corp.example", auth=("bob", "pw-two-2"))
    client_env.write_netrc(one.url, "alice", "pw-one-1")
    client_env.write_netrc(two.url, "bob", "pw-two-2")
    assert client_env.netrc.read_text().count("machine") == 2


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"host": "bad host.example"}, "malformed host name"),
        ({"host": "-x.example"}, "malformed host name"),
        ({"host": "corp"}, "malformed host name"),
        ({"host": "a..b.example"}, "malformed host name"),
        ({"host": "10.1.2.3"}, "not a loopback address"),
        ({"host": "pypi.corp.example", "port": 70000}, "invalid port"),
        ({"host": "pypi.corp.example", "tls": "tls", "cert_hosts": ["x"]}, "cert_hosts"),
    ],
)
def test_bad_named_hosts_are_config_errors(privrepo, kwargs, message) -> None:
    with pytest.raises(ConfigError, match=message):
        privrepo.index("corp", **kwargs)
    assert privrepo.gateway.routes == []


def test_a_host_declared_twice_with_another_tls_mode_is_refused(privrepo) -> None:
    privrepo.index("a", host="pypi.corp.example", tls="tls")
    with pytest.raises(ConfigError, match="one host:port has one TLS mode"):
        privrepo.index("b", host="pypi.corp.example", tls="mtls", prefix="/b")
    with pytest.raises(ConfigError, match="same path prefix"):
        privrepo.index("c", host="pypi.corp.example", tls="tls")


def test_a_host_another_privrepo_declared_is_refused(privrepo, privrepo_gateway, tmp_path) -> None:
    privrepo.index("a", host="pypi.corp.example")
    with Privrepo(tmp_path / "other", gateway=privrepo_gateway) as other:
        with pytest.raises(ConfigError, match="already declared"):
            other.index("a", host="pypi.corp.example")
        other.index("b", host="pypi.corp.example", port=8080)  # another port: another host


def test_closing_a_privrepo_removes_its_hosts(privrepo_gateway, tmp_path, http) -> None:
    with Privrepo(tmp_path / "p", gateway=privrepo_gateway) as repo:
        repo.index("corp", host="gone.corp.example")
        assert privrepo_gateway.route("gone.corp.example", 80) is not None
    assert privrepo_gateway.route("gone.corp.example", 80) is None
    with pytest.raises(requests.exceptions.ProxyError, match="not a declared host"):
        get(http, privrepo_gateway, "https://gone.corp.example/simple/")


def test_an_undeclared_host_is_refused_and_recorded(privrepo, http) -> None:
    with pytest.raises(requests.exceptions.ProxyError,
                       match=r"403 Forbidden \(privrepo: pypi.org:443 is not a declared host\)"):
        get(http, privrepo.gateway, "https://pypi.org/simple/internal-lib/")
    (record,) = privrepo.egress.refused
    assert (record.host, record.port, record.method, record.path) == ("pypi.org", 443, "CONNECT", None)
    assert record.refused and record.status == 403 and record.index is None


def test_an_absolute_uri_to_an_undeclared_host_records_path_and_credentials(privrepo, http) -> None:
    corp = privrepo.index("corp", auth=("alice", SECRET))  # a loopback index
    corp.add("internal-lib", "1.0")
    answer = get(http, privrepo.gateway, "http://pypi.org/simple/internal-lib/", auth=("alice", SECRET))
    assert answer.status_code == 403 and "not a declared host" in answer.text
    (record,) = privrepo.egress
    assert (record.path, record.user, record.credentials_of) == ("/simple/internal-lib/", "alice", {"corp"})
    leaks = privrepo.egress.leaks()
    assert [leak.kind for leak in leaks] == ["credential", "internal-name"]
    with pytest.raises(AssertionError) as failure:
        privrepo.egress.assert_no_leaks()
    text = str(failure.value)
    assert "credentials of index corp reached GET pypi.org:80/simple/internal-lib/" in text
    assert "internal project 'internal-lib' was asked of pypi.org" in text
    assert SECRET not in text


def test_https_host_reached_with_an_absolute_uri_is_refused(privrepo) -> None:
    privrepo.index("corp", host="pypi.corp.example", tls="tls")
    answer = raw(privrepo.gateway, b"GET https://pypi.corp.example/simple/ HTTP/1.1\r\n"
                                   b"Host: pypi.corp.example\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 403 ") and b"send CONNECT" in answer


@pytest.mark.parametrize(
    ("data", "status", "phrase"),
    [
        (b"GET /simple/ HTTP/1.1\r\nHost: x\r\n\r\n", b"400", b"this is a proxy"),
        (b"CONNECT nowhere HTTP/1.1\r\n\r\n", b"400", b"CONNECT needs host:port"),
        (b"garbage\r\n\r\n", b"400", b"malformed request line"),
        (b"GET http://x.example/ HTTP/1.1\r\nbad header\r\n\r\n", b"400", b"malformed header"),
        (b"GET http://x.example/ HTTP/1.1\r\nX: " + b"a" * 70000 + b"\r\n\r\n", b"431", b"longer"),
    ],
)
def test_bad_proxy_requests_get_a_4xx(privrepo, data, status, phrase) -> None:
    answer = raw(privrepo.gateway, data)
    assert answer.split(b" ")[1] == status and phrase in answer
    privrepo.gateway.check()


def test_a_gateway_stops_every_thread(tmp_path, http) -> None:
    before = set(threading.enumerate())
    with Privrepo(tmp_path / "p") as repo:
        corp = repo.index("corp", host="pypi.corp.example", tls="tls")
        held = socket.create_connection(("127.0.0.1", repo.gateway.port))  # an idle client
        assert get(http, repo.gateway, corp.url, verify=corp.ca_cert).status_code == 200
    held.close()
    assert set(threading.enumerate()) <= before


_TOKEN = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=0, max_size=8)
_TARGET = st.one_of(
    st.sampled_from(["pypi.corp.example:80", "pypi.corp.example:443", "pypi.org:443",
                     "http://pypi.corp.example/simple/", "http://pypi.org/x", "[::1]:1",
                     "http://[::1/", "http://pypi.corp.example:99999/", ":443", "x:y"]),
    st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=40),
)
_HEADER = st.tuples(st.text(alphabet="abcXYZ-:", min_size=0, max_size=10),
                    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=30))


@settings(max_examples=40, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(method=st.one_of(st.sampled_from(["CONNECT", "GET", "POST"]), _TOKEN), target=_TARGET,
       version=st.sampled_from(["HTTP/1.1", "HTTP/1.0", "HTTP/2", "", "HTTP/1.1 extra"]),
       headers=st.lists(_HEADER, max_size=4), tail=st.binary(max_size=64))
def test_fuzzed_proxy_requests_never_break_the_gateway(privrepo, method, target, version,
                                                       headers, tail) -> None:
    """Whatever arrives: an answer that is a 2xx tunnel or a 4xx (never a 5xx), and no
    error inside the gateway."""
    if not privrepo.indexes:
        privrepo.index("corp", host="pypi.corp.example")
    head = f"{method} {target} {version}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
    answer = raw(privrepo.gateway, head.encode("latin-1") + b"\r\n" + tail)
    if answer:
        status = answer.split(b" ", 2)[1][:1]
        assert status in (b"2", b"3", b"4"), answer[:200]
    privrepo.gateway.check()
    privrepo.check()


def test_a_failed_handshake_with_a_declared_host_is_recorded(privrepo, http) -> None:
    corp = privrepo.index("corp", host="pypi.corp.example", tls="tls")
    with pytest.raises(requests.exceptions.SSLError):
        get(http, privrepo.gateway, corp.url, verify=str(privrepo.gateway.trust_bundle))
    corp.server.wait_for_tls_failure()
    (record,) = privrepo.egress.tls_failures
    assert (record.host, record.port, record.method, record.path) == ("pypi.corp.example", 443, "CONNECT", None)
    assert record.tls_failure and not record.refused
    assert "TLS handshake failed" in record.describe()
