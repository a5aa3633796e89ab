"""Resolution at scale: real clients resolve synthetic private dependency graphs.

    python bench/bench_resolve.py                          # 100 and 1,000 packages, all clients
    python bench/bench_resolve.py --sizes 100,1000,5000    # add 5,000 (long: see README)
    python bench/bench_resolve.py --clients uv,pip --repeat 3
    python bench/bench_resolve.py --servers floor,file-index,ours-http,native --env-dir /dev/shm

A graph of N packages ``pkg-00000`` ... (3 versions each, wheels only; package i depends on
``pkg-(2i+1)`` and ``pkg-(2i+2)`` plus one seeded-random later package, so resolving
``pkg-00000`` pulls in all N) is resolved by:

* uv: ``uv pip compile`` (cold cache: a fresh ClientEnv per run),
* pip: ``pip install --dry-run --ignore-installed --report`` (``--no-cache-dir``),
* Poetry 2.5.1: ``poetry lock`` of a project that depends on ``pkg-00000`` (fresh ClientEnv,
  so a cold cache),

against: the floor without HTTP (uv/pip ``--no-index --find-links DIR``), the same floor as
a ``file://`` simple index (``file-index``: our HTTP index's pages and sidecars written out
as a static tree, uv ``--default-index file://...``, pip ``--index-url file://...``), our
index over plain HTTP (no auth, like the peers) and over mTLS + Basic auth, pypiserver
(cached-dir backend), devpi-server (root/dev, anonymous read) and ``native``: granian
serving that static tree from Rust, no Python per request, the fastest a server can be.
All serve byte-identical files.

Why ``native``: issue 15 asks for uv and pip within 1.3x of their floor through our mTLS
index. A server that does no work per request still costs uv several times its floor: uv
writes every response into its HTTP cache (``strace -c`` of uv 0.13.9 resolving 1,000
packages, 2,000 responses: 2,019 mkdir at 0.65 ms each on this machine's disk, 2,002
rename). So the run shows that bound next to our figures; ``--env-dir /dev/shm`` moves the
clients' environments and caches off the disk to show how much is the client's own writes.

Every run is checked: the client must have resolved exactly N packages. Figures are the
client process's wall time (``CommandResult.duration``), the median of ``--repeat`` runs;
requests are those the server logged during the run ('-' for the floors and for granian,
whose access log does not cover its static routes). Our index is in this process (the
clients are subprocesses, so they do not compete with it for the GIL).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    add_cache_dir_option,
    chosen_cache_dir,
    Peer,
    Resources,
    StaticTree,
    banner,
    median,
    peer_versions,
    print_rows,
    run_main,
    section,
    start_devpi,
    start_native,
    start_pypiserver,
    write_static_tree,
)

VERSIONS = ("1.0.0", "1.1.0", "2.0.0")
AUTH = ("alice", "s3cret")
POETRY_VERSION = "2.5.1"
#: where Poetry is provisioned (--cache-dir; default: the plugin's user cache)
CACHE_DIR = ""

SERVERS = ("floor", "file-index", "ours-http", "ours-mtls", "pypiserver", "devpi", "native")
CLIENTS = ("uv", "pip", "poetry")
#: servers without HTTP (Poetry runs neither: see measure())
FLOORS = ("floor", "file-index")
#: servers whose request count is not known ('-'): no server, or granian's static routes
UNCOUNTED = FLOORS + ("native",)
#: issue 15's goals
GOAL_FLOOR = 1.3
GOAL_PYPISERVER = 10.0


def name(i: int) -> str:
    return f"pkg-{i:05d}"


def graph(n: int, seed: int = 15) -> list[list[int]]:
    """deps[i]: the packages i depends on (all > i, so no cycles; every node reachable)."""
    rng = random.Random(seed)
    deps = []
    for i in range(n):
        d = [c for c in (2 * i + 1, 2 * i + 2) if c < n]
        if i + 3 < n:
            extra = rng.randrange(i + 3, n)
            if extra not in d:
                d.append(extra)
        deps.append(d)
    return deps


@dataclass
class Measure:
    times: list[float] = field(default_factory=list)
    requests: list[int] = field(default_factory=list)
    note: str = ""

    @property
    def t(self) -> float:
        return median(self.times)


class Setup:
    """One graph size: our two indexes in process, the peers as children, a flat dir."""

    def __init__(self, res: Resources, n: int, servers: set[str]) -> None:
        from pytest_privrepo import Privrepo

        self.n = n
        self.res = res
        base = res.path(f"n{n}")
        self.repo = Privrepo(root=base / "ours")
        res.repos.append(self.repo)
        self.http = self.repo.index("http")
        # only when selected: add_file costs ~3 s per 1,000 packages here (16.3 s at 5,000)
        self.mtls = self.repo.index("mtls", auth=AUTH, tls="mtls") if "ours-mtls" in servers else None
        deps = graph(n)
        t0 = time.perf_counter()
        for i in range(n):
            for v in VERSIONS:
                self.http.add(name(i), v, requires=[f"{name(j)}>=1.0" for j in deps[i]])
        t_add = time.perf_counter() - t0
        files = self.http.files()
        t0 = time.perf_counter()
        if self.mtls is not None:
            for f in files:
                self.mtls.add_file(f.path)
        t_copy = time.perf_counter() - t0
        self.flat = res.path(f"n{n}", "flat")
        for f in files:
            os.link(f.path, self.flat / f.filename)
        print(f"  {n} packages x {len(VERSIONS)} versions = {len(files)} wheels: index.add {t_add:.1f} s"
              f" ({len(files) / t_add:.0f}/s)"
              + (f", add_file into the mTLS index {t_copy:.1f} s" if self.mtls is not None else ""),
              flush=True)
        self.tree: StaticTree | None = None
        if {"file-index", "native"} & servers:
            self.tree = write_static_tree(self.http, res.path(f"n{n}", "static"))
            print(f"  static tree: {self.tree.pages} pages, {self.tree.files} wheels + sidecars "
                  f"from ours-http in {self.tree.seconds:.1f} s", flush=True)
        self.peers: dict[str, Peer] = {}
        if "native" in servers:
            assert self.tree is not None
            p = start_native(self.res, self.tree, f"native-{n}.log")
            self.peers["native"] = p
            print(f"  native (granian) ready in {p.started_in:.2f} s", flush=True)
        if "pypiserver" in servers:
            p = start_pypiserver(self.res, self.flat, f"pypiserver-{n}.log")
            self.peers["pypiserver"] = p
            print(f"  pypiserver (cached-dir) ready in {p.started_in:.1f} s", flush=True)
        if "devpi" in servers:
            p = start_devpi(self.res, [f.dist for f in files], str(n))
            self.peers["devpi"] = p
            print(f"  devpi-server: devpi-import {p.extra['import_s']:.1f} s, ready after "
                  f"{p.started_in:.1f} s", flush=True)

    def close(self) -> None:
        for p in self.peers.values():
            self.res.stop(p.proc)
        self.res.repos.remove(self.repo)
        self.repo.close()
        shutil.rmtree(self.res.root / f"n{self.n}", ignore_errors=True)

    def target(self, server: str) -> Any:
        """What the client runners take as ``index=``: an Index or a URL string."""
        if server == "ours-http":
            return self.http
        if server == "ours-mtls":
            return self.mtls
        if server == "file-index":
            assert self.tree is not None
            return self.tree.simple_url
        return self.peers[server].url

    def count(self, server: str) -> int:
        if server == "ours-http":
            return len(self.http.log)
        if server == "ours-mtls" and self.mtls is not None:
            return len(self.mtls.log)
        if server in self.peers:
            return self.peers[server].requests()
        return 0


class Clients:
    """The client runners; each run gets a fresh ClientEnv (so a cold cache) under
    ``env_root``, removed after the run."""

    def __init__(self, res: Resources, clients: set[str], env_root: Path) -> None:
        from pytest_privrepo.clients import client_tool

        self.res = res
        self.env_root = env_root
        self.uv_exe = client_tool("uv").find() if "uv" in clients else None
        self.poetry_exe = (client_tool("poetry").provision(POETRY_VERSION, cache_dir=CACHE_DIR)
                           if "poetry" in clients else None)
        self.runs = 0

    def env(self, tag: str) -> Any:
        from pytest_privrepo.clients import ClientEnv

        self.runs += 1
        return ClientEnv(self.env_root / f"{self.runs:04d}-{tag}")

    def run(self, client: str, setup: Setup, server: str) -> float:
        """One resolution; returns the client's wall time. Raises unless N were resolved."""
        env = self.env(f"{client}-{server}-{setup.n}")
        try:
            if client == "uv":
                return self._uv(env, setup, server)
            if client == "pip":
                return self._pip(env, setup, server)
            return self._poetry(env, setup, server)
        finally:
            shutil.rmtree(env.root, ignore_errors=True)

    def _uv(self, env: Any, setup: Setup, server: str) -> float:
        from pytest_privrepo.clients import Uv

        uv = Uv(env, self.uv_exe)
        req = env.root / "requirements.in"
        req.write_text(name(0) + "\n")
        out = env.root / "requirements.txt"
        if server == "floor":
            args, extra = ["--no-index", "--find-links", str(setup.flat)], {}
        else:
            args, extra = uv.index_options(setup.target(server))
        result = uv.run("pip", "compile", str(req), "-o", str(out), "--python", sys.executable,
                        "--no-header", "--no-annotate", *args, extra_env=extra, timeout=7200)
        pins = [ln for ln in out.read_text().splitlines() if "==" in ln]
        if len(pins) != setup.n:
            raise RuntimeError(f"uv resolved {len(pins)} packages, expected {setup.n}")
        return result.duration

    def _pip(self, env: Any, setup: Setup, server: str) -> float:
        from pytest_privrepo.clients import Pip

        pip = Pip(env)
        if server == "floor":
            r = pip.install(name(0), no_index=True, find_links=[setup.flat], dry_run=True,
                            no_cache=True, timeout=7200)
        else:  # file-index: a file:// URL string, which IndexAccess accepts as --index-url
            r = pip.install(name(0), index=setup.target(server), dry_run=True, no_cache=True,
                            timeout=7200)
        if len(r.installed) != setup.n:
            raise RuntimeError(f"pip resolved {len(r.installed)} packages, expected {setup.n}")
        return r.command.duration

    def _poetry(self, env: Any, setup: Setup, server: str) -> float:
        from pytest_privrepo.clients import Poetry, PoetryProject

        poetry = Poetry(env, self.poetry_exe, timeout=7200)
        target = setup.target(server)
        url = target if isinstance(target, str) else target.url
        project = PoetryProject(env.root / "project", poetry)
        project.create("bench-app", package=False, style="pep621")
        project.add_source("bench", url, priority="primary")
        project.add_dependency(name(0), "*")
        if not isinstance(target, str):
            poetry.configure(target, "bench", repository=False)
        result = project.run("lock")
        locked = project.lock_result()
        if len(locked.packages) != setup.n:
            raise RuntimeError(f"poetry locked {len(locked.packages)} packages, expected {setup.n}")
        return result.duration


