"""``privrepo audit`` as a library: real projects, real locks, the real Poetry, uv, pdm, pip.

The projects are in fixtures/audit/ (their locks were written by Poetry 2.5.1, uv 0.13.9,
pdm 2.29.3 and, as a pinned requirements.txt, pip 26.3, against the sources at their real
URLs: fixtures/audit/make_locks.py); each has the CI
variables of its pipeline in ci.env. Every audit is followed by the check that the project
tree is byte-identical and that the audit left no temporary file behind, failures included.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import threading
from pathlib import Path

import pytest
import requests

from pytest_privrepo.audit import (
    FINDING_KINDS,
    PYPI,
    AuditError,
    AuditReport,
    audit,
    load_env_file,
    read_project,
    render_json,
    render_text,
)
from pytest_privrepo.audit.locations import parse_source_url
from pytest_privrepo.audit.stage import higher_version
from pytest_privrepo.clients.pip import Pip

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "audit"
SECRET = "glpat-fixture-0123456789"  # the password in every ci.env


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every path under ``root`` with its bytes (None for a directory)."""
    return {str(p.relative_to(root)): (None if p.is_dir() else p.read_bytes())
            for p in sorted(root.rglob("*"))}


@pytest.fixture
def audit_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The temporary directory the audit may use; asserted empty after the test."""
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    yield scratch
    assert list(scratch.iterdir()) == [], "the audit left files in the temporary directory"


@pytest.fixture
def run_audit(audit_tmp: Path):  # type: ignore[no-untyped-def]
    """``run_audit(project_dir, client_fixture, env=...)``: audit with the executable of the
    client fixture (the versions the run is configured with), then prove the project is
    byte-identical and no thread is left (also when the audit raises)."""

    def run(project: Path, runner: object = None, *, env: dict[str, str] | None = None,
            **kwargs: object) -> AuditReport:
        before = snapshot(project)
        threads = set(threading.enumerate())
        lines: list[str] = []
        executable = getattr(runner, "executable", None)
        if isinstance(runner, Pip) and len(runner.command) > 1:
            executable = None  # `python -m pip` of this interpreter: the installed pip
        try:
            return audit(project, executable=executable,
                         env=load_env_file(project / "ci.env") if env is None else env,
                         progress=lines.append, **kwargs)  # type: ignore[arg-type]
        finally:
            assert snapshot(project) == before, "the audit changed the project"
            assert [t.name for t in set(threading.enumerate()) - threads] == [], \
                "the audit left threads running"
            assert all(SECRET not in line for line in lines)

    return run


def _kinds(report: AuditReport) -> list[tuple[str, str]]:
    return sorted((f.kind, f.subject) for f in report.findings)


def _no_secret(report: AuditReport) -> None:
    for text in (render_text(report), render_json(report), repr(report)):
        assert SECRET not in text


# -- Poetry --------------------------------------------------------------------------------
def test_clean_poetry_project(run_audit, poetry) -> None:
    """Explicit private source with every internal package pinned, the right variables,
    a CA for the registry: every package comes from where the lock says, PyPI is never
    asked for an internal name."""
    report = run_audit(FIXTURES / "poetry-clean", poetry)

    assert report.findings == (), render_text(report)
    report.assert_clean()
    assert report.exit_code == 0
    assert report.client_version == poetry.version()
    assert {p.name: (p.expected_source, p.resolved_source, p.resolved_version)
            for p in report.packages} == {
        "acme-auth": ("acme-pypi", "acme-pypi", "1.2.0"),
        "acme-core": ("acme-pypi", "acme-pypi", "0.4.1"),
        "requests": (PYPI, PYPI, "2.32.3"),
        "idna": (PYPI, PYPI, "3.7"),
        "urllib3": (PYPI, PYPI, "2.2.2"),
    }
    (source,) = report.sources
    assert source.private_ca and source.certificate_variables == ("POETRY_CERTIFICATES_ACME_PYPI_CERT",)
    hosts = dict(report.requests)
    assert hosts["gitlab.acme.example"] > 0 and hosts["pypi.org"] > 0
    _no_secret(report)


def test_supplemental_source_lets_pypi_win_a_squatted_name(run_audit, poetry) -> None:
    """Planted mistake: ``priority = "supplemental"``. With acme-auth registered on PyPI at
    a higher version, Poetry takes PyPI's (and PyPI's acme-core with it)."""
    report = run_audit(FIXTURES / "poetry-supplemental", poetry)

    assert _kinds(report) == [
        ("internal-name-asked-of-pypi", "acme-auth"),
        ("internal-name-asked-of-pypi", "acme-core"),
        ("version-dependent-setting", '[[tool.poetry.source]] "acme-pypi"'),
        ("wrong-source", "acme-auth"),
        ("wrong-source", "acme-core"),
    ]
    auth = report.package("acme-auth")
    assert (auth.expected_source, auth.resolved_source, auth.resolved_version) == \
        ("acme-pypi", PYPI, "1.2.0.post1")
    assert report.package("requests").ok
    (setting,) = report.findings_of("version-dependent-setting")
    assert setting.message.startswith('priority = "supplemental": Poetry asks a supplemental')
    assert 'priority = "explicit"' in setting.fix and 'source = "acme-pypi"' in setting.fix
    assert report.exit_code == 1
    with pytest.raises(AssertionError) as failure:
        report.assert_clean()
    assert "wrong-source" in str(failure.value) and 'priority = "explicit"' in str(failure.value)
    data = json.loads(render_json(report))
    assert data["clean"] is False
    assert {f["kind"] for f in data["findings"]} <= set(FINDING_KINDS)
    _no_secret(report)


def test_credential_variables_spelled_with_a_dash_are_never_read(run_audit, poetry) -> None:
    """Planted mistake (ci.env): ``POETRY_HTTP_BASIC_ACME-PYPI_*``. Poetry reads
    ``..._ACME_PYPI_...``, asks the registry anonymously, gets 401s and cannot lock."""
    report = run_audit(FIXTURES / "poetry-credvar", poetry)

    assert _kinds(report) == [("missing-credentials", "acme-pypi"),
                              ("resolution-failed", "poetry.lock")]
    (creds,) = report.findings_of("missing-credentials")
    assert "CI sets POETRY_HTTP_BASIC_ACME-PYPI_PASSWORD, Poetry reads " \
           "POETRY_HTTP_BASIC_ACME_PYPI_PASSWORD" in creds.message
    assert "of Poetry with 401 (no or wrong credentials)" in creds.message
    assert "POETRY_HTTP_BASIC_ACME-PYPI_USERNAME to POETRY_HTTP_BASIC_ACME_PYPI_USERNAME" in creds.fix
    (failed,) = report.findings_of("resolution-failed")
    assert "Authorization error" in failed.message
    assert all(p.resolved_source is None for p in report.packages)
    _no_secret(report)


def test_certificate_configured_for_one_of_two_sources_on_a_host(run_audit, poetry) -> None:
    """Planted mistake (ci.env): two registries on one host with an internal CA, a
    certificate only for acme-pypi. Poetry verifies acme-tools with its default trust
    store, every handshake fails and nothing locks."""
    report = run_audit(FIXTURES / "poetry-two-sources", poetry)

    assert _kinds(report) == [("missing-certificate", "acme-tools"),
                              ("resolution-failed", "poetry.lock")]
    (cert,) = report.findings_of("missing-certificate")
    assert "POETRY_CERTIFICATES_ACME_TOOLS_CERT is not set" in cert.message
    assert "TLS handshake" in cert.message
    assert cert.fix == ("set POETRY_CERTIFICATES_ACME_TOOLS_CERT to the CA certificate of "
                        "gitlab.acme.example")
    assert [s.private_ca for s in report.sources] == [True, True]

    fixed = dict(load_env_file(FIXTURES / "poetry-two-sources" / "ci.env"),
                 POETRY_CERTIFICATES_ACME_TOOLS_CERT="/etc/ssl/certs/acme-root-ca.pem")
    report = run_audit(FIXTURES / "poetry-two-sources", poetry, env=fixed)
    assert report.clean, render_text(report)
    assert report.package("acme-cli").resolved_source == "acme-tools"


def test_client_certificate_by_the_right_and_a_misspelt_variable(run_audit, poetry) -> None:
    """A client certificate in CI makes the registry require one (mTLS); the audit hands
    Poetry its own under the same variable. Spelt with a dash, Poetry never reads it and
    every handshake fails."""
    env = load_env_file(FIXTURES / "poetry-clean" / "ci.env")
    right = dict(env, POETRY_CERTIFICATES_ACME_PYPI_CLIENT_CERT="/etc/ssl/private/ci.pem")
    report = run_audit(FIXTURES / "poetry-clean", poetry, env=right)
    assert report.clean, render_text(report)
    assert report.sources[0].certificate_variables == (
        "POETRY_CERTIFICATES_ACME_PYPI_CERT", "POETRY_CERTIFICATES_ACME_PYPI_CLIENT_CERT")

    wrong = dict(env, **{"POETRY_CERTIFICATES_ACME-PYPI_CLIENT_CERT": "/etc/ssl/private/ci.pem"})
    report = run_audit(FIXTURES / "poetry-clean", poetry, env=wrong)
    assert _kinds(report) == [("missing-certificate", "acme-pypi"),
                              ("resolution-failed", "poetry.lock")]
    (cert,) = report.findings_of("missing-certificate")
    assert cert.fix == ("rename POETRY_CERTIFICATES_ACME-PYPI_CLIENT_CERT to "
                        "POETRY_CERTIFICATES_ACME_PYPI_CLIENT_CERT")
    assert "TLS handshake" in cert.message


def test_no_credentials_at_all_is_a_finding_unless_the_source_is_anonymous(run_audit, poetry) -> None:
    """Without any CI variable the registry is stood up open (nothing says it needs a
    login), so Poetry locks; the missing credentials are still a finding, unless the
    project declares the source anonymous."""
    env = {"POETRY_CERTIFICATES_ACME_PYPI_CERT": "/etc/ssl/acme.pem"}
    report = run_audit(FIXTURES / "poetry-clean", poetry, env=env)
    assert _kinds(report) == [("missing-credentials", "acme-pypi")]
    assert "POETRY_HTTP_BASIC_ACME_PYPI_USERNAME and POETRY_HTTP_BASIC_ACME_PYPI_PASSWORD" \
        in report.findings[0].fix
    assert all(p.ok for p in report.packages)

    assert run_audit(FIXTURES / "poetry-clean", poetry, env=env,
                     anonymous=["acme-pypi"]).clean


# -- uv ----------------------------------------------------------------------------------
def test_clean_uv_project(run_audit, uv) -> None:
    report = run_audit(FIXTURES / "uv-clean", uv)

    assert report.findings == (), render_text(report)
    assert [(p.name, p.resolved_source) for p in report.packages] == [
        ("acme-auth", "acme"), ("acme-core", "acme"), ("idna", PYPI),
        ("requests", PYPI), ("urllib3", PYPI)]
    assert report.sources[0].credential_variables == ("UV_INDEX_ACME_USERNAME",
                                                      "UV_INDEX_ACME_PASSWORD")
    assert not report.sources[0].private_ca
    _no_secret(report)


def test_uv_unsafe_best_match_takes_the_higher_version_from_pypi(run_audit, uv) -> None:
    report = run_audit(FIXTURES / "uv-best-match", uv)

    assert _kinds(report) == [
        ("internal-name-asked-of-pypi", "acme-auth"),
        ("internal-name-asked-of-pypi", "acme-core"),
        ("version-dependent-setting", "[tool.uv]"),
        ("wrong-source", "acme-auth"),
        ("wrong-source", "acme-core"),
    ]
    assert report.package("acme-core").resolved_version == "0.4.1.post1"
    (setting,) = report.findings_of("version-dependent-setting")
    assert setting.message.startswith('index-strategy = "unsafe-best-match": ')
    assert 'explicit = true' in setting.fix and 'acme-auth = { index = "acme" }' in setting.fix
    assert "first-index" in setting.fix
    _no_secret(report)


def test_uv_misnamed_index_variables(run_audit, uv) -> None:
    env = {"UV_INDEX_ACME_PYPI_USERNAME": "gitlab-ci-token", "UV_INDEX_ACME_PASSWORD": SECRET}
    report = run_audit(FIXTURES / "uv-clean", uv, env=env)
    # ACME_PYPI is not ACME once punctuation is ignored: only the password is found
    (creds,) = report.findings_of("missing-credentials")
    assert "UV_INDEX_ACME_USERNAME is not set" in creds.message
    assert report.findings_of("resolution-failed")
    _no_secret(report)


def test_uv_pip_style_extra_index_url(run_audit, uv, tmp_path: Path) -> None:
    """``[tool.uv] extra-index-url`` instead of a named index: the same URL in uv.lock, but
    no UV_INDEX_<NAME>_* variable can reach it; the fixes say to name it."""
    project = _copy("uv-best-match", tmp_path)
    _replace(project / "pyproject.toml",
             '\n[[tool.uv.index]]\nname = "acme"\nurl = "https://gitlab.acme.example/api/v4/'
             'projects/42/packages/pypi/simple"',
             'extra-index-url = ["https://gitlab.acme.example/api/v4/projects/42/packages/'
             'pypi/simple"]')
    report = run_audit(project, uv)

    assert ("missing-credentials", "extra-index-url-1") in _kinds(report)
    assert report.package("acme-auth").resolved_source == PYPI
    assert all("named [[tool.uv.index]]" in f.fix for f in report.findings
               if f.kind in ("missing-credentials", "version-dependent-setting"))


# -- pdm ---------------------------------------------------------------------------------
def test_clean_pdm_project(run_audit, pdm) -> None:
    """include_packages pins acme-* to the registry; credentials by ``${ACME_PYPI_TOKEN}``
    in the source URL. The lock has no file URLs: the pins say where each package is from."""
    report = run_audit(FIXTURES / "pdm-clean", pdm)

    assert report.findings == (), render_text(report)
    assert [(p.name, p.expected_source, p.resolved_source) for p in report.packages] == [
        ("acme-auth", "acme", "acme"), ("acme-core", "acme", "acme"), ("idna", PYPI, PYPI),
        ("requests", PYPI, PYPI), ("urllib3", PYPI, PYPI)]
    assert report.sources[0].credential_variables == ("ACME_PYPI_TOKEN",)
    _no_secret(report)


def test_pdm_merges_pypi_with_an_unpinned_source(run_audit, pdm) -> None:
    """Planted mistake: no include_packages. pdm adds PyPI (first) and takes the highest
    version from any source: the squatted acme-auth and acme-core win."""
    report = run_audit(FIXTURES / "pdm-merge", pdm)

    assert _kinds(report) == [
        ("internal-name-asked-of-pypi", "acme-auth"),
        ("internal-name-asked-of-pypi", "acme-core"),
        ("version-dependent-setting", '[[tool.pdm.source]] "acme"'),
        ("wrong-source", "acme-auth"),
        ("wrong-source", "acme-core"),
    ]
    assert report.package("acme-auth").resolved_source == PYPI
    (setting,) = report.findings_of("version-dependent-setting")
    assert "include_packages = ['acme-auth', 'acme-core']" in setting.fix
    _no_secret(report)


def test_pdm_url_names_a_variable_ci_spells_otherwise(run_audit, pdm) -> None:
    report = run_audit(FIXTURES / "pdm-clean", pdm, env={"ACME-PYPI-TOKEN": SECRET})

    (creds,) = report.findings_of("missing-credentials")
    assert "CI sets ACME-PYPI-TOKEN, pdm reads ACME_PYPI_TOKEN" in creds.message
    assert "of pdm with 401 (no or wrong credentials)" in creds.message
    assert creds.fix == "rename ACME-PYPI-TOKEN to ACME_PYPI_TOKEN"
    (failed,) = report.findings_of("resolution-failed")
    assert "Unable to find candidates for acme-auth" in failed.message
    _no_secret(report)


@pytest.mark.parametrize(("change", "message"), [
    (lambda p: _replace(p / "pyproject.toml", "${ACME_PYPI_TOKEN}", "hunter2"),
     "has a password in its url"),
    (lambda p: _replace(p / "pyproject.toml", 'include_packages = ["acme-*"]', ""),
     "does not record where each package came from"),
], ids=["literal-password", "no-pins-no-urls"])
def test_bad_pdm_input(run_audit, tmp_path: Path, change, message: str) -> None:
    project = _copy("pdm-clean", tmp_path)
    change(project)
    with pytest.raises(AuditError, match=re.escape(message)) as error:
        run_audit(project)
    assert "hunter2" not in str(error.value)


# -- pip ---------------------------------------------------------------------------------
def test_clean_pip_project(run_audit, pip) -> None:
    """One index (a Nexus group repository) by ``--index-url`` with ``${NEXUS_USER}`` /
    ``${NEXUS_TOKEN}``: every package from it, PyPI never asked."""
    report = run_audit(FIXTURES / "pip-clean", pip)

    assert report.findings == (), render_text(report)
    assert {p.resolved_source for p in report.packages} == {"nexus.acme.example"}
    assert report.sources[0].credential_variables == ("NEXUS_USER", "NEXUS_TOKEN")
    assert "pypi.org" not in dict(report.requests)
    _no_secret(report)


def test_pip_extra_index_url_asks_pypi_for_internal_names(run_audit, pip) -> None:
    """Planted mistake: the registry is an ``--extra-index-url``. The pins (==) keep the
    versions, but pip asks PyPI for every internal name and would take a higher one."""
    report = run_audit(FIXTURES / "pip-extra-index", pip, internal=["acme-*"])

    assert _kinds(report) == [
        ("internal-name-asked-of-pypi", "acme-auth"),
        ("internal-name-asked-of-pypi", "acme-core"),
        ("version-dependent-setting", ("--extra-index-url "
                                       "https://gitlab.acme.example/api/v4/projects/42/"
                                       "packages/pypi/simple")),
    ]
    assert report.package("acme-auth").resolved_source == "gitlab.acme.example"
    (setting,) = report.findings_of("version-dependent-setting")
    assert "pip#8606" in setting.message and "never --extra-index-url" in setting.fix
    _no_secret(report)


@pytest.mark.parametrize(("change", "kwargs", "message"), [
    (lambda p: None, {}, "does not say which packages are internal"),
    (lambda p: _replace(p / "requirements.txt", "acme-core==0.4.1", "acme-core>=0.4"),
     {"internal": ["acme-*"]}, "acme-core is not pinned to one version"),
    (lambda p: _replace(p / "requirements.txt", "${ACME_PYPI_TOKEN}", "hunter2"),
     {"internal": ["acme-*"]}, "the index url has a password in it"),
    (lambda p: _replace(p / "requirements.txt", "--extra-index-url", "--find-links"),
     {"internal": ["acme-*"]}, "option --find-links is not audited"),
    (lambda p: None, {"internal": ["acme-*"], "env": {
        "PIP_EXTRA_INDEX_URL": "https://nexus.acme.example/repository/pypi-all/simple"}},
     "several private indexes"),
], ids=["no-internal", "unpinned", "literal-password", "find-links", "two-private"])
def test_bad_pip_input(run_audit, tmp_path: Path, change, kwargs, message: str) -> None:
    project = _copy("pip-extra-index", tmp_path)
    change(project)
    with pytest.raises(AuditError, match=re.escape(message)) as error:
        run_audit(project, **kwargs)
    assert "hunter2" not in str(error.value)


# -- bad input: a clear AuditError, nothing written ----------------------------------------
def _copy(name: str, tmp_path: Path) -> Path:
    target = tmp_path / name
    shutil.copytree(FIXTURES / name, target)
    return target


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


@pytest.mark.parametrize(("change", "message"), [
    (lambda p: _replace(p / "pyproject.toml", 'url = "https://', 'url = "ftp://'),
     "which is not http(s)"),
    (lambda p: _replace(p / "pyproject.toml", "/pypi/simple", "/pypi"), "does not end in /simple"),
    (lambda p: _replace(p / "pyproject.toml", "https://gitlab", "https://ci:hunter2@gitlab"),
     "has credentials in its url"),
    (lambda p: (p / "poetry.lock").write_text("[[package]\nname = "), "is not valid TOML"),
    (lambda p: (p / "poetry.lock").unlink(), "no poetry.lock: run `poetry lock`"),
    (lambda p: _replace(p / "poetry.lock", 'reference = "acme-pypi"', 'reference = "old-nexus"'),
     "which pyproject.toml does not declare"),
    (lambda p: _replace(p / "pyproject.toml", "[[tool.poetry.source]]", "[[tool.poetry.nosource]]"),
     "no private source"),
], ids=["ftp-url", "no-simple", "userinfo", "broken-lock", "no-lock", "unknown-source",
        "no-sources"])
def test_bad_poetry_input(run_audit, tmp_path: Path, change, message: str) -> None:
    project = _copy("poetry-clean", tmp_path)
    change(project)
    with pytest.raises(AuditError, match=re.escape(message)) as error:
        run_audit(project)
    assert "hunter2" not in str(error.value)


def test_stale_poetry_lock(run_audit, poetry, tmp_path: Path) -> None:
    """A dependency added to pyproject.toml after locking: Poetry's own ``check --lock``
    says so, before anything is resolved."""
    project = _copy("poetry-clean", tmp_path)
    _replace(project / "pyproject.toml", 'requests = "^2.32"', 'requests = "^2.32"\nrich = "*"')
    with pytest.raises(AuditError, match="the lock is stale") as error:
        run_audit(project, poetry)
    assert "pyproject.toml changed significantly" in str(error.value)


def test_stale_uv_lock(run_audit, uv, tmp_path: Path) -> None:
    project = _copy("uv-clean", tmp_path)
    _replace(project / "pyproject.toml", '"requests>=2.32"]', '"requests>=2.32", "rich"]')
    with pytest.raises(AuditError, match="the lock is stale"):
        run_audit(project, uv)


@pytest.mark.parametrize(("client", "message"), [
    ("conda", "unknown client 'conda': use one of poetry, uv, pdm, pip"),
])
def test_unknown_client(run_audit, client: str, message: str) -> None:
    with pytest.raises(AuditError, match=message):
        run_audit(FIXTURES / "poetry-clean", client=client)


def test_which_client(tmp_path: Path) -> None:
    assert read_project(FIXTURES / "uv-clean").client == "uv"
    assert read_project(FIXTURES / "poetry-clean").client == "poetry"
    both = _copy("poetry-clean", tmp_path)
    shutil.copyfile(FIXTURES / "uv-clean" / "uv.lock", both / "uv.lock")
    with pytest.raises(AuditError, match="choose the client with client="):
        read_project(both)
    with pytest.raises(AuditError, match="has no poetry.lock or uv.lock or pdm.lock or "
                                         "requirements.txt"):
        read_project(tmp_path)
    with pytest.raises(AuditError, match="is not a directory"):
        read_project(tmp_path / "missing")
    with pytest.raises(AuditError, match="env must be a mapping"):
        audit(FIXTURES / "uv-clean", env=["UV_INDEX_ACME_USERNAME=x"])  # type: ignore[arg-type]


def test_read_project_keeps_locked_dependencies_and_pins() -> None:
    model = read_project(FIXTURES / "poetry-supplemental")
    auth = next(p for p in model.packages if p.name == "acme-auth")
    assert (auth.version, auth.source, auth.requires) == ("1.2.0", "acme-pypi", ("acme-core",))
    assert [s.role for s in model.sources] == ["supplemental"]
    assert dict(read_project(FIXTURES / "poetry-clean").pins) == {
        "acme-auth": "acme-pypi", "acme-core": "acme-pypi"}
    uv = read_project(FIXTURES / "uv-clean")
    assert [(s.name, s.role) for s in uv.sources] == [("acme", "explicit"), (PYPI, "default")]
    assert dict(uv.pins) == {"acme-auth": "acme", "acme-core": "acme"}


def test_poetry_primary_private_source_next_to_pypi_is_version_dependent(tmp_path: Path) -> None:
    """Read only: a private primary source with PyPI declared as a primary source too
    (merged, highest version wins) is flagged for the packages not pinned to it."""
    project = _copy("poetry-supplemental", tmp_path)
    _replace(project / "pyproject.toml", 'priority = "supplemental"',
             'priority = "primary"\n\n[[tool.poetry.source]]\nname = "PyPI"\npriority = "primary"')
    model = read_project(project)
    (setting,) = model.risky
    assert (setting.where, setting.value) == ('[[tool.poetry.source]] "acme-pypi"',
                                              'priority = "primary"')
    assert "acme-auth = {" in setting.fix and "acme-core = {" in setting.fix
    assert [s.name for s in model.sources] == ["acme-pypi", PYPI]


def test_source_urls() -> None:
    where = "pyproject.toml"
    gitlab = parse_source_url("g", "https://gitlab.example.com/api/v4/projects/1/packages/pypi/simple",
                              where=where)
    assert (gitlab.host, gitlab.port, gitlab.prefix, gitlab.tls) == \
        ("gitlab.example.com", 443, "/api/v4/projects/1/packages/pypi", "tls")
    nexus = parse_source_url("n", "http://Nexus.corp.example:8081/repository/pypi/simple/", where=where)
    assert (nexus.host, nexus.port, nexus.prefix, nexus.tls) == \
        ("nexus.corp.example", 8081, "/repository/pypi", None)
    assert parse_source_url("p", "https://pypi.org/simple/", where=where).is_pypi
    for bad, message in [("file:///srv/simple", "not http"), ("https://10.0.0.1/simple", "not a loopback"),
                         ("https://pypi.org/pypi/simple", "points at PyPI's host"), (None, "has no url")]:
        with pytest.raises(AuditError, match=message):
            parse_source_url("x", bad, where=where)


def test_higher_versions() -> None:
    assert higher_version(["1.2.0"]) == "1.2.0.post1"
    assert higher_version(["1.0", "2.0rc1"]) == "2.1"
    assert higher_version(["1.0.post3"]) == "1.1"
    assert higher_version(["not-a-version"]) is None


def test_env_files(tmp_path: Path) -> None:
    env = tmp_path / "ci.env"
    env.write_text("# comment\nexport POETRY_HTTP_BASIC_A-B_USERNAME=bot\n"
                   "POETRY_HTTP_BASIC_A-B_PASSWORD='p w'\n\nUV_INDEX_X_PASSWORD=\"q\"\n")
    assert load_env_file(env) == {"POETRY_HTTP_BASIC_A-B_USERNAME": "bot",
                                  "POETRY_HTTP_BASIC_A-B_PASSWORD": "p w",
                                  "UV_INDEX_X_PASSWORD": "q"}
    env.write_text("just words\n")
    with pytest.raises(AuditError, match=r"ci.env:1: not a NAME=value line"):
        load_env_file(env)
    with pytest.raises(AuditError, match="cannot read env file"):
        load_env_file(tmp_path / "missing.env")


# -- the command (cli.py adds it as ``privrepo audit``) -------------------------------------
def _command(*argv: str, environ: dict[str, str] | None = None) -> tuple[int, str, str]:
    import argparse
    import io

    from pytest_privrepo.audit import add_audit_arguments, run_audit_command

    parser = argparse.ArgumentParser(prog="privrepo audit")
    add_audit_arguments(parser)
    out, err = io.StringIO(), io.StringIO()
    code = run_audit_command(parser.parse_args(argv), stdout=out, stderr=err,
                             environ=environ or {})
    return code, out.getvalue(), err.getvalue()


def test_command_exit_status_table_and_json(audit_tmp: Path, uv, pdm) -> None:
    clean = FIXTURES / "uv-clean"
    before = snapshot(clean)
    code, out, err = _command(str(clean), "--client-path", str(uv.executable),
                              "--env-file", str(clean / "ci.env"))
    assert (code, out.splitlines()[-1]) == (0, ("clean: every package resolved from the "
                                                "source the lock names, no leak"))
    assert "privrepo audit: resolving with `uv lock`" in err

    # the variables of this environment by default (only the client's: PATH is not passed,
    # another client's setting is named as not given)
    environ = dict(load_env_file(clean / "ci.env"), PATH=os.environ["PATH"],
                   POETRY_HTTP_BASIC_ACME_USERNAME="bot")
    code, out, err = _command(str(FIXTURES / "uv-best-match"), "--client-path",
                              str(uv.executable), "--json", environ=environ)
    data = json.loads(out)
    assert code == 1 and data["clean"] is False
    assert {f["kind"] for f in data["findings"]} == {"wrong-source", "internal-name-asked-of-pypi",
                                                     "version-dependent-setting"}
    assert data["sources"][0]["credential_variables"] == ["UV_INDEX_ACME_USERNAME",
                                                          "UV_INDEX_ACME_PASSWORD"]
    assert data["ignored_variables"] == ["POETRY_HTTP_BASIC_ACME_USERNAME"]

    # pdm: the variable the source URL names comes from the environment too
    code, out, err = _command(str(FIXTURES / "pdm-merge"), "--json", "--client-path",
                              str(pdm.executable), environ={"ACME_PYPI_TOKEN": SECRET, "HOME": "/root"})
    assert code == 1, err
    assert json.loads(out)["sources"][0]["credential_variables"] == ["ACME_PYPI_TOKEN"]
    assert SECRET not in out + err
    assert snapshot(clean) == before


@pytest.mark.parametrize(("argv", "message"), [
    (["--anonymous", "nexus"], "anonymous= names no private source of the project: nexus"),
    (["--env", "UV_INDEX_ACME_PASSWORD"],
     "--env UV_INDEX_ACME_PASSWORD: the variable is not set in this environment"),
    (["--env-file", "/nonexistent/ci.env"], "cannot read env file /nonexistent/ci.env"),
])
def test_command_bad_input_exits_2(audit_tmp: Path, argv: list[str], message: str) -> None:
    code, out, err = _command(str(FIXTURES / "uv-clean"), *argv)
    assert (code, out) == (2, "")
    assert f"privrepo audit: error: {message}" in err


def test_credentials_sent_elsewhere_and_undeclared_hosts_are_findings(
        tmp_path: Path, http) -> None:  # type: ignore[no-untyped-def]
    """The egress checks on real requests through a stand-up (requests as the client): the
    registry's credentials sent to PyPI's files host, a request to a host that is no
    source. No project client can be made to do this on purpose, so the requests are
    sent by hand; the findings come from the gateway's records, as in every audit."""
    from pytest_privrepo.audit.checks import collect_findings, package_outcomes
    from pytest_privrepo.audit.credentials import plan_access
    from pytest_privrepo.audit.resolve import Resolution
    from pytest_privrepo.audit.stage import Stage

    model = read_project(FIXTURES / "uv-clean")
    access = plan_access(model, load_env_file(FIXTURES / "uv-clean" / "ci.env"))
    with Stage(tmp_path / "stage") as stage:
        stage.stand_up(model, access)
        trust = str(stage.gateway.trust_bundle)
        acme = stage.indexes["acme"]
        page = http.get(acme.url + "acme-auth/", auth=acme.auth, proxies=stage.gateway.proxies,
                        verify=trust, timeout=20)
        assert page.status_code == 200
        leaked = http.get("https://files.pythonhosted.org/packages/idna/idna-3.7-py3-none-any.whl",
                          auth=("gitlab-ci-token", SECRET), proxies=stage.gateway.proxies,
                          verify=trust, timeout=20)
        assert leaked.status_code == 200  # PyPI's files are public: the leak goes unnoticed
        with pytest.raises(requests.exceptions.ProxyError, match="403"):
            http.get("https://mirror.acme.example/simple/", proxies=stage.gateway.proxies,
                     verify=trust, timeout=20)
        resolution = Resolution("uv", "0", True, (), "", "uv lock")
        findings = collect_findings(model, access, stage, resolution,
                                    package_outcomes(model, resolution))
    leak = [f for f in findings if f.kind == "credential-leak"]
    assert [(f.subject, f.message) for f in leak] == [(
        "acme", ("the credentials of source acme were sent to files.pythonhosted.org:443 "
                 "(1 request), which is not that source"))]
    (refused,) = [f for f in findings if f.kind == "undeclared-host"]
    assert refused.subject == "mirror.acme.example:443"
    assert all(SECRET not in f.message + f.fix for f in findings)


def test_a_symlinked_lock_is_never_written_through(run_audit, pip, tmp_path: Path) -> None:
    """The audit edits its copy (pip: the hashes come out); a project whose
    requirements.txt is a link keeps the linked file as it was."""
    project = _copy("pip-extra-index", tmp_path)
    (project / "locks").mkdir()
    (project / "requirements.txt").rename(project / "locks" / "requirements.txt")
    (project / "requirements.txt").symlink_to(project / "locks" / "requirements.txt")  # absolute
    before = (project / "locks" / "requirements.txt").read_bytes()

    report = run_audit(project, pip, internal=["acme-*"])

    assert report.package("acme-auth").resolved_source == "gitlab.acme.example"
    assert (project / "locks" / "requirements.txt").read_bytes() == before
    assert b"--hash=sha256:" in before
