"""Shared pieces of the scale benchmarks (bench_resolve, bench_concurrency, bench_harness,
bench_big_index): run banner, cleanup, peers (pypiserver, devpi-server), our index in a
child process, and small statistics helpers.

Why a child process for our index: the benchmark's own client threads and the server
would otherwise share one interpreter lock, so a server figure would include the client's
cost, and the server's memory (RSS) could not be told apart from the client's.

Cleanup and the run banner come from :mod:`bench_index` (``Resources``, ``machine``,
``load``), so every benchmark removes its children and temporary root the same way.
Only loopback addresses are used.

The peers are optional installs (the ``bench`` extra): :func:`peer_versions` checks the
selected ones before anything starts, so a missing one is one line naming the install
command, not a traceback half-way through a run.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_index import (  # noqa: E402  (bench/ is not a package)
    HOST,
    PYTHON,
    Resources,
    free_port,
    load,
    machine,
    pct,
    poll_until_ok,
    proc_status,
    read_line,
    section,
)

__all__ = [
    "HOST",
    "PEER_PACKAGES",
    "PYTHON",
    "Interrupted",
    "OurChild",
    "Peer",
    "Resources",
    "StaticTree",
    "banner",
    "free_port",
    "load",
    "median",
    "pct",
    "peer_versions",
    "print_rows",
    "proc_status",
    "read_line",
    "run_main",
    "section",
    "start_devpi",
    "start_native",
    "start_our_child",
    "start_peer",
    "start_pypiserver",
    "timed",
    "uptime",
    "write_static_tree",
]

MiB = 1024 * 1024


class Interrupted(BaseException):
    """SIGTERM / SIGHUP, turned into an exception so ``finally`` blocks run."""


def _on_signal(signum: int, frame: Any) -> None:
    raise Interrupted(f"signal {signal.Signals(signum).name}")


def uptime() -> str:
    """``uptime``'s line, as the brief asks the load to be noted in the README."""
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return f"load average: {load()}"


def banner(title: str, versions: Sequence[str] = ()) -> None:
    started = datetime.datetime.now().astimezone()
    print(f"{title}, {started:%Y-%m-%d %H:%M %Z}")
    print(f"machine: {machine()}")
    if versions:
        print("versions: " + ", ".join(versions))
    print(f"uptime at start: {uptime()}  (other work on the machine skews every figure)", flush=True)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


@contextlib.contextmanager
def timed() -> Iterator[list[float]]:
    """``with timed() as t: ...`` then ``t[0]`` is the wall time in seconds."""
    out: list[float] = []
    t0 = time.perf_counter()
    try:
        yield out
    finally:
        out.append(time.perf_counter() - t0)


def run_main(body: Callable[[Resources], int]) -> int:
    """Run ``body`` with a fresh :class:`Resources`; clean up on success, error, Ctrl+C,
    SIGTERM and SIGHUP."""
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)
    res = Resources()
    t0 = time.perf_counter()
    try:
        rc = body(res)
        print(f"\ntotal {time.perf_counter() - t0:.0f} s; uptime at end: {uptime()}")
        return rc
    except (KeyboardInterrupt, Interrupted) as exc:
        print(f"\ninterrupted ({str(exc) or 'Ctrl+C'}): cleaning up", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        res.close()


# --------------------------------------------------------------------------------------
# Result rows
# --------------------------------------------------------------------------------------
def print_rows(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """A markdown-compatible table (pasted into bench/README.md as printed)."""
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) if rows else len(str(h))
              for i, h in enumerate(header)]
    line = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    print(line(header))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print(line(r))
    sys.stdout.flush()


# --------------------------------------------------------------------------------------
# Peers
# --------------------------------------------------------------------------------------
#: peer name -> (distributions it needs, the install command named when one is missing)
PEER_PACKAGES: dict[str, tuple[tuple[str, ...], str]] = {
    "pypiserver": (("pypiserver", "watchdog"), "pip install pypiserver watchdog"),
    "devpi": (("devpi-server",), "pip install devpi-server"),
    "native": (("granian",), "pip install granian"),
}


