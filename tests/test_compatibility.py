"""The client x product compatibility matrix, from real runs: docs/compatibility.md.

Each real client (pip, uv, Poetry 1.8 and 2.x, pdm for install/lock; twine, uv, Poetry,
pdm, Hatch, flit for publish and publish again) runs against every product profile of
``pytest_privrepo.index.behaviour.PROFILES`` (all but ``pypi``), over TLS at the product's
host name and URL layout, with the product's credential form (:data:`TOKEN_FORM`), by one
credential route per row (URL, netrc, keyring after a 401, the client's config). Each cell
is a fresh index and a fresh ClientEnv, and records what happened: ``works``; ``works only
with <setting>`` (the usual way failed and one named setting of the same client worked, see
each row's ``alternatives``); ``fails``, with the client's own message, normalised
(:func:`normalise`: no ports, temporary paths, hashes, timings, secrets) in a footnote; or
``n/a`` when the route cannot carry the product's credential at all.

Why one test per row and the rows compared one by one: the suite runs on pytest-xdist
workers, and a row (one client x one operation over eight profiles) is the unit a worker
can compute alone. Each test compares its own row and its own footnotes with the committed
file, so no results have to be merged across workers; with ``PRIVREPO_UPDATE_COMPAT=1`` it
rewrites its row instead (under a file lock shared by the workers) and the file is rendered
again in canonical order, so two regenerations give the same bytes. A row's label carries
the client version it was generated with: a run with another version (tox's
``PRIVREPO_<TOOL>_VERSIONS``, another installed pip) skips that row's comparison, naming both
versions, and still compares every other row. ``test_compatibility_doc_is_canonical``
checks the file as a whole (every row present, header and order as rendered).

The known client bugs the matrix shows are pinned by focused tests at the end, each with
the client version and its source.
"""

from __future__ import annotations

import difflib
import itertools
import os
import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import pytest
from packaging.version import Version
from werkzeug.datastructures import Authorization
from werkzeug.wrappers import Request, Response

from pytest_privrepo import Privrepo
from pytest_privrepo.access import IndexAccess
from pytest_privrepo.clients.catalog import client_tool
from pytest_privrepo.clients.env import ClientEnv
from pytest_privrepo.clients.flit import Flit, write_flit_project
from pytest_privrepo.clients.hatch import Hatch
from pytest_privrepo.clients.pdm import Pdm
from pytest_privrepo.clients.pdm_project import PdmProject
from pytest_privrepo.clients.pip import Pip
from pytest_privrepo.clients.poetry import Poetry
from pytest_privrepo.clients.poetry_project import PoetryProject, parse_poetry_lock
from pytest_privrepo.clients.provision import file_lock
from pytest_privrepo.clients.result import CommandResult
from pytest_privrepo.clients.runner import ClientRunner
from pytest_privrepo.clients.twine import Twine
from pytest_privrepo.clients.uv import Uv
from pytest_privrepo.clients.uv_project import UvProject
from pytest_privrepo.errors import ConfigError
from pytest_privrepo.gateway.proxy import Gateway
from pytest_privrepo.index.behaviour import PROFILES
from pytest_privrepo.index.index import Index
from pytest_privrepo.redact import redact
from pytest_privrepo.tls.ca import CertificateAuthority

DOC = Path(__file__).resolve().parent.parent / "docs" / "compatibility.md"
#: set to 1 to rewrite docs/compatibility.md from this run instead of comparing with it
UPDATE_VARIABLE = "PRIVREPO_UPDATE_COMPAT"
REGENERATE = (f"{UPDATE_VARIABLE}=1 python -m pytest -n 2 tests/test_compatibility.py "
              "(with the default client versions: no PRIVREPO_<TOOL>_VERSIONS)")

#: every product profile but Warehouse's own
PRODUCTS: tuple[str, ...] = tuple(name for name in PROFILES if name != "pypi")

#: Products whose usual CI credential is a token with a fixed user name
#: (``index.username`` is the profile's token user; ../shared/reference/products.md):
#: GitLab's job token (``gitlab-ci-token``), Artifactory's identity token (an empty user),
#: CodeArtifact's 12-hour token (``aws``), an Azure PAT (any user name), Artifact Registry's
#: access token (``oauth2accesstoken``). Nexus, devpi and pypiserver take a user and password.
TOKEN_FORM = frozenset({"gitlab", "artifactory", "codeartifact", "azure", "artifact-registry"})
TOKEN = "tok-3f9c1a7e52"
USER, PASSWORD = "ci", "pw-5d1e9b40"
SECRETS = (TOKEN, PASSWORD)
C = TypeVar("C", bound=ClientRunner)

#: what the install/lock rows resolve: a private project with a private dependency
WANTED = {"corp-lib": "1.0", "corp-dep": "1.0"}
#: what the publish rows upload (flit builds the same two from its own project)
UPLOADS = ["corp_up-1.0-py3-none-any.whl", "corp_up-1.0.tar.gz"]


# -- running one cell -----------------------------------------------------------------------

@dataclass(frozen=True)
class Attempt:
    """One real client run: did it do the job, and what did it print."""

    ok: bool
    output: str
    #: why an exit status 0 still did not do the job (nothing uploaded, wrong versions)
    problem: str | None = None
    #: why this route cannot carry the product's credential at all (the harness's
    #: ConfigError): the cell is "n/a", nothing ran
    inapplicable: str | None = None


@dataclass(frozen=True)
class Cell:
    """What one client did against one product."""

    outcome: str  # "works", "works only with", "fails", "n/a"
    setting: str | None = None
    message: str | None = None


@dataclass
class World:
    """What every cell needs to start a product index of its own."""

    tmp_path: Path
    ca: CertificateAuthority
    gateway: Gateway
    env: ClientEnv
    counter: Iterator[int] = field(default_factory=itertools.count)
    #: what the gateway saw leak during the last :meth:`index` block (credentials that
    #: reached another host, an internal name asked of PyPI)
    leaks: list[str] = field(default_factory=list)

    @contextmanager
    def index(self, product: str, *, loopback: bool = False,
              packages: bool = True) -> Iterator[Index]:
        """A fresh index following ``product`` (its own Privrepo, so every attempt starts
        from an empty index and its own request log), with the product's credentials."""
        root = self.tmp_path / f"repo-{product}-{next(self.counter)}"
        with Privrepo(root, ca=self.ca, gateway=self.gateway) as repo:
            credentials: dict[str, object] = (
                {"token": TOKEN} if product in TOKEN_FORM else {"auth": (USER, PASSWORD)})
            if loopback:
                credentials["host"] = "127.0.0.1"
            index = repo.index("corp", profile=product, **credentials)  # type: ignore[arg-type]
            if packages:
                index.add("corp-dep", "1.0")
                index.add("corp-lib", "1.0", requires=["corp-dep"])
            self.leaks = []
            yield index
            self.leaks = [leak.message for leak in repo.egress.leaks()]

    @property
    def roots(self) -> tuple[Path, ...]:
        return (self.tmp_path, self.env.root)

    def fresh(self, client: C) -> C:
        """``client`` (the fixture's, so the configured version) in a ClientEnv of its own:
        every attempt starts without the netrc, keyring, config and caches an earlier
        cell left behind, so a cell never depends on the cells before it."""
        env = ClientEnv(self.unique("env"), gateway=self.gateway)
        return client_tool(client.tool).runner(client.executable, env)  # type: ignore[no-any-return]

    def unique(self, stem: str) -> Path:
        return self.tmp_path / f"{stem}-{next(self.counter)}"


