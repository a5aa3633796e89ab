"""Errors raised by pytest-privrepo.

Every problem a user can cause (bad names, unknown modes, busy ports, a failed client
command) is a :class:`PrivrepoError` with a message that names the problem, so a test
report shows the cause instead of a traceback from deep inside a library.
"""

from __future__ import annotations

__all__ = ["ClientError", "ConfigError", "PrivrepoError", "ServerError", "UnsupportedClient"]


class PrivrepoError(Exception):
    """Base class of every error this package raises on purpose."""


class ConfigError(PrivrepoError, ValueError):
    """A bad argument: unknown TLS mode, malformed name or version, port in use, ..."""


class UnsupportedClient(ConfigError):
    """The client at hand is too old (or too new) for what a test asked of it.

    Raised by :meth:`ClientRunner.require <pytest_privrepo.clients.runner.ClientRunner.require>`
    before anything runs, with one wording: ``<tool> <version> <what it lacks>: use <tool> >=
    <minimum>``. A :class:`ConfigError`, so ``except ConfigError`` keeps catching it.
    """


class ServerError(PrivrepoError):
    """Something failed inside an index server thread; surfaced in the test thread."""


class ClientError(PrivrepoError):
    """A real client command (pip, uv, poetry, ...) failed; carries its command line and output.

    ``result`` is the :class:`~pytest_privrepo.clients.result.CommandResult` of the command
    when there was one (None for "could not start it" and for a timeout): its ``argv``,
    ``returncode``, ``stdout`` and ``stderr``, verbatim, so a caller can assert on or show
    more of the output than the (redacted, cut) message does.
    """

    def __init__(self, message: str, *, result: object | None = None) -> None:
        super().__init__(message)
        self.result = result
