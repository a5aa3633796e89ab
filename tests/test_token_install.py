"""Install and lock with a token, and the errors uv reports for refused credentials.

- Install/lock with a *token* (user ``__token__``) over HTTP, HTTPS and mTLS: pip (``--report``),
  ``uv pip install`` (URL and ``UV_INDEX_<NAME>_*`` credentials), ``uv lock`` (uv.lock
  ``source.registry``) and ``pdm lock`` (pdm.lock static URLs).
- uv against an mTLS index without a client certificate: refused at the handshake, no HTTP
  request gets through, uv reports its own fetch error.
- uv with a wrong password (or token): the index answers 401, uv reports its own resolver
  error with the 401 hint.

Each test asserts the client's parsed result or its own words and what the index saw.
uv's texts are pinned exactly for the default uv (0.13.9) and were checked against 47
releases from 0.8.14 (the floor) to 0.13.9, including the releases on both sides of each
change; the constants below say where they differ.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import CLIENT_CN, TLS, flat
from packaging.version import Version

from pytest_privrepo import Index, Privrepo
from pytest_privrepo.clients import IndexSpec
from pytest_privrepo.clients.pdm import PdmProject
from pytest_privrepo.clients.pip import Pip
from pytest_privrepo.clients.result import CommandResult
from pytest_privrepo.clients.uv import Uv
from pytest_privrepo.clients.uv_project import UvProject

TOKEN = "tok-1"

PAGES = {"/simple/demo/", "/simple/helper/"}
METADATA = {"/files/demo/demo-1.0-py3-none-any.whl.metadata",
            "/files/helper/helper-2.0-py3-none-any.whl.metadata"}
WHEELS = {"/files/demo/demo-1.0-py3-none-any.whl", "/files/helper/helper-2.0-py3-none-any.whl"}

#: uv prints an error chain as ``error: <msg>`` + ``  cause: <msg>`` lines from 0.12.14; before
#: it the causes read ``  Caused by: <msg>``, and a resolver error is drawn with miette's
#: ``  × <msg>:`` / ``  ╰─▶ <cause>`` (wrapped to the terminal width). 0.12.13 and 0.12.14 are
#: consecutive releases.
UV_CAUSE_LINES_SINCE = Version("0.12.14")
#: ``error: Failed to fetch: <url>`` names the URL without backticks from 0.12.22 (0.12.21:
#: ``Failed to fetch: `<url>` ``).
UV_PLAIN_FETCH_URL_SINCE = Version("0.12.22")


def uv_release(uv: Uv) -> Version:
    return Version(uv.version())


def uv_error_lines(result: CommandResult) -> list[str]:
    """uv's stderr without its leading ``Using ...`` line(s) and trailing blank lines."""
    lines = result.stderr.rstrip("\n").splitlines()
    while lines and lines[0].startswith("Using "):
        lines.pop(0)
    return lines


def token_index(privrepo: Privrepo, tls: str | None) -> Index:
    index = privrepo.index("corp", token=TOKEN, tls=tls)
    index.add("demo", "1.0", requires=["helper>=2"])
    index.add("helper", "2.0")
    return index


def token_spec(index: Index, *, client_cert: bool = True) -> IndexSpec:
    """The index as a client gets it: user ``__token__`` + the token, its CA and (unless
    ``client_cert=False``) its client certificate."""
    return IndexSpec(
        index.url,
        ca_cert=Path(index.ca_cert) if index.ca_cert else None,
        client_cert=Path(index.client_cert) if client_cert and index.client_cert else None,
        username="__token__",
        password=TOKEN,
        name=index.name,
    )


def assert_token_hits(index: Index, paths: set[str]) -> None:
    """Every request carried the token (accepted, as Basic user ``__token__``) and, over
    mTLS, the client certificate; together they asked for exactly ``paths``."""
    hits = list(index.log)
    assert {h.path for h in hits} == paths, hits
    assert {(h.method, h.status, h.user, h.auth_ok, h.auth_scheme) for h in hits} == {
        ("GET", 200, "__token__", True, "basic")}, hits
    for hit in hits:
        if index.tls == "mtls":
            assert hit.client_cert and hit.client_cert.startswith(CLIENT_CN + ","), hit
        else:
            assert hit.client_cert is None, hit


# --------------------------------------------------------------------------- tokens


