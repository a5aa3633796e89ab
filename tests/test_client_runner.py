"""The shared shapes of the client harnesses: IndexAccess (one value for index access, one
function for a URL with credentials), ClientRunner (constructor, version, version gate, one
route vocabulary) and ClientError.result."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest

from pytest_privrepo import Privrepo
from pytest_privrepo.access import IndexAccess, url_with_credentials
from pytest_privrepo.clients import (
    PDM_PUBLISH_ROUTES,
    POETRY_ROUTES,
    UV_INDEX_ROUTES,
    ClientEnv,
    IndexSpec,
    LockResult,
    Poetry,
    PoetryLockResult,
    Twine,
    Uv,
    check_route,
    parse_lock,
    parse_poetry_lock,
)
from pytest_privrepo.errors import ClientError, ConfigError, UnsupportedClient

SECRET = "p@ss:w/rd"


def test_url_with_credentials_percent_encodes_and_respects_given_userinfo() -> None:
    url = "https://127.0.0.1:8443/simple/"
    assert url_with_credentials(url, "al ice", SECRET) == (
        "https://al%20ice:p%40ss%3Aw%2Frd@127.0.0.1:8443/simple/"
    )
    assert url_with_credentials(url, "alice") == "https://alice@127.0.0.1:8443/simple/"
    assert url_with_credentials(url) == url
    given = "https://bob:x@127.0.0.1:8443/simple/"
    assert url_with_credentials(given, "alice", SECRET) == given  # the caller's choice
    assert url_with_credentials(given, replace_userinfo=True) == url
    assert url_with_credentials(given, "alice", replace_userinfo=True) == (
        "https://alice@127.0.0.1:8443/simple/"
    )


def test_index_access_of_an_index_and_a_wrong_password(privrepo: Privrepo) -> None:
    corp = privrepo.index("corp", auth=("alice", SECRET), token="tok-1", tls="mtls")
    access = corp.access
    assert IndexAccess.of(corp) == access == IndexAccess.of(access)
    assert (access.name, access.url, access.upload_url) == ("corp", corp.url, corp.upload_url)
    assert (access.username, access.password, access.token) == ("alice", SECRET, "tok-1")
    assert access.ca_cert == Path(corp.ca_cert) and access.client_cert == Path(corp.client_cert)
    assert access.url_with_credentials() == corp.url_with_credentials()
    assert SECRET not in repr(access) and "tok-1" not in repr(access)

    wrong = dataclasses.replace(corp.access, password="wrong")
    assert wrong.password == "wrong" and wrong.url == corp.url and corp.access == access
    assert IndexSpec is IndexAccess and IndexSpec.of(corp) == access  # the old name
    assert IndexAccess(corp.url).url_with_userinfo() == corp.url  # the old method


def test_index_access_refuses_what_is_not_an_index() -> None:
    with pytest.raises(ConfigError, match="not an http"):
        IndexAccess.of(f"ftp://alice:{SECRET}@127.0.0.1/simple/")
    with pytest.raises(ConfigError, match="expected an index"):
        IndexAccess.of(42)
    with pytest.raises(ConfigError, match="needs an index with url and upload_url") as err:
        IndexAccess("http://127.0.0.1:1/simple/", password=SECRET).needs_upload_url("x()")
    assert SECRET not in str(err.value)


def test_one_route_vocabulary_with_the_old_spellings() -> None:
    assert check_route("uv", "options", UV_INDEX_ROUTES) == "cli"
    assert check_route("uv", "config", UV_INDEX_ROUTES) == "file"
    assert check_route("pip", "args", ("cli", "env", "file")) == "cli"
    assert check_route("poetry", "files", POETRY_ROUTES) == "file"
    assert check_route("pdm", "config", PDM_PUBLISH_ROUTES) == "file"
    with pytest.raises(ConfigError, match=r"^unknown twine route 'file': use 'cli', 'env' or 'pypirc'$"):
        check_route("twine", "file", ("cli", "env", "pypirc"))


def test_check_failure_carries_the_result(tmp_path: Path) -> None:
    env = ClientEnv(tmp_path / "env")
    result = env.run([sys.executable, "-c", "import sys; print('out'); sys.exit(3)"], check=False)
    with pytest.raises(ClientError, match="exit code 3") as err:
        result.check()
    assert err.value.result is result
    assert (result.returncode, result.stdout) == (3, "out\n")


def test_runner_version_gate_has_one_wording(tmp_path: Path) -> None:
    """A stand-in uv that only answers ``--version``: the gate refuses it before anything
    else runs, as an UnsupportedClient (a ConfigError)."""
    fake = tmp_path / "bin" / "uv"
    fake.parent.mkdir()
    fake.write_text(f"#!{sys.executable}\nprint('uv 0.8.13 (1e2b1d7a8 2025-08-21)')\n")
    fake.chmod(0o755)
    uv = Uv(ClientEnv(tmp_path / "env"), fake)
    assert (uv.version(), str(uv.release), uv.exe) == ("0.8.13", "0.8.13", str(fake))
    uv.require("0.8.13", "cannot do it")
    with pytest.raises(UnsupportedClient) as err:
        uv.require("0.8.14", "cannot do it")
    assert str(err.value) == "uv 0.8.13 cannot do it: use uv >= 0.8.14"
    assert isinstance(err.value, ConfigError)


def test_runner_constructors(tmp_path: Path) -> None:
    env = ClientEnv(tmp_path / "env")
    exe = Path(sys.executable)
    assert Poetry(env, exe).executable == Poetry(exe, env).executable == exe  # both orders
    assert Poetry(env, exe).env is env and Twine(env, exe).timeout == 120.0
    assert Twine(env, exe, timeout=5).timeout == 5
    with pytest.raises(ConfigError, match="twine executable .* does not exist"):
        Twine(env, tmp_path / "nowhere" / "twine")


def test_poetry_lock_names_keep_their_old_aliases() -> None:
    assert LockResult is PoetryLockResult and parse_lock is parse_poetry_lock


def test_version_from_the_venv_metadata_is_what_the_client_prints(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A runner reads its version from the metadata of the venv its executable lives in
    (no client start); the answer is the one ``--version`` prints."""
    import sys
    from pathlib import Path

    from pytest_privrepo.clients import ClientEnv, Pip, Uv
    from pytest_privrepo.clients.runner import venv_distribution_version

    env = ClientEnv(tmp_path / "env")
    pip = Pip(env)
    printed = env.run([sys.executable, "-m", "pip", "--version"]).stdout.split()[1]
    assert pip.version() == printed
    assert venv_distribution_version(Path(sys.executable), "pip") == printed
    uv_exe = Path(sys.executable).parent / "uv"
    uv = Uv(env, uv_exe)
    assert uv.version() == env.run([uv_exe, "--version"]).stdout.split()[1]
    # not in a venv: no answer, so the runner asks the client
    assert venv_distribution_version(Path("/usr/bin/env"), "pip") is None
