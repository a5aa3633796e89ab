"""The client snippets ``privrepo serve`` prints: right URL, credentials, certificate paths
and flags, and every client's block works when pasted into bash (:func:`paste`), both in a
shell that exports REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE, SSL_CERT_FILE and PIP_CERT at public
roots (as CI machines and many laptops do) and in a clean one."""

from __future__ import annotations

import copy
import json
import os
import re
import shlex
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import certifi
import pytest
from helpers import CI, file_sha256 as sha256

from pytest_privrepo import Privrepo
from pytest_privrepo.clients.env import ClientEnv
from pytest_privrepo.clients.flit import Flit, write_flit_project
from pytest_privrepo.clients.hatch import Hatch
from pytest_privrepo.clients.pdm import Pdm, PdmProject
from pytest_privrepo.clients.pip import Pip
from pytest_privrepo.clients.poetry import Poetry
from pytest_privrepo.clients.poetry_project import PoetryProject
from pytest_privrepo.clients.result import CommandResult
from pytest_privrepo.clients.twine import Twine
from pytest_privrepo.clients.uv import Uv
from pytest_privrepo.snippets import (
    DIST_PLACEHOLDER,
    PACKAGE_PLACEHOLDER,
    all_snippets,
    flit_lines,
    hatch_lines,
    pdm_lines,
    pip_lines,
    poetry_lines,
    twine_lines,
    uv_lines,
)

ALICE = ("alice", "p@ss:w rd$x")  # quoting and percent-encoding have to hold ("/": see pdm_lines)

BASH = shutil.which("bash") or "/bin/bash"

#: What a CI machine or a laptop exports (issue 9): every trust variable a client reads,
#: pointing at public roots that do not hold the index's CA.
EXPORTED_CA_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "PIP_CERT")

#: The shells a block is pasted into: one with those variables exported, one without.
SHELLS = ("exported", "clean")

#: ``(tls, shell)`` for the clients whose block differs between TLS and mTLS.
TLS_SHELLS = [(tls, shell) for tls in ("tls", "mtls") for shell in SHELLS]


def shell_variables(shell: str) -> dict[str, str]:
    """The variables the user's shell exports: :data:`EXPORTED_CA_VARIABLES` at certifi's
    bundle for ``exported``, nothing for ``clean`` (ClientEnv removes them all)."""
    assert shell in SHELLS, shell
    return dict.fromkeys(EXPORTED_CA_VARIABLES, certifi.where()) if shell == "exported" else {}


Launch = Callable[[list[str], dict[str, "str | None"]], CommandResult]


def paste(lines: list[str], *, env: ClientEnv, cwd: Path, shell: str,
          tools: Mapping[str, Sequence[str | Path]], package: str | None = None,
          scripts: Mapping[str, str] | None = None, launch: Launch | None = None,
          extra_env: Mapping[str, str | None] | None = None) -> CommandResult:
    """Paste ``lines`` into ``bash`` in ``cwd``, as a user pastes them into their shell.

    The environment is ``env``'s (isolated home, caches, no config files of the machine's)
    plus :func:`shell_variables` for ``shell``. ``tools`` puts each client on ``PATH`` by
    its name (a script that ``exec``s that argv, e.g. pip's ``--python`` target venv),
    ``scripts`` adds more programs by their script body, ``PACKAGE`` becomes ``package``
    (the user's one edit); ``dist/*`` stays as printed, so ``cwd`` holds ``dist/``.
    ``launch(argv, variables)`` starts bash in another harness's environment (default:
    ``env.run``)."""
    bindir = env.root / "paste-bin"
    bindir.mkdir(exist_ok=True)
    bodies = {name: f'exec {shlex.join(map(str, argv))} "$@"' for name, argv in tools.items()}
    for name, body in {**bodies, **(scripts or {})}.items():
        script = bindir / name
        script.write_text(f"#!/bin/sh\n{body}\n")
        script.chmod(0o755)
    if package is not None:
        lines = [re.sub(rf"\b{PACKAGE_PLACEHOLDER}\b", package, line) for line in lines]
    argv = [BASH, "-c", "\n".join(["set -eu", *lines, ""])]
    variables: dict[str, str | None] = {"PATH": f"{bindir}{os.pathsep}{env.vars['PATH']}",
                                        **shell_variables(shell), **(extra_env or {})}
    if launch is not None:
        return launch(argv, variables)
    return env.run(argv, cwd=cwd, extra_env=variables, check=False, timeout=300)


