"""Provisioning installs clients the way the user's own ``pip install`` would.

Each test stands up a privrepo index that is reachable *only* through settings given the
way a user gives them (``PIP_INDEX_URL`` + ``PIP_CERT``, a pip.conf in ``PIP_CONFIG_FILE``
with a netrc, ``REQUESTS_CA_BUNDLE``), provisions a small tool from it, and checks the index
saw the install. The clients under test must still see none of it.
"""

from __future__ import annotations

import glob
import os
import sys
import threading
import time
from pathlib import Path

import pytest

from pytest_privrepo import Privrepo
from pytest_privrepo.clients.catalog import client_tool
from pytest_privrepo.clients.env import ClientEnv
from pytest_privrepo.clients.pip import Pip
from pytest_privrepo.clients.provision import (
    INSTALLER_PIP_FLOOR,
    decisive_lines,
    default_cache_dir,
    file_lock,
    find_executable,
    installed_pip_version,
    machine_install_env,
    provision,
)
from pytest_privrepo.clients.result import CommandResult
from pytest_privrepo.clients.venv import make_venv
from pytest_privrepo.errors import ClientError, ConfigError

#: Settings of this machine (and of CI runners like it) that would add indexes or trust
#: roots next to the ones a test gives; removed so only the test's settings can work.
MACHINE_SETTINGS = ("PIP_FIND_LINKS", "PIP_EXTRA_INDEX_URL", "PIP_INDEX_URL", "PIP_CERT",
                    "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "PIP_CONFIG_FILE", "NETRC")


@pytest.fixture
def corp_tool(privrepo: Privrepo):  # type: ignore[no-untyped-def]
    """An index with a tool and its dependency, which no public index has."""
    corp = privrepo.index("toolbox", auth=("alice", "s3cret-provision"), tls="tls")
    corp.add("corp-tool", "1.0.0", requires=["corp-tool-dep>=2"])
    corp.add("corp-tool-dep", "2.1.0")
    return corp


@pytest.fixture
def user_shell(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A user's shell without this machine's own pip settings: an empty pip.conf for the
    global/user files (via a HOME and XDG dirs of the test) and no index/CA variables."""
    for name in MACHINE_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    # /etc/pip.conf and /etc/xdg/pip/pip.conf are the machine's: hide them from pip by
    # pointing XDG_CONFIG_DIRS elsewhere (pip reads the global files from there and /etc)
    monkeypatch.setenv("XDG_CONFIG_DIRS", str(tmp_path / "no-xdg"))
    monkeypatch.setenv("PIP_NO_CACHE_DIR", "1")  # nothing from an earlier run's cache
    return home


def _installed(python: Path, module: str) -> str:
    env = ClientEnv(python.parent.parent / ".check")
    try:
        return env.run([python, "-c", f"import {module}; print({module}.__version__)"]).stdout.strip()
    finally:
        import shutil

        shutil.rmtree(python.parent.parent / ".check", ignore_errors=True)


def test_provision_through_pip_index_url_and_pip_cert(corp_tool, user_shell, tmp_path,  # type: ignore[no-untyped-def]
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    host = corp_tool.url.split("://", 1)[1]
    monkeypatch.setenv("PIP_INDEX_URL", f"https://alice:s3cret-provision@{host}")
    monkeypatch.setenv("PIP_CERT", str(corp_tool.ca_cert))
    messages: list[str] = []
    python = provision("corp-tool", "1.0.0", cache_dir=tmp_path / "cache", executable="python",
                       progress=messages.append)
    assert _installed(python, "corp_tool") == "1.0.0"
    assert _installed(python, "corp_tool_dep") == "2.1.0"
    assert len(messages) == 1 and "installing corp-tool 1.0.0 into" in messages[0]
    paths = [(h.path, h.user, h.status) for h in corp_tool.log]
    assert ("/simple/corp-tool/", "alice", 200) in paths
    assert any(p.endswith(".whl") and u == "alice" and s == 200 for p, u, s in paths)
    # second call: a cache hit, no install, no request
    before = len(corp_tool.log)
    assert provision("corp-tool", "1.0.0", cache_dir=tmp_path / "cache", executable="python",
                     progress=messages.append) == python
    assert len(messages) == 1 and len(corp_tool.log) == before
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == ["corp-tool-1.0.0-py%d.%d" % sys.version_info[:2]], \
        "no lock file, scratch or download dir left next to the venv"


def test_provision_through_pip_conf_netrc_and_requests_ca_bundle(corp_tool, user_shell, tmp_path,  # type: ignore[no-untyped-def]
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    conf = tmp_path / "pip.conf"
    conf.write_text(f"[global]\nindex-url = {corp_tool.url}\n", encoding="utf-8")
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1\nlogin alice\npassword s3cret-provision\n", encoding="utf-8")
    netrc.chmod(0o600)
    monkeypatch.setenv("PIP_CONFIG_FILE", str(conf))
    monkeypatch.setenv("NETRC", str(netrc))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(corp_tool.ca_cert))
    python = provision("corp-tool", "1.0.0", cache_dir=tmp_path / "cache", executable="python")
    assert _installed(python, "corp_tool") == "1.0.0"
    assert {h.user for h in corp_tool.log if h.status == 200} == {"alice"}


def test_clients_under_test_see_none_of_the_provisioning_settings(  # type: ignore[no-untyped-def]
        privrepo: Privrepo, corp_tool, user_shell, tmp_path, monkeypatch: pytest.MonkeyPatch,
        client_factory) -> None:
    """The same user settings that provisioning follows are invisible to a client run in a
    ClientEnv: pip installs from the index the test gives and never asks the user's."""
    host = corp_tool.url.split("://", 1)[1]
    conf = tmp_path / "pip.conf"
    conf.write_text(f"[global]\nindex-url = https://alice:s3cret-provision@{host}\n"
                    f"cert = {corp_tool.ca_cert}\n", encoding="utf-8")
    monkeypatch.setenv("PIP_CONFIG_FILE", str(conf))
    monkeypatch.setenv("PIP_INDEX_URL", f"https://alice:s3cret-provision@{host}")
    monkeypatch.setenv("PIP_EXTRA_INDEX_URL", f"https://alice:s3cret-provision@{host}")
    monkeypatch.setenv("PIP_CERT", str(corp_tool.ca_cert))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(corp_tool.ca_cert))
    wanted = privrepo.index("wanted")
    wanted.add("corp-tool", "1.0.0")
    pip = client_factory("pip", env=ClientEnv(tmp_path / "client-env"))
    result = pip.install("corp-tool", index=wanted, no_deps=True)
    assert result.versions == {"corp-tool": "1.0.0"}
    assert [h.path for h in wanted.log if h.path.startswith("/simple/")] == ["/simple/corp-tool/"]
    assert list(corp_tool.log) == [], "the user's index was never asked by the client under test"


def test_provision_failure_says_why(corp_tool, user_shell, tmp_path,  # type: ignore[no-untyped-def]
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """No credentials for the user's index: the error names the command, pip's decisive
    lines (the 401) and what to try; nothing is left in the cache."""
    monkeypatch.setenv("PIP_INDEX_URL", corp_tool.url)
    monkeypatch.setenv("PIP_CERT", str(corp_tool.ca_cert))
    cache = tmp_path / "cache"
    with pytest.raises(ClientError) as info:
        provision("corp-tool", "1.0.0", cache_dir=cache, executable="python",
                  alternative="pass --poetry PATH")
    message = str(info.value)
    assert message.startswith("provisioning corp-tool==1.0.0 into ")
    assert "  command: " in message and " -m pip " in message and " install corp-tool==1.0.0" in message
    said = message.split("the installer said:\n", 1)[1].split("\n  what to try:", 1)[0]
    assert "401" in said, said
    assert "ERROR: No matching distribution found for corp-tool==1.0.0" in said
    assert "PIP_INDEX_URL" in message and "pip.conf" in message
    assert message.rstrip().endswith("or pass --poetry PATH")
    assert isinstance(info.value.result, CommandResult) and info.value.result.returncode != 0
    assert list(cache.iterdir()) == [], "no venv, scratch dir or lock file left behind"
    assert any(h.status == 401 for h in corp_tool.log)


def test_catalog_failure_hint_names_the_plugin_options(corp_tool, user_shell, tmp_path,  # type: ignore[no-untyped-def]
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIP_INDEX_URL", corp_tool.url)
    monkeypatch.setenv("PIP_CERT", str(corp_tool.ca_cert))
    with pytest.raises(ClientError, match=r"pass --privrepo-twine=PATH or set \$PRIVREPO_TWINE$"):
        client_tool("twine").provision("6.2.0", cache_dir=tmp_path / "cache")


def _python38() -> Path:
    root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    found = sorted(glob.glob(os.path.join(root, "versions", "3.8.*", "bin", "python3.8")))
    assert found, "pyenv's Python 3.8 is part of this machine kind (pyenv versions): not found"
    return Path(found[-1])


def test_a_python_this_pip_cannot_run_gets_an_upgraded_pip(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """pip 26 cannot run under Python 3.8 and the pip bundled with 3.8 (23.0.1) is older than
    the floor: the venv's pip is upgraded first, then installs the tool, from the user's
    registry settings; nothing is left in the user's temp dir (that pip upgrading itself
    left a copy of its CA bundle there)."""
    user_tmp = tmp_path / "user-tmp"
    user_tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(user_tmp))
    py38 = _python38()
    bundled = installed_pip_version(py38)
    python = provision("six", "1.16.0", cache_dir=tmp_path, python=py38, executable="python")
    pip_version = installed_pip_version(python)
    assert pip_version is not None and pip_version >= INSTALLER_PIP_FLOOR, (bundled, pip_version)
    out = ClientEnv(tmp_path / "check").run([python, "-c", "import six, sys; print(six.__version__, sys.version_info[:2])"])
    assert out.stdout.strip() == "1.16.0 (3, 8)"
    assert list(user_tmp.iterdir()) == []


def test_machine_install_env_keeps_the_users_settings_and_drops_install_targets() -> None:
    user = {"PIP_INDEX_URL": "https://mirror.example/simple", "PIP_CERT": "/ca.pem",
            "HTTPS_PROXY": "http://proxy:3128", "HOME": "/home/u", "PIP_TARGET": "/elsewhere",
            "PIP_USER": "1", "VIRTUAL_ENV": "/other/venv", "PIP_CONFIG_FILE": "/u/pip.conf"}
    env = machine_install_env(user)
    for kept in ("PIP_INDEX_URL", "PIP_CERT", "HTTPS_PROXY", "HOME", "PIP_CONFIG_FILE"):
        assert env[kept] == user[kept]
    for dropped in ("PIP_TARGET", "PIP_USER", "VIRTUAL_ENV"):
        assert dropped not in env
    assert env["PIP_NO_INPUT"] == "1"


def test_decisive_lines_pick_the_cause() -> None:
    output = "\n".join([
        "Looking in indexes: https://mirror.example/simple",
        "WARNING: Retrying (Retry(total=1)) after connection broken by 'SSLError(SSLCertVerificationError(1, "
        "'[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed'))': /simple/poetry/",
        "WARNING: Retrying (Retry(total=1)) after connection broken by 'SSLError(SSLCertVerificationError(1, "
        "'[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed'))': /simple/poetry/",
        "Could not fetch URL https://mirror.example/simple/poetry/: There was a problem confirming the ssl certificate",
        "ERROR: Could not find a version that satisfies the requirement poetry (from versions: none)",
        "ERROR: No matching distribution found for poetry",
    ])
    lines = decisive_lines(output)
    assert len(lines) == 4 and "CERTIFICATE_VERIFY_FAILED" in lines[0]
    assert lines[-1] == "ERROR: No matching distribution found for poetry"
    assert decisive_lines("a\nb\nc\n", limit=2) == ["b", "c"]


def test_default_cache_dir_is_the_users_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("PRIVREPO_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "pytest-privrepo" / "clients"
    monkeypatch.setenv("PRIVREPO_CACHE_DIR", str(tmp_path / "mine"))
    assert default_cache_dir() == tmp_path / "mine"


def test_the_plugin_caches_clients_in_the_user_cache_even_without_pytests_cache(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """``-p no:cacheprovider`` used to send provisioned clients (hundreds of MB) to the temp
    dir; now the one user-level cache serves, shared with ``privrepo demo``."""
    monkeypatch.delenv("PRIVREPO_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    pytester.makepyfile("""
        def test_where(privrepo_cache_dir):
            print("CACHE=" + str(privrepo_cache_dir))
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-s", "-p", "no:xdist")
    result.assert_outcomes(passed=1)
    assert f"CACHE={tmp_path / 'xdg' / 'pytest-privrepo' / 'clients'}" in result.stdout.str()


def test_provision_failure_never_shows_the_users_password(corp_tool, user_shell, tmp_path,  # type: ignore[no-untyped-def]
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "wr0ng-Pr0vision-Secret"
    host = corp_tool.url.split("://", 1)[1]
    monkeypatch.setenv("PIP_INDEX_URL", f"https://alice:{secret}@{host}")
    monkeypatch.setenv("PIP_CERT", str(corp_tool.ca_cert))
    with pytest.raises(ClientError) as info:
        provision("corp-tool", "1.0.0", cache_dir=tmp_path / "cache", executable="python",
                  index_url=f"https://alice:{secret}@{host}")
    message = str(info.value)
    assert "401" in message and "alice:****@" in message
    assert secret not in message and secret not in repr(info.value.result)


# ------------------------------------------------------------------------- executables
def test_find_executable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.delenv("PRIVREPO_POETRY", raising=False)
    with pytest.raises(ClientError) as info:
        find_executable("poetry", None, "PRIVREPO_POETRY")
    assert (
        str(info.value)
        == "poetry not found: install it, pass --privrepo-poetry=PATH or set PRIVREPO_POETRY "
        "(or the privrepo_poetry ini key), or ask for a version to provision "
        "(--privrepo-poetry-versions)"
    )

    with pytest.raises(
        ClientError, match=r"--privrepo-poetry='/nowhere/poetry' does not exist"
    ):
        find_executable("poetry", "/nowhere/poetry", "PRIVREPO_POETRY")
    monkeypatch.setenv("PRIVREPO_POETRY", str(tmp_path / "missing"))
    with pytest.raises(ClientError, match=r"\$PRIVREPO_POETRY=.* does not exist"):
        find_executable("poetry", None, "PRIVREPO_POETRY")

    tool = tmp_path / "bin" / "poetry"
    tool.parent.mkdir()
    tool.write_text("#!/bin/sh\n")
    with pytest.raises(ClientError, match="not an executable file"):
        find_executable("poetry", str(tool), "PRIVREPO_POETRY")
    tool.chmod(0o755)
    monkeypatch.setenv("PRIVREPO_POETRY", str(tool))
    assert find_executable("poetry", None, "PRIVREPO_POETRY") == tool
    monkeypatch.delenv("PRIVREPO_POETRY")
    monkeypatch.setenv("PATH", str(tool.parent))
    assert find_executable("poetry", None, "PRIVREPO_POETRY") == tool


# ------------------------------------------------------------------------- provisioning
def test_file_lock_serialises(tmp_path: Path) -> None:
    lock = tmp_path / "x.lock"
    order: list[str] = []
    inside = threading.Event()

    def holder() -> None:
        with file_lock(lock):
            order.append("first in")
            inside.set()
            time.sleep(0.3)
            order.append("first out")

    thread = threading.Thread(target=holder)
    thread.start()
    inside.wait(5)
    with file_lock(lock):
        order.append("second in")
    thread.join()
    assert order == ["first in", "first out", "second in"]
    with (
        pytest.raises(ClientError, match="timed out"),
        file_lock(lock),
        file_lock(lock, timeout=0.2),
    ):
        pass


def test_provision_rejects_bad_input(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="invalid version"):
        provision("pip", "24.2; rm -rf /", cache_dir=tmp_path)
    with pytest.raises(ConfigError, match="invalid tool"):
        provision("../pip", None, cache_dir=tmp_path)


@pytest.fixture(scope="session")
def provision_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("provisioned")


def test_provision_pip_from_the_registry(provision_cache: Path, tmp_path: Path) -> None:
    """A real install from the registry, with this machine's own pip settings; an
    interrupted earlier attempt (no completion marker) is rebuilt; the second call is a
    cache hit (no install: no progress line, the same venv)."""
    tag = f"py{sys.version_info[0]}.{sys.version_info[1]}"
    leftover = provision_cache / f"pip-24.2-{tag}"
    (leftover / "bin").mkdir(parents=True)
    (leftover / "bin" / "pip").write_text("broken")

    installs: list[str] = []
    exe = provision("pip", "24.2", cache_dir=provision_cache, progress=installs.append)
    assert exe == leftover / "bin" / "pip" and len(installs) == 1
    env = ClientEnv(tmp_path / "client")
    assert env.run([exe, "--version"]).stdout.startswith("pip 24.2 ")

    marker = leftover / ".privrepo-complete"
    built = marker.stat().st_mtime_ns
    assert provision("pip", "24.2", cache_dir=provision_cache, progress=installs.append) == exe
    assert len(installs) == 1 and marker.stat().st_mtime_ns == built
    assert not list(provision_cache.glob(".*.work")), "scratch environment removed"
    assert not list(provision_cache.glob(".*.lock")), "lock file removed"

    # The provisioned pip can drive installs, e.g. a pinned old pip against a venv.
    venv = make_venv(env.root / "venv", env=env)
    assert Pip(env, venv, pip=exe).version() == "24.2"
