"""Harnesses that run the real packaging clients (pip, uv, ...) in isolated environments.

Every runner takes a :class:`ClientEnv`, so a client never sees the machine's config
files, ``PIP_*``/``UV_*`` variables, CA bundle variables, proxies or keyring: a test
observes the client's behaviour against *its* index, not the CI machine's setup.

The package re-exports each module's ``__all__`` (one module per client, plus the shared
``env``, ``result``, ``provision`` and ``catalog``), so ``from pytest_privrepo.clients import
Uv, UvConfig, client_tool`` works; the module that defines a name stays its reference.
"""

from __future__ import annotations

import sys

from .catalog import *  # noqa: F403
from .env import *  # noqa: F403
from .flit import *  # noqa: F403
from .hatch import *  # noqa: F403
from .keyring_backend import *  # noqa: F403
from .pdm import *  # noqa: F403
from .pip import *  # noqa: F403
from .poetry import *  # noqa: F403
from .poetry_project import *  # noqa: F403
from .provision import *  # noqa: F403
from .pyproject import *  # noqa: F403
from .result import *  # noqa: F403
from .twine import *  # noqa: F403
from .uv import *  # noqa: F403
from .uv_project import *  # noqa: F403

_MODULES = [sys.modules[f"{__name__}.{name}"] for name in (
    "catalog", "env", "flit", "hatch", "keyring_backend", "pdm", "pip", "poetry",
    "poetry_project", "provision", "pyproject", "result", "twine", "uv", "uv_project")]

__all__ = sorted({name for module in _MODULES for name in module.__all__})  # noqa: PLE0605

if len(__all__) != sum(len(module.__all__) for module in _MODULES):  # pragma: no cover
    raise ImportError("two pytest_privrepo.clients modules export the same name")
