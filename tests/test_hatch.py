"""The Twine, Hatch and Flit harnesses publish to real indexes by every route each client has.

For each client x route x TLS mode: a basic-auth upload and a token (``__token__``) upload
arrive with the right user and the file's sha256, and a wrong password fails with the
client's own error text. On an mTLS index a client without the client certificate is
refused at the handshake. Flit cannot send client certificates at all (pinned below).
(test_upload_publishers.py covers twine's full release flow on the CLI route.)
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import file_sha256 as sha256
from helpers import flat, no_client_cert

from pytest_privrepo import Privrepo
from pytest_privrepo.clients.env import ClientEnv
from pytest_privrepo.clients.flit import Flit, write_flit_project
from pytest_privrepo.clients.hatch import HTTPX2_SINCE, Hatch
from pytest_privrepo.clients.result import CommandResult
from pytest_privrepo.clients.twine import Twine
from pytest_privrepo.errors import ConfigError

CI = ("ci", "s3cret-pw")
TOKEN = "pypi-tok-1234"
TLS = [pytest.param(None, id="http"), pytest.param("tls", id="https"),
       pytest.param("mtls", id="mtls")]

TWINE_AUTH_ERROR = ("HTTPError: 403 Forbidden from", "Invalid or non-existent authentication information.")
_FLIT_403 = ("requests.exceptions.HTTPError: 403 Client Error: Invalid or non-existent "
             "authentication information. for url:")
FLIT_AUTH_ERROR = (_FLIT_403,)



def assert_auth_error(output: str, phrases: tuple[str, ...]) -> None:
    for phrase in phrases:
        assert phrase in flat(output), output


def assert_uploads(index, expected: list[tuple[Path, str]]) -> None:  # type: ignore[no-untyped-def]
    got = sorted((u.filename, u.sha256, u.user) for u in index.uploads)
    assert got == sorted((p.name, sha256(p), user) for p, user in expected)


def assert_client_cert_sent(index) -> None:  # type: ignore[no-untyped-def]
    for hit in index.log:
        if index.tls == "mtls":
            assert hit.client_cert and "corp-client@privrepo.test" in hit.client_cert
        else:
            assert hit.client_cert is None


def hatch_failure(hatch: Hatch, result: CommandResult, url: str) -> str:
    """The error a failed ``hatch publish`` to ``url`` aborted with, after checking that it
    is Hatch's own report: ``<file> ... failed`` then :meth:`Hatch.publish_error`'s form
    (``Error uploading to repository: <url> - `` since Hatch 1.7.0, the bare error before)."""
    lines = result.output.strip().splitlines()
    failed = next(i for i, line in enumerate(lines) if line.rstrip().endswith("failed"))
    message = lines[failed + 1]
    prefix = hatch.publish_error(url, "")
    assert message.startswith(prefix), result.output
    return message[len(prefix):]


# --------------------------------------------------------------------------- twine


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


# --------------------------------------------------------------------------- hatch


@pytest.mark.parametrize("tls", TLS)
@pytest.mark.parametrize("route", ["cli", "env"])
def test_hatch_routes(privrepo: Privrepo, tmp_path: Path, hatch: Hatch,
                      route: str, tls: str | None) -> None:
    index = privrepo.index("corp", auth=CI, token=TOKEN, tls=tls)
    wheel = privrepo.build_dist(tmp_path / "d", "ha", "1.0")
    sdist = privrepo.build_dist(tmp_path / "d", "ha", "1.1", kind="sdist")

    assert hatch.publish([wheel], index, route=route).ok
    assert hatch.publish([sdist], index, route=route, username="__token__", password=TOKEN).ok
    assert_uploads(index, [(wheel, "ci"), (sdist, "__token__")])
    assert_client_cert_sent(index)
    # Hatch treats every non-PyPI host as devpi: it asks <repo>/+simple/<project>/ first
    # (404 here, which Hatch reads as "nothing published yet"), then uploads.
    seen = [(h.method, h.path, h.status, h.user) for h in index.log]
    assert seen == [("GET", "/legacy/+simple/ha/", 404, "ci"), ("POST", "/legacy/", 200, "ci"),
                    ("GET", "/legacy/+simple/ha/", 404, "__token__"),
                    ("POST", "/legacy/", 200, "__token__")]

    bad = hatch.publish([privrepo.build_dist(tmp_path / "d", "ha", "2.0")], index, route=route,
                        password="wrong-pw", check=False)
    assert not bad.ok
    assert hatch_failure(hatch, bad, index.upload_url) == (
        "Client error '403 Invalid or non-existent authentication information.' "
        f"for url '{index.upload_url}'")
    assert "wrong-pw" not in bad.output  # Hatch masks the secret in its error
    assert len(index.uploads) == 2


def test_hatch_cannot_combine_ca_cert_and_client_cert(privrepo: Privrepo, hatch: Hatch,
                                                     tmp_path: Path) -> None:
    """Pins why the harness (and the printed snippet) pass the CA as SSL_CERT_FILE: no Hatch
    takes ``--ca-cert`` with ``--client-cert``. Hatch >= 1.17 (httpx2) fails before
    connecting; Hatch 1.4-1.16 (httpx 0.28) silently drop the client certificate, so the
    server refuses the handshake."""
    index = privrepo.index("corp", auth=CI, tls="mtls")
    result = hatch.publish(
        [privrepo.build_dist(tmp_path / "d", "ha", "1.0")], index, split_ca=False, check=False)
    assert not result.ok
    error = hatch_failure(hatch, result, index.upload_url)
    if hatch.release >= HTTPX2_SINCE:
        assert error.startswith("`verify=<str>` cannot be combined with `cert=...`. Build an "
                                "`ssl.SSLContext`"), result.output
        assert index.server.tls_failures == []
    else:
        assert "SSL" in error, result.output  # the alert or the closed socket, by timing
        assert index.server.wait_for_tls_failure().reason == "PEER_DID_NOT_RETURN_A_CERTIFICATE"
    assert index.uploads == [] and list(index.log) == []


@pytest.mark.parametrize("hatch", ["1.2.1"], indirect=True)
def test_hatch_before_1_4_publishes_over_http_only(privrepo: Privrepo, tmp_path: Path,
                                                   hatch: Hatch) -> None:
    """Below the tested floor (Hatch 1.4.0), pinned so the harness stays honest about it:
    Hatch 1.2 has no ``-y`` and reads ``HATCH_PYPI_*``, and both routes publish over HTTP;
    it has no certificate options, so a TLS index is refused with a ConfigError."""
    index = privrepo.index("corp", auth=CI)
    wheel = privrepo.build_dist(tmp_path / "d", "old-ha", "1.0")
    sdist = privrepo.build_dist(tmp_path / "d", "old-ha", "1.0", kind="sdist")
    assert hatch.publish([wheel], index, route="cli").ok
    assert hatch.publish([sdist], index, route="env").ok
    assert_uploads(index, [(wheel, "ci"), (sdist, "ci")])
    # before 1.4 the existence check is <host>/simple/<project>/, without credentials
    seen = [(h.method, h.path, h.status, h.user) for h in index.log]
    assert seen == [("GET", "/simple/old-ha/", 401, None), ("POST", "/legacy/", 200, "ci")] * 2

    tls = privrepo.index("tls", auth=CI, tls="tls")
    with pytest.raises(ConfigError, match=r"hatch 1\.2\.1 cannot be given a CA .* Hatch 1\.4\.0"):
        hatch.publish([wheel], tls)
    assert list(tls.log) == []


# --------------------------------------------------------------------------- flit


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


# --------------------------------------------------------------------------- missing client cert


@pytest.mark.parametrize("client", ["twine", "hatch"])
def test_missing_client_cert_fails_at_handshake(privrepo: Privrepo, client_env: ClientEnv,
                                                tmp_path: Path, client: str, twine: Twine,
                                                hatch: Hatch) -> None:
    index = privrepo.index("corp", auth=CI, tls="mtls")
    wheel = privrepo.build_dist(tmp_path / "d", "nocert", "1.0")
    if client == "twine":
        result = twine.upload([wheel], no_client_cert(index), check=False)
    else:
        result = hatch.publish([wheel], no_client_cert(index), check=False)
    assert not result.ok
    failure = index.server.wait_for_tls_failure()
    assert failure.reason == "PEER_DID_NOT_RETURN_A_CERTIFICATE"
    assert index.uploads == [] and list(index.log) == []
    # The client sees either the server's alert or the closed socket, depending on timing
    # (TLSV13_ALERT_CERTIFICATE_REQUIRED / SSLEOFError); both are TLS errors of its own.
    if client == "twine":
        assert "requests.exceptions.SSLError" in result.output, result.output
    else:
        assert "SSL" in hatch_failure(hatch, result, index.upload_url), result.output
