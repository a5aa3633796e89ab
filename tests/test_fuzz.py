"""Property-based fuzzing of the index server over raw sockets (HTTP, TLS and mutual TLS).

Hypothesis generates request lines, headers (Range, Accept, Authorization, framing),
paths, multipart upload bodies (with valid and corrupted wheels and sdists), chunked
encodings and content lengths that lie, and sends them as bytes (``raw_http``). For every
case: no response is a 5xx and the server recorded no handler error (``check()``, which is
what would raise ``ServerError`` at teardown). After each test: a normal request still works,
nothing was stored by the refused uploads, and the staging directory is empty.

The CI share is a fixed, derandomized budget (``PRIVREPO_FUZZ_EXAMPLES``, default 25 per
test and transport). ``bench/fuzz_index.py`` runs the same tests with a larger, random
budget and reports the number of cases tried; ``PRIVREPO_FUZZ_REPORT=<file>`` makes this
module write those counts as JSON.
"""

from __future__ import annotations

import base64
import collections
import hashlib
import json
import os
import time
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_privrepo import Index, Privrepo
from pytest_privrepo.dists import build_sdist, build_wheel

from raw_http import basic, exchange

CI = ("ci", "pw")
TRANSPORTS = ["http", "tls", "mtls"]
EXAMPLES = int(os.environ.get("PRIVREPO_FUZZ_EXAMPLES", "25"))
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize="PRIVREPO_FUZZ_EXAMPLES" not in os.environ,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.function_scoped_fixture],
)
CASES: collections.Counter[str] = collections.Counter()


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory, privrepo_ca) -> Iterator[Privrepo]:
    started = time.monotonic()
    with Privrepo(tmp_path_factory.mktemp("fuzz"), ca=privrepo_ca) as repo:
        yield repo
    report = os.environ.get("PRIVREPO_FUZZ_REPORT")
    if report:
        with open(report, "a") as fh:
            fh.write(json.dumps({"cases": dict(CASES), "seconds": time.monotonic() - started}) + "\n")


@pytest.fixture(scope="module")
def indexes(repo: Privrepo, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Index]:
    out = {}
    for transport in TRANSPORTS:
        index = repo.index(f"fuzz-{transport}", auth=CI, tls=None if transport == "http" else transport)
        index.add("present", "1.0")
        out[transport] = index
    return out


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str, bytes]]:
    """A real wheel and sdist to corrupt (the form names them ``sample``)."""
    root = tmp_path_factory.mktemp("fuzz-dists")
    wheel = build_wheel(root, "sample", "1.0")
    sdist = build_sdist(root, "sample", "1.0")
    return {"bdist_wheel": (wheel.filename, wheel.path.read_bytes()),
            "sdist": (sdist.filename, sdist.path.read_bytes())}


@pytest.fixture
def index(request: pytest.FixtureRequest, indexes: dict[str, Index], repo: Privrepo) -> Iterator[Index]:
    index = indexes[request.param]
    before = (tuple(index.uploads), tuple(index.files()))
    yield index
    repo.check()
    assert (tuple(index.uploads), tuple(index.files())) == before, "a fuzz case stored something"
    assert not (index.upload_root / ".incoming").exists()
    assert list(index.upload_root.glob(".upload-*")) == [], "a staging file was left behind"
    healthy(index)


def healthy(index: Index) -> None:
    [response] = exchange(index, request(index, "GET", "/simple/present/",
                                        [f"Authorization: {basic(*CI)}", "Connection: close"]))
    assert response.status == 200 and b"present-1.0" in response.body


def request(index: Index, method: str, target: str, headers: list[str], body: bytes = b"",
            version: str = "HTTP/1.1") -> bytes:
    head = f"{method} {target} {version}\r\nHost: {index.netloc}\r\n" + "".join(h + "\r\n" for h in headers)
    return head.encode("latin-1", "replace") + b"\r\n" + body


def check(index: Index, repo: Privrepo, data: bytes, name: str, *, head: bool = False) -> list[int]:
    CASES[name] += 1
    responses = exchange(index, data, timeout=30, head=head)
    statuses = [r.status for r in responses]
    assert all(s < 500 for s in statuses), (statuses, data[:300])
    repo.check()
    return statuses


