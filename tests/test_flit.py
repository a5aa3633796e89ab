"""``flit publish`` by every route it has x TLS mode (basic auth, token, a wrong password
failing with flit's own words), the .pypirc its prompt writes landing in the isolated home,
and that flit cannot send a client certificate at all (pinned)."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import CI, TLS, TOKEN, assert_auth_error, assert_uploads

from pytest_privrepo import Privrepo
from pytest_privrepo.clients.env import ClientEnv
from pytest_privrepo.clients.flit import Flit, write_flit_project
from pytest_privrepo.errors import ConfigError

_FLIT_403 = ("requests.exceptions.HTTPError: 403 Client Error: Invalid or non-existent "
             "authentication information. for url:")
FLIT_AUTH_ERROR = (_FLIT_403,)


@pytest.mark.parametrize("tls", TLS[:2])
@pytest.mark.parametrize("route", ["env", "pypirc"])
def test_flit_routes(privrepo: Privrepo, tmp_path: Path, flit: Flit,
                     route: str, tls: str | None) -> None:
    index = privrepo.index("corp", auth=CI, token=TOKEN, tls=tls)
    v1 = write_flit_project(tmp_path / "v1", "flit-pub", "1.0")
    v2 = write_flit_project(tmp_path / "v2", "flit-pub", "2.0")

    result = flit.publish(v1, index, route=route)
    # flit builds in-process with its own flit_core (no isolated build env, no network)
    assert "Built wheel: dist/flit_pub-1.0-py3-none-any.whl" in result.output
    assert flit.publish(v2, index, route=route, username="__token__", password=TOKEN).ok
    built = {p: u for d, u in ((v1, "ci"), (v2, "__token__")) for p in (d / "dist").iterdir()}
    assert len(built) == 4  # a wheel and an sdist per version
    assert_uploads(index, list(built.items()))

    v3 = write_flit_project(tmp_path / "v3", "flit-pub", "3.0")
    bad = flit.publish(v3, index, route=route, password="wrong", check=False)
    assert not bad.ok
    assert_auth_error(bad.output, FLIT_AUTH_ERROR)
    assert len(index.uploads) == 4


def test_flit_cannot_publish_to_mtls(privrepo: Privrepo, tmp_path: Path, flit: Flit) -> None:
    """flit has no client-certificate option: the harness refuses an mTLS index, and forced
    through, the server rejects the handshake (limitation of flit, pinned here)."""
    index = privrepo.index("corp", auth=CI, tls="mtls")
    project = write_flit_project(tmp_path / "p", "flit-mtls", "1.0")
    with pytest.raises(ConfigError, match="cannot send a client certificate"):
        flit.publish(project, index)
    result = flit.publish(project, index, allow_mtls=True, check=False)
    assert not result.ok
    assert "requests.exceptions.SSLError" in result.output, result.output
    assert index.server.wait_for_tls_failure().reason == "PEER_DID_NOT_RETURN_A_CERTIFICATE"
    assert index.uploads == []


def test_flit_prompt_writes_pypirc_into_isolated_home(client_env: ClientEnv, tmp_path: Path,
                                                      flit: Flit) -> None:
    """flit only prompts on a TTY and then writes ~/.pypirc: it lands in the isolated HOME.
    (The default target is PyPI; the offline guard stops the later upload/password step.)"""
    project = write_flit_project(tmp_path / "p", "flit-prompt", "1.0")
    result = client_env.run(["script", "-qec", f"{flit.executable} publish", "/dev/null"], cwd=project,
                            input="someone\n", check=False, timeout=60)
    assert not result.ok
    assert "Username:" in result.output, result.output
    pypirc = client_env.home / ".pypirc"
    assert pypirc.read_text() == "[pypi]\nusername = someone\n"
    assert not (Path.home() / ".pypirc").exists() or Path.home() == client_env.home
