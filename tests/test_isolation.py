"""What a client in a :class:`ClientEnv` cannot see or reach (issue 11, must-have 5).

Each test first pollutes the *parent* environment the way a CI job or a laptop does, then
runs real processes under a ``ClientEnv`` built afterwards (it copies ``os.environ`` when it
is constructed). Where a behaviour is claimed, a guard runs the same client without the
isolation and shows the variable or transport does matter, so "nothing happened" proves
something.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from packaging.version import Version

from pytest_privrepo.clients import (
    LEGACY_CERTS,
    LOOPBACK_HOSTS,
    REMOVED_PREFIXES,
    REMOVED_SUFFIXES,
    REMOVED_VARIABLES,
    ClientEnv,
    Pip,
    Twine,
    Uv,
    make_venv,
)
from pytest_privrepo.clients.catalog import client_tool
from pytest_privrepo.clients.result import CommandResult
from pytest_privrepo.errors import ConfigError
from pytest_privrepo.index.index import Index
from pytest_privrepo.session import Privrepo

#: Real variables a machine may export, each of which changes what some client does. The
#: machine this suite is developed on exports the trust ones (AWS_CA_BUNDLE ...) for real.
MACHINE_VARIABLES = (
    "PYTHONWARNINGS", "PYTHONSTARTUP", "PYTHONINSPECT", "PYTHONSAFEPATH", "PYTHONPATH",
    "PYTHONUSERBASE", "PYTHONHTTPSVERIFY", "PYTHONDEVMODE", "PYTHONPYCACHEPREFIX",
    "PYTHONOPTIMIZE", "PYTHON_KEYRING_BACKEND", "_PYTHON_HOST_PLATFORM",
    "SSLKEYLOGFILE", "SSL_CERT_FILE", "SSL_CERT_DIR", "OPENSSL_CONF",
    "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "CURL_HOME", "AWS_CA_BUNDLE",
    "NODE_EXTRA_CA_CERTS", "HTTPLIB2_CA_CERTS", "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH",
    "NIX_SSL_CERT_FILE", "CLOUDSDK_CORE_CUSTOM_CA_CERTS_FILE",
    "GIT_CONFIG_GLOBAL", "GIT_CONFIG_SYSTEM", "GIT_CONFIG_COUNT", "GIT_CONFIG_KEY_0",
    "GIT_CONFIG_VALUE_0", "GIT_SSL_CAINFO", "GIT_SSL_NO_VERIFY", "GIT_DIR", "GIT_ASKPASS",
    "GIT_SSH_COMMAND", "GIT_ALLOW_PROTOCOL", "SSH_ASKPASS", "SSH_AUTH_SOCK",
    "PIP_INDEX_URL", "UV_INDEX_URL", "POETRY_HTTP_BASIC_CORP_PASSWORD", "PDM_CONFIG_FILE",
    "TWINE_PASSWORD", "HATCH_INDEX_AUTH", "FLIT_PASSWORD", "KEYRING_PROPERTY_X",
    "VIRTUAL_ENV", "VIRTUALENV_SYSTEM_SITE_PACKAGES", "CONDA_PREFIX",
    "NETRC", "XDG_CONFIG_DIRS", "XDG_BIN_HOME", "XDG_STATE_HOME",
    "HTTPS_PROXY", "http_proxy", "NO_PROXY", "no_proxy",
    "FORCE_COLOR", "CLICOLOR_FORCE", "TTY_COMPATIBLE", "LANGUAGE", "SOURCE_DATE_EPOCH",
    "SETUPTOOLS_SCM_PRETEND_VERSION",
)

_SHOW_ENV = "import json, os; print(json.dumps(dict(os.environ)))"


def _family_probes() -> list[str]:
    """One made-up name per removal rule, in both cases, so no rule is left untested."""
    names = [f"{prefix}PRIVREPO_PROBE" for prefix in REMOVED_PREFIXES]
    names += [f"PRIVREPO_PROBE{suffix}" for suffix in REMOVED_SUFFIXES]
    names += sorted(REMOVED_VARIABLES)
    return names + [name.lower() for name in names]


def test_no_inherited_variable_reaches_a_client(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = f"machine-value-{tmp_path.name}"
    polluted = {name: f"{marker}-{name}" for name in (*MACHINE_VARIABLES, *_family_probes())}
    for name, value in polluted.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PRIVREPO_UNRELATED", "kept")

    child = ClientEnv(tmp_path / "client").run([sys.executable, "-c", _SHOW_ENV])
    seen: dict[str, str] = json.loads(child.stdout)

    assert seen["PRIVREPO_UNRELATED"] == "kept"  # guard: the child does inherit the parent
    leaked = {name: value for name, value in seen.items() if marker in value}
    assert leaked == {}, f"machine values visible to the client: {sorted(leaked)}"
    # the names ClientEnv sets itself carry its own values, never the machine's
    assert seen["GIT_CONFIG_GLOBAL"] == str(tmp_path / "client" / "xdg-config" / "git" / "config")
    assert seen["NO_PROXY"] == seen["no_proxy"] == ",".join(LOOPBACK_HOSTS)


def test_the_machines_own_trust_variables_are_gone(tmp_path: Path) -> None:
    """Whatever this machine exports for other tools' trust roots stays out (no setenv)."""
    trust = [
        name for name in os.environ
        if any(part in name.upper() for part in ("CA_BUNDLE", "CA_CERT", "SSL_", "SSLKEYLOG"))
    ]
    seen = json.loads(ClientEnv(tmp_path).run([sys.executable, "-c", _SHOW_ENV]).stdout)
    assert [name for name in trust if name in seen] == []