def code_lines(lines: list[str]) -> list[str]:
    """The printed lines without the ``#`` comment lines."""
    return [line for line in lines if not line.startswith("#")]


def dist_dir(directory: Path, *dists: Path) -> Path:
    """``directory`` with ``dists`` in its ``dist/``: where ``dist/*`` in a block points."""
    (directory / "dist").mkdir(parents=True)
    for dist in dists:
        shutil.copy2(dist, directory / "dist" / dist.name)
    return directory


def assert_only(index, user: str, *, mtls: bool) -> None:  # type: ignore[no-untyped-def]
    """Every request the index saw came from ``user``, authenticated, and over mTLS with
    the client certificate the block names."""
    assert len(index.log) > 0
    assert {(h.user, h.auth_ok) for h in index.log} == {(user, True)}
    certs = {h.client_cert for h in index.log}
    if mtls:
        assert len(certs) == 1 and "corp-client@privrepo.test" in str(certs.pop())
    else:
        assert certs == {None}


def pdm_launcher(pdm: Pdm, project_dir: Path) -> Launch:
    """Start bash with the environment the harness gives pdm in ``project_dir`` (isolated
    config file and cache, non-interactive, the project's own venv as ``PDM_PYTHON``)."""
    def launch(argv: list[str], variables: dict[str, str | None]) -> CommandResult:
        shell = copy.copy(pdm)  # Pdm.run's environment, with bash in place of pdm
        shell.exe = argv[0]
        return PdmProject(project_dir, shell).run(*argv[1:], check=False, extra_env=variables)
    return launch


def test_all_snippets_lists_every_client(privrepo: Privrepo) -> None:
    index = privrepo.index("corp", auth=CI)
    assert list(all_snippets(index)) == ["poetry", "pip", "uv", "pdm", "twine", "hatch", "flit"]


def test_mtls_snippets_carry_url_credentials_and_certificates(privrepo: Privrepo) -> None:
    index = privrepo.index("corp", auth=CI, tls="mtls")
    ca, client = str(index.ca_cert), str(index.client_cert)

    # requests lets an exported REQUESTS_CA_BUNDLE beat --cert and Poetry's certificates:
    # the lines that go through requests set it for their one command
    [pip] = pip_lines(index)
    assert shlex.split(pip) == [f"REQUESTS_CA_BUNDLE={ca}", "pip", "install", "--index-url",
                                index.url_with_credentials(), "--cert", ca,
                                "--client-cert", client, PACKAGE_PLACEHOLDER]

    assert poetry_lines(index) == [
        f"poetry source add --priority=primary corp {index.url}",
        f"poetry config repositories.corp {index.upload_url}",
        "poetry config http-basic.corp ci s3cret-pw",
        f"poetry config certificates.corp.cert {shlex.quote(ca)}",
        f"poetry config certificates.corp.client-cert {shlex.quote(client)}",
        "poetry add PACKAGE",
        f"poetry build && REQUESTS_CA_BUNDLE={shlex.quote(ca)} poetry publish -r corp",
    ]

    [twine] = twine_lines(index)
    assert shlex.split(twine) == [f"REQUESTS_CA_BUNDLE={ca}", "twine", "upload",
                                  "--repository-url", index.upload_url,
                                  "--username", "ci", "--password", "s3cret-pw", "--cert", ca,
                                  "--client-cert", client, DIST_PLACEHOLDER]

    [hatch] = hatch_lines(index)
    # no Hatch takes --ca-cert with --client-cert (test_hatch_cannot_combine_ca_cert_and_client_cert
    # in test_hatch.py): the CA goes into SSL_CERT_FILE
    assert shlex.split(hatch) == [f"SSL_CERT_FILE={ca}", "hatch", "publish", "-n",
                                  "-r", index.upload_url, "-u", "ci", "-a", "s3cret-pw",
                                  "--client-cert", client, DIST_PLACEHOLDER]

    comment, flit = flit_lines(index)
    assert comment.startswith("# flit cannot send a client certificate")
    assert shlex.split(flit) == [f"FLIT_INDEX_URL={index.upload_url}", "FLIT_USERNAME=ci",
                                 "FLIT_PASSWORD=s3cret-pw", f"REQUESTS_CA_BUNDLE={ca}",
                                 "flit", "publish"]

    comment, install, publish = uv_lines(index)
    # SSL_CERT_FILE replaces uv's roots, so PyPI is out of reach: the comment says so and how to fix it
    assert comment.startswith("# SSL_CERT_FILE replaces uv's trust roots")
    assert comment.endswith(f'cat "$(python3 -m certifi)" {shlex.quote(ca)} > ca-bundle.pem')
    assert shlex.split(install) == [
        f"UV_INDEX=corp={index.url}", "UV_INDEX_CORP_USERNAME=ci", "UV_INDEX_CORP_PASSWORD=s3cret-pw",
        f"SSL_CERT_FILE={ca}", f"SSL_CLIENT_CERT={client}", "uv", "pip", "install", "PACKAGE"]
    assert shlex.split(publish) == [
        f"SSL_CERT_FILE={ca}", f"SSL_CLIENT_CERT={client}", "uv", "publish",
        "--publish-url", index.upload_url, "--username", "ci", "--password", "s3cret-pw",
        DIST_PLACEHOLDER]

    pdm = pdm_lines(index)
    # no ca_certs anywhere: next to client_cert it makes pdm (httpx 0.28) drop the certificate;
    # no password in pdm's config: a null keyring would swallow it
    assert not [line for line in pdm if "ca_certs" in line and not line.startswith("#")]
    assert not [line for line in pdm if ".password" in line and not line.startswith("#")]
    netloc = index.url.split("://", 1)[1]
    # the CA in SSL_CERT_FILE, an exported CA file emptied, for the two commands that connect
    tls_env = f"SSL_CERT_FILE={shlex.quote(ca)} REQUESTS_CA_BUNDLE= CURL_CA_BUNDLE="
    assert code_lines(pdm) == [
        "export INDEX_CORP_USERNAME=ci INDEX_CORP_PASSWORD=s3cret-pw",
        f"pdm config pypi.corp.client_cert {shlex.quote(client)}",
        "cat >> pyproject.toml <<'EOF'", "[[tool.pdm.source]]", 'name = "corp"',
        'url = "https://${INDEX_CORP_USERNAME}:${INDEX_CORP_PASSWORD}@' + netloc + '"', "EOF",
        f"{tls_env} pdm add PACKAGE",
        f"pdm config repository.corp.url {index.upload_url}",
        f"pdm config repository.corp.client_cert {shlex.quote(client)}",
        f'{tls_env} pdm publish -r corp -u "$INDEX_CORP_USERNAME" -P "$INDEX_CORP_PASSWORD"'
        " --no-build  # uploads dist/* (run pdm build first)",
    ]