@contextmanager
def variables(env: ClientEnv, **values: str) -> Iterator[None]:
    """``values`` set in ``env`` for the runs inside the block only."""
    env.set(**values)
    try:
        yield
    finally:
        env.unset(*values)


#: an attempt: run the client against the index with one setting (None: its usual way)
Runner = Callable[[Index, "str | None"], Attempt]


@dataclass(frozen=True)
class Row:
    """One client x operation: a row of the matrix."""

    section: str  # "install", "publish" or "republish" (a key of SECTIONS)
    slug: str  # unique within the section; footnote ids start with <section>-<slug>-
    tool: str  # as shown: "pip", "Poetry", ...
    command: str  # as shown: "pip install"
    #: how the credentials reach the client (the route), as shown
    how: str
    #: Poetry's rows are one per major version
    major: str | None = None
    #: named settings tried, in order, when the usual way fails
    alternatives: tuple[str, ...] = ()
    #: run against the profile on 127.0.0.1 (Hatch), explained by the row's own note
    loopback_note: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.section, self.slug)

    def label(self, version: str) -> str:
        note = f"[^{self.section}-{self.slug}-loopback]" if self.loopback_note else ""
        return f"{self.tool} {version} (`{self.command}`; {self.how}){note}"

    def note_id(self, product: str) -> str:
        return f"{self.section}-{self.slug}-{product}"


def attempt(world: World, row: Row, product: str, run: Runner, setting: str | None) -> Attempt:
    """One run of ``row``'s client against a fresh ``product`` index; a run that did the
    job but leaked (a credential to another host, an internal name to PyPI) did not."""
    with world.index(product, loopback=row.loopback_note is not None,
                     packages=row.section == "install") as index:
        result = run(index, setting)
    if result.ok and world.leaks:
        return Attempt(False, result.output, f"exit status 0, but {world.leaks[0]}")
    return result


def run_row(world: World, row: Row, run: Runner) -> dict[str, Cell]:
    """Every product's cell for ``row``: the usual way first, then each alternative."""
    cells: dict[str, Cell] = {}
    for product in PRODUCTS:
        first = attempt(world, row, product, run, None)
        if first.ok:
            cells[product] = Cell("works")
            continue
        if first.inapplicable is not None:
            cells[product] = Cell("n/a", None, normalise(first.inapplicable, world.roots))
            continue
        message = failure_message(first, world)
        for setting in row.alternatives:
            if attempt(world, row, product, run, setting).ok:
                cells[product] = Cell("works only with", setting, message)
                break
        else:
            cells[product] = Cell("fails", None, message)
    return cells


# -- the client's own message, normalised ---------------------------------------------------

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_ERRORISH = re.compile(
    r"error|exception|failed|failure|denied|unauthori[sz]ed|forbidden|not found|missing|"
    r"could not|cannot|invalid|refused|\b[45]\d\d\b", re.IGNORECASE)
_LABELLED = re.compile(r"(ERROR\b|error:|Error:|HTTP Error|\[\w*Error\]|Error uploading|"
                       r"\w+(Error|Exception): )")
#: uv's cause lines: ``Caused by:`` (older uv), ``cause:`` (0.13.9)
_CAUSE = re.compile(r"(Caused by|cause):")
_PORT = re.compile(r"((?:\d{1,3}\.){3}\d{1,3}|\[[0-9a-f:]+\]|localhost|[a-z0-9-]+(?:\.[a-z0-9-]+)+):\d{2,5}\b",
                   re.IGNORECASE)
_ABSOLUTE_PATH = re.compile(r"(?<![\w/.:])/(?:tmp|work|home|root|var|private|usr)/[^\s'\"`),]*")
_HASH = re.compile(r"\b[0-9a-f]{32,}\b")
_TIMING = re.compile(r"\b\d+(?:\.\d+)?\s?(?:ms|s)\b")


def one_line(output: str) -> str:
    """The line of a client's output that says why it failed: the last line of a Python
    traceback; else the first line labelled an error (``ERROR:``, ``error:``, ``HTTP
    Error``, ``[PublishError]:``, ``Error uploading ...``), else the first line that reads
    like one (paths left out of the search: a temporary path may hold any number), else the
    last line; with the indented lines that continue it and, for uv, its last cause.

    Continuations: twine's rich log wraps at 80 columns (``ClientEnv`` sets ``TERM=dumb``
    and twine 7.0.0 forces a terminal, so rich ignores ``COLUMNS``) and pads a line it
    broke at a space; a line with no padding was broken inside a word (a long URL), so it
    is joined without a space."""
    raw = [_ANSI.sub("", line) for line in output.splitlines()]
    raw = [line for line in raw if line.strip() and not set(line.strip()) <= set("-=━ ")]
    if not raw:
        return "(no output)"
    lines = [line.strip() for line in raw]
    if any(line.startswith("Traceback (most recent call last)") for line in lines):
        return lines[-1]
    searchable = [_ABSOLUTE_PATH.sub("", line) for line in lines]
    labelled = [n for n, line in enumerate(searchable) if _LABELLED.match(line)]
    errorish = [n for n, line in enumerate(searchable) if _ERRORISH.search(line)]
    first = (labelled or errorish or [len(lines) - 1])[0]
    picked = lines[first]
    previous = raw[first]
    for following in raw[first + 1:]:
        if not following.startswith("    ") or _CAUSE.match(following.strip()):
            break
        picked += (" " if previous.endswith(" ") else "") + following.strip()
        previous = following
    causes = [line for line in lines if _CAUSE.match(line)]
    if causes and causes[-1] not in picked:
        picked += " " + causes[-1]
    return picked


def normalise(text: str, roots: tuple[Path, ...] = ()) -> str:
    """``text`` as the matrix shows it, the same on every run and machine: secrets masked,
    temporary and cache paths, ports, hashes and timings replaced, whitespace flattened."""
    text = redact(text, SECRETS)
    for root in sorted(roots, key=lambda p: len(str(p)), reverse=True):
        text = text.replace(str(root), "/tmp")
    text = _ABSOLUTE_PATH.sub("<path>", text)
    text = _PORT.sub(r"\1", text)
    text = _HASH.sub("<hash>", text)
    text = _TIMING.sub("<time>", text)
    text = " ".join(text.replace("`", "'").split())
    return text if len(text) <= 300 else text[:297] + "..."


def failure_message(attempt: Attempt, world: World) -> str:
    return normalise(attempt.problem or one_line(attempt.output), world.roots)


# -- docs/compatibility.md --------------------------------------------------------------------

