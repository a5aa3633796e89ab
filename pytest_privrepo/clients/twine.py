"""Drive the real twine (``twine upload``) in an isolated environment.

:class:`Twine` hands twine an index's upload URL, credentials and certificates by each of
the routes twine supports, so a test can prove every one of them works:

- ``route="cli"``: ``--repository-url -u -p --cert --client-cert``;
- ``route="env"``: ``TWINE_REPOSITORY_URL``, ``TWINE_USERNAME``, ``TWINE_PASSWORD``,
  ``TWINE_CERT``. twine has no variable for the client certificate, so
  ``--client-cert`` is still passed on the command line for an mTLS index;
- ``route="pypirc"``: a ``~/.pypirc`` in the environment's (isolated) home with
  ``repository``, ``username``, ``password``, ``ca_cert``, ``client_cert``, and
  ``-r <name>``.

Every run is ``--non-interactive --disable-progress-bar``: a missing credential fails
instead of prompting, and the output stays readable in a report.

Versions: every route works the same from twine 3.4.0 to 7.0.0. What differs is the upload
form (see :attr:`Twine.release`): twine < 6.1.0 sends an sdist's ``pyversion`` empty
(``source`` since), twine < 6.2.0 also sends ``md5_digest``, twine < 6.1.0 sends every
metadata field (author, description, ...) even when empty. Releases installed today with
the newest dependencies fail at start-up, before any upload: twine < 3.4.0 imports
``pkg_resources`` (no setuptools in the venv), twine 3.8.0 imports ``packaging`` without
declaring it (readme_renderer no longer brings it), twine 4.0.1/4.0.2 read their own
``License`` field, which their wheels lack and importlib_metadata >= 8 reports as KeyError.
"""

from __future__ import annotations

import configparser
import os
from collections.abc import Sequence
from pathlib import Path

from ..access import IndexAccess
from ..errors import ConfigError
from .indexes import IndexArg
from .result import CommandResult
from .runner import ClientRunner, Route

__all__ = ["TWINE_ROUTES", "Twine", "write_pypirc"]

#: Ways to hand twine an index's URL, credentials and certificates.
TWINE_ROUTES: tuple[Route, ...] = ("cli", "env", "pypirc")


def write_pypirc(path: Path, name: str, *, repository: str, username: str | None = None,
                 password: str | None = None, ca_cert: object = None,
                 client_cert: object = None) -> Path:
    """Add (or replace) section ``name`` of a ``.pypirc`` and list it in ``index-servers``.

    ``ca_cert`` / ``client_cert`` are twine's keys; flit and hatch ignore them.
    """
    cp = configparser.ConfigParser(interpolation=None)
    if path.exists():
        cp.read(path, encoding="utf-8")
    if not cp.has_section("distutils"):
        cp.add_section("distutils")
    servers = cp.get("distutils", "index-servers", fallback="").split()
    if name not in servers:
        servers.append(name)
    cp.set("distutils", "index-servers", "\n" + "\n".join(servers))
    if cp.has_section(name):
        cp.remove_section(name)
    cp.add_section(name)
    cp.set(name, "repository", repository)
    for key, value in (("username", username), ("password", password),
                       ("ca_cert", ca_cert), ("client_cert", client_cert)):
        if value:
            cp.set(name, key, str(value))
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        cp.write(handle)
    path.chmod(0o600)
    return path


class Twine(ClientRunner):
    """One twine executable, run in an isolated environment."""

    tool = "twine"
    default_timeout = 120.0
    #: twine 6.1.0 and 7.0.0 verify with requests' certifi (``--cert`` goes on the session)
    trust_store = "certifi"

    @property
    def pypirc(self) -> Path:
        """The ``~/.pypirc`` twine reads in this environment."""
        return self.env.home / ".pypirc"

    def parse_version(self, words: list[str]) -> str | None:
        """``twine --version`` -> ``twine version 7.0.0 (...)``: the third word."""
        return words[2] if len(words) >= 3 and words[:2] == ["twine", "version"] else None

    def upload(
        self,
        dists: Sequence[str | os.PathLike[str]],
        index: IndexArg,
        *,
        route: Route | str = "cli",
        repository_name: str | None = None,
        username: str | None = None,
        password: str | None = None,
        certificates: bool = True,
        check: bool = True,
        extra_args: Sequence[str] = (),
    ) -> CommandResult:
        """Upload ``dists`` to ``index`` (an :class:`~pytest_privrepo.access.IndexAccess` or
        an ``Index``: its ``upload_url``, credentials and certificates).

        ``username``/``password`` override the index's own (e.g. ``"__token__"`` and its
        token, or a wrong password); ``certificates=False`` leaves out CA and client cert.
        """
        route = self.check_route(route, TWINE_ROUTES)
        if not dists:
            raise ConfigError("upload() needs at least one distribution file")
        access = IndexAccess.of(index).overridden(
            username=username, password=password, certificates=certificates)
        url = access.needs_upload_url("upload()")
        user, secret = access.username, access.password
        ca, client = access.ca_cert, access.client_cert

        argv: list[str] = ["upload", "--non-interactive", "--disable-progress-bar"]
        extra_env: dict[str, str | None] = {}
        if route == "cli":
            argv += ["--repository-url", url]
            if user:
                argv += ["--username", user]
            if secret:
                argv += ["--password", secret]
            if ca:
                argv += ["--cert", str(ca)]
            if client:
                argv += ["--client-cert", str(client)]
        elif route == "env":
            extra_env["TWINE_REPOSITORY_URL"] = url
            if user:
                extra_env["TWINE_USERNAME"] = user
            if secret:
                extra_env["TWINE_PASSWORD"] = secret
            if ca:
                extra_env["TWINE_CERT"] = str(ca)
            if client:
                argv += ["--client-cert", str(client)]  # twine reads no variable for it
        else:
            name = repository_name or access.name or "privrepo"
            write_pypirc(self.pypirc, name, repository=url, username=user, password=secret,
                         ca_cert=ca, client_cert=client)
            argv += ["-r", name]
        argv += [*extra_args, *(os.fspath(d) for d in dists)]
        return self.run(*argv, check=check, extra_env=extra_env)
