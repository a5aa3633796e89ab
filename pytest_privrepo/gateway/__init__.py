"""The world around a private index: a loopback gateway, named hosts, the egress log."""

from .egress import EgressLog, EgressRecord, Leak
from .hosts import (
    PYPI_FILES_HOST,
    PYPI_HOST,
    PYPI_HOSTS,
    PYPI_UPLOAD_HOST,
    check_host_name,
)
from .proxy import Gateway, Route

__all__ = [
    "PYPI_FILES_HOST",
    "PYPI_HOST",
    "PYPI_HOSTS",
    "PYPI_UPLOAD_HOST",
    "EgressLog",
    "EgressRecord",
    "Gateway",
    "Leak",
    "Route",
    "check_host_name",
]
