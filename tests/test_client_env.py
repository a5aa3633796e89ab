"""ClientEnv isolation, the command runner, netrc, IndexSpec, finding executables and
provisioning: no index server needed.

The isolation tests first make sure the *machine* environment is polluted (this machine
already exports REQUESTS_CA_BUNDLE, PIP_CERT, PIP_FIND_LINKS ... and has a user pip.conf;
where a machine does not, the ``machine`` fixture adds the same kind of settings), prove
that pip run with that environment does see them, and only then check that pip and uv run
through :class:`ClientEnv` see none of it.
"""

from __future__ import annotations

import configparser
import json
import netrc
import os
import shutil
import stat
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pytest_privrepo.clients import (
    REMOVED_PREFIXES,
    ClientEnv,
    IndexSpec,
    Pip,
    Uv,
    make_venv,
)
from pytest_privrepo.clients.catalog import client_tool
from pytest_privrepo.clients.env import BLACKHOLE_PROXY
from pytest_privrepo.errors import ClientError, ConfigError

SIX_WHEEL = "six-1.16.0-py2.py3-none-any.whl"

#: Variables a CI machine commonly exports; each must be invisible to the clients.
CA_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR")


@dataclass
class Machine:
    """The polluted environment the test process runs in, and the values to look for."""

    wheels: Path
    home: Path
    markers: set[str] = field(
        default_factory=set
    )  # values that must never reach a client
    user_pip_conf: Path | None = None


def _config_values(path: Path) -> set[str]:
    parser = configparser.ConfigParser()
    try:
        parser.read(path)
    except configparser.Error:
        return set()
    values: set[str] = set()
    for section in parser.sections():
        for _, value in parser.items(section):
            values.update(v for v in value.split() if len(v) > 3)
    return values


@pytest.fixture
def machine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fixtures_dir: Path
) -> Machine:
    """Make sure os.environ carries the settings a CI machine has (keep real ones)."""
    wheels = tmp_path / "machine-wheels"
    wheels.mkdir()
    shutil.copy(fixtures_dir / "dists" / SIX_WHEEL, wheels)
    m = Machine(wheels=wheels, home=Path.home())

    bundle = "/etc/ssl/certs/ca-certificates.crt"
    if not os.path.exists(bundle):
        import certifi

        bundle = certifi.where()

    def ensure(name: str, value: str) -> None:
        if not os.environ.get(name):
            monkeypatch.setenv(name, value)
        m.markers.add(os.environ[name])

    for name in CA_VARIABLES:
        ensure(name, os.path.dirname(bundle) if name == "SSL_CERT_DIR" else bundle)
    ensure("PIP_CERT", bundle)
    ensure("PIP_DEFAULT_TIMEOUT", "180")
    ensure("PIP_INDEX_URL", "http://machine-pip-index-url.invalid/simple/")
    ensure("UV_INDEX_URL", "http://machine-uv-index-url.invalid/simple/")
    ensure("UV_FIND_LINKS", str(wheels))
    ensure("POETRY_REPOSITORIES_CORP_URL", "http://machine-poetry.invalid/simple/")
    ensure("TWINE_PASSWORD", "machine-twine-secret")
    ensure("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    ensure("HTTPS_PROXY", "http://machine-proxy.invalid:3128")
    ensure("https_proxy", "http://machine-proxy.invalid:3128")
    ensure("NETRC", str(tmp_path / "machine-netrc"))
    ensure("PYTHONPATH", str(tmp_path / "machine-pythonpath"))
    # Always a fake one: under tox the real VIRTUAL_ENV is sys.prefix, whose site pip.conf
    # path pip rightly names (pip reads it from where it runs, not from the variable).
    monkeypatch.setenv("VIRTUAL_ENV", str(tmp_path / "machine-venv"))
    m.markers.add(str(tmp_path / "machine-venv"))
    # Keep the machine's find-links and add a directory that can satisfy `six`, so that
    # "the isolated pip cannot find six" proves the variable was dropped.
    existing = os.environ.get("PIP_FIND_LINKS", "")
    if existing:
        m.markers.update(existing.split())
    monkeypatch.setenv("PIP_FIND_LINKS", f"{existing} {wheels}".strip())
    m.markers.add(str(wheels))

    # A config file named by PIP_CONFIG_FILE is loaded on top of the others.
    conf = tmp_path / "machine-pip.conf"
    conf.write_text(
        "[global]\ntimeout = 99\nextra-index-url = http://machine-pip-conf.invalid/simple/\n"
    )
    monkeypatch.setenv("PIP_CONFIG_FILE", str(conf))
    m.markers |= {str(conf), "http://machine-pip-conf.invalid/simple/"}

    # The user's pip.conf: the real one when there is one, otherwise a fake HOME with one.
    candidates = [
        Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config"))
        / "pip"
        / "pip.conf",
        Path.home() / ".pip" / "pip.conf",
    ]
    real = next((p for p in candidates if p.exists()), None)
    if real is None:
        fake_home = tmp_path / "machine-home"
        real = fake_home / ".config" / "pip" / "pip.conf"
        real.parent.mkdir(parents=True)
        real.write_text(
            "[global]\nextra-index-url = http://machine-user-conf.invalid/simple/\n"
        )
        monkeypatch.setenv("HOME", str(fake_home))
        monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
        m.home = fake_home
    m.user_pip_conf = real
    m.markers |= _config_values(real)
    for system_conf in (Path("/etc/pip.conf"), Path("/etc/xdg/pip/pip.conf")):
        if system_conf.exists():
            m.markers |= _config_values(system_conf)
    m.markers.discard("")
    return m


def _baseline_env() -> dict[str, str]:
    """The machine environment as-is (what a naive harness would pass)."""
    return dict(os.environ)


# ------------------------------------------------------------------------- isolation
def test_machine_pip_sees_the_pollution(machine: Machine, tmp_path: Path) -> None:
    """Guard: without ClientEnv, pip does pick the machine settings up (else the
    isolation tests below would prove nothing)."""
    import subprocess

    out = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"],
        env=_baseline_env(),
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    ).stdout
    assert "find-links" in out and "cert" in out
    assert str(machine.wheels) in out
    assert "machine-pip-conf.invalid" in out


