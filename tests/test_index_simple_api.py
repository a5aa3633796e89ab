"""The read side of an index, checked through an independent parser (pypi-simple)."""

from __future__ import annotations

import hashlib
import json

import pytest
from packaging.specifiers import SpecifierSet
from pypi_simple import ACCEPT_HTML_ONLY, ACCEPT_JSON_ONLY, IndexPage, ProjectPage

JSON = "application/vnd.pypi.simple.v1+json"
HTML = "application/vnd.pypi.simple.v1+html"
PIP_ACCEPT = f"{JSON}, {HTML}; q=0.1, text/html; q=0.01"


@pytest.fixture(scope="module")
def shared(privrepo_session):
    """One read-only index for the module: pages and files do not change between tests."""
    idx = privrepo_session.index("simple-api-tests")
    idx.add("corp-utils", "1.2.0", requires=["attrs>=21"], requires_python=">=3.9,<4", kind="both")
    idx.add("corp-utils", "1.3.0", yanked="broken build")
    idx.add("corp-utils", "1.1.0", yanked=True)
    idx.add("Other.Pkg", "2.0")
    return idx


@pytest.mark.parametrize("accept", [ACCEPT_JSON_ONLY, ACCEPT_HTML_ONLY])
def test_project_page_parses_in_both_formats(shared, http, accept):
    r = http.get(shared.url + "corp-utils/", headers={"Accept": accept})
    assert r.status_code == 200
    page = ProjectPage.from_response(r, "corp-utils")
    by_name = {p.filename: p for p in page.packages}
    assert set(by_name) == {
        "corp_utils-1.2.0-py3-none-any.whl",
        "corp_utils-1.2.0.tar.gz",
        "corp_utils-1.3.0-py3-none-any.whl",
        "corp_utils-1.1.0-py3-none-any.whl",
    }
    wheel = by_name["corp_utils-1.2.0-py3-none-any.whl"]
    assert SpecifierSet(wheel.requires_python) == SpecifierSet(">=3.9,<4")
    assert not wheel.is_yanked
    assert wheel.has_metadata is True
    assert by_name["corp_utils-1.2.0.tar.gz"].has_metadata in (None, False)
    assert by_name["corp_utils-1.3.0-py3-none-any.whl"].yanked_reason == "broken build"
    assert by_name["corp_utils-1.1.0-py3-none-any.whl"].is_yanked
    # hashes on the page are the hashes of the bytes served
    body = http.get(wheel.url).content
    assert wheel.digests["sha256"] == hashlib.sha256(body).hexdigest()
    metadata = http.get(wheel.url + ".metadata").content
    assert wheel.metadata_digests["sha256"] == hashlib.sha256(metadata).hexdigest()
    assert b"Requires-Dist: attrs>=21" in metadata


def test_json_carries_pep700_fields(shared, http):
    r = http.get(shared.url + "corp-utils/", headers={"Accept": JSON})
    data = r.json()
    assert r.headers["Content-Type"] == JSON
    assert data["meta"]["api-version"].startswith("1.")
    assert data["versions"] == ["1.1.0", "1.2.0", "1.3.0"]
    for f in data["files"]:
        assert f["hashes"]["sha256"]
        assert isinstance(f["size"], int) and f["size"] > 0
        assert f["upload-time"].endswith("Z") and "T" in f["upload-time"]
        assert f["core-metadata"] == f["dist-info-metadata"]
    page = ProjectPage.from_response(r, "corp-utils")
    assert all(p.size and p.upload_time for p in page.packages)


def test_html_escapes_requires_python_and_has_both_metadata_spellings(shared, http):
    text = http.get(shared.url + "corp-utils/", headers={"Accept": "text/html"}).text
    assert 'data-requires-python="&lt;4,&gt;=3.9"' in text
    assert 'requires-python="<' not in text and 'requires-python=">' not in text
    assert "data-core-metadata=\"sha256=" in text and "data-dist-info-metadata=\"sha256=" in text
    assert '<meta name="pypi:repository-version"' in text


def test_root_listing(shared, http):
    for accept in (ACCEPT_JSON_ONLY, ACCEPT_HTML_ONLY):
        r = http.get(shared.url, headers={"Accept": accept})
        page = IndexPage.from_response(r)
        assert sorted(page.projects) == ["Other.Pkg", "corp-utils"]


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, "text/html"),
        ("*/*", "text/html"),
        (PIP_ACCEPT, JSON),
        (f"{JSON}, {HTML};q=0.2, text/html;q=0.01", JSON),  # uv
        (f"{JSON}, */*;q=0.1", JSON),  # Poetry 2.3+
        (f"text/html;q=0.5, {JSON};q=0.9", JSON),  # order is meaningless, q decides
        (f"{HTML}, {JSON}", HTML),  # tie: server order
        ("application/xml", "text/html"),  # nothing acceptable: HTML, never 406
        (f"{JSON};q=0", "text/html"),
    ],
)
def test_accept_negotiation(shared, http, accept, expected):
    headers = {"Accept": accept} if accept is not None else {}
    if accept is None:
        headers = {"Accept": ""}
    r = http.get(shared.url + "corp-utils/", headers=headers)
    assert r.status_code == 200
    assert r.headers["Content-Type"].split(";")[0] == expected
    assert r.headers["Vary"] == "Accept"
    assert r.headers["Cache-Control"] == "no-cache"


