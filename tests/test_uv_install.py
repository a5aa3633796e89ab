"""Real ``uv pip install`` against ephemeral indexes: HTTP, TLS and mutual TLS with auth, the
credential routes, and the machine's CA variables and uv config playing no part.

Each test checks both sides: what uv says it did (its install summary) and what the index
saw (user, client certificate, which index served the files)."""

from __future__ import annotations

import os
import subprocess

import pytest
from helpers import TLS, assert_served_to_alice, corp_index

from pytest_privrepo.clients import Uv


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
