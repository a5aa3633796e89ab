"""The real pdm against ephemeral indexes: sources, credentials/certificates from pdm's global
config, ``pdm lock -S static_urls`` (which index each file came from), source precedence, and
locking with a token (user ``__token__``) over HTTP, HTTPS and mTLS. Publishing is in
test_pdm_publish.py.

Each test asserts both what pdm wrote (pdm.lock, the project venv) and what the indexes saw.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import (
    DEMO_METADATA,
    DEMO_PAGES,
    READ_TOKEN,
    TLS,
    assert_token_hits,
    pages,
    token_index,
    token_spec,
)
from packaging.version import Version

from pytest_privrepo import ConfigError, Privrepo
from pytest_privrepo.clients import ClientEnv, IndexSpec
from pytest_privrepo.clients.pdm import Pdm, PdmProject

# ``pdm`` is the plugin's fixture: the version comes from the privrepo_pdm_versions ini key
# (pyproject.toml) or $PRIVREPO_PDM_VERSIONS, provisioned with pdm's own "locked" extra.


@pytest.fixture
def project(tmp_path: Path, pdm: Pdm) -> PdmProject:
    return PdmProject(tmp_path / "project", pdm).create(dependencies=["demo"])


@pytest.mark.parametrize("tls", [None, "tls", "mtls"])
def test_lock_and_install_from_private_index(privrepo, project: PdmProject, tls: str | None) -> None:
    corp = privrepo.index("corp", auth=("alice", "p@ss:w/rd"), tls=tls)
    corp.add("demo", "1.0", requires=["helper>=2"])
    corp.add("helper", "2.0")
    project.add_source("corp", corp)

    lock = project.lock()

    assert lock.versions() == {"demo": "1.0", "helper": "2.0"}
    assert lock.sources() == {"demo": "corp", "helper": "corp"}
    scheme = "https" if tls else "http"
    assert lock["demo"].urls == (f"{scheme}://{corp.netloc}/files/demo/demo-1.0-py3-none-any.whl",)
    # credentials never end up in the lock file or the pyproject
    assert "p@ss" not in project.lockfile.read_text() and "alice" not in project.pyproject.read_text()

    project.install()
    assert project.installed() == {"demo": "1.0", "helper": "2.0"}
    assert {(h.user, h.auth_ok) for h in corp.log} == {("alice", True)}
    assert sorted(h.path.rsplit("/", 1)[-1] for h in corp.log.downloads) == [
        "demo-1.0-py3-none-any.whl", "helper-2.0-py3-none-any.whl"]
    certs = {h.client_cert for h in corp.log}
    if tls == "mtls":
        assert len(certs) == 1 and "corp-client@privrepo.test" in certs.pop()
    else:
        assert certs == {None}


@pytest.mark.parametrize("respect_order", [False, True], ids=["merge", "respect-source-order"])
def test_two_sources_merge_vs_respect_source_order(privrepo, pdm: Pdm, project: PdmProject,
                                                    respect_order: bool) -> None:
    corp = privrepo.index("corp", auth=("alice", "s3cret"))
    public = privrepo.index("public", auth=("bob", "pw"))
    corp.add("demo", "1.0")
    public.add("demo", "9.9")  # dependency confusion: same name, higher version
    project.add_source("corp", corp).add_source("public", public)
    if respect_order:
        project.respect_source_order()

    lock = project.lock()

    if respect_order:
        assert (lock["demo"].version, lock["demo"].source) == ("1.0", "corp")
    else:  # pdm's default: every source merged, best version wins
        assert (lock["demo"].version, lock["demo"].source) == ("9.9", "public")
    assert pages(corp, "demo")
    if respect_order and pdm.release < Version("2.22.0"):
        # pdm < 2.22.0 takes the first candidate it is offered, and unearth offers the first
        # source's files before it reads the next source: public is never asked
        assert not pages(public, "demo")
    else:
        # pdm 2.22.0+ looks past the first candidate (it groups a version's files to prefer
        # wheels), so unearth reads the next source too: respect-source-order then filters
        # the candidates, it does not stop the search
        assert pages(public, "demo")


def test_include_and_exclude_packages(privrepo, project: PdmProject) -> None:
    """include_packages *pins* matching packages to the source (no other source is asked);
    exclude_packages keeps the source out for them; everything else is merged as usual."""
    corp = privrepo.index("corp", auth=("alice", "s3cret"))
    public = privrepo.index("public", auth=("bob", "pw"))
    corp.add("demo", "1.0")
    corp.add("other", "5.0")
    corp.add("third", "1.0")
    public.add("demo", "9.9")
    public.add("other", "2.0")
    public.add("third", "3.0")
    project.add_dependency("other")
    project.add_dependency("third")
    project.add_source("corp", corp, include_packages=["demo"], exclude_packages=["other"])
    project.add_source("public", public)

    lock = project.lock()

    assert lock.versions() == {"demo": "1.0", "other": "2.0", "third": "3.0"}
    assert lock.sources() == {"demo": "corp", "other": "public", "third": "public"}
    assert not pages(public, "demo"), "a pinned package was looked up on another source"
    assert not pages(corp, "other"), "an excluded package was looked up on the source"
    assert pages(corp, "third") and pages(public, "third")  # not matched: merged


def test_wrong_password_fails_with_pdms_error(privrepo, project: PdmProject) -> None:
    corp = privrepo.index("corp", auth=("alice", "s3cret"))
    corp.add("demo", "1.0")
    project.add_source("corp", corp, password="wrong")

    lock = project.lock(check=False)

    assert not lock.ok
    assert not project.lockfile.exists()
    out = lock.command.output
    # pdm reports the unresolvable requirement; the 401 is what the index answered
    assert "[CandidateNotFound]: Unable to find candidates for demo." in out, out
    hits = pages(corp, "demo")
    assert hits and {(h.user, h.auth_ok, h.status) for h in hits} == {("alice", False, 401)}


def test_mtls_without_client_certificate_fails(privrepo, project: PdmProject) -> None:
    corp = privrepo.index("corp", auth=("alice", "s3cret"), tls="mtls")
    corp.add("demo", "1.0")
    spec = IndexSpec.of(corp)
    project.add_source("corp", IndexSpec(url=spec.url, ca_cert=spec.ca_cert,
                                         username=spec.username, password=spec.password))

    lock = project.lock(check=False)

    assert not lock.ok
    assert "CERTIFICATE_REQUIRED" in lock.command.output.upper(), lock.command.output
    assert not corp.log.filter(path_prefix="/simple/demo/")


@pytest.mark.parametrize("release, refused", [("2.17.1", True), ("2.17.2", False)])
def test_source_credentials_need_pdm_2_17_2(tmp_path: Path, release: str, refused: bool) -> None:
    """pdm 2.17.0/2.17.1 drop ``[pypi.<name>]`` of the project's own sources under
    PDM_IGNORE_STORED_INDEX: the harness says so instead of letting every lock fail with
    "Unable to find candidates". A stand-in executable answers ``pdm --version``."""
    fake = tmp_path / "pdm"
    fake.write_text(f"#!/bin/sh\necho 'PDM, version {release}'\n")
    fake.chmod(0o755)
    pdm = Pdm(ClientEnv(tmp_path / "env"), fake)
    spec = IndexSpec(url="http://127.0.0.1:1/simple/", username="alice", password="pw")

    assert pdm.configure_source("open", IndexSpec(url=spec.url)) == pdm.config_file  # nothing lost
    if refused:
        with pytest.raises(ConfigError, match=r"pdm 2\.17\.1 ignores \[pypi\.corp\] "
                                              r"\(username, password\).*use pdm >= 2\.17\.2"):
            pdm.configure_source("corp", spec)
        assert "corp" not in pdm.config_file.read_text()
    else:
        pdm.configure_source("corp", spec)
        assert "alice" in pdm.config_file.read_text()


@pytest.mark.parametrize("tls", TLS)
def test_pdm_locks_with_token(privrepo: Privrepo, pdm_project: PdmProject,
                              tls: str | None) -> None:
    """``[[tool.pdm.source]]`` + ``pypi.corp.username = "__token__"`` / ``password`` in pdm's
    global config; pdm.lock's static URLs map every file back to the source."""
    index = token_index(privrepo, tls)
    pdm_project.add_dependency("demo")
    pdm_project.add_source("corp", token_spec(index))

    lock = pdm_project.lock()

    assert lock.versions() == {"demo": "1.0", "helper": "2.0"}
    assert lock.sources() == {"demo": "corp", "helper": "corp"}
    assert lock["helper"].urls == (f"{index.base_url}/files/helper/helper-2.0-py3-none-any.whl",)
    assert READ_TOKEN not in pdm_project.lockfile.read_text() + pdm_project.pyproject.read_text()
    # pdm reads a project's page more than once per lock: the set of paths is what is fixed
    assert_token_hits(index, DEMO_PAGES | DEMO_METADATA)
