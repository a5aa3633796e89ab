"""An index server as a whole: the README example, several indexes on one host:port under
path prefixes, mounting (an index has an address only once mounted), and bad arguments,
ports and names raising clear errors; handler errors surface in the test.

TLS is in test_tls.py, authentication in test_index_auth.py, the request log in
test_index_log.py."""

from __future__ import annotations

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