SECTIONS = {
    "install": ("Install and lock", "resolve `corp-lib` 1.0 and its dependency `corp-dep` 1.0 "
                "from the product's index (install: both installed; lock: both locked)"),
    "publish": ("Publish", "upload `corp_up-1.0-py3-none-any.whl` and `corp_up-1.0.tar.gz` "
                "to the product's upload URL (both must arrive)"),
    "republish": ("Publish again", "upload the same two files (identical bytes) to an index "
                  "that already has them, as a CI job run twice does, and exit with status 0 "
                  "(the index keeps one copy of each)"),
}

HATCH_NOTE = ("Hatch >= 1.7 ignores `HTTPS_PROXY` when it publishes (hatch#1908), so it "
              "cannot reach a product's host name through the gateway: Hatch runs against "
              "each profile on `host=\"127.0.0.1\"` (the product's URL layout, statuses and "
              "credentials, on a loopback port).")

ROWS: tuple[Row, ...] = (
    Row("install", "pip", "pip", "pip install", "credentials in the index URL"),
    Row("install", "pip-netrc", "pip", "pip install", "`~/.netrc`"),
    Row("install", "pip-keyring", "pip", "pip install",
        "user in the URL, password from the keyring after a 401 "
        "(`--keyring-provider subprocess`)"),
    Row("install", "uv-pip", "uv", "uv pip install", "credentials in the index URL"),
    Row("install", "uv-pip-netrc", "uv", "uv pip install", "`~/.netrc`"),
    Row("install", "uv-lock", "uv", "uv lock", "`UV_INDEX_<NAME>_USERNAME/PASSWORD`"),
    Row("install", "uv-lock-netrc", "uv", "uv lock", "`~/.netrc`",
        alternatives=('authenticate = "always"',)),
    Row("install", "poetry1", "Poetry", "poetry lock", "`http-basic.<source>`", major="1"),
    Row("install", "poetry2", "Poetry", "poetry lock", "`http-basic.<source>`", major="2"),
    Row("install", "pdm", "pdm", "pdm lock", "`[pypi.<source>]` in the global config"),
    Row("publish", "twine", "twine", "twine upload", "`--username/--password`",
        alternatives=("~/.pypirc",)),
    Row("publish", "uv", "uv", "uv publish", "`--username/--password`",
        alternatives=("--index",)),
    Row("publish", "poetry1", "Poetry", "poetry publish -r", "`http-basic.<repository>`",
        major="1", alternatives=("--username/--password",)),
    Row("publish", "poetry2", "Poetry", "poetry publish -r", "`http-basic.<repository>`",
        major="2", alternatives=("--username/--password",)),
    Row("publish", "pdm", "pdm", "pdm publish", "`[repository.<name>]` in the global config",
        alternatives=("-u/-P",)),
    Row("publish", "hatch", "Hatch", "hatch publish", "`-u/-a`",
        alternatives=("HATCH_INDEX_USER/AUTH",), loopback_note=HATCH_NOTE),
    Row("publish", "flit", "flit", "flit publish", "`FLIT_USERNAME/PASSWORD`",
        alternatives=("~/.pypirc",)),
    Row("republish", "twine", "twine", "twine upload", "`--username/--password`",
        alternatives=("--skip-existing",)),
    Row("republish", "uv", "uv", "uv publish", "`--username/--password`",
        alternatives=("--check-url",)),
    Row("republish", "poetry1", "Poetry", "poetry publish -r", "`http-basic.<repository>`",
        major="1", alternatives=("--skip-existing",)),
    Row("republish", "poetry2", "Poetry", "poetry publish -r", "`http-basic.<repository>`",
        major="2", alternatives=("--skip-existing",)),
    Row("republish", "pdm", "pdm", "pdm publish", "`[repository.<name>]` in the global config",
        alternatives=("--skip-existing",)),
    Row("republish", "hatch", "Hatch", "hatch publish", "`-u/-a`", loopback_note=HATCH_NOTE),
    Row("republish", "flit", "flit", "flit publish", "`FLIT_USERNAME/PASSWORD`"),
)

_LABEL = re.compile(r"^\| (?P<tool>\S+) (?P<version>\S+) \(`(?P<command>[^`]+)`; (?P<how>.*?)\)(?:\[\^[a-z0-9-]+\])? \|")
_NOTE = re.compile(r"^\[\^(?P<id>[a-z0-9-]+)\]: ")


@dataclass(frozen=True)
class RowText:
    """One row as the file holds it: its table line and its footnotes."""

    row: Row
    version: str
    line: str
    notes: tuple[str, ...]

    @property
    def lines(self) -> list[str]:
        return [self.line, *self.notes]


def row(slug: str, section: str) -> Row:
    """The :data:`ROWS` entry ``slug`` of ``section``."""
    return next(r for r in ROWS if r.key == (section, slug))


def row_for(section: str, tool: str, command: str, how: str, version: str) -> Row | None:
    """The :data:`ROWS` entry of a label, a new row for a Poetry major the matrix does not
    list yet, or None: a row nobody generates any more (dropped when the file is rendered
    again, so the canonical check shows it)."""
    major = version.split(".")[0]
    for candidate in ROWS:
        if (candidate.section, candidate.tool, candidate.command, candidate.how) == (
                section, tool, command, how) and candidate.major in (None, major):
            return candidate
    if tool == "Poetry":
        base = next(r for r in ROWS if (r.section, r.tool, r.how) == (section, tool, how))
        return Row(section, f"poetry{major}", tool, command, how, major=major,
                   alternatives=base.alternatives)
    return None


def poetry_row(section: str, poetry: Poetry) -> Row:
    """Poetry's row for its major version (one not in :data:`ROWS` gets a row of its own)."""
    base = row("poetry2", section)
    found = row_for(section, "Poetry", base.command, base.how, poetry.version())
    assert found is not None
    return found


def cell_text(row: Row, product: str, cell: Cell) -> str:
    note = f"[^{row.note_id(product)}]"
    if cell.outcome == "works":
        return "works"
    if cell.outcome == "works only with":
        return f"works only with `{cell.setting}`{note}"
    return f"{cell.outcome}{note}"


def render_row(row: Row, version: str, cells: dict[str, Cell]) -> RowText:
    line = "| " + " | ".join([row.label(version), *(cell_text(row, p, cells[p]) for p in PRODUCTS)]) + " |"
    notes = []
    if row.loopback_note:
        notes.append(f"[^{row.section}-{row.slug}-loopback]: {row.loopback_note}")
    for product in PRODUCTS:
        cell = cells[product]
        if cell.outcome == "works":
            continue
        what = {"works only with": "fails without it", "fails": "fails",
                "n/a": "cannot be given the product's credential this way"}[cell.outcome]
        notes.append(f"[^{row.note_id(product)}]: {row.tool} {version} against {product} "
                     f"{what}: `` {cell.message} ``")
    return RowText(row, version, line, tuple(notes))