def peer_versions(peers: Sequence[str]) -> list[str]:
    """``["pypiserver 2.4.2", ...]`` for the selected peers that :data:`PEER_PACKAGES`
    knows; raises SystemExit naming the pip command when one is not installed.

    Why up front: the banner used to call ``version()`` for every peer, so a run that
    selected none of them still died with PackageNotFoundError when one was absent, and a
    selected one that was absent would only fail after minutes of building the graph.
    """
    from importlib.metadata import PackageNotFoundError, version

    found: list[str] = []
    missing: list[str] = []
    for peer in peers:
        if peer not in PEER_PACKAGES:
            continue
        dists, command = PEER_PACKAGES[peer]
        try:
            found.append(f"{dists[0]} {version(dists[0])}")
            for extra in dists[1:]:
                version(extra)
        except PackageNotFoundError:
            missing.append(f"--servers {peer} needs {' and '.join(dists)} in this interpreter "
                           f"({PYTHON}): {command}")
    if missing:
        raise SystemExit("\n".join(missing) + "\n(or pip install -e '.[bench]')")
    return found


@dataclass
class Peer:
    """A peer index server running as a child: its simple URL and how to count requests."""

    name: str
    url: str
    proc: subprocess.Popen
    log: Path
    count_line: Callable[[str], bool]
    started_in: float
    extra: dict[str, Any] = field(default_factory=dict)

    def requests(self) -> int:
        """Requests the peer logged so far (its own access log lines)."""
        with contextlib.suppress(OSError), open(self.log, errors="replace") as f:
            return sum(1 for line in f if self.count_line(line))
        return 0


def start_pypiserver(res: Resources, directory: Path, log_name: str = "pypiserver.log") -> Peer:
    """pypiserver 2.x over ``directory`` with the ``cached-dir`` backend (needs watchdog).

    cached-dir is what pypiserver's docs recommend for large directories; the default
    ``auto`` falls back to ``simple-dir`` without watchdog, which rescans the directory
    on every request (~20 req/s at 1,000 files, see bench/README.md) and would make a
    5,000-package resolution take hours. No auth: authenticated pypiserver needs passlib.
    ``-v`` makes it log one line per request, which is how requests are counted.
    """
    peer_versions(["pypiserver"])  # watchdog: a clear exit, not an ImportError
    return start_peer(
        res, "pypiserver",
        lambda port: [PYTHON, "-m", "pypiserver", "run", "-v", "-p", str(port), "-i", HOST,
                      "-a", ".", "-P", ".", "--disable-fallback", "--backend", "cached-dir",
                      str(directory)],
        log_name, lambda line: line.startswith("<LocalRequest: GET "), timeout=120)


def start_peer(res: Resources, name: str, argv_for: Callable[[int], list[str]], log_name: str,
               count_line: Callable[[str], bool], *, timeout: float) -> Peer:
    """Start a peer on a free port (``argv_for(port)``) until ``/simple/`` answers; a lost
    port race (another process took the port first) is retried on another port."""
    for _attempt in range(3):
        port = free_port()
        t0 = time.perf_counter()
        proc = res.spawn(argv_for(port), log_name=log_name)
        try:
            poll_until_ok(proc, port, "/simple/", timeout=timeout)
        except RuntimeError:
            res.stop(proc)
            continue
        return Peer(name, f"http://{HOST}:{port}/simple/", proc, res.root / log_name,
                    count_line, time.perf_counter() - t0)
    raise RuntimeError(f"{name} did not start, see {res.root / log_name}")


