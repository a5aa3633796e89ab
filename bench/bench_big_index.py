"""A big index: 10,000 projects added with ``index.add``; time, server RSS, page latency.

    python bench/bench_big_index.py                     # 10 -> 1,000 -> 10,000 projects
    python bench/bench_big_index.py --profile 1000      # plus a cProfile of 1,000 index.add calls

Our index runs in a child process (Privrepo + one index with Basic auth, plain HTTP), so its
RSS is the server's own. The child grows the index in steps (``index.add(name, "1.0.0")``,
one wheel per project, timed inside the child) to 10, 1,000 and 10,000 projects. After each
step this process measures, over one keep-alive ``http.client`` connection with the
Authorization header:

* root page ``GET /simple/`` (HTML and PEP 691 JSON) and a project page
  ``GET /simple/bench-00005/``: the first request after the step (the page is rendered:
  every ``add`` clears the page cache) and then 200 more (cached): p50 / p99;
* the server's RSS (VmRSS) and peak (VmHWM).

Targets (issue 15): 10,000 projects in < 5 s, RSS < 200 MiB, page latency flat from 10 to
10,000 projects.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import sys
import time
from pathlib import Path

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

STEPS = (10, 1000, 10000)
MiB = 2**20


def latency(conn: http.client.HTTPConnection, path: str, headers: dict[str, str], n: int,
            expect: bytes) -> tuple[float, list[float], int]:
    """(first request s, the next n request times, body size)."""
    out = []
    size = 0
    for k in range(n + 1):
        t0 = time.perf_counter()
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        body = resp.read()
        t = time.perf_counter() - t0
        if resp.status != 200 or expect not in body:
            raise RuntimeError(f"GET {path}: {resp.status} {body[:200]!r}")
        size = len(body)
        out.append(t)
    return out[0], out[1:], size


def bench(res: Resources, args: argparse.Namespace) -> int:
    banner("pytest-privrepo big-index benchmark")
    child = start_our_child(res, tls=None, auth=True, log_name="big.log")
    info = child.info
    user, pw = info["auth"]
    auth = {"Authorization": "Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode()}
    json_hdr = {**auth, "Accept": "application/vnd.pypi.simple.v1+json"}
    rows = []
    total_add = 0.0
    total_cpu = 0.0
    peak = 0
    lat_rows: list[list[str]] = []
    ok_flat = True
    base_warm: dict[str, float] = {}
    try:
        print(f"child pid {info['pid']}, RSS at start (Privrepo + empty index) "
              f"{info['rss'] / MiB:.1f} MiB", flush=True)
        have = 0
        for step in args.steps:
            r = child.call({"add": step - have, "versions": 1}, timeout=3600)
            have = step
            total_add += r["seconds"]
            total_cpu += r["cpu"]
            peak = max(peak, r["hwm"])
            conn = http.client.HTTPConnection(HOST, info["port"], timeout=60)
            pages = [("root HTML", "/simple/", auth, b"bench-00005"),
                     ("root JSON", "/simple/", json_hdr, b"bench-00005"),
                     ("project page", "/simple/bench-00005/", auth, b"bench_00005-1.0.0")]
            for label, path, hdr, expect in pages:
                first, warm, size = latency(conn, path, hdr, args.requests, expect)
                p50 = pct(warm, 50)
                lat_rows.append([f"{step:,}", label, f"{size / 1024:.1f} KiB", f"{first * 1e3:.1f} ms",
                                 f"{p50 * 1e3:.2f} ms", f"{pct(warm, 99) * 1e3:.2f} ms"])
                if step == args.steps[0]:
                    base_warm[label] = p50
                print(f"  {step:>6,} projects  {label:12} {size / 1024:8.1f} KiB  first {first * 1e3:7.1f} ms"
                      f"  then p50 {p50 * 1e3:6.2f} ms  p99 {pct(warm, 99) * 1e3:6.2f} ms", flush=True)
            conn.close()
            st = child.call({"stats": True})
            peak = max(peak, st["hwm"])
            rows.append([f"{step:,}", f"{r['seconds']:.2f} s", f"{(step - (rows and int(rows[-1][0].replace(',', '')) or 0)) / r['seconds']:.0f}/s",
                         f"{st['rss'] / MiB:.1f} MiB", f"{st['hwm'] / MiB:.1f} MiB"])
            print(f"  {step:>6,} projects: this step's index.add {r['seconds']:.2f} s (CPU {r['cpu']:.2f} s); "
                  f"RSS {st['rss'] / MiB:.1f} MiB, peak {st['hwm'] / MiB:.1f} MiB", flush=True)
        if args.profile:
            section(f"cProfile of {args.profile} more index.add calls (in the child)")
            print(child.call({"profile_add": args.profile}, timeout=3600)["profile"])
    finally:
        res.stop(child.proc)

    section("Results")
    print_rows(["projects", "index.add (this step)", "rate", "server RSS", "server peak RSS"], rows)
    print()
    print_rows(["projects", "page", "size", "first (renders)", "cached p50", "cached p99"], lat_rows)
    # flat = the cached p50 at 10,000 within 3x of the one at 10 (and under 10 ms) for the
    # project page; the root page grows with the index by nature (its body does)
    last = {r[1]: float(r[4].split()[0]) / 1e3 for r in lat_rows if r[0] == f"{args.steps[-1]:,}"}
    ok_flat = last["project page"] <= max(3 * base_warm["project page"], 0.010)
    targets = [
        [f"{args.steps[-1]:,} projects with index.add", "< 5 s", f"{total_add:.1f} s (CPU {total_cpu:.1f} s)",
         "PASS" if total_add < 5 else "FAIL"],
        ["server peak RSS", "< 200 MiB", f"{peak / MiB:.0f} MiB", "PASS" if peak < 200 * MiB else "FAIL"],
        [f"project page latency {args.steps[0]:,} -> {args.steps[-1]:,} (cached p50)", "flat",
         f"{base_warm['project page'] * 1e3:.2f} -> {last['project page'] * 1e3:.2f} ms",
         "PASS" if ok_flat else "FAIL"],
        [f"root page latency {args.steps[0]:,} -> {args.steps[-1]:,} (cached p50)", "flat",
         f"{base_warm['root HTML'] * 1e3:.2f} -> {last['root HTML'] * 1e3:.2f} ms (body grows)",
         "PASS" if last["root HTML"] <= max(3 * base_warm["root HTML"], 0.010) else "FAIL"],
    ]
    print()
    print_rows(["target", "goal", "measured", "result"], targets)
    return 1 if (args.check and any(t[3] == "FAIL" for t in targets)) else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200, help="cached requests per page")
    parser.add_argument("--profile", type=int, default=0, help="cProfile this many more adds")
    parser.add_argument("--steps", type=lambda s: [int(x) for x in s.split(",")], default=list(STEPS),
                        help="index sizes to measure at (default 10,1000,10000)")
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    return run_main(lambda res: bench(res, args))


if __name__ == "__main__":
    sys.exit(main())
