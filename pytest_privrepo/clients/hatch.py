"""Drive the real Hatch (``hatch publish``) in an isolated environment.

:class:`Hatch` hands ``hatch publish`` an index's upload URL, credentials and certificates
on the command line (``route="cli"``: ``-r -u -a --ca-cert --client-cert``) or through
Hatch's variables (``route="env"``: ``HATCH_INDEX_REPO/USER/AUTH/CA_CERT/CLIENT_CERT``).
Our client certificate is one PEM with key + certificate, which Hatch accepts as
``--client-cert`` alone; ``--client-key`` is only needed for a separate key file.

Every run is ``-n`` (no prompts: a missing credential aborts) and ``-y``.

mTLS workaround: Hatch 1.18 (httpx2) cannot combine ``--ca-cert`` with ``--client-cert``;
httpx2 raises ``TypeError: `verify=<str>` cannot be combined with `cert=...` `` and Hatch
reports it as an upload error. For an index with a client certificate :meth:`Hatch.publish`
therefore passes the CA as ``SSL_CERT_FILE`` (which httpx2's default context reads) and only
the client certificate as an option; ``split_ca=False`` reproduces the failing combination.

Behaviour worth knowing (Hatch 1.x, ``hatch/index/core.py``): for a host that is not
pypi.org, Hatch assumes devpi and, before uploading a project's first file, GETs
``<repo URL>/+simple/<project>/`` with the publish credentials. Files listed there are
skipped as "already exists"; any error (404 on a plain index) means "nothing there yet".
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..errors import ConfigError
from .env import ClientEnv
from .result import CommandResult

__all__ = ["HATCH_ROUTES", "Hatch"]

#: Ways to hand Hatch an index's URL, credentials and certificates.
HATCH_ROUTES = ("cli", "env")


class Hatch:
    """One Hatch executable, run in an isolated environment."""

    def __init__(self, env: ClientEnv, executable: str | os.PathLike[str], *,
                 timeout: float = 120.0) -> None:
        self.executable = Path(executable)
        if not self.executable.exists():
            raise ConfigError(f"hatch executable {self.executable} does not exist")
        self.env = env
        self.timeout = timeout

    def run(self, *args: str | os.PathLike[str], cwd: str | os.PathLike[str] | None = None,
            check: bool = True, extra_env: Mapping[str, str | None] | None = None) -> CommandResult:
        """Run ``hatch <args>``."""
        return self.env.run([self.executable, *args], cwd=cwd, check=check, timeout=self.timeout,
                            extra_env=extra_env)

    def publish(
        self,
        dists: Sequence[str | os.PathLike[str]],
        index: object,
        *,
        route: str = "cli",
        username: str | None = None,
        password: str | None = None,
        certificates: bool = True,
        split_ca: bool = True,
        check: bool = True,
    ) -> CommandResult:
        """``hatch publish`` ``dists`` to ``index``'s upload URL.

        ``username``/``password`` override the index's own (``"__token__"`` + token, a wrong
        password ...); ``certificates=False`` leaves out the CA and client certificate.
        """
        if route not in HATCH_ROUTES:
            raise ConfigError(f"unknown hatch route {route!r}: use one of {', '.join(HATCH_ROUTES)}")
        if not dists:
            raise ConfigError("publish() needs at least one distribution file")
        url: str = index.upload_url  # type: ignore[attr-defined]
        user = username if username is not None else getattr(index, "username", None)
        secret = password if password is not None else getattr(index, "password", None)
        ca = getattr(index, "ca_cert", None) if certificates else None
        client = getattr(index, "client_cert", None) if certificates else None

        argv: list[str] = ["publish", "-n", "-y"]
        extra_env: dict[str, str | None] = {}
        if ca and client and split_ca:
            extra_env["SSL_CERT_FILE"] = str(ca)  # see the module docstring
            ca = None
        if route == "cli":
            argv += ["-r", url]
            if user:
                argv += ["-u", user]
            if secret:
                argv += ["-a", secret]
            if ca:
                argv += ["--ca-cert", str(ca)]
            if client:
                argv += ["--client-cert", str(client)]
        else:
            extra_env["HATCH_INDEX_REPO"] = url
            if user:
                extra_env["HATCH_INDEX_USER"] = user
            if secret:
                extra_env["HATCH_INDEX_AUTH"] = secret
            if ca:
                extra_env["HATCH_INDEX_CA_CERT"] = str(ca)
            if client:
                extra_env["HATCH_INDEX_CLIENT_CERT"] = str(client)
        argv += [os.fspath(Path(d).absolute()) for d in dists]
        return self.run(*argv, check=check, extra_env=extra_env)

    def __repr__(self) -> str:
        return f"<Hatch {self.executable}>"