def _devpi_export(export: Path, wheels: Sequence[Any]) -> None:
    """A devpi-export directory (dumpversion 2) holding ``wheels`` in index root/dev.

    Uploading through devpi's HTTP API costs ~0.4-0.5 s per file here (each upload is one
    serialised write transaction), i.e. hours for 15,000 files; ``devpi-import`` of an
    export loads the same files in seconds. The layout is the one devpi-export 6.x writes
    (checked against a real export of uploaded files).
    """
    from importlib.metadata import version

    projects: dict[str, dict[str, Any]] = {}
    files = []
    stamp = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime())
    when = list(time.gmtime()[:6])
    for d in wheels:
        name = d.canonical_name
        meta = {"name": name, "version": d.version, "metadata_version": "2.1",
                "requires_python": d.requires_python or "",
                "requires_dist": _requires_dist(d.metadata)}
        projects.setdefault(name, {})[d.version] = meta
        rel = f"root/dev/{name}/{d.version}/{d.filename}"
        target = export / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        os.link(d.path, target) if _same_fs(d.path, export) else target.write_bytes(d.path.read_bytes())
        files.append({
            "version": d.version, "type": "releasefile", "projectname": name, "relpath": rel,
            "entrymapping": {"last_modified": stamp, "hash_spec": f"sha256={d.sha256}",
                             "hashes": {"sha256": d.sha256}, "project": name, "version": d.version},
            "log": [{"what": "upload", "who": "root", "when": when, "dst": "root/dev"}],
        })
    data = {
        "dumpversion": "2", "pythonversion": list(sys.version_info),
        "devpi_server": version("devpi-server"), "users": {},
        "indexes": {"root/dev": {
            "indexconfig": {"volatile": True, "acl_upload": ["root"], "bases": [], "type": "stage",
                            "mirror_whitelist": [], "mirror_whitelist_inheritance": "intersection",
                            "acl_toxresult_upload": [":ANONYMOUS:"]},
            "projects": projects, "files": files}},
    }
    (export / "dataindex.json").write_text(json.dumps(data))


def _same_fs(a: Path, b: Path) -> bool:
    try:
        return os.stat(a).st_dev == os.stat(b).st_dev
    except OSError:
        return False


def _requires_dist(metadata: bytes | None) -> list[str]:
    if not metadata:
        return []
    return [line.split(":", 1)[1].strip() for line in metadata.decode().splitlines()
            if line.startswith("Requires-Dist:")]


def start_devpi(res: Resources, wheels: Sequence[Any], tag: str) -> Peer:
    """devpi-server (standalone, no root/pypi mirror) serving ``wheels`` in root/dev,
    anonymous read; populated with devpi-import. ``started_in`` = import + start."""
    bindir = Path(PYTHON).parent
    base = res.path(f"devpi-{tag}")
    export, serverdir = base / "export", base / "server"
    _devpi_export(export, wheels)
    t0 = time.perf_counter()
    imp = subprocess.run([str(bindir / "devpi-import"), "--serverdir", str(serverdir),
                          "--no-root-pypi", "--root-passwd", "rootpw", str(export)],
                         capture_output=True, text=True, env=res.child_env, cwd=res.root)
    if imp.returncode != 0:
        raise RuntimeError(f"devpi-import failed:\n{imp.stdout[-3000:]}\n{imp.stderr[-3000:]}")
    import_s = time.perf_counter() - t0
    port = free_port()
    log_name = f"devpi-{tag}.log"
    proc = res.spawn([str(bindir / "devpi-server"), "--serverdir", str(serverdir), "--host", HOST,
                      "--port", str(port)], log_name=log_name)
    poll_until_ok(proc, port, "/root/dev/+simple/", timeout=300)
    return Peer("devpi", f"http://{HOST}:{port}/root/dev/+simple/", proc, res.root / log_name,
                lambda line: "] GET " in line, time.perf_counter() - t0,
                extra={"import_s": import_s})


# --------------------------------------------------------------------------------------
# A static copy of an index: the file:// floor and what the native peer serves
# --------------------------------------------------------------------------------------
@dataclass
class StaticTree:
    """An index written out as files: ``<root>/simple/<project>/index.html`` (the pages
    our index served, byte for byte) and ``<root>/files/<project>/<file>`` (hard links to
    the stored wheels) plus their ``.metadata`` sidecars.

    ``routes`` are the tree's top-level URL paths (``/simple``, ``/files``), which a
    static server mounts one directory each.
    """

    root: Path
    routes: tuple[str, ...]
    pages: int
    files: int
    seconds: float

    @property
    def simple_url(self) -> str:
        """The ``file://`` URL of the simple API root (uv ``--default-index``, pip
        ``--index-url``)."""
        return (self.root / "simple").as_uri() + "/"