def parse_doc(text: str) -> dict[tuple[str, str], RowText]:
    """The rows of a docs/compatibility.md, by (section, slug)."""
    rows: dict[tuple[str, str], RowText] = {}
    section = None
    titles = {title: key for key, (title, _) in SECTIONS.items()}
    notes: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("## "):
            section = titles.get(line[3:].strip())
        match = _LABEL.match(line)
        if match and section is not None:
            found = row_for(section, match["tool"], match["command"], match["how"],
                            match["version"])
            if found is not None:
                rows[found.key] = RowText(found, match["version"], line, ())
        note = _NOTE.match(line)
        if note:
            notes[note["id"]] = line
    for note_id, line in notes.items():
        owners = [key for key, r in rows.items() if note_id.startswith(f"{r.row.section}-{r.row.slug}-")]
        if owners:
            key = max(owners, key=lambda k: len(k[1]))
            found = rows[key]
            rows[key] = RowText(found.row, found.version, found.line, (*found.notes, line))
    return rows


def render_doc(rows: dict[tuple[str, str], RowText]) -> str:
    """The whole file from its rows, in canonical order (the one rendering, so a
    regeneration is byte-for-byte reproducible)."""
    order = {row.key: n for n, row in enumerate(ROWS)}
    ranked = sorted(rows.values(), key=lambda r: (list(SECTIONS).index(r.row.section),
                                                  order.get(r.row.key, len(order)), r.row.slug))
    versions = list(dict.fromkeys(f"{r.row.tool} {r.version}" for r in ranked))
    out = [
        "<!-- Generated by tests/test_compatibility.py from real client runs: do not edit. -->",
        "# Client x product compatibility",
        "",
        "What each real client did against each product profile of pytest-privrepo "
        "(`privrepo.index(\"corp\", profile=...)`, `pytest_privrepo/index/behaviour.py`): "
        "an index at the product's host name and URL layout, over TLS, through the "
        "gateway, answering as the product does. Every cell is one run of the client "
        "(its usual configuration route), not a claim from documentation.",
        "",
        "- **works**: the client did the job.",
        "- **works only with `<setting>`**: the usual way failed (footnote) and that "
        "alternative of the same client worked.",
        "- **fails**: the footnote has the client's own message, normalised (no ports, "
        "temporary paths, hashes, timings; secrets as `****`).",
        "- **n/a**: this route cannot carry the product's credential (footnote); nothing ran.",
        "",
        "Credentials: the product's own form. Token (`token=`, the user name is the "
        "product's token user): GitLab `gitlab-ci-token`, Artifactory an empty user "
        "(identity token), CodeArtifact `aws`, Azure Artifacts `__token__` (a PAT takes any "
        "user name), Artifact Registry `oauth2accesstoken`. User and password: Nexus, "
        "devpi, pypiserver.",
        "",
        f"Client versions: {', '.join(versions)}.",
        "",
        "Regenerate (the test fails when this file differs from a fresh run):",
        "",
        "```",
        REGENERATE.split(" (")[0],
        "```",
    ]
    for section, (title, what) in SECTIONS.items():
        members = [r for r in ranked if r.row.section == section]
        out += ["", f"## {title}", "", f"Each run must {what}.", "",
                "| client | " + " | ".join(PRODUCTS) + " |",
                "|---" * (len(PRODUCTS) + 1) + "|",
                *(r.line for r in members)]
    notes = [n for r in ranked for n in r.notes]
    if notes:
        out += ["", "## Notes", ""]
        for note in notes:
            out += [note, ""]
        out.pop()
    return "\n".join(out) + "\n"


def shared_dir(request: pytest.FixtureRequest) -> Path:
    """A directory every xdist worker of this run shares (pytest's base temp's parent
    under xdist, the base temp itself otherwise)."""
    factory: pytest.TempPathFactory = request.getfixturevalue("tmp_path_factory")
    base = factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def updating() -> bool:
    return os.environ.get(UPDATE_VARIABLE, "") not in ("", "0")


def committed_version_or_skip(row: Row, version: str) -> None:
    """Skip the row (before running anything) when the committed file has it for another
    client version: the file is generated with the default versions."""
    if updating():
        return
    if not DOC.exists():
        pytest.fail(f"{DOC} does not exist: generate it with\n    {REGENERATE}", pytrace=False)
    committed = parse_doc(DOC.read_text(encoding="utf-8")).get(row.key)
    if committed is None:
        what = f"{row.tool} {row.major}.x" if row.major else row.tool
        pytest.skip(f"docs/compatibility.md has no `{row.command}` row for {what} "
                    f"(this run has {row.tool} {version}): comparison skipped for this row")
    if committed.version != version:
        pytest.skip(f"docs/compatibility.md's `{row.command}` row is for {row.tool} "
                    f"{committed.version}, this run has {row.tool} {version}: comparison "
                    "skipped for this row only (the file is generated with the default "
                    "client versions)")


def check_row(request: pytest.FixtureRequest, fresh: RowText) -> None:
    """Compare ``fresh`` with the committed row, or write it (``PRIVREPO_UPDATE_COMPAT=1``)."""
    with file_lock(shared_dir(request) / "privrepo-compatibility.lock"):
        text = DOC.read_text(encoding="utf-8") if DOC.exists() else ""
        rows = parse_doc(text)
        if updating():
            rows[fresh.row.key] = fresh
            DOC.parent.mkdir(parents=True, exist_ok=True)
            DOC.write_text(render_doc(rows), encoding="utf-8")
            return
    committed = rows.get(fresh.row.key)
    old = committed.lines if committed is not None else []
    if old != fresh.lines:
        diff = "\n".join(difflib.unified_diff(old, fresh.lines, "docs/compatibility.md (committed)",
                                              "this run", lineterm=""))
        pytest.fail(f"the `{fresh.row.command}` row ({fresh.row.tool} {fresh.version}) differs "
                    f"from docs/compatibility.md:\n{diff}\n\nIf the new results are right, "
                    f"regenerate the file:\n    {REGENERATE}", pytrace=False)


def matrix_row(request: pytest.FixtureRequest, world: World, row: Row, version: str,
               run: Runner) -> dict[str, Cell]:
    committed_version_or_skip(row, version)
    cells = run_row(world, row, run)
    check_row(request, render_row(row, version, cells))
    return cells


@pytest.fixture
def world(tmp_path: Path, privrepo_ca: CertificateAuthority, privrepo_gateway: Gateway,
          client_env: ClientEnv) -> World:
    return World(tmp_path, privrepo_ca, privrepo_gateway, client_env)


@pytest.fixture
def dists(tmp_path: Path) -> list[Path]:
    """The wheel and sdist every publish row uploads (built once per test)."""
    with Privrepo(tmp_path / "builder") as builder:
        files = [builder.build_dist(tmp_path / "dists", "corp-up", "1.0"),
                 builder.build_dist(tmp_path / "dists", "corp-up", "1.0", kind="sdist")]
    assert sorted(f.name for f in files) == UPLOADS
    return files


def resolved(ok: bool, output: str, versions: dict[str, str | None]) -> Attempt:
    found = {name: versions.get(name) for name in WANTED}
    if ok and found != WANTED:
        return Attempt(False, output, f"exit status 0, but resolved {found}")
    return Attempt(ok, output)


