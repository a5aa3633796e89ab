"""Drive the real Hatch (``hatch publish``) in an isolated environment.

:class:`Hatch` hands ``hatch publish`` an index's upload URL, credentials and certificates
on the command line (``route="cli"``: ``-r -u -a --ca-cert --client-cert``) or through
Hatch's variables (``route="env"``: ``HATCH_INDEX_REPO/USER/AUTH/CA_CERT/CLIENT_CERT``).
Our client certificate is one PEM with key + certificate, which Hatch accepts as
``--client-cert`` alone; a separate key file goes in ``client_key=`` (``--client-key`` /
``HATCH_INDEX_CLIENT_KEY``, since Hatch 1.4.0 like ``--client-cert``). Hatch hands the pair
to the HTTP library as ``cert=(client_cert, client_key)`` and ignores a key without a
certificate, so :meth:`Hatch.publish` refuses that combination.

Every run is ``-n`` (no prompts: a missing credential aborts) and ``-y`` (Hatch >= 1.3.0;
older releases have no ``-y`` and nothing to confirm).

Versions (checked with the releases provisioned against the current dependencies; the
tests pass with Hatch 1.4.0 and newer):

- Hatch < 1.3.0 reads ``HATCH_PYPI_REPO/USER/AUTH`` instead of ``HATCH_INDEX_*`` (the env
  route uses whichever the release reads);
- ``--ca-cert`` / ``--client-cert`` and their variables exist since Hatch 1.4.0: with an
  older Hatch, :meth:`Hatch.publish` refuses an index that needs a certificate
  (``ConfigError``) instead of letting the option or variable be rejected or ignored;
- Hatch >= 1.7.0 prefixes an upload failure with ``Error uploading to repository: <url> - ``;
  older releases print the HTTP library's message alone (:meth:`Hatch.publish_error`).

mTLS workaround: no Hatch release combines ``--ca-cert`` with ``--client-cert``.
Hatch 1.4.0 - 1.16.x use httpx, whose ``create_ssl_context`` (httpx 0.28, what they get
installed today) returns early for ``verify=<str>`` and silently drops the client
certificate: the server refuses the handshake. Hatch >= 1.17.0 uses httpx2, which raises
``TypeError: `verify=<str>` cannot be combined with `cert=...` `` before connecting; Hatch
reports either as an upload error. For an index with a client certificate
:meth:`Hatch.publish` therefore passes the CA as ``SSL_CERT_FILE`` (which both libraries'
default context reads) and only the client certificate as an option; ``split_ca=False``
reproduces the failing combination.

Behaviour worth knowing (Hatch >= 1.4.0, ``hatch/index/core.py``): for a host that is not
pypi.org, Hatch assumes devpi and, before uploading a project's first file, GETs
``<repo URL>/+simple/<project>/`` with the publish credentials (Hatch < 1.4.0 GETs
``/simple/<project>/`` on the repository's host instead). Files listed there are
skipped as "already exists"; any error (404 on a plain index) means "nothing there yet".
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from packaging.version import Version

from urllib.parse import urlsplit

from ..access import IndexAccess
from ..errors import ConfigError
from .env import LOOPBACK_HOSTS
from .indexes import IndexArg
from .result import CommandResult
from .runner import ClientRunner, Route

__all__ = ["HATCH_ROUTES", "Hatch"]

#: Ways to hand Hatch an index's URL, credentials and certificates.
HATCH_ROUTES: tuple[Route, ...] = ("cli", "env")

#: ``hatch publish -y/--yes`` exists since this release.
YES_SINCE = Version("1.3.0")
#: ``HATCH_INDEX_REPO/USER/AUTH`` since this release (``HATCH_PYPI_*`` before).
INDEX_VARIABLES_SINCE = Version("1.3.0")
#: ``--ca-cert``, ``--client-cert``, ``--client-key`` (and ``HATCH_INDEX_CA_CERT`` ...)
#: exist since this release.
CERTIFICATES_SINCE = Version("1.4.0")
#: Upload failures read ``Error uploading to repository: <url> - <error>`` since this release.
ERROR_PREFIX_SINCE = Version("1.7.0")

#: Since Hatch 1.7.0 ``hatch publish`` builds ``httpx.Client(transport=HTTPTransport(...))``
#: (hatch commit 80cd11ee, #619; Hatch 1.18.2 the same with httpx2), and httpx reads proxy
#: variables only for a client without its own transport: publish ignores ``HTTPS_PROXY``
#: (hatch#1908, open) and connects to the upload host itself, past the gateway. Such a
#: Hatch is refused any upload URL outside loopback, which it would reach on the real network.
IGNORES_PROXY_SINCE = Version("1.7.0")
#: Hatch uploads with httpx2 (not httpx) since this release.
HTTPX2_SINCE = Version("1.17.0")


class Hatch(ClientRunner):
    """One Hatch executable, run in an isolated environment (``hatch --version`` ->
    ``Hatch, version 1.18.2``: the last word)."""

    tool = "hatch"
    default_timeout = 120.0

    def publish_error(self, url: str, error: str) -> str:
        """The message ``hatch publish`` aborts with (after ``failed``) when an upload to
        ``url`` fails with ``error`` (the HTTP library's text, e.g. ``Client error '403 ...'
        for url '...'``): ``Error uploading to repository: <url> - <error>`` since Hatch
        1.7.0, ``<error>`` alone before."""
        if self.release >= ERROR_PREFIX_SINCE:
            return f"Error uploading to repository: {url} - {error}"
        return error

    def _check_reachable(self, url: str) -> None:
        host = urlsplit(url).hostname or ""
        if host in LOOPBACK_HOSTS or self.release < IGNORES_PROXY_SINCE:
            return
        raise ConfigError(
            f"hatch {self.version()} ignores HTTPS_PROXY when it publishes (it passes httpx "
            f"its own transport; hatch#1908), so it would connect to {host} itself instead "
            "of through the gateway: publish with Hatch to a loopback index, or use "
            f"Hatch < {IGNORES_PROXY_SINCE} for named hosts and PyPI"
        )

    def publish(
        self,
        dists: Sequence[str | os.PathLike[str]],
        index: IndexArg,
        *,
        route: Route | str = "cli",
        username: str | None = None,
        password: str | None = None,
        certificates: bool = True,
        client_cert: str | os.PathLike[str] | None = None,
        client_key: str | os.PathLike[str] | None = None,
        split_ca: bool = True,
        check: bool = True,
    ) -> CommandResult:
        """``hatch publish`` ``dists`` to ``index``'s upload URL.

        ``username``/``password`` override the index's own (``"__token__"`` + token, a wrong
        password ...); ``certificates=False`` leaves out the CA and client certificate.
        ``client_cert`` replaces the index's client certificate (e.g. a PEM holding only the
        certificate) and ``client_key`` adds its private key as a separate file
        (``--client-key`` / ``HATCH_INDEX_CLIENT_KEY``); a key needs a certificate
        (:class:`ConfigError` otherwise: Hatch would silently ignore it).
        """
        route = self.check_route(route, HATCH_ROUTES)
        if not dists:
            raise ConfigError("publish() needs at least one distribution file")
        access = IndexAccess.of(index).overridden(
            username=username, password=password, certificates=certificates)
        url = access.needs_upload_url("publish()")
        self._check_reachable(url)
        user, secret, ca = access.username, access.password, access.ca_cert
        # Hatch runs in the environment's root: paths given here are made absolute
        client = (Path(client_cert).absolute() if client_cert is not None
                  else access.client_cert)
        key = Path(client_key).absolute() if client_key is not None else None
        if key is not None and not client:
            raise ConfigError(
                "publish(client_key=...) needs a client certificate (the index's or "
                "client_cert=): Hatch ignores --client-key / HATCH_INDEX_CLIENT_KEY without one"
            )
        if ca or client:
            self.require(CERTIFICATES_SINCE, (
                f"cannot be given a CA or client certificate (--ca-cert/--client-cert/"
                f"--client-key were added in Hatch {CERTIFICATES_SINCE}), so no TLS index"))

        argv: list[str] = ["publish", "-n"]
        if self.release >= YES_SINCE:
            argv.append("-y")
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
            if key is not None:
                argv += ["--client-key", str(key)]
        else:
            # Hatch < 1.3.0 read HATCH_PYPI_REPO/USER/AUTH (renamed HATCH_INDEX_* in 1.3.0)
            prefix = "HATCH_INDEX" if self.release >= INDEX_VARIABLES_SINCE else "HATCH_PYPI"
            extra_env[f"{prefix}_REPO"] = url
            if user:
                extra_env[f"{prefix}_USER"] = user
            if secret:
                extra_env[f"{prefix}_AUTH"] = secret
            if ca:
                extra_env["HATCH_INDEX_CA_CERT"] = str(ca)
            if client:
                extra_env["HATCH_INDEX_CLIENT_CERT"] = str(client)
            if key is not None:
                extra_env["HATCH_INDEX_CLIENT_KEY"] = str(key)
        argv += [os.fspath(Path(d).absolute()) for d in dists]
        return self.run(*argv, check=check, extra_env=extra_env)
