"""Harnesses that run the real packaging clients (pip, uv, ...) in isolated environments.

Every runner takes a :class:`ClientEnv`, so a client never sees the machine's config
files, ``PIP_*``/``UV_*`` variables, CA bundle variables, proxies or keyring: a test
observes the client's behaviour against *its* index, not the CI machine's setup.

The package re-exports the public names of its modules (one module per client, plus the
shared ``env``, ``result``, ``provision`` and ``catalog``), so ``from pytest_privrepo.clients
import Uv, UvConfig, client_tool`` works; the module that defines a name stays its reference.
The list is static (a test checks it against every module's ``__all__``). The isolated
keyring backend (``FileKeyring``) is loaded on first use only: it imports ``keyring``, which
every pytest process would otherwise pay for at plugin load.
"""

from __future__ import annotations

from typing import Any

from .catalog import (
    LATEST,
    TOOLS,
    Choice,
    ClientTool,
    client_tool,
    parse_versions,
)
from .env import (
    BLACKHOLE_PROXY,
    DEFAULT_KEYRING_BACKEND,
    DEFAULT_TIMEOUT,
    GIT_ALLOWED_PROTOCOLS,
    GIT_PROTOCOL_REWRITE,
    LOOPBACK_HOSTS,
    REMOVED_PREFIXES,
    REMOVED_SUFFIXES,
    REMOVED_VARIABLES,
    ClientEnv,
    IndexArg,
    IndexLike,
    IndexSpec,
)
from .flit import (
    FLIT_ROUTES,
    Flit,
    write_flit_project,
)
from .hatch import (
    HATCH_ROUTES,
    Hatch,
)
from .pdm import (
    PDM_PUBLISH_ROUTES,
    Pdm,
    PdmLockedPackage,
    PdmLockResult,
    PdmProject,
    parse_pdm_lock,
)
from .pip import (
    InstalledPackage,
    Pip,
    PipAuth,
    PipConfigRoute,
    PipInstallResult,
    PipKeyringProvider,
    make_venv,
    resolve_python,
)
from .poetry import (
    ROUTES,
    Poetry,
    poetry_env_name,
)
from .poetry_project import (
    PRIORITIES,
    STYLES,
    LockedPackage,
    LockResult,
    PoetryProject,
    parse_lock,
    pep440_constraint,
)
from .provision import (
    INSTALL_TARGET_VARIABLES,
    INSTALLER_PIP_FLOOR,
    decisive_lines,
    default_cache_dir,
    file_lock,
    find_executable,
    installed_pip_version,
    machine_install_env,
    provision,
    python_version,
    venv_bin,
    venv_python,
)
from .pyproject import (
    PyprojectDocument,
)
from .result import (
    CommandResult,
    format_command_failure,
    parse_release,
)
from .twine import (
    TWINE_ROUTES,
    Twine,
    write_pypirc,
)
from .uv import (
    UV_INDEX_ROUTES,
    UV_PUBLISH_ROUTES,
    Uv,
    UvAuth,
    UvChange,
    UvConfig,
    UvIndexRoute,
    UvInstallResult,
    UvPublishRoute,
    index_table,
    parse_changes,
    uv_env_name,
    uv_index_env,
)
from .uv_project import (
    INDEX_STRATEGIES,
    UvLockedPackage,
    UvLockResult,
    UvProject,
    parse_uv_lock,
)

_LAZY = {"FileKeyring": "keyring_backend", "STORE_VARIABLE": "keyring_backend"}


def __getattr__(name: str) -> Any:
    """``FileKeyring`` / ``STORE_VARIABLE`` from :mod:`.keyring_backend`, imported on first use."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BLACKHOLE_PROXY",
    "DEFAULT_KEYRING_BACKEND",
    "DEFAULT_TIMEOUT",
    "FLIT_ROUTES",
    "GIT_ALLOWED_PROTOCOLS",
    "GIT_PROTOCOL_REWRITE",
    "HATCH_ROUTES",
    "INDEX_STRATEGIES",
    "INSTALLER_PIP_FLOOR",
    "INSTALL_TARGET_VARIABLES",
    "LATEST",
    "LOOPBACK_HOSTS",
    "PDM_PUBLISH_ROUTES",
    "PRIORITIES",
    "REMOVED_PREFIXES",
    "REMOVED_SUFFIXES",
    "REMOVED_VARIABLES",
    "ROUTES",
    "STORE_VARIABLE",
    "STYLES",
    "TOOLS",
    "TWINE_ROUTES",
    "UV_INDEX_ROUTES",
    "UV_PUBLISH_ROUTES",
    "Choice",
    "ClientEnv",
    "ClientTool",
    "CommandResult",
    "FileKeyring",
    "Flit",
    "Hatch",
    "IndexArg",
    "IndexLike",
    "IndexSpec",
    "InstalledPackage",
    "LockResult",
    "LockedPackage",
    "Pdm",
    "PdmLockResult",
    "PdmLockedPackage",
    "PdmProject",
    "Pip",
    "PipAuth",
    "PipConfigRoute",
    "PipInstallResult",
    "PipKeyringProvider",
    "Poetry",
    "PoetryProject",
    "PyprojectDocument",
    "Twine",
    "Uv",
    "UvAuth",
    "UvChange",
    "UvConfig",
    "UvIndexRoute",
    "UvInstallResult",
    "UvLockResult",
    "UvLockedPackage",
    "UvProject",
    "UvPublishRoute",
    "client_tool",
    "decisive_lines",
    "default_cache_dir",
    "file_lock",
    "find_executable",
    "format_command_failure",
    "index_table",
    "installed_pip_version",
    "machine_install_env",
    "make_venv",
    "parse_changes",
    "parse_lock",
    "parse_pdm_lock",
    "parse_release",
    "parse_uv_lock",
    "parse_versions",
    "pep440_constraint",
    "poetry_env_name",
    "provision",
    "python_version",
    "resolve_python",
    "uv_env_name",
    "uv_index_env",
    "venv_bin",
    "venv_python",
    "write_flit_project",
    "write_pypirc",
]
