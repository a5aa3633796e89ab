"""pip, uv and pdm against PyPI itself: the PyPI stand-in (``privrepo.pypi``, at pypi.org and
files.pythonhosted.org) next to a private index on a named host (``pypi.corp.example``,
signed by the session CA), reached through the gateway by the real clients.

The scenario: ``corp`` serves ``internal-lib 1.0``; PyPI serves ``public-lib 2.0`` and, in
the confusion tests, a squatted ``internal-lib 9.0``. Each test asserts what the client
installed or locked (pip's ``--report``, uv's summary and uv.lock's ``source.registry``,
pdm.lock's file URLs) *and* where its requests went (``privrepo.egress``: was PyPI asked
for the internal name at all, whose credentials reached which host; the index logs).

What the clients do, observed here with pip 26.3 (and 24.2 for trust), uv 0.13.9 and
pdm 2.29.3:

* pip: ``--index-url <corp>`` replaces PyPI, which is never contacted (no pypi.org or
  files.pythonhosted.org record). With the default PyPI plus ``--extra-index-url <corp>``
  pip asks every index for every name and takes the highest version: the squatted
  ``internal-lib 9.0`` installs from files.pythonhosted.org, and PyPI was asked for the
  internal name (both leaks show in ``egress.leaks()``); corp's URL credentials go only to
  corp's host. An index pip cannot verify is skipped with a warning ("Could not fetch URL
  ...: There was a problem confirming the ssl certificate: [SSL: CERTIFICATE_VERIFY_FAILED]
  ... - skipping"), so the run goes on with PyPI alone. pip >= 24.2 verifies with
  truststore, which reads ``SSL_CERT_FILE`` (the public CA of this test world) and adds
  ``--cert``'s CAs to it: one ``--cert <session CA>`` run reaches corp and PyPI.
* uv: ``--index`` and ``[[tool.uv.index]]`` entries come before the default index (PyPI,
  implicit when no entry is ``default = true``). ``first-index`` (the default) asks corp
  first and never asks PyPI for a name corp has (PyPI is asked only for ``public-lib``,
  after corp's 404); ``unsafe-best-match`` asks both and locks PyPI's ``internal-lib 9.0``
  (``source.registry = "https://pypi.org/simple"``). ``SSL_CERT_FILE`` *replaces* uv's
  roots: with corp's CA alone PyPI fails ("invalid peer certificate: UnknownIssuer"),
  which the runners now avoid by merging the public roots in; without the session CA corp
  fails the same way and the whole run stops (uv does not skip an index).
* pdm: with its stored indexes on (``PdmProject(implicit_pypi=True)``) pdm puts the
  implicit PyPI *first*, before ``[[tool.pdm.source]]`` tables, and merges every source:
  PyPI's ``internal-lib 9.0`` is locked. ``respect-source-order`` does not help against
  the implicit PyPI (it is the first source, so 9.0 again); only a source named ``pypi``
  listed after corp (it replaces the implicit one, in its place) makes corp's 1.0 win,
  and pdm (2.22+) still asks PyPI for the internal name. A source without ``ca_certs``
  fails the lock ("[ConnectError]: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify
  failed: unable to get local issuer certificate") after PyPI answered; pdm trusts PyPI
  through its truststore context, which reads ``SSL_CERT_FILE``, so it needs no other
  variable (no REQUESTS_CA_BUNDLE).
* netrc with two named hosts: pip (pre-emptively) and uv (after a 401) send each host its
  own login, and no credential reaches another host.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from helpers import flat, pages
from packaging.version import Version

from pytest_privrepo import Index, Privrepo
from pytest_privrepo.access import IndexAccess
from pytest_privrepo.clients import ClientEnv, IndexSpec, Pip, Uv
from pytest_privrepo.clients.pdm import Pdm
from pytest_privrepo.clients.pdm_project import PdmProject
from pytest_privrepo.clients.uv_project import UvProject
from pytest_privrepo.gateway import PYPI_FILES_HOST, PYPI_HOST

CORP_HOST = "pypi.corp.example"
CORP_PASSWORD = "pw-corp-7f3a"  # never in a record, a message or the lock files

#: Where each index's pages link the files: PyPI's files host, corp's own.
PYPI_FILES = f"https://{PYPI_FILES_HOST}/packages"
CORP_FILES = f"https://{CORP_HOST}/files"


def pypi_requests(privrepo: Privrepo) -> list[str]:
    """Every request to PyPI's hosts, one line each (for asserting and for messages)."""
    return [r.describe() for r in privrepo.egress if r.host in (PYPI_HOST, PYPI_FILES_HOST)]


