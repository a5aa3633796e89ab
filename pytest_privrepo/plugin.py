"""pytest wiring: fixtures and options around the library objects. No logic lives here."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from .clients.catalog import (
    FLIT_TOOL,
    HATCH_TOOL,
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
from .clients.env import ClientEnv
from .clients.flit import Flit
from .clients.hatch import Hatch
from .clients.pdm import Pdm
from .clients.pdm_project import PdmProject
from .clients.pip import Pip
from .clients.poetry import Poetry
from .clients.poetry_project import PoetryProject
from .clients.provision import default_cache_dir
from .clients.twine import Twine
from .clients.uv import Uv
from .clients.uv_project import UvProject
from .errors import ConfigError
from .gateway.proxy import Gateway
from .session import Privrepo
from .tls.ca import CertificateAuthority

if TYPE_CHECKING:
    from .audit.report import AuditReport

#: hides secrets in every test report, -l locals included (pytest_privrepo.redact_report)
pytest_plugins = ["pytest_privrepo.redact_report"]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("privrepo", "pytest-privrepo: private package indexes and clients")
    for tool in TOOLS.values():
        group.addoption(tool.option, default=None, metavar="PATH",
                        help=f"{tool.name} executable for the `{tool.name}` fixture (else "
                             f"${tool.env_var}, else the {tool.ini} ini key, else `{tool.name}` "
                             "next to the running Python or on PATH)")
        group.addoption(tool.versions_option, default=None, metavar="V1,V2",
                        help=f"run every test that uses `{tool.name}` once per {tool.name} "
                             "version (exact versions or 'latest'), each provisioned into a "
                             f"cached virtualenv (else ${tool.versions_env_var}, else the "
                             f"{tool.versions_ini} ini key)")
        parser.addini(tool.ini, f"{tool.name} executable (see {tool.option})", default="")
        parser.addini(tool.versions_ini, f"{tool.name} versions (see {tool.versions_option})",
                      default="")
    group.addoption("--privrepo-cache-dir", default=None, metavar="DIR",
                    help="where provisioned client virtualenvs are cached (else "
                         "$PRIVREPO_CACHE_DIR, else ~/.cache/pytest-privrepo/clients, "
                         "shared with `privrepo demo`)")


_CHOICES = pytest.StashKey[dict[str, Choice]]()


def pytest_configure(config: pytest.Config) -> None:
    """Read every client's executable/versions settings once (rules: ClientTool.choose), so a
    typo or a contradiction stops the run before collection."""
    ini_dir = config.inipath.parent if config.inipath else None
    choices: dict[str, Choice] = {}
    for tool in TOOLS.values():
        try:
            choices[tool.name] = tool.choose(
                option=config.getoption(tool.option),
                versions_option=config.getoption(tool.versions_option),
                environ=os.environ, ini=config.getini(tool.ini) or None,
                versions_ini=config.getini(tool.versions_ini) or None, ini_dir=ini_dir)
        except ConfigError as exc:
            raise pytest.UsageError(str(exc)) from None
    config.stash[_CHOICES] = choices


def _explicitly_parametrized(metafunc: pytest.Metafunc, name: str) -> bool:
    for marker in metafunc.definition.iter_markers("parametrize"):
        argnames = marker.args[0] if marker.args else marker.kwargs.get("argnames", "")
        names = argnames if isinstance(argnames, (list, tuple)) else str(argnames).split(",")
        if name in (n.strip() for n in names):
            return True
    return False


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    for tool in TOOLS.values():
        if tool.name not in metafunc.fixturenames or _explicitly_parametrized(metafunc, tool.name):
            continue
        values = metafunc.config.stash[_CHOICES][tool.name].versions
        if values:
            metafunc.parametrize(tool.name, values, indirect=True,
                                 ids=[tool.test_id(v) for v in values])


# -- indexes --------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def privrepo_ca() -> CertificateAuthority:
    """The session's certificate authority (one per pytest process / xdist worker)."""
    return CertificateAuthority()


