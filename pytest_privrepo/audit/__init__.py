"""``privrepo audit``: prove in CI that a project's own index setup resolves as its lock says.

The library behind the ``privrepo audit`` command and the ``privrepo_audit`` fixture
(issue 14): :func:`audit` reads a project's sources and lock file, stands each source up at
its real URL through a gateway (the locked packages on the source the lock names, every
internal name squatted on PyPI at a higher version), runs the project's real client on a
copy with the CI's variables, and reports each package's expected and resolved source,
every internal name asked of PyPI, every credential sent elsewhere, missing credentials
and certificates, and the settings that make the result depend on version numbers, each
with its fix, for Poetry, uv, pdm and pip projects. Modules: :mod:`.poetry_reader`,
:mod:`.uv_reader`, :mod:`.pdm_reader`, :mod:`.pip_reader` (the files),
:mod:`.credentials` and :mod:`.ci_env` (the CI variables), :mod:`.stage` (the stand-up),
:mod:`.resolve` (the client run), :mod:`.checks` (findings), :mod:`.report` and
:mod:`.render` (the results), :mod:`.command` (``privrepo audit`` on the command line).
"""

from .api import CLIENTS, audit, detect_client, read_project
from .ci_env import load_env_file
from .command import (
    AUDIT_DESCRIPTION,
    AUDIT_EPILOG,
    add_audit_arguments,
    ci_variables,
    run_audit_command,
)
from .errors import AuditError
from .model import PYPI, LockedPackage, ProjectModel, RiskySetting, Source
from .render import render_json, render_text
from .report import FINDING_KINDS, AuditReport, Finding, PackageOutcome, SourceSummary

__all__ = [
    "AUDIT_DESCRIPTION",
    "AUDIT_EPILOG",
    "CLIENTS",
    "FINDING_KINDS",
    "PYPI",
    "AuditError",
    "AuditReport",
    "Finding",
    "LockedPackage",
    "PackageOutcome",
    "ProjectModel",
    "RiskySetting",
    "Source",
    "SourceSummary",
    "add_audit_arguments",
    "audit",
    "ci_variables",
    "detect_client",
    "load_env_file",
    "read_project",
    "render_json",
    "render_text",
    "run_audit_command",
]