def leak_kinds(privrepo: Privrepo) -> set[tuple[str, str | None, str | None]]:
    """``(kind, host, project)`` of every leak the egress log reports."""
    return {(leak.kind, leak.record.host, leak.record.project) for leak in privrepo.egress.leaks()}


def assert_pypi_answered(privrepo: Privrepo) -> None:
    """PyPI was reached and answered itself (a verified TLS connection: the stand-in, not a
    refusal) when it was asked for ``internal-lib``, which it does not have."""
    answered = {(r.path, r.status, r.index) for r in privrepo.egress.to(PYPI_HOST)}
    assert ("/simple/internal-lib/", 404, "pypi") in answered, answered
    assert not privrepo.egress.refused


@pytest.fixture
def corp(privrepo: Privrepo) -> Index:
    """The private index on a named host, signed by the session CA, basic auth."""
    index = privrepo.index("corp", host=CORP_HOST, tls="tls", auth=("alice", CORP_PASSWORD))
    index.add("internal-lib", "1.0")
    return index


@pytest.fixture
def pypi(privrepo: Privrepo) -> Index:
    """The PyPI stand-in with a public project only."""
    index = privrepo.pypi
    index.add("public-lib", "2.0")
    return index


@pytest.fixture
def squatted(pypi: Index) -> Index:
    """PyPI with the internal name squatted at a higher version (dependency confusion)."""
    pypi.add("internal-lib", "9.0")
    return pypi


def without_ca(index: Index) -> IndexAccess:
    """The index as a client gets it, but without its CA: trusted only by the default store."""
    return dataclasses.replace(index.access, ca_cert=None)


# -- pip --------------------------------------------------------------------------------------

def test_pip_index_url_never_asks_pypi(privrepo: Privrepo, pip: Pip, corp: Index, squatted: Index) -> None:
    result = pip.install("internal-lib", index=corp, dry_run=True)

    assert result.versions == {"internal-lib": "1.0"}
    assert result.url_of("internal-lib") == f"{CORP_FILES}/internal-lib/internal_lib-1.0-py3-none-any.whl"
    assert pypi_requests(privrepo) == [], "--index-url replaces PyPI, yet PyPI was asked"
    assert privrepo.egress.hosts == {CORP_HOST}
    assert {(r.user, r.credentials_of) for r in privrepo.egress} == {("alice", frozenset({"corp"}))}
    privrepo.egress.assert_no_leaks()


def test_pip_extra_index_url_installs_the_squatted_pypi_version(
        privrepo: Privrepo, pip: Pip, corp: Index, squatted: Index) -> None:
    result = pip.install(["internal-lib", "public-lib"], extra_indexes=[corp], dry_run=True)

    assert result.versions == {"internal-lib": "9.0", "public-lib": "2.0"}
    assert result.url_of("internal-lib") == f"{PYPI_FILES}/internal-lib/internal_lib-9.0-py3-none-any.whl"
    # pip asked both indexes for both names: no notion of priority
    assert pages(corp, "internal-lib") and pages(corp, "public-lib")
    assert [r.status for r in privrepo.egress.asked_for("internal-lib", host=PYPI_HOST)] == [200]
    # the quiet half: PyPI was asked for the internal name (its page, then its file's
    # metadata); corp's credentials went nowhere but corp
    assert leak_kinds(privrepo) == {("internal-name", PYPI_HOST, "internal-lib"),
                                    ("internal-name", PYPI_FILES_HOST, "internal-lib")}
    with pytest.raises(AssertionError,
                       match="internal project 'internal-lib' was asked of pypi.org") as failure:
        privrepo.egress.assert_no_leaks()
    assert CORP_PASSWORD not in str(failure.value)
    assert not privrepo.egress.credentials_elsewhere()


