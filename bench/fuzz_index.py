"""A longer fuzz run of the index server than CI's: ``tests/test_fuzz.py`` with a big budget.

    python bench/fuzz_index.py                  # 2,000 examples per test and transport
    python bench/fuzz_index.py --examples 500   # shorter
    python bench/fuzz_index.py --workers 2      # with pytest-xdist

CI runs the same properties with a small, derandomized budget (25 examples per test and
transport). Here the examples are random (a new seed each run; hypothesis prints the seed
of a failure so it can be replayed with ``--hypothesis-seed``), and the script prints how
many cases were sent to each property, the wall time, and pytest's summary. Exit status is
pytest's: 0 when every case passed (no 5xx, no server-side error, a healthy index after each
test, nothing stored by a refused upload).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=2000,
                        help="hypothesis examples per test and transport (default 2000)")
    parser.add_argument("--workers", type=int, default=0,
                        help="pytest-xdist workers (default 0: one process)")
    parser.add_argument("pytest_args", nargs="*", help="more arguments for pytest")
    args = parser.parse_args(argv)
    if args.examples < 1:
        parser.error("--examples must be at least 1")

    with tempfile.TemporaryDirectory(prefix="privrepo-fuzz-") as tmp:
        report = Path(tmp) / "cases.jsonl"
        env = dict(os.environ, PRIVREPO_FUZZ_EXAMPLES=str(args.examples),
                   PRIVREPO_FUZZ_REPORT=str(report))
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                   "-n", str(args.workers), str(ROOT / "tests" / "test_fuzz.py"), *args.pytest_args]
        print(f"fuzz run: {args.examples} examples per test and transport, "
              f"{args.workers or 1} process(es)")
        print("command:", " ".join(command[1:]))
        started = time.monotonic()
        result = subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        elapsed = time.monotonic() - started
        cases: collections.Counter[str] = collections.Counter()
        if report.exists():
            for line in report.read_text().splitlines():
                cases.update(json.loads(line)["cases"])
    tail = [line for line in result.stdout.splitlines() if line.strip()][-30:]
    print("\n".join(tail))
    print()
    print("cases sent per property:")
    for name, count in sorted(cases.items()):
        print(f"  {name:<16} {count:>8,}")
    sent = sum(count for name, count in cases.items() if name != "accepted upload")
    print(f"  {'total':<16} {sent:>8,}  in {elapsed:.1f} s ({sent / elapsed:,.0f} cases/s)")
    print("result:", "PASS" if result.returncode == 0 else f"FAIL (pytest exit {result.returncode})")
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
