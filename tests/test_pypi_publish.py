"""Publishing to PyPI by accident, and on purpose: twine, Hatch and flit against the stand-in.

Each client's default repository is PyPI's upload host (twine 6.1.0/7.0.0
``DEFAULT_REPOSITORY = "https://upload.pypi.org/legacy/"``, Hatch 1.18.2's ``main`` repo,
flit 4.2.0 ``[pypi]``), which a client trusts through its default store: in a routed
``client_env`` the gateway's public CA (``SSL_CERT_FILE``, plus ``REQUESTS_CA_BUNDLE`` for
the requests-based twine and flit). What these tests record:

- ``twine upload`` with no ``--repository-url`` and a token in ``TWINE_PASSWORD`` publishes
  to PyPI: the file lands in ``privrepo.pypi.uploads``;
- an explicit private CA still wins: the twine runner drops ``REQUESTS_CA_BUNDLE`` when it
  passes ``--cert`` (requests lets the variable override a session's verify);
- publishing to the private index leaves PyPI untouched (no egress to upload.pypi.org).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_privrepo import ConfigError, Privrepo
from pytest_privrepo.clients.flit import Flit
from pytest_privrepo.clients.hatch import IGNORES_PROXY_SINCE, Hatch
from pytest_privrepo.clients.twine import Twine

CI = ("ci", "c1-secret-pw")


def test_twine_without_a_repository_publishes_to_pypi(privrepo: Privrepo, tmp_path: Path,
                                                      twine: Twine) -> None:
    wheel = privrepo.build_dist(tmp_path, "corp-app", "1.0")
    result = twine.run("upload", "--non-interactive", "--disable-progress-bar", wheel,
                       extra_env={"TWINE_USERNAME": "__token__",
                                  "TWINE_PASSWORD": privrepo.pypi.token})
    assert result.ok
    assert [u.filename for u in privrepo.pypi.uploads] == [wheel.name]
    assert {r.host for r in privrepo.egress} == {"upload.pypi.org"}
    assert privrepo.pypi.token not in result.output


def test_twine_with_the_private_ca_still_reaches_the_private_index(
        privrepo: Privrepo, tmp_path: Path, twine: Twine) -> None:
    corp = privrepo.index("corp", host="upload.corp.example", tls="tls", auth=CI)
    wheel = privrepo.build_dist(tmp_path, "corp-app", "1.0")
    assert twine.upload([wheel], corp, route="cli").ok
    assert twine.upload([privrepo.build_dist(tmp_path, "corp-app", "1.1")], corp, route="env").ok
    assert [u.version for u in corp.uploads] == ["1.0", "1.1"]
    assert privrepo.egress.to("upload.pypi.org") == []
    privrepo.egress.assert_no_leaks()


def test_twine_without_the_private_ca_fails_against_the_private_index(
        privrepo: Privrepo, tmp_path: Path, twine: Twine) -> None:
    """Trusting the public roots does not make a private index trusted."""
    corp = privrepo.index("corp", host="upload.corp.example", tls="tls", auth=CI)
    wheel = privrepo.build_dist(tmp_path, "corp-app", "1.0")
    result = twine.upload([wheel], corp, certificates=False, check=False)
    assert not result.ok and "CERTIFICATE_VERIFY_FAILED" in result.output
    assert corp.uploads == []


def test_hatch_publishes_through_the_gateway_only_before_1_7(privrepo: Privrepo, tmp_path: Path,
                                                              hatch: Hatch) -> None:
    """Hatch >= 1.7.0 ignores HTTPS_PROXY on publish (hatch#1908; it passes httpx its own
    transport): it would connect to the real upload host, so the runner refuses before
    anything runs. Older Hatch (httpx.post, which reads the proxy variables) goes through
    the gateway to the stand-in and to a named private index."""
    corp = privrepo.index("corp", host="upload.corp.example", tls="tls", auth=CI)
    one = privrepo.build_dist(tmp_path / "a", "open-app", "1.0")
    two = privrepo.build_dist(tmp_path / "b", "corp-app", "2.0")
    if hatch.release >= IGNORES_PROXY_SINCE:
        for index, dist in ((privrepo.pypi, one), (corp, two)):
            with pytest.raises(ConfigError, match="ignores HTTPS_PROXY when it publishes"):
                hatch.publish([dist], index)
        assert list(privrepo.egress) == []
        return
    assert hatch.publish([one], privrepo.pypi).ok
    assert hatch.publish([two], corp).ok
    assert [u.version for u in privrepo.pypi.uploads] == ["1.0"]
    assert [u.version for u in corp.uploads] == ["2.0"]
    # Hatch 1.4.0 first asks the repository's simple page for the project (to skip files
    # already there), with the upload credentials
    assert privrepo.egress.asked_for("open-app", host="pypi.org")[0].user == "__token__"
    privrepo.egress.assert_no_leaks()


def test_flit_publishes_to_pypi_through_its_default_store(privrepo: Privrepo, tmp_path: Path,
                                                          flit: Flit) -> None:
    from test_flit import write_flit_project

    project = write_flit_project(tmp_path / "p", "corp-flit", "1.0")
    assert flit.publish(project, privrepo.pypi).ok
    assert {u.filename.split("-")[0] for u in privrepo.pypi.uploads} == {"corp_flit"}
