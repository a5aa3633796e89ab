"""The ``privrepo`` command: serve an index from a folder, outside pytest.

``privrepo serve`` uses the same :class:`~pytest_privrepo.Privrepo` object as the fixtures,
prints where the index is and how to configure clients for it, prints one line per request
(so a user sees what their client actually asked for, and what it got), and runs until
SIGINT or SIGTERM, then stops the server, removes its temporary files and exits 0.

``privrepo serve --host-name pypi.corp.example`` serves a named index instead: the
Privrepo starts its gateway, and the summary says what a user needs to reach that name by
hand (the proxy variables, the CA file, client lines that carry both), since the name
exists nowhere but behind that proxy.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import urllib.parse
from collections.abc import Sequence
from pathlib import Path

from . import __version__
from .access import GatewayAccess
from .clients.env import LOOPBACK_HOSTS
from .errors import ConfigError, PrivrepoError
from .gateway import EgressLog, check_host_name
from .gateway.hosts import is_loopback_host
from .index import Hit, Index, IndexServer
from .session import Privrepo
from .snippets import all_snippets, proxy_env

__all__ = ["main", "build_parser"]

DIST_SUFFIXES = (".whl", ".tar.gz", ".zip")


DESCRIPTION = "Ephemeral private package indexes on the command line, outside pytest."

# Help texts are plain text kept under 80 columns (RawDescriptionHelpFormatter prints them
# as written): the module docstring carries reST markup that argparse would show verbatim.
EPILOG = """\
examples:
  privrepo serve --mtls --auth alice:s3cret   HTTPS, client certificate, a user
  privrepo serve --token tok --dir ./dists    serve ./dists, keep uploads there
  privrepo serve --tls --host-name pypi.corp.example
                                              a named host behind a local proxy
  privrepo demo                               the whole flow, real Poetry

Run "privrepo COMMAND --help" for the options of one command."""

SERVE_DESCRIPTION = """\
Start one private index on a loopback address, print its URL, certificate
paths and ready-to-paste configuration for Poetry, pip, uv, pdm, twine, hatch
and flit, then print one line per request (method, path, status, user; never
a password) until Ctrl+C or SIGTERM.

Where files live: without --dir the index starts empty, and everything it
writes (uploaded distributions, the test CA and certificates, pages) lives in
a temporary directory that is removed on stop: uploads are gone after a
restart. With --dir DIR the distributions already in DIR are served, and
uploads are written to DIR/<project>/ and kept; the certificates still live
in the temporary directory and are new on every start.

