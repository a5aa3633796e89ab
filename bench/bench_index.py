"""On-demand benchmark of pytest-privrepo, side by side with pypiserver, in one run.

    python bench/bench_index.py            # full run (about 2 minutes on 2 cores)
    python bench/bench_index.py --quick    # smoke run: fewer iterations, 20 MiB upload

Needs ``pip install -e '.[bench]'`` (pypiserver). Not part of CI. Measures:

1. cold start: nothing -> an mTLS index with basic auth ready to accept, INCLUDING a fresh
   CertificateAuthority (CA, server cert, client cert, PEM files, listening socket), vs
   pypiserver started as a subprocess until it answers ``GET /simple/``;
2. project-page throughput with ONE keep-alive ``http.client`` connection (reconnects
   counted) at 1, 200 and 1000 projects: ours over HTTP + basic auth and over mTLS, vs
   pypiserver;
3. synthetic wheels per second (``build_wheel``);
4. upload of a big wheel (200 MiB of incompressible data) with a streaming multipart
   client: MB/s and the server process's peak memory growth (VmHWM), ours vs pypiserver.

Every server and file lives under one temporary directory; child processes and that
directory are removed on success, failure, Ctrl+C, SIGTERM and SIGHUP. Only loopback
addresses are used. ``--check`` makes the exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime
import hashlib
import http.client
import json
import os
import platform
import selectors
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MiB = 1024 * 1024
HOST = "127.0.0.1"  # loopback only
AUTH = ("alice", "pw")
UPLOAD_AUTH = ("ci", "pw")
PYTHON = sys.executable

# Targets -------------------------------------------------------------------------------
TARGET_COLD_MS = 20.0  # mTLS index + fresh CA, median
TARGET_PAGE_RATIO = 10.0  # our req/s / pypiserver req/s, one keep-alive client
TARGET_WHEELS_PER_S = 1000.0
TARGET_UPLOAD_GROWTH_MIB = 32.0  # server peak RSS growth during the big upload

CLIENT_PAGES = "http.client.HTTPConnection / HTTPSConnection (stdlib), one connection reused"
CLIENT_UPLOAD = ("http.client.HTTPConnection (stdlib) + a hand-written streaming "
                 "multipart/form-data body, sent from the file in 1 MiB chunks")


# --------------------------------------------------------------------------------------
# Cleanup: every child process and the temporary root, whatever happens
# --------------------------------------------------------------------------------------
class Interrupted(BaseException):
    """SIGTERM / SIGHUP, turned into an exception so ``finally`` blocks run."""


def _raise_interrupted(signum: int, frame: Any) -> None:
    raise Interrupted(f"signal {signal.Signals(signum).name}")


class Resources:
    """Owns the temp root, the child processes and the in-process Privrepo objects."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="privrepo-bench-"))
        self.procs: list[subprocess.Popen] = []
        self.repos: list[Any] = []
        self.child_env = dict(os.environ, TMPDIR=str(self.root), PYTHONUNBUFFERED="1")
        for key in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"):
            self.child_env.pop(key, None)

    def path(self, *parts: str) -> Path:
        p = self.root.joinpath(*parts)
        p.mkdir(parents=True, exist_ok=True)
        return p

    # -- children ---------------------------------------------------------------------
    def spawn(self, argv: list[str], *, log_name: str, stdin: Any = subprocess.DEVNULL,
              stdout: Any = None) -> subprocess.Popen:
        with open(self.root / log_name, "ab") as log:
            proc = subprocess.Popen(
                argv, stdin=stdin, stdout=log if stdout is None else stdout, stderr=log,
                env=self.child_env, cwd=self.root,
                start_new_session=True,  # a terminal Ctrl+C reaches only us; we stop them
            )
        self.procs.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen, timeout: float = 10.0) -> None:
        """SIGTERM, wait, then SIGKILL: only this process, by its own pid."""
        try:
            if proc.stdin is not None:
                with contextlib.suppress(OSError):
                    proc.stdin.close()
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)
            if proc.stdout is not None:
                proc.stdout.close()
        finally:
            if proc in self.procs:
                self.procs.remove(proc)

    # -- in-process repos ---------------------------------------------------------------
    @contextlib.contextmanager
    def repo(self, **kwargs: Any) -> Iterator[Any]:
        from pytest_privrepo import Privrepo

        repo = Privrepo(**kwargs)
        self.repos.append(repo)
        try:
            yield repo
        finally:
            self.repos.remove(repo)
            repo.close()

    def close(self) -> None:
        for proc in list(self.procs):
            with contextlib.suppress(Exception):
                self.stop(proc)
        for repo in list(self.repos):
            with contextlib.suppress(Exception):
                repo.close()
        self.repos.clear()
        shutil.rmtree(self.root, ignore_errors=True)


