"""Scenarios users report against private indexes, each with the real client.

Each test reproduces one recurring report from ``../shared/reference/products.md``
("Recurring problems users report"; the GitHub issue numbers are in each docstring)
against an index with the product's profile (pytest_privrepo/index/behaviour.py), and
asserts both what the client said or did and what the index (or the gateway's egress
log) saw, so a client that "works" by another route cannot pass. Client versions are the
suite's (pip 26.3, uv 0.13.9, twine 7.0.0 from the test extra; Poetry 1.8.5 and 2.5.1
provisioned); a docstring's facts are pinned to those versions.

Not reproduced yet, because the index cannot answer that way: redirects to signed
storage URLs (credentials lost or leaked on a redirect), listings that differ per user
(an anonymous probe's partial listing), Nexus's 400 for an upload URL without its
trailing slash, and Artifactory's 401 for a token sent as ``__token__``.
"""

from __future__ import annotations

import pytest
from helpers import flat

from pytest_privrepo import Privrepo
from pytest_privrepo.access import url_with_credentials
from pytest_privrepo.clients.indexes import IndexSpec
from pytest_privrepo.clients.isolated_keyring import IsolatedKeyring
from pytest_privrepo.clients.pip import Pip
from pytest_privrepo.clients.poetry_project import PoetryProject
from pytest_privrepo.dists import backend, backend_source
from pytest_privrepo.gateway.hosts import PYPI_HOST
from pytest_privrepo.index.behaviour import PROFILES

#: The client versions whose behaviour these tests pin (each docstring's facts): the tests
#: ask for them, so a run with other versions configured (tox's oldest/newest) still
#: checks these facts against these versions.
VERSIONS = {"pip": "26.3", "uv": "0.13.9", "twine": "7.0.0"}
PIP = pytest.mark.parametrize("pip", [VERSIONS["pip"]], indirect=True)
UV = pytest.mark.parametrize("uv", [VERSIONS["uv"]], indirect=True)

#: what an attacker uploaded to PyPI under a private name
SQUAT = "99.0"


def _squatted(privrepo: Privrepo) -> None:
    """PyPI (the stand-in) has ``corp-utils`` at a higher version than the private index."""
    privrepo.pypi.add("corp-utils", SQUAT)


# -- 1. a login failure that looks like "not found" ---------------------------------------


@pytest.mark.parametrize("poetry", ["1.8.5", "2.5.1"], indirect=True)
@pytest.mark.parametrize("refusal", [401, 403])
def test_poetry_takes_pypi_after_a_login_failure(privrepo, poetry, tmp_path, refusal):  # type: ignore[no-untyped-def]
    """poetry#2125, poetry#3719 (Poetry 1.8.5 and 2.5.1): a wrong password for an
    Artifactory source gets a 401 (the profile's answer) or, where Artifactory is set up
    to refuse with 403 (pip#11721), a 403. Poetry only warns "Authorization error
    accessing <page>" and treats the project as missing there, so with PyPI listed as a
    supplemental source the lock takes the name squatted on PyPI: dependency confusion
    through a login failure. Guard: with the right password the private 1.0 is locked
    and PyPI is never asked."""
    profile = PROFILES["artifactory"]
    if refusal == 403:
        profile = profile.replace(wrong_credentials_status=403)
    corp = privrepo.index("corp", profile=profile, auth=("alice", "corp-pw-7d1e"))
    corp.add("corp-utils", "1.0")
    _squatted(privrepo)
    poetry.configure(corp.access.overridden(password="WRONG"), "corp", repository=False)
    proj = PoetryProject(tmp_path / "proj", poetry).create("confused-app", "0.1.0")
    proj.add_dependency("corp-utils", "*")
    proj.add_source("corp", corp.url)
    proj.add_source("pypi", priority="supplemental")

    result = proj.run("lock")

    warning = f"Source (corp): Authorization error accessing {corp.url}corp-utils/"
    assert warning in flat(result.stderr), result.output
    lock = proj.lock_result()
    assert (lock["corp-utils"].source, lock["corp-utils"].version) == (None, SQUAT)
    page = corp.log.filter(path=f"{corp.prefix}/simple/corp-utils/")
    assert page and {(h.status, h.user, h.auth_ok) for h in page} == {(refusal, "alice", False)}
    asked = privrepo.egress.asked_for("corp-utils", host=PYPI_HOST)
    # Poetry asks PyPI's simple page and its JSON API for the version it picked
    assert {(r.path, r.status) for r in asked} == {
        ("/simple/corp-utils/", 200), (f"/pypi/corp-utils/{SQUAT}/json", 200)}, asked

    # Guard: the right password locks the private package; PyPI (supplemental) is not asked.
    poetry.configure(corp, "corp", repository=False)
    asked_before = len(privrepo.egress.asked_for("corp-utils", host=PYPI_HOST))
    (proj.path / "poetry.lock").unlink()
    good = proj.lock()
    assert (good["corp-utils"].source, good["corp-utils"].version) == ("corp", "1.0")
    assert len(privrepo.egress.asked_for("corp-utils", host=PYPI_HOST)) == asked_before