def uploaded(result: CommandResult, index: Index) -> Attempt:
    names = sorted(u.filename for u in index.uploads)
    if result.ok and names != UPLOADS:
        return Attempt(False, result.output, f"exit status 0, but the index received {names}")
    return Attempt(result.ok, result.output)


def poetry_credentials(poetry: Poetry, index: Index, name: str) -> None:
    """The source/repository ``name`` for ``index`` as a Poetry user sets it up: its URL
    and CA in Poetry's config, then ``poetry config http-basic.<name> <user> <password>``
    (the real command; :meth:`Poetry.configure` would turn a ``__token__`` user into
    ``pypi-token``, which Poetry sends to uploads only, and drops an empty user)."""
    poetry.configure(index, name, credentials=False)
    poetry.config(f"http-basic.{name}", index.username or "", index.password or "")


# -- install / lock ---------------------------------------------------------------------------

def inapplicable(what: Callable[[], Attempt]) -> Attempt:
    """``what()``, or an "n/a" attempt when the harness refuses the product's credential for
    that route before anything runs (a netrc or keyring entry with an empty user name)."""
    try:
        return what()
    except ConfigError as exc:
        return Attempt(False, "", inapplicable=str(exc))


def pip_row(request: pytest.FixtureRequest, world: World, pip: Pip, slug: str,
            auth: str) -> None:
    def run(index: Index, setting: str | None) -> Attempt:
        def install() -> Attempt:
            result = world.fresh(pip).install("corp-lib", index=index, auth=auth,  # type: ignore[arg-type]
                                 target=world.unique("pip-target"), no_cache=True, check=False)
            return resolved(result.ok, result.command.output, result.versions)
        return inapplicable(install)

    matrix_row(request, world, row(slug, "install"), pip.version(), run)


def test_install_pip(request: pytest.FixtureRequest, world: World, pip: Pip) -> None:
    """``pip install --index-url https://<user>:<secret>@<product>/...``: sent up front."""
    pip_row(request, world, pip, "pip", "url")


def test_install_pip_netrc(request: pytest.FixtureRequest, world: World, pip: Pip) -> None:
    """``pip install`` with the credentials in ``~/.netrc`` (pip sends them up front)."""
    pip_row(request, world, pip, "pip-netrc", "netrc")


def test_install_pip_keyring(request: pytest.FixtureRequest, world: World, pip: Pip) -> None:
    """``pip install --keyring-provider subprocess`` with the user in the URL: pip asks the
    keyring only after a 401 (pip#11721), so a product that answers 403 or 404 to the
    user without a password never gets the password."""
    pip_row(request, world, pip, "pip-keyring", "keyring")


def uv_pip_row(request: pytest.FixtureRequest, world: World, uv: Uv, slug: str,
               auth: str) -> None:
    def run(index: Index, setting: str | None) -> Attempt:
        def install() -> Attempt:
            client = world.fresh(uv)
            venv = client.venv(world.unique("uv-venv"))
            result = client.pip_install("corp-lib", index=index, venv=venv, no_cache=True,
                                    auth=auth, check=False)  # type: ignore[arg-type]
            return resolved(result.ok, result.command.output, dict(result.versions))
        return inapplicable(install)

    matrix_row(request, world, row(slug, "install"), uv.version(), run)


def test_install_uv_pip(request: pytest.FixtureRequest, world: World, uv: Uv) -> None:
    """``uv pip install --default-index https://<user>:<secret>@<product>/...``."""
    uv_pip_row(request, world, uv, "uv-pip", "url")


def test_install_uv_pip_netrc(request: pytest.FixtureRequest, world: World, uv: Uv) -> None:
    """``uv pip install`` with the credentials in ``~/.netrc``, which uv sends after a 401."""
    uv_pip_row(request, world, uv, "uv-pip-netrc", "netrc")


def test_lock_uv(request: pytest.FixtureRequest, world: World, uv: Uv) -> None:
    """``uv lock`` with a ``[[tool.uv.index]] default = true`` and its
    ``UV_INDEX_CORP_USERNAME/PASSWORD``."""

    def run(index: Index, setting: str | None) -> Attempt:
        project = UvProject(world.unique("uv-project"), world.fresh(uv)).create(
            dependencies=["corp-lib"])
        project.add_index("corp", index, default=True)
        result = project.lock(check=False, extra_args=["--no-cache"])
        return resolved(result.command.ok, result.command.output, result.versions())

    matrix_row(request, world, row("uv-lock", "install"), uv.version(), run)


def test_lock_uv_netrc(request: pytest.FixtureRequest, world: World, uv: Uv) -> None:
    """``uv lock`` with the index's credentials in ``~/.netrc`` (alternative: the index's
    ``authenticate = "always"``, which makes uv look credentials up before the first
    request instead of after a 401)."""

    def run(index: Index, setting: str | None) -> Attempt:
        def lock() -> Attempt:
            client = world.fresh(uv)
            client.env.write_netrc(index.url, index.username or "", index.password or "")
            project = UvProject(world.unique("uv-project"), client).create(
                dependencies=["corp-lib"])
            anonymous = IndexAccess(index.url, ca_cert=Path(index.ca_cert or ""))
            project.add_index("corp", anonymous, default=True,
                              authenticate="always" if setting else None)
            result = project.lock(check=False, extra_args=["--no-cache"])
            return resolved(result.command.ok, result.command.output, result.versions())
        return inapplicable(lock)

    matrix_row(request, world, row("uv-lock-netrc", "install"), uv.version(), run)


def test_lock_poetry(request: pytest.FixtureRequest, world: World, poetry: Poetry) -> None:
    """``poetry lock`` with a primary source and ``http-basic.<source>``."""

    def run(index: Index, setting: str | None) -> Attempt:
        # one source name per product: Poetry caches by source name
        name = f"corp-{index.behaviour.product}"
        client = world.fresh(poetry)
        project = PoetryProject(world.unique("poetry-project"), client).create()
        project.add_source(name, index, priority="primary")
        project.add_dependency("corp-lib", "*")
        poetry_credentials(client, index, name)
        result = project.run("lock", check=False)
        versions = parse_poetry_lock(project.path / "poetry.lock").versions() if result.ok else {}
        return resolved(result.ok, result.output, dict(versions))

    matrix_row(request, world, poetry_row("install", poetry), poetry.version(), run)


def test_lock_pdm(request: pytest.FixtureRequest, world: World, pdm: Pdm) -> None:
    """``pdm lock`` with a ``[[tool.pdm.source]]`` and ``[pypi.<source>]`` credentials."""

    def run(index: Index, setting: str | None) -> Attempt:
        project = PdmProject(world.unique("pdm-project"), world.fresh(pdm)).create(
            dependencies=["corp-lib"])
        project.add_source(f"corp{index.behaviour.product.replace('-', '')}", index)
        result = project.lock(check=False)
        return resolved(result.ok, result.command.output, dict(result.versions()))

    matrix_row(request, world, row("pdm", "install"), pdm.version(), run)


