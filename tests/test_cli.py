"""``privrepo serve``: a real process, real signals, real cleanup."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from pytest_privrepo.dists import build_wheel


def _serve(*args: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REQUESTS_", "CURL_"))}
    return subprocess.Popen(
        [sys.executable, "-m", "pytest_privrepo.cli", "serve", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
        text=True, env=env,
    )


def _stop(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> tuple[int, str, str]:
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=15)
    return proc.returncode, out, err


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serve_json_mtls(tmp_path, sig):
    build_wheel(tmp_path, "served-pkg", "1.0")
    proc = _serve("--mtls", "--auth", "alice:pw", "--dir", str(tmp_path), "--json", "--name", "corp")
    try:
        line = proc.stdout.readline()
        info = json.loads(line)
        assert set(info) == {"name", "url", "upload_url", "ca_cert", "client_cert",
                             "username", "password", "token"}
        assert info["name"] == "corp" and info["token"] is None
        assert (info["username"], info["password"]) == ("alice", "pw")
        s = requests.Session()
        s.trust_env = False
        r = s.get(info["url"] + "served-pkg/", auth=("alice", "pw"),
                  verify=info["ca_cert"], cert=info["client_cert"])
        assert r.status_code == 200 and "served_pkg-1.0-py3-none-any.whl" in r.text
    finally:
        code, out, err = _stop(proc, sig)
    assert code == 0, err
    assert out == "" and line.endswith("\n")  # exactly one line in --json mode
    assert not Path(info["ca_cert"]).exists()  # temporary files removed


def test_serve_human_output_has_client_snippets(tmp_path):
    proc = _serve("--tls", "--token", "tok")
    try:
        lines = []
        while True:
            line = proc.stdout.readline()
            assert line, proc.stderr.read()
            lines.append(line)
            if line.startswith("Press Ctrl+C"):
                break
    finally:
        code, out, _ = _stop(proc)
    text = "".join(lines)
    assert code == 0
    for needle in ("url:", "ca cert:", "poetry config certificates.private.cert",
                   "pip install --index-url https://__token__:tok@", "SSL_CERT_FILE=", "# uv"):
        assert needle in text


def test_uploads_persist_in_dir_across_restarts(tmp_path):
    dist = build_wheel(tmp_path / "build", "persisted", "2.0")
    store = tmp_path / "store"
    store.mkdir()
    proc = _serve("--auth", "ci:pw", "--dir", str(store), "--json")
    try:
        info = json.loads(proc.stdout.readline())
        s = requests.Session()
        s.trust_env = False
        r = s.post(info["upload_url"], auth=("ci", "pw"), data={
            ":action": "file_upload", "protocol_version": "1", "name": "persisted",
            "version": "2.0", "filetype": "bdist_wheel", "pyversion": "py3",
            "sha256_digest": dist.sha256,
        }, files={"content": (dist.filename, dist.path.read_bytes())})
        assert r.status_code == 200, r.text
    finally:
        assert _stop(proc)[0] == 0
    assert (store / "persisted" / dist.filename).read_bytes() == dist.path.read_bytes()
    proc = _serve("--auth", "ci:pw", "--dir", str(store), "--json")
    try:
        info = json.loads(proc.stdout.readline())
        s = requests.Session()
        s.trust_env = False
        r = s.get(info["url"] + "persisted/", auth=("ci", "pw"))
        assert r.status_code == 200 and dist.sha256 in r.text
    finally:
        assert _stop(proc)[0] == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--auth", "nopass"], "expected USER:PASS"),
     (["--dir", "/no/such/dir"], "no such directory"),
     (["--host", "8.8.8.8"], "not a loopback address")],
)
def test_serve_bad_input(args, message):
    proc = _serve(*args)
    out, err = proc.communicate(timeout=15)
    assert proc.returncode == 2
    assert message in err
    assert "Traceback" not in err
