"""Drive the real flit (``flit publish``) in an isolated environment.

``flit publish`` builds the wheel and sdist in-process (with the ``flit_core`` installed next
to flit, no build isolation, no network) and uploads them with ``requests``. :class:`Flit`
hands it an index by either route flit supports:

- ``route="env"``: ``FLIT_INDEX_URL``, ``FLIT_USERNAME``, ``FLIT_PASSWORD``;
- ``route="pypirc"``: a section in ``~/.pypirc`` (isolated home) and ``--repository``.

TLS: flit has no certificate option; it calls ``requests.post`` without ``verify``, so
``REQUESTS_CA_BUNDLE`` (removed from the isolated environment, set here to the index's own
CA) is how it trusts the index. Client certificates: flit has **no way** to send one, so an
mTLS index is unreachable with flit; :meth:`Flit.publish` refuses such an index unless
``allow_mtls=True`` (for tests that pin the handshake failure).

Prompts: flit asks for a username / password only when stdin is a TTY (and writes
``~/.pypirc`` after asking for a username for PyPI itself); without a TTY it fails with
``Could not find username for upload.`` / ``Could not find password for upload.``.
"""

from __future__ import annotations

import os
import re
import textwrap
from collections.abc import Mapping
from pathlib import Path

from ..errors import ConfigError
from .env import ClientEnv
from .result import CommandResult
from .twine import write_pypirc

__all__ = ["FLIT_ROUTES", "Flit", "write_flit_project"]

#: Ways to hand flit an index's URL and credentials.
FLIT_ROUTES = ("env", "pypirc")


def write_flit_project(directory: str | os.PathLike[str], name: str, version: str, *,
                       summary: str = "A flit test project") -> Path:
    """Write a minimal flit project (pyproject + one module) and return its directory."""
    root = Path(directory)
    module = re.sub(r"[-.]+", "_", name).lower()
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(textwrap.dedent(f"""\
        [build-system]
        requires = ["flit_core>=3.2,<4"]
        build-backend = "flit_core.buildapi"

        [project]
        name = "{name}"
        dynamic = ["version", "description"]
        requires-python = ">=3.8"

        [tool.flit.module]
        name = "{module}"
        """), encoding="utf-8")
    (root / f"{module}.py").write_text(f'"""{summary}"""\n\n__version__ = "{version}"\n',
                                       encoding="utf-8")
    return root


class Flit:
    """One flit executable, run in an isolated environment."""

    def __init__(self, env: ClientEnv, executable: str | os.PathLike[str], *,
                 timeout: float = 120.0) -> None:
        self.executable = Path(executable)
        if not self.executable.exists():
            raise ConfigError(f"flit executable {self.executable} does not exist")
        self.env = env
        self.timeout = timeout

    @property
    def pypirc(self) -> Path:
        """The ``~/.pypirc`` flit reads (and may write) in this environment."""
        return self.env.home / ".pypirc"

    def run(self, *args: str | os.PathLike[str], cwd: str | os.PathLike[str] | None = None,
            input: str | None = None, check: bool = True,
            extra_env: Mapping[str, str | None] | None = None) -> CommandResult:
        """Run ``flit <args>``."""
        return self.env.run([self.executable, *args], cwd=cwd, input=input, check=check,
                            timeout=self.timeout, extra_env=extra_env)

    def publish(
        self,
        project_dir: str | os.PathLike[str],
        index: object,
        *,
        route: str = "env",
        repository_name: str | None = None,
        username: str | None = None,
        password: str | None = None,
        certificates: bool = True,
        allow_mtls: bool = False,
        check: bool = True,
    ) -> CommandResult:
        """Build and upload ``project_dir`` to ``index``'s upload URL with ``flit publish``."""
        if route not in FLIT_ROUTES:
            raise ConfigError(f"unknown flit route {route!r}: use one of {', '.join(FLIT_ROUTES)}")
        if getattr(index, "client_cert", None) and not allow_mtls:
            raise ConfigError(
                "flit cannot send a client certificate, so it cannot publish to an mTLS "
                "index (pass allow_mtls=True to observe the refused handshake)"
            )
        url: str = index.upload_url  # type: ignore[attr-defined]
        user = username if username is not None else getattr(index, "username", None)
        secret = password if password is not None else getattr(index, "password", None)
        ca = getattr(index, "ca_cert", None) if certificates else None

        argv: list[str] = ["publish"]
        extra_env: dict[str, str | None] = {}
        if ca:
            extra_env["REQUESTS_CA_BUNDLE"] = str(ca)
        if route == "env":
            extra_env["FLIT_INDEX_URL"] = url
            if user:
                extra_env["FLIT_USERNAME"] = user
            if secret:
                extra_env["FLIT_PASSWORD"] = secret
        else:
            name = repository_name or getattr(index, "name", None) or "privrepo"
            write_pypirc(self.pypirc, name, repository=url, username=user, password=secret)
            argv += ["--repository", name]
        return self.run(*argv, cwd=project_dir, check=check, extra_env=extra_env)

    def __repr__(self) -> str:
        return f"<Flit {self.executable}>"
