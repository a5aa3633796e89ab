"""pytest-privrepo: ephemeral private package indexes and real clients, as pytest fixtures."""

from importlib.metadata import PackageNotFoundError, version as _distribution_version

from .access import GatewayAccess, IndexAccess
from .errors import ClientError, ConfigError, PrivrepoError, ServerError, UnsupportedClient
from .gateway import EgressLog, EgressRecord, Gateway
from .index import (
    PROFILES,
    Behaviour,
    Faults,
    HandlerType,
    Hit,
    Index,
    IndexServer,
    RequestLog,
    StoredFile,
    TLSFailure,
    UploadLimits,
)
from .session import Privrepo
from .tls import CertificateAuthority

__all__ = [
    "PROFILES",
    "Behaviour",
    "CertificateAuthority",
    "ClientError",
    "ConfigError",
    "EgressLog",
    "EgressRecord",
    "Faults",
    "Gateway",
    "GatewayAccess",
    "HandlerType",
    "Hit",
    "Index",
    "IndexAccess",
    "IndexServer",
    "Privrepo",
    "PrivrepoError",
    "RequestLog",
    "ServerError",
    "StoredFile",
    "TLSFailure",
    "UnsupportedClient",
    "UploadLimits",
    "__version__",
]

# One source for the version: pyproject.toml's [project] version, read back from the installed
# distribution's metadata (a second literal here drifted from it unnoticed). A bare source tree
# that was never installed has no metadata; it gets a PEP 440 local version that says so.
try:
    __version__: str = _distribution_version("pytest-privrepo")
except PackageNotFoundError:  # pragma: no cover - only a checkout on sys.path, never installed
    __version__ = "0+unknown"
