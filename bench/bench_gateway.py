"""The gateway hop: a named index through the gateway vs the same index on loopback, side by side.

    python bench/bench_gateway.py              # 12 rounds of 250 keep-alive + 40 new-connection requests per mode
    python bench/bench_gateway.py --quick      # smoke run: 4 rounds, fewer requests
    python bench/bench_gateway.py --check      # exit status 1 when a target is missed

One child process (so the client's work does not share the server's interpreter lock) holds
one Privrepo with two TLS indexes with the same content (basic auth, 50 projects, one wheel
each): ``direct`` on ``https://127.0.0.1:<port>/simple/`` and ``named`` on
``https://bench.corp.example/simple/``, served by its own loopback server behind the
Privrepo's gateway, which runs in the same child, as it runs in the pytest process in a
real test session. The client is requests (what pip, twine and Poetry use), in this process:

1. keep-alive: ONE ``requests.Session`` per mode, ``GET /simple/<project>/`` (every answer
   checked: 200, names the project's wheel); through the gateway the session has
   ``proxies=gateway.proxies`` (one CONNECT, then the tunnel is reused) and ``verify=CA``;
2. new TLS connection: a new ``Session`` per request (TCP connect, through the gateway
   CONNECT, a full TLS handshake, the request, close).

Modes alternate round by round (direct, gateway, direct, ...), so a change in the machine's
load hits both; the figure per mode is the median over all its requests, and the overhead is
gateway median minus direct median. Targets (issue 12): at most +1 ms per keep-alive request,
at most +5 ms per new TLS connection. Only loopback addresses are used; the named host is
never looked up in DNS (the gateway is the only way to it).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402  (bench/ is not a package)
    PYTHON,
    Resources,
    banner,
    median,
    pct,
    print_rows,
    read_line,
    run_main,
    section,
)

NAMED_HOST = "bench.corp.example"
PROJECTS = 50
AUTH = ("alice", "pw")

# Targets (issue 12, item 7) -----------------------------------------------------------
TARGET_KEEPALIVE_MS = 1.0  # added per keep-alive request
TARGET_NEW_TLS_MS = 5.0  # added per new TLS connection

CLIENT = "requests.Session (urllib3), proxies=gateway.proxies for the named host, verify=CA"


# --------------------------------------------------------------------------------------
# The child: one Privrepo, a direct and a named index with the same projects
# --------------------------------------------------------------------------------------
def serve_child(root: str) -> int:
    """``--serve-child ROOT``: print one JSON line, then serve until stdin closes or SIGTERM."""
    from pytest_privrepo import Privrepo

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    signal.signal(signal.SIGINT, lambda *a: stop.set())
    with Privrepo(root=root) as repo:
        direct = repo.index("direct", tls="tls", auth=AUTH)
        named = repo.index("named", tls="tls", auth=AUTH, host=NAMED_HOST)
        for i in range(PROJECTS):  # synthetic wheels are deterministic: the same bytes twice
            direct.add(f"bench-{i:03d}", "1.0")
            named.add(f"bench-{i:03d}", "1.0")
        print(json.dumps({"direct": direct.url, "named": named.url,
                          "proxies": repo.gateway.proxies, "ca_cert": str(direct.ca_cert),
                          "pid": os.getpid()}), flush=True)

        def watch_stdin() -> None:  # parent gone or done: stdin closes
            try:
                sys.stdin.buffer.read()
            finally:
                stop.set()

        threading.Thread(target=watch_stdin, daemon=True).start()
        while not stop.wait(0.2):
            pass
        print(json.dumps({"direct_requests": len(direct.log), "named_requests": len(named.log),
                          "egress": len(repo.egress), "refused": len(repo.egress.refused),
                          "errors": sum(1 for h in [*direct.log, *named.log] if h.status >= 500)}),
              flush=True)
    return 0


# --------------------------------------------------------------------------------------
# The client
# --------------------------------------------------------------------------------------
class Mode:
    """How one mode reaches the index: URL, proxies (None: direct) and the answers' check."""

    def __init__(self, name: str, url: str, proxies: dict[str, str] | None, ca: str) -> None:
        self.name, self.url, self.proxies, self.ca = name, url, proxies, ca
        self.keepalive: list[float] = []
        self.new_tls: list[float] = []

    def session(self) -> Any:
        import requests

        s = requests.Session()
        s.trust_env = False  # this machine's REQUESTS_CA_BUNDLE and proxies stay out
        s.verify = self.ca
        s.auth = AUTH
        if self.proxies:
            s.proxies.update(self.proxies)
        return s

    def get(self, session: Any, i: int) -> float:
        project = f"bench-{i % PROJECTS:03d}"
        t0 = time.perf_counter()
        r = session.get(f"{self.url}{project}/", timeout=30)
        elapsed = time.perf_counter() - t0
        if r.status_code != 200 or f"bench_{i % PROJECTS:03d}-1.0".encode() not in r.content:
            raise RuntimeError(f"{self.name}: GET {project} answered {r.status_code}: {r.text[:200]}")
        return elapsed