# -- publish, and publish again ------------------------------------------------------------

#: the rows of each publish test: the first upload, and the same files again
PUBLISH_SECTIONS = ["publish", "republish"]

#: an upload: the client (fresh), the index, the setting (None: the usual way)
Upload = Callable[[C, Index, "str | None"], CommandResult]


def publish_row(request: pytest.FixtureRequest, world: World, client: C, slug: str | Row,
                section: str, upload: Upload[C], *, own_build: bool = False) -> None:
    """``slug``'s row of ``section`` (or that row itself): ``publish`` uploads
    :data:`UPLOADS` to an empty index, ``republish`` the same two files to an index that
    already has them (a CI job run again), which must end with exit status 0 and one copy
    of each. ``own_build``: the client builds its files itself (flit), so the index gets
    them from a first run of the client (its usual way), not from the shared dists."""
    dists = request.getfixturevalue("dists")

    def run(index: Index, setting: str | None) -> Attempt:
        fresh = world.fresh(client)
        if section == "republish" and own_build:
            first = upload(fresh, index, None)
            if not first.ok:
                return Attempt(False, first.output)
        elif section == "republish":
            for dist in dists:
                index.add_file(dist)
        result = upload(fresh, index, setting)
        if section == "publish":
            return uploaded(result, index)
        kept = sorted(f.filename for f in index.files())
        if result.ok and kept != UPLOADS:
            return Attempt(False, result.output, f"exit status 0, but the index has {kept}")
        return Attempt(result.ok, result.output)

    chosen = slug if isinstance(slug, Row) else row(slug, section)
    matrix_row(request, world, chosen, client.version(), run)


