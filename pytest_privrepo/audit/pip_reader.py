"""A pip project as the audit sees it: requirements.txt (pinned) and its index options.

pip has no lock file with sources: the "lock" is a requirements file with every package
pinned (``name==version``, as pip-compile or ``pip freeze`` writes it), and the indexes are
``--index-url`` / ``--extra-index-url`` lines in it or ``PIP_INDEX_URL`` /
``PIP_EXTRA_INDEX_URL`` in CI. Facts (pip 24.2 to 26.3, ``req/req_file.py``,
``index/collector.py``; pip#8606):

- pip merges every index and takes the best version, wherever it is: an extra index never
  has priority, so any ``--extra-index-url`` makes the source of a name depend on version
  numbers;
- ``${NAME}`` (upper-case letters, digits and ``_``) in a requirements file is replaced by
  the environment variable ``NAME``; credentials are the URL's userinfo;
- the index list starts as ``PIP_INDEX_URL`` (else PyPI) plus ``PIP_EXTRA_INDEX_URL``
  (space separated); in a requirements file, ``--index-url`` *replaces the whole list*
  and ``--extra-index-url`` appends to it, line by line (``req/req_file.py``
  ``handle_option``).

Nothing in the file says which packages are internal when PyPI is one of the indexes: the
caller names them (``internal=["acme-*"]``).
"""

from __future__ import annotations

import fnmatch
import re
import shlex
from collections.abc import Collection, Mapping
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from ..gateway.hosts import PYPI_SIMPLE_URL
from .errors import AuditError
from .locations import parse_source_url
from .model import PYPI, LockedPackage, ProjectModel, RiskySetting, Source

__all__ = ["REQUIREMENTS", "pip_fix", "read_pip_project"]

#: The requirements file an audit reads (the project's pinned requirements).
REQUIREMENTS = "requirements.txt"

_PLACEHOLDER = re.compile(r"\$\{[A-Z0-9_]+\}")

_OPTION_WITH_VALUE = {"-i": "index", "--index-url": "index", "--extra-index-url": "extra",
                      "-r": "requirement", "--requirement": "requirement"}


def pip_fix(source: str) -> str:
    """The fix for pip, which has no per-package pins: one index."""
    return (f"install from one index only: make {source} the --index-url, a repository that "
            "serves the internal packages and proxies PyPI for the rest (with the internal "
            "names blocked upstream); never --extra-index-url")