@pytest.fixture(scope="session")
def privrepo_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """The session's gateway (one per pytest process / xdist worker): the proxy every
    ``client_env`` routes through, serving the named hosts and the PyPI stand-in of
    ``privrepo`` and ``privrepo_session`` and refusing every other host."""
    gateway = Gateway(root=tmp_path_factory.mktemp("privrepo-gateway")).start()
    try:
        yield gateway
    finally:
        gateway.stop()
        gateway.check()


@pytest.fixture
def privrepo(tmp_path: Path, privrepo_ca: CertificateAuthority,
             privrepo_gateway: Gateway) -> Iterator[Privrepo]:
    """Start ephemeral indexes for one test; everything stops when the test ends.

    ``privrepo.index("corp", auth=("alice", "s3cret"), tls="mtls")`` returns a running index;
    ``host="pypi.corp.example"`` serves it at that name, ``privrepo.pypi`` is the PyPI
    stand-in, ``privrepo.egress`` what went through the gateway during the test.
    Files (PEMs, distributions) live under the test's tmp dir.
    """
    repo = Privrepo(tmp_path / "privrepo", ca=privrepo_ca, gateway=privrepo_gateway)
    try:
        yield repo
    finally:
        repo.close()


@pytest.fixture(scope="session")
def privrepo_session(tmp_path_factory: pytest.TempPathFactory,
                     privrepo_ca: CertificateAuthority,
                     privrepo_gateway: Gateway) -> Iterator[Privrepo]:
    """Like ``privrepo`` but shared by every test of the session (per xdist worker).

    Use it for expensive, read-only setups; tests that mutate an index or assert on its
    request log should use the function-scoped ``privrepo`` (or clear the log first).
    """
    repo = Privrepo(tmp_path_factory.mktemp("privrepo-session"), ca=privrepo_ca,
                    gateway=privrepo_gateway)
    try:
        yield repo
    finally:
        repo.close()


# -- clients ----------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def privrepo_cache_dir(pytestconfig: pytest.Config) -> Path:
    """Where provisioned client virtualenvs live: the user-level cache that ``privrepo demo``
    uses too (shared by xdist workers, file-locked); --privrepo-cache-dir overrides it."""
    chosen = pytestconfig.getoption("--privrepo-cache-dir")
    path = Path(chosen).expanduser().absolute() if chosen else default_cache_dir()
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def client_env(tmp_path: Path, privrepo_gateway: Gateway) -> ClientEnv:
    """An isolated environment (HOME, XDG, caches, netrc, no inherited client config),
    offline except for the hosts declared on ``privrepo_gateway``."""
    return ClientEnv(tmp_path / "client-env", gateway=privrepo_gateway)


ClientFactory = Callable[..., Any]

R = TypeVar("R")


def _obtain(tool: ClientTool[R], version: str | None, *, env: ClientEnv, cache_dir: Path,
            config: pytest.Config) -> R:
    """``tool`` in ``env``: ``version`` provisioned (exact or ``latest``), else the installed
    one the settings name (the one rule behind ``client_factory`` and the client fixtures)."""
    if version is not None:
        versions = parse_versions(version, source=f"client_factory({tool.name!r}, {version!r})")
        if len(versions) != 1:
            raise ConfigError(f"client_factory({tool.name!r}, {version!r}): give one version")
        version = versions[0]
    explicit, source = config.stash[_CHOICES][tool.name].executable or (None, None)
    return tool.obtain(env, version, explicit=explicit, source=source, cache_dir=cache_dir)


@pytest.fixture
def client_factory(client_env: ClientEnv, privrepo_cache_dir: Path,
                   pytestconfig: pytest.Config) -> ClientFactory:
    """``client_factory("uv")``: the harness for that client, run in ``client_env``.

    ``client_factory("pdm", "2.29.3")`` provisions that version (``"latest"``: the newest
    release, cached) into ``privrepo_cache_dir``; without a version the installed client is
    used: --privrepo-<tool>, $PRIVREPO_<TOOL>, the privrepo_<tool> ini key, next to the
    running Python, on PATH (a clear error if it is nowhere). Version settings only
    parametrize the fixtures; here the test says which version it wants. ``env=`` runs it in another ClientEnv.
    Clients: poetry, pip, uv, pdm, twine, hatch, flit.
    """

    def make(tool: str, version: str | None = None, *, env: ClientEnv | None = None) -> Any:
        return _obtain(client_tool(tool), version, env=env or client_env,
                       cache_dir=privrepo_cache_dir, config=pytestconfig)

    return make