def copy_dists(request: pytest.FixtureRequest, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for dist in request.getfixturevalue("dists"):
        shutil.copy2(dist, target / dist.name)


@pytest.mark.parametrize("section", PUBLISH_SECTIONS)
def test_publish_twine(request: pytest.FixtureRequest, world: World, twine: Twine,
                       section: str) -> None:
    """``twine upload --repository-url -u -p --cert`` (publish alternative: ``~/.pypirc``;
    again: ``--skip-existing``). An empty user name (Artifactory's identity token) goes as
    ``--username ''``: the runner leaves out an empty user, and twine then asks for one."""
    dists = request.getfixturevalue("dists")

    def upload(client: Twine, index: Index, setting: str | None) -> CommandResult:
        pypirc = setting == "~/.pypirc"
        extra = ["--username", ""] if index.username == "" and not pypirc else []
        if setting == "--skip-existing":
            extra.append(setting)
        return client.upload(dists, index, route="pypirc" if pypirc else "cli",
                             extra_args=extra, check=False)

    publish_row(request, world, twine, "twine", section, upload)


@pytest.mark.parametrize("section", PUBLISH_SECTIONS)
def test_publish_uv(request: pytest.FixtureRequest, world: World, uv: Uv, section: str) -> None:
    """``uv publish --publish-url <upload URL> --username <user> --password <secret>``
    (publish alternative: ``--index``; again: ``--check-url <index URL>``). Not ``--token``:
    uv sends that as user ``__token__``, not the product's token user (pinned below)."""
    dists = request.getfixturevalue("dists")

    def upload(client: Uv, index: Index, setting: str | None) -> CommandResult:
        return client.publish(dists, index, route="index" if setting == "--index" else "url",
                              check_url=setting == "--check-url", check=False)

    publish_row(request, world, uv, "uv", section, upload)


@pytest.mark.parametrize("section", PUBLISH_SECTIONS)
def test_publish_poetry(request: pytest.FixtureRequest, world: World, poetry: Poetry,
                        section: str) -> None:
    """``poetry publish -r <repo>`` with ``repositories.<repo>``, ``certificates.<repo>.cert``
    and ``http-basic.<repo>`` (publish alternative: ``--username/--password``; again:
    ``--skip-existing``)."""

    def upload(client: Poetry, index: Index, setting: str | None) -> CommandResult:
        name = f"corp-{index.behaviour.product}"
        project = PoetryProject(world.unique("poetry-publisher"), client).create("corp-up", "1.0")
        copy_dists(request, project.path / "dist")
        if setting == "--username/--password":
            client.configure(index, name, credentials=False)
            return project.publish(name, username=index.username or "",
                                   password=index.password or "", check=False)
        poetry_credentials(client, index, name)
        extra = [setting] if setting == "--skip-existing" else []
        return project.publish(name, extra=extra, check=False)

    publish_row(request, world, poetry, poetry_row(section, poetry), section, upload)


@pytest.mark.parametrize("section", PUBLISH_SECTIONS)
def test_publish_pdm(request: pytest.FixtureRequest, world: World, pdm: Pdm,
                     section: str) -> None:
    """``pdm publish -r <name>`` with ``[repository.<name>]`` (publish alternative:
    ``-r URL -u -P``; again: ``--skip-existing``)."""
    dists = request.getfixturevalue("dists")

    def upload(client: Pdm, index: Index, setting: str | None) -> CommandResult:
        project = PdmProject(world.unique("pdm-publisher"), client).create(
            "corp-up", "1.0", distribution=True)
        extra = [setting] if setting == "--skip-existing" else []
        return project.publish(index, dists=dists, route="cli" if setting == "-u/-P" else "file",
                               extra_args=extra, check=False)

    publish_row(request, world, pdm, "pdm", section, upload)


@pytest.mark.parametrize("section", PUBLISH_SECTIONS)
def test_publish_hatch(request: pytest.FixtureRequest, world: World, hatch: Hatch,
                       section: str) -> None:
    """``hatch publish -r -u -a --ca-cert`` (publish alternative: ``HATCH_INDEX_*``; Hatch
    has no skip option), against each profile on 127.0.0.1 (Hatch >= 1.7 ignores proxies,
    hatch#1908). An empty user name goes as ``HATCH_INDEX_USER=''`` (the runner leaves out
    an empty ``-u``)."""
    dists = request.getfixturevalue("dists")

    def upload(client: Hatch, index: Index, setting: str | None) -> CommandResult:
        empty = {"HATCH_INDEX_USER": ""} if index.username == "" else {}
        with variables(client.env, **empty):
            return client.publish(dists, index, route="env" if setting else "cli", check=False)

    publish_row(request, world, hatch, "hatch", section, upload)


@pytest.mark.parametrize("section", PUBLISH_SECTIONS)
def test_publish_flit(request: pytest.FixtureRequest, world: World, flit: Flit,
                      section: str) -> None:
    """``flit publish`` with ``FLIT_INDEX_URL/USERNAME/PASSWORD`` (publish alternative:
    ``~/.pypirc``; flit has no skip option); flit builds the wheel and sdist itself, the same
    two names (again: flit's second build of the project its first run uploaded). An empty
    user name goes as ``FLIT_USERNAME=''`` (the runner leaves it out)."""
    project = write_flit_project(world.tmp_path / "flit-project", "corp-up", "1.0")

    def upload(client: Flit, index: Index, setting: str | None) -> CommandResult:
        empty = {"FLIT_USERNAME": ""} if index.username == "" and not setting else {}
        with variables(client.env, **empty):
            return client.publish(project, index, route="pypirc" if setting else "env",
                                  check=False)

    publish_row(request, world, flit, "flit", section, upload, own_build=True)


# -- the file as a whole ----------------------------------------------------------------------

def test_compatibility_doc_is_canonical(request: pytest.FixtureRequest) -> None:
    """docs/compatibility.md has a row for every client x operation of :data:`ROWS` and is
    exactly what :func:`render_doc` makes of its rows (header, versions, order): nobody
    edited it by hand and no stale row lingers. With ``PRIVREPO_UPDATE_COMPAT=1`` it is
    rendered again instead (the row tests write their rows)."""
    with file_lock(shared_dir(request) / "privrepo-compatibility.lock"):
        text = DOC.read_text(encoding="utf-8") if DOC.exists() else ""
        rows = parse_doc(text)
        if updating():
            if rows:
                DOC.write_text(render_doc(rows), encoding="utf-8")
            return
    assert text, f"{DOC} does not exist: generate it with\n    {REGENERATE}"
    missing = [f"{r.tool} `{r.command}`" for r in ROWS if r.key not in rows]
    assert not missing, f"docs/compatibility.md lacks rows for {', '.join(missing)}: {REGENERATE}"
    expected = render_doc(rows)
    if text != expected:
        diff = "\n".join(difflib.unified_diff(text.splitlines(), expected.splitlines(),
                                              "docs/compatibility.md", "rendered", lineterm=""))
        pytest.fail(f"docs/compatibility.md is not as rendered from its rows:\n{diff}\n"
                    f"Regenerate it: {REGENERATE}", pytrace=False)


def test_rows_round_trip_through_the_file() -> None:
    """What a row test writes, :func:`parse_doc` reads back as the same row, for every
    outcome (``works only with`` and ``n/a`` included, which today's runs may not show)."""
    cells = dict(zip(PRODUCTS, itertools.cycle([
        Cell("works"), Cell("fails", None, "ERROR: boom"),
        Cell("works only with", "--index", "error: 401"), Cell("n/a", None, "no netrc")])))
    written = {r.key: render_row(r, "9.9", cells) for r in (row("uv", "publish"), row("hatch", "publish"))}
    read = parse_doc(render_doc(written))
    assert read == written
    assert "works only with `--index`[^publish-uv-artifactory]" in written[("publish", "uv")].line
    assert render_doc(read) == render_doc(written)
    stale = render_doc(written).replace(
        "\n## Publish again", "| gone 1.0 (`gone up`; never) | works |\n\n## Publish again")
    assert parse_doc(stale) == written and render_doc(parse_doc(stale)) != stale


def test_normalise_makes_messages_reproducible(tmp_path: Path) -> None:
    """What makes two runs' footnotes equal: ports, temporary paths, hashes, timings and
    secrets never reach the file."""
    raw = (f"\x1b[31mERROR\x1b[0m   HTTPError: 401 for https://127.0.0.1:50123/simple/ in 1.52s "
           f"(file {tmp_path}/x/y.whl, sha256 {'ab' * 32}, token {TOKEN}, /tmp/pytest-of-x/1/z)")
    assert normalise(one_line(raw), (tmp_path,)) == (
        "ERROR HTTPError: 401 for https://127.0.0.1/simple/ in <time> (file <path>, "
        "sha256 <hash>, token ****, <path>)")
    assert one_line("Resolving\nerror: Failed to fetch\n  Caused by: a\n  Caused by: b 404\n") == (
        "error: Failed to fetch Caused by: b 404")
    assert one_line("WARNING  Error during upload.\nERROR    HTTPError: 400\n") == "ERROR    HTTPError: 400"
    assert one_line(f"x {tmp_path}/pytest-401/y\n[PublishError]: 400\n") == "[PublishError]: 400"
    wrapped = ("ERROR    Unsupported: The configured repository    \n"
               "         'https://x.example/aaaa\n         aa/' does not    \n         work\n")
    assert one_line(wrapped) == (
        "ERROR    Unsupported: The configured repository 'https://x.example/aaaaaa/' does not work")
    assert one_line("x\nTraceback (most recent call last):\n  File a\nException: boom\n") == (
        "Exception: boom")


# -- known client bugs the matrix shows, pinned ----------------------------------------------

#: the releases the pinned facts below were read from (fixed: tox's version settings choose
#: the matrix rows' clients, not these)
UV_PINNED = "0.13.9"


@pytest.fixture
def uv_pinned(client_factory) -> Uv:  # type: ignore[no-untyped-def]
    """uv 0.13.9 exactly, whatever version the plugin's ``uv`` fixture runs."""
    return client_factory("uv", UV_PINNED)  # type: ignore[no-any-return]

def sent_users(index: Index, method: str = "POST") -> list[str | None]:
    """Install a pass-through handler recording the user name of every ``method`` request
    to ``index`` as the client sent it (the request log shows a token's user as
    ``__token__`` whatever it was); the index answers as it would."""
    seen: list[str | None] = []

    def spy(request: Request) -> Response:
        parsed = Authorization.from_header(request.headers.get("Authorization"))
        seen.append(None if parsed is None else parsed.username)
        return index.faults.index_answer(request)

    index.expect_request("", method=method).respond_with_handler(spy)
    return seen


def test_uv_publish_token_is_sent_as_the_pypi_token_user(world: World, uv_pinned: Uv,
                                                         dists: list[Path]) -> None:
    """uv 0.13.9: ``uv publish --token T`` always sends user ``__token__``, so an Artifactory
    identity token (which goes with an EMPTY user name) needs ``--username '' --password T``
    instead (uv's JFrog guide, ../shared/reference/products.md); the matrix's uv row uses
    that form. The same upload with ``--token`` gets 401 from a real Artifactory: see
    :func:`test_artifactory_refuses_a_token_sent_as_pypi_token_user`."""
    assert PROFILES["artifactory"].token_users == ("",)
    with world.index("artifactory", packages=False) as index:
        seen = sent_users(index)
        assert uv_pinned.publish(dists, index, check=False).ok
        with_token = uv_pinned.publish(dists, index, token=TOKEN, check=False)
    # both files with the empty user; with --token the first upload is refused and uv stops
    assert seen == ["", "", "__token__"], with_token.output
    assert not with_token.ok


def test_pdm_publish_sends_an_empty_user_as_pypi_token_user(world: World, client_factory,  # type: ignore[no-untyped-def]
                                                            dists: list[Path]) -> None:
    """pdm 2.29.3: ``pdm publish`` with ``[repository.<name>] username = ""`` and the token as
    password uploads as user ``__token__`` (``pdm/cli/commands/publish/repository.py``
    ``_ensure_credentials``: ``if username and password`` fails for an empty user, then
    ``if password: return "__token__", password``), so an Artifactory identity token cannot
    be sent with its empty user: the artifactory profile refuses it (401), as Artifactory
    does, and the matrix's pdm x artifactory publish cells fail."""
    pdm = client_factory("pdm", "2.29.3")
    with world.index("artifactory", packages=False) as index:
        seen = sent_users(index)
        project = PdmProject(world.unique("pdm-empty-user"), pdm).create(
            "corp-up", "1.0", distribution=True)
        assert index.username == ""
        result = project.publish(index, dists=dists, check=False)
    assert seen == ["__token__"]  # refused (401): pdm stops at the first file
    assert not result.ok


def test_artifactory_refuses_a_token_sent_as_pypi_token_user(world: World, uv_pinned: Uv,
                                                              dists: list[Path]) -> None:
    """uv 0.13.9 ``uv publish --token`` against Artifactory: 401, nothing uploaded
    (products.md: "``uv publish --token`` sends ``__token__`` and gets 401")."""
    with world.index("artifactory", packages=False) as index:
        result = uv_pinned.publish(dists, index, token=TOKEN, check=False)
        statuses = [hit.status for hit in index.log.filter(method="POST")]
        assert not result.ok and statuses == [401] and not index.uploads


def test_poetry2_publish_drops_an_empty_user_name(world: World, poetry_factory,  # type: ignore[no-untyped-def]
                                                  dists: list[Path]) -> None:
    """The matrix's Poetry 2.5.1 x Artifactory publish cell: with ``http-basic.<repo>`` =
    an empty user and the identity token, Poetry 2.5.1 uploads WITHOUT credentials (401),
    Poetry 1.8.5 sends ``:<token>``. Source: Poetry 2.5.1 ``poetry/utils/password_manager.py``
    ``get_http_auth`` ("we use `or None` here to ensure that empty strings are passed as
    None") and ``poetry/publishing/uploader.py`` ``get_auth`` (no auth when the user name is
    None); reading the same source (``poetry lock``) sends the empty user and works."""
    outcomes = {}
    for version in ("1.8.5", "2.5.1"):
        poetry = poetry_factory(version)
        with world.index("artifactory", packages=False) as index:
            seen = sent_users(index)
            name = f"jfrog-{version.replace('.', '-')}"
            project = PoetryProject(world.unique("poetry-empty-user"), poetry).create("corp-up", "1.0")
            (project.path / "dist").mkdir()
            for dist in dists:
                shutil.copy2(dist, project.path / "dist" / dist.name)
            poetry_credentials(poetry, index, name)
            result = project.publish(name, check=False)
            outcomes[version] = (result.ok, seen[:1], [u.filename for u in index.uploads])
            if version == "2.5.1":
                assert "HTTP Error 401" in result.output
    assert outcomes == {"1.8.5": (True, [""], UPLOADS), "2.5.1": (False, [None], [])}


@pytest.mark.parametrize("version", ["6.1.0", "7.0.0"])
@pytest.mark.parametrize(("product", "status"), [("artifactory", 403), ("codeartifact", 409)])
def test_twine_skip_existing_against_a_product(world: World, client_factory, tmp_path: Path,  # type: ignore[no-untyped-def]
                                               product: str, status: int, version: str) -> None:
    """``twine upload --skip-existing`` of another file under an existing name.

    twine >= 6.2 (7.0.0 here) refuses ``--skip-existing`` for every repository but PyPI and
    TestPyPI before it sends anything (``twine/settings.py`` ``verify_feature_capability``:
    "UnsupportedConfiguration: The configured repository ... does not have support for the
    following features: --skip-existing"; twine#1251), so against any product it fails.
    twine 6.1.0 uploads and skips what its ``skip_upload`` (``twine/commands/upload.py``)
    recognises: a 409 (CodeArtifact), a 400 saying "already exist" or "updating asset"
    (Nexus), and Artifactory's 403 "... overwrite artifact"; 6.2 dropped the product clauses
    and the non-PyPI support together (twine#1251, which broke pypiserver users: #1265)."""
    with Privrepo(tmp_path / "builder") as builder:
        first = builder.build_dist(tmp_path / "a", "corp-dup", "1.0")
        other = builder.build_dist(tmp_path / "b", "corp-dup", "1.0", summary="other bytes")
    assert PROFILES[product].duplicate_status == status
    twine: Twine = client_factory("twine", version)
    with world.index(product, packages=False) as index:
        empty = ["--username", ""] if index.username == "" else []
        assert twine.upload([first], index, extra_args=empty).ok
        again = twine.upload([other], index, extra_args=[*empty, "--skip-existing"], check=False)
        posts = [hit.status for hit in index.log.filter(method="POST")]
        assert [u.filename for u in index.uploads] == [first.name]
    message = normalise(one_line(again.output))
    if twine.release >= Version("6.2"):
        assert not again.ok and posts == [200], again.output
        assert message == (
            f"ERROR UnsupportedConfiguration: The configured repository '{index.upload_url}' "
            "does not have support for the following features: --skip-existing and is an "
            "unsupported configuration")
    else:
        assert again.ok and posts == [200, status], again.output


def test_credentials_reach_gitlab_files_outside_the_simple_path(world: World,
                                                               uv_pinned: Uv) -> None:
    """uv 0.13.9 (also pip, Poetry and pdm, the matrix's GitLab column) sends the index's
    credentials to GitLab's files, which live at ``.../packages/pypi/files/`` outside the
    index URL ``.../packages/pypi/simple/``: uv#8565 reported that uv did not. Every file
    request carries accepted credentials and none is refused."""
    with world.index("gitlab") as index:
        result = uv_pinned.pip_install("corp-lib", index=index,
                                       venv=uv_pinned.venv(world.unique("v")), no_cache=True)
        files = [hit for hit in index.log if "/files/" in hit.path]
    assert result.versions == WANTED
    assert index.url.endswith("/packages/pypi/simple/") and files
    assert all(hit.auth_ok is True and hit.status < 400 for hit in files), files


@pytest.mark.parametrize(("product", "first"), [("codeartifact", 404), ("pypiserver", 403),
                                                ("azure", 401)])
def test_pip_asks_the_keyring_only_after_a_401(world: World, pip: Pip, product: str,
                                               first: int) -> None:
    """The matrix's pip keyring row: pip (26.3; the rule is the same since
    ``--keyring-provider``, 23.1, so this runs the configured pip) with ``--keyring-provider subprocess`` sends the
    URL's user name with an empty password and asks the keyring only when that gets a 401
    (pip's ``network/auth.py``, ``handle_401``; pip#11721). CodeArtifact answers wrong
    credentials with 404 (uv#11899) and pypiserver with 403, so pip never asks and reports
    the project as missing; Azure's 401 makes pip ask and retry."""
    client = world.fresh(pip)
    with world.index(product) as index:
        result = client.install("corp-lib", index=index, auth="keyring",
                                target=world.unique("t"), no_cache=True, check=False)
        pages = [(h.status, h.auth_ok) for h in index.log if h.path.endswith("/corp-lib/")]
    if first == 401:
        assert result.ok and pages == [(401, False), (200, True)], result.command.output
    else:
        assert not result.ok and pages == [(first, False)], result.command.output
        assert "from versions: none" in result.command.output
