"""The ``privrepo`` command: serve an index from a folder, outside pytest.

``privrepo serve`` uses the same :class:`~pytest_privrepo.Privrepo` object as the fixtures,
prints where the index is and how to configure clients for it, and runs until SIGINT or
SIGTERM, then stops the server, removes its temporary files and exits 0.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from .errors import PrivrepoError
from .session import Privrepo
from .snippets import all_snippets

__all__ = ["main", "build_parser"]

DIST_SUFFIXES = (".whl", ".tar.gz", ".zip")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="privrepo", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the distributions of a folder as a private index")
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
                       help="serve the distributions in DIR; uploads are stored there too")
    serve.add_argument("--host", default="127.0.0.1", help="loopback address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    serve.add_argument("--json", action="store_true",
                       help="print one JSON line once ready, instead of the human summary")
    demo = sub.add_parser("demo", help="run the whole private-index flow with the real Poetry")
    demo.add_argument("--poetry", default=None, metavar="PATH",
                      help="Poetry executable to use (default: provision one)")
    demo.add_argument("--poetry-version", default=None, metavar="V",
                      help="Poetry version to provision (default: the newest)")
    demo.add_argument("--cache-dir", type=Path, default=None,
                      help="where provisioned Poetry virtualenvs are cached "
                           "(default: ~/.cache/pytest-privrepo/clients)")
    return parser


def _parse_auth(values: Sequence[str], parser: argparse.ArgumentParser) -> list[tuple[str, str]]:
    pairs = []
    for value in values:
        user, sep, password = value.partition(":")
        if not sep or not user or not password:
            parser.error(f"--auth {value!r}: expected USER:PASS")
        pairs.append((user, password))
    return pairs


def _dist_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.is_file() and p.name.endswith(DIST_SUFFIXES))


def serve(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    auth = _parse_auth(args.auth, parser)
    if args.dir is not None and not args.dir.is_dir():
        parser.error(f"--dir {args.dir}: no such directory")
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
            host=args.host,
            port=args.port,
            upload_dir=args.dir,
        )
        if args.dir is not None:
            for path in _dist_files(args.dir):
                index.add_file(path)
        if args.json:
            print(json.dumps({
                "name": index.name,
                "url": index.url,
                "upload_url": index.upload_url,
                "ca_cert": str(index.ca_cert) if index.ca_cert else None,
                "client_cert": str(index.client_cert) if index.client_cert else None,
                "username": index.username if auth else None,
                "password": index.password if auth else None,
                "token": index.token,
            }), flush=True)
        else:
            _print_summary(index)
        while not stop.wait(0.5):
            pass
    if not args.json:
        print("privrepo: stopped", flush=True)
    return 0


def _print_summary(index) -> None:  # type: ignore[no-untyped-def]
    lines = [
        f"privrepo: index {index.name!r} ready ({len(index.files())} files)",
        f"  url:         {index.url}",
        f"  upload url:  {index.upload_url}",
    ]
    if index.ca_cert:
        lines.append(f"  ca cert:     {index.ca_cert}")
    if index.client_cert:
        lines.append(f"  client cert: {index.client_cert}")
    if index.username:
        lines.append(f"  username:    {index.username}")
        lines.append(f"  password:    {index.password}")
    for client, snippet in all_snippets(index).items():
        lines.append(f"\n# {client}")
        lines.extend(snippet)
    lines.append("\nPress Ctrl+C to stop.")
    print("\n".join(lines), flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "serve":
            return serve(args, parser)
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