With --host-name NAME the index is a named host (https://NAME/simple/ with
--tls or --mtls, its certificate issued for NAME) that exists only behind a
proxy on a loopback port, which this command starts too: it prints the proxy
variables (HTTPS_PROXY, NO_PROXY) and the CA file a client needs to reach it,
and every client line carries them. The proxy serves NAME and refuses every
other host; nothing is forwarded off the machine."""

SERVE_EPILOG = """\
The summary goes to standard output (with --json: exactly one JSON line; with
--host-name it adds "host_name" and "proxy_env", the proxy variables), request
lines to standard error, with a "proxy: ... refused" line for each request
the proxy refused (a host other than NAME). Stopping removes the temporary
directory and exits 0."""


def build_parser() -> argparse.ArgumentParser:
    # Plain text only: the module docstring carries reST markup that argparse prints verbatim.
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(prog="privrepo", description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=raw)
    parser.add_argument("--version", action="version", version=f"privrepo {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = sub.add_parser("serve", help="serve the distributions of a folder as a private index",
                           description=SERVE_DESCRIPTION, epilog=SERVE_EPILOG, formatter_class=raw)
    serve.add_argument("--name", default="private", help="index name (default: private)")
    mode = serve.add_mutually_exclusive_group()
    mode.add_argument("--tls", action="store_const", const="tls", dest="tls",
                      help="HTTPS with a fresh test CA")
    mode.add_argument("--mtls", action="store_const", const="mtls", dest="tls",
                      help="HTTPS that requires a client certificate")
    serve.add_argument("--auth", action="append", default=[], metavar="USER:PASS",
                       help="accept this user (repeatable)")
    serve.add_argument("--token", action="append", default=[], metavar="T",
                       help="accept this token as user __token__ (repeatable)")
    serve.add_argument("--public-read", action="store_true",
                       help="reads need no credentials (uploads still do)")
    serve.add_argument("--dir", type=Path, default=None,
                       help="serve the distributions in DIR and keep uploads there "
                            "(default: a temporary directory, removed on stop)")
    where = serve.add_mutually_exclusive_group()
    where.add_argument("--host", default=None,
                       help="loopback address to listen on (default: 127.0.0.1)")
    where.add_argument("--host-name", default=None, metavar="NAME",
                       help="serve the index at this DNS name (pypi.corp.example), "
                            "reached through a local proxy this command starts")
    serve.add_argument("--port", type=int, default=0,
                       help="port (default: a free one; with --host-name the port in the "
                            "URL, default 443, or 80 without TLS)")
    serve.add_argument("--json", action="store_true",
                       help="print one JSON line once ready, instead of the human summary")
    serve.add_argument("--quiet", "-q", action="store_true",
                       help="do not print a line per request")
    demo = sub.add_parser(
        "demo", help="run the whole private-index flow with the real Poetry",
        description="Start an mTLS index with basic auth and run the whole private-index flow "
                    "with the real Poetry (config, lock, install, build, publish), one line "
                    "per step. Exits 1 if a step fails.",
        epilog="Which Poetry: --poetry or $PRIVREPO_POETRY, else --poetry-version or "
               "$PRIVREPO_POETRY_VERSIONS (provisioned), else an installed one, else the "
               "newest release, provisioned into the cache with your own pip settings "
               "(index URL, certificates, proxy), as `pip install poetry` would.")
    demo.add_argument("--poetry", default=None, metavar="PATH",
                      help="Poetry executable to use (else $PRIVREPO_POETRY)")
    demo.add_argument("--poetry-version", default=None, metavar="V",
                      help="Poetry version to provision (else $PRIVREPO_POETRY_VERSIONS; "
                           "default: an installed Poetry, else the newest release)")
    demo.add_argument("--cache-dir", type=Path, default=None, metavar="DIR",
                      help="where provisioned clients are cached (else $PRIVREPO_CACHE_DIR, "
                           "else ~/.cache/pytest-privrepo/clients, shared with the plugin)")
    from .audit import AUDIT_DESCRIPTION, AUDIT_EPILOG, add_audit_arguments

    audit = sub.add_parser("audit", help="prove a project's index setup resolves as its lock says",
                           description=AUDIT_DESCRIPTION, epilog=AUDIT_EPILOG, formatter_class=raw)
    add_audit_arguments(audit)
    return parser


def _parse_auth(values: Sequence[str], parser: argparse.ArgumentParser) -> list[tuple[str, str]]:
    pairs = []
    for value in values:
        user, sep, password = value.partition(":")
        if not sep or not user or not password:
            parser.error("--auth: expected USER:PASS (a user name, a colon, a password)")
        pairs.append((user, password))
    return pairs


def _dist_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.is_file() and p.name.endswith(DIST_SUFFIXES))


def _host_name(value: str) -> str:
    """``--host-name``'s value as a declared host, or the :class:`ConfigError` that names
    the problem. An address is refused here, loopback ones too: ``Privrepo.index`` would
    serve ``127.0.0.1`` as a plain loopback index, and the user asked for a name."""
    if is_loopback_host(value):
        raise ConfigError(
            f"--host-name {value!r}: a named index needs a DNS name such as "
            "'pypi.corp.example', not a loopback address (use --host for that)")
    return check_host_name(value)


def serve(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    auth = _parse_auth(args.auth, parser)
    if args.dir is not None and not args.dir.is_dir():
        parser.error(f"--dir {args.dir}: no such directory")
    host_name = _host_name(args.host_name) if args.host_name is not None else None
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with Privrepo() as repo:
        index = repo.index(
            args.name,
            auth=auth or None,
            token=args.token or None,
            tls=args.tls,
            public_read=args.public_read,
            host=host_name or args.host,
            port=args.port,
            upload_dir=args.dir,
        )
        gateway = repo.gateway.access if host_name else None
        if args.dir is not None:
            for path in _dist_files(args.dir):
                index.add_file(path)
        if args.json:
            info: dict[str, object] = {
                "name": index.name,
                "url": index.url,
                "upload_url": index.upload_url,
                "ca_cert": str(index.ca_cert) if index.ca_cert else None,
                "client_cert": str(index.client_cert) if index.client_cert else None,
                "username": index.username if auth else None,
                "password": index.password if auth else None,
                "token": index.token,
            }
            if gateway is not None:
                info.update(host_name=host_name, proxy_env=_proxy_vars(index, gateway))
            print(json.dumps(info), flush=True)
        else:
            _print_summary(index, repo.root, args.dir, gateway)
        log = None if args.quiet else _RequestPrinter(
            index.server, secrets={password for _, password in auth} | set(args.token),
            egress=repo.egress if gateway is not None else None)
        while not stop.wait(0.1):
            if log is not None:
                log.print_new()
    if log is not None:
        log.print_new()  # what arrived after the last poll, up to the server's stop
    if not args.json:
        print("privrepo: stopped", flush=True)
    return 0


class _RequestPrinter:
    """Prints the server's request log (and failed TLS handshakes) as it grows, to stderr.

    The server's log, not the index's: it also holds requests that matched no index (a client
    configured with the wrong path), which is what a user watching this output is looking
    for. Hits carry no passwords; a user name that contains one of this index's passwords or
    tokens (a token pasted into the user field, pip's ``https://TOKEN@host/`` form) is not
    printed either.
    """

    def __init__(self, server: IndexServer, secrets: set[str],
                 egress: EgressLog | None = None) -> None:
        self.server = server
        self.secrets = secrets
        self.egress = egress
        self.hits_seen = 0
        self.tls_seen = 0
        self.egress_seen = 0

    def print_new(self) -> None:
        hits = self.server.log[self.hits_seen:]
        failures = self.server.tls_failures[self.tls_seen:]
        self.hits_seen += len(hits)
        self.tls_seen += len(failures)
        # the gateway's own answers (a host that is not declared): the named host's requests
        # are in the server's log already
        records = list(self.egress)[self.egress_seen:] if self.egress is not None else []
        self.egress_seen += len(records)
        refused = [r for r in records if r.refused]
        for failure in failures:
            print(f"privrepo: TLS handshake from {failure.client} failed: "
                  f"{_printable(failure.reason)}", file=sys.stderr)
        for hit in hits:
            print(f"privrepo: {self.request_line(hit)}", file=sys.stderr)
        for record in refused:
            path = urllib.parse.quote(record.path, safe="/:@!$&'()*+,;=-._~") if record.path else ""
            print(f"privrepo: proxy: {_printable(record.method)} "
                  f"{_printable(record.host)}:{record.port}{path} refused: "
                  f"{_printable(record.reason or '')}", file=sys.stderr)
        if hits or failures or refused:
            sys.stderr.flush()

    def request_line(self, hit: Hit) -> str:
        """``GET /simple/pkg/ 200 alice``: method, path, status, user (``-`` when none sent)."""
        if hit.user is None:
            user = "-"
        elif any(secret in hit.user for secret in self.secrets):
            user = "(a password or token sent as the user name)"
        else:
            user = _printable(hit.user)
        if hit.auth_ok is False:
            user += " (rejected)"
        path = urllib.parse.quote(hit.path, safe="/:@!$&'()*+,;=-._~")
        return f"{_printable(hit.method)} {path} {hit.status} {user}"


def _printable(text: str) -> str:
    """Client-controlled text with control characters escaped, so it cannot drive the terminal."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii")
                   for ch in text)