@pytest.mark.parametrize("tls", TLS)
def test_pip_installs_with_token(privrepo: Privrepo, pip: Pip, tls: str | None) -> None:
    index = token_index(privrepo, tls)

    result = pip.install("demo", index=token_spec(index))

    assert result.versions == {"demo": "1.0", "helper": "2.0"}
    assert {p.name: p.url for p in result.installed} == {
        "demo": f"{index.base_url}/files/demo/demo-1.0-py3-none-any.whl",
        "helper": f"{index.base_url}/files/helper/helper-2.0-py3-none-any.whl"}
    # pip shows the URL with the token masked, never the token
    output = result.command.output
    assert f"Looking in indexes: {index.url.replace('://', '://__token__:****@')}" in output
    assert TOKEN not in output
    assert_token_hits(index, PAGES | METADATA | WHEELS)


@pytest.mark.parametrize("auth", ["url", "env"])
@pytest.mark.parametrize("tls", TLS)
def test_uv_pip_installs_with_token(privrepo: Privrepo, uv: Uv, tls: str | None,
                                    auth: str) -> None:
    """``auth="url"``: ``__token__:tok-1@`` in the index URL; ``"env"``: a named index with
    ``UV_INDEX_CORP_USERNAME=__token__`` / ``UV_INDEX_CORP_PASSWORD``."""
    index = token_index(privrepo, tls)
    venv = uv.venv(uv.env.root / "venv")

    result = uv.pip_install("demo", venv=venv, index=token_spec(index), auth=auth)  # type: ignore[arg-type]

    assert sorted(result.installed) == [("demo", "1.0"), ("helper", "2.0")]
    assert uv.pip_list(venv) == {"demo": "1.0", "helper": "2.0"}
    assert (TOKEN in " ".join(result.command.argv)) == (auth == "url")
    assert TOKEN not in result.command.output
    assert_token_hits(index, PAGES | METADATA | WHEELS)


@pytest.mark.parametrize("tls", TLS)
def test_uv_locks_with_token(privrepo: Privrepo, uv_project: UvProject, tls: str | None) -> None:
    """``[[tool.uv.index]]`` + ``UV_INDEX_CORP_USERNAME=__token__``: uv.lock records the
    index URL (no credentials) for every package; locking reads pages and metadata only."""
    index = token_index(privrepo, tls)
    uv_project.add_dependency("demo")
    uv_project.add_index("corp", token_spec(index))

    lock = uv_project.lock()

    assert lock.versions() == {"demo": "1.0", "helper": "2.0"}
    assert lock.registries() == {"demo": index.url, "helper": index.url}
    assert lock.indexes() == {"demo": "corp", "helper": "corp"}
    assert [url for url, _ in lock["demo"].files] == [
        f"{index.base_url}/files/demo/demo-1.0-py3-none-any.whl"]
    assert TOKEN not in uv_project.lockfile.read_text() + uv_project.pyproject.read_text()
    assert_token_hits(index, PAGES | METADATA)


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
    assert TOKEN not in pdm_project.lockfile.read_text() + pdm_project.pyproject.read_text()
    # pdm reads a project's page more than once per lock: the set of paths is what is fixed
    assert_token_hits(index, PAGES | METADATA)


# --------------------------------------------------------------------------- uv failures


def uv_handshake_refused(uv: Uv, url: str) -> list[list[str]]:
    """The error uv stops with when ``url``'s server refuses the handshake for want of a
    client certificate. The request layer in the middle reads ``client error (SendRequest)``
    or ``client error (Canceled)`` + ``operation was canceled`` by timing (both seen, run
    after run, with 0.13.9 and with the releases before it); either way rustls read the
    server's alert."""
    release = uv_release(uv)
    cause = "  cause:" if release >= UV_CAUSE_LINES_SINCE else "  Caused by:"
    shown = url if release >= UV_PLAIN_FETCH_URL_SINCE else f"`{url}`"
    head = [f"error: Failed to fetch: {shown}", f"{cause} error sending request for url ({url})"]
    tail = [f"{cause} connection error", f"{cause} received fatal alert: CertificateRequired"]
    return [head + [f"{cause} client error (SendRequest)"] + tail,
            head + [f"{cause} client error (Canceled)", f"{cause} operation was canceled"] + tail]


