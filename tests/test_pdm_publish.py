"""``pdm publish`` to ephemeral indexes by each of its routes, then the real pdm installs what
was published.

Routes (:data:`PDM_PUBLISH_ROUTES`): a ``[repository.<name>]`` config entry and ``-r <name>``,
the command line ``-r URL -u -P --ca-certs``, and ``PDM_PUBLISH_*`` variables. For HTTP, HTTPS
and mTLS x basic auth / token: every upload arrives with the right user, digests and client
certificate; wrong credentials fail with pdm's own error and change nothing; without a
client certificate an mTLS index refuses the handshake. Plus the pdm quirks the harness
works around or that a user would trip over (see the module docstring of
``pytest_privrepo.clients.pdm``).

The version-independent flows run the plugin's ``pdm`` fixture, so the privrepo_pdm_versions
ini key, ``$PRIVREPO_PDM_VERSIONS`` and ``--privrepo-pdm-versions`` choose the pdm (tox runs
the oldest and newest supported). The tests that pin one release's exact behaviour say so
and run that release only (``pdm229``).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import CI, TLS, TOKEN, file_sha256 as sha256, flat, no_client_cert

from pytest_privrepo import Privrepo
from pytest_privrepo.clients.pdm import PDM_PUBLISH_ROUTES, Pdm, PdmProject
from pytest_privrepo.clients.result import CommandResult

#: The release whose quirks the pinned tests below record (httpx 0.28, hishel 1). Their
#: fixture, ``pdm229``, is not the plugin's ``pdm``, so no version setting changes it;
#: client_factory provisions it with pdm's own "locked" extra (unpinned, pdm 2.29.3 picks up
#: hishel 2 and unearth 0.19 and every command fails).
PDM_VERSION = "2.29.3"

AUTH = ["basic", "token"]
PUBLISHED_BY = {"basic": "ci", "token": "__token__"}


@pytest.fixture
def pdm229(client_factory) -> Pdm:  # type: ignore[no-untyped-def]
    """pdm 2.29.3 exactly, whatever version the plugin's ``pdm`` fixture runs."""
    return client_factory("pdm", PDM_VERSION)  # type: ignore[no-any-return]


def publisher_project(tmp_path: Path, pdm: Pdm) -> PdmProject:
    """The project ``pdm publish`` runs in (its ``dist/`` is what gets uploaded)."""
    return PdmProject(tmp_path / "publisher", pdm).create("pdm-pub", "1.0", distribution=True)


@pytest.fixture
def publisher(tmp_path: Path, pdm: Pdm) -> PdmProject:
    """A publishing project run by the plugin's ``pdm`` (the version under test)."""
    return publisher_project(tmp_path, pdm)


@pytest.fixture
def publisher229(tmp_path: Path, pdm229: Pdm) -> PdmProject:
    """A publishing project run by pdm 2.29.3 (for the pinned tests)."""
    return publisher_project(tmp_path, pdm229)


def credentials(auth: str, wrong: bool = False) -> dict[str, str]:
    """publish() keywords: basic = the index's user + (a wrong) password; token = only a
    password, which pdm itself sends as user ``__token__``."""
    if auth == "token":
        return {"token": "pypi-wrong-tok" if wrong else TOKEN}
    return {"password": "wrong-pw"} if wrong else {}


#: The reason phrase the index gives a refused upload.
REFUSED = "Invalid or non-existent authentication information."


def auth_error(pdm: Pdm, index) -> str:  # type: ignore[no-untyped-def]
    """pdm's error for an upload the index refused (403): the index's reason phrase before pdm
    2.26.3, "Forbidden" from then on (see test_http_cache_replaces_reason_phrase)."""
    return pdm.publish_error(index.upload_url, 403, REFUSED)


