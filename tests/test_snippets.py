"""The client snippets ``privrepo serve`` prints: right URL, credentials, certificate paths
and flags, and the publish lines actually work when pasted (run through ClientEnv)."""

from __future__ import annotations

import copy
import hashlib
import shlex
import shutil
from collections.abc import Mapping
from pathlib import Path

import pytest

from pytest_privrepo import Privrepo
from pytest_privrepo.clients.env import ClientEnv
from pytest_privrepo.clients.flit import Flit, write_flit_project
from pytest_privrepo.clients.hatch import Hatch
from pytest_privrepo.clients.pdm import Pdm, PdmProject
from pytest_privrepo.clients.twine import Twine
from pytest_privrepo.clients.uv import Uv
from pytest_privrepo.snippets import (
    DIST_PLACEHOLDER,
    PACKAGE_PLACEHOLDER,
    all_snippets,
    flit_lines,
    hatch_lines,
    pdm_lines,
    twine_lines,
    uv_lines,
)

CI = ("ci", "s3cret-pw")
ALICE = ("alice", "p@ss:w rd$x")  # quoting and percent-encoding have to hold ("/": see pdm_lines)


def run_line(env: ClientEnv, line: str, executable: Path, dist: Path | None = None,
             cwd: Path | None = None, package: str | None = None,
             extra_env: Mapping[str, str] | None = None):  # type: ignore[no-untyped-def]
    """Run a printed ``VAR=value ... tool args`` line as a shell would, with ``tool``
    replaced by ``executable``, the dist placeholder by ``dist`` and the package
    placeholder by ``package``."""
    words = shlex.split(line)
    assignments = dict(extra_env or {})
    while "=" in words[0] and not words[0].startswith("-"):
        name, _, value = words.pop(0).partition("=")
        assignments[name] = value
    words[0] = str(executable)
    placeholders = {DIST_PLACEHOLDER: str(dist), PACKAGE_PLACEHOLDER: str(package)}
    words = [placeholders.get(w, w) for w in words]
    return env.run(words, cwd=cwd, extra_env=assignments, check=False, timeout=120)


def code_lines(lines: list[str]) -> list[str]:
    """The printed lines without the ``#`` comment lines."""
    return [line for line in lines if not line.startswith("#")]


def run_pasted(pdm: Pdm, project_dir: Path, lines: list[str], tmp_path: Path,
               pypi_url: str):  # type: ignore[no-untyped-def]
    """Paste ``lines`` into bash in ``project_dir``: ``pdm`` on PATH is the provisioned pdm,
    and the environment is exactly the one the harness gives pdm (isolated home and config
    file, cache, non-interactive, the project's own venv as ``PDM_PYTHON``), except
    ``PDM_IGNORE_STORED_INDEX``: a user has pdm's implicit PyPI source, so the run has it
    too, at ``pypi_url`` (``PDM_PYPI_URL``; pdm fails when a source is unreachable, and the
    real PyPI is, offline). A ``keyring`` on PATH that behaves like a null keyring (takes
    every password, returns none, as ``keyring.backends.null`` does) makes sure the lines
    do not rely on pdm keeping a password it hands to the keyring."""
    bindir = tmp_path / "paste-bin"
    bindir.mkdir()
    (bindir / "pdm").symlink_to(pdm.exe)
    null_keyring = bindir / "keyring"
    null_keyring.write_text('#!/bin/sh\nfor a; do [ "$a" = set ] && { cat >/dev/null; exit 0; }; done\n'
                            "exit 1\n")
    null_keyring.chmod(0o755)
    shell = copy.copy(pdm)  # Pdm.run's environment, with bash in place of pdm
    shell.exe = shutil.which("bash") or "/bin/bash"
    script = "\n".join(["set -eu", *lines, ""])
    return PdmProject(project_dir, shell).run(
        "-c", script, check=False,
        extra_env={"PATH": f"{bindir}:{pdm.env.vars['PATH']}", "PDM_IGNORE_STORED_INDEX": None,
                   "PDM_PYPI_URL": pypi_url})


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_all_snippets_lists_every_client(privrepo: Privrepo) -> None:
    index = privrepo.index("corp", auth=CI)
    assert list(all_snippets(index)) == ["poetry", "pip", "uv", "pdm", "twine", "hatch", "flit"]


