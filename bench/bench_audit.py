"""How long ``privrepo audit`` takes for a project with 200 locked packages (issue 14).

The project is generated: 20 internal packages pinned to an explicit private source (a
named host through the gateway, basic auth) and 180 public ones, each depending on the
next in short chains, locked once by the real client (uv 0.13.9, Poetry 2.5.1) against a
stand-up; then the audit is timed: copy, stand-up of every source, the squatted copies on
the PyPI stand-in, the client's own resolution, the findings. Target: under 60 s.

    python bench/bench_audit.py [--client uv|poetry|both] [--cache-dir DIR]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

from _common import Resources, add_cache_dir_option, banner, chosen_cache_dir, run_main

from pytest_privrepo import Gateway, Privrepo
from pytest_privrepo.audit import audit, render_text
from pytest_privrepo.clients.catalog import POETRY_TOOL, UV_TOOL
from pytest_privrepo.clients.env import ClientEnv
from pytest_privrepo.clients.uv_project import UvProject

TARGET_SECONDS = 60.0
VERSIONS = {"uv": "0.13.9", "poetry": "2.5.1"}
HOST = "nexus.corp.example"
PREFIX = "/repository/pypi-internal"
URL = f"https://{HOST}{PREFIX}/simple"
USER, PASSWORD = "ci", "s3cret-bench"
INTERNAL = [(f"corp-lib-{i}", "1.0.0", [f"corp-lib-{i + 1}"] if i % 5 != 4 else []) for i in range(20)]
PUBLIC = [(f"pub-{i}", "2.1.0", [f"pub-{i + 1}"] if i % 10 != 9 else []) for i in range(180)]
VARIABLES = {"uv": "UV_INDEX_CORP", "poetry": "POETRY_HTTP_BASIC_CORP"}


def write_project(client: str, root: Path) -> None:
    root.mkdir(parents=True)
    if client == "uv":
        deps = ", ".join(f'"{n}>=1"' for n, _, _ in INTERNAL + PUBLIC)
        pins = "\n".join(f'{n} = {{ index = "corp" }}' for n, _, _ in INTERNAL)
        text = (f'[project]\nname = "big"\nversion = "1.0"\nrequires-python = ">=3.9"\n'
                f"dependencies = [{deps}]\n\n[[tool.uv.index]]\nname = \"corp\"\nurl = \"{URL}\"\n"
                f"explicit = true\n\n[tool.uv.sources]\n{pins}\n")
    else:
        deps = "\n".join(f'{n} = {{ version = ">=1", source = "corp" }}' for n, _, _ in INTERNAL)
        deps += "\n" + "\n".join(f'{n} = ">=1"' for n, _, _ in PUBLIC)
        text = ('[tool.poetry]\nname = "big"\nversion = "1.0"\ndescription = ""\n'
                'authors = ["x <x@corp.example>"]\npackage-mode = false\n\n'
                f'[tool.poetry.dependencies]\npython = ">=3.9"\n{deps}\n\n'
                f'[[tool.poetry.source]]\nname = "corp"\nurl = "{URL}"\npriority = "explicit"\n')
    (root / "pyproject.toml").write_text(text)


def lock(client: str, root: Path, work: Path, cache_dir: str) -> None:
    """Lock the generated project once with the real client, against a stand-up."""
    gateway = Gateway(root=work / "gateway").start()
    try:
        # the private index signed by the public roots: trusted as a corporate CA installed
        # in the machine's store is, so the audit's own stand-up needs no CA setting either
        with Privrepo(work / "repo", ca=gateway.public_ca, gateway=gateway) as repo:
            corp = repo.index("corp", host=HOST, tls="tls", prefix=PREFIX, auth=(USER, PASSWORD))
            for name, version, requires in INTERNAL:
                corp.add(name, version, requires=requires)
            for name, version, requires in PUBLIC:
                repo.pypi.add(name, version, requires=requires)
            env = ClientEnv(work / "env", gateway=gateway)
            prefix = VARIABLES[client]
            env.set({f"{prefix}_USERNAME": USER, f"{prefix}_PASSWORD": PASSWORD})
            if client == "uv":
                UvProject(root, UV_TOOL.obtain(env, VERSIONS[client], cache_dir=Path(cache_dir))).lock()
            else:
                poetry = POETRY_TOOL.obtain(env, VERSIONS[client], cache_dir=Path(cache_dir))
                poetry.run("lock", cwd=root)
                shutil.rmtree(root / ".venv", ignore_errors=True)
    finally:
        gateway.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--client", choices=["uv", "poetry", "both"], default="both")
    add_cache_dir_option(parser)
    args = parser.parse_args()
    cache_dir = chosen_cache_dir(args)
    clients = ["uv", "poetry"] if args.client == "both" else [args.client]

    def body(res: Resources) -> int:
        banner("privrepo audit of a 200-package project",
               [f"{c} {VERSIONS[c]}" for c in clients])
        failed = 0
        work = res.path("bench-audit")
        for client in clients:
            root = work / client / "project"
            write_project(client, root)
            started = time.perf_counter()
            lock(client, root, work / client, cache_dir)
            locked = time.perf_counter() - started
            prefix = VARIABLES[client]
            started = time.perf_counter()
            report = audit(root, client_version=VERSIONS[client], cache_dir=Path(cache_dir),
                           env={f"{prefix}_USERNAME": USER, f"{prefix}_PASSWORD": PASSWORD})
            took = time.perf_counter() - started
            verdict = "PASS" if took < TARGET_SECONDS and report.clean else "FAIL"
            failed += verdict == "FAIL"
            print(f"{client}: {len(report.packages)} packages, lock {locked:.1f} s, audit "
                  f"{took:.1f} s (target < {TARGET_SECONDS:.0f} s), clean: {report.clean}, "
                  f"requests: {dict(report.requests)}  {verdict}", flush=True)
            if not report.clean:
                print(render_text(report)[-3000:])
        return 1 if failed else 0

    return run_main(body)


if __name__ == "__main__":
    sys.exit(main())
