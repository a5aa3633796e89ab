"""Real publishers (twine, uv publish) against the index, over HTTP, HTTPS and mutual TLS.

Each combination of client x TLS mode x credential kind (user/password or token as
``__token__``) runs one realistic release flow against a fresh index:

1. publish a wheel and an sdist: recorded with the right user, sha256 and client cert;
2. a wrong password fails with the client's own auth error text and stores nothing;
3. publishing the same files again is a no-op (exit 0, ``uploads`` unchanged);
4. a different file under an existing name is refused and the client says
   ``File already exists``;
5. pip installs the published package from the same index into a shared venv and the
   package imports there.

Every client runs through :class:`~pytest_privrepo.clients.env.ClientEnv`, so this
machine's ``REQUESTS_CA_BUNDLE``/``SSL_CERT_FILE``/``PIP_*``/``UV_*`` play no part: TLS
works only because each command is given the index's CA (and client certificate).

The same release flow drives uv's ``--check-url`` (skip what the index has; without
credentials in the check URL uv uploads anyway). Each client's routes are in its own file
(test_twine.py, test_uv_publish.py, ...).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pytest
from helpers import CI, TLS, TOKEN
from packaging.version import Version

from pytest_privrepo import Index, Privrepo
from pytest_privrepo.clients.env import ClientEnv
from pytest_privrepo.clients.indexes import IndexSpec
from pytest_privrepo.clients.pip import Pip
from pytest_privrepo.clients.result import CommandResult
from pytest_privrepo.clients.twine import Twine
from pytest_privrepo.clients.uv import Uv
from pytest_privrepo.clients.venv import make_venv
from pytest_privrepo.dists import DistFile, build_sdist, build_wheel

AUTH_KINDS = ["basic", "token"]


# --------------------------------------------------------------------------- publishers


class Publisher:
    """How one client is told to upload ``files`` to ``index`` as ``user``/``password``."""

    name: str
    #: what the client prints when the server answers 403 to bad credentials
    auth_error: Sequence[str]
    #: whether its uploads carry ``blake2_256_digest``
    sends_blake2 = True
    #: whether its uploads carry ``md5_digest`` (twine < 6.2.0)
    sends_md5 = False
    #: the ``pyversion`` it sends for an sdist (twine < 6.1.0: empty)
    sdist_pyversion = "source"

    def __init__(self, env: ClientEnv, executable: str | os.PathLike[str]) -> None:
        self.env = env
        self.exe = os.fspath(executable)

    def publish(self, index: Index, user: str, password: str, files: Sequence[Path],
                *extra: str) -> CommandResult:
        raise NotImplementedError


class TwinePublish(Publisher):
    name = "twine"
    auth_error = ("HTTPError: 403 Forbidden from", "Invalid or non-existent authentication information.")

    def __init__(self, env: ClientEnv, executable: str | os.PathLike[str],
                 version: Version | None = None) -> None:
        super().__init__(env, executable)
        if version is not None and version < Version("6.2.0"):
            self.sends_md5 = True
        if version is not None and version < Version("6.1.0"):
            self.sdist_pyversion = ""

    def publish(self, index: Index, user: str, password: str, files: Sequence[Path],
                *extra: str) -> CommandResult:
        argv = [self.exe, "upload", "--non-interactive", "--disable-progress-bar",
                "--repository-url", index.upload_url, "-u", user, "-p", password]
        if index.ca_cert:
            argv += ["--cert", index.ca_cert]
        if index.client_cert:
            argv += ["--client-cert", index.client_cert]
        return self.env.run([*argv, *extra, *map(str, files)], check=False, timeout=120)


class UvPublish(Publisher):
    name = "uv"
    auth_error = (  # uv >= 0.9.29; before: "Upload failed with status code 403 Forbidden."
        "Server returned status code 403 Forbidden.",
        "Server says: Invalid or non-existent authentication information.",
    )

    def __init__(self, env: ClientEnv, executable: str | os.PathLike[str],
                 version: str | None = None) -> None:
        super().__init__(env, executable)
        self.version = Version(version) if version is not None else None
        if self.version is not None and self.version < Version("0.8.18"):
            self.sends_blake2 = False
        if self.version is not None and self.version < Version("0.9.29"):
            self.auth_error = ("Upload failed with status code 403 Forbidden.",
                               "Server says: Invalid or non-existent authentication information.")

    def publish(self, index: Index, user: str, password: str, files: Sequence[Path],
                *extra: str) -> CommandResult:
        argv = [self.exe, "publish", "--publish-url", index.upload_url, "--trusted-publishing", "never"]
        # uv spells a token as --token (it sends it as __token__ itself)
        argv += ["--token", password] if user == "__token__" else ["--username", user, "--password", password]
        tls_env: dict[str, str] = {}
        if index.ca_cert:
            tls_env["SSL_CERT_FILE"] = index.ca_cert  # replaces uv's built-in roots
        if index.client_cert:
            tls_env["SSL_CLIENT_CERT"] = index.client_cert  # one PEM: key + certificate
        return self.env.run([*argv, *extra, *map(str, files)], check=False, timeout=120,
                            extra_env=tls_env)


def publisher_for(client: str, twine: Twine, uv: Uv) -> Publisher:
    """The publisher for ``client``, running the plugin fixtures' executable (so
    $PRIVREPO_TWINE_VERSIONS / $PRIVREPO_UV_VERSIONS choose the version under test)."""
    if client == "twine":
        return TwinePublish(twine.env, twine.executable, twine.release)
    return UvPublish(uv.env, uv.exe, uv.version())


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def target_pythons(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Path]:
    return {}


@pytest.fixture
def target_python(target_pythons: dict[tuple[str, str], Path],
                  tmp_path_factory: pytest.TempPathFactory, twine: Twine, uv: Uv) -> Path:
    """One venv (no pip inside) for every install of this module with the same twine and
    uv: the packages are distinct there. A run with several versions of either publishes
    the same package names once per version, so each version pair gets its own venv."""
    key = (os.fspath(twine.executable), uv.exe)
    if key not in target_pythons:
        target_pythons[key] = make_venv(tmp_path_factory.mktemp("publish-target") / "venv")
    return target_pythons[key]


def credentials(kind: str) -> tuple[str, str]:
    return CI if kind == "basic" else ("__token__", TOKEN)


def wrong(creds: tuple[str, str]) -> tuple[str, str]:
    return (creds[0], creds[1] + "-wrong")


def assert_client_certs(index: Index) -> None:
    """Over mTLS every request carried the index's client certificate; otherwise none did."""
    posts = [h for h in index.log if h.method == "POST"]
    assert posts
    for hit in posts:
        if index.tls == "mtls":
            assert hit.client_cert is not None and "corp-client@privrepo.test" in hit.client_cert
        else:
            assert hit.client_cert is None