def test_mtls_snippets_carry_url_credentials_and_certificates(privrepo: Privrepo) -> None:
    index = privrepo.index("corp", auth=CI, tls="mtls")
    ca, client = str(index.ca_cert), str(index.client_cert)

    [twine] = twine_lines(index)
    assert shlex.split(twine) == ["twine", "upload", "--repository-url", index.upload_url,
                                  "--username", "ci", "--password", "s3cret-pw", "--cert", ca,
                                  "--client-cert", client, DIST_PLACEHOLDER]

    [hatch] = hatch_lines(index)
    # no Hatch takes --ca-cert with --client-cert (test_hatch_cannot_combine_ca_cert_and_client_cert
    # in test_publish_clients.py): the CA goes into SSL_CERT_FILE
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
    assert code_lines(pdm) == [
        "export INDEX_CORP_USERNAME=ci INDEX_CORP_PASSWORD=s3cret-pw",
        f"export SSL_CERT_FILE={shlex.quote(ca)}",
        f"pdm config pypi.corp.client_cert {shlex.quote(client)}",
        "cat >> pyproject.toml <<'EOF'", "[[tool.pdm.source]]", 'name = "corp"',
        'url = "https://${INDEX_CORP_USERNAME}:${INDEX_CORP_PASSWORD}@' + netloc + '"', "EOF",
        "pdm add PACKAGE",
        f"pdm config repository.corp.url {index.upload_url}",
        f"pdm config repository.corp.client_cert {shlex.quote(client)}",
        'pdm publish -r corp -u "$INDEX_CORP_USERNAME" -P "$INDEX_CORP_PASSWORD" --no-build'
        "  # uploads dist/* (run pdm build first)",
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


def test_printed_twine_line_uploads_over_mtls(privrepo: Privrepo, client_env: ClientEnv,
                                              tmp_path: Path, twine: Twine) -> None:
    index = privrepo.index("corp", auth=CI, tls="mtls")
    wheel = privrepo.build_dist(tmp_path / "d", "snip-twine", "1.0")
    [line] = twine_lines(index)
    result = run_line(client_env, line, twine.executable, wheel)
    assert result.ok, result.output
    [upload] = index.uploads
    assert (upload.filename, upload.user, upload.sha256) == (wheel.name, "ci", sha256(wheel))
    [post] = [h for h in index.log if h.method == "POST"]
    assert post.client_cert and "corp-client@privrepo.test" in post.client_cert


def test_printed_hatch_line_uploads_over_mtls(privrepo: Privrepo, client_env: ClientEnv,
                                              tmp_path: Path, hatch: Hatch) -> None:
    index = privrepo.index("corp", auth=CI, tls="mtls")
    wheel = privrepo.build_dist(tmp_path / "d", "snip-hatch", "1.0")
    [line] = hatch_lines(index)
    result = run_line(client_env, line, hatch.executable, wheel)
    assert result.ok, result.output
    assert [(u.filename, u.user, u.sha256) for u in index.uploads] == [(wheel.name, "ci", sha256(wheel))]


def test_printed_flit_line_uploads_over_tls(privrepo: Privrepo, client_env: ClientEnv,
                                            tmp_path: Path, flit: Flit) -> None:
    index = privrepo.index("corp", auth=CI, tls="tls")
    project = write_flit_project(tmp_path / "p", "snip-flit", "1.0")
    [line] = flit_lines(index)
    result = run_line(client_env, line, flit.executable, cwd=project)
    assert result.ok, result.output
    built = sorted((project / "dist").iterdir())
    assert sorted((u.filename, u.user, u.sha256) for u in index.uploads) == sorted(
        (p.name, "ci", sha256(p)) for p in built)


def test_printed_uv_lines_install_and_publish_over_mtls(privrepo: Privrepo, client_env: ClientEnv,
                                                        tmp_path: Path, uv: Uv) -> None:
    index = privrepo.index("corp", auth=ALICE, tls="mtls")
    index.add("snip-dep", "1.0")
    wheel = privrepo.build_dist(tmp_path / "d", "snip-uv", "1.0")
    _comment, install, publish = uv_lines(index)
    venv = uv.venv(tmp_path / "venv")

    # uv searches the named index before PyPI and stops there: the (offline) PyPI is never asked
    result = run_line(client_env, install, Path(uv.exe), package="snip-dep",
                      extra_env={"VIRTUAL_ENV": str(venv.parent.parent)})
    assert result.ok, result.output
    assert uv.pip_list(venv).get("snip-dep") == "1.0"
    result = run_line(client_env, publish, Path(uv.exe), wheel)
    assert result.ok, result.output

    assert [(u.filename, u.user, u.sha256) for u in index.uploads] == [(wheel.name, "alice", sha256(wheel))]
    assert [h.path.rsplit("/", 1)[-1] for h in index.log.downloads] == ["snip_dep-1.0-py3-none-any.whl"]
    assert {(h.user, h.auth_ok) for h in index.log} == {("alice", True)}
    certs = {h.client_cert for h in index.log}
    assert len(certs) == 1 and "corp-client@privrepo.test" in str(certs.pop())


@pytest.mark.parametrize("tls", ["tls", "mtls"])
def test_printed_pdm_lines_add_and_publish(privrepo: Privrepo, pdm: Pdm, tmp_path: Path,
                                           tls: str) -> None:
    """Every printed pdm line, pasted into bash as it is: config, pyproject source,
    ``pdm add`` (lock + install) and ``pdm publish``, all with alice (and, over mTLS, the
    client certificate; over TLS pdm's own ``ca_certs``)."""
    index = privrepo.index("corp", auth=ALICE, tls=tls)
    index.add("snip-dep", "1.0", requires=["snip-helper>=2"])
    index.add("snip-helper", "2.0")
    pypi = privrepo.index("pypi", public_read=True)  # stands in for PyPI (empty)
    wheel = privrepo.build_dist(tmp_path / "d", "snip-pdm", "1.0")
    project = PdmProject(tmp_path / "project", pdm).create()
    project.dist_dir.mkdir()
    shutil.copy2(wheel, project.dist_dir / wheel.name)
    lines = [line.replace(PACKAGE_PLACEHOLDER, "snip-dep") for line in pdm_lines(index)]

    result = run_pasted(pdm, project.path, lines, tmp_path, pypi.url)

    assert result.ok, result.output
    assert {k: v for k, v in project.installed().items() if k.startswith("snip")} == {
        "snip-dep": "1.0", "snip-helper": "2.0"}
    assert sorted(h.path.rsplit("/", 1)[-1] for h in index.log.downloads) == [
        "snip_dep-1.0-py3-none-any.whl", "snip_helper-2.0-py3-none-any.whl"]
    assert [(u.filename, u.user, u.sha256) for u in index.uploads] == [(wheel.name, "alice", sha256(wheel))]
    assert {(h.user, h.auth_ok) for h in index.log} == {("alice", True)}
    certs = {h.client_cert for h in index.log}
    if tls == "mtls":
        assert len(certs) == 1 and "corp-client@privrepo.test" in str(certs.pop())
    else:
        assert certs == {None}
    # the implicit PyPI source was asked too (pdm merges sources), without alice's credentials
    assert pypi.log.filter(path_prefix="/simple/snip-dep/")
    assert {h.user for h in pypi.log} == {None}
    # the password is in no file: pyproject has the ${...} placeholders, pdm's config none
    for path in (project.pyproject, project.lockfile, pdm.config_file):
        assert "p@ss" not in path.read_text() and "p%40ss" not in path.read_text(), path
