"""Credentials, tokens, keyring and certificates with the real Poetry 1.8.5 and 2.5.1.

Each route Poetry offers to reach a private index is driven for real and proven twice: by
what Poetry stored (auth.toml, the isolated keyring, the environment) and by what the index
saw (user names on page *and* file requests, ``__token__`` on uploads, the client
certificate). The last tests check the harness itself: the config writers write what
``poetry config`` writes, and a full run leaves the machine's own config and keyring alone.

Behaviour recorded here:

- ``poetry config http-basic.NAME USER`` prompts for the password. 2.5.1 reads it from a
  plain stdin pipe (``getpass`` falls back, warning "GetPassWarning: Can not control echo on
  the terminal." and "Warning: Password input may be echoed."); 1.8.5 treats a non-tty
  stdin as non-interactive, gets no answer and dies with a bare ``AssertionError`` at
  poetry/console/commands/config.py:219, so it needs a pseudo-terminal.
- Without a usable keyring both store the password in auth.toml and say "Using a plaintext
  file to store credentials"; with one, auth.toml keeps only the username.
- ``pypi-token.NAME`` is used by publish only (user ``__token__``, preferred over
  ``http-basic.NAME`` when both exist); reads with only a token send no credentials (401).
- ``POETRY_*_<NAME>_*`` variables work for a source named ``corp-internal``. For
  ``corp_internal`` reads authenticate, but publish sends no credentials (401): Poetry maps
  ``POETRY_REPOSITORIES_CORP_INTERNAL_URL`` back to a repository named ``corp-internal``,
  so ``http-basic`` for ``corp_internal`` is never looked up (Poetry issue #7156).
- An mTLS index without ``client-cert``: 1.8.5 shows the SSLError in its message, 2.5.1
  says only "All attempts to connect to 127.0.0.1:PORT failed." unless run with ``-v``;
  both retry 6 times (~8 s of back-off) before giving up.
"""

from __future__ import annotations

import hashlib
import os
import pty
import re
import select
import subprocess
import termios
import time
from pathlib import Path

import pytest
import tomlkit

from pytest_privrepo import ClientError
from pytest_privrepo.clients.env import ClientEnv
from pytest_privrepo.clients.poetry import Poetry
from pytest_privrepo.clients.poetry_project import PoetryProject

pytestmark = pytest.mark.parametrize("poetry", ["1.8.5", "2.5.1"], indirect=True)

PLAINTEXT_NOTICE = "Using a plaintext file to store credentials"


# -- shared, read-only indexes ------------------------------------------------------------

@pytest.fixture(scope="module")
def shared(privrepo_session):
    """Read-only indexes for this module (per xdist worker); tests clear the logs first."""
    indexes = {
        "basic": privrepo_session.index("cred-basic", auth=("alice", "s3cret")),
        "tls": privrepo_session.index("cred-tls", tls="tls"),
        "mtls": privrepo_session.index("cred-mtls", tls="mtls"),
    }
    indexes["basic"].add("corp-utils", "1.2.0", requires=["attrs>=21"])
    indexes["basic"].add("attrs", "23.1.0")
    indexes["tls"].add("tls-utils", "1.0.0")
    indexes["mtls"].add("mtls-utils", "1.0.0")
    return indexes


@pytest.fixture
def fresh(shared):
    for index in shared.values():
        index.log.clear()
    return shared


def _project(tmp_path, poetry, name="cred-app") -> PoetryProject:
    return PoetryProject(tmp_path / "proj", poetry).create(name, "0.1.0")


def _auth_doc(poetry: Poetry) -> dict:
    return tomlkit.parse(poetry.auth_file.read_text()).unwrap() if poetry.auth_file.exists() else {}


def _assert_all_requests_by(index, user: str) -> None:
    hits = list(index.log)
    assert hits, f"no request reached {index.name}"
    assert {(h.user, h.auth_ok) for h in hits} == {(user, True)}, [(h.path, h.user, h.status) for h in hits]