def test_pip_config_sees_nothing_from_the_machine(
    machine: Machine, tmp_path: Path
) -> None:
    env = ClientEnv(tmp_path / "client")
    listed = env.run([sys.executable, "-m", "pip", "config", "list"]).stdout
    keys = {line.split("=", 1)[0] for line in listed.splitlines() if line.strip()}
    # Only what ClientEnv itself sets.
    assert keys == {
        ":env:.config-file",
        ":env:.no-input",
        ":env:.disable-pip-version-check",
        ":env:.cache-dir",
    }, listed

    debug = env.run([sys.executable, "-m", "pip", "config", "debug"]).stdout
    for marker in machine.markers:
        assert marker not in debug, f"machine value {marker!r} visible to pip:\n{debug}"
        assert marker not in listed
    for key in (
        "cert",
        "find-links",
        "extra-index-url",
        "index-url",
        "timeout",
        "default-timeout",
    ):
        assert f".{key}=" not in listed and f"global.{key}:" not in debug
    # pip names the config files it knows of; the user file is not even listed, and
    # whatever global files exist show no keys (PIP_CONFIG_FILE=os.devnull skips them).
    assert str(machine.user_pip_conf) not in debug


def test_child_process_environment(machine: Machine, tmp_path: Path) -> None:
    root = tmp_path / "client"
    env = ClientEnv(root)
    child = env.run(
        [sys.executable, "-c", "import json, os; print(json.dumps(dict(os.environ)))"]
    )
    seen: dict[str, str] = json.loads(child.stdout)

    for name in (
        "HOME",
        "XDG_CONFIG_HOME",
        "XDG_CACHE_HOME",
        "XDG_DATA_HOME",
        "XDG_CONFIG_DIRS",
        "NETRC",
        "TMPDIR",
        "PIP_CACHE_DIR",
        "UV_CACHE_DIR",
        "UV_CREDENTIALS_DIR",
        "POETRY_CONFIG_DIR",
        "POETRY_CACHE_DIR",
        "POETRY_DATA_DIR",
    ):
        assert Path(seen[name]).is_relative_to(root), (name, seen[name])
    assert list(Path(seen["XDG_CONFIG_DIRS"]).iterdir()) == []
    assert Path(seen["NETRC"]).read_text() == ""
    assert seen["PATH"] == os.environ["PATH"]
    assert seen["PIP_CONFIG_FILE"] == os.devnull
    assert seen["UV_NO_CONFIG"] == "1"
    assert seen["UV_PYTHON_DOWNLOADS"] == "never"
    assert seen["PYTHON_KEYRING_BACKEND"] == "keyring.backends.fail.Keyring"
    assert seen["PYTHONNOUSERSITE"] == "1"
    assert seen["NO_PROXY"] == seen["no_proxy"] == "localhost,127.0.0.1,::1"
    assert "POETRY_KEYRING_ENABLED" not in seen

    # the machine's proxies are gone; only our dead proxy (the offline guard) is set
    assert seen["HTTPS_PROXY"] == seen["https_proxy"] == BLACKHOLE_PROXY
    for name in (
        *CA_VARIABLES,
        "PYTHONPATH",
        "VIRTUAL_ENV",
        "PIP_CERT",
        "PIP_FIND_LINKS",
        "PIP_DEFAULT_TIMEOUT",
        "PIP_INDEX_URL",
        "UV_INDEX_URL",
        "UV_FIND_LINKS",
        "POETRY_REPOSITORIES_CORP_URL",
        "TWINE_PASSWORD",
    ):
        assert name in os.environ, f"guard: the machine should export {name}"
        assert name not in seen, f"{name} leaked into the client environment"
    ours = {
        "PIP_CONFIG_FILE",
        "PIP_NO_INPUT",
        "PIP_DISABLE_PIP_VERSION_CHECK",
        "PIP_CACHE_DIR",
        "UV_NO_CONFIG",
        "UV_CACHE_DIR",
        "UV_PYTHON_DOWNLOADS",
        "UV_CREDENTIALS_DIR",
        "POETRY_CONFIG_DIR",
        "POETRY_CACHE_DIR",
        "POETRY_DATA_DIR",
        "PYTHON_KEYRING_BACKEND",
        "PYTHONNOUSERSITE",
        "PYTHONIOENCODING",
        "XDG_CONFIG_HOME",
        "XDG_CACHE_HOME",
        "XDG_DATA_HOME",
        "XDG_CONFIG_DIRS",
        "GIT_CONFIG_GLOBAL",
        "GIT_CONFIG_NOSYSTEM",
        "GIT_TERMINAL_PROMPT",
        "GIT_ALLOW_PROTOCOL",
        "GIT_SSH_COMMAND",
    }
    for name, value in seen.items():
        if name.upper().startswith(REMOVED_PREFIXES):
            assert name in ours, f"unexpected client variable {name}={value!r}"
    # Values the fixture invented must appear nowhere (the machine's own trust variables,
    # NODE_EXTRA_CA_CERTS and the like, are checked in test_isolation.py).
    invented = {
        m for m in machine.markers if m.startswith(str(tmp_path)) or ".invalid" in m
    }
    assert invented
    for name, value in seen.items():
        for marker in invented:
            assert marker not in value, (name, value)