def _lines(path: Path, seen: set[Path]) -> list[tuple[Path, int, str]]:
    """Logical lines of ``path`` and the files it includes with ``-r``."""
    if path in seen:
        return []
    seen.add(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise AuditError(f"{path}: no {path.name}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise AuditError(f"{path}: cannot read it: {exc}") from None
    out: list[tuple[Path, int, str]] = []
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = re.sub(r"(^|\s)#.*$", "", raw).rstrip()
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = (pending + line).strip()
        pending = ""
        if line:
            out.append((path, start, line))
    return out


def _split_url(url: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    parts = urlsplit(url)
    userinfo, at, host = parts.netloc.rpartition("@")
    if not at:
        return url, ()
    user, colon, password = userinfo.partition(":")
    clean = urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    creds = [("username", unquote(user))] + ([("password", unquote(password))] if colon else [])
    return clean, tuple((r, t) for r, t in creds if t)


class _Reading:
    """The index list and the pins, as pip builds them line by line."""

    def __init__(self, root: Path, env: Mapping[str, str]) -> None:
        self.root = root.resolve()
        first = env.get("PIP_INDEX_URL") or PYPI_SIMPLE_URL
        where = "PIP_INDEX_URL" if env.get("PIP_INDEX_URL") else "pip's default"
        self.urls: list[tuple[str, str, str]] = [(first, where, "index-url")]
        self.urls += [(u, "PIP_EXTRA_INDEX_URL", "extra-index-url")
                      for u in env.get("PIP_EXTRA_INDEX_URL", "").split()]
        self.packages: list[tuple[str, str]] = []
        self.seen: set[Path] = set()

    def read(self, file: Path) -> None:
        for path, number, line in _lines(file, self.seen):
            self._line(path, number, line)

    def _line(self, file: Path, number: int, line: str) -> None:
        where = f"{file.name}:{number}"
        try:
            words = shlex.split(line)
        except ValueError as exc:
            raise AuditError(f"{file}:{number}: {exc}") from None
        if words[0].startswith("-"):
            option, eq, value = words[0].partition("=")
            kind = _OPTION_WITH_VALUE.get(option)
            if kind is None:
                raise AuditError(f"{file}:{number}: option {option} is not audited (the "
                                 "audit reads --index-url, --extra-index-url and -r)")
            value = value if eq else (words[1] if len(words) > 1 else "")
            if not value:
                raise AuditError(f"{file}:{number}: {option} needs a value")
            if kind == "requirement":
                target = (file.parent / value).resolve()
                if not target.is_relative_to(self.root):
                    raise AuditError(f"{file}:{number}: -r {value} is outside the project")
                self.read(target)
            elif kind == "index":
                self.urls = [(value, where, "index-url")]
            else:
                self.urls.append((value, where, "extra-index-url"))
            return
        spec = line.split(" --hash", 1)[0].strip()
        try:
            req = Requirement(spec)
        except InvalidRequirement as exc:
            raise AuditError(f"{file}:{number}: not a requirement: {exc}") from None
        pins = [s for s in req.specifier if s.operator in ("==", "===")]
        if req.url or len(pins) != 1 or "*" in pins[0].version:
            raise AuditError(f"{file}:{number}: {req.name} is not pinned to one version "
                             f"({spec!r}): {REQUIREMENTS} must be a lock (name==version)")
        self.packages.append((req.name, pins[0].version))


def read_pip_project(root: Path, env: Mapping[str, str] | None = None,
                     internal: Collection[str] = ()) -> ProjectModel:
    """Read ``root``'s requirements.txt with the CI's ``PIP_INDEX_URL`` /
    ``PIP_EXTRA_INDEX_URL`` (``env``); ``internal``: fnmatch patterns of internal names."""
    path = root / REQUIREMENTS
    reading = _Reading(root, env or {})
    reading.read(path)
    sources: list[Source] = []
    for url, where, role in reading.urls:
        clean, creds = _split_url(url)
        committed = not where.startswith("PIP_")
        if committed and any(r == "password" and not _PLACEHOLDER.fullmatch(t) for r, t in creds):
            raise AuditError(f"{where}: the index url has a password in it (committed with "
                             "the project): write ${VARIABLE} there and set it in CI")
        location = parse_source_url(clean, clean, where=where)
        name = PYPI if location.is_pypi else location.host
        if any(s.name == name for s in sources):
            name = f"{location.host}{location.prefix}".replace("/", "_")
        sources.append(Source(name, location, role, creds))
    private = [s for s in sources if not s.is_pypi]
    if not private:
        raise AuditError(f"{path}: no private index (--index-url / --extra-index-url, or "
                         "PIP_INDEX_URL / PIP_EXTRA_INDEX_URL in CI): nothing to audit")
    pypi_used = any(s.is_pypi for s in sources)
    if pypi_used or len(private) > 1:
        if not internal:
            raise AuditError(
                f"{path} does not say which packages are internal (pip records no source): "
                "name them with internal= patterns (--internal 'acme-*')")
        if len(private) > 1:
            raise AuditError(f"{path}: several private indexes; the audit cannot tell which "
                             "one serves each internal package")
    home = private[0].name
    locked: list[LockedPackage] = []
    for name, version in reading.packages:
        key = canonicalize_name(name)
        mine = not pypi_used or any(fnmatch.fnmatch(key, p.lower()) for p in internal)
        locked.append(LockedPackage(name, version, home if mine else PYPI))
    risky = tuple(RiskySetting(f"--extra-index-url {s.url}", f"extra index {s.name}",
                               "pip merges every index and takes the best version, "
                               "wherever it is (pip#8606)", pip_fix(s.url))
                  for s in sources if s.role == "extra-index-url")
    return ProjectModel(client="pip", root=root, files=(REQUIREMENTS,), lockfile=REQUIREMENTS,
                        sources=tuple(sources), packages=tuple(locked), risky=risky)