# -- http-basic -----------------------------------------------------------------------------

def test_http_basic_is_sent_for_pages_and_file_downloads(fresh, poetry, tmp_path):
    corp = fresh["basic"]
    poetry.configure(corp)
    proj = _project(tmp_path, poetry)
    proj.add_source("cred-basic", corp.url)
    proj.add_dependency("corp-utils", "^1.2")

    lock = proj.lock()
    proj.install()

    assert lock.sources() == {"corp-utils": "cred-basic", "attrs": "cred-basic"}
    pages = corp.log.filter(path_prefix="/simple/")
    assert {h.path for h in pages} >= {"/simple/corp-utils/", "/simple/attrs/"}
    downloads = corp.log.downloads
    assert {h.path for h in downloads} == {
        "/files/corp-utils/corp_utils-1.2.0-py3-none-any.whl",
        "/files/attrs/attrs-23.1.0-py3-none-any.whl",
    }
    # Pre-emptive basic auth on every request: pages, .metadata and wheels; no 401 round trip.
    assert {(h.user, h.auth_ok, h.status) for h in corp.log.filter(path_prefix="/files/")} == {("alice", True, 200)}
    _assert_all_requests_by(corp, "alice")
    assert corp.log.filter(status=401) == []


def _run_in_pty(env: ClientEnv, argv: list, answer: str, *, prompt: bytes = b"Password",
                timeout: float = 60.0) -> tuple[int, str]:
    """Run ``argv`` on a pseudo-terminal; type ``answer`` once the prompt is up with echo off.

    Waiting for echo-off matters: getpass flushes pending input when it switches echo off
    (TCSAFLUSH), so an answer typed as soon as the prompt appears can be thrown away.
    """
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen([str(a) for a in argv], stdin=slave, stdout=slave, stderr=slave,
                                env=env.vars, cwd=env.root, start_new_session=True)
        output, sent = b"", False
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                ready, _, _ = select.select([master], [], [], 0.05)
                if ready:
                    output += os.read(master, 4096)
                if (not sent and prompt in output
                        and not termios.tcgetattr(slave)[3] & termios.ECHO):
                    os.write(master, answer.encode() + b"\n")
                    sent = True
                if not ready and proc.poll() is not None:
                    break
            else:
                raise AssertionError(f"{argv} did not finish in {timeout} s: {output!r}")
            returncode = proc.wait(timeout=5)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    finally:
        os.close(master)
        os.close(slave)
    assert sent, f"never saw the prompt {prompt!r}: {output!r}"
    return returncode, output.decode(errors="replace")


@pytest.mark.parametrize("via", ["stdin", "pty"])
def test_http_basic_without_password_prompts_for_it(fresh, poetry, tmp_path, via):
    corp = fresh["basic"]
    if via == "stdin":
        result = poetry.config("http-basic.cred-basic", "alice", input="s3cret\n", check=False)
        if poetry.major < 2:
            # cleo: stdin is not a tty -> non-interactive -> secret() returns None.
            assert result.returncode == 1
            assert "AssertionError" in result.stderr
            assert 'password = self.secret("Password:")' in result.stderr
            assert "http-basic" not in poetry.read_config()
            return
        assert result.returncode == 0, result.stderr
        assert "Password:" in result.stderr
        assert "GetPassWarning: Can not control echo on the terminal." in result.stderr
        assert "Warning: Password input may be echoed." in result.stderr
        assert PLAINTEXT_NOTICE in result.stderr
    else:
        returncode, output = _run_in_pty(
            poetry.env, [poetry.executable, "--no-ansi", "config", "http-basic.cred-basic", "alice"],
            "s3cret")
        assert returncode == 0, output
        assert "Password:" in output and "s3cret" not in output   # echo was off
        assert PLAINTEXT_NOTICE in output
    assert _auth_doc(poetry) == {"http-basic": {"cred-basic": {"username": "alice", "password": "s3cret"}}}

    proj = _project(tmp_path, poetry)
    proj.add_source("cred-basic", corp.url)
    proj.add_dependency("corp-utils", "^1.2")
    assert proj.lock()["corp-utils"].source == "cred-basic"
    _assert_all_requests_by(corp, "alice")