def test_pythonwarnings_error_does_not_break_poetry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, privrepo_cache_dir: Path
) -> None:
    """Poetry 2.5.1 emits a DeprecationWarning of its own at start-up on Python 3.11 and
    3.12 (``importlib.resources.open_text is deprecated``: deprecated in 3.11, no longer
    in 3.13; seen here on 3.10, 3.11, 3.12 and 3.13); a CI job that exports PYTHONWARNINGS=error
    for its own suite would make every Poetry command exit 1 there."""
    poetry = client_tool("poetry").provision("2.5.1", cache_dir=privrepo_cache_dir)
    monkeypatch.setenv("PYTHONWARNINGS", "error")

    naive = subprocess.run([poetry, "--version"], capture_output=True, text=True,
                           env=dict(os.environ), cwd=tmp_path, check=False)
    warns_at_start = (3, 11) <= sys.version_info[:2] < (3, 13)  # the venv's Python is ours
    # guard: where Poetry warns, the variable breaks it
    assert (naive.returncode == 1) == warns_at_start, naive.stdout + naive.stderr
    if warns_at_start:
        assert "open_text is deprecated" in naive.stderr

    result = ClientEnv(tmp_path / "client").run([poetry, "--version"])
    assert result.stdout.strip() == "Poetry (version 2.5.1)"


# ------------------------------------------------------------------------- TLS key log
@pytest.fixture
def tls_index(privrepo: Privrepo) -> Index:
    index = privrepo.index("keys", tls="tls", auth=("alice", "pw"))
    index.add("demo", "1.0")
    return index


def _pip_download(env: ClientEnv, index: Index, dest: Path,
                  extra_env: dict[str, str] | None) -> CommandResult:
    """pip >= 24.2 verifies with truststore, whose contexts never read SSLKEYLOGFILE
    (pip 26.3: no key log from pip itself; where rustup's ``rustc`` is on PATH, the
    ``rustc --version`` pip runs for its user agent writes one). Its own certificate
    handling (urllib3's contexts, which do read it) is ``--use-deprecated=legacy-certs``,
    the path the Pip runner takes for pips with truststore's IP-host bug."""
    pip = Pip(env)
    legacy = ["--use-deprecated", LEGACY_CERTS] if Version(pip.version()) >= Version("24.2") else []
    return pip.run("download", "--no-deps", *legacy, "-d", str(dest), *pip.index_args(index),
                   "demo", extra_env=extra_env)