@pytest.mark.parametrize("pip", [None, "24.2"], ids=["pip-default", "pip24.2"], indirect=True)
def test_pip_needs_cert_for_the_private_index_but_not_for_pypi(privrepo: Privrepo, pip: Pip, corp: Index,
                                                               pypi: Index) -> None:
    """pip 24.2 is the first pip that verifies with truststore by default (it reads
    SSL_CERT_FILE, the public CA here); older pips use their vendored certifi only. The
    runner's ``--cert`` bundle holds the public roots too when PyPI takes part, because
    pip 24.2 stops trusting the default store once ``--cert`` is given (pip 26.3 does not):
    the last run shows that with the session CA alone."""
    untrusted = pip.install(["internal-lib", "public-lib"], extra_indexes=[without_ca(corp)],
                            dry_run=True, check=False)

    assert not untrusted.ok
    out = flat(untrusted.command.output)
    assert (f"Could not fetch URL https://alice:****@{CORP_HOST}/simple/internal-lib/: There was a "
            "problem confirming the ssl certificate:") in out, out
    assert "CERTIFICATE_VERIFY_FAILED" in out and "No matching distribution found for internal-lib" in out
    assert CORP_PASSWORD not in untrusted.command.output
    assert corp.server.wait_for_tls_failure().reason
    assert not list(corp.log), "a request got through an unverified handshake"
    # PyPI, trusted through the default store, answered in the same run (pip asks every
    # index for internal-lib, then gives up)
    assert_pypi_answered(privrepo)

    trusted = pip.install(["internal-lib", "public-lib"], extra_indexes=[corp], dry_run=True)

    assert "--cert" in trusted.command.argv
    assert trusted.versions == {"internal-lib": "1.0", "public-lib": "2.0"}
    assert trusted.url_of("public-lib") == f"{PYPI_FILES}/public-lib/public_lib-2.0-py3-none-any.whl"
    assert trusted.url_of("internal-lib").startswith(f"{CORP_FILES}/")

    alone = pip.run("install", "--dry-run", "--ignore-installed", "--retries", "0",
                    "--cert", corp.ca_cert, "public-lib", check=False)

    if pip.release < Version("26.3"):  # seen on 24.2 (truststore 0.9.1, urllib3 1.26)
        assert not alone.ok
        assert ("Could not fetch URL https://pypi.org/simple/public-lib/: There was a problem "
                "confirming the ssl certificate") in flat(alone.output), alone.output
    else:  # 26.3 (truststore 0.10.5, urllib3 2): --cert adds to the default store
        assert alone.ok, alone.output


# -- uv ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("strategy", "expected"),
    [(None, ("1.0", "https://pypi.corp.example/simple/")),
     ("unsafe-best-match", ("9.0", "https://pypi.org/simple"))],
    ids=["first-index", "unsafe-best-match"],
)
def test_uv_lock_private_index_before_the_implicit_pypi(privrepo: Privrepo, uv_project: UvProject,
                                                        corp: Index, squatted: Index,
                                                        strategy: str | None,
                                                        expected: tuple[str, str]) -> None:
    """One run that needs the session CA (corp) and the public roots (PyPI): uv_project's
    SSL_CERT_FILE merges both (it held only corp's CA before, and PyPI failed)."""
    uv_project.add_dependency("internal-lib").add_dependency("public-lib")
    uv_project.add_index("corp", corp)  # not default: PyPI stays the default index, searched last

    lock = uv_project.lock(index_strategy=strategy)

    assert (lock["internal-lib"].version, lock["internal-lib"].registry) == expected
    assert (lock["public-lib"].version, lock["public-lib"].registry) == ("2.0", "https://pypi.org/simple")
    assert [h.status for h in pages(corp, "public-lib")] == [404]  # corp first, for every name
    asked = privrepo.egress.asked_for("internal-lib", host=PYPI_HOST)
    if strategy is None:
        assert asked == [], "first-index asked PyPI for a name the first index has"
        privrepo.egress.assert_no_leaks()
    else:
        assert [r.status for r in asked] == [200]
        assert ("internal-name", PYPI_HOST, "internal-lib") in leak_kinds(privrepo)
    assert CORP_PASSWORD not in uv_project.lockfile.read_text()
    assert not privrepo.egress.credentials_elsewhere()