# -- pypi-token -------------------------------------------------------------------------------

def test_pypi_token_is_used_for_upload_as_token_user(privrepo, poetry, tmp_path):
    tok = privrepo.index("tok", token="pypi-AgEIcHlwaS5vcmc-secret")
    poetry.configure(tok)               # a token-only index -> pypi-token.tok
    assert _auth_doc(poetry) == {"pypi-token": {"tok": "pypi-AgEIcHlwaS5vcmc-secret"}}
    proj = _project(tmp_path, poetry, "tok-app")

    proj.publish("tok", build=True)

    assert sorted(u.filename for u in tok.uploads) == ["tok_app-0.1.0-py3-none-any.whl", "tok_app-0.1.0.tar.gz"]
    assert {u.user for u in tok.uploads} == {"__token__"}
    posts = tok.log.filter(method="POST", path="/legacy/")
    assert len(posts) == 2
    assert {(h.user, h.auth_ok, h.auth_scheme, h.status) for h in posts} == {("__token__", True, "basic", 200)}


def test_pypi_token_is_not_used_to_read(privrepo, poetry, tmp_path):
    tok = privrepo.index("tok", token="pypi-read-me")
    tok.add("tok-lib", "1.0")
    poetry.configure(tok)
    proj = _project(tmp_path, poetry)
    proj.add_source("tok", tok.url)
    proj.add_dependency("tok-lib", "*")

    with pytest.raises(ClientError) as err:
        proj.lock()

    assert f"Source (tok): Authorization error accessing {tok.url}tok-lib/" in str(err.value)
    assert "depends on tok-lib (*) which doesn't match any versions" in str(err.value)
    assert {(h.user, h.status) for h in tok.log.filter(path_prefix="/simple/")} == {(None, 401)}


# -- keyring ----------------------------------------------------------------------------------

def test_keyring_route_keeps_the_password_out_of_auth_toml(privrepo, poetry, tmp_path):
    corp = privrepo.index("corp", auth=("alice", "s3cret"))
    corp.add("corp-utils", "1.2.0")
    poetry.configure(corp, route="keyring")

    assert poetry.keyring_contents() == {"poetry-repository-corp": {"alice": "s3cret"}}
    assert _auth_doc(poetry) == {"http-basic": {"corp": {"username": "alice"}}}
    assert "s3cret" not in poetry.auth_file.read_text()
    assert "s3cret" not in poetry.config_file.read_text()

    proj = _project(tmp_path, poetry, "kr-app")
    proj.add_source("corp", corp.url)
    proj.add_dependency("corp-utils", "^1.2")
    assert proj.lock()["corp-utils"].source == "corp"
    proj.install()
    proj.publish("corp", build=True)

    assert len(corp.log.downloads) == 1
    assert sorted(u.filename for u in corp.uploads) == ["kr_app-0.1.0-py3-none-any.whl", "kr_app-0.1.0.tar.gz"]
    assert {u.user for u in corp.uploads} == {"alice"}
    assert len(corp.log.filter(method="POST", path="/legacy/", status=200)) == 2
    _assert_all_requests_by(corp, "alice")   # pages, metadata, wheel and both uploads
    assert poetry.keyring_contents() == {"poetry-repository-corp": {"alice": "s3cret"}}


def test_failing_keyring_backend_falls_back_to_auth_toml(fresh, poetry, tmp_path):
    corp = fresh["basic"]
    assert poetry.env.vars["PYTHON_KEYRING_BACKEND"] == "keyring.backends.fail.Keyring"

    result = poetry.config("http-basic.cred-basic", "alice", "s3cret")

    assert PLAINTEXT_NOTICE in result.stderr
    assert _auth_doc(poetry) == {"http-basic": {"cred-basic": {"username": "alice", "password": "s3cret"}}}
    assert poetry.keyring_contents() == {}
    proj = _project(tmp_path, poetry)
    proj.add_source("cred-basic", corp.url)
    proj.add_dependency("corp-utils", "^1.2")
    assert proj.lock()["corp-utils"].source == "cred-basic"
    _assert_all_requests_by(corp, "alice")


