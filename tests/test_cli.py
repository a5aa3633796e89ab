"""``privrepo serve``: a real process, real signals, real cleanup, real request lines."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests

from pytest_privrepo import __version__
from pytest_privrepo.dists import build_wheel

#: the console script the project installs next to the interpreter (what a user runs)
PRIVREPO = Path(sys.executable).with_name("privrepo")
#: how long to wait for a line that must come; a hang guard, not a speed assertion
LINE_TIMEOUT = 15


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


class _StderrLines:
    """Reads a running server's stderr line by line in a thread, so a test can wait for the
    line one request must produce while the server keeps running (``readline`` on the pipe
    would block forever if the line never came)."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc = proc
        self.lines: queue.Queue[str] = queue.Queue()
        self.all: list[str] = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.all.append(line)
            self.lines.put(line)

    def next(self) -> str:
        try:
            return self.lines.get(timeout=LINE_TIMEOUT).rstrip("\n")
        except queue.Empty:
            raise AssertionError(f"no stderr line within {LINE_TIMEOUT}s; so far: {self.all}")

    def stop(self, sig: int = signal.SIGTERM) -> tuple[int, str, str]:
        """Signal the server; return its exit code, stdout and the stderr not yet consumed."""
        self.proc.send_signal(sig)
        out = self.proc.stdout.read()
        self.proc.wait(timeout=15)
        self.thread.join(15)
        rest = []
        while not self.lines.empty():
            rest.append(self.lines.get())
        return self.proc.returncode, out, "".join(rest)


def _session() -> requests.Session:
    s = requests.Session()
    s.trust_env = False
    return s


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


PASSWORD = "s3cret-pw"
TOKEN = "t0ken-value"


def test_serve_prints_one_line_per_request_without_secrets():
    proc = _serve("--auth", f"alice:{PASSWORD}", "--token", TOKEN, "--json")
    lines = _StderrLines(proc)
    try:
        info = json.loads(proc.stdout.readline())
        url = info["url"]
        s = _session()
        # each request's line is read before the next request: lines appear while serving
        assert s.get(url, auth=("alice", PASSWORD)).status_code == 200
        assert lines.next() == "privrepo: GET /simple/ 200 alice"
        assert s.get(url + "served-pkg/", auth=("alice", "wrong")).status_code == 401
        assert lines.next() == "privrepo: GET /simple/served-pkg/ 401 alice (rejected)"
        assert s.head(url).status_code == 401
        assert lines.next() == "privrepo: HEAD /simple/ 401 -"
        assert s.get(url, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
        assert lines.next() == "privrepo: GET /simple/ 200 __token__"
        # a token pasted into the user field (pip's https://TOKEN@host/ form) is not shown
        assert s.get(url, auth=(TOKEN, "")).status_code == 401
        line = lines.next()
        assert line.startswith("privrepo: GET /simple/ 401 ") and line.endswith("(rejected)")
        assert s.post(info["upload_url"], auth=("alice", PASSWORD),
                      data={":action": "file_upload"}).status_code == 400
        assert lines.next() == "privrepo: POST /legacy/ 400 alice"
    finally:
        code, out, rest = lines.stop()
    assert code == 0 and out == "", rest
    assert rest == ""  # nothing but the lines read above
    assert len(lines.all) == 6
    for text in lines.all:
        assert PASSWORD not in text and TOKEN not in text


def test_serve_quiet_prints_no_request_lines():
    proc = _serve("--auth", f"alice:{PASSWORD}", "--json", "--quiet")
    try:
        info = json.loads(proc.stdout.readline())
        assert _session().get(info["url"], auth=("alice", PASSWORD)).status_code == 200
    finally:
        # without --quiet this request's line would be printed at the latest on stop
        code, out, err = _stop(proc)
    assert (code, out, err) == (0, "", "")


def test_serve_logs_failed_handshakes_and_escapes_control_characters():
    proc = _serve("--mtls", "--json")
    lines = _StderrLines(proc)
    try:
        info = json.loads(proc.stdout.readline())
        with pytest.raises(requests.exceptions.RequestException):
            _session().get(info["url"], verify=info["ca_cert"])  # no client certificate
        assert re.fullmatch(r"privrepo: TLS handshake from \S+ failed: .+", lines.next())
        # requests sends ESC as %1B, the server decodes it back into the path: the line must
        # escape it again, or a client could drive the terminal of whoever watches the log
        r = _session().get(info["url"] + "x\x1b[31mred/", verify=info["ca_cert"],
                           cert=info["client_cert"])
        assert r.status_code == 404
        assert lines.next() == "privrepo: GET /simple/x%1B%5B31mred/ 404 -"
    finally:
        code, _, rest = lines.stop()
    assert code == 0 and rest == ""
    assert not any("\x1b" in line for line in lines.all)


def test_serve_human_summary_says_where_files_live(tmp_path):
    proc = _serve("--auth", f"alice:{PASSWORD}")
    try:
        summary = []
        while not summary or not summary[-1].startswith("Press Ctrl+C"):
            line = proc.stdout.readline()
            assert line, proc.stderr.read()
            summary.append(line)
        files = next(line for line in summary if line.startswith("  files:"))
        root = Path(files.split()[1])
        assert files.rstrip().endswith("(temporary, removed on stop)") and root.is_dir()
        assert summary[-1] == "Press Ctrl+C to stop; uploads are removed on stop.\n"
    finally:
        code, out, err = _stop(proc)
    assert (code, out, err) == (0, "privrepo: stopped\n", "")
    assert not root.exists()


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(PRIVREPO), *args], capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)


def test_version_is_the_package_version():
    result = _run("--version")
    assert (result.returncode, result.stdout, result.stderr) == (0, f"privrepo {__version__}\n", "")


@pytest.mark.parametrize("command", [[], ["serve"], ["demo"]])
def test_help_is_plain_text(command):
    result = _run(*command, "--help")
    assert result.returncode == 0 and result.stderr == ""
    text = result.stdout
    assert text.startswith(f"usage: privrepo {' '.join(command)}".rstrip())
    assert "``" not in text and not re.search(r":\w+:`", text), text  # no reST roles
    assert max(len(line) for line in text.splitlines()) < 80


def test_serve_help_says_where_files_live_and_what_it_prints():
    text = " ".join(_run("serve", "--help").stdout.split())  # ignore argparse's line breaks
    for needle in ("without --dir the index starts empty",
                   "temporary directory that is removed on stop",
                   "uploads are gone after a restart",
                   "uploads are written to DIR/<project>/ and kept",
                   "one line per request (method, path, status, user; never a password)",
                   "--quiet, -q do not print a line per request"):
        assert needle in text