def _twine_upload(env: ClientEnv, index: Index, dist: Path,
                  extra_env: dict[str, str] | None) -> CommandResult:
    twine = Twine(env, client_tool("twine").find())
    return twine.run("upload", "--non-interactive", "--repository-url", index.upload_url,
                     "-u", "alice", "-p", "pw", "--cert", str(index.ca_cert), str(dist),
                     extra_env=extra_env)


@pytest.mark.parametrize("client", ["pip", "twine"])
def test_sslkeylogfile_is_not_written(
    client: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, privrepo: Privrepo,
    tls_index: Index,
) -> None:
    machine_log = tmp_path / "machine" / "tls-keys.log"
    machine_log.parent.mkdir()
    monkeypatch.setenv("SSLKEYLOGFILE", str(machine_log))
    env = ClientEnv(tmp_path / "client")
    own_log = tmp_path / "own-keys.log"

    def run(extra_env: dict[str, str] | None, n: int) -> None:
        if client == "pip":
            _pip_download(env, tls_index, tmp_path / f"dl{n}", extra_env)
        else:
            dist = privrepo.build_dist(tmp_path / f"dist{n}", "demo", f"2.{n}")
            _twine_upload(env, tls_index, dist, extra_env)

    run({"SSLKEYLOGFILE": str(own_log)}, 1)
    assert own_log.exists(), "guard: this client honours SSLKEYLOGFILE"
    if client == "twine":
        assert b"CLIENT_" in own_log.read_bytes()  # it really logs TLS secrets

    run(None, 2)
    assert not machine_log.exists()
    assert list(machine_log.parent.iterdir()) == []


# ------------------------------------------------------------------------- git config
def _git(env: ClientEnv, *args: str, cwd: Path | None = None) -> str:
    return env.run(["git", *args], cwd=cwd).stdout


def _repo(env: ClientEnv, path: Path, content: str) -> str:
    """A repository with one commit (made with the ClientEnv's identity); returns its sha."""
    path.mkdir()
    _git(env, "init", "-q", cwd=path)
    (path / "file.txt").write_text(content)
    _git(env, "add", "file.txt", cwd=path)
    _git(env, "commit", "-q", "-m", content, cwd=path)
    return _git(env, "rev-parse", "HEAD", cwd=path).strip()


def _head_of(ls_remote: str) -> str:
    return next(line.split()[0] for line in ls_remote.splitlines() if line.endswith("HEAD"))