def test_inherit_argument_replaces_os_environ(tmp_path: Path) -> None:
    env = ClientEnv(
        tmp_path,
        inherit={
            "PATH": "/bin",
            "PIP_INDEX_URL": "x",
            "KEEP_ME": "1",
            "http_proxy": "p",
            "CONDA_PREFIX": "c",
        },
    )
    assert env.vars["PATH"] == "/bin"
    assert env.vars["KEEP_ME"] == "1"
    for name in ("PIP_INDEX_URL", "CONDA_PREFIX"):
        assert name not in env.vars
    assert env.vars["http_proxy"] == BLACKHOLE_PROXY
    assert "http_proxy" not in ClientEnv(tmp_path / "online", inherit={"http_proxy": "p"},
                                         offline=False).vars


def test_offline_guard_makes_network_requests_fail_fast(tmp_path: Path, privrepo) -> None:
    """A client in the isolated env reaches loopback indexes but nothing beyond."""
    idx = privrepo.index("local")
    env = ClientEnv(tmp_path)
    probe = (
        "import sys, urllib.request\n"
        "try:\n"
        "    urllib.request.urlopen(sys.argv[1], timeout=20)\n"
        "    print('reached')\n"
        "except Exception as exc:\n"
        "    print('refused', type(exc).__name__)\n"
    )
    local = env.run([sys.executable, "-c", probe, idx.url])
    remote = env.run([sys.executable, "-c", probe, "https://pypi.org/simple/"])
    assert local.stdout.strip() == "reached"
    assert remote.stdout.strip().startswith("refused")
    assert remote.duration < 10