@pytest.mark.parametrize(("fmt", "expected"), [("json", JSON), (JSON, JSON), (HTML, HTML)])
def test_format_query_overrides_accept(shared, http, fmt, expected):
    r = http.get(shared.url + "corp-utils/", params={"format": fmt}, headers={"Accept": "text/html"})
    assert r.headers["Content-Type"].split(";")[0] == expected


@pytest.mark.parametrize(
    ("path", "location"),
    [
        ("corp-utils", "/simple/corp-utils/"),
        ("Corp_Utils/", "/simple/corp-utils/"),
        ("corp.utils", "/simple/corp-utils/"),
        ("other-pkg", "/simple/other-pkg/"),
    ],
)
def test_redirects_to_canonical_url(shared, http, path, location):
    r = http.get(shared.url + path, allow_redirects=False)
    assert r.status_code == 301
    assert r.headers["Location"].endswith(location)
    assert http.get(shared.url + path).status_code == 200


def test_simple_without_slash_redirects(shared, http):
    r = http.get(shared.url.rstrip("/"), allow_redirects=False)
    assert r.status_code == 301 and r.headers["Location"].endswith("/simple/")


def test_unknown_project_is_404(shared, http):
    r = http.get(shared.url + "no-such-project/")
    assert r.status_code == 404
    assert r.headers["Content-Type"].startswith("text/plain")


def test_range_and_head_on_files(shared, http):
    page = ProjectPage.from_response(http.get(shared.url + "corp-utils/"), "corp-utils")
    url = next(p.url for p in page.packages if p.filename.endswith("1.2.0-py3-none-any.whl"))
    full = http.get(url)
    assert full.status_code == 200 and full.headers["Accept-Ranges"] == "bytes"
    assert int(full.headers["Content-Length"]) == len(full.content)
    part = http.get(url, headers={"Range": "bytes=-22"})  # zip end-of-central-directory
    assert part.status_code == 206
    assert part.content == full.content[-22:]
    assert part.headers["Content-Range"] == f"bytes {len(full.content) - 22}-{len(full.content) - 1}/{len(full.content)}"
    head = http.head(url)
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["Content-Length"]) == len(full.content)


def test_unknown_file_is_404(shared, http):
    assert http.get(shared.base_url + "/files/corp-utils/nope-1.0-py3-none-any.whl").status_code == 404
    # sdists have no metadata sidecar
    assert http.get(shared.base_url + "/files/corp-utils/corp_utils-1.2.0.tar.gz.metadata").status_code == 404


def test_keep_alive_serves_many_requests_on_one_connection(shared):
    import http.client
    from urllib.parse import urlsplit

    conn = http.client.HTTPConnection(shared.host, shared.port, timeout=5)
    try:
        path = urlsplit(shared.url).path + "corp-utils/"
        for _ in range(5):
            conn.request("GET", path)
            response = conn.getresponse()
            assert response.status == 200 and response.getheader("Connection") != "close"
            response.read()
        sock = conn.sock
        conn.request("GET", path)
        conn.getresponse().read()
        assert conn.sock is sock  # same connection reused
    finally:
        conn.close()


def test_connections_disable_nagle(privrepo):
    """Regression: headers and body leave in two writes, so without TCP_NODELAY every
    keep-alive response waited for the client's delayed ACK (~40 ms; the benchmark fell to
    23 req/s). Checked on the server's own socket, not with a clock."""
    import http.client
    import socket

    idx = privrepo.index("nagle")
    conn = http.client.HTTPConnection(idx.host, idx.port, timeout=5)
    try:
        conn.request("GET", "/simple/")
        conn.getresponse().read()
        server_socks = idx.server.open_connections()  # the connection is still open
        assert len(server_socks) == 1
        assert server_socks[0].getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    finally:
        conn.close()


def test_pages_update_when_files_are_added(privrepo, http):
    idx = privrepo.index("live")
    assert http.get(idx.url + "late/").status_code == 404
    idx.add("late", "1.0")
    data = http.get(idx.url + "late/", headers={"Accept": JSON}).json()
    assert data["versions"] == ["1.0"]
    idx.yank("late", "1.0", reason="oops")
    data = http.get(idx.url + "late/", headers={"Accept": JSON}).json()
    assert data["files"][0]["yanked"] == "oops"
    idx.remove("late")
    assert http.get(idx.url + "late/").status_code == 404
    assert json.loads(http.get(idx.url, headers={"Accept": JSON}).content)["projects"] == []


def test_add_file_serves_a_real_distribution(privrepo, http, fixtures_dir):
    idx = privrepo.index("real")
    wheels = sorted((fixtures_dir / "dists").glob("*.whl"))
    assert wheels, "fixtures/dists should hold real wheels"
    stored = idx.add_file(wheels[0])
    page = ProjectPage.from_response(http.get(idx.url + stored.project + "/"), stored.project)
    (pkg,) = page.packages
    assert pkg.filename == wheels[0].name
    assert pkg.digests["sha256"] == hashlib.sha256(wheels[0].read_bytes()).hexdigest()
    assert http.get(pkg.url).content == wheels[0].read_bytes()
