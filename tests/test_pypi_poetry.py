"""The real Poetry 1.8.5 and 2.5.1 between a private index and the PyPI stand-in.

The private index is a named TLS host (``https://pypi.corp.example/simple/``, session CA,
basic auth); PyPI is ``privrepo.pypi`` at PyPI's own names, which Poetry hard-codes
(``poetry/repositories/pypi_repository.py``: ``https://pypi.org/``; publish:
``poetry/publishing/publisher.py``: ``https://upload.pypi.org/legacy/``). Every test asserts
what Poetry wrote into poetry.lock (or uploaded) and what the gateway's egress log and the
indexes' own logs saw: the lock shows which answer Poetry chose, only the logs show who was
asked (a question to PyPI about an internal name is a leak even when the lock is right).

Behaviour recorded here (both versions unless said otherwise):

- there is no "custom source over the implicit PyPI": any primary source (no priority, or
  ``priority = "primary"``; in 1.8.5 also ``default = true``) deactivates the implicit PyPI
  (``poetry/factory.py``, ``create_pool``: "Deactivating the PyPI repository"); not one
  request reaches pypi.org or files.pythonhosted.org, and a public-only dependency does not
  resolve. The docs' older "any custom repository will have precedence over PyPI" does not
  hold for either version;
- PyPI is implicit (added as a primary) only when every source is supplemental, explicit
  or (1.8.5) secondary. Listing ``name = "pypi"`` as a source brings it back next to a
  primary source: then both are merged, PyPI is asked for every name, the internal ones
  included, a higher version on PyPI wins and an exact tie goes to the source listed first;
- 1.8.5 ``secondary = true`` merges the private source with PyPI like a primary listed
  last: both are asked for every name, so a private name squatted on PyPI at a higher
  version is locked from PyPI (dependency confusion). ``priority = "supplemental"`` (1.8.5
  and 2.5.1) asks PyPI first and the private source only for names PyPI does not have: the
  squatted name is locked from PyPI without the private source ever being asked for it.
  Either way PyPI is asked for every internal name;
- an explicit source is asked only for dependencies pinned to it; PyPI is never asked for
  a pinned name, but an unpinned dependency with an internal name goes to PyPI;
- ``poetry publish`` without ``-r`` uploads to ``https://upload.pypi.org/legacy/`` with
  ``pypi-token.pypi`` (``POETRY_PYPI_TOKEN_PYPI`` or ``poetry config pypi-token.pypi``) as
  ``__token__``; with ``-r corp`` nothing reaches any PyPI host, even with a PyPI token
  configured;
- trust: Poetry's requests 2.34.2 verifies against certifi and ignores ``SSL_CERT_FILE``,
  so in a routed environment the runner makes certifi answer with the public CA bundle
  (:meth:`pytest_privrepo.clients.ClientEnv.certifi_store`). A private TLS source without
  ``certificates.<name>.cert`` then fails the handshake while PyPI answers in the same run,
  and the lock stops (1.8.5 prints the ``SSLError``, 2.5.1 "All attempts to connect to
  <host> failed."); with it, it works. ``REQUESTS_CA_BUNDLE`` would be wrong for this:
  lock requests pass ``verify`` themselves and keep the source's CA, but the uploader puts
  the CA on the session, which requests lets the variable replace, so ``poetry publish -r
  corp`` fails ("Connection Error: We were unable to connect to the repository" / "Error
  connecting to repository"); a user with ``REQUESTS_CA_BUNDLE`` exported hits the same.
"""

from __future__ import annotations

import os

import pytest

from pytest_privrepo import ClientError, ConfigError
from pytest_privrepo.clients import ClientEnv, Poetry
from pytest_privrepo.clients.poetry_project import PoetryProject
from pytest_privrepo.gateway.hosts import PYPI_HOST, PYPI_HOSTS, PYPI_UPLOAD_HOST