def test_tls_pdm_snippet_keeps_ca_certs(privrepo: Privrepo) -> None:
    """Without a client certificate ``ca_certs`` is fine, and it is pdm's own setting (and
    works on every platform, unlike SSL_CERT_FILE)."""
    index = privrepo.index("corp", auth=CI, tls="tls")
    ca = shlex.quote(str(index.ca_cert))
    pdm = code_lines(pdm_lines(index))
    assert f"pdm config pypi.corp.ca_certs {ca}" in pdm
    assert f"pdm config repository.corp.ca_certs {ca}" in pdm
    assert not [line for line in pdm if "SSL_CERT_FILE" in line or "client" in line]


def test_plain_http_token_snippets(privrepo: Privrepo) -> None:
    index = privrepo.index("corp", token="tok-1")
    text = "\n".join(line for lines in all_snippets(index).values() for line in lines)
    assert "--username __token__ --password tok-1" in text
    assert "-u __token__ -a tok-1" in text
    assert "FLIT_USERNAME=__token__ FLIT_PASSWORD=tok-1" in text
    assert "--cert" not in text and "SSL_CERT_FILE" not in text and "REQUESTS_CA_BUNDLE" not in text
    assert "client" not in text.replace("client-cert", "")  # nothing about client certs



# -- every block pasted into bash --------------------------------------------------------------

@pytest.mark.parametrize("shell", SHELLS)
def test_pasted_pip_block_installs_over_mtls(privrepo: Privrepo, pip: Pip, tmp_path: Path,
                                             shell: str) -> None:
    index = privrepo.index("corp", auth=ALICE, tls="mtls")
    index.add("snip-dep", "1.0", requires=["snip-helper>=2"])
    index.add("snip-helper", "2.0")

    result = paste(pip_lines(index), env=pip.env, cwd=tmp_path, shell=shell,
                   tools={"pip": pip.argv()}, package="snip-dep")

    assert result.ok, result.output
    listed = json.loads(pip.run("list", "--format", "json").stdout)
    assert {p["name"]: p["version"] for p in listed if p["name"].startswith("snip")} == {
        "snip-dep": "1.0", "snip-helper": "2.0"}
    assert sorted(h.path.rsplit("/", 1)[-1] for h in index.log.downloads) == [
        "snip_dep-1.0-py3-none-any.whl", "snip_helper-2.0-py3-none-any.whl"]
    assert_only(index, "alice", mtls=True)