def _proxy_vars(index: Index, gateway: GatewayAccess) -> dict[str, str]:
    """The proxy variables of :func:`~pytest_privrepo.snippets.proxy_env` as a mapping."""
    return dict(item.partition("=")[::2] for item in proxy_env(index, gateway))


def _print_summary(index: Index, root: Path, upload_dir: Path | None,
                   gateway: GatewayAccess | None = None) -> None:
    lines = [
        f"privrepo: index {index.name!r} ready ({len(index.files())} files)",
        f"  url:         {index.url}",
        f"  upload url:  {index.upload_url}",
        f"  files:       {root} (temporary, removed on stop)",
    ]
    if gateway is not None:
        variable = next(iter(_proxy_vars(index, gateway)))
        lines += [
            f"  proxy:       {gateway.proxy_url} (clients reach {index.host} only through it; "
            "the name is never looked up in DNS)",
            f"  no proxy:    {','.join(LOOPBACK_HOSTS)}",
            f"  by hand:     export {variable}={gateway.proxy_url} "
            f"{variable.lower()}={gateway.proxy_url} NO_PROXY={','.join(LOOPBACK_HOSTS)} "
            f"no_proxy={','.join(LOOPBACK_HOSTS)}",
            f"               (the proxy serves only {index.host} and refuses every other "
            "host, PyPI included; the lines below set these per command)",
        ]
    if upload_dir is not None:
        lines.append(f"  uploads:     {upload_dir} (kept)")
    if index.ca_cert:
        lines.append(f"  ca cert:     {index.ca_cert}")
    if index.client_cert:
        lines.append(f"  client cert: {index.client_cert}")
    if index.username:
        lines.append(f"  username:    {index.username}")
        lines.append(f"  password:    {index.password}")
    for client, snippet in all_snippets(index, gateway).items():
        lines.append(f"\n# {client}")
        lines.extend(snippet)
    lines.append("\nPress Ctrl+C to stop" + ("." if upload_dir else "; uploads are removed on stop."))
    print("\n".join(lines), flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "serve":
            return serve(args, parser)
        if args.command == "audit":
            from .audit import run_audit_command

            return run_audit_command(args, stdout=sys.stdout, stderr=sys.stderr)
        if args.command == "demo":
            from .demo import run_demo

            return run_demo(poetry=args.poetry, poetry_version=args.poetry_version,
                            cache_dir=args.cache_dir)
    except PrivrepoError as exc:
        print(f"privrepo: error: {exc}", file=sys.stderr)
        return 2
    parser.error(f"unknown command {args.command!r}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