def fmt_s(t: float) -> str:
    if t != t:  # nan
        return "-"
    return f"{t:.2f} s" if t < 100 else f"{t:.0f} s"


def ratio(a: float, b: float) -> str:
    if a != a or b != b or b == 0:
        return "-"
    return f"{a / b:.2f}x"


def t_of(results: dict[tuple[int, str, str], Measure], n: int, client: str, server: str) -> float:
    """The median wall of one cell; nan when it was not measured (or skipped)."""
    return results.get((n, client, server), Measure()).t


def bench(res: Resources, args: argparse.Namespace, peer_lines: list[str]) -> int:
    from importlib.metadata import version

    sizes, clients, servers = args.sizes, args.clients, args.servers
    env_root, made_env_root = res.path("runs"), False
    if args.env_dir:
        try:
            env_root = Path(tempfile.mkdtemp(prefix="privrepo-bench-envs-", dir=args.env_dir))
        except OSError as exc:
            raise SystemExit(f"--env-dir {args.env_dir}: {exc.strerror or exc}") from None
        made_env_root = True
    try:
        cl = Clients(res, set(clients), env_root)
        versions = [f"pytest-privrepo {version('pytest-privrepo')}"]
        if "pip" in clients:
            versions.append(f"pip {version('pip')}")
        if cl.uv_exe is not None:
            out = subprocess.run([str(cl.uv_exe), "--version"], capture_output=True, text=True)
            versions.append(" ".join(out.stdout.split()[:2]) or f"uv at {cl.uv_exe}")
        if "poetry" in clients:
            versions.append(f"Poetry {POETRY_VERSION}")
        banner("pytest-privrepo resolution benchmark", versions + peer_lines)
        print(f"client environments (and caches) under: {env_root}", flush=True)
        results = measure(res, args, cl)
    finally:
        if made_env_root:
            shutil.rmtree(env_root, ignore_errors=True)
    report(results, sizes, clients, servers)
    return 0


