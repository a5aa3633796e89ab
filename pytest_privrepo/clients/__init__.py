"""Harnesses that run the real packaging clients (pip, uv, ...) in isolated environments.

Every runner takes a :class:`ClientEnv`, so a client never sees the machine's config
files, ``PIP_*``/``UV_*`` variables, CA bundle variables, proxies or keyring: a test
observes the client's behaviour against *its* index, not the CI machine's setup.

The package re-exports the public names of its modules (one module per client; the shared
``env``, ``indexes``, ``result``, ``runner``, ``provision``, ``venv``,
``isolated_keyring`` and ``catalog``; the project and config models in ``*_project.py`` and ``uv_config.py``), so
``from pytest_privrepo.clients import Uv, UvConfig, client_tool`` works; the module that
defines a name stays its reference.
The list is static (a test checks it against every module's ``__all__``). The isolated
keyring backend (``FileKeyring``) is loaded on first use only: it imports ``keyring``, which
every pytest process would otherwise pay for at plugin load.
"""

from __future__ import annotations

from typing import Any

from .catalog import (
    FLIT_TOOL,
    HATCH_TOOL,
    LATEST,
    PDM_TOOL,
    PIP_TOOL,
    POETRY_TOOL,
    TOOLS,
    TWINE_TOOL,
    UV_TOOL,
    Choice,
    ClientTool,
    client_tool,
    parse_versions,
)
from .env import (
    BLACKHOLE_PROXY,
    DEFAULT_KEYRING_BACKEND,
    DEFAULT_STORE,
    DEFAULT_TIMEOUT,
    GIT_ALLOWED_PROTOCOLS,
    GIT_PROTOCOL_REWRITE,
    LOOPBACK_HOSTS,
    REMOVED_PREFIXES,
    REMOVED_SUFFIXES,
    REMOVED_VARIABLES,
    ClientEnv,
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
from .indexes import (
    IndexAccess,
    IndexArg,
    IndexLike,
    IndexSpec,
    needs_public_roots,
)
from .lockfile import (
    PackagesByName,
    find_package,
)
from .isolated_keyring import (
    IsolatedKeyring,
)
from .pdm import (
    PDM_PUBLISH_ROUTES,
    Pdm,
    check_pdm_name,
)
from .pdm_project import (
    PdmLockResult,
    PdmLockedPackage,
    PdmProject,
    parse_pdm_lock,
)
from .pip import (
    LEGACY_CERTS,
    PIP_ROUTES,
    TRUSTSTORE_IP_HOST_BUG,
    InstalledPackage,
    Pip,
    PipAuth,
    PipConfigRoute,
    PipInstallResult,
    PipKeyringProvider,
)
from .poetry import (
    POETRY_ROUTES,
    ROUTES,
    Poetry,
    poetry_env_name,
)
from .poetry_project import (
    PRIORITIES,
    STYLES,
    LockResult,
    LockedPackage,
    PoetryLockResult,
    PoetryLockedPackage,
    PoetryProject,
    parse_lock,
    parse_poetry_lock,
    pep440_constraint,
)
from .provision import (
    INSTALLER_PIP_FLOOR,
    INSTALL_TARGET_VARIABLES,
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
from .runner import (
    OWN_TIMEOUT,
    ROUTE_ALIASES,
    ClientRunner,
    Route,
    check_choice,
    check_route,
    option_args,
    venv_distribution_version,
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
    UvIndexRoute,
    UvInstallResult,
    UvPublishRoute,
    parse_changes,
)
from .uv_config import (
    UvConfig,
    append_index,
    check_uv_index_name,
    index_table,
    uv_credential_env,
    uv_env_name,
    uv_index_env,
    uv_tls_env,
)
from .uv_project import (
    INDEX_STRATEGIES,
    UvLockResult,
    UvLockedPackage,
    UvProject,
    parse_uv_lock,
)
from .venv import (
    make_venv,
    resolve_python,
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
    "Choice",
    "ClientEnv",
    "ClientRunner",
    "ClientTool",
    "CommandResult",
    "DEFAULT_KEYRING_BACKEND",
    "DEFAULT_STORE",
    "DEFAULT_TIMEOUT",
    "FLIT_ROUTES",
    "FLIT_TOOL",
    "FileKeyring",
    "Flit",
    "GIT_ALLOWED_PROTOCOLS",
    "GIT_PROTOCOL_REWRITE",
    "HATCH_ROUTES",
    "HATCH_TOOL",
    "Hatch",
    "INDEX_STRATEGIES",
    "INSTALLER_PIP_FLOOR",
    "INSTALL_TARGET_VARIABLES",
    "IndexAccess",
    "IndexArg",
    "IndexLike",
    "IndexSpec",
    "PackagesByName",
    "InstalledPackage",
    "IsolatedKeyring",
    "LATEST",
    "LEGACY_CERTS",
    "LOOPBACK_HOSTS",
    "LockResult",
    "LockedPackage",
    "OWN_TIMEOUT",
    "PDM_PUBLISH_ROUTES",
    "PDM_TOOL",
    "PIP_ROUTES",
    "PIP_TOOL",
    "POETRY_ROUTES",
    "POETRY_TOOL",
    "PRIORITIES",
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
    "PoetryLockResult",
    "PoetryLockedPackage",
    "PoetryProject",
    "PyprojectDocument",
    "REMOVED_PREFIXES",
    "REMOVED_SUFFIXES",
    "REMOVED_VARIABLES",
    "ROUTES",
    "ROUTE_ALIASES",
    "Route",
    "STORE_VARIABLE",
    "STYLES",
    "TOOLS",
    "TRUSTSTORE_IP_HOST_BUG",
    "TWINE_ROUTES",
    "TWINE_TOOL",
    "Twine",
    "UV_INDEX_ROUTES",
    "UV_PUBLISH_ROUTES",
    "UV_TOOL",
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
    "append_index",
    "check_choice",
    "check_pdm_name",
    "check_route",
    "check_uv_index_name",
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
    "option_args",
    "parse_changes",
    "parse_lock",
    "parse_pdm_lock",
    "parse_poetry_lock",
    "parse_release",
    "parse_uv_lock",
    "parse_versions",
    "pep440_constraint",
    "poetry_env_name",
    "provision",
    "python_version",
    "resolve_python",
    "uv_credential_env",
    "uv_env_name",
    "uv_index_env",
    "uv_tls_env",
    "venv_bin",
    "venv_distribution_version",
    "venv_python",
    "write_flit_project",
    "find_package",
    "needs_public_roots",
    "write_pypirc",
]
