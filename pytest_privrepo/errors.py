"""Errors raised by pytest-privrepo.

Every problem a user can cause (bad names, unknown modes, busy ports, a failed client
command) is a :class:`PrivrepoError` with a message that names the problem, so a test
report shows the cause instead of a traceback from deep inside a library.
"""

from __future__ import annotations

__all__ = ["ClientError", "ConfigError", "PrivrepoError", "ServerError"]


class PrivrepoError(Exception):
    """Base class of every error this package raises on purpose."""


class ConfigError(PrivrepoError, ValueError):
    """A bad argument: unknown TLS mode, malformed name or version, port in use, ..."""


class ServerError(PrivrepoError):
    """Something failed inside an index server thread; surfaced in the test thread."""


class ClientError(PrivrepoError):
    """A real client command (pip, uv, poetry, ...) failed; carries its command line and output.

    ``result`` is the :class:`~pytest_privrepo.clients.result.CommandResult` of the command
    when there was one (None for "could not start it"), so a caller can show more of the
    output than the message does.
    """

    def __init__(self, message: str, *, result: object | None = None) -> None:
        super().__init__(message)
        self.result = result