@pytest.mark.parametrize(("strategy", "version"), [(None, "1.0"), ("unsafe-best-match", "9.0")],
                         ids=["first-index", "unsafe-best-match"])
def test_uv_pip_install_index_before_the_default_pypi(privrepo: Privrepo, uv: Uv, corp: Index,
                                                      squatted: Index, strategy: str | None,
                                                      version: str) -> None:
    result = uv.pip_install(["internal-lib", "public-lib"], extra_indexes=[corp],
                            index_strategy=strategy, dry_run=True)

    assert "--default-index" not in result.command.argv  # PyPI is uv's own default
    assert result.versions == {"internal-lib": version, "public-lib": "2.0"}
    asked = privrepo.egress.asked_for("internal-lib", host=PYPI_HOST)
    assert bool(asked) is (strategy is not None), pypi_requests(privrepo)
    assert [(r.path, r.status) for r in privrepo.egress.to(PYPI_HOST) if r.project == "public-lib"] == [
        ("/simple/public-lib/", 200)]


def test_uv_needs_the_session_ca_in_ssl_cert_file_but_not_for_pypi(privrepo: Privrepo, uv: Uv, corp: Index,
                                                                   pypi: Index) -> None:
    public = uv.pip_install("public-lib", dry_run=True)  # the default store: SSL_CERT_FILE = public CA
    assert public.versions == {"public-lib": "2.0"}

    # one name: uv fetches several pages at once, and the first to fail is the one it names
    untrusted = uv.pip_install("internal-lib", extra_indexes=[without_ca(corp)], dry_run=True,
                               check=False)

    assert not untrusted.ok
    out = flat(untrusted.command.output)
    # uv 0.13.9: "error: Failed to fetch: <url> cause: ... cause: invalid peer certificate:
    # UnknownIssuer"; uv 0.8.14 draws the same chain with "×" and "├─▶"
    assert f"https://{CORP_HOST}/simple/internal-lib/" in out, out
    assert "invalid peer certificate: UnknownIssuer" in out, out
    assert CORP_PASSWORD not in untrusted.command.output
    assert corp.server.wait_for_tls_failure().reason
    assert not list(corp.log)

    trusted = uv.pip_install(["internal-lib", "public-lib"], extra_indexes=[corp], dry_run=True)

    assert trusted.versions == {"internal-lib": "1.0", "public-lib": "2.0"}
    assert {r.index for r in privrepo.egress if r.status == 200} == {"corp", "pypi"}


