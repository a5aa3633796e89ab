"""Harnesses that run the real packaging clients (pip, uv, ...) in isolated environments.

Every runner takes a :class:`ClientEnv`, so a client never sees the machine's config
files, ``PIP_*``/``UV_*`` variables, CA bundle variables, proxies or keyring: a test
observes the client's behaviour against *its* index, not the CI machine's setup.
"""

from __future__ import annotations

from pytest_privrepo.clients.env import (
    DEFAULT_KEYRING_BACKEND,
    DEFAULT_TIMEOUT,
    REMOVED_PREFIXES,
    REMOVED_VARIABLES,
    ClientEnv,
    IndexLike,
    IndexSpec,
)
from pytest_privrepo.clients.flit import Flit, write_flit_project
from pytest_privrepo.clients.hatch import Hatch
from pytest_privrepo.clients.pdm import Pdm, PdmProject
from pytest_privrepo.clients.pip import (
    InstalledPackage,
    Pip,
    PipInstallResult,
    make_venv,
)
from pytest_privrepo.clients.poetry import ROUTES, Poetry, poetry_env_name
from pytest_privrepo.clients.poetry_project import (
    LockedPackage,
    LockResult,
    PoetryProject,
    parse_lock,
)
from pytest_privrepo.clients.provision import (
    find_executable,
    provision,
    venv_bin,
    venv_python,
)
from pytest_privrepo.clients.result import CommandResult
from pytest_privrepo.clients.twine import Twine, write_pypirc
from pytest_privrepo.clients.uv import Uv, UvChange, UvInstallResult
from pytest_privrepo.clients.uv_project import UvProject

__all__ = [
    "Flit",
    "Hatch",
    "Pdm",
    "PdmProject",
    "Twine",
    "UvProject",
    "write_flit_project",
    "write_pypirc",
    "ROUTES",
    "Poetry",
    "poetry_env_name",
    "LockedPackage",
    "LockResult",
    "PoetryProject",
    "parse_lock",
    "DEFAULT_KEYRING_BACKEND",
    "DEFAULT_TIMEOUT",
    "REMOVED_PREFIXES",
    "REMOVED_VARIABLES",
    "ClientEnv",
    "CommandResult",
    "IndexLike",
    "IndexSpec",
    "InstalledPackage",
    "Pip",
    "PipInstallResult",
    "Uv",
    "UvChange",
    "UvInstallResult",
    "find_executable",
    "make_venv",
    "provision",
    "venv_bin",
    "venv_python",
]