def measure(res: Resources, args: argparse.Namespace, cl: Clients) -> dict[tuple[int, str, str], Measure]:
    sizes, clients, servers = args.sizes, args.clients, args.servers
    results: dict[tuple[int, str, str], Measure] = {}
    budget = args.budget
    for n in sizes:
        section(f"{n} packages")
        setup = Setup(res, n, set(servers))
        try:
            for client in clients:
                for server in servers:
                    if server in FLOORS and client == "poetry":
                        # Poetry has no --find-links, and Poetry 2.5.1 `poetry lock` with a
                        # file:// source fails ("All attempts to connect to  failed.",
                        # tried by hand 2026-12-01): no floor for Poetry
                        continue
                    m = results.setdefault((n, client, server), Measure())
                    prev = results.get((sizes[sizes.index(n) - 1], client, server)) if sizes.index(n) else None
                    if prev and prev.times and prev.t * n / prev_n(sizes, n) > budget:
                        m.note = (f"skipped: {fmt_s(prev.t)} at {prev_n(sizes, n):,}, linear estimate "
                                  f"{fmt_s(prev.t * n / prev_n(sizes, n))} > --budget {budget:.0f} s")
                        print(f"  {client:6} {server:10} {m.note}", flush=True)
                        continue
                    reps = args.repeat if n <= 1000 else 1
                    for _ in range(reps):
                        before = setup.count(server)
                        t = cl.run(client, setup, server)
                        time.sleep(0.3)  # let the peers' access logs reach the file
                        m.times.append(t)
                        m.requests.append(setup.count(server) - before)
                        if t > budget:
                            break
                    shown = "-" if server in UNCOUNTED else str(m.requests[-1])
                    fell = (f"  ({m.requests[-1]} reached granian's Python app)"
                            if server == "native" and m.requests[-1] else "")
                    print(f"  {client:6} {server:10} {fmt_s(m.t):>9}  runs "
                          + ", ".join(f"{x:.2f}" for x in m.times)
                          + f"  requests {shown}{fell}", flush=True)
        finally:
            setup.close()
    return results


