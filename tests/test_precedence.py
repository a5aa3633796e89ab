"""Index precedence and dependency confusion as pip and uv actually behave.

The scenario: ``corp`` (private) and ``public`` both serve a project named ``demo``; the
public one has a higher version. Each test asserts the client's own result (pip's
``--report``, uv.lock's ``source.registry``) *and* the indexes' request logs (was the public
index even asked for the project page?). Poetry's precedence is in test_poetry_precedence.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import HARD_PASSWORD, flat, pages
from packaging.version import Version

from pytest_privrepo.clients import IndexSpec, Pip, Uv
from pytest_privrepo.clients.uv_project import UvProject


@pytest.fixture
def project(tmp_path: Path, uv: Uv) -> UvProject:
    return UvProject(tmp_path / "project", uv).create(dependencies=["demo"])


@pytest.fixture
def corp(privrepo):  # type: ignore[no-untyped-def]
    index = privrepo.index("corp", auth=("alice", "s3cret"))
    index.add("demo", "1.0")
    return index


@pytest.fixture
def public(privrepo):  # type: ignore[no-untyped-def]
    index = privrepo.index("public", auth=("bob", "pw"))
    index.add("demo", "9.9")
    index.add("helper", "2.0")
    return index


# -- pip --------------------------------------------------------------------------------------

def test_pip_extra_index_url_merges_and_takes_highest_version(pip: Pip, corp, public) -> None:
    result = pip.install("demo", index=corp, extra_indexes=[public], dry_run=True)

    assert result.versions == {"demo": "9.9"}
    assert result.url_of("demo") == f"{public.base_url}/files/demo/demo-9.9-py3-none-any.whl"
    # both indexes were asked: pip has no notion of index priority
    assert pages(corp, "demo") and pages(public, "demo")
    assert not corp.log.downloads


# -- uv: strategies ---------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("strategy", "requirement", "expected"),
    [
        (None, "demo", ("1.0", "corp")),  # first-index: first index with the project wins
        ("unsafe-first-match", "demo", ("1.0", "corp")),
        ("unsafe-first-match", "demo>=2", ("9.9", "public")),  # falls through on versions
        ("unsafe-best-match", "demo", ("9.9", "public")),  # pip-like: confusion
    ],
    ids=["first-index", "first-match", "first-match-needs-2", "best-match"],
)
def test_uv_index_strategies(project: UvProject, corp, public, strategy, requirement, expected) -> None:
    project.doc["project"]["dependencies"] = [requirement]
    project.save()
    project.add_index("corp", corp)
    project.add_index("public", public, default=True)

    lock = project.lock(index_strategy=strategy)

    assert (lock["demo"].version, lock["demo"].index) == expected
    assert lock["demo"].registry == (corp.url if expected[1] == "corp" else public.url)
    if strategy is None:
        # the safe default never asks a later index for a project an earlier one has
        assert pages(corp, "demo")
        assert not pages(public, "demo"), public.log.paths


def test_uv_first_index_refuses_version_from_later_index(project: UvProject, corp, public) -> None:
    project.doc["project"]["dependencies"] = ["demo>=2"]
    project.save()
    project.add_index("corp", corp).add_index("public", public, default=True)

    lock = project.lock(check=False)

    assert not lock.command.ok
    out = lock.command.output
    # whitespace flattened: uv wraps its hints to the terminal width (80 columns here),
    # so where a line breaks depends on the port number and the uv version
    assert "`demo` was found on " + corp.url + ", but not at the requested version" in flat(out), out
    assert not pages(public, "demo")


# -- uv: explicit index pinned via [tool.uv.sources] -------------------------------------------

def test_uv_explicit_index_only_serves_pinned_packages(project: UvProject, corp, public) -> None:
    corp.add("helper", "5.0")  # higher than public's helper, but corp is explicit
    project.add_dependency("helper")
    project.add_index("corp", corp, explicit=True)
    project.add_index("public", public, default=True)
    project.pin("demo", "corp")

    lock = project.lock()

    assert lock.versions() == {"demo": "1.0", "helper": "2.0"}
    assert lock.indexes() == {"demo": "corp", "helper": "public"}
    assert not pages(corp, "helper"), "the explicit index was asked for an unpinned package"
    assert not pages(public, "demo"), "the pinned package was looked up elsewhere"


# -- uv: error codes from the first index ------------------------------------------------------

@pytest.mark.parametrize(
    ("anonymous_status", "ignore", "falls_through"),
    [(401, None, False), (403, None, False), (404, None, True), (401, [401], True), (403, [403], True)],
    ids=["401-stops", "403-stops", "404-moves-on", "401-ignored", "403-ignored"],
)
def test_uv_first_index_error_codes(privrepo, project: UvProject, public, anonymous_status, ignore, falls_through) -> None:
    locked = privrepo.index("locked", auth=("carol", "pw"), anonymous_status=anonymous_status)
    locked.add("demo", "1.0")
    # no credentials for "locked": uv reaches it anonymously
    project.add_index("locked", IndexSpec(url=locked.url), ignore_error_codes=ignore)
    project.add_index("public", public, default=True)

    lock = project.lock(check=False)

    assert pages(locked, "demo") and {h.status for h in pages(locked, "demo")} == {anonymous_status}
    if falls_through:
        assert lock.command.ok, lock.command.output
        assert (lock["demo"].version, lock["demo"].index) == ("9.9", "public")
    else:
        assert not lock.command.ok
        out = lock.command.output
        expected = {401: "(401 Unauthorized)", 403: "returned a 403 Forbidden error"}[anonymous_status]
        if anonymous_status == 403 and Version(project.uv.version()) < Version("0.9.5"):
            # the wording of uv < 0.9.5 (as for a 401)
            expected = "could not be queried due to a lack of valid authentication credentials (403 Forbidden)"
        assert expected in flat(out) and "demo was not found in the package registry" in flat(out), out
        assert not pages(public, "demo"), "uv moved on after an auth failure"


# -- uv: mTLS ---------------------------------------------------------------------------------

def test_uv_lock_mtls_private_index_first(privrepo, project: UvProject, public) -> None:
    corp = privrepo.index("corp", auth=("alice", "s3cret"), tls="mtls")
    corp.add("demo", "1.0")
    project.add_index("corp", corp).add_index("public", public, default=True)

    lock = project.lock()

    assert (lock["demo"].version, lock["demo"].index) == ("1.0", "corp")
    assert lock["demo"].registry.startswith("https://")
    hits = pages(corp, "demo")
    assert hits and all(h.client_cert and "corp-client@privrepo.test" in h.client_cert for h in hits)
    assert {(h.user, h.auth_ok) for h in hits} == {("alice", True)}
    assert not pages(public, "demo")


def test_pip_merges_indexes_uv_stops_at_first(privrepo, pip: Pip, uv: Uv) -> None:  # type: ignore[no-untyped-def]
    """Same two indexes, different winners: pip takes the best version across all
    indexes, uv (first-index) the first index that has the project, and uv searches
    --index entries (our extra_indexes) before the default index."""
    corp = privrepo.index("corp", auth=("alice", HARD_PASSWORD), tls="tls")
    corp.add("demo", "2.0")
    public = privrepo.index("public")
    public.add("demo", "1.0")

    pip_result = pip.install("demo", index=corp, extra_indexes=[public])
    assert pip_result.versions == {"demo": "2.0"}
    assert pip_result.url_of("demo").startswith(corp.base_url)

    uv_venv = uv.venv(uv.env.root / "uv-venv")
    uv_result = uv.pip_install("demo", venv=uv_venv, index=corp, extra_indexes=[public])
    assert uv_result.installed == (("demo", "1.0"),)
    assert [h.path.rsplit("/", 1)[-1] for h in public.log.downloads] == [
        "demo-1.0-py3-none-any.whl"
    ]
    assert [h.path.rsplit("/", 1)[-1] for h in corp.log.downloads] == [
        "demo-2.0-py3-none-any.whl"
    ]

    best = uv.pip_install(
        "demo",
        venv=uv_venv,
        index=corp,
        extra_indexes=[public],
        index_strategy="unsafe-best-match",
        reinstall=True,
    )
    assert best.installed == (("demo", "2.0"),)