# -- pdm --------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("order", "expected"),
    [("merged", ("9.0", f"{PYPI_FILES}/internal-lib/internal_lib-9.0-py3-none-any.whl")),
     ("respect-source-order", ("9.0", f"{PYPI_FILES}/internal-lib/internal_lib-9.0-py3-none-any.whl")),
     ("pypi-source-after-corp",
      ("1.0", f"{CORP_FILES}/internal-lib/internal_lib-1.0-py3-none-any.whl"))],
)
def test_pdm_source_merged_with_the_implicit_pypi(privrepo: Privrepo, pdm_project: PdmProject, corp: Index,
                                                  squatted: Index, order: str,
                                                  expected: tuple[str, str]) -> None:
    pdm_project.implicit_pypi = True
    pdm_project.add_dependency("internal-lib").add_dependency("public-lib")
    pdm_project.add_source("corp", corp)
    if order == "pypi-source-after-corp":
        pdm_project.add_source("pypi", "https://pypi.org/simple", credentials=False)
    if order != "merged":
        pdm_project.respect_source_order()

    lock = pdm_project.lock()

    assert (lock["internal-lib"].version, lock["internal-lib"].urls) == (expected[0], (expected[1],))
    assert lock["public-lib"].urls == (f"{PYPI_FILES}/public-lib/public_lib-2.0-py3-none-any.whl",)
    asked_pypi = bool(privrepo.egress.asked_for("internal-lib", host=PYPI_HOST))
    asked_corp = bool(pages(corp, "internal-lib"))
    if order != "merged" and pdm_project.pdm.release < Version("2.29.3"):
        # pdm 2.17.2 with respect-source-order stops at the first source that has the name
        # (2.29.3 asks every source and takes the first answer; the change in between is
        # not bisected): only that source hears of it
        assert (asked_pypi, asked_corp) == ((True, False) if order == "respect-source-order"
                                            else (False, True))
    else:
        # whatever wins, pdm asked PyPI for the internal name: the quiet leak in every order
        assert asked_pypi and asked_corp
    assert {h.user for h in corp.log} <= {"alice"}
    assert CORP_PASSWORD not in pdm_project.lockfile.read_text()
    assert not privrepo.egress.credentials_elsewhere()


def test_pdm_needs_ca_certs_for_the_private_source_but_not_for_pypi(privrepo: Privrepo, pdm_project: PdmProject,
                                                                    corp: Index, pypi: Index) -> None:
    pdm_project.implicit_pypi = True
    pdm_project.add_dependency("internal-lib")  # one name: the failing run asks for it alone
    pdm_project.add_source("corp", without_ca(corp))

    untrusted = pdm_project.lock(check=False)

    assert not untrusted.ok and not pdm_project.lockfile.exists()
    assert ("[ConnectError]: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to get "
            "local issuer certificate") in untrusted.command.output, untrusted.command.output
    assert corp.server.wait_for_tls_failure().reason
    assert not list(corp.log)
    # PyPI (the first source) answered before pdm reached corp
    assert_pypi_answered(privrepo)

    pdm_project.pdm.configure_source("corp", corp)  # ca_certs = the session CA
    pdm_project.add_dependency("public-lib")

    trusted = pdm_project.lock()

    assert trusted.versions() == {"internal-lib": "1.0", "public-lib": "2.0"}
    assert trusted.sources()["internal-lib"] == "corp"


def test_pdm_mtls_source_next_to_the_implicit_pypi(privrepo: Privrepo, pdm_project: PdmProject,
                                                   pypi: Index) -> None:
    """An mTLS source's CA goes to SSL_CERT_FILE (pdm.py: ca_certs would drop the client
    certificate); that file must keep the default store too, or PyPI fails."""
    corp = privrepo.index("corp", host=CORP_HOST, tls="mtls", auth=("alice", CORP_PASSWORD))
    corp.add("internal-lib", "1.0")
    pdm_project.implicit_pypi = True
    pdm_project.add_dependency("internal-lib").add_dependency("public-lib")
    pdm_project.add_source("corp", corp)

    lock = pdm_project.lock()

    assert lock.versions() == {"internal-lib": "1.0", "public-lib": "2.0"}
    assert lock.sources()["internal-lib"] == "corp"
    assert {h.client_cert.split(",")[0] for h in corp.log} == {"CN=corp-client@privrepo.test"}
    # the client certificate is presented to corp only
    assert {r.client_cert for r in privrepo.egress if r.host != CORP_HOST} == {None}
    assert not privrepo.egress.credentials_elsewhere()


# -- netrc with two named hosts ---------------------------------------------------------------

@pytest.fixture
def two_hosts(privrepo: Privrepo, client_env: ClientEnv) -> tuple[Index, Index]:
    """Two indexes on two hosts, two logins in one netrc (netrc matches by host only)."""
    one = privrepo.index("one", host="one.corp.example", tls="tls", auth=("alice", "pw-one-1a"))
    two = privrepo.index("two", host="two.corp.example", tls="tls", auth=("bob", "pw-two-2b"))
    one.add("lib-one", "1.0")
    two.add("lib-two", "2.0")
    client_env.write_netrc(one.url, "alice", "pw-one-1a")
    client_env.write_netrc(two.url, "bob", "pw-two-2b")
    return one, two


