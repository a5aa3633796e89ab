"""Harness overhead: the fixture path vs the same client command started by hand.

    python bench/bench_harness.py                 # pip, uv, Poetry; mTLS + auth; 8 rounds
    python bench/bench_harness.py --clients pip,uv --mode http --rounds 12

One private package (``demo 1.0.0``, served by our index, mTLS + Basic auth by default)
is installed with ``pip install``, with ``uv pip install``, and locked with ``poetry lock``.
Three timings per round, in alternating order so that load drift hits all alike:

* **by hand**: the client command alone (``subprocess.run``), with everything prepared
  beforehand and untimed: the ClientEnv directories, the target venv / project files, the
  exact argv and variables the harness would use (taken from the harness's own builders);
* **call**: the runner's method (``Pip.install`` / ``Uv.pip_install`` / ``PoetryProject.lock``)
  on a runner built beforehand: options, the command, and the parsed result;
* **fixture**: what a test using the fixtures pays: ``ClientEnv(...)``,
  ``client_tool(name).obtain(env)`` (the ``pip``/``uv``/``poetry`` fixtures do exactly
  that), project setup for Poetry, the command and the parsed result.

Overhead = median(call or fixture) - median(by hand); target <= max(5 %, 50 ms). The
components the fixture path adds are timed on their own as well.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    Resources,
    add_cache_dir_option,
    banner,
    chosen_cache_dir,
    median,
    print_rows,
    run_main,
    section,
)

POETRY_VERSION = "2.5.1"
#: where Poetry is provisioned (--cache-dir; default: the plugin's user cache)
CACHE_DIR = ""
AUTH = ("alice", "s3cret")


def by_hand(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    t0 = time.perf_counter()
    p = subprocess.run(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, start_new_session=True)
    t = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(f"by-hand command failed ({p.returncode}): {argv}\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}")
    return t


class Bench:
    def __init__(self, res: Resources, index: Any) -> None:
        from pytest_privrepo.clients import client_tool

        self.res = res
        self.index = index
        self.n = 0
        self.pip_exe = client_tool("pip").find()
        self.uv_exe = client_tool("uv").find()
        self.poetry_exe = client_tool("poetry").provision(POETRY_VERSION, cache_dir=CACHE_DIR)

    def root(self, tag: str) -> Path:
        self.n += 1
        return self.res.root / "h" / f"{self.n:04d}-{tag}"

    # -- pip ---------------------------------------------------------------------------
    def pip_hand(self) -> float:
        from pytest_privrepo.clients import ClientEnv, Pip, make_venv

        env = ClientEnv(self.root("pip-hand"))
        pip = Pip(env, make_venv(env.root / "pip-target", env=env), pip=self.pip_exe)
        args, run_env = pip.index_options(self.index)
        report = env.root / "report.json"
        argv = pip.argv("install", "--progress-bar", "off", "--retries", "0", "--timeout", "30",
                        *args, "--report", str(report), "demo")
        t = by_hand(argv, {**env.vars, **run_env}, env.root)
        assert report.stat().st_size > 0
        return t

    def pip_call(self) -> float:
        from pytest_privrepo.clients import ClientEnv, Pip, make_venv

        env = ClientEnv(self.root("pip-call"))
        pip = Pip(env, make_venv(env.root / "pip-target", env=env), pip=self.pip_exe)
        t0 = time.perf_counter()
        r = pip.install("demo", index=self.index)
        t = time.perf_counter() - t0
        assert r.versions == {"demo": "1.0.0"}, r.versions
        return t

    def pip_fixture(self) -> float:
        from pytest_privrepo.clients import ClientEnv, client_tool

        root = self.root("pip-fixture")
        t0 = time.perf_counter()
        env = ClientEnv(root)
        pip = client_tool("pip").obtain(env)
        r = pip.install("demo", index=self.index)
        t = time.perf_counter() - t0
        assert r.versions == {"demo": "1.0.0"}, r.versions
        return t

    # -- uv ----------------------------------------------------------------------------
    def uv_hand(self) -> float:
        from pytest_privrepo.clients import ClientEnv, Uv

        env = ClientEnv(self.root("uv-hand"))
        uv = Uv(env, self.uv_exe)
        python = uv.target_venv
        args, run_env = uv.index_options(self.index)
        argv = [self.uv_exe, "pip", "install", "--python", str(python), *args, "demo"]
        return by_hand(argv, {**env.vars, "UV_HTTP_RETRIES": "0", **run_env}, env.root)

    def uv_call(self) -> float:
        from pytest_privrepo.clients import ClientEnv, Uv

        env = ClientEnv(self.root("uv-call"))
        uv = Uv(env, self.uv_exe)
        uv.target_venv  # noqa: B018 (created untimed, as by hand)
        t0 = time.perf_counter()
        r = uv.pip_install("demo", index=self.index)
        t = time.perf_counter() - t0
        assert r.versions == {"demo": "1.0.0"}, r.changes
        return t

    def uv_fixture(self) -> float:
        from pytest_privrepo.clients import ClientEnv, client_tool

        root = self.root("uv-fixture")
        t0 = time.perf_counter()
        env = ClientEnv(root)
        uv = client_tool("uv").obtain(env)
        r = uv.pip_install("demo", index=self.index)
        t = time.perf_counter() - t0
        assert r.versions == {"demo": "1.0.0"}, r.changes
        return t

    # -- Poetry ------------------------------------------------------------------------
    def _project(self, env: Any) -> Any:
        from pytest_privrepo.clients import Poetry, PoetryProject

        poetry = Poetry(env, self.poetry_exe)
        project = PoetryProject(env.root / "project", poetry).create()
        project.add_source("corp", self.index.url, priority="primary")
        project.add_dependency("demo", "*")
        poetry.configure(self.index, "corp", repository=False)
        return project

    def poetry_hand(self) -> float:
        from pytest_privrepo.clients import ClientEnv

        env = ClientEnv(self.root("poetry-hand"))
        project = self._project(env)
        argv = [str(self.poetry_exe), "--no-ansi", "--no-interaction", "lock"]
        t = by_hand(argv, dict(env.vars), project.path)
        assert "demo" in project.lock_result()
        return t

    def poetry_call(self) -> float:
        from pytest_privrepo.clients import ClientEnv

        env = ClientEnv(self.root("poetry-call"))
        project = self._project(env)
        t0 = time.perf_counter()
        lock = project.lock()
        t = time.perf_counter() - t0
        assert lock["demo"].version == "1.0.0"
        return t

    def poetry_fixture(self) -> float:
        from pytest_privrepo.clients import ClientEnv, client_tool

        root = self.root("poetry-fixture")
        t0 = time.perf_counter()
        env = ClientEnv(root)
        poetry = client_tool("poetry").obtain(env, POETRY_VERSION, cache_dir=CACHE_DIR)
        from pytest_privrepo.clients import PoetryProject

        project = PoetryProject(root / "project", poetry).create()  # the poetry_project fixture
        project.add_source("corp", self.index.url, priority="primary")
        project.add_dependency("demo", "*")
        poetry.configure(self.index, "corp", repository=False)
        lock = project.lock()
        t = time.perf_counter() - t0
        assert lock["demo"].version == "1.0.0"
        return t

    # -- components --------------------------------------------------------------------
    def components(self, rounds: int) -> list[list[str]]:
        from pytest_privrepo.clients import ClientEnv, Pip, Poetry, Uv, client_tool, make_venv

        def t(fn: Callable[[], Any]) -> float:
            vals = []
            for _ in range(rounds):
                t0 = time.perf_counter()
                fn()
                vals.append(time.perf_counter() - t0)
            return median(vals)

        env = ClientEnv(self.root("parts"))
        rows = [
            ["ClientEnv(root)", "pytest_privrepo/clients/env.py ClientEnv.__init__",
             t(lambda: ClientEnv(self.root("parts-env")))],
            ["make_venv (pip fixture's target venv)", "pytest_privrepo/clients/venv.py make_venv "
             "(via catalog's pip runner)", t(lambda: make_venv(self.root("parts-venv"), env=env))],
            ["pip --version (once per Pip object: a TLS index on 127.0.0.1 asks it)",
             "pytest_privrepo/clients/runner.py ClientRunner.version, from pip.py "
             "Pip._truststore_fails_on_ip_hosts",
             t(lambda: Pip(env, pip=self.pip_exe).version())],
            ["uv venv (Uv.target_venv, once per env)", "pytest_privrepo/clients/uv.py Uv.target_venv",
             t(lambda: Uv(ClientEnv(self.root("parts-uv")), self.uv_exe).target_venv)],
            ["provision() cache hit (poetry fixture)", "pytest_privrepo/clients/provision.py provision",
             t(lambda: client_tool("poetry").provision(POETRY_VERSION, cache_dir=CACHE_DIR))],
            ["poetry --version (once per Poetry object: PoetryProject.create asks .major)",
             "pytest_privrepo/clients/runner.py ClientRunner.version, from poetry.py Poetry.major",
             t(lambda: Poetry(env, self.poetry_exe).version())],
        ]
        return [[a, b, f"{c * 1e3:.0f} ms"] for a, b, c in rows]


def bench(res: Resources, args: argparse.Namespace) -> int:
    from importlib.metadata import version


    banner("pytest-privrepo harness overhead benchmark",
           [f"pytest-privrepo {version('pytest-privrepo')}", f"pip {version('pip')}",
            f"uv {version('uv')}", f"Poetry {POETRY_VERSION}"])
    with res.repo(root=res.path("repo")) as repo:
        index = repo.index("corp", auth=AUTH, tls="mtls" if args.mode == "mtls" else None)
        index.add("demo", "1.0.0")
        print(f"index: {args.mode} + Basic auth, one package demo 1.0.0; {args.rounds} rounds "
              "(Poetry: half as many)")
        b = Bench(res, index)
        rows = []
        overs = 0
        clients = [] if args.components_only else args.clients.split(",")
        for client in [c for c in ("pip", "uv", "poetry") if c in clients]:
            section(client)
            fns = {k: getattr(b, f"{client}_{k}") for k in ("hand", "call", "fixture")}
            fns["hand"]()  # warm-up: OS caches, first client start
            times: dict[str, list[float]] = {k: [] for k in fns}
            rounds = args.rounds if client != "poetry" else max(3, args.rounds // 2)
            order = list(fns)
            for r in range(rounds):
                for k in order if r % 2 == 0 else order[::-1]:
                    times[k].append(fns[k]())
                shutil.rmtree(res.root / "h", ignore_errors=True)
            hand = median(times["hand"])
            for k in ("hand", "call", "fixture"):
                print(f"  {k:8} median {median(times[k]) * 1e3:7.0f} ms  runs "
                      + " ".join(f"{x * 1e3:.0f}" for x in times[k]), flush=True)
            allowed = max(0.05 * hand, 0.050)
            for k in ("call", "fixture"):
                over = median(times[k]) - hand
                ok = over <= allowed
                overs += not ok
                rows.append([client, k, f"{hand * 1e3:.0f} ms", f"{median(times[k]) * 1e3:.0f} ms",
                             f"{over * 1e3:+.0f} ms ({over / hand * 100:+.0f}%)",
                             f"<= {allowed * 1e3:.0f} ms", "PASS" if ok else "FAIL"])
        section("Results (median; overhead = path - by hand)")
        if rows:
            print_rows(["client", "path", "by hand", "path time", "overhead", "target", "result"], rows)
        section("What the fixture path adds, timed alone (median)")
        print_rows(["step", "where", "median"], b.components(max(3, args.rounds // 2)))
    return 1 if (overs and args.check) else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", default="pip,uv,poetry")
    parser.add_argument("--mode", choices=["http", "mtls"], default="mtls")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--components-only", action="store_true",
                        help="only time the steps the fixture path adds (e.g. to compare a checkout)")
    add_cache_dir_option(parser)
    args = parser.parse_args(argv)
    global CACHE_DIR
    CACHE_DIR = chosen_cache_dir(args)
    return run_main(lambda res: bench(res, args))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    sys.exit(main())
