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

Versions: the tests pass with flit >= 4.0.1 as installed today. flit 3.x declares
``flit_core>=3.x`` with no upper bound, so it now gets flit_core 4, whose sdist builder no
longer takes ``gen_setup_py``: every ``flit publish`` of a 3.x release then dies with a
``TypeError``, which :meth:`Flit.run` turns into a ``ConfigError`` saying which flit_core to
install. With the matching flit_core (``flit_core==<flit's version>``) flit 3.9 - 3.12 pass
too; flit < 3.9 names sdists after the unnormalised project name (``flit-pub-1.0.tar.gz``),
which the index, like PyPI, refuses.
"""

from __future__ import annotations

import os
import re
import textwrap
from collections.abc import Mapping
from pathlib import Path

from packaging.version import Version

from ..access import IndexAccess
from ..errors import ConfigError
from .indexes import IndexArg
from .result import CommandResult
from .runner import OWN_TIMEOUT, ClientRunner, Route
from .twine import write_pypirc

__all__ = ["FLIT_ROUTES", "Flit", "write_flit_project"]

#: Ways to hand flit an index's URL and credentials.
FLIT_ROUTES: tuple[Route, ...] = ("env", "pypirc")

#: What flit 3.x prints when it runs with flit_core >= 4 (see the module docstring).
_FLIT_CORE_4_WITH_FLIT_3 = "unexpected keyword argument 'gen_setup_py'"


def provision_extras(version: str | None) -> tuple[str, ...]:
    """What to install next to ``flit==version``. flit 3.x requires ``flit_core>=3.x`` with no
    upper bound, so an install today pairs it with flit_core 4, whose sdist builder flit 3
    cannot call (``gen_setup_py``). flit and flit_core are released in lockstep: pin the
    matching one."""
    if version is not None and Version(version) < Version("4"):
        return (f"flit_core=={version}",)
    return ()


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


class Flit(ClientRunner):
    """One flit executable, run in an isolated environment (``flit --version`` ->
    ``Flit 4.2.0``: the last word)."""

    tool = "flit"
    default_timeout = 120.0
    #: flit 4.2.0 uploads with requests' certifi; its only CA setting, REQUESTS_CA_BUNDLE
    #: (publish() sets it to the index's CA), replaces it
    trust_store = "certifi"

    @property
    def pypirc(self) -> Path:
        """The ``~/.pypirc`` flit reads (and may write) in this environment."""
        return self.env.home / ".pypirc"

    def run(self, *args: str | os.PathLike[str], cwd: str | os.PathLike[str] | None = None,
            input: str | None = None, check: bool = True, timeout: float | None = OWN_TIMEOUT,
            extra_env: Mapping[str, str | os.PathLike[str] | None] | None = None) -> CommandResult:
        """Run ``flit <args>``.

        A flit 3.x that got flit_core 4 next to it cannot build an sdist; that raises
        :class:`ConfigError` (whatever ``check`` says) naming the flit_core it needs.
        """
        result = super().run(*args, cwd=cwd, input=input, check=False, timeout=timeout,
                             extra_env=extra_env)
        if not result.ok and _FLIT_CORE_4_WITH_FLIT_3 in result.output:
            version = self.version()
            raise ConfigError(
                f"flit {version} at {self.executable} runs with flit_core >= 4, which removed "
                f"the sdist option flit 3.x passes (TypeError: ...{_FLIT_CORE_4_WITH_FLIT_3}): "
                f"install flit_core=={version} next to it, or use flit >= 4.0.1"
            )
        return result.check() if check else result

    def publish(
        self,
        project_dir: str | os.PathLike[str],
        index: IndexArg,
        *,
        route: Route | str = "env",
        repository_name: str | None = None,
        username: str | None = None,
        password: str | None = None,
        certificates: bool = True,
        allow_mtls: bool = False,
        check: bool = True,
    ) -> CommandResult:
        """Build and upload ``project_dir`` to ``index``'s upload URL with ``flit publish``."""
        route = self.check_route(route, FLIT_ROUTES)
        access = IndexAccess.of(index)
        if access.client_cert and not allow_mtls:
            raise ConfigError(
                "flit cannot send a client certificate, so it cannot publish to an mTLS "
                "index (pass allow_mtls=True to observe the refused handshake)"
            )
        access = access.overridden(username=username, password=password,
                                   certificates=certificates)
        url = access.needs_upload_url("publish()")
        user, secret, ca = access.username, access.password, access.ca_cert

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
            name = repository_name or access.name or "privrepo"
            write_pypirc(self.pypirc, name, repository=url, username=user, password=secret)
            argv += ["--repository", name]
        return self.run(*argv, cwd=project_dir, check=check, extra_env=extra_env)