# --------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------
def now() -> float:
    return time.perf_counter()


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    s = sorted(values)
    k = max(0, min(len(s) - 1, round(q / 100 * len(s) + 0.5) - 1))
    return s[k]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS / VmHWM / ... of a process, in bytes."""
    out: dict[str, int] = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Vm"):
                key, _, rest = line.partition(":")
                parts = rest.split()
                if len(parts) == 2 and parts[1] == "kB":
                    out[key] = int(parts[0]) * 1024
    return out


def reset_peak_rss(pid: int) -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0, own processes)."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


class RssSampler:
    """Samples VmRSS of a pid every few ms in a thread; ``peak`` is the largest seen."""

    def __init__(self, pid: int, interval: float = 0.005) -> None:
        self.pid, self.interval = pid, interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(OSError):
                self.peak = max(self.peak, proc_status(self.pid).get("VmRSS", 0))
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:  # noqa: PYI034 (typing.Self needs 3.11)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def read_line(proc: subprocess.Popen, timeout: float) -> bytes:
    """One stdout line of a child, or TimeoutError (never blocks past ``timeout``)."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    buf = b""
    deadline = now() + timeout
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        while b"\n" not in buf:
            left = deadline - now()
            if left <= 0 or not sel.select(left):
                raise TimeoutError(f"no output from pid {proc.pid} within {timeout}s")
            chunk = os.read(fd, 65536)
            if not chunk:
                raise RuntimeError(f"pid {proc.pid} exited (rc={proc.wait()}) before printing")
            buf += chunk
    return buf.split(b"\n", 1)[0]


def http_get_ok(port: int, path: str, *, context: ssl.SSLContext | None = None,
                headers: dict[str, str] | None = None, timeout: float = 0.25) -> bytes | None:
    """One GET on a fresh connection: the body on 200, None if not answering yet."""
    conn: http.client.HTTPConnection
    if context is None:
        conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    else:
        conn = http.client.HTTPSConnection(HOST, port, timeout=timeout, context=context)
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        body = resp.read()
        return body if resp.status == 200 else None
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


def poll_until_ok(proc: subprocess.Popen, port: int, path: str, timeout: float = 30.0,
                  **kw: Any) -> float:
    """Poll GET ``path`` with short connect attempts until 200; return the time of it."""
    deadline = now() + timeout
    while True:
        if http_get_ok(port, path, **kw) is not None:
            return now()
        if proc.poll() is not None:
            raise RuntimeError(f"pid {proc.pid} exited with {proc.returncode} before answering")
        if now() > deadline:
            raise TimeoutError(f"no 200 on {path} from port {port} within {timeout}s")
        time.sleep(0.002)


def client_context(ca_cert: str, client_cert: str | None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=ca_cert)
    if client_cert:
        ctx.load_cert_chain(client_cert)
    return ctx


def pypiserver_argv(port: int, directory: Path) -> list[str]:
    # pypiserver 2.4.2: -i host, -a . -P . = no authentication at all (authenticated
    # pypiserver needs passlib, which is not installed), no redirect to pypi.org.
    return [PYTHON, "-m", "pypiserver", "run", "-p", str(port), "-i", HOST,
            "-a", ".", "-P", ".", "--disable-fallback", str(directory)]


def start_pypiserver(res: Resources, directory: Path, log_name: str) -> tuple[subprocess.Popen, int, float]:
    """Start pypiserver on a free port; return (proc, port, seconds until /simple/ answers)."""
    for _attempt in range(3):
        port = free_port()
        t0 = now()
        proc = res.spawn(pypiserver_argv(port, directory), log_name=log_name)
        try:
            t1 = poll_until_ok(proc, port, "/simple/")
            return proc, port, t1 - t0
        except RuntimeError:  # lost the port race: try another one
            res.stop(proc)
    raise RuntimeError(f"pypiserver did not start, see {res.root / log_name}")


def pypiserver_backend() -> str:
    """What pypiserver's default ``--backend auto`` picks here."""
    try:
        import watchdog  # type: ignore[import-not-found]  # noqa: F401
    except ImportError:
        return "'auto' = simple-dir (watchdog not installed: no cache, directory rescanned per request)"
    return "'auto' = cached-dir (watchdog installed)"


def versions() -> dict[str, str]:
    from importlib.metadata import version

    out = {}
    for dist in ("pytest-privrepo", "pypiserver", "werkzeug", "trustme", "cryptography"):
        try:
            out[dist] = version(dist)
        except ImportError:  # PackageNotFoundError
            out[dist] = "?"
    return out


def machine() -> str:
    cpu = platform.processor() or "?"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = "?"
    with contextlib.suppress(OSError), open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB RAM"
                break
    return (f"{os.cpu_count()} cores ({cpu}), {mem}, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}")


