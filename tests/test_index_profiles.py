"""Product profiles: an index that answers as GitLab, Nexus, Artifactory, CodeArtifact, Azure
Artifacts, Artifact Registry, devpi or pypiserver does, at its host name and URL layout.

Requests go through the gateway as a client's would; each fact checked here is a row of
``PROFILES`` (pytest_privrepo/index/behaviour.py), with its source there.
"""

from __future__ import annotations

import base64

import pytest

from helpers import file_sha256
from pytest_privrepo import ConfigError
from pytest_privrepo.index.behaviour import PROFILES

JSON = "application/vnd.pypi.simple.v1+json"
TOKEN = "tok-3f9c1"


def fetch(privrepo, http, index, path, *, user=None, secret=None, method="GET", **kwargs):  # type: ignore[no-untyped-def]
    headers = kwargs.pop("headers", {})
    if user is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()
    return http.request(method, index.base_url + path, proxies=privrepo.gateway.proxies,
                        verify=index.ca_cert, timeout=20, allow_redirects=False,
                        headers=headers, **kwargs)


@pytest.mark.parametrize(("profile", "url", "upload_url"), [
    ("gitlab", "https://gitlab.example.com/api/v4/projects/1/packages/pypi/simple/",
     "https://gitlab.example.com/api/v4/projects/1/packages/pypi"),
    ("nexus", "https://nexus.example.com/repository/corp/simple/",
     "https://nexus.example.com/repository/corp/"),
    ("artifactory", "https://artifactory.example.com/artifactory/api/pypi/corp/simple/",
     "https://artifactory.example.com/artifactory/api/pypi/corp"),
    ("codeartifact",
     "https://corp-123456789012.d.codeartifact.us-east-1.amazonaws.com/pypi/corp/simple/",
     "https://corp-123456789012.d.codeartifact.us-east-1.amazonaws.com/pypi/corp/"),
    ("azure", "https://pkgs.dev.azure.com/corp/_packaging/corp/pypi/simple/",
     "https://pkgs.dev.azure.com/corp/_packaging/corp/pypi/upload/"),
    ("artifact-registry", "https://us-python.pkg.dev/corp-project/corp/simple/",
     "https://us-python.pkg.dev/corp-project/corp/"),
    ("devpi", "https://devpi.example.com/root/corp/+simple/", "https://devpi.example.com/root/corp/"),
    ("pypiserver", "https://pypiserver.example.com/simple/", "https://pypiserver.example.com/"),
])
def test_profiles_answer_at_the_products_urls(privrepo, http, tmp_path, profile, url,
                                              upload_url) -> None:
    index = privrepo.index("corp", profile=profile, token=TOKEN)
    assert (index.url, index.upload_url, index.tls) == (url, upload_url, "tls")
    index.add("corp-lib", "1.0")
    user, secret = index.username, index.password
    assert secret == TOKEN and user == PROFILES[profile].token_user
    page = fetch(privrepo, http, index, index.url[len(index.base_url):] + "corp-lib/",
                 user=user, secret=secret)
    assert page.status_code == 200, page.text
    link = page.text.split('href="')[1].split("#")[0]
    download = http.get(requests_join(page.url, link), proxies=privrepo.gateway.proxies,
                        verify=index.ca_cert, timeout=20, auth=(user, secret))
    assert download.status_code == 200 and download.content[:2] == b"PK"
    wheel = privrepo.build_dist(tmp_path, "corp-up", "1.0")
    form = {":action": "file_upload", "protocol_version": "1", "name": "corp-up",
            "version": "1.0", "filetype": "bdist_wheel", "pyversion": "py3",
            "metadata_version": "2.1", "sha256_digest": file_sha256(wheel)}
    posted = http.post(index.upload_url, data=form, files={"content": (wheel.name, wheel.read_bytes())},
                       auth=(user, secret), proxies=privrepo.gateway.proxies,
                       verify=index.ca_cert, timeout=20, allow_redirects=False)
    assert posted.status_code == 200, posted.text
    assert [u.filename for u in index.uploads] == [wheel.name]


