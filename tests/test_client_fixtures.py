"""The per-client fixtures (``pip``, ``uv``, ``pdm``, ``twine``, ``hatch``, ``flit``, ``poetry``)
and ``client_factory``, exercised the way a downstream suite uses them: through pytester.

What is pinned: where an executable comes from (option > environment > ini > next to the
interpreter > PATH), how versions are chosen and shown in test ids, that bad input is a
clear usage error naming where it was typed, and that ``pip`` never installs into the
environment pytest itself runs from.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from pytest_privrepo.clients.catalog import TOOLS, client_tool, parse_versions
from pytest_privrepo.errors import ConfigError

#: An older twine than the test extra's: provisioning it is quick (pure-Python wheels).
OLD_TWINE = "6.1.0"


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No PRIVREPO_<TOOL>[_VERSIONS] from the outer run (tox sets some) leaks into pytester."""
    for tool in TOOLS.values():
        monkeypatch.delenv(tool.env_var, raising=False)
        monkeypatch.delenv(tool.versions_env_var, raising=False)


def _run(pytester: pytest.Pytester, cache: Path, *args: str) -> pytest.RunResult:
    # one "--opt=value" word: a separate value would be taken for a path by rootdir discovery
    return pytester.runpytest_inprocess("-p", "no:cacheprovider", f"--privrepo-cache-dir={cache}",
                                        *args)


def test_catalog_names_and_errors() -> None:
    assert list(TOOLS) == ["poetry", "pip", "uv", "pdm", "twine", "hatch", "flit"]
    uv = client_tool("uv")
    assert (uv.option, uv.versions_option, uv.env_var, uv.versions_env_var, uv.ini,
            uv.versions_ini) == ("--privrepo-uv", "--privrepo-uv-versions", "PRIVREPO_UV",
                                 "PRIVREPO_UV_VERSIONS", "privrepo_uv", "privrepo_uv_versions")
    with pytest.raises(ConfigError, match=r"^unknown client 'npm': use one of poetry, pip, uv, "
                                          r"pdm, twine, hatch, flit$"):
        client_tool("npm")
    assert parse_versions(" 1.8.5, latest,1.8.5 ,", source="x") == ["1.8.5", "latest"]
    # one version, one venv: spellings of the same version are normalised
    assert parse_versions("v2.29.03, 2.29.3", source="x") == ["2.29.3"]
    with pytest.raises(ConfigError, match=r"^x: '1.0\+local' is not a version"):
        parse_versions("1.0+local", source="x")
    with pytest.raises(ConfigError, match=r"^--opt: 'newest' is not a version"):
        parse_versions("1.0,newest", source="--opt")
    with pytest.raises(ConfigError, match=r"^\$V: no versions in ' , '$"):
        parse_versions(" , ", source="$V")


def test_fixtures_use_the_clients_next_to_the_interpreter(
        pytester: pytest.Pytester, privrepo_cache_dir: Path, clean_env: None) -> None:
    """Without versions: uv and twine from the test extra; ``pip`` runs in client_env and
    installs into a venv of the test's own, never into the runner's environment."""
    bindir = Path(sys.executable).parent
    pytester.makepyfile(f"""
        import importlib.metadata, os, sys
        from pathlib import Path

        def test_clients(pip, uv, twine, privrepo, client_env):
            assert uv.exe == {str(bindir / "uv")!r}
            assert twine.executable == Path({str(bindir / "twine")!r})
            assert pip.runner == [{str(bindir / "pip")!r}]
            assert pip.env is uv.env is twine.env is client_env
            assert pip.python is not None and Path(pip.python).parents[1].parent == client_env.root
            index = privrepo.index("corp", auth=("alice", "pw"))
            index.add("privrepo-probe", "1.0")
            result = pip.install("privrepo-probe", index=index)
            assert result.versions == {{"privrepo-probe": "1.0"}}
            assert list(Path(pip.python).parents[1].rglob("privrepo_probe-1.0.dist-info"))
            try:
                importlib.metadata.version("privrepo-probe")
            except importlib.metadata.PackageNotFoundError:
                pass
            else:
                raise AssertionError("pip installed into the test runner's environment")
    """)
    _run(pytester, privrepo_cache_dir).assert_outcomes(passed=1)