def test_pip_ignores_machine_find_links_and_config(
    machine: Machine, tmp_path: Path
) -> None:
    """Behavioural proof: the machine's PIP_FIND_LINKS can satisfy `six`; the isolated pip
    must not find it, while the same command with the machine environment does."""
    import subprocess

    target = tmp_path / "naive-target"
    naive = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-index",
            "--dry-run",
            "--target",
            str(target),
            "six",
        ],
        env=dict(_baseline_env(), PIP_CACHE_DIR=str(tmp_path / "naive-cache")),
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert naive.returncode == 0, naive.stdout + naive.stderr  # guard

    env = ClientEnv(tmp_path / "client")
    venv = make_venv(env.root / "venv", env=env)
    result = Pip(env, venv).install("six", no_index=True, check=False)
    assert not result.ok
    assert "No matching distribution found for six" in result.command.output


def test_uv_ignores_machine_find_links(machine: Machine, tmp_path: Path) -> None:
    env = ClientEnv(tmp_path / "client")
    uv = Uv(env, client_tool("uv").find())
    venv = uv.venv(env.root / "venv")
    result = uv.pip_install("six", venv=venv, no_index=True, check=False)
    assert not result.ok
    assert "six" in result.command.stderr and "not found" in result.command.stderr


def _snapshot(paths: list[Path]) -> dict[str, tuple[float, int]]:
    state: dict[str, tuple[float, int]] = {}
    for base in paths:
        if not base.exists():
            state[str(base)] = (0.0, -1)
            continue
        for path in [base, *base.rglob("*")] if base.is_dir() else [base]:
            try:
                st = path.lstat()
            except FileNotFoundError:
                continue
            state[str(path)] = (st.st_mtime, st.st_size)
    return state


def test_nothing_is_written_outside_root(
    machine: Machine, tmp_path: Path, fixtures_dir: Path
) -> None:
    real_home = Path(os.path.expanduser("~"))
    watched = [
        machine.home / ".config",
        machine.home / ".cache",
        machine.home / ".local",
        machine.home / ".netrc",
        machine.home / ".pypirc",
    ]
    watched += [
        real_home / ".config" / "pip",
        real_home / ".cache" / "pip",
        real_home / ".cache" / "uv",
        real_home / ".netrc",
    ]
    before = _snapshot(watched)

    root = tmp_path / "client"
    env = ClientEnv(root)
    links = root / "links"
    links.mkdir()
    shutil.copy(fixtures_dir / "dists" / SIX_WHEEL, links)
    venv = make_venv(root / "venv", env=env)
    installed = Pip(env, venv).install("six", no_index=True, find_links=[links])
    assert installed.versions == {"six": "1.16.0"}
    assert installed.url_of("six") == (links / SIX_WHEEL).as_uri()
    assert list((root / "venv").rglob("six.py")), "pip --python installed into the venv"

    uv = Uv(env, client_tool("uv").find())
    uv_venv = uv.venv(root / "uv-venv")
    uv_result = uv.pip_install("six", venv=uv_venv, no_index=True, find_links=[links])
    assert uv_result.installed == (("six", "1.16.0"),)
    assert uv.pip_list(uv_venv) == {"six": "1.16.0"}

    pip_cache = env.run([sys.executable, "-m", "pip", "cache", "dir"]).stdout.strip()
    uv_cache = uv.run("cache", "dir").stdout.strip()
    assert Path(pip_cache).is_relative_to(root)
    assert Path(uv_cache).is_relative_to(root)
    assert any(Path(uv_cache).iterdir()), "uv used its cache inside root"

    assert _snapshot(watched) == before


# ------------------------------------------------------------------------- run()
def test_run_failure_message_is_readable(tmp_path: Path) -> None:
    env = ClientEnv(tmp_path)
    code = "import sys; print('to stdout'); print('to stderr', file=sys.stderr); sys.exit(3)"
    with pytest.raises(ClientError) as info:
        env.run([sys.executable, "-c", code], cwd=tmp_path / "home")
    text = str(info.value)
    assert "exit code 3" in text
    assert "-c 'import sys" in text  # the shell-quoted command line
    assert f"cwd:     {tmp_path / 'home'}" in text
    assert "to stdout" in text and "to stderr" in text

    result = env.run([sys.executable, "-c", code], check=False)
    assert (result.ok, result.returncode) == (False, 3)
    assert result.stdout == "to stdout\n" and result.stderr == "to stderr\n"
    assert result.cwd == tmp_path and result.duration > 0
    with pytest.raises(ClientError):
        result.check()


