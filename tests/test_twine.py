"""``twine upload`` by every route it has (command line, environment, .pypirc) x TLS mode: a
basic-auth and a token (``__token__``) upload arrive with the right user and sha256, a wrong
password fails with twine's own error text. The full release flow (re-upload, conflict,
install) is in test_publish_flow.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import CI, TLS, TOKEN, assert_auth_error, assert_client_cert_sent, assert_uploads

from pytest_privrepo import Privrepo
from pytest_privrepo.clients.twine import Twine

TWINE_AUTH_ERROR = ("HTTPError: 403 Forbidden from", "Invalid or non-existent authentication information.")


@pytest.mark.parametrize("tls", TLS)
@pytest.mark.parametrize("route", ["cli", "env", "pypirc"])
def test_twine_routes(privrepo: Privrepo, tmp_path: Path, twine: Twine,
                      route: str, tls: str | None) -> None:
    index = privrepo.index("corp", auth=CI, token=TOKEN, tls=tls)
    wheel = privrepo.build_dist(tmp_path / "d", "tw", "1.0")
    sdist = privrepo.build_dist(tmp_path / "d", "tw", "1.1", kind="sdist")

    assert twine.upload([wheel], index, route=route).ok
    assert twine.upload([sdist], index, route=route, username="__token__", password=TOKEN).ok
    assert_uploads(index, [(wheel, "ci"), (sdist, "__token__")])
    assert_client_cert_sent(index)
    if route == "pypirc":
        text = twine.pypirc.read_text()
        assert twine.pypirc.parent == twine.env.home
        assert f"repository = {index.upload_url}" in text
        assert ("client_cert" in text) == (tls == "mtls")

    bad = twine.upload([privrepo.build_dist(tmp_path / "d", "tw", "2.0")], index, route=route,
                       password="wrong", check=False)
    assert not bad.ok
    assert_auth_error(bad.output, TWINE_AUTH_ERROR)
    assert len(index.uploads) == 2
