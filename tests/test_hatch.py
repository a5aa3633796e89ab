"""``hatch publish`` by every route it has x TLS mode: a basic-auth and a token (``__token__``)
upload arrive with the right user and sha256, a wrong password fails with Hatch's own error
text; its CA/client-certificate limits and version gates (pinned); the client certificate
and its key in separate files (``--client-key`` / ``HATCH_INDEX_CLIENT_KEY``) over mTLS. On an
mTLS index twine and Hatch without the client certificate are refused at the handshake
(one test for both, they share the check).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from helpers import (
    CI,
    CLIENT_CN,
    TLS,
    TOKEN,
    assert_client_cert_sent,
    assert_uploads,
    no_client_cert,
)

from pytest_privrepo import Privrepo
from pytest_privrepo.clients.env import ClientEnv
from pytest_privrepo.clients.hatch import HTTPX2_SINCE, Hatch
from pytest_privrepo.clients.result import CommandResult
from pytest_privrepo.clients.twine import Twine
from pytest_privrepo.errors import ConfigError


def hatch_failure(hatch: Hatch, result: CommandResult, url: str) -> str:
    """The error a failed ``hatch publish`` to ``url`` aborted with, after checking that it
    is Hatch's own report: ``<file> ... failed`` then :meth:`Hatch.publish_error`'s form
    (``Error uploading to repository: <url> - `` since Hatch 1.7.0, the bare error before)."""
    lines = result.output.strip().splitlines()
    failed = next(i for i, line in enumerate(lines) if line.rstrip().endswith("failed"))
    message = lines[failed + 1]
    prefix = hatch.publish_error(url, "")
    assert message.startswith(prefix), result.output
    return message[len(prefix):]


@pytest.mark.parametrize("tls", TLS)
@pytest.mark.parametrize("route", ["cli", "env"])
def test_hatch_routes(privrepo: Privrepo, tmp_path: Path, hatch: Hatch,
                      route: str, tls: str | None) -> None:
    index = privrepo.index("corp", auth=CI, token=TOKEN, tls=tls)
    wheel = privrepo.build_dist(tmp_path / "d", "ha", "1.0")
    sdist = privrepo.build_dist(tmp_path / "d", "ha", "1.1", kind="sdist")

    assert hatch.publish([wheel], index, route=route).ok
    assert hatch.publish([sdist], index, route=route, username="__token__", password=TOKEN).ok
    assert_uploads(index, [(wheel, "ci"), (sdist, "__token__")])
    assert_client_cert_sent(index)
    # Hatch treats every non-PyPI host as devpi: it asks <repo>/+simple/<project>/ first
    # (404 here, which Hatch reads as "nothing published yet"), then uploads.
    seen = [(h.method, h.path, h.status, h.user) for h in index.log]
    assert seen == [("GET", "/legacy/+simple/ha/", 404, "ci"), ("POST", "/legacy/", 200, "ci"),
                    ("GET", "/legacy/+simple/ha/", 404, "__token__"),
                    ("POST", "/legacy/", 200, "__token__")]

    bad = hatch.publish([privrepo.build_dist(tmp_path / "d", "ha", "2.0")], index, route=route,
                        password="wrong-pw", check=False)
    assert not bad.ok
    assert hatch_failure(hatch, bad, index.upload_url) == (
        "Client error '403 Invalid or non-existent authentication information.' "
        f"for url '{index.upload_url}'")
    assert "wrong-pw" not in bad.output  # Hatch masks the secret in its error
    assert len(index.uploads) == 2


def test_hatch_cannot_combine_ca_cert_and_client_cert(privrepo: Privrepo, hatch: Hatch,
                                                     tmp_path: Path) -> None:
    """Pins why the harness (and the printed snippet) pass the CA as SSL_CERT_FILE: no Hatch
    takes ``--ca-cert`` with ``--client-cert``. Hatch >= 1.17 (httpx2) fails before
    connecting; Hatch 1.4-1.16 (httpx 0.28) silently drop the client certificate, so the
    server refuses the handshake."""
    index = privrepo.index("corp", auth=CI, tls="mtls")
    result = hatch.publish(
        [privrepo.build_dist(tmp_path / "d", "ha", "1.0")], index, split_ca=False, check=False)
    assert not result.ok
    error = hatch_failure(hatch, result, index.upload_url)
    if hatch.release >= HTTPX2_SINCE:
        assert error.startswith("`verify=<str>` cannot be combined with `cert=...`. Build an "
                                "`ssl.SSLContext`"), result.output
        assert index.server.tls_failures == []
    else:
        assert "SSL" in error, result.output  # the alert or the closed socket, by timing
        assert index.server.wait_for_tls_failure().reason == "PEER_DID_NOT_RETURN_A_CERTIFICATE"
    assert index.uploads == [] and list(index.log) == []


@pytest.mark.parametrize("hatch", ["1.2.1"], indirect=True)
def test_hatch_before_1_4_publishes_over_http_only(privrepo: Privrepo, tmp_path: Path,
                                                   hatch: Hatch) -> None:
    """Below the tested floor (Hatch 1.4.0), pinned so the harness stays honest about it:
    Hatch 1.2 has no ``-y`` and reads ``HATCH_PYPI_*``, and both routes publish over HTTP;
    it has no certificate options, so a TLS index is refused with a ConfigError."""
    index = privrepo.index("corp", auth=CI)
    wheel = privrepo.build_dist(tmp_path / "d", "old-ha", "1.0")
    sdist = privrepo.build_dist(tmp_path / "d", "old-ha", "1.0", kind="sdist")
    assert hatch.publish([wheel], index, route="cli").ok
    assert hatch.publish([sdist], index, route="env").ok
    assert_uploads(index, [(wheel, "ci"), (sdist, "ci")])
    # before 1.4 the existence check is <host>/simple/<project>/, without credentials
    seen = [(h.method, h.path, h.status, h.user) for h in index.log]
    assert seen == [("GET", "/simple/old-ha/", 401, None), ("POST", "/legacy/", 200, "ci")] * 2

    tls = privrepo.index("tls", auth=CI, tls="tls")
    with pytest.raises(ConfigError, match=r"hatch 1\.2\.1 cannot be given a CA .* Hatch 1\.4\.0"):
        hatch.publish([wheel], tls)
    assert list(tls.log) == []


# --------------------------------------------------------------------------- missing client cert


@pytest.mark.parametrize("client", ["twine", "hatch"])
def test_missing_client_cert_fails_at_handshake(privrepo: Privrepo, client_env: ClientEnv,
                                                tmp_path: Path, client: str, twine: Twine,
                                                hatch: Hatch) -> None:
    index = privrepo.index("corp", auth=CI, tls="mtls")
    wheel = privrepo.build_dist(tmp_path / "d", "nocert", "1.0")
    if client == "twine":
        result = twine.upload([wheel], no_client_cert(index), check=False)
    else:
        result = hatch.publish([wheel], no_client_cert(index), check=False)
    assert not result.ok
    failure = index.server.wait_for_tls_failure()
    assert failure.reason == "PEER_DID_NOT_RETURN_A_CERTIFICATE"
    assert index.uploads == [] and list(index.log) == []
    # The client sees either the server's alert or the closed socket, depending on timing
    # (TLSV13_ALERT_CERTIFICATE_REQUIRED / SSLEOFError); both are TLS errors of its own.
    if client == "twine":
        assert "requests.exceptions.SSLError" in result.output, result.output
    else:
        assert "SSL" in hatch_failure(hatch, result, index.upload_url), result.output


_PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z ]+)-----\n.*?-----END \1-----\n", re.S)


def split_client_pem(pem: str | Path, directory: Path) -> tuple[Path, Path]:
    """Write the certificate and the private key of a key+certificate PEM into two files
    (``cert.pem``, ``key.pem``) under ``directory``."""
    blocks = [(m.group(1), m.group(0)) for m in _PEM_BLOCK.finditer(Path(pem).read_text())]
    certs = "".join(text for kind, text in blocks if kind == "CERTIFICATE")
    keys = "".join(text for kind, text in blocks if kind.endswith("PRIVATE KEY"))
    assert certs and keys and len(blocks) == 2, [kind for kind, _ in blocks]
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "cert.pem").write_text(certs)
    (directory / "key.pem").write_text(keys)
    (directory / "key.pem").chmod(0o600)
    return directory / "cert.pem", directory / "key.pem"


@pytest.mark.parametrize("route", ["cli", "env"])
def test_hatch_publishes_with_separate_client_key(privrepo: Privrepo, tmp_path: Path,
                                                  hatch: Hatch, route: str) -> None:
    """``client_cert=`` a certificate-only PEM plus ``client_key=`` its key, by
    ``--client-cert/--client-key`` (cli) or ``HATCH_INDEX_CLIENT_CERT/CLIENT_KEY`` (env).
    Control: the certificate file alone cannot be loaded, so the key file is what made the
    handshake work."""
    index = privrepo.index("corp", auth=("ci", "s3cret-pw"), tls="mtls")
    assert index.client_cert is not None
    cert, key = split_client_pem(index.client_cert, hatch.env.root / "split-client-cert")
    assert "PRIVATE KEY" not in cert.read_text() and "CERTIFICATE" not in key.read_text()
    wheel = privrepo.build_dist(tmp_path / "d", "ha-key", "1.0")

    result = hatch.publish([wheel], index, route=route, client_cert=cert, client_key=key)

    argv = list(result.argv)
    if route == "cli":
        assert argv[argv.index("--client-cert") + 1] == str(cert)
        assert argv[argv.index("--client-key") + 1] == str(key)
    else:
        assert "--client-cert" not in argv and "--client-key" not in argv
    assert [(u.filename, u.sha256, u.user) for u in index.uploads] == [
        (wheel.name, hashlib.sha256(wheel.read_bytes()).hexdigest(), "ci")]
    assert [(h.method, h.path, h.status, h.user) for h in index.log] == [
        ("GET", "/legacy/+simple/ha-key/", 404, "ci"), ("POST", "/legacy/", 200, "ci")]
    assert all(h.client_cert and h.client_cert.startswith(CLIENT_CN + ",") for h in index.log)

    second = privrepo.build_dist(tmp_path / "d", "ha-key", "2.0")
    no_key = hatch.publish([second], index, route=route, client_cert=cert, check=False)
    assert not no_key.ok
    # Hatch >= 1.7 reports it as an upload error, Hatch 1.4 crashes with the SSLError
    assert "[SSL] PEM lib (_ssl.c:" in no_key.output, no_key.output
    assert len(index.log) == 2 and index.server.tls_failures == []  # nothing left the client
    assert len(index.uploads) == 1

    with pytest.raises(ConfigError, match=r"client_key=.*needs a client certificate"):
        hatch.publish([second], index, route=route, certificates=False, client_key=key)
