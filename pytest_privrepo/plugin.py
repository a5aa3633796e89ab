"""pytest wiring: fixtures and options around the library objects. No logic lives here."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .clients.env import ClientEnv
from .clients.poetry import Poetry
from .clients.poetry_project import PoetryProject
from .clients.provision import find_executable, provision
from .session import Privrepo
from .tls.ca import CertificateAuthority


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("privrepo", "pytest-privrepo: private package indexes and clients")
    group.addoption("--privrepo-poetry", default=None, metavar="PATH",
                    help="Poetry executable for the `poetry` fixture (else $PRIVREPO_POETRY, "
                         "else `poetry` on PATH)")
    group.addoption("--privrepo-poetry-versions", default=None, metavar="V1,V2",
                    help="run every test that uses `poetry` once per Poetry version, each "
                         "provisioned into a cached virtualenv (else $PRIVREPO_POETRY_VERSIONS)")
    group.addoption("--privrepo-cache-dir", default=None, metavar="DIR",
                    help="where provisioned client virtualenvs are cached (else "
                         "$PRIVREPO_CACHE_DIR, else pytest's cache dir)")


def _option(config: pytest.Config, name: str, env: str) -> str | None:
    return config.getoption(name) or os.environ.get(env) or None


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    versions = _option(metafunc.config, "--privrepo-poetry-versions", "PRIVREPO_POETRY_VERSIONS")
    if versions and "poetry" in metafunc.fixturenames:
        if any(m.name == "parametrize" and "poetry" in str(m.args[0])
               for m in metafunc.definition.iter_markers()):
            return
        values = [v.strip() for v in versions.split(",") if v.strip()]
        metafunc.parametrize("poetry", values, indirect=True, ids=[f"poetry{v}" for v in values])


# -- indexes --------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def privrepo_ca() -> CertificateAuthority:
    """The session's certificate authority (one per pytest process / xdist worker)."""
    return CertificateAuthority()


@pytest.fixture
def privrepo(tmp_path: Path, privrepo_ca: CertificateAuthority) -> Iterator[Privrepo]:
    """Start ephemeral indexes for one test; everything stops when the test ends.

    ``privrepo.index("corp", auth=("alice", "s3cret"), tls="mtls")`` returns a running index.
    Files (PEMs, distributions) live under the test's tmp dir.
    """
    repo = Privrepo(tmp_path / "privrepo", ca=privrepo_ca)
    try:
        yield repo
    finally:
        repo.close()


@pytest.fixture(scope="session")
def privrepo_session(tmp_path_factory: pytest.TempPathFactory,
                     privrepo_ca: CertificateAuthority) -> Iterator[Privrepo]:
    """Like ``privrepo`` but shared by every test of the session (per xdist worker).

    Use it for expensive, read-only setups; tests that mutate an index or assert on its
    request log should use the function-scoped ``privrepo`` (or clear the log first).
    """
    repo = Privrepo(tmp_path_factory.mktemp("privrepo-session"), ca=privrepo_ca)
    try:
        yield repo
    finally:
        repo.close()


# -- clients ----------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def privrepo_cache_dir(pytestconfig: pytest.Config,
                       tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where provisioned client virtualenvs live (shared by xdist workers, file-locked)."""
    chosen = _option(pytestconfig, "--privrepo-cache-dir", "PRIVREPO_CACHE_DIR")
    if chosen:
        path = Path(chosen)
    elif getattr(pytestconfig, "cache", None) is not None:
        path = pytestconfig.cache.mkdir("privrepo-clients")
    else:
        path = tmp_path_factory.getbasetemp().parent / "privrepo-clients"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def client_env(tmp_path: Path) -> ClientEnv:
    """An isolated environment (HOME, XDG, caches, netrc, no inherited client config, offline)."""
    return ClientEnv(tmp_path / "client-env")


@pytest.fixture
def poetry_factory(client_env: ClientEnv, privrepo_cache_dir: Path,
                   pytestconfig: pytest.Config) -> Callable[[str | None], Poetry]:
    """``poetry_factory("1.8.5")``: that Poetry, provisioned into a cached virtualenv and run in
    ``client_env``; ``poetry_factory(None)``: the Poetry named by --privrepo-poetry /
    $PRIVREPO_POETRY / PATH (a clear error if there is none)."""

    def make(version: str | None = None) -> Poetry:
        if version:
            exe = provision("poetry", version, cache_dir=privrepo_cache_dir)
        else:
            exe = find_executable("poetry", pytestconfig.getoption("--privrepo-poetry"),
                                  "PRIVREPO_POETRY")
        return Poetry(exe, client_env)

    return make


@pytest.fixture
def poetry(request: pytest.FixtureRequest, poetry_factory: Callable[[str | None], Poetry]) -> Poetry:
    """The real Poetry in an isolated environment (parametrize indirectly with a version)."""
    return poetry_factory(getattr(request, "param", None))


@pytest.fixture
def poetry_project(tmp_path: Path, poetry: Poetry) -> PoetryProject:
    """A fresh Poetry project (pyproject in the style of the Poetry under test) in tmp_path."""
    return PoetryProject(tmp_path / "project", poetry).create()