def write_static_tree(index: Any, root: Path) -> StaticTree:
    """Write ``index`` (an in-process, plain-HTTP, unauthenticated Index) as a static tree.

    The pages are fetched over one keep-alive connection from the running index, so the
    tree holds exactly what the index serves (relative links, ``data-core-metadata``,
    hashes); the sidecars are fetched too and checked against the page's metadata hash.
    Every file lands at its URL path below the index's base path, so the pages' relative
    links (``../../files/...``) resolve inside the tree, for ``file://`` and over HTTP.
    """
    t0 = time.perf_counter()
    base = urlsplit(index.base_url).path.rstrip("/")

    def local(url: str) -> Path:
        path = urlsplit(url).path
        if not path.startswith(base + "/"):
            raise RuntimeError(f"{url} is outside the index's base path {base or '/'}")
        return root / unquote(path[len(base) + 1:])

    conn = http.client.HTTPConnection(index.host, index.port, timeout=60)

    def get(url: str) -> bytes:
        conn.request("GET", urlsplit(url).path)
        resp = conn.getresponse()
        body = resp.read()
        if resp.status != 200:
            raise RuntimeError(f"GET {url}: {resp.status} while writing the static tree")
        return body

    pages = files = 0
    try:
        for url in [index.url] + [f"{index.url}{p}/" for p in index.projects]:
            target = local(url) / "index.html"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(get(url))
            pages += 1
        for stored in index.files():
            url = index.file_url(stored)
            target = local(url)
            target.parent.mkdir(parents=True, exist_ok=True)
            if _same_fs(stored.path, target.parent):
                os.link(stored.path, target)
            else:
                target.write_bytes(Path(stored.path).read_bytes())
            files += 1
            if stored.metadata_sha256:
                meta = get(url + ".metadata")
                if hashlib.sha256(meta).hexdigest() != stored.metadata_sha256:
                    raise RuntimeError(f"{url}.metadata does not match its page's hash")
                target.with_name(target.name + ".metadata").write_bytes(meta)
    finally:
        conn.close()
    routes = tuple(sorted("/" + p.name for p in root.iterdir() if p.is_dir()))
    return StaticTree(root, routes, pages, files, time.perf_counter() - t0)


NATIVE_APP = '''"""The native peer's WSGI app: only requests outside its static routes reach it."""


def app(environ, start_response):
    start_response("404 Not Found", [("Content-Length", "0")])
    return [b""]
'''


def start_native(res: Resources, tree: StaticTree, log_name: str = "native.log") -> Peer:
    """granian serving ``tree`` from Rust: the fastest a server for these pages can be.

    Every route of the tree is a ``--static-path-route`` (directories answer with their
    ``index.html``), so no request of a resolution runs Python; anything else reaches a
    trivial WSGI app that answers 404. One worker, loopback, a child in its own session,
    stopped like the other peers.

    Requests: granian 2.8.9's ``--access-log`` logs only what the Python app answers, not
    the static routes (checked by hand: a static GET leaves no line). So
    :meth:`Peer.requests` counts the requests that fell through to Python, which in a
    resolution should be none; the benchmark shows '-' as the request count.
    """
    exe = Path(PYTHON).parent / "granian"
    if not exe.exists():
        raise SystemExit(f"--servers native needs granian next to {PYTHON}: pip install granian")
    app_dir = res.path("native-app")
    (app_dir / "privrepo_native_app.py").write_text(NATIVE_APP)
    mounts: list[str] = []
    for route in tree.routes:
        mounts += ["--static-path-route", route, "--static-path-mount", str(tree.root / route[1:])]
    return start_peer(
        res, "native",
        lambda port: [str(exe), "--interface", "wsgi", "--host", HOST, "--port", str(port),
                      "--workers", "1", "--no-ws", "--access-log", *mounts,
                      "--static-path-dir-to-file", "index.html", "--working-dir", str(app_dir),
                      "privrepo_native_app:app"],
        log_name, lambda line: '"GET ' in line, timeout=60)