@pytest.mark.parametrize("auth", AUTH)
@pytest.mark.parametrize("tls", TLS)
def test_publish_by_every_route_then_install(privrepo: Privrepo, pdm: Pdm, publisher: PdmProject,
                                             tmp_path: Path, tls: str | None, auth: str) -> None:
    index = privrepo.index("corp", auth=CI, token=TOKEN, tls=tls)
    user = PUBLISHED_BY[auth]
    expected: list[tuple[Path, str]] = []
    for route, version in zip(PDM_PUBLISH_ROUTES, ("1.0", "1.1", "1.2")):
        dists = [privrepo.build_dist(tmp_path / "d", "pdm-pub", version)]
        if route == "env":  # an sdist first: pdm uploads all of dist/, wheels first
            dists.insert(0, privrepo.build_dist(tmp_path / "d", "pdm-pub", version, kind="sdist"))
        result = publisher.publish(index, dists=dists, route=route, **credentials(auth))
        for dist in dists:
            assert f"Uploading {dist.name}" in result.output, result.output
        expected += [(d, user) for d in sorted(dists, key=lambda d: d.suffix != ".whl")]

    assert [(u.filename, u.sha256, u.user) for u in index.uploads] == [
        (p.name, sha256(p), who) for p, who in expected]
    for upload in index.uploads:  # pdm sends all three digests
        assert upload.field("md5_digest") and upload.field("blake2_256_digest")
    hits = [(h.method, h.path, h.status, h.user) for h in index.log]
    assert hits == [("POST", "/legacy/", 200, user)] * 4
    subjects = {h.client_cert for h in index.log}
    if tls == "mtls":
        assert len(subjects) == 1 and "corp-client@privrepo.test" in subjects.pop()
    else:
        assert subjects == {None}

    # wrong credentials: pdm's own error, nothing stored (one route per test, so that each
    # route meets a wrong password and a wrong token somewhere in the matrix)
    route = PDM_PUBLISH_ROUTES[([None, "tls", "mtls"].index(tls) + AUTH.index(auth)) % 3]
    bad = publisher.publish(index, dists=[privrepo.build_dist(tmp_path / "d", "pdm-pub", "9.0")],
                            route=route, check=False, **credentials(auth, wrong=True))
    assert not bad.ok
    assert auth_error(pdm, index) in flat(bad.output), bad.output
    assert "wrong" not in bad.output  # the secret is not echoed
    assert len(index.uploads) == 4
    assert [(h.status, h.user, h.auth_ok) for h in index.log][4:] == [(403, user, False)]

    # the real pdm installs the newest published version from that index
    app = PdmProject(tmp_path / "app", pdm).create(dependencies=["pdm-pub"])
    app.add_source("corp", index)
    lock = app.lock()
    assert (lock["pdm-pub"].version, lock["pdm-pub"].source) == ("1.2", "corp")
    scheme = "https" if tls else "http"
    assert sorted(lock["pdm-pub"].urls) == [
        f"{scheme}://{index.netloc}/files/pdm-pub/{p.name}" for p, _ in sorted(expected[2:])]
    app.install()
    assert app.installed() == {"pdm-pub": "1.2"}
    assert [h.path.rsplit("/", 1)[-1] for h in index.log.downloads] == ["pdm_pub-1.2-py3-none-any.whl"]


@pytest.mark.parametrize("route", PDM_PUBLISH_ROUTES)
def test_mtls_handshake_fails_without_client_cert(privrepo: Privrepo, publisher: PdmProject,
                                                  tmp_path: Path, route: str) -> None:
    """No client certificate: the mTLS index refuses the handshake, nothing is uploaded."""
    index = privrepo.index("corp", auth=CI, tls="mtls")
    wheel = privrepo.build_dist(tmp_path / "d", "pdm-pub", "1.0")

    result = publisher.publish(no_client_cert(index), dists=[wheel], route=route, check=False)

    assert_refused_without_certificate(index, wheel, result)


@pytest.mark.parametrize("route", PDM_PUBLISH_ROUTES)
def test_ca_certs_next_to_client_cert_loses_the_certificate(privrepo: Privrepo, pdm229: Pdm,
                                                            publisher229: PdmProject,
                                                            tmp_path: Path, route: str) -> None:
    """Pinned to pdm 2.29.3 (httpx 0.28): handed ``ca_certs`` (config), ``--ca-certs`` or
    ``PDM_PUBLISH_CA_CERTS`` next to a configured ``client_cert``, pdm never presents the
    certificate, so the mTLS index refuses the handshake. The quirk the harness avoids
    (``split_ca``, see ``Pdm.configure_source``)."""
    index = privrepo.index("corp", auth=CI, tls="mtls")
    wheel = privrepo.build_dist(tmp_path / "d", "pdm-pub", "1.0")

    result = publisher229.publish(index, dists=[wheel], route=route, split_ca=False, check=False)

    entry = pdm229.repositories()["privrepo"]
    assert entry["client_cert"] == index.client_cert
    assert ("ca_certs" in entry) == (route == "file")
    assert_refused_without_certificate(index, wheel, result)


