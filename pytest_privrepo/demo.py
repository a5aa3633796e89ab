"""``privrepo demo``: the whole private-index flow with the real Poetry, step by step.

With nothing configured, it starts an mTLS index with basic auth, points a fresh Poetry
project at it (source, http-basic, certificates, client certificate, publish repository),
then locks, installs, builds, publishes, bumps the version and publishes again. Each step
prints one line with its outcome and time; the exit status is non-zero if any step fails.
Everything happens in a temporary directory that is removed at the end; the real user's
Poetry config and keyring are never read or written.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from .clients.env import ClientEnv
from .clients.poetry import Poetry
from .clients.poetry_project import PoetryProject
from .clients.provision import find_executable, provision
from .errors import PrivrepoError
from .session import Privrepo

__all__ = ["run_demo", "default_cache_dir"]


def default_cache_dir() -> Path:
    """Where the demo caches the Poetry it provisions (``~/.cache/pytest-privrepo``)."""
    import os

    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "pytest-privrepo" / "clients"


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
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            print(f"{self.n:2d}. FAIL {title:<46} {took:6.2f}s  {first}", file=self.out, flush=True)
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
             cache_dir: Path | None = None, out: TextIO = sys.stdout) -> int:
    """Run the demo; return the process exit status (0 when every step passed)."""
    step = _Steps(out)
    with tempfile.TemporaryDirectory(prefix="privrepo-demo-") as tmp, Privrepo(Path(tmp) / "index") as repo:
        root = Path(tmp)
        state: dict[str, Any] = {}
        try:
            def get_poetry() -> str:
                if poetry or not poetry_version and _on_path():
                    exe = find_executable("poetry", poetry, "PRIVREPO_POETRY")
                else:
                    exe = provision("poetry", poetry_version, cache_dir=cache_dir or default_cache_dir())
                state["poetry"] = Poetry(exe, ClientEnv(root / "client-env"))
                return f"Poetry {state['poetry'].version} ({exe})"

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


def _on_path() -> bool:
    import shutil

    return shutil.which("poetry") is not None