# --------------------------------------------------------------------------------------
# Our index in a child process
# --------------------------------------------------------------------------------------
@dataclass
class OurChild:
    """``python bench/_common.py serve ...``: Privrepo + one index, commands over stdin."""

    proc: subprocess.Popen
    info: dict[str, Any]

    def call(self, command: dict[str, Any], timeout: float = 600) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps(command) + "\n").encode())
        self.proc.stdin.flush()
        return json.loads(read_line(self.proc, timeout))


def start_our_child(res: Resources, *, tls: str | None, auth: bool, log_name: str) -> OurChild:
    proc = res.spawn([PYTHON, os.path.abspath(__file__), "serve", str(res.path(log_name + ".d")),
                      tls or "none", "auth" if auth else "noauth"], log_name=log_name,
                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    return OurChild(proc, json.loads(read_line(proc, 60)))


def _serve(root: str, tls: str, auth: str) -> int:
    """The child: one index; JSON commands on stdin, one JSON answer per line on stdout.

    ``{"add": N, "versions": V}`` adds projects bench-NNNNN (timed, RSS after);
    ``{"stats": true}`` answers request count and RSS; EOF stops the server.
    """
    import resource

    from pytest_privrepo import Privrepo

    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    with Privrepo(root=root) as repo:
        idx = repo.index("bench", auth=("alice", "pw") if auth == "auth" else None,
                         tls=None if tls == "none" else tls)
        have = 0
        print(json.dumps({"url": idx.url, "port": idx.port, "pid": os.getpid(),
                          "ca_cert": idx.ca_cert, "client_cert": idx.client_cert,
                          "auth": list(idx.auth) if idx.auth else None,
                          "rss": proc_status(os.getpid())["VmRSS"]}), flush=True)
        for line in sys.stdin:
            cmd = json.loads(line)
            if "add" in cmd:
                versions = [f"1.{v}.0" for v in range(int(cmd.get("versions", 1)))]
                t0 = time.perf_counter()
                c0 = time.process_time()
                for i in range(have, have + int(cmd["add"])):
                    for v in versions:
                        idx.add(f"bench-{i:05d}", v)
                secs = time.perf_counter() - t0
                cpu = time.process_time() - c0
                have += int(cmd["add"])
                st = proc_status(os.getpid())
                print(json.dumps({"seconds": secs, "cpu": cpu, "projects": have, "rss": st["VmRSS"],
                                  "hwm": st["VmHWM"],
                                  "maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}),
                      flush=True)
            elif "profile_add" in cmd:
                import cProfile
                import io
                import pstats

                prof = cProfile.Profile()
                prof.enable()
                for i in range(have, have + int(cmd["profile_add"])):
                    idx.add(f"bench-{i:05d}", "1.0.0")
                prof.disable()
                have += int(cmd["profile_add"])
                buf = io.StringIO()
                pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(25)
                print(json.dumps({"profile": buf.getvalue(), "projects": have}), flush=True)
            else:
                st = proc_status(os.getpid())
                print(json.dumps({"requests": len(idx.log), "rss": st["VmRSS"], "hwm": st["VmHWM"],
                                  "threads": threading.active_count(),
                                  "errors": sum(1 for h in idx.log if h.status >= 500)}), flush=True)
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "serve":
        sys.exit(_serve(*sys.argv[2:5]))
    raise SystemExit("usage: python bench/_common.py serve ROOT none|tls|mtls auth|noauth")


def add_cache_dir_option(parser: Any) -> None:
    """``--cache-dir``: where the benchmarks find or provision clients (Poetry), as the
    plugin's ``--privrepo-cache-dir``."""
    parser.add_argument("--cache-dir", default=None,
                        help="cache of provisioned clients (default: $PRIVREPO_CACHE_DIR or the "
                             "user cache, like the plugin's --privrepo-cache-dir)")


def chosen_cache_dir(args: Any) -> str:
    """The ``--cache-dir`` given, else the plugin's default (user cache or $PRIVREPO_CACHE_DIR)."""
    from pytest_privrepo.clients import default_cache_dir

    return args.cache_dir or str(default_cache_dir())