def assert_refused_without_certificate(index, wheel: Path,  # type: ignore[no-untyped-def]
                                       result: CommandResult) -> None:
    assert not result.ok
    assert index.server.wait_for_tls_failure().reason == "PEER_DID_NOT_RETURN_A_CERTIFICATE"
    assert index.uploads == [] and list(index.log) == []
    assert f"Uploading {wheel.name}" in result.output
    # pdm reports the server's alert or the closed connection, depending on timing
    assert "SSL" in result.output or "EOF" in result.output, result.output


def test_url_route_uses_the_config_entry_with_that_url(privrepo: Privrepo, pdm: Pdm,
                                                       publisher: PdmProject,
                                                       tmp_path: Path) -> None:
    """``-r URL`` takes credentials (and certificates) from a ``[repository.*]`` entry whose
    url is exactly that URL: how the harness gives ``-r URL`` a client certificate."""
    index = privrepo.index("corp", auth=CI, tls="mtls")
    pdm.configure_repository("corp", index)
    wheel = privrepo.build_dist(publisher.dist_dir, "pdm-pub", "1.0")

    assert pdm.run("publish", "--no-build", "-r", index.upload_url, cwd=publisher.path).ok
    assert [(u.filename, u.user) for u in index.uploads] == [(wheel.name, "ci")]
    assert "corp-client@privrepo.test" in (index.log[0].client_cert or "")


def test_http_cache_replaces_reason_phrase(privrepo: Privrepo, pdm229: Pdm,
                                           publisher229: PdmProject, tmp_path: Path) -> None:
    """Pinned to pdm 2.29.3 (hishel 1): its upload goes through the hishel cache transport,
    which rebuilds the response without the server's reason phrase: the error says "403
    Forbidden". ``pdm --no-cache`` shows the index's own reason. (pdm < 2.26.3, with hishel
    0.x, shows the index's reason either way: ``Pdm.publish_error``.)"""
    index = privrepo.index("corp", auth=CI)
    privrepo.build_dist(publisher229.dist_dir, "pdm-pub", "1.0")
    args = ("publish", "--no-build", "-r", index.upload_url, "-u", "ci", "-P", "wrong")

    cached = pdm229.run(*args, cwd=publisher229.path, check=False)
    uncached = pdm229.run("--no-cache", *args, cwd=publisher229.path, check=False)

    assert (f"[PublishError]: Client error '403 Forbidden' for url '{index.upload_url}'"
            in flat(cached.output)), cached.output
    assert (f"[PublishError]: Client error '403 {REFUSED}' for url '{index.upload_url}'"
            in flat(uncached.output)), uncached.output
    assert auth_error(pdm229, index) in flat(cached.output)  # the harness knows this release
    assert [(h.status, h.user) for h in index.log] == [(403, "ci")] * 2 and index.uploads == []


def test_username_without_password_asks_the_index_for_oidc(privrepo: Privrepo, pdm229: Pdm,
                                                           publisher229: PdmProject,
                                                           tmp_path: Path) -> None:
    """Pinned to pdm 2.29.3: non-interactive, a username alone is not enough. After the
    (failing) keyring, pdm tries PyPI trusted publishing against *this* index
    (GET /_/oidc/audience, no credentials), then gives up before uploading anything."""
    index = privrepo.index("corp", auth=CI)
    privrepo.build_dist(publisher229.dist_dir, "pdm-pub", "1.0")

    result = pdm229.run("publish", "--no-build", "-r", index.upload_url, "-u", "ci",
                        cwd=publisher229.path, check=False)

    assert not result.ok
    out = flat(result.output)
    assert "Failed to get PyPI token via OIDC" in out, out
    assert "[PdmUsageError]: Username and password are required" in out, out
    assert [(h.method, h.path, h.user) for h in index.log] == [("GET", "/_/oidc/audience", None)]
    assert index.uploads == []