def keepalive_round(mode: Mode, session: Any, n: int) -> None:
    for i in range(n):
        mode.keepalive.append(mode.get(session, i))


def new_tls_round(mode: Mode, n: int) -> None:
    for i in range(n):
        t0 = time.perf_counter()
        with mode.session() as s:
            mode.get(s, i)
        mode.new_tls.append(time.perf_counter() - t0)  # includes the session's setup and close


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.2f} ms"


def bench(res: Resources, args: argparse.Namespace) -> int:
    import requests
    import urllib3

    rounds = args.rounds or (4 if args.quick else 12)
    per_keepalive = 60 if args.quick else 250
    per_new = 10 if args.quick else 40
    banner("gateway hop benchmark" + (" (--quick)" if args.quick else ""),
           [f"requests {requests.__version__}", f"urllib3 {urllib3.__version__}",
            f"python {sys.version.split()[0]}"])
    print(f"client: {CLIENT}")
    print(f"{rounds} rounds; per round and mode: {per_keepalive} keep-alive requests, "
          f"{per_new} requests on new TLS connections; {PROJECTS} projects, TLS + basic auth")
    proc = res.spawn([PYTHON, os.path.abspath(__file__), "--serve-child", str(res.path("child"))],
                     log_name="gateway-child.log", stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    info = json.loads(read_line(proc, 120))
    print(f"direct: {info['direct']}\nnamed:  {info['named']} through {info['proxies']['https']}")
    modes = [Mode("direct", info["direct"], None, info["ca_cert"]),
             Mode("gateway", info["named"], info["proxies"], info["ca_cert"])]
    sessions = {m.name: m.session() for m in modes}
    try:
        for m in modes:  # warm-up: connect, handshake, first pages
            keepalive_round(m, sessions[m.name], 20)
            new_tls_round(m, 3)
            m.keepalive.clear()
            m.new_tls.clear()
        section("Rounds")
        for r in range(rounds):
            order = modes if r % 2 == 0 else modes[::-1]
            for m in order:
                keepalive_round(m, sessions[m.name], per_keepalive)
                new_tls_round(m, per_new)
            d, g = modes
            print(f"  round {r + 1:2d}: keep-alive median direct {ms(median(d.keepalive[-per_keepalive:]))}, "
                  f"gateway {ms(median(g.keepalive[-per_keepalive:]))}; new TLS direct "
                  f"{ms(median(d.new_tls[-per_new:]))}, gateway {ms(median(g.new_tls[-per_new:]))}",
                  flush=True)
    finally:
        for s in sessions.values():
            s.close()
        assert proc.stdin is not None
        proc.stdin.close()
        stats = json.loads(read_line(proc, 30))
        res.stop(proc)
    d, g = modes
    section("Results")
    rows = []
    for label, dv, gv in (("keep-alive request", d.keepalive, g.keepalive),
                          ("new TLS connection + request", d.new_tls, g.new_tls)):
        rows.append([label, str(len(dv)), ms(median(dv)), ms(pct(dv, 90)), ms(median(gv)),
                     ms(pct(gv, 90)), ms(median(gv) - median(dv)), f"{median(gv) / median(dv):.2f}"])
    print_rows(["what", "n per mode", "direct p50", "direct p90", "gateway p50", "gateway p90",
                "added (p50)", "ratio"], rows)
    print(f"\nserver: {stats['direct_requests']} direct and {stats['named_requests']} named requests "
          f"answered, {stats['egress']} egress records, {stats['refused']} refused, "
          f"{stats['errors']} 5xx")
    added_keep = median(g.keepalive) - median(d.keepalive)
    added_new = median(g.new_tls) - median(d.new_tls)
    targets = [
        ("gateway adds per keep-alive request", f"<= {TARGET_KEEPALIVE_MS:g} ms",
         ms(added_keep), added_keep * 1e3 <= TARGET_KEEPALIVE_MS),
        ("gateway adds per new TLS connection", f"<= {TARGET_NEW_TLS_MS:g} ms",
         ms(added_new), added_new * 1e3 <= TARGET_NEW_TLS_MS),
        ("no 5xx, none refused, every named request in the egress log",
         "0 / 0 / all", f"{stats['errors']} / {stats['refused']} / {stats['egress']}",
         stats["errors"] == 0 and stats["refused"] == 0
         and stats["egress"] == stats["named_requests"]),
    ]
    section("Targets")
    print_rows(["target", "goal", "measured", "result"],
               [[n, goal, m, "PASS" if ok else "FAIL"] for n, goal, m, ok in targets])
    return 1 if (args.check and not all(ok for *_, ok in targets)) else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 4 rounds, fewer requests")
    parser.add_argument("--rounds", type=int, default=None, help="rounds per mode (default 12)")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--serve-child", metavar="ROOT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_child:
        return serve_child(args.serve_child)
    return run_main(lambda res: bench(res, args))


if __name__ == "__main__":
    sys.exit(main())