def report(results: dict[tuple[int, str, str], Measure], sizes: list[int], clients: list[str],
           servers: list[str]) -> None:
    """The results, growth and target tables (markdown, pasted into bench/README.md)."""
    section("Results (median wall time of the client process)")
    # reference columns, only for the references that were run: (header, reference, whose rows)
    refs = [("x floor", "floor", "all")]
    if "file-index" in servers:
        refs.append(("x file-index", "file-index", "all"))
    if "native" in servers:
        refs.append(("ours / native", "native", "ours"))
    peer_cols = [(f"{p} / ours", p) for p in ("pypiserver", "devpi") if p in servers]
    rows = []
    for n in sizes:
        for client in clients:
            for server in servers:
                m = results.get((n, client, server))
                if m is None:
                    continue
                if not m.times:
                    rows.append([f"{n:,}", client, server, m.note] + [""] * (2 + len(refs) + len(peer_cols)))
                    continue
                ours = server.startswith("ours")
                cells = [f"{n:,}", client, server, fmt_s(m.t), str(len(m.times)),
                         "-" if server in UNCOUNTED else f"{m.requests[-1]:,}"]
                for _, ref, whose in refs:
                    if whose == "ours" and not ours:
                        cells.append("")
                    else:
                        cells.append("1.00x" if server == ref else ratio(m.t, t_of(results, n, client, ref)))
                for _, peer in peer_cols:
                    cells.append(ratio(t_of(results, n, client, peer), m.t) if ours else "")
                rows.append(cells)
    print_rows(["packages", "client", "server", "wall", "runs", "requests"]
               + [h for h, _, _ in refs] + [h for h, _ in peer_cols], rows)
    if "native" in servers:
        print("native = granian serving the static tree from Rust (no Python per request); its "
              "requests are '-': granian's --access-log does not log its static routes.")
    if "file-index" in servers:
        print("file-index = the floor as a file:// simple index (same pages, wheels and sidecars "
              "as ours-http, no server); 'x floor' stays relative to --find-links.")

    if len(sizes) > 1:
        section("Growth (time ratio between sizes; linear = the size ratio)")
        rows = []
        for client in clients:
            for server in servers:
                ts = [t_of(results, n, client, server) for n in sizes]
                if all(t != t for t in ts):
                    continue
                cells = [client, server] + [fmt_s(t) for t in ts]
                for a, b, t1, t2 in zip(sizes, sizes[1:], ts, ts[1:]):
                    cells.append(f"{ratio(t2, t1)} (linear {b / a:g}x)")
                rows.append(cells)
        print_rows(["client", "server"] + [f"{n:,}" for n in sizes]
                   + [f"{a:,} -> {b:,}" for a, b in zip(sizes, sizes[1:])], rows)

    section("Targets (issue 15: at 1,000 packages)")
    rows = targets(results, sizes, clients, servers)
    if rows:
        print_rows(["packages", "target", "goal", "measured", "result"], rows)
        if "native" in servers:
            print("The 'native vs floor' rows are the bound: no server can do better than one "
                  "that runs no code per request, so a goal that native misses is out of any "
                  "server's reach.")
    else:
        print("(no target measurable with these --clients/--servers: they need floor with "
              "ours-mtls, ours-http or native, or pypiserver with ours-*)")