# -- environment variables --------------------------------------------------------------------

def test_env_variables_for_a_source_name_with_dashes(privrepo, poetry, tmp_path):
    corp = privrepo.index("corp-internal", auth=("alice", "s3cret"), token="pypi-env-token", tls="mtls")
    corp.add("corp-utils", "1.2.0")
    poetry.configure(corp, route="env", token=True)

    assert {k: v for k, v in poetry.env.vars.items() if "CORP" in k} == {
        "POETRY_REPOSITORIES_CORP_INTERNAL_URL": corp.upload_url,
        "POETRY_HTTP_BASIC_CORP_INTERNAL_USERNAME": "alice",
        "POETRY_HTTP_BASIC_CORP_INTERNAL_PASSWORD": "s3cret",
        "POETRY_PYPI_TOKEN_CORP_INTERNAL": "pypi-env-token",
        "POETRY_CERTIFICATES_CORP_INTERNAL_CERT": corp.ca_cert,
        "POETRY_CERTIFICATES_CORP_INTERNAL_CLIENT_CERT": corp.client_cert,
    }
    assert not poetry.config_file.exists() and not poetry.auth_file.exists()
    proj = _project(tmp_path, poetry, "env-app")
    proj.add_source("corp-internal", corp.url)
    proj.add_dependency("corp-utils", "^1.2")

    assert proj.lock()["corp-utils"].source == "corp-internal"
    proj.install()
    proj.publish("corp-internal", build=True)

    reads = [h for h in corp.log if h.method == "GET"]
    assert {(h.user, h.auth_ok, h.status) for h in reads} == {("alice", True, 200)}
    assert len(corp.log.downloads) == 1
    # The token wins over http-basic for the upload.
    posts = corp.log.filter(method="POST", path="/legacy/")
    assert len(posts) == 2 and {(h.user, h.status) for h in posts} == {("__token__", 200)}
    assert {u.user for u in corp.uploads} == {"__token__"}
    assert all(h.client_cert and "CN=corp-internal-client@privrepo.test" in h.client_cert for h in corp.log)


def test_env_variables_for_a_source_name_with_underscores(privrepo, poetry, tmp_path):
    """Poetry issue #7156: the variables read fine, but publish loses the credentials."""
    corp = privrepo.index("corp_internal", auth=("alice", "s3cret"))
    corp.add("corp-utils", "1.2.0")
    poetry.configure(corp, route="env")
    assert poetry.env.vars["POETRY_HTTP_BASIC_CORP_INTERNAL_USERNAME"] == "alice"
    proj = _project(tmp_path, poetry, "env-app")
    proj.add_source("corp_internal", corp.url)
    proj.add_dependency("corp-utils", "^1.2")

    assert proj.lock()["corp-utils"].source == "corp_internal"
    result = proj.publish("corp_internal", build=True, check=False)

    assert {(h.user, h.status) for h in corp.log.filter(path_prefix="/simple/")} == {("alice", 200)}
    assert result.returncode == 1
    assert "HTTP Error 401: UNAUTHORIZED" in result.stdout + result.stderr
    posts = corp.log.filter(method="POST", path="/legacy/")
    assert posts and {(h.user, h.status) for h in posts} == {(None, 401)}
    assert corp.uploads == []


# -- certificates ---------------------------------------------------------------------------

