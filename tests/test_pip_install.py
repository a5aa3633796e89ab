"""Real ``pip install`` against ephemeral indexes: HTTP, TLS and mutual TLS with auth, netrc,
a token (user ``__token__``, masked in pip's output), an mTLS index without the client
certificate, and the machine's CA variables and pip config
playing no part. Missing credentials are checked for pip and uv side by side (one 401 rule,
two clients' words). pip's configuration routes are in test_pip_routes.py.

Each test checks both sides: what pip says it did (its JSON report) and what the index saw
(user, client certificate, which index served the files).
"""

from __future__ import annotations

import os
import subprocess

import pytest
from helpers import (
    DEMO_METADATA,
    DEMO_PAGES,
    DEMO_WHEELS,
    HARD_PASSWORD,
    READ_TOKEN,
    TLS,
    assert_served_to_alice,
    assert_token_hits,
    corp_index,
    token_index,
    token_spec,
)

from pytest_privrepo import Privrepo
from pytest_privrepo.clients import IndexSpec, Pip, Uv, make_venv
from pytest_privrepo.errors import ClientError


@pytest.mark.parametrize("tls", TLS)
def test_pip_install(privrepo, pip: Pip, tls: str | None) -> None:  # type: ignore[no-untyped-def]
    corp = corp_index(privrepo, tls)
    result = pip.install("demo", index=corp)

    assert result.versions == {"demo": "1.0", "helper": "2.0"}
    for package in result.installed:
        assert package.url.startswith(corp.base_url + "/"), package
        assert "alice" not in package.url  # pip's report drops the credentials
    assert pip.python is not None
    assert list(pip.python.parents[1].rglob("demo-1.0.dist-info"))
    assert_served_to_alice(corp, tls)


def test_pip_credentials_from_netrc(privrepo, pip: Pip) -> None:  # type: ignore[no-untyped-def]
    corp = corp_index(privrepo, "mtls", password="s3cret")
    result = pip.install("demo", index=corp, auth="netrc")
    assert "alice" not in " ".join(result.command.argv)
    assert result.versions == {"demo": "1.0", "helper": "2.0"}
    assert_served_to_alice(corp, "mtls")  # pip sends netrc credentials pre-emptively


@pytest.mark.parametrize("client", ["pip", "uv"])
def test_missing_credentials_fail_with_401(
    privrepo, pip: Pip, uv: Uv, client: str
) -> None:  # type: ignore[no-untyped-def]
    corp = corp_index(privrepo, "tls")
    if client == "pip":
        result = pip.install("demo", index=corp, auth="none", check=False)
    else:
        venv = uv.venv(uv.env.root / "venv")
        result = uv.pip_install("demo", venv=venv, index=corp, auth="none", check=False)
    assert not result.ok
    if (
        client == "pip"
    ):  # pip hides the 401 (without -v): the project just has no versions
        assert "(from versions: none)" in result.command.output
    else:  # whitespace flattened: uv wraps its messages ("(401\n      Unauthorized)")
        assert "401 Unauthorized" in " ".join(result.command.output.split())
    assert {(h.user, h.status) for h in corp.log} == {(None, 401)}
    with pytest.raises(ClientError, match="exit code"):
        result.command.check()


def test_mtls_without_client_certificate_fails(privrepo, pip: Pip) -> None:  # type: ignore[no-untyped-def]
    corp = corp_index(privrepo, "mtls")
    no_cert = IndexSpec(
        corp.url, ca_cert=corp.ca_cert, username="alice", password=HARD_PASSWORD
    )
    result = pip.install("demo", index=no_cert, check=False)
    assert not result.ok
    assert "No matching distribution found for demo" in result.command.output
    assert list(corp.log) == []  # the handshake failed: no HTTP request got through


def test_pip_ignores_machine_ca_variables_and_config(
    privrepo, pip: Pip, polluted_machine
) -> None:  # type: ignore[no-untyped-def]
    mirror = polluted_machine
    corp = corp_index(privrepo, "tls")
    result = pip.install("demo", index=corp)
    assert result.versions == {"demo": "1.0", "helper": "2.0"}
    assert list(mirror.log) == [], "the machine's pip.conf index was contacted"
    assert_served_to_alice(corp, "tls")

    # Guard: the very same command with the machine's environment goes wrong. requests
    # lets REQUESTS_CA_BUNDLE override --cert, so our index fails verification, and the
    # machine's pip.conf mirror serves demo 9.9 instead.
    corp.log.clear()
    naive_env = dict(os.environ, PIP_CACHE_DIR=str(pip.env.root / "naive-cache"))
    naive_venv = make_venv(pip.env.root / "naive-venv", env=pip.env)
    argv = [str(naive_venv) if arg == str(pip.python) else arg for arg in result.command.argv]
    naive = subprocess.run(
        argv, env=naive_env, check=False, capture_output=True, text=True, timeout=120
    )
    output = naive.stdout + naive.stderr
    assert "CERTIFICATE_VERIFY_FAILED" in output, output
    assert mirror.log, "guard: the machine configuration should reach the mirror"
    assert "Successfully installed demo-9.9" in output, output
    assert list(corp.log) == []


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
    assert READ_TOKEN not in output
    assert_token_hits(index, DEMO_PAGES | DEMO_METADATA | DEMO_WHEELS)