parametrize_transport = pytest.mark.parametrize("index", TRANSPORTS, indirect=True)

# --------------------------------------------------------------------------- strategies

_chars = st.characters(codec="latin-1")
_ascii = st.characters(codec="ascii")
PATHS = st.one_of(
    st.sampled_from(["/", "/simple", "/simple/", "/simple/present/", "/simple/Present", "/simple/present",
                     "/files/present/present-1.0-py3-none-any.whl",
                     "/files/present/present-1.0-py3-none-any.whl.metadata",
                     "/legacy", "/legacy/", "*", "//simple/", "/simple/../legacy/",
                     "http://127.0.0.1/simple/", "http://[::1/simple/", "/simple/a%0ab/"]),
    st.builds(lambda a, b: f"/{a}/{b}", st.sampled_from(["simple", "files", "legacy", "x"]),
              st.text(_chars.filter(lambda c: c not in " \r\n"), max_size=30)),
    st.builds(lambda s: "/simple/" + "".join(s) + "/", st.lists(
        st.sampled_from(list("aZ9._-%0aAdD") + ["%0a", "%0d", "%00", "%C3%A9", "%2F", "%25", "?", "#"]),
        max_size=12)),
    st.text(_chars.filter(lambda c: c not in " \r\n"), min_size=1, max_size=40),
)
METHODS = st.one_of(st.sampled_from(["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH",
                                     "TRACE", "CONNECT", "get", ""]),
                    st.text(_ascii.filter(lambda c: c not in " \r\n"), min_size=1, max_size=10))
VERSIONS = st.sampled_from(["HTTP/1.1", "HTTP/1.0", "HTTP/0.9", "HTTP/2.0", "HTTP/1.1.1", "HTTP/x",
                            "http/1.1", "", "HTTP/1.01", "HTTP/001.1"])


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


AUTHORIZATION = st.one_of(
    st.just(basic(*CI)),
    st.builds(lambda u, p: basic(u, p), st.text(max_size=12), st.text(max_size=12)),
    st.builds(lambda raw: "Basic " + _b64(raw), st.binary(max_size=40)),
    st.builds(lambda t: "Basic " + t, st.text(_ascii, max_size=30)),
    st.builds(lambda t: "Bearer " + t, st.text(_ascii.filter(lambda c: c not in "\r\n"), max_size=30)),
    st.builds(lambda s, t: f"{s} {t}", st.sampled_from(["Token", "Digest", "Negotiate", "basic", ""]),
              st.text(_ascii.filter(lambda c: c not in "\r\n"), max_size=20)),
)
RANGES = st.one_of(
    st.builds(lambda a, b: f"bytes={a}-{b}", st.integers(-5, 10_000), st.integers(-5, 10_000)),
    st.builds(lambda a: f"bytes=-{a}", st.integers(0, 10**20)),
    st.builds(lambda a: f"bytes={a}-", st.integers(0, 10**20)),
    st.builds(lambda parts: "bytes=" + ",".join(parts),
              st.lists(st.sampled_from(["0-1", "5-", "-3", "1-0", "x-y", "", "0-0"]), max_size=40)),
    st.text(_ascii.filter(lambda c: c not in "\r\n"), max_size=40),
)
ACCEPT = st.one_of(
    st.builds(lambda items: ", ".join(items), st.lists(st.builds(
        lambda m, q: f"{m};q={q}",
        st.sampled_from(["application/vnd.pypi.simple.v1+json", "application/vnd.pypi.simple.v1+html",
                         "text/html", "*/*", "text/*", "application/json", "x"]),
        st.one_of(st.floats(allow_nan=True).map(str), st.sampled_from(["0", "1", "0.5", "-1", "nan", "1e9", ""]))),
        max_size=6)),
    st.text(_chars.filter(lambda c: c not in "\r\n"), max_size=60),
)
HEADER_VALUE = st.text(_chars.filter(lambda c: c not in "\r\n"), max_size=60)
HEADERS = st.lists(st.one_of(
    st.builds(lambda v: f"Authorization: {v}", AUTHORIZATION),
    st.builds(lambda v: f"Range: {v}", RANGES),
    st.builds(lambda v: f"Accept: {v}", ACCEPT),
    st.builds(lambda v: f"If-None-Match: {v}", HEADER_VALUE),
    st.builds(lambda v: f"If-Range: {v}", HEADER_VALUE),
    st.builds(lambda v: f"If-Modified-Since: {v}", HEADER_VALUE),
    st.builds(lambda v: f"Connection: {v}", st.sampled_from(["close", "keep-alive", "upgrade", "x"])),
    st.builds(lambda v: f"Expect: {v}", st.sampled_from(["100-continue", "nothing"])),
    st.builds(lambda v: f"Host: {v}", HEADER_VALUE),
    st.builds(lambda v: f"Cookie: {v}", HEADER_VALUE),
    st.builds(lambda n, v: f"{n}: {v}", st.text(_ascii.filter(lambda c: c not in ":\r\n"), min_size=1, max_size=12),
              HEADER_VALUE),
    st.builds(lambda v: f" folded {v}", HEADER_VALUE),  # obs-fold continuation line
    st.text(_chars.filter(lambda c: c not in "\r\n"), max_size=30),  # no colon at all
), max_size=8)