@pytest.mark.parametrize("route", ["count", "global", "system"])
def test_machine_git_config_cannot_rewrite_urls(
    route: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An `insteadOf` in the machine's git config sends a test's URL elsewhere."""
    maker = ClientEnv(tmp_path / "maker")
    wanted = _repo(maker, tmp_path / "wanted", "wanted")
    other = _repo(maker, tmp_path / "other", "other")
    url = (tmp_path / "wanted").as_uri()
    key, value = f"url.{(tmp_path / 'other').as_uri()}.insteadOf", url
    if route == "count":
        monkeypatch.setenv("GIT_CONFIG_COUNT", "1")
        monkeypatch.setenv("GIT_CONFIG_KEY_0", key)
        monkeypatch.setenv("GIT_CONFIG_VALUE_0", value)
    else:
        config = tmp_path / f"machine-{route}.gitconfig"
        subprocess.run(["git", "config", "--file", str(config), key, value], check=True)
        monkeypatch.setenv(f"GIT_CONFIG_{route.upper()}", str(config))

    naive = subprocess.run(["git", "ls-remote", url], capture_output=True, text=True,
                           env=dict(os.environ), check=True)
    assert _head_of(naive.stdout) == other  # guard: the machine config does rewrite

    assert _head_of(_git(ClientEnv(tmp_path / "client"), "ls-remote", url)) == wanted


# ------------------------------------------------------------------------- git transports
@dataclass
class Listener:
    """A TCP listener on loopback that records every connection (and closes it)."""

    port: int
    connections: list[tuple[str, int]] = field(default_factory=list)


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    server.settimeout(0.1)
    found = Listener(server.getsockname()[1])
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, peer = server.accept()
            except (TimeoutError, socket.timeout):
                continue
            found.connections.append(peer)
            conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield found
    finally:
        stop.set()
        thread.join(5)
        server.close()


def test_git_uses_only_http_and_local_paths(tmp_path: Path, listener: Listener) -> None:
    env = ClientEnv(tmp_path)
    port = listener.port
    refused = {
        f"git://127.0.0.1:{port}/x": "transport 'privrepo-blocked-git' not allowed",
        f"ssh://git@127.0.0.1:{port}/x": "transport 'ssh' not allowed",
        f"git+ssh://127.0.0.1:{port}/x": "transport 'ssh' not allowed",
        "git@example.invalid:x.git": "transport 'ssh' not allowed",
        f"ext::nc 127.0.0.1 {port}": "transport 'ext' not allowed",
        "git://example.invalid/x": "not allowed",
    }
    for url, message in refused.items():
        # protocol.allow on the command line loses against GIT_ALLOW_PROTOCOL too
        result = env.run(["git", "-c", "protocol.allow=always", "ls-remote", url], check=False)
        assert result.returncode == 128 and message in result.stderr, (url, result.stderr)
    assert listener.connections == []

    # guard: the listener does see a client that is allowed to connect (http on loopback)
    assert not env.run(["git", "ls-remote", f"http://127.0.0.1:{port}/x"], check=False).ok
    assert listener.connections
    local = tmp_path / "local"
    sha = _repo(env, local, "local")
    assert _head_of(_git(env, "ls-remote", str(local))) == sha  # local paths still work
    assert _head_of(_git(env, "ls-remote", local.as_uri())) == sha


@pytest.mark.parametrize("source", ["GIT_SSH_COMMAND", "core.sshCommand"])
def test_git_ssh_runs_the_blocking_command(source: str, tmp_path: Path) -> None:
    """The second line of defence, for a test that lifts GIT_ALLOW_PROTOCOL: ssh is the
    command that refuses (both places git and dulwich read it; a root with a quote and a
    space checks the quoting)."""
    env = ClientEnv(tmp_path / "it's a root")
    extra: dict[str, str | None] = {"GIT_ALLOW_PROTOCOL": None}
    if source == "core.sshCommand":
        extra["GIT_SSH_COMMAND"] = None
    result = env.run(["git", "ls-remote", "ssh://127.0.0.1/x"], check=False, extra_env=extra)
    assert result.returncode == 128
    assert "git over ssh and git:// is blocked" in result.stderr, result.stderr


def test_pip_and_uv_git_requirements_cannot_use_git_or_ssh(
    tmp_path: Path, listener: Listener
) -> None:
    env = ClientEnv(tmp_path / "client")
    venv = make_venv(env.root / "venv", env=env)
    uv = Uv(env, client_tool("uv").find())
    port = listener.port
    git_url, ssh_url = f"git+git://127.0.0.1:{port}/x.git", f"git+ssh://git@127.0.0.1:{port}/x.git"
    for url in (git_url, ssh_url):
        pip = Pip(env, venv).install(f"x @ {url}", no_index=True, check=False)
        assert not pip.ok and "not allowed" in pip.command.output, pip.command.output
    # uv runs git for ssh (and refuses git:// itself: "Unsupported Git URL scheme", 0.13.9)
    result = uv.pip_install(f"x @ {ssh_url}", venv=venv, no_index=True, check=False)
    assert not result.ok and "not allowed" in result.command.stderr, result.command.stderr
    assert listener.connections == []

    # guard: without ClientEnv's git settings, pip's git does open the connection
    unguarded = {"GIT_ALLOW_PROTOCOL": None, "GIT_CONFIG_GLOBAL": os.devnull}
    assert not Pip(env, venv).run("install", "--no-index", f"x @ {git_url}", check=False,
                                  extra_env=unguarded).ok
    assert listener.connections


def _poetry_project(path: Path, url: str) -> Path:
    path.mkdir()
    (path / "pyproject.toml").write_text(
        '[tool.poetry]\nname = "demo-app"\nversion = "0.1"\ndescription = ""\nauthors = []\n'
        f'[tool.poetry.dependencies]\npython = "^3.10"\nx = {{git = "{url}"}}\n'
    )
    return path


@pytest.mark.parametrize("version", ["1.8.5", "2.5.1"])
def test_poetry_dulwich_cannot_use_git_protocol(
    version: str, tmp_path: Path, listener: Listener, client_factory: Callable[..., Any]
) -> None:
    """Poetry clones with dulwich, which ignores GIT_ALLOW_PROTOCOL; ClientEnv's git config
    rewrites git:// (dulwich honours `insteadOf`) and makes ssh fail before connecting."""
    env = ClientEnv(tmp_path / "client")
    poetry = client_factory("poetry", version, env=env)
    url = f"git://127.0.0.1:{listener.port}/x.git"

    project = _poetry_project(tmp_path / "app", url)
    result = poetry.run("lock", cwd=project, check=False)
    assert not result.ok
    assert "git over ssh and git:// is blocked" in result.output, result.output
    assert listener.connections == []

    # guard: without ClientEnv's git config, dulwich opens a raw TCP connection
    bare = tmp_path / "no-git-config"
    bare.mkdir()
    naive = poetry.run("lock", cwd=project, check=False, extra_env={
        "XDG_CONFIG_HOME": str(bare), "GIT_CONFIG_GLOBAL": os.devnull, "GIT_SSH_COMMAND": None,
    })
    assert not naive.ok
    assert listener.connections


# ------------------------------------------------------------------------- index hosts
@pytest.mark.parametrize("host", ["127.0.0.2", "127.1.2.3", "[::ffff:127.0.0.1]"])
def test_factory_refuses_loopback_hosts_clients_cannot_reach(
    host: str, privrepo: Privrepo, tmp_path: Path
) -> None:
    if host.startswith("[::ffff:") and sys.version_info < (3, 13):
        # before 3.13 ipaddress does not call an IPv4-mapped address loopback at all
        with pytest.raises(ConfigError, match="not a loopback address"):
            privrepo.index("mapped", host=host)
        return
    with pytest.raises(ConfigError, match=r"clients cannot reach: their NO_PROXY lists only"):
        privrepo.index("far", host=host)
    with pytest.raises(ConfigError, match=r"use one of localhost, 127\.0\.0\.1, ::1"):
        Privrepo(tmp_path / "other", host=host)
    assert privrepo.indexes == {}


@pytest.mark.parametrize("host", [*LOOPBACK_HOSTS, "[::1]"])
def test_every_accepted_host_is_reachable_by_clients(host: str, privrepo: Privrepo,
                                                     tmp_path: Path) -> None:
    index = privrepo.index("near", host=host)
    index.add("demo", "1.0")
    env = ClientEnv(tmp_path / "client")
    installed = Pip(env).install("demo", index=index, dry_run=True)
    assert installed.versions == {"demo": "1.0"}
    assert installed.url_of("demo").startswith(index.base_url)
    result = Uv(env, client_tool("uv").find()).pip_install(
        "demo", venv=make_venv(env.root / "venv", env=env), index=index, dry_run=True)
    assert result.ok, result.command.output
    assert index.log.filter(method="GET")
