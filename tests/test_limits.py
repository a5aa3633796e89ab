"""Client-caused bad input gets a 4xx that is logged, and every limit holds whatever the framing.

Each case is one that used to end as a 500 and a ``ServerError`` at teardown, or one that
used to cost the server unbounded memory, descriptors or CPU: a CR/LF in a project name,
a malformed chunked body, both Transfer-Encoding and Content-Length, thousands of file parts,
a chunked body of big text fields, a huge METADATA, an sdist gzip bomb, a zip with too many
members. The requests are sent as raw bytes (``raw_http``) because ordinary clients refuse
to send most of them. Every test checks the answer, the request log, that nothing was stored
and that the index still answers a normal request; ``check()`` after each test turns any
server-side error into a failure.

The last test runs the server in a subprocess and measures its peak memory around single
hostile requests.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
import tarfile
import textwrap
import threading
import time
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import requests

from pytest_privrepo import Index, Privrepo, UploadLimits
from pytest_privrepo.dists import build_sdist, build_wheel
from pytest_privrepo.errors import ConfigError

from raw_http import basic, exchange, open_socket

CI = ("ci", "pw")
AUTH = basic(*CI)
MiB = 1024 * 1024


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory, privrepo_ca) -> Iterator[Privrepo]:
    with Privrepo(tmp_path_factory.mktemp("limits"), ca=privrepo_ca) as repo:
        yield repo


@pytest.fixture(scope="module")
def plain(repo: Privrepo) -> Index:
    index = repo.index("plain", auth=CI)
    index.add("present", "1.0")
    return index


@pytest.fixture(scope="module")
def tls(repo: Privrepo) -> Index:
    index = repo.index("tls", auth=CI, tls="tls")
    index.add("present", "1.0")
    return index


@pytest.fixture(autouse=True)
def _no_server_error(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "repo" in request.fixturenames:
        request.getfixturevalue("repo").check()


def request_bytes(index: Index, method: str, path: str, *headers: str, body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {index.netloc}", f"Authorization: {AUTH}", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def assert_healthy(index: Index) -> None:
    """A normal request still works on a new connection."""
    [response] = exchange(index, request_bytes(index, "GET", "/simple/present/", "Connection: close"))
    assert response.status == 200
    assert b"present-1.0" in response.body


def last_hit(index: Index, count: int = 1):  # type: ignore[no-untyped-def]
    """The last hit, once the log holds at least ``count``: a hit is recorded before its
    response is sent, but a client that got no response may return first."""
    deadline = time.monotonic() + 10
    while len(index.log) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    return index.log[-1]


def staged(index: Index) -> list[str]:
    """Staging files (and any staging directory) left in the upload root."""
    root = index.upload_root
    if not root.exists():
        return []
    return sorted(p.name for p in root.iterdir() if p.name.startswith((".upload-", ".incoming")))


def multipart(parts: list[tuple[str, str | None, bytes]]) -> tuple[bytes, str]:
    """(name, filename or None, data) parts as one multipart/form-data body."""
    boundary = uuid.uuid4().hex
    out = bytearray()
    for name, filename, data in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"


def chunked(body: bytes, size: int = 64 * 1024) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + size]), body[i:i + size])
                    for i in range(0, len(body), size)) + b"0\r\n\r\n"


def upload_form(dist, data: bytes | None = None, **extra: str) -> list[tuple[str, str | None, bytes]]:  # type: ignore[no-untyped-def]
    import hashlib

    content = dist.path.read_bytes() if data is None else data
    fields = {":action": "file_upload", "protocol_version": "1", "name": dist.name,
              "version": dist.version, "filetype": dist.filetype, "pyversion": dist.pyversion,
              "sha256_digest": hashlib.sha256(content).hexdigest(), **extra}
    return [(k, None, v.encode()) for k, v in fields.items()] + [("content", dist.filename, content)]


def post_raw(index: Index, parts, *, chunk: bool = False, extra_headers: tuple[str, ...] = ()):  # type: ignore[no-untyped-def]
    body, content_type = multipart(parts)
    framing = ("Transfer-Encoding: chunked",) if chunk else (f"Content-Length: {len(body)}",)
    data = request_bytes(index, "POST", "/legacy/", f"Content-Type: {content_type}", *framing,
                         *extra_headers, body=chunked(body) if chunk else body)
    return exchange(index, data)


# --------------------------------------------------------------------------- paths


@pytest.mark.parametrize("path", ["/simple/a%0ab/", "/simple/a%0ab", "/simple/a%0d%0aSet-Cookie:x/",
                                  "/simple/%C3%A9/", "/simple/a%00b", "/files/a%0ab/x.whl"])
def test_control_characters_in_a_project_name_get_404(plain: Index, path: str) -> None:
    before = len(plain.log)
    [response] = exchange(plain, request_bytes(plain, "GET", path))
    assert response.status == 404, response
    assert "Location" not in response.headers
    hit = last_hit(plain)
    assert len(plain.log) == before + 1 and hit.status == 404
    assert_healthy(plain)


@pytest.mark.parametrize("method", ["PUT", "DELETE", "POST", "PATCH"])
@pytest.mark.parametrize("path", ["/simple/", "/simple/present/", "/files/present/present-1.0-py3-none-any.whl"])
def test_writes_to_pages_and_files_get_405(plain: Index, method: str, path: str) -> None:
    [response] = exchange(plain, request_bytes(plain, method, path, "Content-Length: 0"))
    assert (response.status, response.headers["Allow"]) == (405, "GET, HEAD")
    assert last_hit(plain).status == 405
    assert [f.filename for f in plain.files("present")] == ["present-1.0-py3-none-any.whl"]


# --------------------------------------------------------------------------- framing


def _framing_case(index: Index, headers: tuple[str, ...], body: bytes) -> None:
    before = len(index.log)
    wheel = index.files("present")[0]
    responses = exchange(index, request_bytes(index, "POST", "/legacy/",
                                              "Content-Type: multipart/form-data; boundary=b",
                                              *headers, body=body)
                         + request_bytes(index, "GET", "/simple/present/"))
    # one 400, then the connection closes: the second request is never read as part of a body
    assert [r.status for r in responses] == [400], responses
    assert responses[0].headers["Connection"] == "close"
    assert len(index.log) == before + 1 and index.log[-1].status == 400
    assert staged(index) == [] and index.files("present") == [wheel]
    assert_healthy(index)


@pytest.mark.parametrize("body", [
    pytest.param(b"zz\r\nhello\r\n0\r\n\r\n", id="not-hex"),
    pytest.param(b"5\r\nhello", id="ends-inside-the-chunked-body"),
    pytest.param(b"1_0\r\n" + b"x" * 16 + b"\r\n0\r\n\r\n", id="underscore-in-size"),
    pytest.param(b"5\r\nhelloXX0\r\n\r\n", id="no-crlf-after-data"),
    pytest.param(b"-5\r\nhello\r\n0\r\n\r\n", id="negative"),
    pytest.param(b"5" * 5000 + b"\r\n", id="chunk-line-too-long"),
    pytest.param(b"0\r\n" + b"X-T: y\r\n" * 3000 + b"\r\n", id="trailers-too-long"),
])
@pytest.mark.parametrize("transport", ["plain", "tls"])
def test_malformed_chunked_body_gets_400(request: pytest.FixtureRequest, transport: str, body: bytes) -> None:
    _framing_case(request.getfixturevalue(transport), ("Transfer-Encoding: chunked",), body)


@pytest.mark.parametrize("headers", [
    pytest.param(("Transfer-Encoding: chunked", "Content-Length: 10"), id="te-and-cl"),
    pytest.param(("Content-Length: 10", "Transfer-Encoding: chunked"), id="cl-and-te"),
    pytest.param(("Transfer-Encoding: gzip, chunked",), id="gzip-chunked"),
    pytest.param(("Transfer-Encoding: chunked, identity",), id="chunked-not-last"),
    pytest.param(("Content-Length: 10", "Content-Length: 12"), id="two-lengths"),
    pytest.param(("Content-Length: -1",), id="negative-length"),
    pytest.param(("Content-Length: 0x10",), id="hex-length"),
    pytest.param(("Content-Length: 1e3",), id="float-length"),
])
def test_ambiguous_framing_gets_400_and_closes(plain: Index, headers: tuple[str, ...]) -> None:
    """RFC 9112 section 6.3: such a request is refused and the connection closed."""
    _framing_case(plain, headers, b"0123456789")


@pytest.mark.parametrize("transport", ["plain", "tls"])
def test_body_shorter_than_its_content_length_gets_400(request: pytest.FixtureRequest, transport: str) -> None:
    """A lying Content-Length, then end of stream: a 400 in the log, nothing staged. (Over
    TLS the client's half-close is an unexpected EOF to the server's TLS layer, which may
    then answer with an alert instead of the 400: the log is what is checked.)"""
    index = request.getfixturevalue(transport)
    body, content_type = multipart([(":action", None, b"file_upload"), ("content", "a.whl", b"x" * 100)])
    data = request_bytes(index, "POST", "/legacy/", f"Content-Type: {content_type}",
                         f"Content-Length: {len(body) + 1000}", body=body)
    before = len(index.log)
    responses = exchange(index, data)
    if transport == "plain":
        assert [r.status for r in responses] == [400]
    assert last_hit(index, before + 1).status == 400 and len(index.log) == before + 1
    assert staged(index) == []
    assert_healthy(index)


@pytest.mark.parametrize(("line", "status"), [
    pytest.param(b"GET /simple/\r\n", 400, id="http-0.9"),
    pytest.param(b"GET /simple/ HTTP/2.0\r\n", 400, id="http-2"),
    pytest.param(b"GET /simple/ HTTP/1.x\r\n", 400, id="bad-version"),
    pytest.param(b"GET\r\n", 400, id="one-word"),
    pytest.param(b"GET / HTTP/1.1 extra\r\n", 400, id="four-words"),
    pytest.param(b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n", 414, id="too-long"),
])
def test_malformed_request_line_gets_4xx_and_is_logged(plain: Index, line: bytes, status: int) -> None:
    before = len(plain.log)
    [response] = exchange(plain, line + f"Host: {plain.netloc}\r\n\r\n".encode())
    assert response.status == status
    assert len(plain.log) == before + 1 and plain.log[-1].status == status
    assert_healthy(plain)


@pytest.mark.parametrize(("headers", "status"), [
    pytest.param([f"X-{i}: y" for i in range(150)], 431, id="too-many"),
    pytest.param(["X-Big: " + "y" * 70000], 431, id="too-long"),
])
def test_oversized_headers_get_431_and_are_logged(plain: Index, headers: list[str], status: int) -> None:
    [response] = exchange(plain, request_bytes(plain, "GET", "/simple/", *headers))
    assert response.status == status
    assert plain.log[-1].status == status
    assert_healthy(plain)


@pytest.mark.parametrize("transport", ["plain", "tls"])
def test_half_sent_requests_at_close_are_not_hits_and_print_nothing(
        tmp_path: Path, privrepo_ca, capfd: pytest.CaptureFixture[str], transport: str) -> None:
    """A request line or header block cut off when the fixture closes is not a request."""
    repo = Privrepo(tmp_path, ca=privrepo_ca)
    index = repo.index("cut", auth=CI, tls=None if transport == "plain" else "tls")
    sockets = [open_socket(index) for _ in range(3)]
    try:
        sockets[0].sendall(b"GET /simple/ HT")
        sockets[1].sendall(b"GET /simple/")
        sockets[2].sendall(f"GET /simple/ HTTP/1.1\r\nHost: {index.netloc}\r\n".encode())
        # wait until the server holds all three connections (their threads are reading)
        deadline = time.monotonic() + 10
        while len(index.server.open_connections()) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(index.server.open_connections()) == 3
        repo.close()  # must not raise
    finally:
        for sock in sockets:
            sock.close()
    assert list(index.log) == []
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")


def test_refused_upload_does_not_invite_the_body(plain: Index, tmp_path: Path) -> None:
    """``Expect: 100-continue``: a request refused from its headers gets no 100 Continue."""
    with open_socket(plain) as sock:
        sock.sendall(f"POST /legacy/ HTTP/1.1\r\nHost: {plain.netloc}\r\nExpect: 100-continue\r\n"
                     "Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 100\r\n\r\n"
                     .encode())
        first = sock.recv(64)
    assert first.startswith(b"HTTP/1.1 401 "), first


# --------------------------------------------------------------------------- upload limits


@pytest.fixture
def fresh(repo: Privrepo) -> Iterator[Index]:
    """An index of its own (limits are changed per test)."""
    index = repo.index(f"fresh-{uuid.uuid4().hex[:8]}", auth=CI)
    index.add("present", "1.0")
    yield index
    assert staged(index) == []
    assert_healthy(index)


def test_thousands_of_file_parts_are_refused_without_a_descriptor_each(fresh: Index, tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path, "many-files", "1.0")
    parts = upload_form(wheel) + [("content", f"x{i}.whl", b"x") for i in range(5000)]
    fds_before = len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else None
    [response] = post_raw(fresh, parts)
    assert response.status == 413
    assert response.reason == "Too many files in one upload: at most 2 file parts."
    assert fresh.uploads == [] and fresh.log[-1].status == 413
    if fds_before is not None:
        assert len(os.listdir("/proc/self/fd")) <= fds_before + 2


def test_too_many_parts_are_refused(fresh: Index, tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path, "many-fields", "1.0")
    parts = [("classifiers", None, b"Topic :: X")] * 1200 + upload_form(wheel)
    [response] = post_raw(fresh, parts, chunk=True)
    assert response.status == 413
    assert fresh.uploads == []


def test_an_index_takes_its_own_limits(repo: Privrepo, tmp_path: Path) -> None:
    """``privrepo.index(upload_limits=...)``: 40 parts pass the default, not a limit of 30."""
    strict = repo.index("strict-limits", auth=CI, upload_limits=UploadLimits(max_parts=30))
    wheel = build_wheel(tmp_path, "few-fields", "1.0")
    parts = [("classifiers", None, b"Topic :: X")] * 25 + upload_form(wheel)
    assert len(parts) > 30
    [response] = post_raw(strict, parts)
    assert (response.status, response.reason) == (413, "Too many form parts in one upload: at most 30.")
    assert strict.uploads == []
    default = repo.index("default-limits", auth=CI)
    [response] = post_raw(default, parts)
    assert response.status == 200, response
    with pytest.raises(ConfigError, match="upload_limits must be an UploadLimits"):
        repo.index("bad-limits", upload_limits={"max_parts": 3})  # type: ignore[arg-type]


@pytest.mark.parametrize("chunk", [False, True], ids=["content-length", "chunked"])
def test_total_request_size_holds_for_chunked_bodies_of_text_fields(
        fresh: Index, tmp_path: Path, chunk: bool) -> None:
    """The issue's case: 20 big text fields, chunked, with ``max_upload_size`` 1 MiB."""
    fresh.max_upload_size = MiB
    fresh.upload_limits = replace(fresh.upload_limits, max_field_size=8 * MiB, max_form_memory=64 * MiB)
    wheel = build_wheel(tmp_path, "fields", "1.0")
    parts = [(f"f{i}", None, b"x" * (MiB // 2)) for i in range(20)] + upload_form(wheel)
    [response] = post_raw(fresh, parts, chunk=chunk)
    assert response.status == 413, response
    assert response.reason == f"File too large. Limit for index {fresh.name!r} is 1 MiB."
    assert fresh.uploads == []


@pytest.mark.parametrize(("limits", "reason"), [
    ({"max_field_size": 1000}, "Form field 'description' is too large: at most 1000 bytes."),
    ({"max_form_memory": 3000}, "Form fields are too large: at most 3000 bytes in all."),
])
def test_field_limits_hold_for_chunked_bodies(fresh: Index, tmp_path: Path, limits, reason: str) -> None:
    fresh.upload_limits = replace(fresh.upload_limits, **limits)
    wheel = build_wheel(tmp_path, "field-limit", "1.0")
    parts = upload_form(wheel, description="d" * 2000, summary="s" * 900, keywords="k" * 900)
    [response] = post_raw(fresh, parts, chunk=True)
    assert (response.status, response.reason) == (413, reason)
    assert fresh.uploads == []


def _wheel_with(tmp_path: Path, name: str, extra: dict[str, bytes], metadata_pad: int = 0) -> tuple:  # type: ignore[type-arg]
    wheel = build_wheel(tmp_path / name, name, "1.0")
    with zipfile.ZipFile(wheel.path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    meta = next(n for n in members if n.endswith(".dist-info/METADATA"))
    members[meta] += b"\n" + b"x" * metadata_pad
    members.update(extra)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for n, data in members.items():
            zf.writestr(n, data)
    return wheel, buf.getvalue()


def test_metadata_over_the_limit_is_refused_before_it_is_read(fresh: Index, tmp_path: Path) -> None:
    wheel, data = _wheel_with(tmp_path, "big-meta", {}, metadata_pad=3 * MiB)
    [response] = post_raw(fresh, upload_form(wheel, data))
    assert response.status == 400
    assert response.reason.startswith("Invalid distribution file: METADATA in ")
    assert response.reason.endswith(f"more than the {2 * MiB} allowed")
    assert fresh.uploads == []


def test_zip_with_too_many_members_is_refused(fresh: Index, tmp_path: Path) -> None:
    fresh.upload_limits = replace(fresh.upload_limits, max_archive_members=50)
    wheel, data = _wheel_with(tmp_path, "crowded", {f"crowded/m{i}.py": b"" for i in range(60)})
    [response] = post_raw(fresh, upload_form(wheel, data))
    assert response.status == 400
    assert "more than 50 archive members" in response.reason
    assert fresh.uploads == []


def _sdist_with(tmp_path: Path, name: str, member_size: int, members: int = 1) -> tuple:  # type: ignore[type-arg]
    """An sdist whose PKG-INFO comes after ``members`` members of ``member_size`` zero bytes."""
    sdist = build_sdist(tmp_path / name, name, "1.0")
    with tarfile.open(sdist.path) as tf:
        originals = [(m, tf.extractfile(m).read() if m.isfile() else None) for m in tf.getmembers()]  # type: ignore[union-attr]
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=1, mtime=0) as gz:
        with tarfile.open(fileobj=gz, mode="w|") as tf:
            for i in range(members):
                info = tarfile.TarInfo(f"{name.replace('-', '_')}-1.0/pad{i}.bin")
                info.size = member_size
                tf.addfile(info, _Zeros(member_size))
            for member, data in originals:
                tf.addfile(member, io.BytesIO(data) if data is not None else None)
    return sdist, buf.getvalue()


class _Zeros(io.RawIOBase):
    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:  # type: ignore[no-untyped-def]
        n = min(len(b), self.left)
        b[:n] = bytes(n)
        self.left -= n
        return n


def test_sdist_gzip_bomb_is_refused_after_the_scan_limit(fresh: Index, tmp_path: Path) -> None:
    fresh.upload_limits = replace(fresh.upload_limits, max_scanned_size=4 * MiB)
    sdist, data = _sdist_with(tmp_path, "bomb", 64 * MiB)
    assert len(data) < MiB
    [response] = post_raw(fresh, upload_form(sdist, data))
    assert response.status == 400
    assert response.reason.endswith(f"decompresses to more than the {4 * MiB} bytes scanned for PKG-INFO")
    assert fresh.uploads == []


def test_sdist_with_too_many_members_is_refused(fresh: Index, tmp_path: Path) -> None:
    fresh.upload_limits = replace(fresh.upload_limits, max_archive_members=100)
    sdist, data = _sdist_with(tmp_path, "crowded-sdist", 0, members=150)
    [response] = post_raw(fresh, upload_form(sdist, data))
    assert response.status == 400
    assert "more than 100 archive members" in response.reason


def test_sdist_under_the_limits_with_pkg_info_last_is_accepted(fresh: Index, tmp_path: Path) -> None:
    sdist, data = _sdist_with(tmp_path, "late-info", MiB, members=3)
    [response] = post_raw(fresh, upload_form(sdist, data))
    assert response.status == 200, response
    assert [u.filename for u in fresh.uploads] == [sdist.filename]


def test_default_limits() -> None:
    """The documented defaults (README, Security)."""
    assert UploadLimits() == UploadLimits(
        max_parts=1000, max_file_parts=2, max_field_size=2 * MiB, max_form_memory=4 * MiB,
        max_metadata_size=2 * MiB, max_archive_members=20_000, max_scanned_size=256 * MiB,
        form_overhead=MiB)


# --------------------------------------------------------------------------- overwrite race


def test_replaced_file_is_never_served_with_the_previous_etag(repo: Privrepo, tmp_path: Path) -> None:
    index = repo.index("etag-race", auth=CI, overwrite=True)
    wheels = [build_wheel(tmp_path / str(i), "racy", "1.0", summary=f"v{i}") for i in range(2)]
    forms = [(w.path.read_bytes(), upload_form(w)) for w in wheels]
    url = index.url.replace("/simple/", "/files/racy/") + wheels[0].filename
    assert post_raw(index, forms[0][1])[0].status == 200
    stop = threading.Event()
    mismatches: list[tuple[str, str]] = []
    seen = 0

    def download() -> None:
        nonlocal seen
        import hashlib

        with requests.Session() as session:
            session.trust_env = False
            while not stop.is_set():
                r = session.get(url, auth=CI, timeout=30)
                assert r.status_code == 200
                seen += 1
                digest = hashlib.sha256(r.content).hexdigest()
                if r.headers["ETag"].strip('"') != digest:
                    mismatches.append((r.headers["ETag"], digest))

    thread = threading.Thread(target=download)
    thread.start()
    try:
        i = 0
        while i < 40 or (seen < 5 and i < 400):  # replacements while downloads run
            assert post_raw(index, forms[(i + 1) % 2][1])[0].status == 200
            i += 1
    finally:
        stop.set()
        thread.join(30)
    assert seen > 0
    assert mismatches == []


# --------------------------------------------------------------------------- memory


_SERVER = textwrap.dedent("""
    import json, os, resource, sys
    from pytest_privrepo import Privrepo

    def status(key):
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
        raise KeyError(key)

    linux = os.path.exists("/proc/self/clear_refs")
    with Privrepo(sys.argv[1]) as repo:
        index = repo.index("mem", auth=("ci", "pw"))
        index.add("present", "1.0")
        print(json.dumps({"port": index.port}), flush=True)
        for line in sys.stdin:
            if line.strip() == "mark":
                if linux:
                    with open("/proc/self/clear_refs", "w") as fh:
                        fh.write("5")  # resets VmHWM to the current RSS
                    print(status("VmRSS"), flush=True)
                else:  # lower bound only: the peak since start-up
                    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, flush=True)
            elif line.strip() == "peak":
                print(status("VmHWM") if linux else
                      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, flush=True)
""")


class _MemServer:
    def __init__(self, root: Path) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", _SERVER, str(root)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, cwd=root)
        self.port = json.loads(self.proc.stdout.readline())["port"]  # type: ignore[union-attr]

    def ask(self, word: str) -> int:
        self.proc.stdin.write(word + "\n")  # type: ignore[union-attr]
        self.proc.stdin.flush()  # type: ignore[union-attr]
        return int(self.proc.stdout.readline())  # type: ignore[union-attr]

    def close(self) -> None:
        self.proc.stdin.close()  # type: ignore[union-attr]
        assert self.proc.wait(30) == 0


class _Target:
    """Just what raw_http needs from an Index, for the subprocess's index."""

    tls = None
    host = "127.0.0.1"

    def __init__(self, port: int) -> None:
        self.port = port
        self.netloc = f"127.0.0.1:{port}"


def test_no_single_request_grows_the_server_by_32_mib(tmp_path: Path) -> None:
    """Peak RSS of the server process (VmHWM, reset before each request) minus its RSS just
    before, after one accepted and one refused warm-up upload."""
    wheel = build_wheel(tmp_path / "w", "mem-wheel", "1.0")
    big_meta, big_meta_data = _wheel_with(tmp_path, "mem-meta", {}, metadata_pad=15 * MiB)
    near_meta, near_meta_data = _wheel_with(tmp_path, "mem-near", {}, metadata_pad=2 * MiB - 4096)
    sdist, bomb = _sdist_with(tmp_path, "mem-bomb", 300 * MiB)
    crowded, crowded_data = _wheel_with(tmp_path, "mem-crowded",
                                        {f"c/m{i}": b"" for i in range(30_000)})
    busy, busy_data = _wheel_with(tmp_path, "mem-busy",
                                  {f"mem_busy/module_{i:05d}.py": b"" for i in range(19_000)})
    big, big_data = _wheel_with(tmp_path, "mem-big", {"mem_big/data.bin": os.urandom(20 * MiB)})
    cases = {
        "20 x 1 MiB text fields, chunked": ([(f"f{i}", None, b"x" * MiB) for i in range(20)]
                                            + upload_form(wheel), True),
        "5,000 file parts": (upload_form(wheel) + [("content", f"x{i}", b"x") for i in range(5000)], False),
        "15 MiB METADATA": (upload_form(big_meta, big_meta_data), False),
        "METADATA just under 2 MiB, accepted": (upload_form(near_meta, near_meta_data), False),
        "sdist gzip bomb (300 MiB of zeros)": (upload_form(sdist, bomb), False),
        "wheel with 30,000 members": (upload_form(crowded, crowded_data), False),
        "wheel with 19,000 members, accepted": (upload_form(busy, busy_data), False),
        "20 MiB wheel + 1.9 MiB description, accepted": (
            upload_form(big, big_data, description="é" * (950 * 1024))
            + [("gpg_signature", "x.asc", b"s" * 1024)], True),
        "120 headers of 60 KiB": (None, False),
    }
    server = _MemServer(tmp_path)
    target = _Target(server.port)
    growth: dict[str, float] = {}
    warm_up = build_wheel(tmp_path / "warm", "mem-warm", "1.0")
    try:
        # lazy imports and the allocator's first arenas are not the request's cost
        assert post_raw(target, upload_form(warm_up))[0].status == 200  # type: ignore[arg-type]
        assert post_raw(target, upload_form(warm_up, b"other"))[0].status == 400  # type: ignore[arg-type]
        for name, (parts, chunk) in cases.items():
            if True:
                before = server.ask("mark")
                if parts is None:
                    responses = exchange(target, b"GET /simple/ HTTP/1.1\r\n"  # type: ignore[arg-type]
                                         + b"".join(b"X-%d: %s\r\n" % (i, b"y" * 60_000) for i in range(120))
                                         + b"\r\n")
                else:
                    responses = post_raw(target, parts, chunk=chunk)  # type: ignore[arg-type]
                peak = server.ask("peak")
                assert responses and all(r.status < 500 for r in responses), (name, responses)
            growth[f"{name} ({responses[0].status})"] = (peak - before) / MiB
    finally:
        server.close()
    report = "\n".join(f"  {name}: +{mib:.1f} MiB" for name, mib in growth.items())
    print("server peak RSS growth per request:\n" + report)
    assert all(mib < 32 for mib in growth.values()), report


# --------------------------------------------------------------------------- time


def test_request_head_dripped_slowly_is_cut_off_at_the_header_deadline(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A socket timeout bounds one read; the header deadline bounds the whole head, so a
    client sending one byte at a time cannot hold a server thread forever."""
    from pytest_privrepo.index.handler import KeepAliveHandler

    monkeypatch.setattr(KeepAliveHandler, "header_timeout", 1.0)
    with Privrepo(tmp_path) as repo:
        index = repo.index("slow", auth=CI)
        with open_socket(index) as sock:
            sock.sendall(b"GET /simple/ HTTP/1.1\r\n")
            started = time.monotonic()
            closed_after = None
            for _ in range(40):  # one header byte every 0.1 s, for up to 4 s
                try:
                    sock.sendall(b"X")
                except OSError:
                    closed_after = time.monotonic() - started
                    break
                sock.settimeout(0.1)
                try:
                    if sock.recv(1) == b"":
                        closed_after = time.monotonic() - started
                        break
                except TimeoutError:
                    pass
        assert closed_after is not None, "the server kept reading the dripped head"
        assert closed_after < 3.5
        assert list(index.log) == []


def test_expect_continue_answered_without_the_body_closes_instead_of_waiting(plain: Index) -> None:
    """A 401 to ``Expect: 100-continue``: the client may never send the body, so the server
    neither waits for it nor sends a late 100 after its answer; it closes the connection."""
    with open_socket(plain, timeout=10) as sock:
        sock.sendall(f"POST /legacy/ HTTP/1.1\r\nHost: {plain.netloc}\r\nExpect: 100-continue\r\n"
                     "Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 100\r\n\r\n"
                     .encode())
        started = time.monotonic()
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert time.monotonic() - started < 5
    assert data.startswith(b"HTTP/1.1 401 ") and b"100 Continue" not in data
    assert b"Connection: close" in data
