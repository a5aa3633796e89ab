"""Resolution at scale: real clients resolve synthetic private dependency graphs.

    python bench/bench_resolve.py                          # 100 and 1,000 packages, all clients
    python bench/bench_resolve.py --sizes 100,1000,5000    # add 5,000 (long: see README)
    python bench/bench_resolve.py --clients uv,pip --repeat 3

A graph of N packages ``pkg-00000`` ... (3 versions each, wheels only; package i depends on
``pkg-(2i+1)`` and ``pkg-(2i+2)`` plus one seeded-random later package, so resolving
``pkg-00000`` pulls in all N) is resolved by:

* uv: ``uv pip compile`` (cold cache: a fresh ClientEnv per run),
* pip: ``pip install --dry-run --ignore-installed --report`` (``--no-cache-dir``),
* Poetry 2.5.1: ``poetry lock`` of a project that depends on ``pkg-00000`` (fresh ClientEnv,
  so a cold cache),

against: the floor without HTTP (uv/pip ``--no-index --find-links DIR``), our index over
plain HTTP (no auth, like the peers) and over mTLS + Basic auth, pypiserver (cached-dir
backend) and devpi-server (root/dev, anonymous read), all serving byte-identical files.

Every run is checked: the client must have resolved exactly N packages. Figures are the
client process's wall time (``CommandResult.duration``), the median of ``--repeat`` runs;
requests are those the server logged during the run. Our index is in this process (the
clients are subprocesses, so they do not compete with it for the GIL).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
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
    banner,
    median,
    print_rows,
    run_main,
    section,
    start_devpi,
    start_pypiserver,
)

VERSIONS = ("1.0.0", "1.1.0", "2.0.0")
AUTH = ("alice", "s3cret")
POETRY_VERSION = "2.5.1"
#: where Poetry is provisioned (--cache-dir; default: the plugin's user cache)
CACHE_DIR = ""

SERVERS = ("floor", "ours-http", "ours-mtls", "pypiserver", "devpi")
CLIENTS = ("uv", "pip", "poetry")


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
        self.mtls = self.repo.index("mtls", auth=AUTH, tls="mtls")
        deps = graph(n)
        t0 = time.perf_counter()
        for i in range(n):
            for v in VERSIONS:
                self.http.add(name(i), v, requires=[f"{name(j)}>=1.0" for j in deps[i]])
        t_add = time.perf_counter() - t0
        files = self.http.files()
        t0 = time.perf_counter()
        for f in files:
            self.mtls.add_file(f.path)
        t_copy = time.perf_counter() - t0
        self.flat = res.path(f"n{n}", "flat")
        for f in files:
            os.link(f.path, self.flat / f.filename)
        print(f"  {n} packages x {len(VERSIONS)} versions = {len(files)} wheels: index.add {t_add:.1f} s"
              f" ({len(files) / t_add:.0f}/s), add_file into the mTLS index {t_copy:.1f} s", flush=True)
        self.peers: dict[str, Peer] = {}
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
        return self.peers[server].url

    def count(self, server: str) -> int:
        if server == "ours-http":
            return len(self.http.log)
        if server == "ours-mtls":
            return len(self.mtls.log)
        if server in self.peers:
            return self.peers[server].requests()
        return 0


class Clients:
    def __init__(self, res: Resources, clients: set[str]) -> None:
        from pytest_privrepo.clients import client_tool

        self.res = res
        self.uv_exe = client_tool("uv").find()
        self.poetry_exe = (client_tool("poetry").provision(POETRY_VERSION, cache_dir=CACHE_DIR)
                           if "poetry" in clients else None)
        self.runs = 0

    def env(self, tag: str) -> Any:
        from pytest_privrepo.clients import ClientEnv

        self.runs += 1
        return ClientEnv(self.res.root / "runs" / f"{self.runs:04d}-{tag}")

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
        else:
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


def bench(res: Resources, args: argparse.Namespace) -> int:
    from importlib.metadata import version

    sizes = [int(s) for s in args.sizes.split(",")]
    clients = [c for c in CLIENTS if c in args.clients.split(",")]
    servers = [s for s in SERVERS if s in args.servers.split(",")]
    banner("pytest-privrepo resolution benchmark",
           [f"pytest-privrepo {version('pytest-privrepo')}", f"pip {version('pip')}",
            f"uv {version('uv')}", f"Poetry {POETRY_VERSION}", f"pypiserver {version('pypiserver')}",
            f"devpi-server {version('devpi-server')}"])
    cl = Clients(res, set(clients))
    results: dict[tuple[int, str, str], Measure] = {}
    budget = args.budget
    for n in sizes:
        section(f"{n} packages")
        setup = Setup(res, n, set(servers))
        try:
            for client in clients:
                for server in servers:
                    if server == "floor" and client == "poetry":
                        continue  # Poetry has no --find-links: no floor
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
                    print(f"  {client:6} {server:10} {fmt_s(m.t):>9}  runs "
                          + ", ".join(f"{x:.2f}" for x in m.times)
                          + f"  requests {m.requests[-1] if server != 'floor' else '-'}", flush=True)
        finally:
            setup.close()

    section("Results (median wall time of the client process)")
    rows = []
    for n in sizes:
        for client in clients:
            floor = results.get((n, client, "floor"), Measure()).t
            pps = results.get((n, client, "pypiserver"), Measure()).t
            dev = results.get((n, client, "devpi"), Measure()).t
            for server in servers:
                m = results.get((n, client, server))
                if m is None:
                    continue
                if not m.times:
                    rows.append([f"{n:,}", client, server, m.note, "", "", "", "", ""])
                    continue
                ours = server.startswith("ours")
                rows.append([f"{n:,}", client, server, fmt_s(m.t), str(len(m.times)),
                             "-" if server == "floor" else f"{m.requests[-1]:,}",
                             ratio(m.t, floor) if server != "floor" else "1.00x",
                             ratio(pps, m.t) if ours else "", ratio(dev, m.t) if ours else ""])
    print_rows(["packages", "client", "server", "wall", "runs", "requests", "x floor",
                "pypiserver / ours", "devpi / ours"], rows)

    if len(sizes) > 1:
        section("Growth (time ratio between sizes; linear = the size ratio)")
        rows = []
        for client in clients:
            for server in servers:
                ts = [results.get((n, client, server), Measure()).t for n in sizes]
                if all(t != t for t in ts):
                    continue
                cells = [client, server] + [fmt_s(t) for t in ts]
                for a, b, t1, t2 in zip(sizes, sizes[1:], ts, ts[1:]):
                    cells.append(f"{ratio(t2, t1)} (linear {b / a:g}x)")
                rows.append(cells)
        print_rows(["client", "server"] + [f"{n:,}" for n in sizes]
                   + [f"{a:,} -> {b:,}" for a, b in zip(sizes, sizes[1:])], rows)
    return 0


def prev_n(sizes: list[int], n: int) -> int:
    return sizes[sizes.index(n) - 1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100,1000")
    parser.add_argument("--clients", default=",".join(CLIENTS))
    parser.add_argument("--servers", default=",".join(SERVERS))
    parser.add_argument("--repeat", type=int, default=3, help="runs per cell up to 1,000 packages "
                        "(1 above); the median is reported")
    parser.add_argument("--budget", type=float, default=900.0,
                        help="skip a cell whose linear estimate from the previous size exceeds "
                             "this many seconds (default 900)")
    add_cache_dir_option(parser)
    args = parser.parse_args(argv)
    global CACHE_DIR
    CACHE_DIR = chosen_cache_dir(args)
    return run_main(lambda res: bench(res, args))


if __name__ == "__main__":
    sys.exit(main())