@pytest.mark.parametrize("shell", SHELLS)
def test_pasted_twine_block_uploads_over_mtls(privrepo: Privrepo, twine: Twine, tmp_path: Path,
                                              shell: str) -> None:
    index = privrepo.index("corp", auth=CI, tls="mtls")
    wheel = privrepo.build_dist(tmp_path / "d", "snip-twine", "1.0")
    work = dist_dir(tmp_path / "work", wheel)

    result = paste(twine_lines(index), env=twine.env, cwd=work, shell=shell,
                   tools={"twine": [twine.executable]})

    assert result.ok, result.output
    assert [(u.filename, u.user, u.sha256) for u in index.uploads] == [(wheel.name, "ci", sha256(wheel))]
    assert_only(index, "ci", mtls=True)


@pytest.mark.parametrize(("tls", "shell"), TLS_SHELLS)
def test_pasted_hatch_block_uploads(privrepo: Privrepo, hatch: Hatch, tmp_path: Path,
                                    tls: str, shell: str) -> None:
    """Both blocks: ``--ca-cert`` over TLS, ``SSL_CERT_FILE`` next to ``--client-cert``."""
    index = privrepo.index("corp", auth=CI, tls=tls)
    wheel = privrepo.build_dist(tmp_path / "d", "snip-hatch", "1.0")
    work = dist_dir(tmp_path / "work", wheel)

    result = paste(hatch_lines(index), env=hatch.env, cwd=work, shell=shell,
                   tools={"hatch": [hatch.executable]})

    assert result.ok, result.output
    assert [(u.filename, u.user, u.sha256) for u in index.uploads] == [(wheel.name, "ci", sha256(wheel))]
    assert_only(index, "ci", mtls=tls == "mtls")


@pytest.mark.parametrize("shell", SHELLS)
def test_pasted_flit_block_uploads_over_tls(privrepo: Privrepo, flit: Flit, tmp_path: Path,
                                            shell: str) -> None:
    """TLS only: flit cannot send a client certificate (its mTLS block says so)."""
    index = privrepo.index("corp", auth=CI, tls="tls")
    project = write_flit_project(tmp_path / "p", "snip-flit", "1.0")

    result = paste(flit_lines(index), env=flit.env, cwd=project, shell=shell,
                   tools={"flit": [flit.executable]})

    assert result.ok, result.output
    built = sorted((project / "dist").iterdir())
    assert len(built) == 2  # wheel and sdist
    assert sorted((u.filename, u.user, u.sha256) for u in index.uploads) == sorted(
        (p.name, "ci", sha256(p)) for p in built)
    assert_only(index, "ci", mtls=False)


@pytest.mark.parametrize("shell", SHELLS)
def test_pasted_uv_block_installs_and_publishes_over_mtls(privrepo: Privrepo, uv: Uv,
                                                          tmp_path: Path, shell: str) -> None:
    index = privrepo.index("corp", auth=ALICE, tls="mtls")
    index.add("snip-dep", "1.0")
    wheel = privrepo.build_dist(tmp_path / "d", "snip-uv", "1.0")
    work = dist_dir(tmp_path / "work", wheel)
    venv = uv.venv(tmp_path / "venv")

    # uv searches the named index before PyPI and stops there: the (offline) PyPI is never
    # asked; VIRTUAL_ENV is the user's activated venv
    result = paste(uv_lines(index), env=uv.env, cwd=work, shell=shell, tools={"uv": [uv.exe]},
                   package="snip-dep", extra_env={"VIRTUAL_ENV": str(tmp_path / "venv")})

    assert result.ok, result.output
    assert uv.pip_list(venv).get("snip-dep") == "1.0"
    assert [(u.filename, u.user, u.sha256) for u in index.uploads] == [(wheel.name, "alice", sha256(wheel))]
    assert [h.path.rsplit("/", 1)[-1] for h in index.log.downloads] == ["snip_dep-1.0-py3-none-any.whl"]
    assert_only(index, "alice", mtls=True)