def _client(request: pytest.FixtureRequest, tool: ClientTool[R]) -> R:
    """The fixture's client: the version it is parametrized with (indirectly), else the
    installed one."""
    return _obtain(tool, getattr(request, "param", None),
                   env=request.getfixturevalue("client_env"),
                   cache_dir=request.getfixturevalue("privrepo_cache_dir"),
                   config=request.config)


@pytest.fixture
def poetry_factory(client_env: ClientEnv, privrepo_cache_dir: Path,
                   pytestconfig: pytest.Config) -> Callable[[str | None], Poetry]:
    """``poetry_factory("1.8.5")``: that Poetry, provisioned into a cached virtualenv and run in
    ``client_env``; ``poetry_factory(None)``: the Poetry named by --privrepo-poetry /
    $PRIVREPO_POETRY / PATH (a clear error if there is none)."""

    def make(version: str | None = None) -> Poetry:
        return _obtain(POETRY_TOOL, version, env=client_env, cache_dir=privrepo_cache_dir,
                       config=pytestconfig)

    return make


@pytest.fixture
def poetry(request: pytest.FixtureRequest) -> Poetry:
    """The real Poetry in an isolated environment (parametrize indirectly with a version)."""
    return _client(request, POETRY_TOOL)


@pytest.fixture
def poetry_project(tmp_path: Path, poetry: Poetry) -> PoetryProject:
    """A fresh Poetry project (pyproject in the style of the Poetry under test) in tmp_path."""
    return PoetryProject(tmp_path / "project", poetry).create()


@pytest.fixture
def pip(request: pytest.FixtureRequest) -> Pip:
    """The real pip in ``client_env``, installing into a fresh venv of this test's own."""
    return _client(request, PIP_TOOL)


@pytest.fixture
def uv(request: pytest.FixtureRequest) -> Uv:
    """The real uv in ``client_env`` (``uv pip install``, ``uv publish``, projects)."""
    return _client(request, UV_TOOL)


@pytest.fixture
def uv_project(tmp_path: Path, uv: Uv) -> UvProject:
    """A fresh uv project (virtual: ``[project]`` without a build system) in tmp_path."""
    return UvProject(tmp_path / "uv-project", uv).create()


@pytest.fixture
def pdm(request: pytest.FixtureRequest) -> Pdm:
    """The real pdm in ``client_env`` with its global config kept in that environment."""
    return _client(request, PDM_TOOL)


@pytest.fixture
def pdm_project(tmp_path: Path, pdm: Pdm) -> PdmProject:
    """A fresh, non-distributable pdm project in tmp_path."""
    return PdmProject(tmp_path / "pdm-project", pdm).create()


@pytest.fixture
def twine(request: pytest.FixtureRequest) -> Twine:
    """The real twine in ``client_env`` (.pypirc in its isolated home)."""
    return _client(request, TWINE_TOOL)


@pytest.fixture
def hatch(request: pytest.FixtureRequest) -> Hatch:
    """The real Hatch in ``client_env`` (``hatch publish``)."""
    return _client(request, HATCH_TOOL)


@pytest.fixture
def flit(request: pytest.FixtureRequest) -> Flit:
    """The real flit in ``client_env`` (``flit publish``; ~/.pypirc in its isolated home)."""
    return _client(request, FLIT_TOOL)


# -- audit ------------------------------------------------------------------------------------

@pytest.fixture
def privrepo_audit(privrepo_cache_dir: Path) -> Callable[..., AuditReport]:
    """``privrepo_audit(project_dir, client=None, env=..., ...)``: the ``privrepo audit`` of a
    project (:func:`pytest_privrepo.audit.audit`) as a test step; ``report.assert_clean()``
    fails listing each finding with its fix. Clients are provisioned into
    ``privrepo_cache_dir``; the project is never modified."""

    def run(project_dir: str | os.PathLike[str], **options: Any) -> AuditReport:
        from .audit import audit

        options.setdefault("cache_dir", privrepo_cache_dir)
        return audit(project_dir, **options)

    return run