def assert_uploaded(index: Index, dists: Sequence[DistFile], user: str,
                    publisher: Publisher) -> None:
    got = sorted((u.filename, u.sha256, u.size, u.user, u.replaced) for u in index.uploads)
    want = sorted((d.filename, d.sha256, d.size, user, False) for d in dists)
    assert got == want
    for upload in index.uploads:
        # twine and uv (>= 0.8.18) send sha256 + blake2; older uv sha256 only; twine < 6.2 md5 too
        assert upload.fields["sha256_digest"] == [upload.sha256]
        assert ("blake2_256_digest" in upload.fields) is publisher.sends_blake2
        assert ("md5_digest" in upload.fields) is publisher.sends_md5
        assert upload.fields[":action"] == ["file_upload"]
        assert upload.fields["protocol_version"] == ["1"]
        if upload.filetype == "bdist_wheel":
            assert upload.pyversion == "py3"
            assert upload.field("requires_python") == ">=3.8"
            assert upload.field("summary") == "a published package"
        else:
            assert upload.pyversion == publisher.sdist_pyversion
        assert upload.path.read_bytes() == next(d for d in dists if d.filename == upload.filename).path.read_bytes()


# --------------------------------------------------------------------------- the flow


@pytest.mark.parametrize("auth_kind", AUTH_KINDS)
@pytest.mark.parametrize("tls", TLS)
@pytest.mark.parametrize("client", ["twine", "uv"])
def test_publish_then_install(privrepo: Privrepo, tmp_path: Path, target_python: Path,
                              twine: Twine, uv: Uv, client: str, tls: str | None,
                              auth_kind: str) -> None:
    index = privrepo.index("corp", auth=CI, token=TOKEN, tls=tls)
    publisher = publisher_for(client, twine, uv)
    env = publisher.env
    user, password = credentials(auth_kind)

    project = f"pub-{client}-{tls or 'http'}-{auth_kind}"
    module = project.replace("-", "_")
    wheel = build_wheel(tmp_path / "dist", project, "1.0", summary="a published package",
                        requires_python=">=3.8")
    sdist = build_sdist(tmp_path / "dist", project, "1.0", summary="a published package",
                        requires_python=">=3.8")

    # 1. publish
    result = publisher.publish(index, user, password, [wheel.path, sdist.path])
    assert result.ok, result.output
    assert_uploaded(index, [wheel, sdist], user, publisher)
    assert_client_certs(index)
    published = list(index.uploads)

    # 2. a wrong password: the client's own auth error, nothing stored
    v2 = build_wheel(tmp_path / "dist-v2", project, "2.0")
    result = publisher.publish(index, *wrong((user, password)), [v2.path])
    assert not result.ok
    for phrase in publisher.auth_error:
        assert phrase in " ".join(result.output.split()), result.output
    assert index.uploads == published
    assert [h.status for h in index.log if h.method == "POST"][-1] == 403

    # 3. the same files again: a no-op
    result = publisher.publish(index, user, password, [wheel.path, sdist.path])
    assert result.ok, result.output
    assert index.uploads == published

    # 4. other bytes under an existing filename: refused, and the client says why
    other = build_wheel(tmp_path / "dist-other", project, "1.0", summary="other bytes")
    assert other.filename == wheel.filename and other.sha256 != wheel.sha256
    result = publisher.publish(index, user, password, [other.path])
    assert not result.ok
    assert "File already exists" in result.output, result.output
    assert "400 Bad Request" in result.output, result.output
    assert index.uploads == published
    [stored_wheel] = [f for f in index.files(project) if f.filename == wheel.filename]
    assert stored_wheel.sha256 == wheel.sha256

    # 5. pip installs what was published, from the same index, with the same credentials
    spec = IndexSpec(url=index.url, ca_cert=Path(index.ca_cert) if index.ca_cert else None,
                     client_cert=Path(index.client_cert) if index.client_cert else None,
                     username=user, password=password)
    installed = Pip(env, target_python).install(project, index=spec, no_cache=True)
    assert installed.versions == {project: "1.0"}
    assert installed.url_of(project) == f"{index.base_url}/files/{project}/{wheel.filename}"
    imported = env.run([target_python, "-c", f"import {module}; print({module}.__version__)"])
    assert imported.stdout.strip() == "1.0"
    downloads = [h for h in index.log if h.method == "GET" and h.path.endswith(".whl")]
    assert [(h.status, h.user, h.auth_ok) for h in downloads] == [(200, user, True)]


