"""``privrepo serve --host-name`` and the snippets of a named index, with real processes.

A named index exists only behind the privrepo gateway, so what ``serve`` prints (the proxy
variables, the CA file, the client lines) is the only way a user reaches it. These tests run
the real CLI as a subprocess and follow its printed instructions with the real pip, in a
:class:`ClientEnv` that has NO gateway of its own: it sends every non-loopback request to
the dead proxy, so a client reaches ``pypi.corp.example`` only through the printed
variables. The snippet tests check each client's lines for a named index and paste the pip,
twine and uv blocks into bash, through the gateway of the test's own ``privrepo``.
"""

from __future__ import annotations

import json
import os
import queue
import shlex
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests
from helpers import CI, file_sha256
from test_snippets import (
    NULL_KEYRING,
    SHELLS,
    assert_only,
    code_lines,
    dist_dir,
    paste,
    pdm_launcher,
)

from pytest_privrepo import ConfigError, Privrepo
from pytest_privrepo.access import IndexAccess
from pytest_privrepo.clients.env import BLACKHOLE_PROXY, LOOPBACK_HOSTS, ClientEnv
from pytest_privrepo.clients.pdm import Pdm, PdmProject
from pytest_privrepo.clients.pip import Pip
from pytest_privrepo.clients.poetry import Poetry
from pytest_privrepo.clients.poetry_project import PoetryProject
from pytest_privrepo.clients.twine import Twine
from pytest_privrepo.clients.uv import Uv
from pytest_privrepo.dists import build_wheel
from pytest_privrepo.snippets import (
    PACKAGE_PLACEHOLDER,
    all_snippets,
    pdm_lines,
    pip_lines,
    poetry_lines,
    proxy_env,
    twine_lines,
    uv_lines,
)

HOST = "pypi.corp.example"
PASSWORD = "gw-s3cret"
NO_PROXY = ",".join(LOOPBACK_HOSTS)
#: how long to wait for a line that must come; a hang guard, not a speed assertion
LINE_TIMEOUT = 15

#: What a corporate shell exports besides the CA variables: its own proxy in lower case
#: (which Python's urllib lets win over HTTPS_PROXY) and a no_proxy that sends the
#: company's names past any proxy, i.e. to the real DNS. The printed lines must beat both.
CORPORATE_PROXY_SHELL = {"https_proxy": BLACKHOLE_PROXY, "http_proxy": BLACKHOLE_PROXY,
                         "no_proxy": ".corp.example,localhost", "NO_PROXY": ".corp.example"}


@pytest.fixture
def client_env(tmp_path: Path) -> ClientEnv:
    """The clients' environment WITHOUT the session gateway: every host but loopback goes
    to the dead proxy, so only the proxy variables a test sets reach a named host."""
    return ClientEnv(tmp_path / "client-env")


# -- the CLI ------------------------------------------------------------------------------------

class Served:
    """A running ``privrepo serve``: its stdout read up to the summary's end (or its one
    JSON line), its stderr read line by line in a thread."""

    def __init__(self, *args: str, tmpdir: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("REQUESTS_", "CURL_"))}
        env["TMPDIR"] = str(tmpdir)  # where serve's temporary files go: checked after stop
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pytest_privrepo.cli", "serve", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
            text=True, env=env)
        self.stderr: queue.Queue[str] = queue.Queue()
        self.stderr_lines: list[str] = []
        self.thread = threading.Thread(target=self._read_stderr, daemon=True)
        self.thread.start()

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr_lines.append(line)
            self.stderr.put(line.rstrip("\n"))

    def json(self) -> dict:  # type: ignore[type-arg]
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line, f"serve printed nothing; stderr: {self.stderr_lines}"
        return json.loads(line)  # type: ignore[no-any-return]

    def summary(self) -> list[str]:
        assert self.proc.stdout is not None
        lines: list[str] = []
        while not lines or not lines[-1].startswith("Press Ctrl+C"):
            line = self.proc.stdout.readline()
            assert line, f"summary ended early: {lines}; stderr: {self.stderr_lines}"
            lines.append(line.rstrip("\n"))
        return lines

    def next_stderr(self) -> str:
        try:
            return self.stderr.get(timeout=LINE_TIMEOUT)
        except queue.Empty:
            raise AssertionError(f"no stderr line within {LINE_TIMEOUT}s: {self.stderr_lines}")

    def lines_until(self, suffix: str) -> list[str]:
        """The stderr lines up to the first that ends with ``suffix``."""
        lines = [self.next_stderr()]
        while not lines[-1].endswith(suffix):
            lines.append(self.next_stderr())
        return lines

    def stop(self, *, signal_it: bool = True) -> tuple[int, str]:
        """SIGTERM (unless ``signal_it`` is false: wait for it to exit by itself); the exit
        code and the rest of stdout."""
        if signal_it:
            self.proc.send_signal(signal.SIGTERM)
        assert self.proc.stdout is not None
        out = self.proc.stdout.read()
        self.proc.wait(timeout=15)
        self.thread.join(15)
        return self.proc.returncode, out