def targets(results: dict[tuple[int, str, str], Measure], sizes: list[int], clients: list[str],
            servers: list[str]) -> list[list[str]]:
    """Rows of the target table, for every size and every pair that was measured."""
    def verdict(value: float, ok: bool) -> str:
        return "-" if value != value else ("PASS" if ok else "FAIL")

    rows = []
    ours = [s for s in ("ours-mtls", "ours-http") if s in servers]
    for n in sizes:
        for client in [c for c in clients if c in ("uv", "pip")]:
            fl = t_of(results, n, client, "floor")
            nat = t_of(results, n, client, "native")
            for server in ours + (["native"] if "native" in servers else []):
                t = t_of(results, n, client, server)
                if fl == fl and t == t:
                    rows.append([f"{n:,}", f"{client} via {server} vs floor", f"<= {GOAL_FLOOR:g}x",
                                 f"{ratio(t, fl)} ({fmt_s(t)} vs {fmt_s(fl)})",
                                 verdict(t / fl, t / fl <= GOAL_FLOOR)])
            for server in ours:
                t = t_of(results, n, client, server)
                if nat == nat and t == t:
                    rows.append([f"{n:,}", f"{client} via {server} vs native", "(reference)",
                                 f"{ratio(t, nat)} ({fmt_s(t)} vs {fmt_s(nat)})", "-"])
        for client in clients:
            pps = t_of(results, n, client, "pypiserver")
            for server in ours:
                t = t_of(results, n, client, server)
                if pps == pps and t == t:
                    rows.append([f"{n:,}", f"{client} via {server} vs pypiserver (pypiserver / ours)",
                                 f">= {GOAL_PYPISERVER:g}x", f"{ratio(pps, t)} ({fmt_s(pps)} vs {fmt_s(t)})",
                                 verdict(pps / t, pps / t >= GOAL_PYPISERVER)])
    return rows


def prev_n(sizes: list[int], n: int) -> int:
    return sizes[sizes.index(n) - 1]


def choices(value: str, allowed: tuple[str, ...], option: str) -> list[str]:
    """A comma-separated selection, in ``allowed``'s order; unknown names are an error."""
    chosen = [v.strip() for v in value.split(",") if v.strip()]
    unknown = [v for v in chosen if v not in allowed]
    if unknown or not chosen:
        raise SystemExit(f"{option}: {'unknown ' + ', '.join(unknown) if unknown else 'empty'}; "
                         f"choose from {','.join(allowed)}")
    return [a for a in allowed if a in chosen]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100,1000")
    parser.add_argument("--clients", default=",".join(CLIENTS))
    parser.add_argument("--servers", default=",".join(SERVERS),
                        help=f"comma-separated, of {','.join(SERVERS)} (default: all)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per cell up to 1,000 packages "
                        "(1 above); the median is reported")
    parser.add_argument("--budget", type=float, default=900.0,
                        help="skip a cell whose linear estimate from the previous size exceeds "
                             "this many seconds (default 900)")
    parser.add_argument("--env-dir", default=None, metavar="DIR",
                        help="create the clients' environments (and so their caches) in a new "
                             "directory under DIR, e.g. /dev/shm to take the client's cache writes "
                             "off the disk; removed at exit (default: the benchmark's temp root)")
    add_cache_dir_option(parser)
    args = parser.parse_args(argv)
    try:
        args.sizes = sorted({int(x) for x in args.sizes.split(",") if x.strip()})
    except ValueError:
        raise SystemExit(f"--sizes: expected comma-separated package counts, got {args.sizes!r}") from None
    if not args.sizes or min(args.sizes) < 1:
        raise SystemExit(f"--sizes: expected package counts >= 1, got {args.sizes}")
    if args.repeat < 1:
        raise SystemExit(f"--repeat: expected >= 1, got {args.repeat}")
    args.clients = choices(args.clients, CLIENTS, "--clients")
    args.servers = choices(args.servers, SERVERS, "--servers")
    if args.env_dir is not None and not os.path.isdir(args.env_dir):
        raise SystemExit(f"--env-dir {args.env_dir}: not a directory")
    peer_lines = peer_versions(args.servers)  # a selected peer that is missing: exit here
    global CACHE_DIR
    CACHE_DIR = chosen_cache_dir(args)
    return run_main(lambda res: bench(res, args, peer_lines))


if __name__ == "__main__":
    sys.exit(main())