def _mutate(data: bytes, flips: list[tuple[int, int]], cut: int | None) -> bytes:
    out = bytearray(data)
    for pos, value in flips:
        out[pos % len(out)] = value
    return bytes(out[:cut] if cut is not None else out)


FIELD_NAMES = st.sampled_from([":action", "protocol_version", "name", "version", "filetype", "pyversion",
                               "metadata_version", "sha256_digest", "md5_digest", "blake2_256_digest",
                               "content", "description", "classifiers", "gpg_signature", "attestations"])


@st.composite
def upload_bodies(draw: st.DrawFn, samples: dict[str, tuple[str, bytes]]) -> tuple[bytes, str]:
    """A multipart form: mostly a plausible upload of a (possibly corrupted) real file."""
    filetype = draw(st.sampled_from(["bdist_wheel", "sdist", "bdist_egg", ""]))
    filename, data = samples.get(filetype, samples["bdist_wheel"])
    if draw(st.booleans()):
        data = _mutate(data, draw(st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=6)),
                       draw(st.one_of(st.none(), st.integers(0, len(data)))))
    filename = draw(st.one_of(st.just(filename), st.just(filename.replace("sample", "Sample")),
                              st.text(_chars.filter(lambda c: c not in '"\r\n'), max_size=40)))
    digest = hashlib.sha256(data).hexdigest() if draw(st.booleans()) else draw(st.text(max_size=64))
    fields = [(":action", draw(st.sampled_from(["file_upload", "submit", ""]))),
              ("protocol_version", "1"), ("name", draw(st.sampled_from(["sample", "Sample", "other", "", "a\nb"]))),
              ("version", draw(st.sampled_from(["1.0", "1.0.0", "2", "x", ""]))), ("filetype", filetype),
              ("sha256_digest", digest)]
    fields += draw(st.lists(st.tuples(FIELD_NAMES, st.text(max_size=40)), max_size=6))
    boundary = draw(st.sampled_from(["xyz", "a" * 70, "b", "--", "é"]))
    out = bytearray()
    for name, value in fields:
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode(
            "utf-8", "replace") + value.encode("utf-8", "replace") + b"\r\n"
    for _ in range(draw(st.integers(1, 3))):
        out += (f'--{boundary}\r\nContent-Disposition: form-data; name="content"; filename="{filename}"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n").encode("utf-8", "replace") + data + b"\r\n"
    if draw(st.booleans()):
        out += f"--{boundary}--\r\n".encode("utf-8", "replace")
    return bytes(out), boundary


@st.composite
def framings(draw: st.DrawFn, body: bytes) -> tuple[list[str], bytes]:
    """Headers and bytes that carry ``body``: honest, lying, chunked (valid or broken), both."""
    kind = draw(st.sampled_from(["length", "short", "long", "chunked", "broken-chunked", "both",
                                 "none", "garbage-length"]))
    if kind == "length":
        return [f"Content-Length: {len(body)}"], body
    if kind == "short":  # claims less: the rest is read as the next request
        return [f"Content-Length: {draw(st.integers(0, max(len(body) - 1, 0)))}"], body
    if kind == "long":  # claims more, then the client half-closes
        return [f"Content-Length: {len(body) + draw(st.integers(1, 10**6))}"], body
    if kind == "garbage-length":
        return [f"Content-Length: {draw(st.sampled_from(['-1', '1e3', '0x10', ' ', '10, 11', '9' * 30]))}"], body
    if kind == "none":
        return [], body
    size = draw(st.integers(1, 4096))
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + size]), body[i:i + size]) for i in range(0, len(body), size))
    chunks += b"0\r\n\r\n"
    if kind == "chunked":
        return ["Transfer-Encoding: chunked"], chunks
    if kind == "both":
        return ["Transfer-Encoding: chunked", f"Content-Length: {len(body)}"], draw(st.sampled_from([body, chunks]))
    # broken chunked: corrupt a few bytes of the framing (or the data), or cut it short
    broken = _mutate(chunks, draw(st.lists(st.tuples(st.integers(0, 10**6),
                                                     st.sampled_from(list(b"\r\nxZ0;-_ 9f"))), min_size=1, max_size=4)),
                     draw(st.one_of(st.none(), st.integers(0, len(chunks)))))
    return ["Transfer-Encoding: chunked"], broken