def test_versions_from_ini_are_provisioned_and_shown_in_ids(
        pytester: pytest.Pytester, privrepo_cache_dir: Path, clean_env: None) -> None:
    pytester.makeini(f"[pytest]\nprivrepo_twine_versions = {OLD_TWINE}\n")
    pytester.makepyfile(f"""
        def test_twine(twine, privrepo_cache_dir):
            assert twine.executable.is_relative_to(privrepo_cache_dir)
            out = twine.run("--version").stdout
            assert out.startswith("twine version {OLD_TWINE} "), out
    """)
    result = _run(pytester, privrepo_cache_dir, "-v")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"*test_twine?twine{OLD_TWINE}? PASSED*"])


def test_versions_option_beats_env_beats_ini(pytester: pytest.Pytester, privrepo_cache_dir: Path,
                                             clean_env: None,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A typo is reported where it was typed, which also shows which setting won."""
    pytester.makeini("[pytest]\nprivrepo_uv_versions = ini-typo\n")
    pytester.makepyfile("def test_uv(uv):\n    pass\n")
    result = _run(pytester, privrepo_cache_dir)
    result.stderr.fnmatch_lines(["ERROR: ini key privrepo_uv_versions: 'ini-typo' is not a "
                                 "version (use exact versions such as '1.8.5', or 'latest')"])
    assert result.ret == pytest.ExitCode.USAGE_ERROR

    monkeypatch.setenv("PRIVREPO_UV_VERSIONS", "env-typo")
    result = _run(pytester, privrepo_cache_dir)
    result.stderr.fnmatch_lines(["*$PRIVREPO_UV_VERSIONS: 'env-typo' is not a version*"])

    result = _run(pytester, privrepo_cache_dir, "--privrepo-uv-versions=cli-typo")
    result.stderr.fnmatch_lines(["*--privrepo-uv-versions: 'cli-typo' is not a version*"])


def test_ids_and_explicit_parametrize(pytester: pytest.Pytester, privrepo_cache_dir: Path,
                                      clean_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Configured versions multiply the tests that use the fixture (directly or through
    another fixture); an explicit ``parametrize("twine", ...)`` keeps its own values."""
    monkeypatch.setenv("PRIVREPO_HATCH_VERSIONS", "latest, 1.16.5")
    pytester.makepyfile("""
        import pytest

        @pytest.fixture
        def publisher(hatch):
            return hatch

        def test_direct(hatch):
            pass

        def test_through_fixture(publisher):
            pass

        @pytest.mark.parametrize("hatch", ["1.14.0"], indirect=True)
        def test_explicit(hatch):
            pass

        def test_unrelated(tmp_path):
            pass
    """)
    result = _run(pytester, privrepo_cache_dir, "--collect-only", "-q")
    result.stdout.fnmatch_lines([
        "*::test_direct[[]hatch-latest[]]",
        "*::test_direct[[]hatch1.16.5[]]",
        "*::test_through_fixture[[]hatch-latest[]]",
        "*::test_through_fixture[[]hatch1.16.5[]]",
        "*::test_explicit[[]1.14.0[]]",
        "*::test_unrelated",
        "*6 tests collected*",
    ])


def test_missing_or_wrong_executable_is_a_clear_error(
        pytester: pytest.Pytester, privrepo_cache_dir: Path, clean_env: None,
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    pytester.makepyfile("""
        def test_flit(flit):
            pass

        def test_factory(client_factory):
            client_factory("npm")
    """)
    result = _run(pytester, privrepo_cache_dir, "--privrepo-flit=/nowhere/flit")
    result.assert_outcomes(errors=1, failed=1)
    result.stdout.fnmatch_lines([
        "E * flit not found: --privrepo-flit='/nowhere/flit' does not exist",
        "E * unknown client 'npm': use one of poetry, pip, uv, pdm, twine, hatch, flit",
    ])

    # nothing configured and nothing installed: the message says every way to fix it
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(sys, "executable", str(tmp_path / "empty" / "python"))
    result = _run(pytester, privrepo_cache_dir, "-k", "test_flit")
    result.stdout.fnmatch_lines([
        "E * flit not found: install it, pass --privrepo-flit=PATH or set PRIVREPO_FLIT "
        "(or the privrepo_flit ini key), or ask for a version to provision "
        "(--privrepo-flit-versions)",
    ])


def test_executable_from_env_var_and_ini(pytester: pytest.Pytester, privrepo_cache_dir: Path,
                                         clean_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """$PRIVREPO_TWINE beats the ini key, which beats the interpreter's own twine."""
    twine = Path(sys.executable).parent / "twine"
    link = pytester.path / "bin" / "twine"
    link.parent.mkdir()
    os.symlink(twine, link)
    pytester.makeini("[pytest]\nprivrepo_twine = bin/twine\n")  # relative to the ini file
    pytester.makepyfile("""
        import os

        def test_twine(twine):
            print("USING", twine.executable)
    """)
    sub = pytester.mkdir("sub")
    monkeypatch.chdir(sub)  # the ini is found upwards; its relative path is not cwd-relative
    result = _run(pytester, privrepo_cache_dir, "-s", str(pytester.path))
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"*USING {link}"])

    monkeypatch.setenv("PRIVREPO_TWINE", str(twine))
    result = _run(pytester, privrepo_cache_dir, "-s", str(pytester.path))
    result.stdout.fnmatch_lines([f"*USING {twine}"])

    # a missing ini executable is reported as the ini key
    monkeypatch.delenv("PRIVREPO_TWINE")
    link.unlink()
    result = _run(pytester, privrepo_cache_dir, str(pytester.path))
    result.stdout.fnmatch_lines(
        [f"E * twine not found: ini key privrepo_twine={str(link)!r} does not exist"])


def test_executable_and_versions_together(pytester: pytest.Pytester, privrepo_cache_dir: Path,
                                          clean_env: None,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The stronger setting wins (command line > environment > ini); both on one level is
    a usage error rather than a guess."""
    twine = Path(sys.executable).parent / "twine"
    pytester.makeini(f"[pytest]\nprivrepo_twine_versions = {OLD_TWINE}\n")
    pytester.makepyfile("""
        def test_twine(twine):
            print("USING", twine.executable)
    """)
    result = _run(pytester, privrepo_cache_dir, "-s", "-v", f"--privrepo-twine={twine}")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"*test_twine USING {twine}*"])  # not parametrized

    monkeypatch.setenv("PRIVREPO_TWINE", "/nowhere/twine")
    result = _run(pytester, privrepo_cache_dir, "--privrepo-twine-versions=7.0.0",
                  "--collect-only", "-q")  # versions on the command line beat $PRIVREPO_TWINE
    result.stdout.fnmatch_lines(["*::test_twine[[]twine7.0.0[]]"])
    monkeypatch.setenv("PRIVREPO_TWINE_VERSIONS", "7.0.0")
    result = _run(pytester, privrepo_cache_dir)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: $PRIVREPO_TWINE and $PRIVREPO_TWINE_VERSIONS both "
                                 "choose a twine: give one of them"])


def test_client_factory_takes_one_version(pytester: pytest.Pytester, privrepo_cache_dir: Path,
                                          clean_env: None) -> None:
    pytester.makepyfile("""
        def test_two(client_factory):
            client_factory("twine", "6.1.0,7.0.0")
    """)
    result = _run(pytester, privrepo_cache_dir)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["E * client_factory('twine', '6.1.0,7.0.0'): give one version"])


def test_tox_runs_every_client_at_its_oldest_and_newest_release() -> None:
    """tox.ini's ``oldest``/``newest`` factors name a valid version for every client but
    Poetry (which has its own factors), and no floor is above its newest release."""
    import re

    from packaging.version import Version

    tox = (Path(__file__).resolve().parent.parent / "tox.ini").read_text()
    found: dict[str, dict[str, str]] = {"oldest": {}, "newest": {}}
    for factor, tool, value in re.findall(
            r"^\s*(oldest|newest): PRIVREPO_([A-Z]+)_VERSIONS = (\S+)\s*$", tox, re.M):
        found[factor][tool.lower()] = value
    others = [name for name in TOOLS if name != "poetry"]
    for factor in ("oldest", "newest"):
        assert sorted(found[factor]) == sorted(others), factor
        for tool, value in found[factor].items():
            assert parse_versions(value, source=f"tox {factor} {tool}") == [value]
    for tool in others:
        assert Version(found["oldest"][tool]) < Version(found["newest"][tool]), tool
    assert re.search(r"^\s+py\d+-clients-oldest$", tox, re.M)
    assert re.search(r"^\s+py\d+-clients-newest$", tox, re.M)
