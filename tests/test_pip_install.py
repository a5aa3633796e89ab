"""Real pip and uv installs against ephemeral indexes: HTTP, TLS and mutual TLS with auth.

Each test checks both sides: what the client says it did (pip's JSON report, uv's summary)
and what the index saw (user, client certificate, which index served the files).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from pytest_privrepo.clients import (
    IndexSpec,
    Pip,
    Uv,
    make_venv,
)
from pytest_privrepo.errors import ClientError

TLS_MODES = [None, "tls", "mtls"]
#: Characters that break unencoded URL userinfo (and a space).
HARD_PASSWORD = "p@ss:w/rd %"




def _corp(privrepo, tls: str | None, password: str = HARD_PASSWORD):  # type: ignore[no-untyped-def]
    index = privrepo.index("corp", auth=("alice", password), tls=tls)
    index.add("demo", "1.0", requires=["helper>=2"])
    index.add("helper", "2.0")
    return index


def _assert_served_to_alice(index, tls: str | None) -> None:  # type: ignore[no-untyped-def]
    hits = list(index.log)
    assert hits, "the index saw no request"
    assert {(h.user, h.auth_ok) for h in hits} == {("alice", True)}, hits
    assert sorted(h.path.rsplit("/", 1)[-1] for h in index.log.downloads) == [
        "demo-1.0-py3-none-any.whl",
        "helper-2.0-py3-none-any.whl",
    ]
    certs = {h.client_cert for h in hits}
    if tls == "mtls":
        assert len(certs) == 1 and "CN=corp-client@privrepo.test" in certs.pop()
    else:
        assert certs == {None}


@pytest.mark.parametrize("tls", TLS_MODES)
def test_pip_install(privrepo, pip: Pip, tls: str | None) -> None:  # type: ignore[no-untyped-def]
    corp = _corp(privrepo, tls)
    result = pip.install("demo", index=corp)

    assert result.versions == {"demo": "1.0", "helper": "2.0"}
    for package in result.installed:
        assert package.url.startswith(corp.base_url + "/"), package
        assert "alice" not in package.url  # pip's report drops the credentials
    assert pip.python is not None
    assert list(pip.python.parents[1].rglob("demo-1.0.dist-info"))
    _assert_served_to_alice(corp, tls)


@pytest.mark.parametrize("tls", TLS_MODES)
def test_uv_pip_install(privrepo, uv: Uv, tls: str | None) -> None:  # type: ignore[no-untyped-def]
    corp = _corp(privrepo, tls)
    venv = uv.venv(uv.env.root / "venv")
    result = uv.pip_install("demo", venv=venv, index=corp)

    assert sorted(result.installed) == [("demo", "1.0"), ("helper", "2.0")]
    assert uv.pip_list(venv) == {"demo": "1.0", "helper": "2.0"}
    _assert_served_to_alice(corp, tls)


def test_uv_pip_install_without_a_venv_uses_a_fresh_one_of_its_own(privrepo, uv: Uv) -> None:  # type: ignore[no-untyped-def]
    corp = _corp(privrepo, "tls")
    result = uv.pip_install("demo", index=corp)
    assert sorted(result.installed) == [("demo", "1.0"), ("helper", "2.0")]
    assert uv.target_venv.is_relative_to(uv.env.root)
    assert uv.pip_list() == {"demo": "1.0", "helper": "2.0"}
    assert "--python" in result.command.argv
    assert str(uv.target_venv) in result.command.argv


def test_pip_credentials_from_netrc(privrepo, pip: Pip) -> None:  # type: ignore[no-untyped-def]
    corp = _corp(privrepo, "mtls", password="s3cret")
    result = pip.install("demo", index=corp, auth="netrc")
    assert "alice" not in " ".join(result.command.argv)
    assert result.versions == {"demo": "1.0", "helper": "2.0"}
    _assert_served_to_alice(corp, "mtls")  # pip sends netrc credentials pre-emptively


@pytest.mark.parametrize("auth", ["env", "netrc"])
def test_uv_credentials_routes(privrepo, uv: Uv, auth: str) -> None:  # type: ignore[no-untyped-def]
    corp = _corp(privrepo, "mtls", password="s3cret")
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


@pytest.mark.parametrize("client", ["pip", "uv"])
def test_missing_credentials_fail_with_401(
    privrepo, pip: Pip, uv: Uv, client: str
) -> None:  # type: ignore[no-untyped-def]
    corp = _corp(privrepo, "tls")
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
    corp = _corp(privrepo, "mtls")
    no_cert = IndexSpec(
        corp.url, ca_cert=corp.ca_cert, username="alice", password=HARD_PASSWORD
    )
    result = pip.install("demo", index=no_cert, check=False)
    assert not result.ok
    assert "No matching distribution found for demo" in result.command.output
    assert list(corp.log) == []  # the handshake failed: no HTTP request got through


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


# ----------------------------------------------------------------- machine pollution
@pytest.fixture
def polluted_machine(privrepo, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):  # type: ignore[no-untyped-def]
    """The CI machine's settings, pointed at a 'mirror' index that has a newer demo.

    CA variables keep the machine's real values (the system bundle); if the machine does
    not export them they are set to it. The machine's pip/uv configuration adds the mirror.
    """
    mirror = privrepo.index("machine-mirror")
    mirror.add("demo", "9.9")
    bundle = "/etc/ssl/certs/ca-certificates.crt"
    if not os.path.exists(bundle):
        import certifi

        bundle = certifi.where()
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "PIP_CERT"):
        if not os.environ.get(name):
            monkeypatch.setenv(name, bundle)
    conf = tmp_path / "machine-pip.conf"
    conf.write_text(f"[global]\nextra-index-url = {mirror.url}\n")
    monkeypatch.setenv("PIP_CONFIG_FILE", str(conf))
    monkeypatch.setenv("UV_INDEX", mirror.url)
    return mirror


def test_pip_ignores_machine_ca_variables_and_config(
    privrepo, pip: Pip, polluted_machine
) -> None:  # type: ignore[no-untyped-def]
    mirror = polluted_machine
    corp = _corp(privrepo, "tls")
    result = pip.install("demo", index=corp)
    assert result.versions == {"demo": "1.0", "helper": "2.0"}
    assert list(mirror.log) == [], "the machine's pip.conf index was contacted"
    _assert_served_to_alice(corp, "tls")

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


def test_uv_ignores_machine_ca_variables_and_config(
    privrepo, uv: Uv, polluted_machine
) -> None:  # type: ignore[no-untyped-def]
    mirror = polluted_machine
    corp = _corp(privrepo, "tls")
    venv = uv.venv(uv.env.root / "venv")
    result = uv.pip_install("demo", venv=venv, index=corp)
    assert sorted(result.installed) == [("demo", "1.0"), ("helper", "2.0")]
    assert list(mirror.log) == []
    _assert_served_to_alice(corp, "tls")

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