def load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


@dataclass
class Target:
    name: str
    goal: str
    measured: str
    ok: bool


@dataclass
class Report:
    targets: list[Target] = field(default_factory=list)

    def target(self, name: str, goal: str, measured: str, ok: bool) -> None:
        self.targets.append(Target(name, goal, measured, ok))


def section(title: str) -> None:
    print(f"\n== {title} " + "=" * max(0, 76 - len(title)), flush=True)


# --------------------------------------------------------------------------------------
# 1. Cold start
# --------------------------------------------------------------------------------------
def bench_cold_start(res: Resources, report: Report, runs: int, sub_runs: int) -> None:
    from pytest_privrepo import CertificateAuthority

    section("1. Cold start: nothing -> mTLS index with auth, ready to accept")
    print(f"ours (in process): new CertificateAuthority + Privrepo + index(tls='mtls', auth=...) "
          f"per run; {runs} runs + 1 warm-up\n"
          f"  'ready'  = index() returned: CA, server cert, client cert, PEM files written, "
          f"socket listening, server thread up\n"
          f"  '1st 200' = ready + client SSLContext (CA + client cert) + TLS handshake + "
          f"authenticated GET /simple/ answered 200 (client: http.client.HTTPSConnection)")
    ready: list[float] = []
    first: list[float] = []
    ca_part: list[float] = []
    cpu: list[float] = []
    warmup = 0.0
    hdr = {"Authorization": basic(*AUTH)}
    for i in range(runs + 1):
        root = res.root / "cold" / f"run-{i}"
        c0 = time.process_time()
        t0 = now()
        ca = CertificateAuthority()
        t_ca = now()
        with res.repo(root=root, ca=ca) as repo:
            idx = repo.index("corp", auth=AUTH, tls="mtls")
            t_ready = now()
            c_ready = time.process_time()
            ctx = client_context(idx.ca_cert, idx.client_cert)
            body = http_get_ok(idx.port, "/simple/", context=ctx, headers=hdr, timeout=5)
            t_first = now()
            if body is None:
                raise RuntimeError("mTLS index did not answer GET /simple/ with 200")
            hit = idx.log[-1]
            assert hit.user == AUTH[0] and hit.client_cert, hit
            for p in (idx.ca_cert, idx.client_cert):
                assert Path(p).is_file(), p
        shutil.rmtree(root, ignore_errors=True)
        if i == 0:
            warmup = t_ready - t0
            continue
        ready.append(t_ready - t0)
        first.append(t_first - t0)
        ca_part.append(t_ca - t0)
        cpu.append(c_ready - c0)
    ms = 1000.0
    print(f"  warm-up run (first in this process, not counted): {warmup * ms:.1f} ms")
    print(f"  ready:    median {statistics.median(ready) * ms:6.1f} ms   p90 {pct(ready, 90) * ms:6.1f} ms"
          f"   min {min(ready) * ms:5.1f}   max {max(ready) * ms:6.1f}")
    print(f"    of which CertificateAuthority(): median {statistics.median(ca_part) * ms:.1f} ms;"
          f" CPU time of the process for 'ready': median {statistics.median(cpu) * ms:.1f} ms"
          " (wall minus CPU = waiting: thread start-up, other load)")
    print(f"  1st 200:  median {statistics.median(first) * ms:6.1f} ms   p90 {pct(first, 90) * ms:6.1f} ms")

    # pypiserver as a subprocess
    print(f"\npypiserver (subprocess `{' '.join(pypiserver_argv(0, Path('DIR'))[1:]).replace(' 0 ', ' PORT ')}`),"
          f" {sub_runs} runs:\n  Popen -> first 200 on GET /simple/ (polled with fresh "
          "http.client connections, 0.25 s timeout, 2 ms apart)")
    pps_dir = res.path("cold", "pypiserver-pkgs")
    pps: list[float] = []
    for i in range(sub_runs):
        proc, _port, secs = start_pypiserver(res, pps_dir, "pypiserver-cold.log")
        res.stop(proc)
        pps.append(secs)
    print(f"  1st 200:  median {statistics.median(pps) * ms:6.1f} ms   p90 {pct(pps, 90) * ms:6.1f} ms")

    # our CLI as a subprocess: the like-for-like comparison with pypiserver
    print(f"\nours as a subprocess (`python -m pytest_privrepo.cli serve --mtls --auth ci:pw --json`),"
          f" {sub_runs} runs:\n  Popen -> JSON line printed (ready) -> mTLS GET /simple/ 200")
    cli_ready: list[float] = []
    cli_first: list[float] = []
    for i in range(sub_runs):
        t0 = now()
        proc = res.spawn([PYTHON, "-m", "pytest_privrepo.cli", "serve", "--mtls",
                          "--auth", "ci:pw", "--json"], log_name="cli-cold.log",
                         stdout=subprocess.PIPE)
        try:
            info = json.loads(read_line(proc, 30))
            t_ready = now()
            ctx = client_context(info["ca_cert"], info["client_cert"])
            port = int(info["url"].split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])
            t_first = poll_until_ok(proc, port, "/simple/", context=ctx,
                                    headers={"Authorization": basic("ci", "pw")})
        finally:
            res.stop(proc)
        cli_ready.append(t_ready - t0)
        cli_first.append(t_first - t0)
    print(f"  ready:    median {statistics.median(cli_ready) * ms:6.1f} ms")
    print(f"  1st 200:  median {statistics.median(cli_first) * ms:6.1f} ms")

    med = statistics.median(ready)
    print("\nratios (pypiserver median / ours median, higher = ours faster):")
    print(f"  pypiserver 1st 200 / ours in-process ready   = {statistics.median(pps) / med:6.1f}x")
    print(f"  pypiserver 1st 200 / ours in-process 1st 200 = "
          f"{statistics.median(pps) / statistics.median(first):6.1f}x")
    print(f"  pypiserver 1st 200 / ours subprocess 1st 200 = "
          f"{statistics.median(pps) / statistics.median(cli_first):6.1f}x  (both pay interpreter start-up)")
    report.target("cold start, mTLS index + fresh CA (median)", f"<= {TARGET_COLD_MS:g} ms",
                  f"{med * ms:.1f} ms (p90 {pct(ready, 90) * ms:.1f}; pypiserver "
                  f"{statistics.median(pps) * ms:.0f} ms)", med * ms <= TARGET_COLD_MS)