@pytest.mark.parametrize("command", ["pip-install", "lock"])
def test_uv_without_client_certificate_fails_at_handshake(
    privrepo: Privrepo, uv: Uv, uv_project: UvProject, command: str
) -> None:
    index = token_index(privrepo, "mtls")
    no_cert = token_spec(index, client_cert=False)  # the CA and the token, no SSL_CLIENT_CERT
    if command == "pip-install":
        venv = uv.venv(uv.env.root / "venv")
        result = uv.pip_install("demo", venv=venv, index=no_cert, auth="env", check=False).command
    else:
        uv_project.add_dependency("demo")
        uv_project.add_index("corp", no_cert)
        lock = uv_project.lock(check=False)
        assert lock.packages == () and not uv_project.lockfile.exists()
        result = lock.command

    assert not result.ok
    assert "SSL_CLIENT_CERT" not in result.argv  # (it is a variable: never on the command line)
    assert index.server.wait_for_tls_failure().reason == "PEER_DID_NOT_RETURN_A_CERTIFICATE"
    assert {f.reason for f in index.server.tls_failures} == {"PEER_DID_NOT_RETURN_A_CERTIFICATE"}
    assert list(index.log) == []  # no HTTP request got through
    assert uv_error_lines(result) in uv_handshake_refused(uv, index.url + "demo/"), result.stderr


def uv_unauthorized(uv: Uv, url: str, command: str) -> tuple[list[str] | None, str]:
    """uv's resolver error when ``url`` answers 401 to the credentials it was given:
    ``(exact lines or None, flattened text)``. Exact lines from 0.12.14; before it the
    error is drawn with miette (wrapped), so it is compared with the whitespace flattened
    (in 0.11.0 and older the hint also ends with a full stop, not in 0.12.0)."""
    if command == "pip-install":
        because = ("Because demo was not found in the package registry and you require demo, "
                   "we can conclude that your requirements are unsatisfiable.")
    else:
        because = ("Because demo was not found in the package registry and your project depends "
                   "on demo, we can conclude that your project's requirements are unsatisfiable.")
    hint = (f"hint: An index URL ({url}) could not be queried due to a lack of valid "
            "authentication credentials (401 Unauthorized)")
    if uv_release(uv) >= UV_CAUSE_LINES_SINCE:
        return (["error: No solution found when resolving dependencies", f"  cause: {because}",
                 "", hint], "")
    return None, f"× No solution found when resolving dependencies: ╰─▶ {because} {hint}"


@pytest.mark.parametrize("credential", ["password", "token"])
@pytest.mark.parametrize("command", ["pip-install", "lock"])
@pytest.mark.parametrize("tls", TLS)
def test_uv_wrong_credentials_fail_with_401(privrepo: Privrepo, uv: Uv, uv_project: UvProject,
                                            tls: str | None, command: str,
                                            credential: str) -> None:
    """A wrong password for ``alice`` or a wrong token for ``__token__``: one request, answered
    401, and uv's own "not found ... lack of valid authentication credentials" error.
    ``uv pip install`` gets the credentials in the URL, ``uv lock`` as
    ``UV_INDEX_CORP_USERNAME/PASSWORD``."""
    index = privrepo.index("corp", auth=("alice", "s3cret"), token=TOKEN, tls=tls)
    index.add("demo", "1.0")
    user, secret = ("alice", "wrong-pw") if credential == "password" else ("__token__", "tok-bad")
    wrong = IndexSpec(index.url, ca_cert=Path(index.ca_cert) if index.ca_cert else None,
                      client_cert=Path(index.client_cert) if index.client_cert else None,
                      username=user, password=secret, name="corp")
    if command == "pip-install":
        venv = uv.venv(uv.env.root / "venv")
        result = uv.pip_install("demo", venv=venv, index=wrong, check=False).command
    else:
        uv_project.add_dependency("demo")
        uv_project.add_index("corp", wrong)
        lock = uv_project.lock(check=False)
        assert lock.packages == () and not uv_project.lockfile.exists()
        result = lock.command

    assert not result.ok
    lines, flattened = uv_unauthorized(uv, index.url, command)
    if lines is not None:
        assert uv_error_lines(result) == lines, result.stderr
    else:
        assert flattened in flat(result.stderr), result.stderr
    assert secret not in result.output
    assert [(h.method, h.path, h.status, h.user, h.auth_ok) for h in index.log] == [
        ("GET", "/simple/demo/", 401, user, False)]
    if tls == "mtls":
        assert index.log[0].client_cert.startswith(CLIENT_CN + ",")


# --------------------------------------------------------------------------- hatch client key
