"""Fault injection: pytest-httpserver's handler API in front of an index, and ready-made faults.

Each fault is checked on the wire first, over raw sockets (plain HTTP and TLS): the exact
bytes a client gets (a 503 with Retry-After, an RST, a head that announces the full length
followed by a cut body and a close, a body arriving piece by piece, a page with a wrong
hash, a TLS alert instead of a ServerHello), and the request log's record of it. Then real
clients show what users meet: pip retries a 503 when told to and succeeds, uv refuses a
wheel whose page hash is wrong, pip fails clearly on a cut download.
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import ssl
import threading
from dataclasses import dataclass

import pytest
import requests
from helpers import flat, uv_release
from packaging.version import Version
from pytest_httpserver import URIPattern
from raw_http import open_socket
from werkzeug.wrappers import Request

from pytest_privrepo import ConfigError, Privrepo
from pytest_privrepo.clients import Pip, Uv
from pytest_privrepo.errors import ServerError
from pytest_privrepo.index import HandlerType
from pytest_privrepo.index.faults import WRONG_METADATA_LINE, wrong_sha256

TLS_MODES = [pytest.param(None, id="http"), pytest.param("tls", id="https")]
WHEEL = "/files/demo/demo-1.0-py3-none-any.whl"


@dataclass
class Wire:
    """What one request got back, byte for byte, and how the connection ended."""

    data: bytes
    #: the error the connection ended with (ConnectionResetError), None for a clean close
    error: OSError | None

    @property
    def head(self) -> bytes:
        return self.data.partition(b"\r\n\r\n")[0]

    @property
    def body(self) -> bytes:
        return self.data.partition(b"\r\n\r\n")[2]

    @property
    def status(self) -> int:
        return int(self.head.split(b" ", 2)[1])

    def header(self, name: str) -> str | None:
        for line in self.head.decode("latin-1").split("\r\n")[1:]:
            key, _, value = line.partition(":")
            if key.strip().lower() == name.lower():
                return value.strip()
        return None


def send(index, path: str, *, headers: str = "", close: bool = True,  # type: ignore[no-untyped-def]
         timeout: float = 20.0) -> Wire:
    """One GET over a fresh connection; everything read until the server ends it.

    ``close=False`` sends no ``Connection: close``: the server would keep the connection
    open after a normal answer, so a close after a cut body is the fault's, not ours.
    """
    sock = open_socket(index, timeout=timeout)
    with sock:
        line = f"GET {index.prefix}{path} HTTP/1.1\r\nHost: {index.netloc}\r\n{headers}"
        sock.sendall((line + ("Connection: close\r\n" if close else "") + "\r\n").encode())
        return read_all(sock)


def read_all(sock: socket.socket, *, tcp: bool = False) -> Wire:
    """Read until the server closes (or, over TLS, until a whole answer is in).

    ``tcp``: read the TCP stream under a TLS socket, where an RST shows as
    ConnectionResetError (Python's ssl reports an RST under TLS as a clean end of stream).
    """
    recv = socket.socket.recv if tcp else type(sock).recv
    chunks: list[bytes] = []
    try:
        while True:
            data = recv(sock, 65536)
            if not data:
                return Wire(b"".join(chunks), None)
            chunks.append(data)
            if tcp or not isinstance(sock, ssl.SSLSocket):
                continue
            wire = Wire(b"".join(chunks), None)
            length = wire.header("Content-Length") if b"\r\n\r\n" in wire.data else None
            if length is not None and len(wire.body) >= int(length):
                return wire  # a complete answer: no need to wait for the TLS close
    except (ConnectionResetError, ssl.SSLError) as exc:
        return Wire(b"".join(chunks), exc)


def demo_index(privrepo, tls: str | None = None, **kwargs):  # type: ignore[no-untyped-def]
    index = privrepo.index("corp", tls=tls, **kwargs)
    index.add("demo", "1.0")
    return index


def log_of(index) -> list[tuple[str, int, str | None]]:  # type: ignore[no-untyped-def]
    return [(h.path, h.status, h.fault) for h in index.log]


# --------------------------------------------------------------------------- the wire


@pytest.mark.parametrize("tls", TLS_MODES)
def test_status_fault_answers_n_times_then_the_index_does(privrepo, tls) -> None:  # type: ignore[no-untyped-def]
    corp = demo_index(privrepo, tls)
    corp.faults.status("/simple/demo/", 503, times=2, retry_after=3)

    first, second, third = (send(corp, "/simple/demo/") for _ in range(3))
    for wire in (first, second):
        assert wire.status == 503 and wire.header("Retry-After") == "3", wire.head
        assert wire.body == b"503 Service Unavailable (privrepo fault)\n"
    assert third.status == 200 and b"demo-1.0-py3-none-any.whl" in third.body
    assert log_of(corp) == [("/simple/demo/", 503, "status")] * 2 + [("/simple/demo/", 200, None)]
    assert corp.faults.all_used()


def test_a_permanent_fault_lasts_until_cleared_and_other_paths_fall_through(privrepo) -> None:  # type: ignore[no-untyped-def]
    corp = demo_index(privrepo)
    corp.faults.status("/simple/demo/", 502)
    assert [send(corp, "/simple/demo/").status for _ in range(3)] == [502] * 3
    assert send(corp, "/simple/").status == 200  # not the fault's path: the index answers
    assert send(corp, WHEEL).status == 200
    corp.faults.clear()
    assert send(corp, "/simple/demo/").status == 200


@pytest.mark.parametrize("tls", TLS_MODES)
def test_reset_aborts_the_connection_with_rst(privrepo, tls) -> None:  # type: ignore[no-untyped-def]
    corp = demo_index(privrepo, tls)
    corp.faults.reset(WHEEL, times=1)

    with open_socket(corp) as sock:
        sock.sendall(f"GET {WHEEL} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        wire = read_all(sock, tcp=True)  # over TLS: only the TLS 1.3 session tickets came
    assert isinstance(wire.error, ConnectionResetError), wire
    assert b"HTTP/1.1" not in wire.data
    assert send(corp, WHEEL).status == 200
    assert log_of(corp)[0] == (WHEEL, 0, "reset")  # no status line was sent: status 0


def test_faults_on_the_upload_api(privrepo, http, tmp_path) -> None:  # type: ignore[no-untyped-def]
    corp = privrepo.index("corp", auth=("ci", "pw"))
    dist = privrepo.build_dist(tmp_path, "corp-app", "0.1.0")
    corp.faults.reset("/legacy/", times=1)
    corp.faults.status("/legacy/", 507, times=1)

    def upload() -> requests.Response:
        fields = {":action": "file_upload", "protocol_version": "1", "name": "corp-app",
                  "version": "0.1.0", "filetype": "bdist_wheel", "pyversion": "py3",
                  "metadata_version": "2.1",
                  "sha256_digest": hashlib.sha256(dist.read_bytes()).hexdigest()}
        return http.post(corp.upload_url, data=fields, auth=("ci", "pw"), timeout=20,
                         files={"content": (dist.name, dist.read_bytes())})

    with pytest.raises(requests.exceptions.ConnectionError):
        upload()  # reset before the body was read
    assert upload().status_code == 507
    assert corp.uploads == []
    assert upload().status_code == 200 and [u.filename for u in corp.uploads] == [dist.name]
    assert [(h.method, h.status, h.fault) for h in corp.log] == [
        ("POST", 0, "reset"), ("POST", 507, "status"), ("POST", 200, None)]


@pytest.mark.parametrize("tls", TLS_MODES)
def test_truncate_announces_the_full_length_then_cuts_and_closes(privrepo, tls) -> None:  # type: ignore[no-untyped-def]
    corp = demo_index(privrepo, tls)
    (stored,) = corp.files("demo")
    corp.faults.truncate(stored, 100, times=1)  # a served file works as the path

    wire = send(corp, WHEEL, close=False)
    assert wire.status == 200 and wire.error is None  # closed (FIN), not reset
    assert wire.header("Content-Length") == str(stored.dist.size) and stored.dist.size > 100
    assert wire.header("Connection") is None  # the head promised a kept-alive connection
    assert wire.body == stored.path.read_bytes()[:100]
    whole = send(corp, WHEEL)
    assert whole.body == stored.path.read_bytes()
    assert log_of(corp) == [(WHEEL, 200, "truncate"), (WHEEL, 200, None)]


def test_truncate_past_the_end_is_an_error_in_the_test(tmp_path) -> None:  # type: ignore[no-untyped-def]
    repo = Privrepo(tmp_path / "repo")
    corp = demo_index(repo)
    corp.faults.truncate(WHEEL, 10**6)
    assert send(corp, WHEEL).status == 500
    with pytest.raises(ServerError, match=r"after_bytes=1000000\): the index's answer has \d+ "
                                          "bytes, so there is nothing to cut"):
        repo.close()


def test_trickle_sends_the_body_slowly_and_clear_lets_the_rest_go(privrepo) -> None:  # type: ignore[no-untyped-def]
    corp = demo_index(privrepo)
    (stored,) = corp.files("demo")
    corp.faults.trickle(WHEEL, 100)  # 10 bytes every 0.1 s: the file would take ~9 s

    with open_socket(corp) as sock:
        sock.sendall(f"GET {WHEEL} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        got = b""
        while b"\r\n\r\n" not in got or got.endswith(b"\r\n\r\n"):
            got += sock.recv(65536)
        assert 0 < len(Wire(got, None).body) < stored.dist.size  # under way, far from done
        corp.faults.clear()  # the waits end: the rest comes at once
        wire = read_all(sock)
    wire = Wire(got + wire.data, wire.error)
    assert wire.header("Content-Length") == str(stored.dist.size)
    assert wire.body == stored.path.read_bytes()
    assert log_of(corp) == [(WHEEL, 200, "trickle")]


def test_latency_delays_the_answer_until_it_is_due_or_cleared(privrepo) -> None:  # type: ignore[no-untyped-def]
    corp = demo_index(privrepo)
    corp.faults.latency("/simple/demo/", 60)
    with open_socket(corp, timeout=0.3) as sock:
        sock.sendall(b"GET /simple/demo/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        with pytest.raises(TimeoutError):
            sock.recv(1)  # nothing for 0.3 s of the 60
        corp.faults.clear()
        sock.settimeout(20)
        wire = read_all(sock)
    assert wire.status == 200 and b"demo-1.0" in wire.body
    assert log_of(corp) == [("/simple/demo/", 200, "latency")]


def test_wrong_sha256_changes_the_hashes_on_both_page_forms_not_the_file(privrepo) -> None:  # type: ignore[no-untyped-def]
    corp = demo_index(privrepo)
    (stored,) = corp.files("demo")
    bad = wrong_sha256(stored.sha256)
    corp.faults.wrong_sha256("Demo")  # any spelling of the name

    html = send(corp, "/simple/demo/")
    assert f"#sha256={bad}".encode() in html.body and stored.sha256.encode() not in html.body
    page = send(corp, "/simple/demo/", headers="Accept: application/vnd.pypi.simple.v1+json\r\n")
    (entry,) = json.loads(page.body)["files"]
    assert entry["hashes"] == {"sha256": bad}
    assert entry["core-metadata"] == {"sha256": stored.metadata_sha256}  # untouched
    assert hashlib.sha256(send(corp, WHEEL).body).hexdigest() == stored.sha256
    assert [h.fault for h in corp.log] == ["wrong_sha256", "wrong_sha256", None]


@pytest.mark.parametrize("kind", ["missing", "wrong"])
def test_metadata_fault_keeps_the_page_and_breaks_the_metadata_file(privrepo, kind) -> None:  # type: ignore[no-untyped-def]
    corp = demo_index(privrepo)
    (stored,) = corp.files("demo")
    corp.faults.metadata("demo", **{kind: True})

    page = send(corp, "/simple/demo/")
    assert f'data-core-metadata="sha256={stored.metadata_sha256}"'.encode() in page.body
    wire = send(corp, WHEEL + ".metadata")
    if kind == "missing":
        assert wire.status == 404
    else:
        assert wire.status == 200 and WRONG_METADATA_LINE in wire.body
        assert hashlib.sha256(wire.body).hexdigest() != stored.metadata_sha256
        assert wire.body.replace(WRONG_METADATA_LINE + b"\n", b"") == stored.dist.metadata
    assert send(corp, WHEEL).status == 200
    assert [h.fault for h in corp.log] == [None, "metadata", None]


def test_body_faults_let_a_401_challenge_through_and_stay_for_the_real_answer(privrepo) -> None:  # type: ignore[no-untyped-def]
    """uv and pip (netrc, keyring) ask anonymously first: the 401 is not the answer the
    fault is about, so it goes out unchanged and does not use up a ``times=1``."""
    corp = demo_index(privrepo, auth=("alice", "pw-a"))
    corp.faults.wrong_sha256("demo", times=1)
    anonymous = send(corp, "/simple/demo/")
    assert anonymous.status == 401 and anonymous.header("WWW-Authenticate")
    auth = "Authorization: Basic " + __import__("base64").b64encode(b"alice:pw-a").decode()
    page = send(corp, "/simple/demo/", headers=auth + "\r\n")
    assert wrong_sha256(corp.files("demo")[0].sha256).encode() in page.body
    assert corp.faults.all_used()
    assert [(h.status, h.user, h.fault) for h in corp.log] == [
        (401, None, None), (200, "alice", "wrong_sha256")]


def test_a_body_fault_on_a_file_not_served_yet_waits_for_it(privrepo) -> None:  # type: ignore[no-untyped-def]
    corp = demo_index(privrepo)
    later = "/files/demo/demo-2.0-py3-none-any.whl"
    corp.faults.truncate(later, 10, times=1)
    assert send(corp, later).status == 404  # the index's own answer; the fault stays
    corp.add("demo", "2.0")
    wire = send(corp, later)
    assert wire.status == 200 and len(wire.body) == 10
    assert [(h.status, h.fault) for h in corp.log] == [(404, None), (200, "truncate")]
    assert corp.faults.all_used()


def test_tls_handshake_failure_sends_a_real_alert_n_times(privrepo) -> None:  # type: ignore[no-untyped-def]
    corp = demo_index(privrepo, "tls")
    corp.faults.tls_handshake_failure(times=2)
    for _ in range(2):
        with pytest.raises(ssl.SSLError, match="ALERT_HANDSHAKE_FAILURE"):
            open_socket(corp)
    assert send(corp, "/simple/demo/").status == 200
    assert [f.reason for f in corp.server.tls_failures] == [
        "privrepo fault: tls_handshake_failure (index 'corp')"] * 2
    assert corp.faults.all_used() and corp.faults.tls_failures_left == 0


# --------------------------------------------------------------------------- the handler API


def test_pytest_httpserver_handlers_below_the_prefix_fall_through_to_the_index(privrepo) -> None:  # type: ignore[no-untyped-def]
    first = demo_index(privrepo)
    team = privrepo.index("team", share=first, prefix="/team")
    team.add("demo", "2.0")

    team.expect_ordered_request("/simple/demo/").respond_with_data("one", status=500)
    team.expect_ordered_request("/simple/demo/").respond_with_json({"two": 2}, status=429)
    team.expect_oneshot_request("/simple/", method="get").respond_with_data("root once")
    team.expect_request(re.compile(r"/files/demo/.*\.metadata")).respond_with_data("", status=410)
    team.expect_request("/simple/demo/", method="POST").respond_with_data("never")

    assert send(team, "/simple/").body == b"root once"  # not the ordered head: goes on
    assert send(team, "/simple/").status == 200  # the oneshot is used up: the index
    assert send(team, "/simple/demo/").status == 500
    wire = send(team, "/simple/demo/")
    assert (wire.status, json.loads(wire.body)) == (429, {"two": 2})
    assert b"demo-2.0" in send(team, "/simple/demo/").body  # ordered used up, GET != POST
    assert send(team, "/files/demo/demo-2.0-py3-none-any.whl.metadata").status == 410
    assert send(first, "/simple/demo/").status == 200  # the other index on the port: no faults
    assert log_of(team) == [
        ("/team/simple/", 200, "handler"), ("/team/simple/", 200, None),
        ("/team/simple/demo/", 500, "handler"), ("/team/simple/demo/", 429, "handler"),
        ("/team/simple/demo/", 200, None),
        ("/team/files/demo/demo-2.0-py3-none-any.whl.metadata", 410, "handler")]
    assert team.faults.all_used() and len(team.faults.handlers) == 2


def test_a_handler_can_bend_the_index_answer_and_unused_ones_are_reported(privrepo) -> None:  # type: ignore[no-untyped-def]
    corp = demo_index(privrepo)

    def louder(request):  # type: ignore[no-untyped-def]
        answer = corp.faults.index_answer(request)
        answer.headers["X-Bent"] = "yes"
        return answer

    class Wheels(URIPattern):
        def match(self, uri: str) -> bool:
            return uri.endswith(".whl")

    corp.expect_request("/simple/demo/", handler_type=HandlerType.ONESHOT).respond_with_handler(louder)
    corp.expect_ordered_request(Wheels()).respond_with_data("", status=503)
    corp.expect_oneshot_request("/simple/", headers={"Authorization": "Basic c2VjcmV0"}
                                ).respond_with_data("")
    wire = send(corp, "/simple/demo/")
    assert wire.status == 200 and wire.header("X-Bent") == "yes" and b"demo-1.0" in wire.body
    assert not corp.faults.all_used()
    with pytest.raises(AssertionError) as unused:
        corp.faults.assert_all_used()
    assert str(unused.value).splitlines() == [
        "index 'corp': injected faults never used:",
        f"    ordered handler <{Wheels.__module__}.{Wheels.__qualname__} object at "
        f"{hex(id(corp.faults.ordered_handlers[0].matcher.uri.pattern))}>",
        "    oneshot handler /simple/ headers={'Authorization': 'Basic ****'}"]
    assert "c2VjcmV0" not in str(unused.value)
    with pytest.raises(ConfigError, match="works inside one of this index's fault handlers only"):
        corp.faults.index_answer(Request.from_values("/simple/demo/"))


def test_handler_errors_surface_as_server_errors(tmp_path) -> None:  # type: ignore[no-untyped-def]
    repo = Privrepo(tmp_path / "repo")
    corp = demo_index(repo)
    corp.expect_oneshot_request("/simple/demo/")  # no respond_with_*: pytest-httpserver's error
    assert send(corp, "/simple/demo/").status == 500
    with pytest.raises(ServerError, match="no response defined: GET /simple/demo/"):
        repo.check()

    def broken(request):  # type: ignore[no-untyped-def]
        raise RuntimeError("handler bug 7")

    corp.expect_request(WHEEL).respond_with_handler(broken)
    assert send(corp, WHEEL).status == 500
    assert log_of(corp) == [("/simple/demo/", 500, "handler"), (WHEEL, 500, "handler")]
    with pytest.raises(ServerError, match="handler bug 7"):
        repo.close()


# --------------------------------------------------------------------------- lifetime


def test_faults_end_with_the_privrepo_even_while_a_request_waits(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Without the clear in the server's stop, the waiting thread would outlive it: stop
    would give up on it after 5 s and raise ServerError."""
    repo = Privrepo(tmp_path / "repo")
    corp = demo_index(repo, "tls")
    corp.faults.latency("/simple/demo/", 600, times=1)
    corp.faults.status("/simple/", 503)
    faults = corp.faults
    answers: list[Wire] = []
    waiting = threading.Thread(target=lambda: answers.append(send(corp, "/simple/demo/")))
    waiting.start()
    for _ in range(2000):  # until the request took the latency handler
        if not faults.oneshot_handlers:
            break
        threading.Event().wait(0.01)
    else:
        pytest.fail("the request never reached the latency fault")
    repo.close()  # no straggler thread, no ServerError
    waiting.join(20)
    assert not waiting.is_alive() and answers
    assert faults.handlers == [] and faults.all_used()


def test_scope_clears_faults_of_a_session_index(privrepo_session) -> None:  # type: ignore[no-untyped-def]
    shared = privrepo_session.indexes.get("faults-shared") or privrepo_session.index("faults-shared")
    shared.add("demo", "1.0")
    with shared.faults.scope() as faults:
        faults.status("/simple/demo/", 500)
        assert send(shared, "/simple/demo/").status == 500
    assert send(shared, "/simple/demo/").status == 200
    assert shared.faults.handlers == []


# --------------------------------------------------------------------------- named hosts


def test_faults_on_a_named_host_behind_the_gateway(privrepo, http) -> None:  # type: ignore[no-untyped-def]
    corp = privrepo.index("corp", host="pypi.corp.example", tls="tls")
    corp.add("demo", "1.0")
    corp.faults.status("/simple/demo/", 502, times=1)
    corp.faults.reset("/simple/", times=1)
    corp.faults.tls_handshake_failure(times=1)

    def get(path: str) -> requests.Response:
        return http.get(corp.base_url + path, proxies=privrepo.gateway.proxies,
                        verify=corp.ca_cert, timeout=20)

    with pytest.raises(requests.exceptions.SSLError, match="ALERT_HANDSHAKE_FAILURE"):
        get("/simple/demo/")
    assert get("/simple/demo/").status_code == 502
    assert get("/simple/demo/").status_code == 200
    # The gateway tunnels bytes: the client gets no answer, the connection ends
    with pytest.raises(requests.exceptions.ConnectionError):
        get("/simple/")
    assert [(r.path, r.status) for r in privrepo.egress.to("pypi.corp.example")] == [
        (None, 0), ("/simple/demo/", 502), ("/simple/demo/", 200), ("/simple/", 0)]
    assert privrepo.egress[0].tls_failure.startswith("privrepo fault: tls_handshake_failure")
    assert corp.faults.all_used()


def test_faults_on_the_pypi_stand_in_reach_its_json_api_and_files_host(privrepo, http) -> None:  # type: ignore[no-untyped-def]
    pypi = privrepo.pypi
    (stored,) = pypi.add("public-lib", "1.0")
    pypi.faults.wrong_sha256("public-lib")
    pypi.faults.truncate(stored, 10, times=1)  # at files.pythonhosted.org/packages/...

    def get(url: str) -> requests.Response:
        return http.get(url, proxies=privrepo.gateway.proxies,
                        verify=str(privrepo.gateway.trust_bundle), timeout=20)

    bad = wrong_sha256(stored.sha256)
    (release,) = get("https://pypi.org/pypi/public-lib/json").json()["urls"]
    assert release["digests"]["sha256"] == bad
    assert bad in get("https://pypi.org/simple/public-lib/").text
    file_url = pypi.file_url(stored)
    with pytest.raises(requests.exceptions.ChunkedEncodingError, match="IncompleteRead"):
        get(file_url)
    assert get(file_url).content == stored.path.read_bytes()
    assert [(h.path, h.fault) for h in pypi.log] == [
        ("/pypi/public-lib/json", "wrong_sha256"), ("/simple/public-lib/", "wrong_sha256"),
        (f"/packages/public-lib/{stored.filename}", "truncate"),
        (f"/packages/public-lib/{stored.filename}", None)]


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(("call", "message"), [
    (lambda f: f.status("/", 503), r"index 'corp' does not serve '/': a fault there could never "
                                   r"fire; index 'corp' serves pages \(/simple/, "),
    (lambda f: f.status("/corp/simple/demo/", 503),
     r"does not serve '/corp/simple/demo/' \(paths are given below the prefix '/corp': use "
     r"'/simple/demo/'\)"),
    (lambda f: f.reset("/simple/a/b/"), "does not serve '/simple/a/b/'"),
    (lambda f: f.reset("/files/demo"), "does not serve '/files/demo'"),
    (lambda f: f.latency("/other/", 1), "does not serve '/other/'"),
    (lambda f: f.status("http://127.0.0.1/simple/", 503), "is a URL: give the path below"),
    (lambda f: f.status("simple/", 503), "must start with '/'"),
    (lambda f: f.status("/simple/?format=json", 503), "match the query with query_string="),
    (lambda f: f.status(b"/simple/", 503), "must be a string, a served file"),
    (lambda f: f.status("/simple/", 503, times=0), "times must be a positive number"),
    (lambda f: f.status("/simple/", 503, times=-2), "times must be a positive number"),
    (lambda f: f.status("/simple/", 503, times=True), "times must be a positive number"),
    (lambda f: f.status("/simple/", 200), "status must be a 4xx or 5xx code, not 200"),
    (lambda f: f.status("/simple/", 503, retry_after=-1), "retry_after must be non-negative"),
    (lambda f: f.status("/simple/", 503, retry_after="1\r\nX: y"), "printable ASCII on one line"),
    (lambda f: f.latency("/simple/", -1), "seconds must be a non-negative number, not -1"),
    (lambda f: f.latency("/simple/", float("nan")), "seconds must be a non-negative number"),
    (lambda f: f.truncate(WHEEL, -5), "after_bytes must be a non-negative number of bytes"),
    (lambda f: f.trickle(WHEEL, 0), "bytes_per_second must be a positive number, not 0"),
    (lambda f: f.wrong_sha256("nope"), r"index 'corp' serves no project 'nope' \(it serves: demo\)"),
    (lambda f: f.wrong_sha256("not a name!"), "invalid project name 'not a name!'"),
    (lambda f: f.metadata("demo"), "exactly one of missing=True or wrong=True"),
    (lambda f: f.metadata("demo", missing=True, wrong=True), "exactly one of"),
    (lambda f: f.tls_handshake_failure(times=1), "serves plain HTTP: there is no TLS handshake"),
    (lambda f: f.expect_request("/simple/", handler_type="oneshot"), "must be a HandlerType"),
    (lambda f: f.expect_request("/simple/", data="x", json={}), "mutually exclusive"),
])
def test_bad_faults_are_config_errors(privrepo, call, message) -> None:  # type: ignore[no-untyped-def]
    corp = demo_index(privrepo, prefix="/corp")
    with pytest.raises(ConfigError, match=message):
        call(corp.faults)
    assert corp.faults.handlers == [] and corp.faults.all_used()


def test_metadata_fault_needs_a_wheel(privrepo) -> None:  # type: ignore[no-untyped-def]
    corp = privrepo.index("corp")
    corp.add("source-only", "1.0", kind="sdist")
    with pytest.raises(ConfigError, match="advertises no .metadata file for 'source-only'"):
        corp.faults.metadata("source-only", wrong=True)


# --------------------------------------------------------------------------- real clients


def test_pip_retries_a_503_with_retry_after_and_succeeds(privrepo, pip: Pip) -> None:  # type: ignore[no-untyped-def]
    """pip's ``--retries`` is urllib3's Retry with status_forcelist [500, 502, 503, 520, 527]
    (pip 24.x, src/pip/_internal/network/session.py), honouring Retry-After."""
    corp = demo_index(privrepo)
    corp.faults.status("/simple/demo/", 503, times=1, retry_after=1)
    pip.retries = 1
    result = pip.install("demo", index=corp)
    assert result.versions == {"demo": "1.0"}
    assert [(h.status, h.fault) for h in corp.log.filter(path="/simple/demo/")] == [
        (503, "status"), (200, None)]
    assert corp.faults.all_used()


def test_pip_without_retries_gives_up_on_a_503(privrepo, pip: Pip) -> None:  # type: ignore[no-untyped-def]
    corp = demo_index(privrepo)
    corp.faults.status("/simple/demo/", 503, times=1)
    result = pip.install("demo", index=corp, check=False)
    assert result.command.returncode != 0
    assert "No matching distribution found for demo" in result.command.output
    assert [h.status for h in corp.log.filter(path="/simple/demo/")] == [503]


def test_uv_reports_a_hash_mismatch_for_a_wrong_sha256(privrepo, uv: Uv) -> None:  # type: ignore[no-untyped-def]
    corp = demo_index(privrepo)
    (stored,) = corp.files("demo")
    corp.faults.wrong_sha256("demo")
    result = uv.pip_install("demo", index=corp, check=False, no_cache=True)
    text = flat(result.command.output)
    assert any(h.path == WHEEL and h.status == 200 for h in corp.log)  # it did download it
    if uv_release(uv) < Version("0.13.9"):
        # uv 0.8.14 installs the wheel although its sha256 is not the page's (the release
        # that started checking is not bisected)
        assert result.command.returncode == 0, text
        return
    assert result.command.returncode != 0
    assert "Hash mismatch for `demo==1.0`" in text, text
    assert f"sha256:{wrong_sha256(stored.sha256)}" in text and f"sha256:{stored.sha256}" in text


PIPS = [pytest.param(None, id="pip-installed"), pytest.param("24.2", id="pip-24.2")]


@pytest.mark.parametrize("pip", PIPS, indirect=True)
def test_pip_on_a_download_cut_once(privrepo, pip: Pip) -> None:  # type: ignore[no-untyped-def]
    """From pip 25.2 a cut download is resumed with a Range request (``--resume-retries``,
    default 5; pip's NEWS, pypa/pip#13464). pip 24.2 does not notice the short body at all
    (its vendored urllib3 1.26.18: ``enforce_content_length=False``): only the page's sha256
    stops the install, reported as a hash mismatch of the first 100 bytes."""
    corp = demo_index(privrepo)
    (stored,) = corp.files("demo")
    corp.faults.truncate(WHEEL, 100, times=1)
    result = pip.install("demo", index=corp, check=False, no_cache=True)
    downloads = corp.log.filter(path=WHEEL)
    if Version(pip.version()) >= Version("25.2"):
        assert result.versions == {"demo": "1.0"}, result.command.output
        assert [(h.status, h.fault, h.header("Range")) for h in downloads] == [
            (200, "truncate", None), (206, None, "bytes=100-")]
    else:
        text = flat(result.command.output)
        assert result.command.returncode != 0
        cut = hashlib.sha256(stored.path.read_bytes()[:100]).hexdigest()
        assert ("THESE PACKAGES DO NOT MATCH THE HASHES FROM THE REQUIREMENTS FILE" in text
                and f"Expected sha256 {stored.sha256} Got {cut}" in text), text
        assert [(h.status, h.fault) for h in downloads] == [(200, "truncate")]


@pytest.mark.parametrize("pip", [pytest.param("26.3", id="pip-26.3")], indirect=True)
def test_pip_gives_up_on_a_download_cut_every_time(privrepo, pip: Pip) -> None:  # type: ignore[no-untyped-def]
    """pip 26.3 resumes a cut download 5 times (pip >= 25.2; older ones do not resume:
    test_pip_on_a_download_cut_once), then gives up."""
    corp = demo_index(privrepo)
    (stored,) = corp.files("demo")
    corp.faults.truncate(WHEEL, 100)  # every answer, the resumed 206 ones too
    result = pip.install("demo", index=corp, check=False, no_cache=True)
    text = flat(result.command.output)
    assert result.command.returncode != 0
    assert ("error: incomplete-download × Download failed after 6 attempts because not enough "
            f"bytes were received (600 bytes/{stored.dist.size} bytes)") in text, text
    assert [(h.status, h.fault) for h in corp.log.filter(path=WHEEL)] == (
        [(200, "truncate")] + [(206, "truncate")] * 5)


def test_uv_fails_clearly_on_a_truncated_download(privrepo, uv: Uv) -> None:  # type: ignore[no-untyped-def]
    corp = demo_index(privrepo)
    corp.faults.truncate(WHEEL, 100)
    result = uv.pip_install("demo", index=corp, check=False, no_cache=True)
    text = flat(result.command.output)
    assert result.command.returncode != 0
    assert "Failed to download `demo==1.0`" in text, text
    assert "end of file before message length reached" in text, text
    assert {(h.status, h.fault) for h in corp.log.filter(path=WHEEL)} == {(200, "truncate")}


@pytest.mark.parametrize("client", ["pip", "uv"])
@pytest.mark.parametrize("kind", ["missing", "wrong"])
def test_a_broken_advertised_metadata_file_stops_the_install(privrepo, pip: Pip, uv: Uv,  # type: ignore[no-untyped-def]
                                                             client: str, kind: str) -> None:
    """Neither pip 26.3 nor uv 0.13.9 falls back to the wheel when the ``.metadata`` file
    the page advertises (PEP 658) is missing: a proxy that passes pages but not metadata
    files breaks every install. A wrong one is caught by the advertised hash."""
    corp = demo_index(privrepo)
    (stored,) = corp.files("demo")
    corp.faults.metadata("demo", **{kind: True})
    url = corp.base_url + WHEEL + ".metadata"
    if client == "pip":
        run = pip.install("demo", index=corp, check=False, no_cache=True).command
    else:
        run = uv.pip_install("demo", index=corp, check=False, no_cache=True).command
    text = flat(run.output)
    assert run.returncode != 0
    wrong = hashlib.sha256(stored.dist.metadata.replace(
        b"\n", b"\n" + WRONG_METADATA_LINE + b"\n", 1)).hexdigest()
    expected = {
        ("pip", "missing"): f"ERROR: HTTP error 404 while getting {url}",
        ("uv", "missing"): f"error: Failed to fetch: {url} cause: HTTP status client error "
                           f"(404 NOT FOUND) for url ({url})",
        ("pip", "wrong"): f"THESE PACKAGES DO NOT MATCH THE HASHES FROM THE REQUIREMENTS FILE. "
                          f"If you have updated the package versions, please update the hashes. "
                          f"Otherwise, examine the package contents carefully; someone may have "
                          f"tampered with them. demo from {corp.base_url + WHEEL}: Expected sha256 "
                          f"{stored.metadata_sha256} Got {wrong}",
        ("uv", "wrong"): f"error: Hash mismatch for package metadata at `{url}` Expected: "
                         f"sha256:{stored.metadata_sha256} Computed: sha256:{wrong}",
    }[client, kind]
    if client == "uv" and uv_release(uv) < Version("0.13.9"):
        # uv 0.8.14: "error: Failed to fetch: `<url>` Caused by: HTTP status client error (404
        # NOT FOUND) ..."; a wrong .metadata is not checked against its advertised hash: the
        # planted Requires-Dist is resolved, and fails
        expected = "404 NOT FOUND" if kind == "missing" else (
            "privrepo-wrong-metadata was not found in the package registry")
        assert kind == "wrong" or url in text, text
    assert expected in text, text
    assert not corp.log.downloads  # the wheel itself was never asked for