# --------------------------------------------------------------------------------------
# 2. Project page throughput, one keep-alive client
# --------------------------------------------------------------------------------------
class CountingHTTP(http.client.HTTPConnection):
    connects = 0

    def connect(self) -> None:
        self.connects += 1
        super().connect()


class CountingHTTPS(http.client.HTTPSConnection):
    connects = 0

    def connect(self) -> None:
        self.connects += 1
        super().connect()


@dataclass
class Run:
    requests: int
    seconds: float
    connects: int
    resets: int
    lat: list[float]
    server: str

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


def hammer(conn: http.client.HTTPConnection, path: str, headers: dict[str, str],
           expect: bytes, duration: float) -> Run:
    """GET ``path`` on one connection for ``duration`` s; count (re)connections."""
    resets = 0
    server = ""

    def one() -> None:
        nonlocal resets, server
        for attempt in (0, 1):
            try:
                conn.request("GET", path, headers=headers)
                resp = conn.getresponse()
                body = resp.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # a keep-alive connection the server dropped: counted, retried once
                resets += 1
                conn.close()
                if attempt:
                    raise
        if resp.status != 200 or expect not in body:
            raise RuntimeError(f"GET {path}: {resp.status} {body[:200]!r}")
        server = resp.getheader("Server", "")

    for _ in range(5):  # warm-up: connect, render and cache the page
        one()
    connects_before = conn.connects  # type: ignore[attr-defined]
    lat = []
    n = 0
    t0 = now()
    end = t0 + duration
    t = t0
    while t < end:
        one()
        t1 = now()
        lat.append(t1 - t)
        t = t1
        n += 1
    conn.close()
    return Run(n, t - t0, conn.connects - connects_before, resets, lat, server)  # type: ignore[attr-defined]


def describe(run: Run) -> str:
    reuse = ("1 connection reused" if run.connects == 0 and run.resets == 0
             else f"{run.connects} new connections ({run.connects / run.requests:.2f}/request)")
    return (f"{run.rps:8.0f} req/s  p50 {pct(run.lat, 50) * 1000:6.2f} ms  "
            f"p99 {pct(run.lat, 99) * 1000:6.2f} ms  {run.requests:6d} req  {reuse}")