@UV
def test_uv_reads_codeartifacts_404_for_a_wrong_token_as_not_found(privrepo, uv):  # type: ignore[no-untyped-def]
    """uv#11899 (uv 0.13.9): CodeArtifact answers a wrong token with 404 (the profile's
    ``wrong_credentials_status``, from a uv maintainer in that thread). uv cannot tell that
    from a missing project: its resolver error names no authentication problem at all, and
    with PyPI as the default index ``first-index`` goes on to PyPI, which supplies a
    squatted name (uv stops at a 401/403 since 0.7, not at a 404: uv#9429)."""
    corp = privrepo.index("corp", profile="codeartifact", token="ca-token-5b2e")
    corp.add("internal-lib", "1.0")
    corp.add("corp-utils", "1.0")
    _squatted(privrepo)
    wrong = corp.access.overridden(password="expired-token")
    assert wrong.username == "aws"

    missing = uv.pip_install("internal-lib", extra_indexes=[wrong], auth="env", check=False)

    assert not missing.ok
    out = flat(missing.command.output)
    assert ("Because internal-lib was not found in the package registry and you require "
            "internal-lib, we can conclude that your requirements are unsatisfiable.") in out, out
    for word in ("401", "403", "404", "auth", "credential"):
        assert word not in out.lower(), out
    # the token went with user aws; the log names any token user __token__
    assert {(h.status, h.user, h.auth_ok) for h in corp.log} == {(404, "__token__", False)}

    confused = uv.pip_install("corp-utils", extra_indexes=[wrong], auth="env", check=False)

    assert confused.ok, confused.command.output
    assert confused.installed == (("corp-utils", SQUAT),)
    assert [h.status for h in corp.log.filter(path=f"{corp.prefix}/simple/corp-utils/")] == [404]
    assert {r.status for r in privrepo.egress.asked_for("corp-utils", host=PYPI_HOST)} == {200}


@PIP
@pytest.mark.parametrize("route", ["keyring", "netrc"])
def test_pip_never_asks_its_keyring_after_a_hidden_404(privrepo, pip, route):  # type: ignore[no-untyped-def]
    """pip#10016 (pip 26.3): Artifactory with "hide existence of unauthorized resources"
    answers 404 to anonymous and wrong requests alike (``anonymous_status=404``,
    twine#918). pip asks its keyring only after a 401, so with the password in the keyring
    (user name in the URL, as the keyring route needs) the page's 404 ends the search:
    one request, "No matching distribution", the keyring never consulted. netrc is read
    before the first request, so the same index works with it: the 404 hurts only the
    401-driven routes."""
    profile = PROFILES["artifactory"].replace(anonymous_status=404)
    corp = privrepo.index("corp", profile=profile, auth=("alice", "corp-pw-7d1e"))
    corp.add("internal-lib", "1.0")

    result = pip.install("internal-lib", index=corp, auth=route, check=False)

    page = f"{corp.prefix}/simple/internal-lib/"
    if route == "keyring":
        assert not result.ok
        out = result.command.output
        assert "No matching distribution found for internal-lib" in out, out
        assert "401" not in out and "Credentials not correct" not in out, out
        # the URL's user name with an empty password, once: no retry with the keyring's
        assert [(h.path, h.status, h.user, h.auth_ok) for h in corp.log] == [
            (page, 404, "alice", False)]
        assert pip.keyring_contents() == {corp.url: {"alice": "corp-pw-7d1e"}}
    else:
        assert result.versions == {"internal-lib": "1.0"}, result.command.output
        assert {(h.status, h.user, h.auth_ok) for h in corp.log} == {(200, "alice", True)}