def summary_field(summary: list[str], label: str) -> str:
    """The value after ``  label:`` in the human summary."""
    (line,) = [line for line in summary if line.startswith(f"  {label}:")]
    return line.split(":", 1)[1].strip()


def block(summary: list[str], client: str) -> list[str]:
    """The lines of one client's block (``# pip`` up to the next blank line)."""
    start = summary.index(f"# {client}") + 1
    end = summary.index("", start) if "" in summary[start:] else len(summary)
    return summary[start:end]


@pytest.mark.parametrize("tls", ["tls", "mtls"])
def test_serve_host_name_json_then_pip_installs_through_the_printed_proxy(
        tmp_path: Path, client_env: ClientEnv, pip: Pip, tls: str) -> None:
    """The JSON line names the proxy variables and the CA; with exactly those set in an
    environment that has no gateway, the real pip installs from https://pypi.corp.example/."""
    build_wheel(tmp_path / "dists", "named-pkg", "1.0")
    served = Served(f"--{tls}", "--host-name", HOST, "--auth", f"alice:{PASSWORD}",
                    "--dir", str(tmp_path / "dists"), "--json", tmpdir=tmp_path)
    try:
        info = served.json()
        assert info["url"] == f"https://{HOST}/simple/"
        assert info["upload_url"] == f"https://{HOST}/legacy/"
        assert info["host_name"] == HOST
        proxy = info["proxy_env"]
        assert set(proxy) == {"HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy"}
        assert proxy["HTTPS_PROXY"] == proxy["https_proxy"]
        assert proxy["HTTPS_PROXY"].startswith("http://127.0.0.1:")
        assert proxy["NO_PROXY"] == proxy["no_proxy"] == NO_PROXY
        assert (info["client_cert"] is not None) == (tls == "mtls")

        client_env.set(proxy)
        index = IndexAccess(info["url"], name="private", username="alice", password=PASSWORD,
                            ca_cert=Path(info["ca_cert"]),
                            client_cert=Path(info["client_cert"]) if info["client_cert"] else None)
        result = pip.install("named-pkg", index=index)
        assert result.versions == {"named-pkg": "1.0"}
        assert result.url_of("named-pkg") == f"https://{HOST}/files/named-pkg/named_pkg-1.0-py3-none-any.whl"
        # the request lines: pip asked the named host for the page, (the metadata,) the
        # wheel, all as alice
        lines = served.lines_until(".whl 200 alice")
        assert lines[0] == "privrepo: GET /simple/named-pkg/ 200 alice"
        assert lines[-1] == ("privrepo: GET /files/named-pkg/named_pkg-1.0-py3-none-any.whl "
                             "200 alice")
        assert all(line.endswith(" 200 alice") for line in lines), lines
    finally:
        code, out = served.stop()
    assert code == 0 and out == "", served.stderr_lines
    assert not any(PASSWORD in line for line in served.stderr_lines)
    assert list(tmp_path.glob("privrepo-*")) == []  # the temporary directory is gone


