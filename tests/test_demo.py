"""``privrepo demo`` picks its Poetry by the plugin's client rules, spelled with its own
options, and says why when provisioning fails. (The full demo run with each Poetry is
tests/test_poetry_flows.py::test_demo_runs_every_step.)"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_privrepo import Privrepo
from pytest_privrepo.clients.catalog import client_tool
from pytest_privrepo.demo import choose_poetry
from pytest_privrepo.errors import ClientError, ConfigError


def _fake_home(tmp_path: Path) -> dict[str, str]:
    """The environment of a user whose shell has no PRIVREPO_* settings."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PRIVREPO_")}


@pytest.mark.parametrize("poetry", ["2.5.1"], indirect=True)
def test_an_explicit_poetry_wins_and_says_where_it_came_from(poetry, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    environ = _fake_home(tmp_path)
    exe, origin = choose_poetry(poetry=str(poetry.executable), poetry_version=None,
                                cache_dir=tmp_path / "cache", environ=environ)
    assert (exe, origin) == (Path(poetry.executable), "from --poetry")
    environ["PRIVREPO_POETRY"] = str(poetry.executable)
    exe, origin = choose_poetry(poetry=None, poetry_version=None, cache_dir=tmp_path / "cache",
                                environ=environ)
    assert (exe, origin) == (Path(poetry.executable), "from $PRIVREPO_POETRY")
    assert not (tmp_path / "cache").exists(), "nothing provisioned"


def test_a_version_comes_from_the_shared_cache(privrepo_cache_dir: Path, tmp_path: Path) -> None:
    """The demo and the plugin share one cache: a version the tests provisioned is reused."""
    expected = client_tool("poetry").provision("2.5.1", cache_dir=privrepo_cache_dir)
    progress: list[str] = []
    exe, origin = choose_poetry(poetry=None, poetry_version="2.5.1", cache_dir=privrepo_cache_dir,
                                environ=_fake_home(tmp_path), progress=progress.append)
    assert exe == expected
    assert origin == f"2.5.1 asked by --poetry-version, from the cache in {privrepo_cache_dir}"
    assert progress == []
    environ = dict(_fake_home(tmp_path), PRIVREPO_POETRY_VERSIONS="2.5.1",
                   PRIVREPO_CACHE_DIR=str(privrepo_cache_dir))
    exe, origin = choose_poetry(poetry=None, poetry_version=None, cache_dir=None, environ=environ)
    assert exe == expected and origin.startswith("2.5.1 asked by $PRIVREPO_POETRY_VERSIONS")


@pytest.mark.parametrize(("poetry", "version", "environ", "error", "message"), [
    ("/no/such/poetry", None, {}, ClientError, "poetry not found: --poetry='/no/such/poetry' does not exist"),
    ("poetry", "2.5.1", {}, ConfigError, "--poetry and --poetry-version both choose a poetry"),
    (None, "two", {}, ConfigError, "--poetry-version: 'two' is not a version"),
    (None, "1.8.5,2.5.1", {}, ConfigError, "--poetry-version: the demo runs one Poetry"),
    (None, None, {"PRIVREPO_POETRY_VERSIONS": "x"}, ConfigError, r"\$PRIVREPO_POETRY_VERSIONS: 'x'"),
])
def test_errors_name_the_demos_own_options(tmp_path: Path, poetry, version, environ, error, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error, match=message) as info:
        choose_poetry(poetry=poetry, poetry_version=version, cache_dir=tmp_path / "cache",
                      environ=dict(_fake_home(tmp_path), **environ))
    assert "--privrepo-poetry" not in str(info.value)
    assert not (tmp_path / "cache").exists()


def test_demo_says_why_provisioning_failed(privrepo: Privrepo, tmp_path: Path) -> None:
    """A user whose pip index needs credentials they did not give: the demo prints the
    progress line, the installer's decisive lines (the 401), the command and what to try
    with the demo's own option, exits 1, and leaves nothing in the cache."""
    mirror = privrepo.index("mirror", auth=("alice", "pw-not-given"))
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PRIVREPO_", "PIP_")) and k not in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_INDEX_URL=mirror.url, PIP_NO_CACHE_DIR="1",
               PATH=os.path.dirname(sys.executable) + os.pathsep + "/usr/bin:/bin")
    cache = tmp_path / "cache"
    result = subprocess.run(
        [sys.executable, "-m", "pytest_privrepo.cli", "demo", "--poetry-version", "2.5.1",
         "--cache-dir", str(cache)],
        capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL, env=env,
    )
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    assert f"installing poetry 2.5.1 into {cache}" in out
    assert " 1. FAIL find or provision Poetry" in out
    assert "command: " in out and "install -vv poetry==2.5.1" in out
    said = out.split("the installer said:\n", 1)[1].split("what to try:", 1)[0]
    assert "401 Client Error" in said, out
    assert "or pass an installed Poetry with --poetry PATH (or $PRIVREPO_POETRY)" in out
    assert out.rstrip().endswith("demo: FAILED (1 of 1 steps)")
    assert {h.status for h in mirror.log} == {401}
    assert list(cache.iterdir()) == []
