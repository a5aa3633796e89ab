"""The client snippets ``privrepo serve`` prints: right URL, credentials, certificate paths
and flags, and the publish lines actually work when pasted (run through ClientEnv)."""

from __future__ import annotations

import hashlib
import shlex
from pathlib import Path

from pytest_privrepo import Privrepo
from pytest_privrepo.clients.env import ClientEnv
from pytest_privrepo.clients.flit import Flit, write_flit_project
from pytest_privrepo.clients.hatch import Hatch
from pytest_privrepo.clients.twine import Twine
from pytest_privrepo.snippets import (
    DIST_PLACEHOLDER,
    all_snippets,
    flit_lines,
    hatch_lines,
    pdm_lines,
    twine_lines,
)

CI = ("ci", "s3cret-pw")



def run_line(env: ClientEnv, line: str, executable: Path, dist: Path | None = None,
             cwd: Path | None = None):  # type: ignore[no-untyped-def]
    """Run a printed ``VAR=value ... tool args`` line as a shell would, with ``tool``
    replaced by ``executable`` and the dist placeholder by ``dist``."""
    words = shlex.split(line)
    assignments = {}
    while "=" in words[0] and not words[0].startswith("-"):
        name, _, value = words.pop(0).partition("=")
        assignments[name] = value
    words[0] = str(executable)
    words = [str(dist) if w == DIST_PLACEHOLDER else w for w in words]
    return env.run(words, cwd=cwd, extra_env=assignments, check=False, timeout=120)


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

    pdm = pdm_lines(index)
    assert pdm[:5] == [
        f"pdm config pypi.corp.url {index.url}",
        "pdm config pypi.corp.username ci",
        "pdm config pypi.corp.password s3cret-pw",
        f"pdm config pypi.corp.ca_certs {shlex.quote(ca)}",
        f"pdm config pypi.corp.client_cert {shlex.quote(client)}",
    ]
    assert pdm[5:] == ["cat >> pyproject.toml <<'EOF'", "[[tool.pdm.source]]", 'name = "corp"',
                       f'url = "{index.url}"', "EOF"]


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