@pytest.mark.parametrize("tls", TLS)
def test_uv_check_url_skips_existing_files(privrepo: Privrepo, tmp_path: Path, uv: Uv,
                                           tls: str | None) -> None:
    """``--check-url`` compares hashes on the simple API and skips the identical file."""
    index = privrepo.index("corp", auth=CI, token=TOKEN, tls=tls)
    publisher = UvPublish(uv.env, uv.exe)
    wheel = build_wheel(tmp_path / "dist", "checked", "1.0")
    assert publisher.publish(index, *CI, [wheel.path]).ok
    published = list(index.uploads)
    index.log.clear()

    # uv sends no credentials to the check URL unless it carries them itself
    check_url = index.url_with_credentials()
    result = publisher.publish(index, *CI, [wheel.path], "--check-url", check_url)
    assert result.ok, result.output
    assert f"File {wheel.filename} already exists, skipping" in result.output
    assert index.uploads == published
    assert [h.method for h in index.log] == ["GET"]  # the simple page only: no POST
    [page] = list(index.log)
    assert (page.path, page.status, page.user) == ("/simple/checked/", 200, "ci")

    # a new file is still uploaded under --check-url
    v2 = build_wheel(tmp_path / "dist", "checked", "2.0")
    result = publisher.publish(index, *CI, [v2.path], "--check-url", check_url)
    assert result.ok, result.output
    assert [u.filename for u in index.uploads] == [wheel.filename, v2.filename]


def test_uv_check_url_without_credentials_falls_back_to_uploading(privrepo: Privrepo,
                                                                 tmp_path: Path, uv: Uv) -> None:
    """Pins uv 0.13's behaviour: the publish credentials are not sent to ``--check-url``;
    the anonymous check gets 401, uv neither retries with credentials nor fails, and
    uploads anyway (the index's same-bytes no-op keeps that harmless). Put the
    credentials into the check URL, as the test above does, to get the skip."""
    index = privrepo.index("corp", auth=CI)
    publisher = UvPublish(uv.env, uv.exe)
    wheel = build_wheel(tmp_path / "dist", "checked-anon", "1.0")
    assert publisher.publish(index, *CI, [wheel.path]).ok
    published = list(index.uploads)
    index.log.clear()
    result = publisher.publish(index, *CI, [wheel.path], "--check-url", index.url)
    assert result.ok, result.output
    assert "already exists, skipping" not in result.output
    assert index.uploads == published
    requests_seen = [(h.method, h.path, h.status, h.user) for h in index.log]
    assert requests_seen == [("GET", "/simple/checked-anon/", 401, None),
                             ("POST", "/legacy/", 200, "ci")]