def requests_join(base: str, link: str) -> str:
    from urllib.parse import urljoin

    return urljoin(base, link)


def test_token_user_names_per_product(privrepo, http) -> None:
    ca = privrepo.index("ca", profile="codeartifact", token=TOKEN)
    azure = privrepo.index("az", profile="azure", token=TOKEN, prefix="/corp/_packaging/az/pypi")
    jfrog = privrepo.index("jf", profile="artifactory", token=TOKEN)
    plain = privrepo.index("plain", token=TOKEN, host="plain.corp.example")
    root = lambda i: i.url[len(i.base_url):]  # noqa: E731
    assert fetch(privrepo, http, ca, root(ca), user="aws", secret=TOKEN).status_code == 200
    assert fetch(privrepo, http, ca, root(ca), user="bob", secret=TOKEN).status_code == 404
    assert fetch(privrepo, http, azure, root(azure), user="whoever", secret=TOKEN).status_code == 200
    # Artifactory's identity token goes with an empty user; __token__ is refused (uv's guide)
    assert fetch(privrepo, http, jfrog, root(jfrog), user="", secret=TOKEN).status_code == 200
    assert fetch(privrepo, http, jfrog, root(jfrog), user="someone", secret=TOKEN).status_code == 401
    assert fetch(privrepo, http, plain, "/simple/", user="__token__", secret=TOKEN).status_code == 200
    assert fetch(privrepo, http, plain, "/simple/", user="aws", secret=TOKEN).status_code == 401


def test_refusals_per_product(privrepo, http) -> None:
    gar = privrepo.index("gar", profile="artifact-registry", auth=("oauth2accesstoken", "pw-1"))
    anonymous = fetch(privrepo, http, gar, "/simple/")
    assert (anonymous.status_code, anonymous.content) == (403, b"")
    assert "WWW-Authenticate" not in anonymous.headers
    gitlab = privrepo.index("gl", profile="gitlab", auth=("dev", "pw-2"))
    challenged = fetch(privrepo, http, gitlab, "/simple/")
    assert challenged.status_code == 401 and challenged.headers["WWW-Authenticate"].startswith("Basic")
    pypiserver = privrepo.index("ps", profile="pypiserver", auth=("dev", "pw-3"), prefix="/ps")
    assert fetch(privrepo, http, pypiserver, "/simple/", user="dev", secret="bad").status_code == 403
    codeartifact = privrepo.index("ca", profile="codeartifact", auth=("aws", "pw-4"))
    assert fetch(privrepo, http, codeartifact, "/simple/", user="aws", secret="bad").status_code == 404
    quiet = privrepo.index("quiet", auth=("dev", "pw-5"), challenge=False)
    assert "WWW-Authenticate" not in fetch(privrepo, http, quiet, "/simple/").headers


def test_missing_projects_per_product(privrepo, http) -> None:
    gitlab = privrepo.index("gl", profile="gitlab", public_read=True)
    moved = fetch(privrepo, http, gitlab, "/simple/not-here/")
    assert (moved.status_code, moved.headers["Location"]) == (302, "https://pypi.org/simple/not-here/")
    pypiserver = privrepo.index("ps", profile="pypiserver", public_read=True)
    assert fetch(privrepo, http, pypiserver, "/simple/not-here/").status_code == 303
    azure = privrepo.index("az", profile="azure", auth=("me", "pw-6"))
    missing = fetch(privrepo, http, azure, "/simple/not-here/", user="me", secret="pw-6")
    assert missing.status_code == 401  # Azure: "not found" is an auth failure