def bench_throughput(res: Resources, report: Report, sizes: list[int], duration: float) -> None:
    from pytest_privrepo import CertificateAuthority

    section("2. Project page throughput, one keep-alive client")
    print(f"client: {CLIENT_PAGES}; GET /simple/<project>/ of the middle project, "
          f"{duration:g} s per server and size\n"
          f"ours: plain HTTP + Basic auth header, and mTLS (client cert) + Basic auth; "
          f"pypiserver: plain HTTP, no auth (needs passlib, not installed), "
          f"backend {pypiserver_backend()}")
    ca = CertificateAuthority()
    hdr = {"Authorization": basic(*AUTH)}
    for n in sizes:
        print(f"\n-- {n} project(s), one wheel each --")
        base = res.path("pages", f"n{n}")
        t_fill = now()
        with res.repo(root=base / "ours", ca=ca) as repo:
            plain = repo.index("plain", auth=AUTH, tls=None)
            mtls = repo.index("secure", auth=AUTH, tls="mtls")
            names = [f"bench-proj-{i:04d}" for i in range(n)]
            for name in names:
                plain.add(name, "1.0.0")
            pps_dir = res.path("pages", f"n{n}", "pypiserver")
            for f in plain.files():
                mtls.add_file(f.path)
                shutil.copyfile(f.path, pps_dir / f.filename)
            target = names[n // 2]
            expect = plain.files(target)[0].filename.encode()
            path = f"/simple/{target}/"
            print(f"   (filled both servers in {now() - t_fill:.1f} s; page {path})")

            ours_plain = hammer(CountingHTTP(HOST, plain.port, timeout=10), path, hdr, expect, duration)
            print(f"   ours  HTTP+auth : {describe(ours_plain)}")
            ctx = client_context(mtls.ca_cert, mtls.client_cert)
            ours_mtls = hammer(CountingHTTPS(HOST, mtls.port, timeout=10, context=ctx), path, hdr,
                               expect, duration)
            print(f"   ours  mTLS+auth : {describe(ours_mtls)}")
            assert plain.log[-1].path == path and mtls.log[-1].client_cert
        proc, port, _ = start_pypiserver(res, pps_dir, f"pypiserver-pages-{n}.log")
        try:
            theirs = hammer(CountingHTTP(HOST, port, timeout=10), path, {}, expect, duration)
        finally:
            res.stop(proc)
        print(f"   pypiserver HTTP : {describe(theirs)}  [Server: {theirs.server}]")
        r_plain = ours_plain.rps / theirs.rps
        r_mtls = ours_mtls.rps / theirs.rps
        print(f"   ratio ours/pypiserver: HTTP+auth {r_plain:.2f}x, mTLS+auth {r_mtls:.2f}x")
        for label, run in (("HTTP", ours_plain), ("mTLS", ours_mtls)):
            if 0.035 <= pct(run.lat, 50) <= 0.050:
                print(f"   note: ours {label} p50 is ~40 ms, the length of a delayed-ACK timer: "
                      "a latency stall, not CPU (see bench/README.md)")
        report.target(f"page req/s, {n} projects, HTTP+auth vs pypiserver",
                      f">= {TARGET_PAGE_RATIO:g}x",
                      f"{r_plain:.2f}x ({ours_plain.rps:.0f} vs {theirs.rps:.0f} req/s)",
                      r_plain >= TARGET_PAGE_RATIO)
        report.target(f"page req/s, {n} projects, mTLS+auth vs pypiserver",
                      f">= {TARGET_PAGE_RATIO:g}x",
                      f"{r_mtls:.2f}x ({ours_mtls.rps:.0f} vs {theirs.rps:.0f} req/s)",
                      r_mtls >= TARGET_PAGE_RATIO)
        shutil.rmtree(base, ignore_errors=True)


# --------------------------------------------------------------------------------------
# 3. Synthetic wheels per second
# --------------------------------------------------------------------------------------
def bench_wheels(res: Resources, report: Report, duration: float) -> None:
    from pytest_privrepo.dists import build_wheel

    section("3. Synthetic wheels per second")
    out = res.path("wheels")
    n = 0
    t0 = now()
    end = t0 + duration
    t = t0
    last = None
    while t < end:
        last = build_wheel(out, f"synth-{n:06d}", "1.0.0")
        n += 1
        t = now()
    rate = n / (t - t0)
    assert last is not None and len(list(out.iterdir())) == n
    with zipfile.ZipFile(last.path) as zf:
        assert zf.testzip() is None
    print(f"build_wheel(out_dir, name, '1.0.0'), distinct names, {t - t0:.1f} s: {n} wheels, "
          f"{rate:.0f} wheels/s ({1e6 / rate:.0f} us/wheel, {last.size} bytes each)")
    report.target("synthetic wheels per second", f">= {TARGET_WHEELS_PER_S:,.0f}/s",
                  f"{rate:,.0f}/s", rate >= TARGET_WHEELS_PER_S)
    shutil.rmtree(out, ignore_errors=True)


# --------------------------------------------------------------------------------------
# 4. Big upload: streaming client, server memory growth
# --------------------------------------------------------------------------------------
@dataclass
class BigWheel:
    path: Path
    name: str
    version: str
    size: int
    sha256: str
    md5: str


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def build_big_wheel(out_dir: Path, name: str, version: str, data_size: int) -> BigWheel:
    """A valid wheel whose package holds ``data_size`` random bytes, stored uncompressed."""
    pkg = name.replace("-", "_")
    stem = f"{pkg}-{version}"
    path = out_dir / f"{stem}-py3-none-any.whl"
    records: list[str] = []
    when = (2020, 1, 1, 0, 0, 0)

    with zipfile.ZipFile(path, "w") as zf:
        def small(arcname: str, text: str) -> None:
            data = text.encode()
            info = zipfile.ZipInfo(arcname, when)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
            records.append(f"{arcname},{_record_hash(data)},{len(data)}")

        small(f"{pkg}/__init__.py", f'__version__ = "{version}"\n')
        info = zipfile.ZipInfo(f"{pkg}/data.bin", when)
        info.compress_type = zipfile.ZIP_STORED
        info.external_attr = 0o644 << 16
        h = hashlib.sha256()
        left = data_size
        with zf.open(info, "w", force_zip64=data_size >= 2**31) as w:
            while left:
                chunk = os.urandom(min(MiB, left))
                h.update(chunk)
                w.write(chunk)
                left -= len(chunk)
        digest = base64.urlsafe_b64encode(h.digest()).rstrip(b"=").decode()
        records.append(f"{pkg}/data.bin,sha256={digest},{data_size}")
        small(f"{stem}.dist-info/METADATA",
              f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
              "Summary: privrepo benchmark: one big incompressible data file\n")
        small(f"{stem}.dist-info/WHEEL",
              "Wheel-Version: 1.0\nGenerator: privrepo-bench\nRoot-Is-Purelib: true\n"
              "Tag: py3-none-any\n")
        record = "\n".join(records + [f"{stem}.dist-info/RECORD,,"]) + "\n"
        info = zipfile.ZipInfo(f"{stem}.dist-info/RECORD", when)
        info.compress_type = zipfile.ZIP_DEFLATED
        zf.writestr(info, record)

    sha, md5 = hashlib.sha256(), hashlib.md5()
    with open(path, "rb") as f:
        while chunk := f.read(MiB):
            sha.update(chunk)
            md5.update(chunk)
    return BigWheel(path, name, version, path.stat().st_size, sha.hexdigest(), md5.hexdigest())


def multipart_parts(fields: list[tuple[str, str]], file_field: str, filename: str,
                    boundary: str) -> tuple[bytes, bytes]:
    pre = b""
    for key, value in fields:
        pre += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{key}\"\r\n\r\n"
                f"{value}\r\n").encode()
    pre += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{file_field}\"; "
            f"filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n").encode()
    post = f"\r\n--{boundary}--\r\n".encode()
    return pre, post