# -- 2. credentials only sent after a 401 -------------------------------------------------

#: an Artifact Registry access token (the profile takes it with user oauth2accesstoken)
GAR_TOKEN = "ya29.gar-token-1c4d"


#: the cases of the next test: (index behaviour, pip's auth route, whether pip gets in)
AFTER_401 = [
    pytest.param("artifact-registry", "keyring", True, id="gar-keyring"),
    pytest.param("403-always", "keyring", False, id="403-keyring"),
    pytest.param("403-always", "netrc", True, id="403-netrc"),
    pytest.param("401-challenge", "keyring", True, id="401-keyring"),
]


@PIP
@pytest.mark.parametrize(("case", "route", "gets_in"), AFTER_401)
def test_pip_asks_its_keyring_only_after_a_401(privrepo, pip, case, route, gets_in):  # type: ignore[no-untyped-def]
    """pip#11721 (pip 26.3, subprocess keyring provider): pip asks the keyring only after
    a 401. An index that answers 403 to a request without a valid password (some
    Artifactory setups, pip#11721) ends pip's search at the first page: one request, the
    keyring never consulted. netrc is read before the first request, so the same index
    works with it; Artifactory's default 401 with a challenge gets the keyring retry.

    Google Artifact Registry (the profile: anonymous 403 with an empty body, 401 without
    a challenge for wrong credentials) works with the keyring route because that route
    puts the user name (``oauth2accesstoken``) in the URL: pip's first request carries it
    with an empty password, which is a wrong credential (401, no ``WWW-Authenticate``:
    pip retries without one). What breaks GAR users is a URL with no user name at all,
    whose first request is anonymous and gets the 403. That case is not here: the
    isolated keyring (``FileKeyring``) answers only lookups that name a user, so a
    keyring that could have answered the user-less retry cannot be set up."""
    if case == "artifact-registry":
        corp = privrepo.index("corp", profile="artifact-registry", token=GAR_TOKEN)
        user, secret = "oauth2accesstoken", GAR_TOKEN
    else:
        profile = PROFILES["artifactory"]
        if case == "403-always":
            profile = profile.replace(anonymous_status=403, wrong_credentials_status=403)
        user, secret = "alice", "corp-pw-7d1e"
        corp = privrepo.index("corp", profile=profile, auth=(user, secret))
    assert corp.username == user
    corp.add("internal-lib", "1.0")
    page = f"{corp.prefix}/simple/internal-lib/"

    result = pip.install("internal-lib", index=corp, auth=route, check=False)

    logged = "__token__" if case == "artifact-registry" else user
    first = [(h.path, h.status, h.auth_ok) for h in corp.log][:1]
    if route == "netrc":
        assert first == [(page, 200, True)]
    elif gets_in:
        assert first == [(page, 401, False)]
        assert [(h.path, h.status, h.user) for h in corp.log][1] == (page, 200, logged)
    else:
        assert [(h.path, h.status, h.auth_ok) for h in corp.log] == [(page, 403, False)]
        out = result.command.output
        assert "No matching distribution found for internal-lib" in out, out
        assert pip.keyring_contents() == {corp.url: {user: secret}}
    assert result.ok == gets_in, result.command.output
    if gets_in:
        assert result.versions == {"internal-lib": "1.0"}
        assert {(h.user, h.auth_ok) for h in corp.log[1 if route == "keyring" else 0:]} == {
            (logged, True)}


# -- 3. keyring lookups by index URL or by host --------------------------------------------

