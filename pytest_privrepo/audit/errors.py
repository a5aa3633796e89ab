"""The one error an audit raises for input it cannot audit.

Why a subclass of :class:`~pytest_privrepo.errors.ConfigError`: the CLI maps every
ConfigError to exit 2 with its message, and ``except ConfigError`` in a user's test keeps
working. A *finding* (the project's setup is wrong) is never an error: it is in the
:class:`~pytest_privrepo.audit.report.AuditReport`; an AuditError means there is nothing
sound to audit (no sources, an unreadable or stale lock, a source URL that is not a
simple API over http(s), an unknown client).
"""

from __future__ import annotations

from ..errors import ConfigError

__all__ = ["AuditError"]


class AuditError(ConfigError):
    """The project cannot be audited; the message names the file and the problem."""