def test_serve_host_name_summary_and_its_pasted_pip_line(
        tmp_path: Path, client_env: ClientEnv, pip: Pip, http: requests.Session) -> None:
    """The human summary names the proxy, NO_PROXY and the CA, and its ``# pip`` line,
    pasted into bash in a shell that exports a corporate proxy, a ``no_proxy`` for the
    company's domain and public CA bundles, installs from the named host. A request for a
    host the proxy does not serve is refused, and serve prints that too."""
    build_wheel(tmp_path / "dists", "named-pkg", "2.0")
    served = Served("--tls", "--host-name", HOST, "--token", PASSWORD,
                    "--dir", str(tmp_path / "dists"), tmpdir=tmp_path)
    try:
        summary = served.summary()
        assert summary[0] == "privrepo: index 'private' ready (1 files)"
        assert summary_field(summary, "url") == f"https://{HOST}/simple/"
        proxy_url = summary_field(summary, "proxy").split()[0]
        assert proxy_url.startswith("http://127.0.0.1:")
        assert summary_field(summary, "no proxy") == NO_PROXY
        ca = summary_field(summary, "ca cert")
        assert Path(ca).is_file()
        assert summary_field(summary, "by hand") == (
            f"export HTTPS_PROXY={proxy_url} https_proxy={proxy_url} NO_PROXY={NO_PROXY} "
            f"no_proxy={NO_PROXY}")
        [line] = block(summary, "pip")
        assert shlex.split(line) == [
            f"HTTPS_PROXY={proxy_url}", f"https_proxy={proxy_url}", f"NO_PROXY={NO_PROXY}",
            f"no_proxy={NO_PROXY}", f"REQUESTS_CA_BUNDLE={ca}", "pip", "install",
            "--index-url", f"https://__token__:{PASSWORD}@{HOST}/simple/", "--cert", ca,
            PACKAGE_PLACEHOLDER]
        for client in ("poetry", "uv", "pdm", "twine", "hatch", "flit"):
            assert any(f"HTTPS_PROXY={proxy_url}" in text for text in block(summary, client)), client

        result = paste([line], env=client_env, cwd=tmp_path, shell="exported",
                       tools={"pip": pip.argv()}, package="named-pkg",
                       extra_env=CORPORATE_PROXY_SHELL)
        assert result.ok, result.output
        listed = json.loads(pip.run("list", "--format", "json").stdout)
        assert {p["name"]: p["version"] for p in listed if p["name"] == "named-pkg"} == {
            "named-pkg": "2.0"}
        lines = served.lines_until(".whl 200 __token__")
        assert lines[0] == "privrepo: GET /simple/named-pkg/ 200 __token__"

        with pytest.raises(requests.exceptions.ProxyError, match="not a declared host"):
            http.get("https://pypi.org/simple/named-pkg/", proxies={"https": proxy_url},
                     timeout=20)
        assert served.next_stderr() == (
            "privrepo: proxy: CONNECT pypi.org:443 refused: not a declared host")
    finally:
        code, out = served.stop()
    assert code == 0 and out == "privrepo: stopped\n", served.stderr_lines
    assert not Path(ca).exists()