CORP_HOST = "pypi.corp.example"
BOTH = pytest.mark.parametrize("poetry", ["1.8.5", "2.5.1"], indirect=True)


@pytest.fixture
def corp(privrepo):
    """The private index and PyPI with the names the tests need.

    corp: ``internal-lib`` (only here), ``corp-utils`` 1.0 (squatted on PyPI at 99.0),
    ``shared`` 1.0 (the same, byte-identical wheel on PyPI). PyPI: also ``public-lib``.
    """
    index = privrepo.index("corp", host=CORP_HOST, tls="tls", auth=("alice", "corp-pw-5e1f"))
    index.add("internal-lib", "1.0")
    index.add("corp-utils", "1.0")
    index.add("shared", "1.0")
    pypi = privrepo.pypi
    pypi.add("corp-utils", "99.0")
    pypi.add("shared", "1.0")
    pypi.add("public-lib", "3.0")
    assert index.files("shared")[0].sha256 == pypi.files("shared")[0].sha256
    return index


def _project(tmp_path, poetry, *deps: str) -> PoetryProject:
    proj = PoetryProject(tmp_path / "proj", poetry).create("pypi-app", "0.1.0")
    for dep in deps:
        proj.add_dependency(dep, "*")
    return proj


def _pypi_records(privrepo) -> list:
    return [r for r in privrepo.egress if r.host in PYPI_HOSTS]


def _leaked(privrepo) -> set[tuple[str, str | None]]:
    return {(leak.kind, leak.record.project) for leak in privrepo.egress.leaks()}


def _asked(index, project: str) -> list[int]:
    """Statuses of the requests for ``project``'s simple page on ``index``."""
    return [h.status for h in index.log.filter(path=f"/simple/{project}/")]


# -- 1 + 3: primary sources and the implicit PyPI -------------------------------------------
@pytest.mark.parametrize(("poetry", "spelling"), [
    pytest.param("1.8.5", {}, id="1.8.5-primary"),
    pytest.param("1.8.5", {"default": True}, id="1.8.5-default"),
    pytest.param("2.5.1", {}, id="2.5.1-primary"),
], indirect=["poetry"])
def test_a_primary_source_deactivates_the_implicit_pypi(privrepo, corp, poetry, tmp_path, spelling):
    poetry.configure(corp, repository=False)
    proj = _project(tmp_path / "a", poetry, "internal-lib", "corp-utils", "shared")
    proj.add_source("corp", corp.url, **spelling)

    lock = proj.lock()

    assert lock.sources() == {"internal-lib": "corp", "corp-utils": "corp", "shared": "corp"}
    assert lock["corp-utils"].version == "1.0"      # PyPI's 99.0 was never considered
    # Not one request for any PyPI host, though the stand-in was up and had two of the names.
    assert privrepo.egress.asked_for("internal-lib", host=PYPI_HOST) == []
    assert _pypi_records(privrepo) == [] and len(privrepo.pypi.log) == 0
    assert {r.host for r in privrepo.egress} == {CORP_HOST}
    assert {r.credentials_of for r in privrepo.egress} == {frozenset({"corp"})}
    privrepo.egress.assert_no_leaks()

    # PyPI is really off, not just unneeded: a public-only name does not resolve.
    public = _project(tmp_path / "b", poetry, "public-lib")
    public.add_source("corp", corp.url, **spelling)
    with pytest.raises(ClientError) as err:
        public.lock()
    assert ("Because pypi-app depends on public-lib (*) which doesn't match any versions, "
            "version solving failed.") in str(err.value)
    assert _asked(corp, "public-lib") == [404]
    assert _pypi_records(privrepo) == []