def test_run_stdin_input_and_extra_env(tmp_path: Path) -> None:
    env = ClientEnv(tmp_path).set(FROM_SET="a", PATH_LIKE=tmp_path)
    read = "import sys; print(repr(sys.stdin.read()))"
    assert env.run([sys.executable, "-c", read]).stdout.strip() == "''"  # never waits
    assert (
        env.run([sys.executable, "-c", read], input="secret\n").stdout.strip()
        == "'secret\\n'"
    )

    show = "import os; print(os.environ.get('FROM_SET'), os.environ.get('PATH_LIKE'), os.environ.get('CI'))"
    assert env.run([sys.executable, "-c", show]).stdout.split() == [
        "a",
        str(tmp_path),
        "1",
    ]
    out = env.run(
        [sys.executable, "-c", show], extra_env={"FROM_SET": None, "CI": "0"}
    ).stdout
    assert out.split() == ["None", str(tmp_path), "0"]
    env.unset("FROM_SET", "NOT_THERE")
    assert "FROM_SET" not in env.vars


def test_run_timeout_kills_the_process_group(tmp_path: Path) -> None:
    env = ClientEnv(tmp_path)
    # A child that spawns a grandchild, as `pip --python` and uv do.
    code = (
        "import subprocess, sys, time; "
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
        "print('grandchild', p.pid, flush=True); time.sleep(60)"
    )
    started = time.monotonic()
    with pytest.raises(ClientError, match=r"timed out after 1\.0 s") as info:
        env.run([sys.executable, "-c", code], timeout=1.0)
    assert time.monotonic() - started < 15
    text = str(info.value)
    assert "grandchild" in text and "command: " in text
    grandchild = int(text.split("grandchild ", 1)[1].split()[0])
    proc = Path(f"/proc/{grandchild}/stat")
    if sys.platform.startswith("linux"):
        deadline = time.monotonic() + 5
        while proc.exists() and proc.read_text().split(") ", 1)[1][0] not in "ZX":
            assert time.monotonic() < deadline, "grandchild survived the timeout"
            time.sleep(0.05)


def test_run_missing_executable(tmp_path: Path) -> None:
    with pytest.raises(ClientError, match="executable not found"):
        ClientEnv(tmp_path).run([str(tmp_path / "no-such-client"), "--version"])


def test_set_rejects_bad_values(tmp_path: Path) -> None:
    env = ClientEnv(tmp_path)
    with pytest.raises(ConfigError):
        env.set(NUMBER=1)  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        env.set({"A=B": "x"})


# ------------------------------------------------------------------------- netrc
def test_write_netrc(tmp_path: Path) -> None:
    env = ClientEnv(tmp_path)
    env.write_netrc("127.0.0.1", "alice", "s3cr#t")
    env.write_netrc(
        "https://127.0.0.1:8443/simple/", "alice", "s3cr#t"
    )  # same entry: no-op
    env.write_netrc("[::1]:9000", "bob", "pw")
    assert stat.S_IMODE(env.netrc.stat().st_mode) == 0o600
    parsed = netrc.netrc(str(env.netrc))
    user, _account, password = parsed.authenticators("127.0.0.1")  # account: '' or None (3.10)
    assert (user, password) == ("alice", "s3cr#t")
    user, _account, password = parsed.authenticators("::1")
    assert (user, password) == ("bob", "pw")
    assert env.netrc.read_text().count("machine 127.0.0.1") == 1

    with pytest.raises(ConfigError, match="already has a login for 127.0.0.1"):
        env.write_netrc("127.0.0.1", "mallory", "x")
    with pytest.raises(ConfigError, match="without a port"):
        env.write_netrc("localhost:8080", "a", "b")
    with pytest.raises(ConfigError, match="whitespace"):
        env.write_netrc("localhost", "a", "two words")


# ------------------------------------------------------------------------- index options
def test_index_spec_userinfo_is_percent_encoded() -> None:
    spec = IndexSpec(
        "https://127.0.0.1:8443/simple/", username="al ice", password="p@ss:w/rd%"
    )
    assert (
        spec.url_with_userinfo()
        == "https://al%20ice:p%40ss%3Aw%2Frd%25@127.0.0.1:8443/simple/"
    )
    assert IndexSpec("http://h/simple/").url_with_userinfo() == "http://h/simple/"
    assert IndexSpec.of("http://h/simple/") == IndexSpec("http://h/simple/")
    with pytest.raises(ConfigError):
        IndexSpec.of("ftp://h/simple/")
    with pytest.raises(ConfigError):
        IndexSpec.of(42)  # type: ignore[arg-type]
