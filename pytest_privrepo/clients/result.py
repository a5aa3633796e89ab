"""The outcome of one client command, as a value a test can assert on.

A failing ``pip install`` inside a test is only useful if the pytest report shows *what*
ran, *where*, and *what it printed*. :class:`CommandResult` keeps all of that together and
:meth:`CommandResult.check` turns a failure into a :class:`~pytest_privrepo.errors.ClientError`
whose message is readable as-is in a report (command line, exit code, cwd, both streams).
Every such text, and the result's repr, goes through :mod:`pytest_privrepo.redact`: a
report shows ``--password ****`` and ``http://alice:****@...``, never the secret, while
:attr:`CommandResult.argv` and the streams stay exactly what ran and what was printed, for
tests that assert on them.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from collections.abc import Iterable
from pathlib import Path

from packaging.version import InvalidVersion, Version

from pytest_privrepo.errors import ClientError
from pytest_privrepo.redact import redact, redact_argv, secrets_in_argv

__all__ = ["CommandResult", "format_command_failure", "parse_release"]

#: Each stream is cut to its last this-many characters in error messages: the cause of a
#: failure is almost always at the end, and a 2 MB pip log would bury the report.
MAX_STREAM_CHARS = 20_000


def _tail(text: str, limit: int = MAX_STREAM_CHARS) -> str:
    if len(text) <= limit:
        return text
    return f"[... {len(text) - limit} earlier characters cut ...]\n" + text[-limit:]


def _indent(text: str) -> str:
    text = text.rstrip("\n")
    if not text:
        return "    <empty>"
    return "\n".join("    " + line for line in text.splitlines())


def format_command_failure(
    headline: str,
    argv: tuple[str, ...],
    cwd: Path | None,
    stdout: str,
    stderr: str,
    secrets: Iterable[str | None] = (),
) -> str:
    """Build the multi-line message used for failed and timed-out commands.

    Shared by :meth:`CommandResult.check` and the timeout path of
    :meth:`~pytest_privrepo.clients.env.ClientEnv.run` so both read the same in a report.
    Secrets are hidden (:func:`~pytest_privrepo.redact.redact`): those visible in ``argv``,
    the given ``secrets`` (e.g. passed to the client by a variable), and the same strings
    wherever the client echoed them in its output.
    """
    known = [*secrets, *secrets_in_argv(argv)]
    return (
        f"{redact(headline, known)}\n"
        f"  command: {shlex.join(redact_argv(argv, known))}\n"
        f"  cwd:     {cwd if cwd is not None else '<inherited>'}\n"
        f"  stdout:\n{_indent(_tail(redact(stdout, known)))}\n"
        f"  stderr:\n{_indent(_tail(redact(stderr, known)))}"
    )


@dataclass(frozen=True)
class CommandResult:
    """What a finished client process did.

    Frozen so a result can be stored on other result objects (e.g. a pip install result)
    without anyone mutating the evidence a test asserts on. ``argv``, ``stdout`` and
    ``stderr`` are kept verbatim; the repr (what pytest shows for ``assert result.ok``) and
    every message hide secrets.
    """

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    duration: float
    cwd: Path | None = field(default=None)
    #: secrets the command received other than on its command line (e.g. the values of
    #: the credential variables it ran with): hidden in the repr and messages too
    secrets: frozenset[str] = field(default=frozenset(), repr=False, compare=False)

    @property
    def ok(self) -> bool:
        """True when the process exited with status 0."""
        return self.returncode == 0

    @property
    def output(self) -> str:
        """stdout followed by stderr: clients disagree about which stream gets what."""
        if self.stdout and self.stderr and not self.stdout.endswith("\n"):
            return self.stdout + "\n" + self.stderr
        return self.stdout + self.stderr

    @property
    def command_line(self) -> str:
        """The command as a shell-quoted string, for messages and copy-paste debugging;
        secrets are shown as ``****``."""
        return shlex.join(redact_argv(self.argv, self.secrets))

    def __repr__(self) -> str:
        # Also what str() gives. pytest prints it for a failing ``assert result.ok``,
        # with -vv in full: it must never show a secret.
        known = [*self.secrets, *secrets_in_argv(self.argv)]
        return (
            f"CommandResult(argv={redact_argv(self.argv, known)!r}, "
            f"returncode={self.returncode!r}, stdout={redact(self.stdout, known)!r}, "
            f"stderr={redact(self.stderr, known)!r}, duration={self.duration!r}, "
            f"cwd={self.cwd!r})"
        )

    def check(self) -> CommandResult:
        """Return ``self`` if the command succeeded, else raise :class:`ClientError`.

        The error text carries everything needed to reproduce the failure by hand, because
        the temporary environment is usually gone by the time someone reads the report; the
        error's ``result`` is this result (command, exit code, both streams, verbatim).
        """
        if self.ok:
            return self
        raise ClientError(
            format_command_failure(
                f"command failed with exit code {self.returncode} after {self.duration:.2f} s",
                self.argv,
                self.cwd,
                self.stdout,
                self.stderr,
                self.secrets,
            ),
            result=self,
        )


def parse_release(tool: str, text: str) -> Version:
    """A client's ``--version`` answer as a :class:`Version`, for expectations that differ by
    release; a clear error when the client printed something else."""
    try:
        return Version(text)
    except InvalidVersion:
        raise ClientError(f"`{tool} --version` printed {text!r}, not a version") from None