@BOTH
def test_pypi_listed_next_to_a_primary_source_is_merged_and_asked_for_internal_names(
        privrepo, corp, poetry, tmp_path):
    poetry.configure(corp, repository=False)
    proj = _project(tmp_path, poetry, "internal-lib", "corp-utils", "shared", "public-lib")
    proj.add_source("corp", corp.url)
    proj.add_source("pypi")

    lock = proj.lock()

    # A name both have: the higher version wins (PyPI's squat), a tie goes to the first listed.
    assert lock.sources() == {"internal-lib": "corp", "corp-utils": None, "shared": "corp",
                              "public-lib": None}
    assert lock.versions() == {"internal-lib": "1.0", "corp-utils": "99.0", "shared": "1.0",
                               "public-lib": "3.0"}
    # Both sources were asked for every name: PyPI for the internal ones too.
    assert {r.status for r in privrepo.egress.asked_for("internal-lib", host=PYPI_HOST)} == {404}
    assert privrepo.pypi.log.filter(path="/simple/internal-lib/")
    for project in ("internal-lib", "corp-utils", "shared"):
        assert _asked(corp, project) == [200], project
    assert set(_asked(corp, "public-lib")) == {404}
    assert _leaked(privrepo) == {("internal-name", "internal-lib"), ("internal-name", "corp-utils"),
                                 ("internal-name", "shared")}


# -- 2: PyPI primary, the private source behind it ----------------------------------------
@pytest.mark.parametrize(("poetry", "spelling"), [
    pytest.param("1.8.5", {"secondary": True}, id="1.8.5-secondary"),
    pytest.param("1.8.5", {"priority": "supplemental"}, id="1.8.5-supplemental"),
    pytest.param("2.5.1", {"priority": "supplemental"}, id="2.5.1-supplemental"),
], indirect=["poetry"])
def test_a_private_name_squatted_on_pypi_is_locked_from_pypi(privrepo, corp, poetry, tmp_path, spelling):
    poetry.configure(corp, repository=False)
    proj = _project(tmp_path, poetry, "internal-lib", "corp-utils", "public-lib")
    proj.add_source("corp", corp.url, **spelling)

    lock = proj.lock()

    # Dependency confusion: the attacker's 99.0 from PyPI, not corp's 1.0.
    assert lock["corp-utils"].version == "99.0" and lock["corp-utils"].source is None
    assert privrepo.pypi.log.filter(path="/packages/corp-utils/corp_utils-99.0-py3-none-any.whl.metadata")
    assert lock.sources() == {"internal-lib": "corp", "corp-utils": None, "public-lib": None}
    # PyPI was asked for both internal names; corp's credentials never went there.
    assert _leaked(privrepo) == {("internal-name", "internal-lib"), ("internal-name", "corp-utils")}
    assert {leak.kind for leak in privrepo.egress.leaks()} == {"internal-name"}
    assert not any(r.credentials_offered for r in _pypi_records(privrepo))
    assert {r.status for r in privrepo.egress.asked_for("internal-lib", host=PYPI_HOST)} == {404}
    if "secondary" in spelling:
        # secondary is merged: corp was asked for corp-utils too, and lost on the version.
        assert _asked(corp, "corp-utils") == [200]
        assert _asked(corp, "public-lib") == [404]
    else:
        # supplemental: corp is asked only for what PyPI lacks.
        assert privrepo.egress.asked_for("corp-utils", host=CORP_HOST) == []
        assert privrepo.egress.asked_for("public-lib", host=CORP_HOST) == []
        assert _asked(corp, "internal-lib") == [200]


