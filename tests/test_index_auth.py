"""Authentication of an index: basic auth and its 401 challenge, tokens as user
``__token__``, public read, and the anonymous_status profiles (401/403/404) for pages and
uploads."""

from __future__ import annotations

import pytest


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


def test_anonymous_view_shows_part_of_the_index(privrepo, http):
    """``anonymous_view``: without credentials only those projects exist (root page, pages,
    files); with credentials everything; wrong credentials are still refused."""
    idx = privrepo.index("corp", auth=("alice", "pw-view-1"), anonymous_view=["Public_Lib"])
    idx.add("public-lib", "1.0")
    idx.add("internal-lib", "1.0")
    root = http.get(idx.url, headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    assert [p["name"] for p in root.json()["projects"]] == ["public-lib"]
    assert http.get(idx.url + "public-lib/").status_code == 200
    assert http.get(idx.url + "internal-lib/").status_code == 404
    hidden = idx.files("internal-lib")[0].filename
    assert http.get(f"{idx.base_url}/files/internal-lib/{hidden}").status_code == 404
    full = http.get(idx.url, auth=("alice", "pw-view-1"),
                    headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    assert [p["name"] for p in full.json()["projects"]] == ["internal-lib", "public-lib"]
    assert http.get(idx.url + "internal-lib/", auth=("alice", "pw-view-1")).status_code == 200
    assert http.get(idx.url + "public-lib/", auth=("alice", "wrong")).status_code == 401


@pytest.mark.parametrize("realm", ["café ✓", 'say "hi"', "back\\slash", "line\r\nX-Injected: 1", 7])
def test_a_realm_that_cannot_go_in_the_challenge_header_is_a_config_error(privrepo, realm):
    from pytest_privrepo import ConfigError

    with pytest.raises(ConfigError, match="realm .* WWW-Authenticate"):
        privrepo.index("corp", auth=("alice", "pw"), realm=realm)
    assert "corp" not in privrepo.indexes  # refused before any server started