def anonymous(index: Index) -> IndexAccess:
    """The index without credentials (the netrc has them), with its CA."""
    return dataclasses.replace(index.access, username=None, password=None)


def assert_each_host_got_its_own_login(privrepo: Privrepo, one: Index, two: Index) -> None:
    assert {(h.user, h.auth_ok) for h in one.log if h.user} == {("alice", True)}
    assert {(h.user, h.auth_ok) for h in two.log if h.user} == {("bob", True)}
    for record in privrepo.egress:
        assert record.credentials_of <= {record.index}, record.describe()
    assert privrepo.egress.hosts == {"one.corp.example", "two.corp.example"}
    privrepo.egress.assert_no_leaks()


def test_pip_netrc_two_named_hosts(privrepo: Privrepo, pip: Pip, two_hosts: tuple[Index, Index]) -> None:
    one, two = two_hosts
    result = pip.install(["lib-one", "lib-two"], index=anonymous(one), extra_indexes=[anonymous(two)],
                         auth="none")

    assert result.versions == {"lib-one": "1.0", "lib-two": "2.0"}
    assert "alice" not in " ".join(result.command.argv) and "bob" not in " ".join(result.command.argv)
    assert_each_host_got_its_own_login(privrepo, one, two)
    # pip reads netrc before the first request: nothing went out anonymously
    assert {h.user for h in one.log} == {"alice"} and {h.user for h in two.log} == {"bob"}
    assert pages(one, "lib-two") and pages(two, "lib-one")  # pip merges: both asked for both


def test_uv_netrc_two_named_hosts(privrepo: Privrepo, uv: Uv, two_hosts: tuple[Index, Index]) -> None:
    one, two = two_hosts
    result = uv.pip_install(["lib-one", "lib-two"], index=anonymous(one), extra_indexes=[anonymous(two)],
                            auth="none")

    assert result.versions == {"lib-one": "1.0", "lib-two": "2.0"}
    assert_each_host_got_its_own_login(privrepo, one, two)
    # uv asks anonymously first and sends the netrc login after the 401
    for index in (one, two):
        assert {h.status for h in index.log if h.user is None} == {401}


# -- the runners' one rule: the public roots stay trusted while PyPI takes part ----------------

def test_trust_bundles_keep_the_public_roots_only_while_pypi_takes_part(
        privrepo: Privrepo, pip: Pip, uv_project: UvProject, pdm: Pdm, corp: Index) -> None:
    """pip's --cert, uv's and pdm's SSL_CERT_FILE replace (some of) the default store, so each
    bundle carries the gateway's public CA exactly when the run may reach PyPI."""
    public = privrepo.gateway.trust_bundle.read_text().strip()

    args, _ = pip.index_options(None, [corp])  # the default PyPI + corp
    assert public in Path(args[args.index("--cert") + 1]).read_text()
    args, _ = pip.index_options(corp)  # --index-url corp: PyPI is out
    assert args[args.index("--cert") + 1] == str(corp.ca_cert)

    uv_project.add_index("corp", corp)  # PyPI stays uv's implicit default index
    assert public in Path(uv_project.lock_env()["SSL_CERT_FILE"]).read_text()
    uv_project.add_index("own", IndexSpec(corp.url + "own/", ca_cert=corp.ca_cert), default=True)
    assert uv_project.lock_env()["SSL_CERT_FILE"] == str(corp.ca_cert)  # PyPI replaced

    mtls = privrepo.index("mtls", host="mtls.corp.example", tls="mtls")
    pdm.configure_source("mtls", mtls)  # its CA goes to SSL_CERT_FILE (see Pdm.configure_source)
    bundle = Path(pdm.run_env()["SSL_CERT_FILE"]).read_text()
    assert public in bundle and Path(mtls.ca_cert).read_text().strip() in bundle