# -- 4: explicit sources ------------------------------------------------------------------
@BOTH
def test_an_explicit_source_is_asked_only_for_pinned_deps(privrepo, corp, poetry, tmp_path):
    corp.add("corp-kit", "1.0", requires=["public-lib>=1"])
    poetry.configure(corp, repository=False)
    proj = _project(tmp_path, poetry, "corp-utils")     # unpinned: an internal name left open
    proj.add_dependency("corp-kit", "*", source="corp")
    proj.add_source("corp", corp.url, priority="explicit")

    lock = proj.lock()

    assert lock.sources() == {"corp-kit": "corp", "public-lib": None, "corp-utils": None}
    assert lock.versions() == {"corp-kit": "1.0", "public-lib": "3.0", "corp-utils": "99.0"}
    # corp saw the pinned project and nothing else (not its transitive dependency) ...
    assert {r.project for r in privrepo.egress.to(CORP_HOST)} == {"corp-kit"}
    assert {h.path for h in corp.log.filter(path_prefix="/simple/")} == {"/simple/corp-kit/"}
    # ... PyPI never heard of the pinned name, but was asked for the unpinned internal one.
    assert privrepo.egress.asked_for("corp-kit", host=PYPI_HOST) == []
    assert _leaked(privrepo) == {("internal-name", "corp-utils")}


# -- 5: publishing ------------------------------------------------------------------------
@pytest.mark.parametrize("route", ["env", "command"])
@BOTH
def test_publish_without_repository_goes_to_pypi(privrepo, poetry, tmp_path, route):
    poetry.configure(privrepo.pypi, "pypi", route=route, token=True, repository=False)
    if route == "env":
        assert "POETRY_PYPI_TOKEN_PYPI" in poetry.env.vars
    else:
        assert "POETRY_PYPI_TOKEN_PYPI" not in poetry.env.vars
    proj = PoetryProject(tmp_path / "proj", poetry).create("oops-app", "0.1.0")
    dists = proj.build()

    proj.publish()      # no -r: Poetry's default repository is PyPI

    assert sorted((u.filename, u.user) for u in privrepo.pypi.uploads) == sorted(
        (d.filename, "__token__") for d in dists)
    uploads = [r for r in privrepo.egress if r.method == "POST"]
    assert {(r.host, r.path, r.status, r.index) for r in uploads} == {
        (PYPI_UPLOAD_HOST, "/legacy/", 200, "pypi")}
    assert {r.credentials_of for r in uploads} == {frozenset({"pypi"})}
    privrepo.egress.assert_no_leaks()


@BOTH
def test_publish_to_a_named_repository_does_not_reach_pypi(privrepo, corp, poetry, tmp_path):
    poetry.configure(privrepo.pypi, "pypi", route="env", token=True, repository=False)
    poetry.configure(corp)      # repositories.corp, http-basic.corp, certificates.corp
    proj = PoetryProject(tmp_path / "proj", poetry).create("corp-app", "0.1.0")

    proj.publish("corp", build=True)

    assert {(u.version, u.user) for u in corp.uploads} == {("0.1.0", "alice")}
    assert len(corp.uploads) == 2
    assert privrepo.pypi.uploads == [] and len(privrepo.pypi.log) == 0
    assert privrepo.egress.to(PYPI_UPLOAD_HOST) == [] and _pypi_records(privrepo) == []
    assert {(r.method, r.path) for r in privrepo.egress} == {("POST", "/legacy/")}
    privrepo.egress.assert_no_leaks()