@dataclass
class UploadResult:
    status: int
    body: bytes
    seconds: float


def stream_upload(port: int, path: str, wheel: BigWheel, auth: tuple[str, str] | None,
                  timeout: float = 900.0) -> UploadResult:
    """POST the wheel as multipart/form-data without ever holding it in memory."""
    boundary = "privrepo-bench-" + os.urandom(12).hex()
    fields = [(":action", "file_upload"), ("protocol_version", "1"), ("metadata_version", "2.1"),
              ("name", wheel.name), ("version", wheel.version), ("filetype", "bdist_wheel"),
              ("pyversion", "py3"), ("sha256_digest", wheel.sha256), ("md5_digest", wheel.md5)]
    pre, post = multipart_parts(fields, "content", wheel.path.name, boundary)
    length = len(pre) + wheel.size + len(post)
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    buf = bytearray(MiB)
    view = memoryview(buf)
    t0 = now()
    try:
        conn.putrequest("POST", path)
        conn.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
        conn.putheader("Content-Length", str(length))
        if auth:
            conn.putheader("Authorization", basic(*auth))
        conn.endheaders()
        try:
            conn.send(pre)
            with open(wheel.path, "rb", buffering=0) as f:
                while n := f.readinto(buf):
                    conn.send(view[:n])
            conn.send(post)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered early (refusal): read what it said
        resp = conn.getresponse()
        body = resp.read()
        return UploadResult(resp.status, body, now() - t0)
    finally:
        conn.close()


def measured_upload(server_pid: int, port: int, path: str, wheel: BigWheel,
                    auth: tuple[str, str] | None) -> dict[str, Any]:
    before = proc_status(server_pid)["VmRSS"]
    hwm_reset = reset_peak_rss(server_pid)
    me = os.getpid()
    my_before = proc_status(me)["VmRSS"]
    reset_peak_rss(me)
    with RssSampler(server_pid) as srv, RssSampler(me) as cli:
        result = stream_upload(port, path, wheel, auth)
    hwm = proc_status(server_pid)["VmHWM"] if hwm_reset else 0
    peak = max(hwm, srv.peak)
    return {
        "result": result,
        "rss_before": before,
        "peak": peak,
        "growth": peak - before,
        "hwm_source": "VmHWM (reset via clear_refs) + 5 ms VmRSS samples" if hwm_reset
        else "5 ms VmRSS samples only (clear_refs refused)",
        "client_growth": max(cli.peak, proc_status(me)["VmHWM"]) - my_before,
    }