CORP_HOST = "pypi.corp.example"


@pytest.mark.parametrize("client", ["pip", "uv"])
@pytest.mark.parametrize("stored_as", ["index-url", "host", "no-user-in-url"])
def test_which_keyring_entry_a_subprocess_keyring_lookup_finds(privrepo, client_factory, client,
                                                               stored_as):  # type: ignore[no-untyped-def]
    """uv#13886, pip#12661: which service name the ``keyring`` subprocess is asked for.
    The password is stored in the isolated keyring under ONE name, the index URL
    (``https://pypi.corp.example/simple/``) or the host (``pypi.corp.example``), and the
    client gets the index URL with the user name ``alice`` in it, or without one.

    pip 26.3 (``--keyring-provider subprocess``, after a 401): the index URL, then the
    host (``network/auth.py``: "The index url is more specific than the netloc, so try it
    first"), so either entry works. uv 0.13.9 (``--keyring-provider subprocess``): with a
    user name in the URL, "Checking keyring for URL `<index URL>`" then, if that found
    nothing, "Checking keyring for host <host>", so either entry works too; uv then also
    sends each file request (``/files/...``, outside the index URL) with the user name
    alone first and retries it after the 401. Without a user name uv never runs the
    keyring ("Skipping keyring fetch ... without username; use `authenticate = always` to
    force"), and pip's user-less lookup finds nothing in a keyring that, like this
    harness's, keys entries by user name: both fail with a 401."""
    corp = privrepo.index("corp", host=CORP_HOST, tls="tls", auth=("alice", "corp-pw-7d1e"))
    corp.add("internal-lib", "1.0")
    runner = client_factory(client, VERSIONS[client])
    keyring_env = Pip(runner.env).keyring_env()  # the isolated keyring, for uv too
    keyring = IsolatedKeyring(runner.env)
    services = {"index-url": [corp.url], "host": [CORP_HOST],
                "no-user-in-url": [corp.url, CORP_HOST]}[stored_as]
    for service in services:
        keyring.set(service, "alice", "corp-pw-7d1e", keyring_env)
    user = None if stored_as == "no-user-in-url" else "alice"
    gets_in = user is not None
    page = "/simple/internal-lib/"

    if client == "pip":
        spec = IndexSpec(corp.url, username=user, ca_cert=corp.ca_cert)
        result = runner.install("internal-lib", index=spec, auth="keyring", check=False)
        output = result.command.output
        assert result.ok == gets_in, output
        first = ("alice", False) if gets_in else (None, None)  # the URL's user, no password
        assert [(h.path, h.status, h.user, h.auth_ok) for h in corp.log][:2] == (
            [(page, 401, *first), (page, 200, "alice", True)] if gets_in
            else [(page, 401, None, None)])
    else:
        runner.env.set({**keyring_env, "RUST_LOG": "uv_auth=trace"})  # its lookups
        url = url_with_credentials(corp.url, user) if user else corp.url
        spec = IndexSpec(url, ca_cert=corp.ca_cert)
        result = runner.pip_install("internal-lib", index=spec, auth="none", check=False,
                                    extra_args=["--keyring-provider", "subprocess", "-v"],
                                    no_cache=True)
        output = flat(result.command.output)
        assert result.ok == gets_in, output
        if gets_in:
            assert f"Checking keyring for URL `{corp.url}`" in output, output
            asked_host = f"Checking keyring for host {CORP_HOST}" in output
            assert asked_host == (stored_as == "host"), output
            # the page with the keyring's password at once; files: user only, 401, retry
            assert [(h.path, h.status, h.auth_ok) for h in corp.log][0] == (page, 200, True)
            files = [(h.status, h.auth_ok) for h in corp.log if h.path.startswith("/files/")]
            assert files and files[0] == (401, False) and files[-1] == (200, True), files
        else:
            assert "Skipping keyring fetch" in output and "without username" in output, output
            assert "lack of valid authentication credentials (401 Unauthorized)" in output
            assert [(h.path, h.status, h.user) for h in corp.log] == [(page, 401, None)]
    if gets_in:
        assert {(h.user, h.auth_ok) for h in corp.log if h.status == 200} == {("alice", True)}


