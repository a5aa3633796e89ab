"""``uv publish`` by each route a user has, against real indexes: ``--publish-url`` and
``--index NAME`` (from a uv.toml and from pyproject), with and without ``--check-url``, then
the published files install (or sync). A wrong password or token fails with uv's own words;
an mTLS index without the client certificate refuses the handshake; ``--index`` needs uv
0.8.14. (test_publish_flow.py runs the full release flow with uv and twine.)

Each test asserts uv's own output and what the index saw (user, status, client certificate)."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest
from helpers import CI, TLS, TOKEN, assert_client_certs, flat, uv_config, uv_release
from packaging.version import Version

from pytest_privrepo import Index, Privrepo
from pytest_privrepo.clients.env import ClientEnv
from pytest_privrepo.clients.uv import Uv
from pytest_privrepo.clients.uv_project import UvProject
from pytest_privrepo.errors import ConfigError

#: uv's words for an upload the index refused with 403: from uv 0.9.29 (to 0.13.9) ...
UV_AUTH_ERROR = ("Server returned status code 403 Forbidden.",
                 "Server says: Invalid or non-existent authentication information.")
#: ... and before it
UV_AUTH_ERROR_BEFORE_0_9_29 = (
    "Upload failed with status code 403 Forbidden.",
    "Server says: Invalid or non-existent authentication information.")


def uv_auth_error(uv: Uv) -> tuple[str, ...]:
    return UV_AUTH_ERROR if uv_release(uv) >= Version("0.9.29") else UV_AUTH_ERROR_BEFORE_0_9_29


def _dists(privrepo: Privrepo, out: Path, project: str) -> list[Path]:
    return [privrepo.build_dist(out, project, "1.0"),
            privrepo.build_dist(out, project, "1.0", kind="sdist")]


@pytest.mark.parametrize("kind", ["basic", "token"])
@pytest.mark.parametrize("tls", TLS)
def test_publish_by_url_then_install(uv: Uv, privrepo: Privrepo, tmp_path: Path,
                                     tls: str | None, kind: str) -> None:
    index = privrepo.index("corp", auth=CI, token=TOKEN, tls=tls)
    project = f"uvpub-{tls or 'http'}-{kind}"
    files = _dists(privrepo, tmp_path / "dist", project)
    creds = {"token": TOKEN} if kind == "token" else {}
    user = "__token__" if kind == "token" else "ci"

    result = uv.publish(files, index, **creds)  # type: ignore[arg-type]

    assert result.ok, result.output
    assert sorted((u.filename, u.user) for u in index.uploads) == sorted(
        (f.name, user) for f in files)
    assert [(h.method, h.path, h.status) for h in index.log] == [
        ("POST", "/legacy/", 200)] * 2  # no check URL: nothing but the uploads
    assert_client_certs(index)
    argv = result.argv
    assert argv[argv.index("--publish-url") + 1] == index.upload_url
    assert argv[argv.index("--trusted-publishing") + 1] == "never"
    assert ("--token" in argv, "--username" in argv) == (
        (True, False) if kind == "token" else (False, True))

    # wrong credentials: uv's own error, nothing stored
    published = list(index.uploads)
    v2 = privrepo.build_dist(tmp_path / "dist2", project, "2.0")
    bad = {"token": TOKEN + "-wrong"} if kind == "token" else {"password": "wrong"}
    result = uv.publish([v2], index, check=False, **bad)  # type: ignore[arg-type]
    assert not result.ok
    for phrase in uv_auth_error(uv):
        assert phrase in flat(result.output), result.output
    assert index.uploads == published
    assert [h.status for h in index.log if h.method == "POST"][-1] == 403

    # uv installs what it published, from the same index
    index.log.clear()
    venv = uv.venv(tmp_path / "venv")
    installed = uv.pip_install(project, venv=venv, index=index)
    assert installed.versions == {project: "1.0"}
    assert [(h.path.rsplit("/", 1)[-1], h.user) for h in index.log.downloads] == [
        (files[0].name, "ci")]


@pytest.mark.parametrize("kind", ["basic", "token"])
def test_publish_check_url_skips_what_the_index_has(uv: Uv, privrepo: Privrepo,
                                                    tmp_path: Path, kind: str) -> None:
    """``check_url=True``: the index URL with the publish credentials in it (uv 0.13
    sends none to ``--check-url`` on its own); the identical file is skipped after one
    GET."""
    index = privrepo.index("corp", auth=CI, token=TOKEN)
    wheel = privrepo.build_dist(tmp_path / "dist", "checked", "1.0")
    creds = {"token": TOKEN} if kind == "token" else {}
    assert uv.publish([wheel], index, **creds).ok  # type: ignore[arg-type]
    published = list(index.uploads)
    index.log.clear()

    result = uv.publish([wheel], index, check_url=True, **creds)  # type: ignore[arg-type]

    assert result.ok, result.output
    assert f"File {wheel.name} already exists, skipping" in result.output
    assert index.uploads == published
    user = "__token__" if kind == "token" else "ci"
    assert [(h.method, h.path, h.status, h.user) for h in index.log] == [
        ("GET", "/simple/checked/", 200, user)]
    argv = result.argv
    assert argv[argv.index("--check-url") + 1].startswith(f"http://{user}:")


def test_publish_by_index_name_from_uv_toml(uv: Uv, privrepo: Privrepo,
                                            tmp_path: Path) -> None:
    """``route="index"`` over mTLS with a token: ``--index corp`` of a uv.toml with
    ``publish-url``. uv checks the index URL first (with the index's ``UV_INDEX_CORP_*``
    reader credentials), uploads with the token, skips it the second time, and the
    published file installs by the same uv.toml route."""
    index = privrepo.index("corp", auth=CI, token=TOKEN, tls="mtls")
    wheel = privrepo.build_dist(tmp_path / "dist", "by-name", "1.0")

    result = uv.publish([wheel], index, route="index", token=TOKEN)

    assert result.ok, result.output
    assert [(u.filename, u.user) for u in index.uploads] == [(wheel.name, "__token__")]
    assert [(h.method, h.path, h.status, h.user) for h in index.log] == [
        ("GET", "/simple/by-name/", 404, "ci"), ("POST", "/legacy/", 200, "__token__")]
    assert_client_certs(index)
    argv = result.argv
    assert argv[argv.index("--index") + 1] == "corp" and "--publish-url" not in argv
    config = Path(argv[argv.index("--config-file") + 1])
    assert uv_config(config) == {"index": [
        {"name": "corp", "url": index.url, "publish-url": index.upload_url}]}

    index.log.clear()
    again = uv.publish([wheel], index, route="index", token=TOKEN)
    assert again.ok and f"File {wheel.name} already exists, skipping" in again.output
    assert [h.method for h in index.log] == ["GET"] and len(index.uploads) == 1

    venv = uv.venv(tmp_path / "venv")
    installed = uv.pip_install(
        "by-name", venv=venv, index=index, auth="env", route="config"
    )
    assert installed.versions == {"by-name": "1.0"}


def test_project_publish_by_index_name_then_sync(
    uv: Uv, uv_project: UvProject, privrepo: Privrepo, tmp_path: Path
) -> None:
    """pyproject ``[[tool.uv.index]]`` with ``publish-url``: ``uv publish --index corp``
    uploads with the index's ``UV_INDEX_CORP_*`` credentials (no ``--username``), a
    wrong password on the command line wins over them and fails, and the project then
    syncs the published version from the same index."""
    index = privrepo.index("corp", auth=CI)
    uv_project.add_index("corp", index, default=True, publish_url=index.upload_url)
    files = _dists(privrepo, tmp_path / "dist", "proj-pub")
    # Why project runs drop UV_NO_CONFIG: with it, uv does not see [tool.uv] at all.
    hidden = uv.run("publish", "--index", "corp", str(files[0]), check=False,
                    cwd=uv_project.path)
    assert "No indexes were found, can't use index: `corp`" in hidden.output
    assert list(index.log) == []

    result = uv_project.publish(files, "corp")

    assert result.ok, result.output
    assert "--username" not in result.argv
    assert sorted((u.filename, u.user) for u in index.uploads) == sorted(
        (f.name, "ci") for f in files)
    assert {(h.method, h.user, h.auth_ok) for h in index.log} == {
        ("GET", "ci", True), ("POST", "ci", True)}

    published = list(index.uploads)
    index.log.clear()
    v2 = privrepo.build_dist(tmp_path / "dist2", "proj-pub", "2.0")
    result = uv_project.publish([v2], "corp", password="wrong", check=False)
    assert not result.ok
    for phrase in uv_auth_error(uv):
        assert phrase in flat(result.output), result.output
    assert index.uploads == published
    # the check (before, and again after the failed upload) reads with the index's
    # credentials; only the upload carries the command line's wrong password
    assert [(h.method, h.status, h.user, h.auth_ok) for h in index.log] == [
        ("GET", 200, "ci", True), ("POST", 403, "ci", False), ("GET", 200, "ci", True)]

    uv_project.add_dependency("proj-pub")
    lock = uv_project.lock()
    assert (lock["proj-pub"].version, lock["proj-pub"].index) == ("1.0", "corp")
    uv_project.run("sync", "--python", sys.executable, "--no-progress")
    shown = uv.env.run([uv_project.path / ".venv" / "bin" / "python", "-c",
                        "import proj_pub; print(proj_pub.__version__)"])
    assert shown.stdout.strip() == "1.0"


def test_publish_mtls_without_client_cert_fails_at_handshake(
    uv: Uv, privrepo: Privrepo, tmp_path: Path
) -> None:
    """The CA but no ``SSL_CLIENT_CERT``: the server refuses the handshake, no request
    gets through, and uv reports its own publish error (the TLS detail below it is
    CertificateRequired or a closed connection, depending on timing)."""
    index = privrepo.index("corp", auth=CI, tls="mtls")
    wheel = privrepo.build_dist(tmp_path / "dist", "nocert", "1.0")
    no_cert = dataclasses.replace(index.access, client_cert=None)

    result = uv.publish([wheel], no_cert, check=False)

    assert not result.ok
    failure = index.server.wait_for_tls_failure()
    assert failure.reason == "PEER_DID_NOT_RETURN_A_CERTIFICATE"
    assert index.uploads == [] and list(index.log) == []
    if uv_release(uv) >= Version("0.12.19"):
        expected = f"Failed to publish `{wheel}` to `{index.upload_url}`"
    else:  # the URL without backticks
        expected = f"Failed to publish `{wheel}` to {index.upload_url}\n"
    assert expected in result.output, result.output


def test_publish_by_index_needs_uv_0_8_14(tmp_path: Path, corp: Index) -> None:
    """Before 0.8.14 uv sends the index's ``UV_INDEX_<NAME>_*`` credentials neither to
    the check nor to the upload of ``uv publish --index``: both index routes refuse such
    a uv with a ConfigError naming the version, before anything runs (a stand-in uv
    that only answers ``--version``)."""
    fake = tmp_path / "bin" / "uv"
    fake.parent.mkdir()
    fake.write_text(f"#!{sys.executable}\nprint('uv 0.8.13 (1e2b1d7a8 2025-08-21)')\n")
    fake.chmod(0o755)
    old = Uv(ClientEnv(tmp_path / "env"), fake)
    wheel = tmp_path / "x-1.0-py3-none-any.whl"
    message = r"uv 0\.8\.13 sends the index's UV_INDEX_<NAME>_\* credentials .* use uv >= 0\.8\.14"
    with pytest.raises(ConfigError, match=message):
        old.publish([wheel], corp, route="index")
    project = UvProject(tmp_path / "project", old).create()
    project.add_index("corp", corp, publish_url=corp.upload_url)
    with pytest.raises(ConfigError, match=message):
        project.publish([wheel], "corp")
    assert list(corp.log) == [] and corp.uploads == []
    assert old.version() == "0.8.13"