# --------------------------------------------------------------------------- the properties


@parametrize_transport
@FUZZ
@given(method=METHODS, target=PATHS, version=VERSIONS)
def test_request_lines(index: Index, repo: Privrepo, method: str, target: str, version: str) -> None:
    line = " ".join(p for p in (method, target, version) if p)
    data = line.encode("latin-1", "replace") + f"\r\nHost: {index.netloc}\r\nAuthorization: {basic(*CI)}\r\n\r\n".encode()
    check(index, repo, data, "request line", head=method == "HEAD")


@parametrize_transport
@FUZZ
@given(method=st.sampled_from(["GET", "HEAD"]), target=PATHS, headers=HEADERS)
def test_headers_on_pages_and_files(index: Index, repo: Privrepo, method: str, target: str,
                                    headers: list[str]) -> None:
    if not any(h.startswith("Authorization:") for h in headers):
        headers = [f"Authorization: {basic(*CI)}", *headers]
    check(index, repo, request(index, method, target, headers), "headers", head=method == "HEAD")


@parametrize_transport
@FUZZ
@given(data=st.data())
def test_upload_bodies_and_framings(index: Index, repo: Privrepo, samples, data: st.DataObject) -> None:
    body, boundary = data.draw(upload_bodies(samples))
    framing, payload = data.draw(framings(body))
    headers = [f"Authorization: {data.draw(st.one_of(st.just(basic(*CI)), AUTHORIZATION))}",
               f"Content-Type: {data.draw(st.sampled_from(['multipart/form-data; boundary=', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded', 'text/plain']))}"
               + (boundary if data.draw(st.booleans()) else ""),
               *framing, *data.draw(st.lists(st.sampled_from(["Expect: 100-continue", "Connection: close"]),
                                            max_size=2))]
    # a second request on the same connection: must never be read as part of the body
    tail = request(index, "GET", "/simple/present/", [f"Authorization: {basic(*CI)}"])
    uploads = len(index.uploads)
    statuses = check(index, repo, request(index, "POST", data.draw(st.sampled_from(["/legacy/", "/legacy", "/simple/"])),
                                          headers, payload) + tail, "upload")
    if len(index.uploads) > uploads:  # the fuzzer produced a valid upload: it must say so
        assert statuses[:1] == [200], statuses
        [upload] = index.uploads[uploads:]
        assert upload.sha256 == hashlib.sha256(upload.path.read_bytes()).hexdigest()
        CASES["accepted upload"] += 1
        index.remove(upload.name)  # back to the state the other cases expect
        del index.uploads[uploads:]
    else:
        assert index.files("sample") == [], "a refused upload stored a file"


@parametrize_transport
@FUZZ
@given(prefix=st.binary(max_size=300), junk=st.binary(max_size=200))
def test_raw_bytes(index: Index, repo: Privrepo, prefix: bytes, junk: bytes) -> None:
    """Arbitrary bytes, alone or after a valid request head."""
    valid = request(index, "GET", "/simple/", [f"Authorization: {basic(*CI)}"])
    check(index, repo, prefix, "raw bytes")
    check(index, repo, valid + junk, "raw bytes")
