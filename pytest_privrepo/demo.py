"""``privrepo demo``: the whole private-index flow with the real Poetry, step by step.

With nothing configured, it starts an mTLS index with basic auth, points a fresh Poetry
project at it (source, http-basic, certificates, client certificate, publish repository),
then locks, installs, builds, publishes, bumps the version and publishes again. Each step
prints one line with its outcome and time; the exit status is non-zero if any step fails.
Everything happens in a temporary directory that is removed at the end; the real user's
Poetry config and keyring are never read or written.

Which Poetry runs follows the plugin's client rules (:meth:`ClientTool.choose`), spelled
with the demo's own options: ``--poetry PATH`` or ``$PRIVREPO_POETRY`` name an executable,
``--poetry-version V`` or ``$PRIVREPO_POETRY_VERSIONS`` a version to provision; with neither,
an installed Poetry (next to this Python or on ``PATH``), else the newest release,
provisioned once into the cache the plugin uses too (``--cache-dir``, ``$PRIVREPO_CACHE_DIR``,
``~/.cache/pytest-privrepo/clients``).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TextIO

from .clients.catalog import client_tool
from .clients.env import ClientEnv
from .clients.poetry import Poetry
from .clients.poetry_project import PoetryProject
from .clients.provision import default_cache_dir
from .errors import ClientError, ConfigError, PrivrepoError
from .session import Privrepo

__all__ = ["DEMO_OPTIONS", "choose_poetry", "default_cache_dir", "run_demo"]

#: The demo's own spellings of the plugin's ``--privrepo-poetry`` / ``-versions`` options.
DEMO_OPTIONS = ("--poetry", "--poetry-version")


def choose_poetry(*, poetry: str | None, poetry_version: str | None, cache_dir: Path | None,
                  environ: Mapping[str, str] | None = None,
                  progress: Callable[[str], None] | None = None) -> tuple[Path, str]:
    """The Poetry executable the demo runs, and where it came from (for the step line).

    Errors name the demo's options (``--poetry``), not the pytest ones.
    """
    tool = client_tool("poetry")
    env = os.environ if environ is None else environ
    choice = tool.choose(option=poetry, versions_option=poetry_version, environ=env,
                         ini=None, versions_ini=None, option_names=DEMO_OPTIONS)
    skip = "pass an installed Poetry with --poetry PATH (or $PRIVREPO_POETRY)"
    cache = cache_dir if cache_dir is not None else default_cache_dir(env)
    if choice.executable is not None:
        value, source = choice.executable
        return tool.find(value, source=source), f"from {source}"
    installed = False

    def note(line: str) -> None:
        nonlocal installed
        installed = True
        if progress is not None:
            progress(line)

    if choice.versions:
        if len(choice.versions) != 1:
            raise ConfigError(f"{choice.versions_source}: the demo runs one Poetry; give one "
                              f"version, not {', '.join(choice.versions)}")
        version = choice.versions[0]
        exe = tool.provision(version, cache_dir=cache, progress=note, alternative=skip)
        where = "provisioned now" if installed else "from the cache"
        return exe, f"{version} asked by {choice.versions_source}, {where} in {cache}"
    try:
        exe = tool.find()
    except ClientError:
        exe = tool.provision("latest", cache_dir=cache, progress=note, alternative=skip)
        where = "provisioned now" if installed else "from the cache"
        return exe, f"none installed: the newest release, {where} in {cache}"
    place = "next to this Python" if exe.parent == Path(sys.executable).parent else "on PATH"
    return exe, f"found {place}"


class _Steps:
    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.failed = 0
        self.n = 0

    def __call__(self, title: str, action: Callable[[], Any]) -> Any:
        self.n += 1
        start = time.perf_counter()
        try:
            detail = action()
        except Exception as exc:  # report and carry on to the summary
            self.failed += 1
            took = time.perf_counter() - start
            lines = str(exc).strip().splitlines() or [type(exc).__name__]
            print(f"{self.n:2d}. FAIL {title:<46} {took:6.2f}s  {lines[0]}", file=self.out)
            for line in lines[1:]:  # the cause and what to try: the whole message
                print(f"      {line}", file=self.out)
            self.out.flush()
            if not isinstance(exc, PrivrepoError):
                raise
            raise _Abort() from exc
        took = time.perf_counter() - start
        note = f"  {detail}" if isinstance(detail, str) and detail else ""
        print(f"{self.n:2d}. ok   {title:<46} {took:6.2f}s{note}", file=self.out, flush=True)
        return detail


class _Abort(Exception):
    pass


def run_demo(*, poetry: str | None = None, poetry_version: str | None = None,
             cache_dir: Path | None = None, out: TextIO = sys.stdout,
             environ: Mapping[str, str] | None = None) -> int:
    """Run the demo; return the process exit status (0 when every step passed)."""
    step = _Steps(out)
    with tempfile.TemporaryDirectory(prefix="privrepo-demo-") as tmp, Privrepo(Path(tmp) / "index") as repo:
        root = Path(tmp)
        state: dict[str, Any] = {}
        try:
            def get_poetry() -> str:
                exe, origin = choose_poetry(
                    poetry=poetry, poetry_version=poetry_version, cache_dir=cache_dir,
                    environ=environ, progress=lambda line: print(f"    {line}", file=out, flush=True))
                state["poetry"] = Poetry(ClientEnv(root / "client-env"), exe)
                return f"Poetry {state['poetry'].version()} ({exe}; {origin})"

            def start_index() -> str:
                corp = repo.index("corp", auth=("alice", "s3cret"), tls="mtls")
                corp.add("corp-utils", "1.2.0", requires=["attrs>=21"], requires_python=">=3.8")
                corp.add("corp-utils", "1.3.0", yanked="broken build")
                corp.add("attrs", "23.1.0")
                state["corp"] = corp
                return corp.url

            def configure() -> str:
                state["poetry"].configure(state["corp"], route="command")
                return "http-basic, certificates.cert, certificates.client-cert, repositories"

            def project() -> str:
                proj = PoetryProject(root / "corp-app", state["poetry"]).create("corp-app", "0.1.0")
                proj.add_source("corp", state["corp"].url)
                state["project"] = proj
                return f"[[tool.poetry.source]] corp ({proj.style} style)"

            def add_and_lock() -> str:
                proj = state["project"]
                proj.add("corp-utils@^1.2", source=None)
                lock = proj.lock_result()
                wrong = {n: s for n, s in lock.sources().items() if s != "corp"}
                if wrong:
                    raise PrivrepoError(f"packages locked from other sources: {wrong}")
                return ", ".join(f"{p.name} {p.version} from {p.source}" for p in lock.packages)

            def install() -> str:
                proj = state["project"]
                proj.install()
                version = proj.python("import corp_utils; print(corp_utils.__version__)").stdout.strip()
                if version != "1.2.0":
                    raise PrivrepoError(f"installed corp-utils {version}, expected 1.2.0 (1.3.0 is yanked)")
                return f"corp_utils {version} importable"

            def build() -> str:
                return ", ".join(d.filename for d in state["project"].build())

            def publish() -> str:
                corp = state["corp"]
                before = len(corp.uploads)
                state["project"].publish("corp")
                new = corp.uploads[before:]
                if not new or any(u.user != "alice" for u in new):
                    raise PrivrepoError(f"expected uploads by alice, got {new}")
                return ", ".join(u.filename for u in new)

            def bump() -> str:
                return f"version {state['project'].version('patch')}"

            def publish_build() -> str:
                corp = state["corp"]
                before = len(corp.uploads)
                # The 0.1.0 files are still in dist/: Poetry 2.3.0 then stops with "Aborted!"
                # under --no-interaction (seen here; 1.8.5 and 2.5.1 go on). An empty dist/ is
                # what "build, then publish" means on every release.
                shutil.rmtree(state["project"].path / "dist", ignore_errors=True)
                state["project"].publish("corp", build=True)
                new = corp.uploads[before:]
                if not any(u.version == "0.1.1" for u in new):
                    raise PrivrepoError("the bumped version was not uploaded")
                return ", ".join(u.filename for u in new)

            def audit() -> str:
                corp = state["corp"]
                hits = list(corp.log)
                bad = [h for h in hits if h.client_cert is None or h.user != "alice" or h.status >= 400]
                if bad:
                    raise PrivrepoError(f"{len(bad)} request(s) without client cert or credentials: {bad[:3]}")
                return f"{len(hits)} requests, all with alice's credentials and a client certificate"

            for title, action in [
                ("find or provision Poetry", get_poetry),
                ("start mTLS index with basic auth", start_index),
                ("poetry config (auth, certs, repository)", configure),
                ("project with a private source", project),
                ("poetry add + lock from the private index", add_and_lock),
                ("poetry install", install),
                ("poetry build", build),
                ("poetry publish -r corp", publish),
                ("poetry version patch", bump),
                ("poetry publish --build -r corp", publish_build),
                ("audit the request log", audit),
            ]:
                step(title, action)
        except _Abort:
            pass
    total = step.n
    if step.failed:
        print(f"demo: FAILED ({step.failed} of {total} steps)", file=out)
        return 1
    print(f"demo: all {total} steps passed", file=out)
    return 0

