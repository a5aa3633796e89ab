"""``privrepo audit``: the command-line face of :func:`~pytest_privrepo.audit.audit`.

Why here and not in cli.py: the command is the library's behaviour (which variables it
takes, what it prints where, the exit status), so it lives next to the library and is
tested with it; cli.py only adds the sub-command (:func:`add_audit_arguments`) and calls
:func:`run_audit_command`.

Exit status: 0 clean, 1 at least one finding, 2 the project cannot be audited (an
:class:`~pytest_privrepo.audit.errors.AuditError` or another bad argument). Progress
lines go to standard error, the table (or with ``--json`` exactly one JSON document) to
standard output.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from typing import TextIO

from ..errors import PrivrepoError
from .api import CLIENTS, audit
from .ci_env import load_env_file
from .errors import AuditError
from .render import render_json, render_text

__all__ = ["AUDIT_DESCRIPTION", "AUDIT_EPILOG", "add_audit_arguments", "ci_variables",
           "run_audit_command"]

AUDIT_DESCRIPTION = """\
Prove that a project's own index setup resolves as its lock file says. The
project is copied (never modified); each of its sources (pyproject.toml,
requirements.txt) is stood up at its real URL through a local gateway,
serving the locked packages at their locked versions, with every internal
package also on a stand-in PyPI at a higher version; the project's real
client resolves the copy with the CI's variables. Every package that comes
from another source, every request to PyPI for an internal name, every
credential sent to another host, missing credentials and certificates and
version-dependent settings are findings, each with its fix. Nothing leaves
the machine."""

AUDIT_EPILOG = """\
variables: by default the client's own variables of this environment
(POETRY_*, UV_*, PDM_*, PIP_*, and those a source URL names) are used, as in
the CI job itself; --env-file FILE reads NAME=value lines instead (names kept
exactly: a '-' in a name is a finding), --env NAME adds one variable of this
environment. Secrets are never printed.

exit status: 0 clean, 1 findings, 2 the project cannot be audited."""


def add_audit_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``privrepo audit`` (cli.py adds the sub-parser)."""
    parser.add_argument("project", nargs="?", default=".", metavar="PROJECT_DIR",
                        help="the project to audit (default: the current directory)")
    parser.add_argument("--client", choices=list(CLIENTS), default=None,
                        help="the project's client (default: the one whose lock file is there)")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--client-version", default=None, metavar="V",
                       help="provision this exact version (or 'latest') of the client")
    which.add_argument("--client-path", default=None, metavar="PATH",
                       help="run this executable of the client")
    parser.add_argument("--env-file", action="append", default=[], metavar="FILE",
                        help="the CI variables, NAME=value lines (repeatable)")
    parser.add_argument("--env", action="append", default=[], metavar="NAME",
                        help="take variable NAME from this environment (repeatable)")
    parser.add_argument("--anonymous", action="append", default=[], metavar="SOURCE",
                        help="a private source that really is open (repeatable)")
    parser.add_argument("--internal", action="append", default=[], metavar="PATTERN",
                        help="internal package names, e.g. 'acme-*' (pip: its requirements "
                             "file does not say where a package comes from; repeatable)")
    parser.add_argument("--cache-dir", default=None, metavar="DIR",
                        help="where provisioned clients are kept")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def ci_variables(env_files: list[str], names: list[str],
                 environ: Mapping[str, str]) -> dict[str, str]:
    """The CI variables of one run (see :data:`AUDIT_EPILOG`)."""
    if not env_files and not names:
        # the CI job's own environment: the audit passes on only what the client reads
        # (its own variables and those a source URL names, see ci_env.client_variables)
        return dict(environ)
    out: dict[str, str] = {}
    for file in env_files:
        out.update(load_env_file(file))
    for name in names:
        if name not in environ:
            raise AuditError(f"--env {name}: the variable is not set in this environment")
        out[name] = environ[name]
    return out


def run_audit_command(args: argparse.Namespace, *, stdout: TextIO, stderr: TextIO,
                      environ: Mapping[str, str] | None = None) -> int:
    """Run one ``privrepo audit``; return its exit status."""
    def progress(line: str) -> None:
        print(f"privrepo audit: {line}", file=stderr, flush=True)

    try:
        variables = ci_variables(args.env_file, args.env,
                                 os.environ if environ is None else environ)
        report = audit(args.project, client=args.client, client_version=args.client_version,
                       executable=args.client_path, env=variables, progress=progress,
                       cache_dir=args.cache_dir, anonymous=args.anonymous,
                       internal=args.internal)
    except PrivrepoError as exc:
        print(f"privrepo audit: error: {exc}", file=stderr)
        return 2
    print(render_json(report) if args.json else render_text(report), file=stdout)
    return report.exit_code