def test_page_features_per_product(privrepo, http) -> None:
    nexus = privrepo.index("nx", profile="nexus", public_read=True)
    nexus.add("corp-lib", "1.0", yanked="bad")
    page = fetch(privrepo, http, nexus, "/simple/corp-lib/", headers={"Accept": JSON})
    assert page.headers["Content-Type"].startswith("text/html")  # no PEP 691
    assert "data-core-metadata" not in page.text and "data-yanked" not in page.text
    assert "../../packages/corp-lib/" in page.text
    wheel = nexus.files("corp-lib")[0].filename
    assert fetch(privrepo, http, nexus, f"/packages/corp-lib/{wheel}.metadata").status_code == 404
    gitlab = privrepo.index("gl", profile="gitlab", public_read=True)
    gitlab.add("corp-lib", "1.0")
    assert 'data-requires-python=""' in fetch(privrepo, http, gitlab, "/simple/corp-lib/").text
    devpi = privrepo.index("dp", profile="devpi", public_read=True)
    devpi.add("corp-lib", "1.0")
    json_page = fetch(privrepo, http, devpi, "/+simple/corp-lib/", headers={"Accept": JSON}).json()
    assert json_page["files"][0]["url"].startswith("../../+f/corp-lib/")
    assert json_page["files"][0]["core-metadata"] is False and "upload-time" in json_page["files"][0]


@pytest.mark.parametrize(("profile", "status", "phrase", "identical"), [
    (None, 400, "File already exists", 200),
    ("gitlab", 400, "has already been taken", 400),
    ("artifactory", 403, "Not enough permissions", 200),
    ("codeartifact", 409, "already exists", 200),
    ("azure", 409, "PackageAlreadyExistsException", 200),
    ("nexus", 400, "does not allow updating assets", 400),
])
def test_duplicate_uploads_per_product(privrepo, http, tmp_path, profile, status, phrase,
                                       identical) -> None:
    index = privrepo.index("corp", profile=profile, auth=("ci", "pw-7"),
                           **({} if profile else {"host": "pypi.corp.example", "tls": "tls"}))
    first = privrepo.build_dist(tmp_path / "a", "dup", "1.0")
    other = privrepo.build_dist(tmp_path / "b", "dup", "1.0", summary="other bytes")

    def post(path):  # type: ignore[no-untyped-def]
        form = {":action": "file_upload", "protocol_version": "1", "name": "dup", "version": "1.0",
                "filetype": "bdist_wheel", "pyversion": "py3", "metadata_version": "2.1",
                "sha256_digest": file_sha256(path)}
        return http.post(index.upload_url, data=form, files={"content": (path.name, path.read_bytes())},
                         auth=("ci", "pw-7"), proxies=privrepo.gateway.proxies,
                         verify=index.ca_cert, timeout=20)

    assert post(first).status_code == 200
    again = post(first)
    assert again.status_code == identical
    refused = post(other)
    assert refused.status_code == status and phrase in refused.text
    assert len(index.uploads) == 1


def test_bad_profile_input(privrepo) -> None:
    with pytest.raises(ConfigError, match="unknown profile 'jfrog': known are artifact-registry, "
                                          "artifactory, azure, codeartifact, devpi, gitlab"):
        privrepo.index("x", profile="jfrog")
    with pytest.raises(ConfigError, match=r"profile 'gitlab' has challenge=True; challenge=False "
                                          r"contradicts it.*PROFILES\['gitlab'\]\.replace"):
        privrepo.index("x", profile="gitlab", challenge=False)
    with pytest.raises(ConfigError, match="unknown behaviour field"):
        privrepo.index("x", chalenge=False)
    with pytest.raises(ConfigError, match="wrong_credentials_status must be 401, 403 or 404"):
        privrepo.index("x", wrong_credentials_status=500)
    assert privrepo.indexes == {} and privrepo.gateway.routes == []
    varied = privrepo.index("x", profile=PROFILES["gitlab"].replace(challenge=False))
    assert varied.behaviour.challenge is False and varied.behaviour.product == "gitlab"


