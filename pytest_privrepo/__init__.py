"""pytest-privrepo: ephemeral private package indexes and real clients, as pytest fixtures."""

from .errors import ClientError, ConfigError, PrivrepoError, ServerError
from .index import Hit, Index, IndexServer, RequestLog, StoredFile, TLSFailure
from .session import Privrepo
from .tls import CertificateAuthority

__all__ = [
    "CertificateAuthority",
    "ClientError",
    "ConfigError",
    "Hit",
    "Index",
    "IndexServer",
    "Privrepo",
    "PrivrepoError",
    "RequestLog",
    "ServerError",
    "StoredFile",
    "TLSFailure",
]

__version__ = "0.1.0"
