"""The PyPI stand-in: PyPI's own host names, the APIs the clients read there, its trust.

Requests from the test go through the gateway as a client's would (``proxies=``) and trust
only the public roots (``privrepo.gateway.trust_bundle``), as a client trusts real PyPI.
The real clients against it are in test_pypi_poetry.py and test_pypi_precedence.py.
"""

from __future__ import annotations

import pytest
import requests

from helpers import file_sha256
from pytest_privrepo import ConfigError

JSON = "application/vnd.pypi.simple.v1+json"


@pytest.fixture
def pypi(privrepo):  # type: ignore[no-untyped-def]
    index = privrepo.pypi
    index.add("shared-lib", "1.0", requires=["idna>=2"], requires_python=">=3.8",
              summary="The public one")
    index.add("shared-lib", "2.0", kind="both", yanked="broken")
    return index


def get(privrepo, http, url, **kwargs):  # type: ignore[no-untyped-def]
    return http.get(url, proxies=privrepo.gateway.proxies, timeout=20,
                    verify=str(privrepo.gateway.trust_bundle), **kwargs)


def test_the_stand_in_answers_at_pypis_urls(privrepo, pypi) -> None:
    assert pypi.url == "https://pypi.org/simple/"
    assert pypi.upload_url == "https://upload.pypi.org/legacy/"
    assert pypi.access.ca_cert is None  # trusted by default, like PyPI
    assert privrepo.gateway.route("files.pythonhosted.org", 443) is not None


def test_simple_pages_link_files_on_the_files_host(privrepo, http, pypi) -> None:
    page = get(privrepo, http, "https://pypi.org/simple/shared-lib/", headers={"Accept": JSON})
    assert page.status_code == 200
    urls = [f["url"] for f in page.json()["files"]]
    assert urls and all(u.startswith("https://files.pythonhosted.org/packages/shared-lib/") for u in urls)
    download = get(privrepo, http, urls[0])
    assert download.status_code == 200 and download.content[:2] in (b"PK", b"\x1f\x8b")
    hosts = [r.host for r in privrepo.egress]
    assert hosts == ["pypi.org", "files.pythonhosted.org"]


def test_json_api_release_and_project(privrepo, http, pypi) -> None:
    release = get(privrepo, http, "https://pypi.org/pypi/shared-lib/1.0/json").json()
    assert release["info"]["version"] == "1.0"
    assert release["info"]["requires_dist"] == ["idna>=2"]
    assert release["info"]["requires_python"] == ">=3.8"
    assert release["info"]["summary"] == "The public one"
    assert [u["packagetype"] for u in release["urls"]] == ["bdist_wheel"]
    assert release["urls"][0]["digests"]["sha256"] == pypi.files("shared-lib")[0].sha256
    project = get(privrepo, http, "https://pypi.org/pypi/Shared_Lib/json").json()
    assert project["info"]["version"] == "1.0"  # 2.0 is yanked: not the latest
    assert set(project["releases"]) == {"1.0", "2.0"}
    assert {u["packagetype"] for u in project["releases"]["2.0"]} == {"bdist_wheel", "sdist"}
    assert all(u["yanked"] and u["yanked_reason"] == "broken" for u in project["releases"]["2.0"])


@pytest.mark.parametrize("path", ["/pypi/nothing-here/json", "/pypi/shared-lib/9.9/json",
                                  "/pypi/shared-lib/1.0/2/json", "/pypi/-bad-/json"])
def test_json_api_unknown_is_404(privrepo, http, pypi, path) -> None:
    assert get(privrepo, http, "https://pypi.org" + path).status_code == 404


def test_json_api_is_read_only(privrepo, http, pypi) -> None:
    answer = http.post("https://pypi.org/pypi/shared-lib/json", proxies=privrepo.gateway.proxies,
                       verify=str(privrepo.gateway.trust_bundle), timeout=20)
    assert answer.status_code == 405


def test_private_indexes_have_no_json_api(privrepo, http) -> None:
    corp = privrepo.index("corp", host="pypi.corp.example", tls="tls")
    corp.add("shared-lib", "1.0")
    answer = http.get(corp.base_url + "/pypi/shared-lib/json", proxies=privrepo.gateway.proxies,
                      verify=corp.ca_cert, timeout=20)
    assert answer.status_code == 404


def test_the_stand_in_is_not_trusted_through_the_session_ca(privrepo, http, pypi) -> None:
    """The public world has its own CA: trusting the private one does not reach PyPI, and
    (test_gateway.py) trusting the public one does not reach a private index."""
    with pytest.raises(requests.exceptions.SSLError):
        http.get(pypi.url, proxies=privrepo.gateway.proxies, verify=str(privrepo.ca_cert), timeout=20)


def test_uploads_need_the_stand_ins_token(privrepo, http, pypi, tmp_path) -> None:
    wheel = privrepo.build_dist(tmp_path, "my-app", "1.0")
    form = {":action": "file_upload", "protocol_version": "1", "name": "my-app",
            "version": "1.0", "filetype": "bdist_wheel", "pyversion": "py3",
            "metadata_version": "2.1", "sha256_digest": file_sha256(wheel)}
    files = {"content": (wheel.name, wheel.read_bytes())}
    kwargs = {"proxies": privrepo.gateway.proxies, "verify": str(privrepo.gateway.trust_bundle),
              "timeout": 20}
    refused = http.post(pypi.upload_url, data=form, files=files, auth=("__token__", "wrong"), **kwargs)
    assert refused.status_code == 403 and not pypi.uploads
    ok = http.post(pypi.upload_url, data=form, files=files, auth=("__token__", pypi.token), **kwargs)
    assert ok.status_code == 200, ok.text
    assert [u.filename for u in pypi.uploads] == [wheel.name]
    (record,) = [r for r in privrepo.egress if r.method == "POST" and r.status == 200]
    assert (record.host, record.user, record.credentials_of) == ("upload.pypi.org", "__token__", {"pypi"})
    privrepo.egress.assert_no_leaks()
    assert pypi.token not in repr(privrepo.egress.leaks()) + repr(list(privrepo.egress))


def test_pypi_is_refused_until_a_test_asks_for_it(privrepo, http) -> None:
    with pytest.raises(requests.exceptions.ProxyError, match="not a declared host"):
        http.get("https://pypi.org/simple/", proxies=privrepo.gateway.proxies, timeout=20)
    assert privrepo.gateway.route("pypi.org", 443) is None


def test_an_index_cannot_take_pypis_names(privrepo, pypi) -> None:
    with pytest.raises(ConfigError, match="is PyPI's: use privrepo.pypi"):
        privrepo.index("fake", host="pypi.org", tls="tls", prefix="/x")


def test_the_stand_in_is_one_per_privrepo(privrepo) -> None:
    assert privrepo.pypi is privrepo.pypi
    assert "pypi" not in privrepo.indexes  # the name stays free for a private index
    privrepo.index("pypi")