def test_serve_host_name_plain_http_prints_http_proxy(tmp_path: Path) -> None:
    """Without TLS the named host is ``http://NAME/`` (port 80) and the variable is
    HTTP_PROXY: clients send an absolute URI to the proxy instead of CONNECT."""
    served = Served("--host-name", HOST, "--json", "--public-read", tmpdir=tmp_path)
    try:
        info = served.json()
        assert info["url"] == f"http://{HOST}/simple/" and info["ca_cert"] is None
        proxy = info["proxy_env"]
        assert set(proxy) == {"HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"}
        with requests.Session() as s:
            s.trust_env = False
            page = s.get(info["url"], proxies={"http": proxy["HTTP_PROXY"]}, timeout=20)
        assert page.status_code == 200
        assert served.next_stderr() == "privrepo: GET /simple/ 200 -"
    finally:
        code, _ = served.stop()
    assert code == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--host-name", "bad_name.example"], "malformed host name 'bad_name.example'"),
        (["--host-name", "corp"], "malformed host name 'corp'"),
        (["--host-name=-x.corp.example"], "malformed host name '-x.corp.example'"),
        (["--host-name", "10.1.2.3"], "named index needs a DNS name"),
        (["--host-name", "127.0.0.1"], "not a loopback address (use --host for that)"),
        (["--host-name", "localhost"], "not a loopback address (use --host for that)"),
        (["--host-name", "::1"], "not a loopback address (use --host for that)"),
        (["--host-name", HOST, "--port", "70000"], "invalid port 70000"),
        (["--host-name", HOST, "--host", "127.0.0.1"], "not allowed with argument --host-name"),
    ],
)
def test_serve_host_name_bad_input(tmp_path: Path, args: list[str], message: str) -> None:
    """Exit 2 with the ConfigError's message, no traceback, nothing left behind (serve's
    temporary directory goes to TMPDIR, which stays empty)."""
    served = Served(*args, tmpdir=tmp_path)
    code, out = served.stop(signal_it=False)
    err = "".join(served.stderr_lines)
    assert code == 2, err
    assert message in err and "Traceback" not in err
    assert out == ""
    assert list(tmp_path.iterdir()) == []