def serve_child(root: str, max_upload: int) -> int:
    """``--serve-child``: our index in its own process, for memory measurement."""
    from pytest_privrepo import Privrepo

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    signal.signal(signal.SIGINT, lambda *a: stop.set())
    with Privrepo(root=root) as repo:
        idx = repo.index("upload", auth=[UPLOAD_AUTH], tls=None, max_upload_size=max_upload)
        print(json.dumps({"port": idx.port, "pid": os.getpid()}), flush=True)

        def watch_stdin() -> None:  # parent gone or done: stdin closes
            with contextlib.suppress(Exception):
                sys.stdin.buffer.read()
            stop.set()

        threading.Thread(target=watch_stdin, daemon=True).start()
        while not stop.wait(0.2):
            pass
        ups = [{"filename": u.filename, "sha256": u.sha256, "size": u.size, "user": u.user,
                "path": str(u.path)} for u in idx.uploads]
        print(json.dumps({"uploads": ups}), flush=True)
    return 0


def bench_upload(res: Resources, report: Report, size_mib: int) -> None:
    from pytest_privrepo.dists import build_wheel

    section(f"4. Upload of a wheel holding {size_mib} MiB of random data")
    src = res.path("upload", "src")
    t0 = now()
    wheel = build_big_wheel(src, "bigpkg", "1.0.0", size_mib * MiB)
    small = build_wheel(res.path("upload", "warm"), "warmpkg", "1.0.0")
    small_wheel = BigWheel(small.path, "warmpkg", "1.0.0", small.size, small.sha256,
                           hashlib.md5(small.path.read_bytes()).hexdigest())
    print(f"wheel: {wheel.path.name}, {wheel.size / MiB:.1f} MiB, data.bin ZIP_STORED "
          f"(os.urandom), built in {now() - t0:.1f} s")
    print(f"client: {CLIENT_UPLOAD}")
    print("servers run in their own process; memory = that process's peak RSS during the "
          "upload minus its RSS just before\n(one small warm-up upload first, so lazy imports "
          "and first-use allocations are not counted)")
    max_upload = 300 * MiB
    mb = 1e6

    # ours: a child process running Privrepo + index(max_upload_size=300 MiB)
    ours_root = res.path("upload", "ours")
    child = res.spawn([PYTHON, os.path.abspath(__file__), "--serve-child", str(ours_root),
                       str(max_upload)], log_name="ours-upload.log",
                      stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        info = json.loads(read_line(child, 30))
        warm = stream_upload(info["port"], "/legacy/", small_wheel, UPLOAD_AUTH)
        assert warm.status == 200, warm
        ours = measured_upload(child.pid, info["port"], "/legacy/", wheel, UPLOAD_AUTH)
        r = ours["result"]
        if r.status != 200:
            raise RuntimeError(f"our index refused the upload: {r.status} {r.body[:300]!r}")
        page = http_get_ok(info["port"], "/simple/bigpkg/",
                           headers={"Authorization": basic(*UPLOAD_AUTH)}, timeout=10)
        assert page is not None and wheel.path.name.encode() in page
        assert child.stdin is not None
        child.stdin.close()  # ask it to stop and report its uploads
        uploads = json.loads(read_line(child, 30))["uploads"]
        child.wait(30)
    finally:
        res.stop(child)
    up = [u for u in uploads if u["filename"] == wheel.path.name]
    assert up and up[0]["sha256"] == wheel.sha256 and up[0]["size"] == wheel.size, uploads
    assert Path(up[0]["path"]).stat().st_size == wheel.size
    print("\nours  (child: Privrepo + index(max_upload_size=300 MiB), POST /legacy/, Basic auth):")
    print(f"   {r.status} in {r.seconds:.2f} s = {wheel.size / mb / r.seconds:7.1f} MB/s;"
          f" server RSS {ours['rss_before'] / MiB:.1f} MiB before, peak +{ours['growth'] / MiB:.1f} MiB"
          f"  [{ours['hwm_source']}]; stored sha256 matches")
    shutil.rmtree(ours_root, ignore_errors=True)

    # pypiserver
    pps_root = res.path("upload", "pypiserver")
    proc, port, _ = start_pypiserver(res, pps_root, "pypiserver-upload.log")
    try:
        warm = stream_upload(port, "/", small_wheel, None)
        assert warm.status == 200, (warm.status, warm.body[:300])
        theirs = measured_upload(proc.pid, port, "/", wheel, None)
        r2 = theirs["result"]
        if r2.status != 200:
            raise RuntimeError(f"pypiserver refused the upload: {r2.status} {r2.body[:300]!r}")
    finally:
        res.stop(proc)
    stored = pps_root / wheel.path.name
    h = hashlib.sha256()
    with open(stored, "rb") as f:
        while chunk := f.read(MiB):
            h.update(chunk)
    assert h.hexdigest() == wheel.sha256
    print("pypiserver (POST / with :action=file_upload, no auth):")
    print(f"   {r2.status} in {r2.seconds:.2f} s = {wheel.size / mb / r2.seconds:7.1f} MB/s;"
          f" server RSS {theirs['rss_before'] / MiB:.1f} MiB before, peak +{theirs['growth'] / MiB:.1f} MiB"
          f"  [{theirs['hwm_source']}]; stored sha256 matches")
    print(f"client peak RSS growth while sending: ours run +{ours['client_growth'] / MiB:.1f} MiB, "
          f"pypiserver run +{theirs['client_growth'] / MiB:.1f} MiB (the client streams too)")
    speed = r2.seconds / r.seconds
    mem_ratio = (ours["growth"] / theirs["growth"]) if theirs["growth"] > 0 else float("inf")
    print(f"ratios: speed ours/pypiserver {speed:.2f}x; memory growth ours/pypiserver "
          f"{mem_ratio:.2f}x")
    growth_mib = ours["growth"] / MiB
    report.target(f"upload {size_mib} MiB: our server's memory growth",
                  f"< {TARGET_UPLOAD_GROWTH_MIB:g} MiB",
                  f"+{growth_mib:.1f} MiB, {wheel.size / mb / r.seconds:.0f} MB/s "
                  f"(pypiserver +{theirs['growth'] / MiB:.1f} MiB, "
                  f"{wheel.size / mb / r2.seconds:.0f} MB/s)",
                  growth_mib < TARGET_UPLOAD_GROWTH_MIB)
    shutil.rmtree(res.root / "upload", ignore_errors=True)


# --------------------------------------------------------------------------------------
def print_table(report: Report) -> None:
    section("Targets")
    w1 = max(len(t.name) for t in report.targets)
    w2 = max(len(t.goal) for t in report.targets)
    w3 = max(len(t.measured) for t in report.targets)
    print(f"{'target':<{w1}}  {'goal':<{w2}}  {'measured':<{w3}}  result")
    print(f"{'-' * w1}  {'-' * w2}  {'-' * w3}  ------")
    for t in report.targets:
        print(f"{t.name:<{w1}}  {t.goal:<{w2}}  {t.measured:<{w3}}  {'PASS' if t.ok else 'FAIL'}")
    failed = sum(not t.ok for t in report.targets)
    print(f"\n{len(report.targets) - failed} passed, {failed} failed")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: fewer iterations, shorter runs, 20 MiB upload")
    parser.add_argument("--only", action="append", choices=["cold", "pages", "wheels", "upload"],
                        help="run only these parts (repeatable)")
    parser.add_argument("--upload-mib", type=int, default=None,
                        help="size of the upload's data file (default 200, --quick 20)")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--serve-child", nargs=2, metavar=("ROOT", "MAX_UPLOAD"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_child:
        return serve_child(args.serve_child[0], int(args.serve_child[1]))

    quick = args.quick
    parts = set(args.only or ["cold", "pages", "wheels", "upload"])
    signal.signal(signal.SIGTERM, _raise_interrupted)
    signal.signal(signal.SIGHUP, _raise_interrupted)
    res = Resources()
    report = Report()
    started = datetime.datetime.now().astimezone()
    print(f"pytest-privrepo benchmark, {started:%Y-%m-%d %H:%M %Z}"
          f"{' (--quick)' if quick else ''}")
    print(f"machine: {machine()}")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in versions().items()))
    print(f"temp root: {res.root} (removed at exit)")
    print(f"load average at start: {load()} (other work on the machine skews every figure)")
    try:
        if "cold" in parts:
            bench_cold_start(res, report, runs=8 if quick else 30, sub_runs=3 if quick else 10)
        if "pages" in parts:
            bench_throughput(res, report, sizes=[1, 200, 1000] if not quick else [1, 200],
                             duration=0.5 if quick else 3.0)
        if "wheels" in parts:
            bench_wheels(res, report, duration=0.5 if quick else 2.0)
        if "upload" in parts:
            bench_upload(res, report, args.upload_mib or (20 if quick else 200))
        print_table(report)
        print(f"\ntotal {(datetime.datetime.now().astimezone() - started).total_seconds():.0f} s,"
              f" load average at end: {load()}")
    except (KeyboardInterrupt, Interrupted) as exc:
        print(f"\ninterrupted ({str(exc) or 'Ctrl+C'}): cleaning up", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl+C must not skip cleanup
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        res.close()
    if args.check and not all(t.ok for t in report.targets):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