# -- 4. an sdist-only private package whose build backend is private too ------------------

BACKEND = "corp-backend"


def _private_backend_release(index, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Serve ``corp-backend`` 1.0 (a wheel whose module ``corp_backend`` is the harness's
    own stdlib-only PEP 517 backend, :func:`~pytest_privrepo.dists.backend_source`) and
    ``corp-app`` 1.0 as an sdist only, whose ``[build-system]`` requires ``corp-backend``
    from the index: a client can install corp-app only by fetching the backend from the
    private index inside build isolation. Built with the dists module's own archive
    writers (``wheel_bytes``, ``sdist_bytes``), so the bytes follow its rules."""
    backend_wheel = tmp_path / "corp_backend-1.0-py3-none-any.whl"
    backend_wheel.write_bytes(backend.wheel_bytes(
        "corp_backend-1.0", {"corp_backend.py": backend_source().encode()},
        b"Metadata-Version: 2.1\nName: corp-backend\nVersion: 1.0\n", "py3-none-any"))
    pkg_info = b"Metadata-Version: 2.1\nName: corp-app\nVersion: 1.0\n"
    pyproject = (
        '[build-system]\nrequires = ["corp-backend"]\nbuild-backend = "corp_backend"\n\n'
        '[project]\nname = "corp-app"\nversion = "1.0"\n').encode()
    sdist = tmp_path / "corp_app-1.0.tar.gz"
    sdist.write_bytes(backend.sdist_bytes("corp_app-1.0", {
        "PKG-INFO": pkg_info, "pyproject.toml": pyproject,
        "corp_app/__init__.py": b'__version__ = "1.0"\n'}))
    index.add_file(backend_wheel)
    index.add_file(sdist)


#: (client, credential route, where pip reads its options, extra options, it builds)
BUILD_ISOLATION = [
    pytest.param("pip", "url", "cli", (), True, id="pip-url"),
    pytest.param("pip", "netrc", "cli", (), True, id="pip-netrc"),
    pytest.param("pip", "keyring", "cli", (), False, id="pip-keyring-cli"),
    pytest.param("pip", "keyring", "env", (), True, id="pip-keyring-env"),
    pytest.param("pip", "keyring", "cli", ("--use-feature=inprocess-build-deps",), True,
                 id="pip-keyring-inprocess"),
    pytest.param("uv", "env", "cli", (), True, id="uv-env"),
]


@pytest.mark.parametrize(("client", "route", "options", "extra", "builds"), BUILD_ISOLATION)
def test_build_isolation_fetches_a_private_backend_with_the_index_credentials(
        privrepo, client_factory, tmp_path, client, route, options, extra, builds):  # type: ignore[no-untyped-def]
    """pip#5263 (pip 26.3, uv 0.13.9): an sdist-only private package whose build backend
    is also private. Build isolation installs the backend in a separate step, which must
    reach the private index with the same credentials and CA.

    uv, and pip with the credentials in the URL or in netrc: the backend wheel is
    downloaded by alice over the index's TLS, corp-app is built and installed. pip with
    the keyring: its build-dependency step is a ``pip install`` subprocess
    (``build_env/installer.py``) that gets ``-i <URL>``, ``--cert``, ``--client-cert``,
    ``--proxy``, but not ``--keyring-provider``: given on the command line, the
    subprocess sends the URL's user name with an empty password twice and gives up
    ("401 Error, Credentials not correct for <page>"); given as ``PIP_KEYRING_PROVIDER``
    (inherited by the subprocess), or with ``--use-feature=inprocess-build-deps`` (one
    process, one session), it works."""
    corp = privrepo.index("corp", host=CORP_HOST, tls="tls", auth=("alice", "corp-pw-7d1e"))
    _private_backend_release(corp, tmp_path)
    runner = client_factory(client, VERSIONS[client])

    if client == "pip":
        result = runner.install("corp-app", index=corp, auth=route, route=options,
                                extra_args=list(extra), check=False)
        output = result.command.output
        assert result.versions == ({"corp-app": "1.0"} if builds else {}), output
    else:
        result = runner.pip_install("corp-app", index=corp, auth=route, check=False)
        output = result.command.output
        assert result.installed == ((("corp-app", "1.0"),) if builds else ()), output
    assert result.ok == builds, output
    backend_page = f"/simple/{BACKEND}/"
    downloads = {(h.path.rsplit("/", 1)[-1], h.user) for h in corp.log.downloads
                 if h.status == 200}
    if builds:
        assert downloads == {("corp_backend-1.0-py3-none-any.whl", "alice"),
                             ("corp_app-1.0.tar.gz", "alice")}
        assert corp.log.filter(path=backend_page)[-1].status == 200
    else:
        assert downloads == {("corp_app-1.0.tar.gz", "alice")}  # the sdist, not the backend
        assert "installing build dependencies for corp-app did not run successfully" in output
        assert f"401 Error, Credentials not correct for {corp.url}{BACKEND}/" in output
        assert [(h.status, h.user, h.auth_ok) for h in corp.log.filter(path=backend_page)] == [
            (401, "alice", False)] * 2
    assert privrepo.egress.refused == []


# -- 5. the token's user name per product ---------------------------------------------------


#: (client, profile, the user name the token is sent with, whether the index takes it)
TOKEN_USERS = [
    pytest.param("uv", "artifactory", "", True, id="uv-artifactory-empty-user"),
    pytest.param("uv", "artifactory", "aws", False, id="uv-artifactory-aws"),
    pytest.param("twine", "codeartifact", "aws", True, id="twine-codeartifact-aws"),
    pytest.param("twine", "codeartifact", "oauth2accesstoken", False,
                 id="twine-codeartifact-gar-user"),
]


@pytest.mark.parametrize(("client", "profile", "user", "accepted"), TOKEN_USERS)
def test_a_token_goes_with_the_products_user_name(privrepo, client_factory, tmp_path, client,
                                                  profile, user, accepted):  # type: ignore[no-untyped-def]
    """uv's JFrog guide, products.md "Fixed user names by product" (uv 0.13.9, twine
    7.0.0): a token is accepted only with the product's user name. Artifactory's identity
    token goes with an EMPTY user name: ``uv publish --username "" --password TOKEN``
    (uv accepts the empty ``--username``) is uploaded; CodeArtifact's with ``aws``:
    ``twine upload --username aws`` is. The same token under another product's user name (a
    config copied from CodeArtifact to Artifactory, from Artifact Registry to CodeArtifact)
    is refused (Artifactory: 401, CodeArtifact: 403) and the client says so. ``uv publish --token`` against Artifactory
    sends ``__token__``: test_uv_publish_token_is_refused_by_artifactory."""
    secret = f"{profile}-token-9a7b"
    corp = privrepo.index("corp", profile=profile, token=secret)
    assert corp.username == ("" if profile == "artifactory" else "aws")
    wheel = privrepo.build_dist(tmp_path, "corp-up", "1.0")
    runner = client_factory(client, VERSIONS[client])

    if client == "uv":
        result = runner.publish([wheel], corp, username=user, password=secret, check=False)
    else:
        result = runner.upload([wheel], corp, username=user, password=secret, check=False)

    assert result.ok == accepted, result.output
    argv = list(result.argv)
    assert argv[argv.index("--username") + 1] == user
    posts = [(h.status, h.auth_ok) for h in corp.log.filter(method="POST")]
    if accepted:
        assert posts == [(200, True)]
        assert [(u.filename, u.user) for u in corp.uploads] == [(wheel.name, "__token__")]
    else:
        # Artifactory answers a wrong upload credential with 401 (uv's JFrog guide), the
        # others as Warehouse does, 403
        status, phrase = (401, "Unauthorized") if profile == "artifactory" else (403, "Forbidden")
        assert posts == [(status, False)]
        assert corp.uploads == []
        said = (f"Server returned status code {status} {phrase}" if client == "uv"
                else f"{status} {phrase} from {corp.upload_url}")
        assert said in flat(result.output), result.output


def test_uv_publish_token_is_refused_by_artifactory(privrepo, client_factory, tmp_path):  # type: ignore[no-untyped-def]
    """uv's JFrog guide: ``uv publish --token`` sends the token as user ``__token__``, which
    Artifactory does not take (its identity tokens go with an empty user name), so the
    upload is refused with 401, as the real product answers. uv 0.13.9."""
    secret = "artifactory-token-5c2e"
    corp = privrepo.index("corp", profile="artifactory", token=secret)
    uv = client_factory("uv", VERSIONS["uv"])
    wheel = privrepo.build_dist(tmp_path, "corp-up", "1.0")
    result = uv.publish([wheel], corp, token=secret, check=False)
    assert not result.ok
    assert "--token" in result.argv and "--username" not in result.argv
    assert [(h.status, h.user, h.auth_ok) for h in corp.log.filter(method="POST")] == [
        (401, "__token__", False)]
    assert corp.uploads == [] and secret not in result.output


# -- 6. a partial anonymous listing ---------------------------------------------------------

def test_uv_retries_a_partial_anonymous_view_with_its_netrc_credentials(privrepo, client_factory):  # type: ignore[no-untyped-def]
    """uv#3923: an index that shows anonymous clients part of its projects (a public
    "virtual" view) and answers 404 for the rest. uv 0.13.9 with netrc credentials asks every
    URL anonymously first: a project in the view is read (and downloaded) without
    credentials; a hidden one gets its 404 and uv asks again with the netrc login, so the
    install works (the uv#3923 failure, stopping at the anonymous 404, does not show on
    0.13.9). pip 26.3 sends netrc credentials up front, so it never sees the partial view."""
    corp = privrepo.index("corp", host="pypi.corp.example", tls="tls",
                          auth=("alice", "corp-pw-3923"), anonymous_view=["public-lib"])
    corp.add("internal-lib", "1.0")
    corp.add("public-lib", "1.0")
    uv = client_factory("uv", VERSIONS["uv"])

    result = uv.pip_install(["public-lib", "internal-lib"], index=corp, auth="netrc")

    assert result.versions == {"internal-lib": "1.0", "public-lib": "1.0"}
    page = [(h.status, h.user) for h in corp.log.filter(path="/simple/internal-lib/")]
    assert page == [(404, None), (200, "alice")]
    assert {(h.status, h.user) for h in corp.log.filter(path_prefix="/files/public-lib/")} == {
        (200, None)}  # the view's project: never with credentials
    privrepo.egress.assert_no_leaks()

    pip = client_factory("pip", VERSIONS["pip"])
    corp.log.clear()
    assert pip.install(["public-lib", "internal-lib"], index=corp, auth="netrc").ok
    assert {h.user for h in corp.log} == {"alice"}


# -- 7. Nexus's upload URL without its trailing slash -------------------------------------

def test_nexus_upload_url_without_its_slash(privrepo, client_factory, tmp_path):  # type: ignore[no-untyped-def]
    """poetry#8391: Nexus takes uploads at ``/repository/<r>/``; without the trailing slash
    it answers 400 "Repository path must have another '/'". twine 7.0.0 shows Nexus's
    reason; with the slash the same upload works."""
    from pytest_privrepo.access import IndexAccess

    nexus = privrepo.index("corp", profile="nexus", auth=("ci", "nexus-pw-8391"))
    twine = client_factory("twine", VERSIONS["twine"])
    wheel = privrepo.build_dist(tmp_path, "corp-up", "1.0")
    no_slash = IndexAccess.of(nexus)
    no_slash = IndexAccess(no_slash.url, upload_url=nexus.upload_url.rstrip("/"),
                           username="ci", password="nexus-pw-8391", ca_cert=no_slash.ca_cert)
    refused = twine.upload([wheel], no_slash, check=False)
    assert not refused.ok and "Repository path must have another" in flat(refused.output)
    assert nexus.uploads == []
    assert twine.upload([wheel], nexus).ok and len(nexus.uploads) == 1