def test_files_redirect_to_signed_storage(privrepo, http) -> None:
    """Azure Artifacts sends file downloads to Blob storage, Artifactory files over ~512 KB
    to S3: a signed URL on another host, which refuses any Authorization header (400) and a
    bad signature (403); credentials sent there are a leak in the egress log."""
    azure = privrepo.index("corp", profile="azure", auth=("me", "pw-8"))
    azure.add("demo", "1.0")
    moved = fetch(privrepo, http, azure, "/download/demo/demo-1.0-py3-none-any.whl", user="me",
                  secret="pw-8")
    assert moved.status_code == 302
    location = moved.headers["Location"]
    assert location.startswith("https://corp.blob.core.windows.net/corp/demo/demo-1.0-py3-none-any.whl?")
    public = {"proxies": privrepo.gateway.proxies, "verify": str(privrepo.gateway.trust_bundle),
              "timeout": 20}
    assert http.get(location, **public).content == azure.files("demo")[0].path.read_bytes()
    assert http.get(location, auth=("me", "pw-8"), **public).status_code == 400
    assert http.get(location.replace("Signature=", "Signature=0"), **public).status_code == 403
    assert http.get(location.split("?")[0], **public).status_code == 403
    (leak,) = privrepo.egress.leaks()
    assert leak.kind == "credential" and leak.record.host == "corp.blob.core.windows.net"
    small = privrepo.index("jf", profile="artifactory", public_read=True)
    small.add("demo", "1.0")  # far below Artifactory's ~512 KB: served directly
    assert fetch(privrepo, http, small, "/files/demo/demo-1.0-py3-none-any.whl").status_code == 200
    big = privrepo.index("jf2", profile=PROFILES["artifactory"].replace(redirect_min_size=0),
                         public_read=True, prefix="/artifactory/api/pypi/jf2")
    big.add("demo", "1.0")
    assert fetch(privrepo, http, big, "/files/demo/demo-1.0-py3-none-any.whl").headers[
        "Location"].startswith("https://corp-artifactory.s3.amazonaws.com/jf2/demo/")


@pytest.mark.parametrize("client", ["pip", "uv"])
def test_clients_follow_the_storage_redirect_without_credentials(privrepo, client, request) -> None:
    """pip 26.3 (requests' rebuild_auth drops Authorization when the host changes) and uv
    0.13.9 follow Azure's redirect to Blob storage without the index's credentials: the
    install works and nothing leaks."""
    azure = privrepo.index("corp", profile="azure", auth=("me", "pw-9"))
    azure.add("demo", "1.0")
    runner = request.getfixturevalue(client)
    install = runner.install if client == "pip" else runner.pip_install
    result = install("demo", index=azure)
    assert result.ok
    storage = privrepo.egress.to("corp.blob.core.windows.net")
    assert storage and all(r.status == 200 and not r.credentials_offered for r in storage)
    privrepo.egress.assert_no_leaks()


def test_nexus_needs_the_trailing_slash_and_pypiserver_tells_twine_400(privrepo, http, tmp_path) -> None:
    nexus = privrepo.index("nx", profile="nexus", auth=("ci", "pw-10"))
    wheel = privrepo.build_dist(tmp_path, "slashy", "1.0")
    form = {":action": "file_upload", "protocol_version": "1", "name": "slashy", "version": "1.0",
            "filetype": "bdist_wheel", "pyversion": "py3", "metadata_version": "2.1",
            "sha256_digest": file_sha256(wheel)}

    def post(index, url, agent="python-requests"):  # type: ignore[no-untyped-def]
        return http.post(url, data=form, files={"content": (wheel.name, wheel.read_bytes())},
                         auth=("ci", "pw-10"), proxies=privrepo.gateway.proxies,
                         verify=index.ca_cert, timeout=20, headers={"User-Agent": agent})

    refused = post(nexus, nexus.upload_url.rstrip("/"))
    assert refused.status_code == 400 and "must have another '/'" in refused.text
    assert post(nexus, nexus.upload_url).status_code == 200
    pypiserver = privrepo.index("ps", profile="pypiserver", auth=("ci", "pw-10"))
    assert post(pypiserver, pypiserver.upload_url).status_code == 200
    wheel = privrepo.build_dist(tmp_path / "o", "slashy", "1.0", summary="other")  # other bytes
    form["sha256_digest"] = file_sha256(wheel)
    assert post(pypiserver, pypiserver.upload_url).status_code == 409
    assert post(pypiserver, pypiserver.upload_url, agent="twine/6.1.0 CPython/3.11").status_code == 400