# -- 6: trust ------------------------------------------------------------------------------
@pytest.mark.parametrize("cert", [False, True], ids=["no-cert", "cert"])
@BOTH
def test_a_private_tls_source_needs_its_cert_while_pypi_is_trusted(privrepo, corp, poetry, tmp_path, cert):
    poetry.configure(corp, repository=False, certificates=cert)
    # Poetry 1.8.5 and 2.5.1 look up the last declared dependency first: PyPI answers
    # public-lib, then (supplemental) corp is asked for internal-lib.
    proj = _project(tmp_path, poetry, "internal-lib", "public-lib")
    proj.add_source("corp", corp.url, priority="supplemental")

    result = proj.run("lock", check=False)

    # PyPI (the public CA, Poetry's default store) answered in the same run either way.
    assert [r.status for r in privrepo.pypi.log.filter(path="/simple/public-lib/")] == [200]
    assert {(r.index, r.status) for r in privrepo.egress.asked_for("internal-lib", host=PYPI_HOST)
            if r.path == "/simple/internal-lib/"} == {("pypi", 404)}
    if cert:
        assert result.ok, result.output
        assert proj.lock_result().sources() == {"public-lib": None, "internal-lib": "corp"}
        assert _asked(corp, "internal-lib") == [200]
        return
    assert not result.ok
    if poetry.major == 1:
        assert ("HTTPSConnectionPool(host='pypi.corp.example', port=443): Max retries exceeded "
                "with url: /simple/internal-lib/ (Caused by SSLError(SSLCertVerificationError("
                "1, '[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to get "
                "local issuer certificate") in result.output
    else:
        assert "All attempts to connect to pypi.corp.example failed." in result.output
    # The handshake failed: corp never saw a request, the gateway only the tunnel.
    assert corp.server.wait_for_tls_failure().reason
    assert len(corp.log) == 0
    assert [r for r in privrepo.egress.to(CORP_HOST) if r.path] == []
    assert not proj.path.joinpath("poetry.lock").exists()


@BOTH
def test_requests_ca_bundle_would_override_the_repository_cert_on_publish(privrepo, corp, poetry, tmp_path):
    """Why the runner does not use ``REQUESTS_CA_BUNDLE`` for the default store: Poetry's
    uploader puts ``certificates.corp.cert`` on the session, and requests lets the variable
    replace it, so the publish to corp fails; lock requests pass ``verify`` themselves."""
    poetry.configure(corp)
    poetry.env.set(REQUESTS_CA_BUNDLE=privrepo.gateway.trust_bundle)
    proj = PoetryProject(tmp_path / "proj", poetry).create("corp-app", "0.1.0")
    proj.add_source("corp", corp.url)
    proj.add_dependency("internal-lib", "*")

    assert proj.lock().sources() == {"internal-lib": "corp"}   # per-request verify: corp's CA
    proj.build()
    result = proj.publish("corp", check=False)

    assert not result.ok
    assert ("Connection Error: We were unable to connect to the repository" if poetry.major == 1
            else "Error connecting to repository") in result.output
    assert corp.uploads == [] and corp.log.filter(method="POST") == []
    assert corp.server.wait_for_tls_failure().reason


def test_the_runner_makes_the_public_ca_poetrys_default_store(poetry, tmp_path):
    """certifi, as Poetry's interpreter imports it under the runner's environment, answers
    with the gateway's bundle; a PYTHONPATH the test set stays behind it; no gateway, no
    change."""
    bundle = str(poetry.env.gateway.trust_bundle)
    poetry.env.set(PYTHONPATH=tmp_path / "mine")
    env = poetry.run_env()
    assert env["PYTHONPATH"].split(os.pathsep) == [str(poetry.env.certifi_store()), str(tmp_path / "mine")]
    python = poetry.executable.parent / "python"
    code = "import certifi, requests.certs; print(certifi.where()); print(requests.certs.where())"
    out = poetry.env.run([str(python), "-c", code], extra_env=env).stdout.split()
    assert out == [bundle, bundle]
    offline = Poetry(ClientEnv(tmp_path / "offline"), poetry.executable)
    assert offline.env.certifi_store() is None and offline.run_env() == {}


def test_the_pypi_source_takes_no_url_and_every_other_source_needs_one(poetry, tmp_path):
    proj = _project(tmp_path, poetry)
    with pytest.raises(ConfigError, match="the source named 'pypi' is PyPI itself"):
        proj.add_source("PyPI", "https://pypi.org/simple/")
    with pytest.raises(ConfigError, match="source 'corp' needs a url"):
        proj.add_source("corp")
    proj.add_source("pypi", priority="supplemental")
    assert [dict(s) for s in proj.doc["tool"]["poetry"]["source"]] == [
        {"name": "pypi", "priority": "supplemental"}]
