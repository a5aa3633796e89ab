"""Fixture behaviour, checked with pytester: available without a conftest, clean teardown."""

from __future__ import annotations

import socket
import threading

import pytest

pytest_plugins = ["pytester"]


def _privrepo_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("privrepo-")]


def _port_closed(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def test_fixture_needs_no_conftest(pytester):
    pytester.makepyfile(
        """
        import requests

        def test_it(privrepo):
            idx = privrepo.index("corp", auth=("u", "p"), tls="tls")
            idx.add("pkg", "1.0")
            s = requests.Session(); s.trust_env = False
            assert s.get(idx.url + "pkg/", auth=idx.auth, verify=idx.ca_cert).status_code == 200
        """
    )
    pytester.runpytest_inprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_everything_stops_when_the_test_fails(pytester, tmp_path):
    record = tmp_path / "ports.txt"
    pytester.makepyfile(
        f"""
        import requests

        def test_fails(privrepo):
            a = privrepo.index("a", tls="mtls")
            b = privrepo.index("b", share=a)
            c = privrepo.index("c")
            s = requests.Session(); s.trust_env = False
            # leave a keep-alive connection open on purpose
            s.get(c.url)
            open({str(record)!r}, "w").write(f"{{a.port}} {{c.port}}")
            assert False, "the test fails"
        """
    )
    before = set(_privrepo_threads())
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    ports = [int(p) for p in record.read_text().split()]
    assert all(_port_closed(p) for p in ports)
    assert set(_privrepo_threads()) - before == set()


def test_server_side_errors_fail_the_test_in_teardown(pytester):
    pytester.makepyfile(
        """
        import requests

        def test_it(privrepo, monkeypatch):
            idx = privrepo.index("x")
            monkeypatch.setattr(idx, "page", lambda *a: 1 / 0)
            s = requests.Session(); s.trust_env = False
            assert s.get(idx.url).status_code == 500
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*ServerError*", "*ZeroDivisionError*"])


def test_session_fixture_is_shared(pytester):
    pytester.makepyfile(
        """
        import pytest

        @pytest.fixture(scope="session")
        def shared(privrepo_session):
            idx = privrepo_session.index("shared")
            idx.add("pkg", "1.0")
            return idx

        def test_one(shared):
            pytest.port = shared.port

        def test_two(shared):
            assert shared.port == pytest.port
            assert shared.projects == ["pkg"]
        """
    )
    pytester.runpytest_inprocess("-p", "no:cacheprovider").assert_outcomes(passed=2)


def test_parallel_workers_get_their_own_ports_and_dirs(pytester):
    pytester.makepyfile(
        """
        import pytest, requests

        @pytest.mark.parametrize("n", range(8))
        def test_many(privrepo, n):
            idx = privrepo.index("corp", auth=("u", "p"), tls="mtls")
            idx.add("pkg", f"1.{n}")
            s = requests.Session(); s.trust_env = False
            r = s.get(idx.url + "pkg/", auth=idx.auth, verify=idx.ca_cert,
                      cert=idx.client_cert, headers={"Accept": "application/vnd.pypi.simple.v1+json"})
            assert r.json()["versions"] == [f"1.{n}"]
        """
    )
    result = pytester.runpytest_subprocess("-n", "2", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=8)


def test_files_live_in_the_tests_tmp_dir(privrepo, tmp_path):
    idx = privrepo.index("corp", tls="mtls")
    idx.add("pkg", "1.0")
    for path in (idx.ca_cert, idx.client_cert, idx.files()[0].path):
        assert str(path).startswith(str(tmp_path))


def test_standalone_privrepo_removes_its_temp_dir():
    from pytest_privrepo import Privrepo

    with Privrepo() as repo:
        idx = repo.index("x", tls="tls")
        root = repo.root
        assert root.is_dir()
    assert not root.exists()
    assert _port_closed(idx.port)


def test_a_failed_start_leaves_nothing_running(privrepo):
    from pytest_privrepo import ConfigError

    before = set(_privrepo_threads())
    first = privrepo.index("first")
    with pytest.raises(ConfigError):
        privrepo.index("second", port=first.port)
    assert set(_privrepo_threads()) - before == {first.server.server_thread}


def test_named_hosts_live_for_one_test_and_the_gateway_for_the_session(pytester):
    """Downstream use: a named index and the PyPI stand-in in one test are gone in the next
    (their names are refused again), while both tests share one gateway; a failing leak
    check shows in the report without the secret."""
    pytester.makepyfile(
        """
        import pytest, requests

        SEEN = {}

        def fetch(gateway, url, **kw):
            s = requests.Session(); s.trust_env = False
            return s.get(url, proxies=gateway.proxies, timeout=20, **kw)

        def test_first(privrepo, privrepo_gateway, client_env):
            corp = privrepo.index("corp", host="pypi.corp.example", tls="tls",
                                  auth=("alice", "hush-31337"))
            privrepo.pypi.add("pkg", "1.0")
            assert client_env.vars["HTTPS_PROXY"] == privrepo_gateway.proxy_url
            assert client_env.vars["SSL_CERT_FILE"] == str(privrepo_gateway.trust_bundle)
            assert fetch(privrepo_gateway, corp.url, verify=corp.ca_cert,
                         auth=("alice", "hush-31337")).status_code == 200
            SEEN["gateway"] = privrepo_gateway.port

        def test_second(privrepo, privrepo_gateway):
            assert privrepo_gateway.port == SEEN["gateway"]
            for url in ("https://pypi.corp.example/simple/", "https://pypi.org/simple/"):
                with pytest.raises(requests.exceptions.ProxyError, match="not a declared host"):
                    fetch(privrepo_gateway, url)
            assert len(privrepo.egress.refused) == 2

        def test_leak_is_reported(privrepo):
            corp = privrepo.index("corp", auth=("alice", "hush-31337"))
            corp.add("internal", "1.0")
            privrepo.pypi
            fetch(privrepo.gateway, "https://pypi.org/simple/internal/",
                  verify=str(privrepo.gateway.trust_bundle), auth=("alice", "hush-31337"))
            privrepo.egress.assert_no_leaks()
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*2 leak(s) through the gateway*",
                                 "*credentials of index corp reached GET pypi.org:443/simple/internal/*"])
    assert "hush-31337" not in result.stdout.str()
