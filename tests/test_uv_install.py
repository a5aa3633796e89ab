"""Real ``uv pip install`` against ephemeral indexes: HTTP, TLS and mutual TLS with auth, the
credential routes, a token (user ``__token__``, in the URL or as ``UV_INDEX_<NAME>_*``), and
the machine's CA variables and uv config playing no part. And the errors uv reports, for
``uv pip install`` and ``uv lock``: an mTLS index without a client certificate refuses the
handshake (no HTTP request gets through, uv reports its own fetch error); a wrong password or
token is answered 401 and uv reports its resolver error with the 401 hint.

Each test checks both sides: what uv says it did (its install summary, its own words) and what
the index saw (user, client certificate, which index served the files). uv's texts are pinned
exactly for the default uv (0.13.9) and were checked against 47 releases from 0.8.14 (the
floor) to 0.13.9, including the releases on both sides of each change; the constants below
say where they differ. The parser of uv's `` + name==version`` change lines is checked on its
own."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from helpers import (
    CLIENT_CN,
    DEMO_METADATA,
    DEMO_PAGES,
    DEMO_WHEELS,
    READ_TOKEN,
    TLS,
    assert_served_to_alice,
    assert_token_hits,
    corp_index,
    flat,
    token_index,
    token_spec,
    uv_release,
)
from packaging.version import Version

from pytest_privrepo import Privrepo
from pytest_privrepo.clients import IndexSpec, Uv
from pytest_privrepo.clients.result import CommandResult
from pytest_privrepo.clients.uv import parse_changes
from pytest_privrepo.clients.uv_project import UvProject


@pytest.mark.parametrize("tls", TLS)
def test_uv_pip_install(privrepo, uv: Uv, tls: str | None) -> None:  # type: ignore[no-untyped-def]
    corp = corp_index(privrepo, tls)
    venv = uv.venv(uv.env.root / "venv")
    result = uv.pip_install("demo", venv=venv, index=corp)

    assert sorted(result.installed) == [("demo", "1.0"), ("helper", "2.0")]
    assert uv.pip_list(venv) == {"demo": "1.0", "helper": "2.0"}
    assert_served_to_alice(corp, tls)


def test_uv_pip_install_without_a_venv_uses_a_fresh_one_of_its_own(privrepo, uv: Uv) -> None:  # type: ignore[no-untyped-def]
    corp = corp_index(privrepo, "tls")
    result = uv.pip_install("demo", index=corp)
    assert sorted(result.installed) == [("demo", "1.0"), ("helper", "2.0")]
    assert uv.target_venv.is_relative_to(uv.env.root)
    assert uv.pip_list() == {"demo": "1.0", "helper": "2.0"}
    assert "--python" in result.command.argv
    assert str(uv.target_venv) in result.command.argv


@pytest.mark.parametrize("auth", ["env", "netrc"])
def test_uv_credentials_routes(privrepo, uv: Uv, auth: str) -> None:  # type: ignore[no-untyped-def]
    corp = corp_index(privrepo, "mtls", password="s3cret")
    venv = uv.venv(uv.env.root / "venv")
    result = uv.pip_install("demo", venv=venv, index=corp, auth=auth)  # type: ignore[arg-type]
    assert "alice" not in " ".join(result.command.argv)
    assert sorted(result.installed) == [("demo", "1.0"), ("helper", "2.0")]
    accepted = {h.user for h in corp.log if h.auth_ok}
    assert accepted == {"alice"}
    if auth == "env":  # named index credentials are sent up front
        assert {h.status for h in corp.log} == {200}
    else:  # netrc: uv tries anonymously first, then retries with netrc after the 401
        assert {h.status for h in corp.log if h.user is None} <= {401}


def test_uv_ignores_machine_ca_variables_and_config(
    privrepo, uv: Uv, polluted_machine
) -> None:  # type: ignore[no-untyped-def]
    mirror = polluted_machine
    corp = corp_index(privrepo, "tls")
    venv = uv.venv(uv.env.root / "venv")
    result = uv.pip_install("demo", venv=venv, index=corp)
    assert sorted(result.installed) == [("demo", "1.0"), ("helper", "2.0")]
    assert list(mirror.log) == []
    assert_served_to_alice(corp, "tls")

    # Guard: with the machine's UV_INDEX, uv searches the mirror first and installs 9.9.
    naive_env = dict(os.environ, UV_CACHE_DIR=str(uv.env.root / "naive-cache"))
    naive = subprocess.run(
        [*result.command.argv[:-1], "--reinstall", "demo"],
        env=naive_env,
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "demo==9.9" in naive.stderr, naive.stderr


#: uv prints an error chain as ``error: <msg>`` + ``  cause: <msg>`` lines from 0.12.14; before
#: it the causes read ``  Caused by: <msg>``, and a resolver error is drawn with miette's
#: ``  × <msg>:`` / ``  ╰─▶ <cause>`` (wrapped to the terminal width). 0.12.13 and 0.12.14 are
#: consecutive releases.
UV_CAUSE_LINES_SINCE = Version("0.12.14")
#: ``error: Failed to fetch: <url>`` names the URL without backticks from 0.12.22 (0.12.21:
#: ``Failed to fetch: `<url>` ``).
UV_PLAIN_FETCH_URL_SINCE = Version("0.12.22")


def uv_error_lines(result: CommandResult) -> list[str]:
    """uv's stderr without its leading ``Using ...`` line(s) and trailing blank lines."""
    lines = result.stderr.rstrip("\n").splitlines()
    while lines and lines[0].startswith("Using "):
        lines.pop(0)
    return lines


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
    assert (READ_TOKEN in " ".join(result.command.argv)) == (auth == "url")
    assert READ_TOKEN not in result.command.output
    assert_token_hits(index, DEMO_PAGES | DEMO_METADATA | DEMO_WHEELS)


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
    index = privrepo.index("corp", auth=("alice", "s3cret"), token=READ_TOKEN, tls=tls)
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


def test_parse_uv_changes() -> None:
    output = (
        "Resolved 2 packages in 3ms\nUninstalled 1 package in 1ms\n"
        " - six==1.15.0\n + six==1.16.0\n ~ demo==1.0\n + local @ file:///tmp/local\n"
    )
    changes = parse_changes(output)
    assert [c[:3] for c in changes] == [
        ("-", "six", "1.15.0"),
        ("+", "six", "1.16.0"),
        ("~", "demo", "1.0"),
        ("+", "local", None),
    ]
    assert changes[-1].url == "file:///tmp/local"