@pytest.mark.parametrize("shell", SHELLS)
def test_pasted_poetry_block_adds_builds_and_publishes_over_mtls(
        privrepo: Privrepo, poetry: Poetry, tmp_path: Path, shell: str) -> None:
    """Source, credentials, certificates, ``poetry add``, then ``poetry build && poetry
    publish``: the install passes the source's CA per request, the upload needs the
    block's REQUESTS_CA_BUNDLE once the shell exports one."""
    index = privrepo.index("corp", auth=ALICE, tls="mtls")
    index.add("snip-dep", "1.0", requires=["snip-helper>=2"])
    index.add("snip-helper", "2.0")
    project = PoetryProject(tmp_path / "project", poetry).create("snip-app", "1.0")

    result = paste(poetry_lines(index), env=poetry.env, cwd=project.path, shell=shell,
                   tools={"poetry": [poetry.executable]}, package="snip-dep")

    assert result.ok, result.output
    assert {k: v for k, v in project.lock_result().versions().items() if k.startswith("snip")} == {
        "snip-dep": "1.0", "snip-helper": "2.0"}
    assert sorted(h.path.rsplit("/", 1)[-1] for h in index.log.downloads) == [
        "snip_dep-1.0-py3-none-any.whl", "snip_helper-2.0-py3-none-any.whl"]
    built = sorted((project.path / "dist").iterdir())
    assert len(built) == 2  # wheel and sdist
    assert sorted((u.filename, u.user, u.sha256) for u in index.uploads) == sorted(
        (p.name, "alice", sha256(p)) for p in built)
    assert_only(index, "alice", mtls=True)


#: A ``keyring`` that behaves like a null keyring (takes every password, returns none, as
#: ``keyring.backends.null`` does): the pdm block must not rely on pdm keeping a password
#: it hands to the keyring.
NULL_KEYRING = 'for a; do [ "$a" = set ] && { cat >/dev/null; exit 0; }; done\nexit 1'


@pytest.mark.parametrize(("tls", "shell"), TLS_SHELLS)
def test_pasted_pdm_block_adds_and_publishes(privrepo: Privrepo, pdm: Pdm, tmp_path: Path,
                                             tls: str, shell: str) -> None:
    """Every printed pdm line: config, pyproject source, ``pdm add`` (lock + install) and
    ``pdm publish``, all with alice (and, over mTLS, the client certificate; over TLS pdm's
    own ``ca_certs``). bash runs in the environment the harness gives pdm, except
    ``PDM_IGNORE_STORED_INDEX``: a user has pdm's implicit PyPI source, so the run has it
    too, at ``PDM_PYPI_URL`` (pdm fails when a source is unreachable, and the real PyPI is,
    offline)."""
    index = privrepo.index("corp", auth=ALICE, tls=tls)
    index.add("snip-dep", "1.0", requires=["snip-helper>=2"])
    index.add("snip-helper", "2.0")
    pypi = privrepo.index("pypi", public_read=True)  # stands in for PyPI (empty)
    wheel = privrepo.build_dist(tmp_path / "d", "snip-pdm", "1.0")
    project = PdmProject(tmp_path / "project", pdm).create()
    project.dist_dir.mkdir()
    shutil.copy2(wheel, project.dist_dir / wheel.name)

    result = paste(pdm_lines(index), env=pdm.env, cwd=project.path, shell=shell,
                   tools={"pdm": [pdm.exe]}, scripts={"keyring": NULL_KEYRING},
                   package="snip-dep", launch=pdm_launcher(pdm, project.path),
                   extra_env={"PDM_IGNORE_STORED_INDEX": None, "PDM_PYPI_URL": pypi.url})

    assert result.ok, result.output
    assert {k: v for k, v in project.installed().items() if k.startswith("snip")} == {
        "snip-dep": "1.0", "snip-helper": "2.0"}
    assert sorted(h.path.rsplit("/", 1)[-1] for h in index.log.downloads) == [
        "snip_dep-1.0-py3-none-any.whl", "snip_helper-2.0-py3-none-any.whl"]
    assert [(u.filename, u.user, u.sha256) for u in index.uploads] == [(wheel.name, "alice", sha256(wheel))]
    assert_only(index, "alice", mtls=tls == "mtls")
    # the implicit PyPI source was asked too (pdm merges sources), without alice's credentials
    assert pypi.log.filter(path_prefix="/simple/snip-dep/")
    assert {h.user for h in pypi.log} == {None}
    # the password is in no file: pyproject has the ${...} placeholders, pdm's config none
    for path in (project.pyproject, project.lockfile, pdm.config_file):
        assert "p@ss" not in path.read_text() and "p%40ss" not in path.read_text(), path