def test_certificates_cert_and_client_cert(fresh, poetry, tmp_path):
    tls, mtls = fresh["tls"], fresh["mtls"]
    poetry.configure(tls, route="command")   # certificates.cred-tls.cert
    poetry.configure(mtls, route="command")  # certificates.cred-mtls.cert + client-cert
    assert _auth_doc(poetry) == {"certificates": {
        "cred-tls": {"cert": tls.ca_cert},
        "cred-mtls": {"cert": mtls.ca_cert, "client-cert": mtls.client_cert},
    }}
    proj = _project(tmp_path, poetry)
    proj.add_source("cred-tls", tls.url)
    proj.add_source("cred-mtls", mtls.url)
    proj.add_dependency("tls-utils", "*")
    proj.add_dependency("mtls-utils", "*")

    lock = proj.lock()
    proj.install()

    assert lock.sources() == {"tls-utils": "cred-tls", "mtls-utils": "cred-mtls"}
    assert {h.status for h in tls.log.filter(path_prefix="/simple/")} <= {200, 404}
    assert len(tls.log.downloads) == 1 and len(mtls.log.downloads) == 1
    assert all(h.client_cert is None for h in tls.log)
    assert all(h.client_cert and "CN=cred-mtls-client@privrepo.test" in h.client_cert for h in mtls.log)
    assert tls.server.tls_failures == [] and mtls.server.tls_failures == []


def test_mtls_index_without_client_cert_fails_with_an_ssl_error(privrepo, poetry, tmp_path):
    mtls = privrepo.index("m", tls="mtls")
    mtls.add("m-lib", "1.0")
    poetry.config("certificates.m.cert", mtls.ca_cert)     # the CA, but no client-cert
    assert _auth_doc(poetry) == {"certificates": {"m": {"cert": mtls.ca_cert}}}
    proj = _project(tmp_path, poetry)
    proj.add_source("m", mtls.url)
    proj.add_dependency("m-lib", "*")

    with pytest.raises(ClientError) as err:
        proj.lock("-v")     # 2.5.1 hides the exception behind "All attempts ... failed" without -v

    message = str(err.value)
    assert "SSLError" in message
    assert "Max retries exceeded with url: /simple/m-lib/" in message
    if poetry.major >= 2:
        assert f"All attempts to connect to 127.0.0.1:{mtls.port} failed." in message
    # Poetry retries connection errors: 1 + 5 attempts, none got past the handshake.
    mtls.server.wait_for_tls_failure(count=6)
    assert len(mtls.server.tls_failures) == 6
    assert {f.reason for f in mtls.server.tls_failures} == {"PEER_DID_NOT_RETURN_A_CERTIFICATE"}
    assert len(mtls.log) == 0


# -- the harness itself -----------------------------------------------------------------------

def _normalised_list(poetry: Poetry) -> dict[str, str]:
    root = str(poetry.env.root)
    return {k: v.replace(root, "<root>") for k, v in poetry.config_list().items()}


def test_config_files_route_writes_what_poetry_config_writes(privrepo, poetry, tmp_path):
    indexes = [
        privrepo.index("corp-basic", auth=("alice", "s3cret")),
        privrepo.index("corp-token", token="pypi-tok", tls="tls"),
        privrepo.index("corp-mtls", auth=("bob", "b0b"), tls="mtls"),
    ]
    runners = {}
    for route in ("files", "command"):
        runner = Poetry(poetry.executable, ClientEnv(tmp_path / f"env-{route}"))
        for index in indexes:
            runner.configure(index, route=route)
        runners[route] = runner
    by_files, by_command = runners["files"], runners["command"]

    assert by_files.read_config() == by_command.read_config()
    assert by_files.read_config() == {
        "repositories": {i.name: {"url": i.upload_url} for i in indexes},
        "http-basic": {"corp-basic": {"username": "alice", "password": "s3cret"},
                       "corp-mtls": {"username": "bob", "password": "b0b"}},
        "pypi-token": {"corp-token": "pypi-tok"},
        "certificates": {"corp-token": {"cert": indexes[1].ca_cert},
                         "corp-mtls": {"cert": indexes[2].ca_cert, "client-cert": indexes[2].client_cert}},
    }
    listed = _normalised_list(by_files)
    assert listed == _normalised_list(by_command)
    assert listed["repositories.corp-token.url"] == f'"{indexes[1].upload_url}"'
    assert listed["certificates.corp-mtls.client-cert"] == f'"{indexes[2].client_cert}"'
    assert listed["cache-dir"] == '"<root>/xdg-cache/pypoetry"'
    # Byte for byte, too (same tables, same order, same quoting).
    assert by_files.config_file.read_text() == by_command.config_file.read_text()
    assert by_files.auth_file.read_text() == by_command.auth_file.read_text()


