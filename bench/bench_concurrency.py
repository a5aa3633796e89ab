"""Concurrency: 64 keep-alive connections at once against our index, HTTP and mTLS.

    python bench/bench_concurrency.py                  # 64 connections, 10 s each mode
    python bench/bench_concurrency.py --connections 128 --seconds 5

Our index runs in a child process (Privrepo + one index with Basic auth, 200 projects with
one wheel each). The load comes from ``--procs`` client processes (default 2, so the
clients are not bound by one interpreter lock) with ``connections / procs`` threads each;
every thread holds ONE ``http.client`` keep-alive connection (its connects are counted, so
"64 connections, reused" is measured) and sends ``GET /simple/<random project>/`` with the
Authorization header as fast as it can. Every response is checked (200, body names the
project's wheel). All threads start together after each has made 2 warm-up requests
(connect + TLS handshake). Reported: req/s, latency p50/p99/max, client errors, new
connections beyond the 64, and the server's own count of requests and 5xx answers.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import multiprocessing as mp
import random
import ssl
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    HOST,
    Resources,
    banner,
    pct,
    print_rows,
    run_main,
    section,
    start_our_child,
)

PROJECTS = 200


def _worker(info: dict[str, Any], threads: int, seconds: float, seed: int, start_at: float,
            out: Any) -> None:
    """One client process: ``threads`` keep-alive connections; results sent on ``out``."""
    ctx = None
    if info["client_cert"]:
        ctx = ssl.create_default_context(cafile=info["ca_cert"])
        ctx.load_cert_chain(info["client_cert"])
    user, pw = info["auth"]
    headers = {"Authorization": "Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode()}
    lat: list[list[float]] = [[] for _ in range(threads)]
    errors: list[str] = []
    connects = [0] * threads
    ready = threading.Barrier(threads)

    def run(k: int) -> None:
        rng = random.Random(seed * 1000 + k)

        def connect() -> http.client.HTTPConnection:
            connects[k] += 1
            if ctx is None:
                return http.client.HTTPConnection(HOST, info["port"], timeout=30)
            return http.client.HTTPSConnection(HOST, info["port"], timeout=30, context=ctx)

        conn = connect()

        def one() -> None:
            nonlocal conn
            i = rng.randrange(PROJECTS)
            try:
                conn.request("GET", f"/simple/bench-{i:05d}/", headers=headers)
                resp = conn.getresponse()
                body = resp.read()
                if resp.status != 200 or f"bench_{i:05d}-1.0.0".encode() not in body:
                    errors.append(f"{resp.status} {body[:80]!r}")
            except (OSError, http.client.HTTPException) as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                conn.close()
                conn = connect()

        one()
        one()
        ready.wait()
        while time.time() < start_at:
            time.sleep(0.001)
        end = start_at + seconds
        mine = lat[k]
        t = time.perf_counter()
        while time.time() < end:
            one()
            t1 = time.perf_counter()
            mine.append(t1 - t)
            t = t1
        conn.close()

    ts = [threading.Thread(target=run, args=(k,)) for k in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    out.send({"lat": [x for xs in lat for x in xs], "errors": errors,
              "extra_connects": sum(c - 1 for c in connects), "connections": threads})
    out.close()


def hammer(info: dict[str, Any], connections: int, procs: int, seconds: float) -> dict[str, Any]:
    mpctx = mp.get_context("fork")
    per = [connections // procs + (1 if p < connections % procs else 0) for p in range(procs)]
    start_at = time.time() + 3.0 + connections * 0.02  # time for connects / handshakes
    pipes, workers = [], []
    for p, threads in enumerate(per):
        recv, send = mpctx.Pipe(duplex=False)
        w = mpctx.Process(target=_worker, args=(info, threads, seconds, p, start_at, send))
        w.start()
        send.close()
        pipes.append(recv)
        workers.append(w)
    parts = [r.recv() for r in pipes]
    for w in workers:
        w.join(30)
    lat = [x for part in parts for x in part["lat"]]
    return {"lat": lat, "errors": [e for part in parts for e in part["errors"]],
            "extra_connects": sum(p["extra_connects"] for p in parts),
            "connections": sum(p["connections"] for p in parts), "seconds": seconds}


def bench(res: Resources, args: argparse.Namespace) -> int:
    banner("pytest-privrepo concurrency benchmark")
    print(f"{args.connections} keep-alive connections from {args.procs} client processes, "
          f"{args.seconds:g} s per mode, {PROJECTS} projects, GET /simple/<random project>/ + Basic auth")
    rows = []
    failed = 0
    for mode in ("http", "mtls"):
        section(f"{mode}: {args.connections} connections")
        child = start_our_child(res, tls=None if mode == "http" else "mtls", auth=True,
                                log_name=f"conc-{mode}.log")
        try:
            child.call({"add": PROJECTS, "versions": 1})
            before = child.call({"stats": True})
            r = hammer(child.info, args.connections, args.procs, args.seconds)
            after = child.call({"stats": True})
        finally:
            res.stop(child.proc)
        lat = r["lat"]
        rps = len(lat) / r["seconds"]
        served = after["requests"] - before["requests"]
        ok = not r["errors"] and after["errors"] == 0 and r["extra_connects"] == 0
        failed += not ok
        print(f"  {len(lat)} timed requests in {r['seconds']:g} s = {rps:.0f} req/s; p50 "
              f"{pct(lat, 50) * 1e3:.1f} ms, p99 {pct(lat, 99) * 1e3:.1f} ms, max {max(lat) * 1e3:.1f} ms")
        print(f"  client errors: {len(r['errors'])}"
              + (f" (first: {r['errors'][0]})" if r["errors"] else "")
              + f"; reconnects beyond the {r['connections']}: {r['extra_connects']}; server: "
              f"{served} requests answered, {after['errors'] - before['errors']} 5xx, "
              f"{after['threads']} threads after, RSS {after['rss'] / 2**20:.0f} MiB")
        rows.append([mode + " + auth", str(r["connections"]), f"{rps:.0f}", f"{pct(lat, 50) * 1e3:.1f} ms",
                     f"{pct(lat, 99) * 1e3:.1f} ms", f"{max(lat) * 1e3:.0f} ms", str(len(r["errors"])),
                     str(r["extra_connects"]), "PASS" if ok else "FAIL"])
    section("Results")
    print_rows(["mode", "connections", "req/s", "p50", "p99", "max", "errors", "reconnects",
                "no error"], rows)
    return 1 if (failed and args.check) else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--procs", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--check", action="store_true", help="exit 1 on any error")
    args = parser.parse_args(argv)
    return run_main(lambda res: bench(res, args))


if __name__ == "__main__":
    sys.exit(main())