def test_serve_help_explains_host_name() -> None:
    result = subprocess.run([sys.executable, "-m", "pytest_privrepo.cli", "serve", "--help"],
                            capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    text = " ".join(result.stdout.split())  # ignore argparse's line breaks
    assert result.returncode == 0
    for needle in ("[--host HOST | --host-name NAME]",
                   "With --host-name NAME the index is a named host",
                   "prints the proxy variables (HTTPS_PROXY, NO_PROXY) and the CA file",
                   'adds "host_name" and "proxy_env"', '"proxy: ... refused"'):
        assert needle in text, needle


# -- the snippets of a named index ------------------------------------------------------------

def proxy_prefix(gateway_url: str, scheme: str = "https") -> list[str]:
    variable = f"{scheme.upper()}_PROXY"
    return [f"{variable}={gateway_url}", f"{variable.lower()}={gateway_url}",
            f"NO_PROXY={NO_PROXY}", f"no_proxy={NO_PROXY}"]


def test_named_mtls_pip_and_twine_lines(privrepo: Privrepo) -> None:
    index = privrepo.index("corp", host=HOST, tls="mtls", auth=CI)
    gateway = privrepo.gateway.access
    ca, client = str(index.ca_cert), str(index.client_cert)
    prefix = proxy_prefix(gateway.proxy_url)
    assert proxy_env(index, gateway) == prefix

    [pip] = pip_lines(index, gateway)
    assert shlex.split(pip) == [*prefix, f"REQUESTS_CA_BUNDLE={ca}", "pip", "install",
                                "--index-url", f"https://ci:s3cret-pw@{HOST}/simple/",
                                "--cert", ca, "--client-cert", client, PACKAGE_PLACEHOLDER]
    [twine] = twine_lines(index, gateway)
    assert shlex.split(twine) == [*prefix, f"REQUESTS_CA_BUNDLE={ca}", "twine", "upload",
                                  "--repository-url", f"https://{HOST}/legacy/",
                                  "--username", "ci", "--password", "s3cret-pw", "--cert", ca,
                                  "--client-cert", client, "dist/*"]


#: The commands that connect to the index, per client: exactly these carry the proxy
#: variables (``poetry source add``, ``poetry config``, ``pdm config`` only write config).
CONNECTING = {
    "poetry": ["poetry add", "poetry publish"],
    "pip": ["pip install"],
    "uv": ["uv pip install", "uv publish"],
    "pdm": ["pdm add", "pdm publish"],
    "twine": ["twine upload"],
    "hatch": ["hatch publish"],
    "flit": ["flit publish"],
}


@pytest.mark.parametrize("tls", [None, "tls", "mtls"])
def test_every_connecting_line_carries_the_proxy_variables(privrepo: Privrepo,
                                                           tls: str | None) -> None:
    """Each command that connects gets the variables (HTTPS_PROXY over TLS, HTTP_PROXY
    without), right before the command, for that one command: the rest of the block and
    the user's shell keep their settings."""
    index = privrepo.index("corp", host=HOST, tls=tls, auth=CI)
    gateway = privrepo.gateway.access
    prefix = " ".join(proxy_prefix(gateway.proxy_url, "https" if tls else "http"))
    snippets = all_snippets(index, gateway)
    assert list(snippets) == list(CONNECTING)
    for client, lines in snippets.items():
        routed = [line for line in code_lines(lines) if "_PROXY=" in line or "_proxy=" in line]
        commands = [next(c for c in CONNECTING[client] if c in line) for line in routed]
        assert commands == CONNECTING[client], (client, lines)
        for line in routed:
            assert prefix in line, line
    assert "export" not in " ".join(line for lines in snippets.values() for line in lines
                                    if "PROXY" in line)
    pdm_add = next(line for line in code_lines(snippets["pdm"]) if "pdm add" in line)
    assert "PDM_IGNORE_STORED_INDEX=1" in pdm_add  # pdm's implicit PyPI would get the 403


def test_loopback_snippets_ignore_the_gateway(privrepo: Privrepo) -> None:
    index = privrepo.index("corp", auth=CI, tls="tls")
    assert all_snippets(index, privrepo.gateway.access) == all_snippets(index)
    assert proxy_env(index, privrepo.gateway.access) == []


def test_named_snippets_without_the_gateway_are_refused(privrepo: Privrepo) -> None:
    """Without the gateway the lines would send the client to the real DNS name."""
    index = privrepo.index("corp", host=HOST, tls="tls")
    with pytest.raises(ConfigError, match=rf"at {HOST}, a named host .* pass gateway=privrepo"):
        all_snippets(index)
    with pytest.raises(ConfigError, match="expected a Gateway or a GatewayAccess"):
        pip_lines(index, "http://127.0.0.1:1")
    assert pip_lines(index, privrepo.gateway) == pip_lines(index, privrepo.gateway.access)


# -- pasted blocks through the gateway --------------------------------------------------------

@pytest.mark.parametrize("shell", SHELLS)
def test_pasted_named_pip_block_installs_over_mtls(privrepo: Privrepo, pip: Pip, tmp_path: Path,
                                                   shell: str) -> None:
    index = privrepo.index("corp", host=HOST, auth=("alice", PASSWORD), tls="mtls")
    index.add("snip-dep", "1.0", requires=["snip-helper>=2"])
    index.add("snip-helper", "2.0")

    result = paste(pip_lines(index, privrepo.gateway.access), env=pip.env, cwd=tmp_path,
                   shell=shell, tools={"pip": pip.argv()}, package="snip-dep",
                   extra_env=CORPORATE_PROXY_SHELL if shell == "exported" else None)

    assert result.ok, result.output
    listed = json.loads(pip.run("list", "--format", "json").stdout)
    assert {p["name"]: p["version"] for p in listed if p["name"].startswith("snip")} == {
        "snip-dep": "1.0", "snip-helper": "2.0"}
    assert_only(index, "alice", mtls=True)
    assert {r.host for r in privrepo.egress} == {HOST}
    privrepo.egress.assert_no_leaks()


@pytest.mark.parametrize("shell", SHELLS)
def test_pasted_named_twine_block_uploads_over_tls(privrepo: Privrepo, twine: Twine,
                                                   tmp_path: Path, shell: str) -> None:
    index = privrepo.index("corp", host=HOST, auth=CI, tls="tls")
    wheel = privrepo.build_dist(tmp_path / "d", "snip-twine", "1.0")
    work = dist_dir(tmp_path / "work", wheel)

    result = paste(twine_lines(index, privrepo.gateway.access), env=twine.env, cwd=work,
                   shell=shell, tools={"twine": [twine.executable]},
                   extra_env=CORPORATE_PROXY_SHELL if shell == "exported" else None)

    assert result.ok, result.output
    assert [(u.filename, u.user, u.sha256) for u in index.uploads] == [
        (wheel.name, "ci", file_sha256(wheel))]
    assert {(r.host, r.index) for r in privrepo.egress} == {(HOST, "corp")}


def test_pasted_named_uv_block_installs_and_publishes(privrepo: Privrepo, uv: Uv,
                                                      tmp_path: Path) -> None:
    """uv (reqwest) reads HTTPS_PROXY first; the block runs in the corporate shell."""
    index = privrepo.index("corp", host=HOST, auth=("alice", PASSWORD), tls="tls")
    index.add("snip-dep", "1.0")
    wheel = privrepo.build_dist(tmp_path / "d", "snip-uv", "1.0")
    work = dist_dir(tmp_path / "work", wheel)
    venv = uv.venv(tmp_path / "venv")

    result = paste(uv_lines(index, privrepo.gateway.access), env=uv.env, cwd=work,
                   shell="exported", tools={"uv": [uv.exe]}, package="snip-dep",
                   extra_env={**CORPORATE_PROXY_SHELL, "VIRTUAL_ENV": str(tmp_path / "venv")})

    assert result.ok, result.output
    assert uv.pip_list(venv).get("snip-dep") == "1.0"
    assert [(u.filename, u.user) for u in index.uploads] == [(wheel.name, "alice")]
    assert_only(index, "alice", mtls=False)
    assert {r.host for r in privrepo.egress} == {HOST}


def test_pasted_named_poetry_block_adds_and_publishes(privrepo: Privrepo, poetry: Poetry,
                                                      tmp_path: Path) -> None:
    """Poetry's primary source turns its implicit PyPI off, so through the gateway only the
    named host is asked; the install and the publish both carry the proxy variables."""
    index = privrepo.index("corp", host=HOST, auth=("alice", PASSWORD), tls="mtls")
    index.add("snip-dep", "1.0")
    project = PoetryProject(tmp_path / "project", poetry).create("snip-app", "1.0")

    result = paste(poetry_lines(index, privrepo.gateway.access), env=poetry.env,
                   cwd=project.path, shell="exported", tools={"poetry": [poetry.executable]},
                   package="snip-dep", extra_env=CORPORATE_PROXY_SHELL)

    assert result.ok, result.output
    assert project.lock_result().versions().get("snip-dep") == "1.0"
    built = sorted((project.path / "dist").iterdir())
    assert sorted(u.filename for u in index.uploads) == sorted(p.name for p in built)
    assert_only(index, "alice", mtls=True)
    assert {r.host for r in privrepo.egress} == {HOST}
    privrepo.egress.assert_no_leaks()


def test_pasted_named_pdm_block_adds_and_publishes(privrepo: Privrepo, pdm: Pdm,
                                                   tmp_path: Path) -> None:
    """pdm merges its implicit PyPI source; through the gateway pypi.org is refused, so the
    block's ``pdm add`` runs with PDM_IGNORE_STORED_INDEX=1 and PyPI is never asked (the
    harness's own PDM_IGNORE_STORED_INDEX is removed, as a user has none)."""
    index = privrepo.index("corp", host=HOST, auth=("alice", PASSWORD), tls="tls")
    index.add("snip-dep", "1.0")
    wheel = privrepo.build_dist(tmp_path / "d", "snip-pdm", "1.0")
    project = PdmProject(tmp_path / "project", pdm).create()
    project.dist_dir.mkdir()
    shutil.copy2(wheel, project.dist_dir / wheel.name)

    result = paste(pdm_lines(index, privrepo.gateway.access), env=pdm.env, cwd=project.path,
                   shell="exported", tools={"pdm": [pdm.exe]}, scripts={"keyring": NULL_KEYRING},
                   package="snip-dep", launch=pdm_launcher(pdm, project.path),
                   extra_env={**CORPORATE_PROXY_SHELL, "PDM_IGNORE_STORED_INDEX": None})

    assert result.ok, result.output
    assert project.installed().get("snip-dep") == "1.0"
    assert [(u.filename, u.user) for u in index.uploads] == [(wheel.name, "alice")]
    assert {r.host for r in privrepo.egress} == {HOST}
