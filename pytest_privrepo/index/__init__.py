"""Ephemeral package indexes: server, pages, auth, request log."""

from .auth import TOKEN_USER, AuthPolicy, Credentials
from .behaviour import PROFILES, Behaviour
from .faults import Faults, HandlerType
from .index import Index, StoredFile
from .log import Hit, RequestLog
from .server import IndexServer, TLSFailure
from .form import UploadLimits

__all__ = [
    "PROFILES",
    "TOKEN_USER",
    "AuthPolicy",
    "Behaviour",
    "Credentials",
    "Faults",
    "HandlerType",
    "Hit",
    "Index",
    "IndexServer",
    "RequestLog",
    "StoredFile",
    "TLSFailure",
    "UploadLimits",
]