def _real_locations() -> list[Path]:
    home = Path(os.path.expanduser("~"))
    config = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config")
    cache = Path(os.environ.get("XDG_CACHE_HOME") or home / ".cache")
    data = Path(os.environ.get("XDG_DATA_HOME") or home / ".local" / "share")
    support = home / "Library" / "Application Support"
    return [
        config / "pypoetry", config / "python_keyring",
        cache / "pypoetry", data / "pypoetry",
        data / "python_keyring", data / "keyrings",
        support / "pypoetry", support / "python_keyring",
        home / "Library" / "Preferences" / "pypoetry", home / "Library" / "Caches" / "pypoetry",
        home / "Library" / "Keychains",
        home / ".netrc", home / ".pypirc",
    ]


def _snapshot(paths: list[Path]) -> dict[str, object]:
    """{path: None (absent) | (mtime_ns, sha256) | {relpath: (mtime_ns, sha256 or size)}}."""
    def stamp(path: Path) -> tuple[int, str]:
        st = path.stat()
        if st.st_size > 1 << 20:    # big cache files: size + mtime is enough
            return st.st_mtime_ns, f"size:{st.st_size}"
        return st.st_mtime_ns, hashlib.sha256(path.read_bytes()).hexdigest()

    snap: dict[str, object] = {}
    for path in paths:
        if not path.exists():
            snap[str(path)] = None
        elif path.is_file():
            snap[str(path)] = stamp(path)
        else:
            entries: dict[str, object] = {".": path.stat().st_mtime_ns}
            for dirpath, dirnames, filenames in os.walk(path):
                for d in dirnames:
                    entries[os.path.relpath(os.path.join(dirpath, d), path)] = Path(dirpath, d).lstat().st_mtime_ns
                for f in filenames:
                    full = Path(dirpath, f)
                    entries[os.path.relpath(full, path)] = stamp(full) if full.is_file() else "special"
            snap[str(path)] = entries
    return snap


def test_the_machines_real_config_and_keyring_are_untouched(privrepo, poetry, tmp_path):
    real_home = Path(os.path.expanduser("~")).resolve()
    isolated = poetry.env
    assert Path(isolated.vars["HOME"]).resolve() != real_home
    for var in ("HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME",
                "POETRY_CONFIG_DIR", "POETRY_CACHE_DIR", "POETRY_DATA_DIR", "NETRC"):
        assert Path(isolated.vars[var]).resolve().is_relative_to(tmp_path.resolve()), var
    locations = _real_locations()
    before = _snapshot(locations)

    corp = privrepo.index("corp", auth=("alice", "s3cret"), tls="mtls")
    corp.add("corp-utils", "1.2.0")
    poetry.configure(corp, route="command")
    listed = poetry.config_list()
    assert listed["cache-dir"] == f'"{isolated.xdg_cache / "pypoetry"}"'
    proj = _project(tmp_path, poetry, "home-app")
    proj.add_source("corp", corp.url)
    proj.add_dependency("corp-utils", "^1.2")
    assert proj.lock()["corp-utils"].source == "corp"
    proj.publish("corp", build=True)
    assert {u.user for u in corp.uploads} == {"alice"} and len(corp.uploads) == 2

    assert _snapshot(locations) == before
    # What Poetry wrote went to the isolated directories instead.
    assert (isolated.poetry_config / "auth.toml").exists()
    assert re.search(r"password = \"s3cret\"", (isolated.poetry_config / "auth.toml").read_text())
    assert any((isolated.xdg_cache / "pypoetry").iterdir())
