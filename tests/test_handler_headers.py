"""The server's own header parsing gives what the stdlib's would have given.

``KeepAliveHandler.parse_request`` reads the header block itself and builds plain
``name: value`` lines without the email parser (issue 15: that parser was a fifth of a
request's cost). These tests hold it to the stdlib: for any header block, odd ones
included (continuation lines, lines without a colon, a CR inside a value, trailing blanks,
Latin-1 bytes), :func:`parse_header_lines` answers exactly what
``http.client.parse_headers`` answers; and on a real socket the answers to requests with
such headers are what a client expects.
"""

from __future__ import annotations

import http.client
import io
from urllib.parse import urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_privrepo.index.handler import MAX_HEADERS, parse_header_lines
from pytest_privrepo.index.simple import MIME_JSON, MIME_TEXT_HTML, negotiate, negotiate_header
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from raw_http import exchange

_NAME = st.text(st.sampled_from("AZaz09-_.!#~'`|^+*%&$"), min_size=1, max_size=12)
_VALUE = st.binary(max_size=40).map(lambda b: b.replace(b"\n", b""))  # CR, NUL, Latin-1 kept
_LINE = st.one_of(
    st.builds(lambda n, v: n.encode() + b": " + v, _NAME, _VALUE),
    st.builds(lambda n, v: n.encode() + b":" + v, _NAME, _VALUE),  # no blank after the colon
    st.builds(lambda n, v: n.encode() + b":\t " + v + b" \t", _NAME, _VALUE),  # blanks both sides
    st.builds(lambda n, v: n.encode() + b" : " + v, _NAME, _VALUE),  # blank before the colon
    st.builds(lambda v: b" folded " + v, _VALUE),  # obs-fold continuation
    st.builds(lambda v: b"no colon " + v, _VALUE),
    st.sampled_from([b"From nobody", b"Host: 127.0.0.1:8080", b"Accept: */*", b":", b"X:"]),
)
_ENDINGS = st.sampled_from([b"\r\n", b"\n"])


def _stdlib(lines: list[bytes]) -> list[tuple[str, str]]:
    return list(http.client.parse_headers(io.BytesIO(b"".join(lines))).items())


@settings(max_examples=400, derandomize=True, deadline=None)
@given(st.lists(st.tuples(_LINE, _ENDINGS), max_size=8), st.sampled_from([b"\r\n", b"\n", b""]))
def test_any_header_block_parses_as_the_stdlib_parses_it(pairs, end):
    lines = [line + ending for line, ending in pairs] + [end]
    ours = parse_header_lines(lines, http.client.HTTPMessage)
    assert isinstance(ours, http.client.HTTPMessage)
    assert list(ours.items()) == _stdlib(lines)


def test_plain_headers_keep_trailing_blanks_and_duplicates_like_the_stdlib():
    lines = [b"Accept:  text/html \r\n", b"X-A: 1\r\n", b"x-a: 2\r\n", b"\r\n"]
    ours = parse_header_lines(lines, http.client.HTTPMessage)
    assert list(ours.items()) == [("Accept", "text/html "), ("X-A", "1"), ("x-a", "2")]
    assert ours.get_all("X-A") == ["1", "2"]
    assert list(ours.items()) == _stdlib(lines)


@settings(max_examples=200, derandomize=True, deadline=None)
@given(st.one_of(st.none(), st.text(max_size=60),
                 st.lists(st.sampled_from([MIME_JSON, MIME_TEXT_HTML, "*/*;q=0.1", "text/*",
                                           "application/vnd.pypi.simple.v1+html;q=0.2"]),
                          max_size=4).map(", ".join)),
       st.one_of(st.none(), st.sampled_from(["json", "html", "x", MIME_JSON])))
def test_negotiation_from_the_raw_header_is_what_the_request_object_gave(accept, fmt):
    # What _serve_page negotiated before: werkzeug's Request.accept_mimetypes.
    environ = EnvironBuilder().get_environ()
    if accept is not None:  # as the server's environ has it, whatever the characters
        environ["HTTP_ACCEPT"] = accept
    before = negotiate(Request(environ).accept_mimetypes, fmt)
    assert negotiate_header(accept, fmt) == before
    assert negotiate_header(accept, fmt) == before  # remembered: the same answer again


@pytest.fixture(scope="module")
def index(privrepo_session):
    """One index for this module's raw-socket tests (a session privrepo's names are unique)."""
    served = privrepo_session.index("hdrs")
    served.add("demo", "1.0")
    return served


def test_requests_with_odd_headers_get_their_answers_on_one_connection(index):
    page = urlsplit(index.url).path.encode() + b"demo/"
    request = (b"GET " + page + b" HTTP/1.1\r\nHost: x\r\n"
               b"Accept: application/vnd.pypi.simple.v1+json\r\n"
               b"X-Folded: one\r\n  two\r\n"  # continuation: the stdlib's parser
               b"\r\n"
               b"GET " + page + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    first, second = exchange(index, request)
    assert first.status == 200 and first.headers["Content-Type"] == MIME_JSON
    assert second.status == 200 and second.headers["Connection"] == "close"
    assert [(h.path, h.accept) for h in index.log][-2:] == [
        (page.decode(), MIME_JSON), (page.decode(), None)]
    folded = index.log[-2].header("X-Folded")
    assert folded is not None and folded.split() == ["one", "two"]


@pytest.mark.parametrize(("count", "status"), [(MAX_HEADERS - 1, 200), (MAX_HEADERS, 431)])
def test_header_count_limit_is_the_stdlibs(index, count, status):
    # http.client counts the empty line that ends the block: 99 header lines at most.
    lines = b"Host: x\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(count - 1))
    root = urlsplit(index.url).path.encode()
    (answer,) = exchange(index, b"GET " + root + b" HTTP/1.1\r\n" + lines + b"\r\n")
    assert answer.status == status
    assert index.server.log[-1].status == status


@pytest.mark.parametrize("version", ["HTTP/1.\xb9", "HTTP/\xb2.1", "HTTP/1."])
def test_a_version_that_is_not_two_ascii_numbers_is_400_and_logged(index, version):
    root = urlsplit(index.url).path.encode()
    (answer,) = exchange(index, b"GET " + root + b" " + version.encode("latin-1")
                         + b"\r\nHost: x\r\n\r\n")
    assert answer.status == 400
    assert index.server.log[-1].status == 400
