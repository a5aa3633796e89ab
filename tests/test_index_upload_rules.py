"""The legacy upload API (``POST /legacy/``) refuses what PyPI refuses, and stores nothing then.

Every refusal is checked three ways: the status, the reason phrase (``response.reason``,
which twine and uv print) and the body; and the index must be exactly as before: same
``uploads``, same served files, no new file under ``upload_root`` and no staging file
(``.upload-*.part``) or staging directory left behind.

Forms are built as twine 7 sends them (``:action``, ``protocol_version``, name, version,
filetype, pyversion, metadata_version, sha256 + blake2 digests, the ``content`` file) and
posted with requests. Tests that only need *some* index share one module-scoped index and
use distinct project names; tests whose outcome depends on index state (duplicates,
overwrite, concurrency, auth policies) get a fresh ``privrepo``.

What the simple API serves after an upload is read back with an independent parser,
pypi_simple, for both the HTML and the JSON form.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import io
import socket
import threading
import uuid
import zipfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from packaging.metadata import parse_email
from pypi_simple import ACCEPT_HTML_ONLY, ACCEPT_JSON_ONLY, PyPISimple

from pytest_privrepo import Index, Privrepo
from pytest_privrepo.dists import DistFile, build_sdist, build_wheel, inspect_dist

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "dists"

CI = ("ci", "pw")
READER = ("reader", "rpw")
TOKEN = "tok-3f9a"

FILE_EXISTS = "File already exists"
BAD_AUTH = "Invalid or non-existent authentication information."


# --------------------------------------------------------------------------- helpers


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def blake2_256(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=32).hexdigest()


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def metadata_version(dist: DistFile) -> str:
    raw, _ = parse_email(dist.metadata or b"")
    return raw.get("metadata_version", "2.1")


def twine_fields(dist: DistFile, content: bytes | None = None, **overrides: str | None) -> dict[str, str]:
    """The form twine 7 sends for ``dist`` (digests of ``content``, default the file).

    ``overrides`` replace fields; a ``None`` value removes the field. Use ``colon_action``
    for ``:action``, which is no Python identifier.
    """
    data = dist.path.read_bytes() if content is None else content
    fields: dict[str, str | None] = {
        ":action": "file_upload",
        "protocol_version": "1",
        "name": dist.name,
        "version": dist.version,
        "filetype": dist.filetype,
        "pyversion": dist.pyversion,
        "metadata_version": metadata_version(dist),
        "sha256_digest": sha256(data),
        "blake2_256_digest": blake2_256(data),
    }
    if "colon_action" in overrides:
        fields[":action"] = overrides.pop("colon_action")
    fields.update(overrides)
    return {k: v for k, v in fields.items() if v is not None}


def post(
    index: Index,
    filename: str | None,
    content: bytes,
    fields: Mapping[str, str],
    *,
    auth: tuple[str, str] | None = CI,
    url: str | None = None,
) -> requests.Response:
    """POST a multipart upload the way requests-based clients (twine) do.

    ``filename=None`` sends the same multipart form without a file part.
    """
    data: dict[str, str] | None = dict(fields)
    if filename is not None:
        files: dict = {"content": (filename, content, "application/octet-stream")}
    else:  # still multipart: every field as a part without a filename
        files, data = {k: (None, v) for k, v in fields.items()}, None
    return requests.post(
        url or index.upload_url,
        data=data,
        files=files,
        auth=auth,
        verify=index.ca_cert or True,
        cert=index.client_cert,
        allow_redirects=False,
        timeout=60,
    )


def post_dist(index: Index, dist: DistFile, *, auth: tuple[str, str] | None = CI,
              **overrides: str | None) -> requests.Response:
    return post(index, dist.filename, dist.path.read_bytes(), twine_fields(dist, **overrides), auth=auth)


def raw_multipart(fields: Mapping[str, str], filename: str, content: bytes) -> tuple[bytes, str]:
    """A multipart body whose filename is sent as an RFC 9110 quoted-string.

    Needed for backslashes: urllib3 (requests) follows the HTML5 rule and sends ``\\``
    unescaped, which werkzeug's quoted-string parser then reads as an escape and drops,
    so the server would never see the backslash. Here it is sent as ``\\\\``.
    """
    boundary = uuid.uuid4().hex
    out = bytearray()
    for key, value in fields.items():
        out += (f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n'
                f"{value}\r\n").encode()
    quoted = filename.replace("\\", "\\\\").replace('"', '\\"')
    out += (f'--{boundary}\r\nContent-Disposition: form-data; name="content"; '
            f'filename="{quoted}"\r\nContent-Type: application/octet-stream\r\n\r\n').encode()
    out += content + f"\r\n--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"


def assert_refused(response: requests.Response, status: int, reason: str, *, prefix: bool = False) -> None:
    """Status, reason phrase and body all carry the message (body: plus a newline)."""
    assert response.status_code == status, (response.status_code, response.reason, response.text)
    if prefix:
        assert response.reason.startswith(reason), response.reason
        assert response.text.startswith(reason), response.text
    else:
        assert response.reason == reason
        assert response.text == reason + "\n"


def assert_ok(response: requests.Response) -> None:
    assert response.status_code == 200, (response.status_code, response.reason, response.text)


def zip_bytes(members: Mapping[str, bytes], *, comment: bytes = b"") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        zf.comment = comment
    return buf.getvalue()


def wheel_members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


@dataclass(frozen=True)
class State:
    uploads: tuple
    files: tuple
    tree: frozenset[str]


def tree(root: Path) -> frozenset[str]:
    """Every path under ``root`` (staging files included: none may be left)."""
    if not root.exists():
        return frozenset()
    return frozenset(
        p.relative_to(root).as_posix() + ("/" if p.is_dir() else "")
        for p in root.rglob("*")
    )


def state(index: Index) -> State:
    return State(tuple(index.uploads), tuple(index.files()), tree(index.upload_root))


def assert_no_staging_leftovers(index: Index) -> None:
    root = index.upload_root
    assert not (root / ".incoming").exists(), "no staging directory"
    if root.exists():
        assert sorted(p.name for p in root.glob(".upload-*")) == [], "no staging file"


@contextmanager
def unchanged(index: Index) -> Iterator[None]:
    """The block must leave uploads, served files and stored files exactly as they were."""
    before = state(index)
    yield
    after = state(index)
    assert after.uploads == before.uploads
    assert after.files == before.files
    assert after.tree == before.tree
    assert_no_staging_leftovers(index)


def simple_client(index: Index, accept: str, auth: tuple[str, str] | None = CI) -> PyPISimple:
    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE would override session.verify
    session.auth = auth
    session.verify = index.ca_cert or True
    session.cert = index.client_cert
    return PyPISimple(endpoint=index.url, session=session, accept=accept)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def shared_repo(tmp_path_factory: pytest.TempPathFactory, privrepo_ca) -> Iterator[Privrepo]:
    with Privrepo(tmp_path_factory.mktemp("upload-rules"), ca=privrepo_ca) as repo:
        yield repo


@pytest.fixture(scope="module")
def corp(shared_repo: Privrepo) -> Index:
    """One index for every test that uses its own project names."""
    return shared_repo.index("corp", auth=[CI, READER], token=TOKEN)


@pytest.fixture(autouse=True)
def _server_errors_fail_the_test(request: pytest.FixtureRequest) -> Iterator[None]:
    """A request that crashed inside the shared server fails the test that sent it
    (the function-scoped ``privrepo`` does this itself when it closes)."""
    yield
    if "shared_repo" in request.fixturenames:
        request.getfixturevalue("shared_repo").check()


@pytest.fixture
def dist_dir(tmp_path: Path) -> Path:
    return tmp_path / "dists"


# --------------------------------------------------------------------------- the form


FORM_CASES = [
    pytest.param({"colon_action": "submit"}, "Unknown :action 'submit': only 'file_upload' is supported",
                 id="unknown-action"),
    pytest.param({"colon_action": "doc_upload"},
                 "Unknown :action 'doc_upload': only 'file_upload' is supported", id="doc-upload-action"),
    pytest.param({"colon_action": None}, "Missing :action field", id="missing-action"),
    pytest.param({"protocol_version": "2"}, "Unknown protocol version '2': only 1 is supported",
                 id="protocol-2"),
    pytest.param({"name": None}, "Missing required field: name", id="missing-name"),
    pytest.param({"name": "  "}, "Missing required field: name", id="blank-name"),
    pytest.param({"version": None}, "Missing required field: version", id="missing-version"),
    pytest.param({"filetype": None}, "Missing required field: filetype", id="missing-filetype"),
    pytest.param({"name": "-bad name-"}, "Invalid name '-bad name-'", id="invalid-name"),
    pytest.param({"version": "one.two"}, "Invalid version 'one.two'", id="invalid-version"),
    pytest.param({"filetype": "bdist_egg"},
                 "Unsupported filetype 'bdist_egg': use 'sdist' or 'bdist_wheel'", id="egg-filetype"),
    pytest.param({"sha256_digest": None, "blake2_256_digest": None},
                 "Include at least one message digest (md5_digest, sha256_digest or blake2_256_digest).",
                 id="no-digest"),
    pytest.param({"sha256_digest": "", "blake2_256_digest": " "},
                 "Include at least one message digest (md5_digest, sha256_digest or blake2_256_digest).",
                 id="empty-digests"),
    pytest.param({"md5_digest": "0" * 32},
                 "The digest supplied does not match a digest calculated from the uploaded file "
                 "(md5_digest).", id="wrong-md5"),
    pytest.param({"sha256_digest": "0" * 64},
                 "The digest supplied does not match a digest calculated from the uploaded file "
                 "(sha256_digest).", id="wrong-sha256"),
    pytest.param({"blake2_256_digest": "0" * 64},
                 "The digest supplied does not match a digest calculated from the uploaded file "
                 "(blake2_256_digest).", id="wrong-blake2"),
    pytest.param({"sha256_digest": None, "blake2_256_digest": "ab" * 32},
                 "The digest supplied does not match a digest calculated from the uploaded file "
                 "(blake2_256_digest).", id="only-blake2-wrong"),
    pytest.param({"sha256_digest": sha256(b"something else")},
                 "The digest supplied does not match a digest calculated from the uploaded file "
                 "(sha256_digest).", id="sha256-of-other-bytes"),
]


@pytest.mark.parametrize(("overrides", "reason"), FORM_CASES)
def test_form_rule_refuses_and_stores_nothing(corp: Index, dist_dir: Path, overrides, reason,
                                              request: pytest.FixtureRequest) -> None:
    dist = build_wheel(dist_dir, f"form-{request.node.callspec.id}", "1.0")
    with unchanged(corp):
        response = post_dist(corp, dist, **overrides)
        assert_refused(response, 400, reason)
    assert corp.files(dist.name) == []


def test_reason_phrase_is_one_short_line_and_the_body_has_it_all(corp: Index, dist_dir: Path) -> None:
    """Values echoed into the reason phrase cannot inject headers, and a long message is
    cut in the reason phrase (twine prints only that) but complete in the body (uv)."""
    dist = build_wheel(dist_dir, "reason-line", "1.0")
    with unchanged(corp):
        response = post_dist(corp, dist, colon_action="x\r\nX-Injected: 1")
        assert_refused(response, 400, "Unknown :action 'x\\r\\nX-Injected: 1': only 'file_upload' "
                                      "is supported")
        assert "X-Injected" not in response.headers

        long_name = "n" * 1000 + "!"
        response = post_dist(corp, dist, name=long_name)
        assert response.status_code == 400
        assert response.text == f"Invalid name {long_name!r}\n"
        assert len(response.reason) == 300
        assert response.text.startswith(response.reason)


def test_every_supplied_digest_must_match(corp: Index, dist_dir: Path) -> None:
    """A correct sha256 does not excuse a wrong md5 (flit and pdm send md5 too)."""
    dist = build_wheel(dist_dir, "digest-all", "1.0")
    data = dist.path.read_bytes()
    with unchanged(corp):
        response = post_dist(corp, dist, md5_digest=md5(data + b"x"))
        assert_refused(response, 400, "The digest supplied does not match a digest calculated "
                                      "from the uploaded file (md5_digest).")


@pytest.mark.parametrize(
    "digests",
    [
        pytest.param(("md5_digest",), id="md5-only"),
        pytest.param(("sha256_digest",), id="sha256-only"),
        pytest.param(("blake2_256_digest",), id="blake2-only"),
        pytest.param(("md5_digest", "sha256_digest", "blake2_256_digest"), id="all-three-poetry"),
    ],
)
def test_any_one_correct_digest_is_enough(corp: Index, dist_dir: Path, digests: tuple[str, ...],
                                          request: pytest.FixtureRequest) -> None:
    dist = build_wheel(dist_dir, f"digest-{request.node.callspec.id}", "1.0")
    data = dist.path.read_bytes()
    all_digests = {"md5_digest": md5(data), "sha256_digest": sha256(data),
                   "blake2_256_digest": blake2_256(data)}
    overrides = {k: (v if k in digests else None) for k, v in all_digests.items()}
    assert_ok(post_dist(corp, dist, **overrides))
    assert [f.sha256 for f in corp.files(dist.name)] == [dist.sha256]


def test_upper_case_digest_is_accepted(corp: Index, dist_dir: Path) -> None:
    dist = build_wheel(dist_dir, "digest-upper", "1.0")
    assert_ok(post_dist(corp, dist, sha256_digest=dist.sha256.upper(), blake2_256_digest=None))
    assert [f.sha256 for f in corp.files(dist.name)] == [dist.sha256]


def test_an_accepted_upload_leaves_only_the_stored_file(privrepo: Privrepo, dist_dir: Path) -> None:
    """No staging directory, staging file or lock file next to what was stored."""
    index = privrepo.index("tidy", auth=[CI])
    dist = build_wheel(dist_dir, "tidy-app", "1.0")
    assert_ok(post_dist(index, dist))
    assert tree(index.upload_root) == {"tidy-app/", f"tidy-app/{dist.path.name}"}


def test_missing_content_is_refused(corp: Index, dist_dir: Path) -> None:
    dist = build_wheel(dist_dir, "no-content", "1.0")
    with unchanged(corp):
        response = post(corp, None, b"", twine_fields(dist))
        assert_refused(response, 400, "Missing required field: content (the file)")


def test_content_sent_as_plain_field_is_refused(corp: Index, dist_dir: Path) -> None:
    dist = build_wheel(dist_dir, "content-field", "1.0")
    fields = twine_fields(dist) | {"content": "not a file part"}
    with unchanged(corp):
        assert_refused(post(corp, None, b"", fields), 400, "Missing required field: content (the file)")


def test_file_part_without_filename_is_refused(corp: Index, dist_dir: Path) -> None:
    dist = build_wheel(dist_dir, "empty-filename", "1.0")
    with unchanged(corp):
        response = post(corp, "", dist.path.read_bytes(), twine_fields(dist))
        assert_refused(response, 400, "Missing required field: content (the file)")


def test_body_that_is_not_multipart_is_refused(corp: Index, dist_dir: Path) -> None:
    dist = build_wheel(dist_dir, "urlencoded", "1.0")
    with unchanged(corp):
        response = requests.post(corp.upload_url, data=twine_fields(dist), auth=CI, timeout=30)
        assert_refused(response, 400, "Invalid request: expected multipart/form-data")


@pytest.mark.parametrize(
    ("pyversion"),
    [pytest.param(None, id="omitted-flit"), pytest.param("", id="empty-poetry")],
)
def test_sdist_without_pyversion_is_accepted(corp: Index, dist_dir: Path, pyversion,
                                             request: pytest.FixtureRequest) -> None:
    """flit omits pyversion and Poetry <= 2.2 sends it empty for sdists."""
    dist = build_sdist(dist_dir, f"pyversion-{request.node.callspec.id}", "1.0")
    assert_ok(post_dist(corp, dist, pyversion=pyversion))
    assert [f.filename for f in corp.files(dist.name)] == [dist.filename]


def test_protocol_version_may_be_omitted(corp: Index, dist_dir: Path) -> None:
    dist = build_wheel(dist_dir, "no-protocol", "1.0")
    assert_ok(post_dist(corp, dist, protocol_version=None))
    assert [f.filename for f in corp.files(dist.name)] == [dist.filename]


def test_chunked_upload_without_content_length_is_accepted(corp: Index, dist_dir: Path) -> None:
    dist = build_wheel(dist_dir, "chunked-ok", "1.0")
    prepared = requests.Request(
        "POST", corp.upload_url, data=twine_fields(dist),
        files={"content": (dist.filename, dist.path.read_bytes())}).prepare()
    body: bytes = prepared.body  # type: ignore[assignment]
    chunks = (body[i:i + 97] for i in range(0, len(body), 97))
    response = requests.post(corp.upload_url, data=chunks, auth=CI, timeout=30,
                             headers={"Content-Type": prepared.headers["Content-Type"]})
    assert response.request.headers.get("Transfer-Encoding") == "chunked"
    assert_ok(response)
    assert [f.sha256 for f in corp.files(dist.name)] == [dist.sha256]


# --------------------------------------------------------------------------- filenames


@pytest.mark.parametrize(
    "filename",
    [
        pytest.param("../fname_slash-1.0-py3-none-any.whl", id="dotdot-slash"),
        pytest.param("sub/fname_slash-1.0-py3-none-any.whl", id="slash"),
        pytest.param("/tmp/fname_slash-1.0-py3-none-any.whl", id="absolute"),
        pytest.param("..fname_slash-1.0-py3-none-any.whl", id="dotdot"),
        pytest.param("fname_slash-1.0-py3-none-any..whl", id="dotdot-inside"),
        pytest.param("fname_slash\x00-1.0-py3-none-any.whl", id="nul"),
        pytest.param("fname_slash\x01-1.0-py3-none-any.whl", id="ctrl-01"),
        pytest.param("fname_slash\t-1.0-py3-none-any.whl", id="tab"),
        pytest.param("fname_slash\x1b-1.0-py3-none-any.whl", id="escape"),
        pytest.param("fname_slash\x7f-1.0-py3-none-any.whl", id="del"),
    ],
)
def test_unsafe_filename_is_refused(corp: Index, dist_dir: Path, filename: str) -> None:
    dist = build_wheel(dist_dir, "fname-slash", "1.0")
    with unchanged(corp):
        response = post(corp, filename, dist.path.read_bytes(), twine_fields(dist))
        assert_refused(response, 400, f"Invalid filename {filename!r}: no path separators, '..' "
                                      "or control characters")
    assert corp.files("fname-slash") == []


@pytest.mark.parametrize(
    "filename",
    [
        pytest.param("sub\\fname_bs-1.0-py3-none-any.whl", id="relative"),
        pytest.param("..\\fname_bs-1.0-py3-none-any.whl", id="dotdot"),
        pytest.param("C:\\Users\\ci\\fname_bs-1.0-py3-none-any.whl", id="windows-absolute"),
    ],
)
def test_backslash_in_filename_is_refused(corp: Index, dist_dir: Path, filename: str) -> None:
    dist = build_wheel(dist_dir, "fname-bs", "1.0")
    body, content_type = raw_multipart(twine_fields(dist), filename, dist.path.read_bytes())
    with unchanged(corp):
        response = requests.post(corp.upload_url, data=body, headers={"Content-Type": content_type},
                                 auth=CI, timeout=30)
        assert_refused(response, 400, f"Invalid filename {filename!r}: no path separators, '..' "
                                      "or control characters")


def test_unescaped_backslash_from_requests_is_refused_too(corp: Index, dist_dir: Path) -> None:
    """requests sends ``\\`` raw (HTML5 style) and werkzeug reads it as an escape and drops
    it: whatever name the server then sees, the upload must be refused and store nothing."""
    dist = build_wheel(dist_dir, "fname-bs2", "1.0")
    with unchanged(corp):
        response = post(corp, "evil\\fname_bs2-1.0-py3-none-any.whl", dist.path.read_bytes(),
                        twine_fields(dist))
        assert response.status_code == 400, response.text
        assert response.reason == response.text.rstrip("\n")


@pytest.mark.parametrize(
    ("filetype", "filename", "reason"),
    [
        pytest.param("sdist", "ext_check-1.0-py3-none-any.whl",
                     "Invalid file extension for filetype 'sdist' in 'ext_check-1.0-py3-none-any.whl': "
                     "use .tar.gz or .zip", id="sdist-as-whl"),
        pytest.param("sdist", "ext_check-1.0.tar.bz2",
                     "Invalid file extension for filetype 'sdist' in 'ext_check-1.0.tar.bz2': "
                     "use .tar.gz or .zip", id="sdist-tar-bz2"),
        pytest.param("sdist", "ext_check-1.0.egg",
                     "Invalid file extension for filetype 'sdist' in 'ext_check-1.0.egg': "
                     "use .tar.gz or .zip", id="sdist-egg"),
        pytest.param("bdist_wheel", "ext_check-1.0.tar.gz",
                     "Invalid file extension for filetype 'bdist_wheel' in 'ext_check-1.0.tar.gz': "
                     "use .whl", id="wheel-as-tar-gz"),
        pytest.param("bdist_wheel", "ext_check-1.0-py3-none-any.zip",
                     "Invalid file extension for filetype 'bdist_wheel' in "
                     "'ext_check-1.0-py3-none-any.zip': use .whl", id="wheel-as-zip"),
        pytest.param("bdist_wheel", "ext_check-1.0-py3-none-any.WHL",
                     "Invalid file extension for filetype 'bdist_wheel' in "
                     "'ext_check-1.0-py3-none-any.WHL': use .whl", id="wheel-upper-case"),
    ],
)
def test_extension_must_match_filetype(corp: Index, dist_dir: Path, filetype: str, filename: str,
                                       reason: str) -> None:
    wheel = build_wheel(dist_dir, "ext-check", "1.0")
    data = wheel.path.read_bytes()
    with unchanged(corp):
        response = post(corp, filename, data, twine_fields(wheel, filetype=filetype))
        assert_refused(response, 400, reason)


@pytest.mark.parametrize(
    ("form", "filename", "reason"),
    [
        pytest.param({"name": "fn-form"}, "fn_other-1.0-py3-none-any.whl",
                     "Start filename for 'fn-form' with 'fn_form' (got 'fn_other-1.0-py3-none-any.whl')",
                     id="wheel-other-name"),
        pytest.param({"name": "fn-form"}, "fn_form_extra-1.0-py3-none-any.whl",
                     "Start filename for 'fn-form' with 'fn_form' "
                     "(got 'fn_form_extra-1.0-py3-none-any.whl')", id="wheel-longer-name"),
        pytest.param({"name": "fn-form", "version": "1.0"}, "fn_form-2.0-py3-none-any.whl",
                     "Version in filename 'fn_form-2.0-py3-none-any.whl' does not match the form's "
                     "version '1.0'", id="wheel-other-version"),
        pytest.param({"name": "fn-form", "version": "1.0"}, "fn_form-py3-none-any.whl",
                     None, id="wheel-unparsable"),
    ],
)
def test_wheel_filename_must_match_form(corp: Index, dist_dir: Path, form, filename, reason) -> None:
    wheel = build_wheel(dist_dir, "fn-form", "1.0")
    with unchanged(corp):
        response = post(corp, filename, wheel.path.read_bytes(), twine_fields(wheel, **form))
        if reason is None:
            assert_refused(response, 400, f"Invalid wheel filename {filename!r}: ", prefix=True)
        else:
            assert_refused(response, 400, reason)


@pytest.mark.parametrize("form_name", ["Norm.Check", "norm-check", "NORM_CHECK", "norm.check", "Norm__Check"])
def test_wheel_filename_is_compared_normalised(privrepo: Privrepo, dist_dir: Path, form_name: str) -> None:
    """``Corp.App`` in the form and ``corp_app-...whl`` on disk are the same project."""
    index = privrepo.index("norm", auth=CI)
    wheel = build_wheel(dist_dir, "Norm.Check", "1.0")
    assert wheel.filename == "norm_check-1.0-py3-none-any.whl"
    response = post(index, wheel.filename, wheel.path.read_bytes(), twine_fields(wheel, name=form_name))
    assert_ok(response)
    assert [u.filename for u in index.uploads] == [wheel.filename]
    assert index.uploads[0].name == form_name
    assert [f.filename for f in index.files("norm-check")] == [wheel.filename]


def test_form_version_is_compared_normalised(corp: Index, dist_dir: Path) -> None:
    wheel = build_wheel(dist_dir, "vnorm", "1.0.post1")
    assert_ok(post_dist(corp, wheel, version="1.0-post1"))
    assert [u.version for u in corp.uploads if u.filename == wheel.filename] == ["1.0.post1"]


@pytest.mark.parametrize(
    ("form_name", "filename"),
    [
        pytest.param("Sd.Name", "Sd.Name-1.0.tar.gz", id="dotted-name"),
        pytest.param("sd-name", "sd-name-1.0.tar.gz", id="dashed-name"),
        pytest.param("sd-name", "SD_NAME-1.0.tar.gz", id="upper-case"),
        pytest.param("sd-name", "sd_name-1.0.0.tar.gz", id="unnormalised-version"),
        pytest.param("sd-name", "sd_name-2.0.tar.gz", id="other-version"),
        pytest.param("sd-name", "other-1.0.tar.gz", id="other-name"),
        pytest.param("sd-name", "sd_name-1.0.zip.tar.gz", id="junk-suffix"),
    ],
)
def test_sdist_filename_must_be_normalised(corp: Index, dist_dir: Path, form_name: str, filename: str) -> None:
    sdist = build_sdist(dist_dir, "sd-name", "1.0")
    ext = ".zip" if filename.endswith(".zip") else ".tar.gz"
    with unchanged(corp):
        response = post(corp, filename, sdist.path.read_bytes(), twine_fields(sdist, name=form_name))
        assert_refused(response, 400, f"Invalid sdist filename {filename!r}: it must be "
                                      f"sd_name-1.0{ext} (normalised name and version)")


def test_normalised_sdist_of_dotted_name_is_accepted(corp: Index, dist_dir: Path) -> None:
    sdist = build_sdist(dist_dir, "Sd.Dotted", "1.0")
    assert sdist.filename == "sd_dotted-1.0.tar.gz"
    assert_ok(post_dist(corp, sdist))
    upload = corp.uploads[-1]
    assert (upload.filename, upload.name, upload.filetype, upload.pyversion) == (
        "sd_dotted-1.0.tar.gz", "Sd.Dotted", "sdist", "source")


def test_non_latin1_filename_is_refused_with_a_safe_reason(corp: Index, dist_dir: Path) -> None:
    """The reason phrase must stay one latin-1 line; the body keeps the real name (UTF-8)."""
    dist = build_wheel(dist_dir, "uni-name", "1.0")
    filename = "uni_name\u540d-1.0-py3-none-any.whl"
    with unchanged(corp):
        response = post(corp, filename, dist.path.read_bytes(), twine_fields(dist))
    assert response.status_code == 400
    assert response.reason == ("Start filename for 'uni-name' with 'uni_name' "
                               "(got 'uni_name?-1.0-py3-none-any.whl')")
    response.encoding = "utf-8"
    assert response.text == f"Start filename for 'uni-name' with 'uni_name' (got {filename!r})\n"


def test_zip_sdist_is_accepted(corp: Index, tmp_path: Path) -> None:
    metadata = b"Metadata-Version: 2.1\nName: zip-sdist\nVersion: 1.0\n"
    data = zip_bytes({"zip_sdist-1.0/PKG-INFO": metadata, "zip_sdist-1.0/setup.py": b""})
    fields = {":action": "file_upload", "protocol_version": "1", "name": "zip-sdist", "version": "1.0",
              "filetype": "sdist", "pyversion": "source", "metadata_version": "2.1",
              "sha256_digest": sha256(data)}
    assert_ok(post(corp, "zip_sdist-1.0.zip", data, fields))
    [stored] = corp.files("zip-sdist")
    assert (stored.filename, stored.sha256) == ("zip_sdist-1.0.zip", sha256(data))


def _long_wheel(name_length: int) -> tuple[str, bytes, dict[str, str]]:
    """A valid wheel of a project with a ``name_length``-character name, built in memory
    (build_wheel's temp file name would itself be too long for the filesystem)."""
    name = "a" * name_length
    stem = f"{name}-1.0"
    data = zip_bytes({
        f"{stem}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n".encode(),
        f"{stem}.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                                   b"Tag: py3-none-any\n",
        f"{stem}.dist-info/RECORD": b"",
    })
    fields = {":action": "file_upload", "protocol_version": "1", "name": name, "version": "1.0",
              "filetype": "bdist_wheel", "pyversion": "py3", "metadata_version": "2.1",
              "sha256_digest": sha256(data)}
    return f"{stem}-py3-none-any.whl", data, fields


def test_overlong_filename_is_refused_not_a_server_error(corp: Index) -> None:
    """Regression: a filename over the filesystem's 255-byte limit used to crash the
    upload handler (500, ServerError, a staging file left behind)."""
    filename, data, fields = _long_wheel(240)
    assert len(filename.encode()) == 261
    with unchanged(corp):
        response = post(corp, filename, data, fields)
        assert_refused(response, 400, "Invalid filename: 261 bytes is longer than the 255 allowed")


def test_filename_of_255_bytes_is_accepted(corp: Index) -> None:
    filename, data, fields = _long_wheel(234)
    assert len(filename.encode()) == 255
    assert_ok(post(corp, filename, data, fields))
    assert [f.filename for f in corp.files("a" * 234)] == [filename]


@pytest.mark.parametrize(("filename", "what"), [
    pytest.param("tagged-1.0-py3-none-any x.whl", "platform tag 'any x'", id="space"),
    pytest.param("tagged-1.0-py3-none-an;y.whl", "platform tag 'an;y'", id="semicolon"),
    pytest.param("tagged-1.0-py3-none-any%20.whl", "platform tag 'any%20'", id="percent-escape"),
    pytest.param("tagged-1.0-py3-none-any\u00e9.whl", "platform tag 'any\u00e9'", id="non-ascii"),
    pytest.param("tagged-1.0-py3-none-\u202eany.whl", "platform tag '\\u202eany'", id="bidi-override"),
    pytest.param("tagged-1.0-py3-no ne-any.whl", "abi tag 'no ne'", id="abi-space"),
    pytest.param("tagged-1.0-1;x-py3-none-any.whl", "build tag '1;x'", id="build-tag"),
])
def test_wheel_tags_outside_the_allowed_characters_are_refused(corp: Index, dist_dir: Path,
                                                               filename: str, what: str) -> None:
    """packaging's parse_wheel_filename accepts these (as of packaging 25); PEP 427 escapes
    every other character to ``_``, and a tag ends up in pages, JSON and client caches."""
    wheel = build_wheel(dist_dir, "tagged", "1.0")
    with unchanged(corp):
        response = post(corp, filename, wheel.path.read_bytes(), twine_fields(wheel))
        assert response.status_code == 400
        response.encoding = "utf-8"
        assert response.text.startswith(f"Invalid wheel filename {filename!r}: {what} ")
    assert corp.files("tagged") == []


def test_compressed_tag_sets_and_build_tags_are_accepted(corp: Index, dist_dir: Path) -> None:
    wheel = build_wheel(dist_dir, "tagsets", "1.0")
    filename = "tagsets-1.0-1_b2-py2.py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
    assert_ok(post(corp, filename, wheel.path.read_bytes(), twine_fields(wheel)))
    assert [f.filename for f in corp.files("tagsets")] == [filename]


VARIANTS = [
    pytest.param("Variant-1.0-py3-none-any.whl", id="upper-case-name"),
    pytest.param("variant-1.0.0-py3-none-any.whl", id="unnormalised-version"),
    pytest.param("VARIANT-1.0-PY3-none-any.whl", id="upper-case-tag"),
]


def _variant_wheel(dist_dir: Path, filename: str, summary: str) -> tuple[str, bytes]:
    """A wheel stored as ``filename`` whose dist-info directory matches that spelling."""
    wheel = build_wheel(dist_dir / summary, "variant", "1.0", summary=summary)
    stem = "-".join(filename.split("-")[:2])
    members = {name.replace("variant-1.0.dist-info", f"{stem}.dist-info"): data
               for name, data in wheel_members(wheel.path).items()}
    return filename, zip_bytes(members)


@pytest.mark.parametrize("variant", VARIANTS)
def test_case_or_normalisation_variant_of_a_file_is_a_duplicate(privrepo: Privrepo, dist_dir: Path,
                                                                variant: str) -> None:
    index = privrepo.index("variants", auth=CI)
    original = build_wheel(dist_dir / "orig", "variant", "1.0")
    assert original.filename == "variant-1.0-py3-none-any.whl"
    assert_ok(post_dist(index, original))
    filename, data = _variant_wheel(dist_dir, variant, "other bytes")
    with unchanged(index):
        response = post(index, filename, data, twine_fields(original, content=data))
        assert_refused(response, 400, FILE_EXISTS, prefix=True)
        assert f"{variant!r} is the same distribution as 'variant-1.0-py3-none-any.whl'" in response.text
    assert [f.filename for f in index.files("variant")] == [original.filename]


def test_variant_with_the_same_bytes_is_a_no_op(privrepo: Privrepo, dist_dir: Path) -> None:
    index = privrepo.index("variants", auth=CI)
    original = build_wheel(dist_dir, "variant", "1.0")
    assert_ok(post_dist(index, original))
    data = original.path.read_bytes()
    with unchanged(index):
        assert_ok(post(index, "Variant-1.0-py3-none-any.whl", data, twine_fields(original)))


def test_variant_replaces_the_file_on_an_overwrite_index(privrepo: Privrepo, dist_dir: Path) -> None:
    index = privrepo.index("variants", auth=CI, overwrite=True)
    original = build_wheel(dist_dir / "orig", "variant", "1.0")
    assert_ok(post_dist(index, original))
    filename, data = _variant_wheel(dist_dir, "Variant-1.0-py3-none-any.whl", "replacement")
    assert_ok(post(index, filename, data, twine_fields(original, content=data)))
    [stored] = index.files("variant")
    assert (stored.filename, stored.sha256) == (filename, sha256(data))
    assert [(u.filename, u.replaced) for u in index.uploads] == [
        (original.filename, False), (filename, True)]
    [package] = simple_client(index, ACCEPT_JSON_ONLY).get_project_page("variant").packages
    assert package.filename == filename


# --------------------------------------------------------------------------- file contents


def test_wheel_that_is_not_a_zip_is_refused(corp: Index) -> None:
    data = b"this is not a zip archive\n" * 4
    filename = "notzip-1.0-py3-none-any.whl"
    fields = {":action": "file_upload", "protocol_version": "1", "name": "notzip", "version": "1.0",
              "filetype": "bdist_wheel", "pyversion": "py3", "metadata_version": "2.1",
              "sha256_digest": sha256(data), "blake2_256_digest": blake2_256(data)}
    with unchanged(corp):
        assert_refused(post(corp, filename, data, fields), 400,
                       "Invalid distribution file: the wheel is not a valid zip archive")


def test_truncated_wheel_is_refused(corp: Index, dist_dir: Path) -> None:
    wheel = build_wheel(dist_dir, "truncated", "1.0")
    data = wheel.path.read_bytes()[:-40]
    with unchanged(corp):
        response = post(corp, wheel.filename, data, twine_fields(wheel, content=data))
        assert_refused(response, 400, "Invalid distribution file: the wheel is not a valid zip archive")


@pytest.mark.parametrize("missing", ["METADATA", "WHEEL"])
def test_wheel_without_metadata_or_wheel_file_is_refused(corp: Index, dist_dir: Path, missing: str) -> None:
    name = f"lacks-{missing.lower()}"
    wheel = build_wheel(dist_dir, name, "1.0")
    stem = f"lacks_{missing.lower()}-1.0"
    members = wheel_members(wheel.path)
    assert f"{stem}.dist-info/{missing}" in members
    del members[f"{stem}.dist-info/{missing}"]
    data = zip_bytes(members)
    with unchanged(corp):
        response = post(corp, wheel.filename, data, twine_fields(wheel, content=data))
        assert_refused(response, 400, f"Invalid distribution file: the wheel does not contain "
                                      f"{stem}.dist-info/{missing}")


def test_wheel_whose_dist_info_is_misnamed_is_refused(corp: Index, dist_dir: Path) -> None:
    wheel = build_wheel(dist_dir, "distinfo-dir", "1.0")
    members = {k.replace("distinfo_dir-1.0.dist-info", "somethingelse-1.0.dist-info"): v
               for k, v in wheel_members(wheel.path).items()}
    data = zip_bytes(members)
    with unchanged(corp):
        response = post(corp, wheel.filename, data, twine_fields(wheel, content=data))
        assert_refused(response, 400, "Invalid distribution file: the wheel does not contain "
                                      "distinfo_dir-1.0.dist-info/METADATA")


def test_wheel_with_duplicate_entries_is_refused(corp: Index, dist_dir: Path) -> None:
    wheel = build_wheel(dist_dir, "dup-entries", "1.0")
    buf = io.BytesIO(wheel.path.read_bytes())
    with pytest.warns(UserWarning, match="Duplicate name"), zipfile.ZipFile(buf, "a") as zf:
        zf.writestr("dup_entries/__init__.py", b"evil = True\n")
    data = buf.getvalue()
    with unchanged(corp):
        response = post(corp, wheel.filename, data, twine_fields(wheel, content=data))
        assert_refused(response, 400, "Invalid distribution file: the wheel contains duplicate entries")


@pytest.mark.parametrize(
    ("meta_name", "meta_version", "reason"),
    [
        pytest.param("other-project", "1.0",
                     "Invalid distribution file: name in filename 'meta_mismatch' does not match "
                     "metadata 'other-project' in 'meta_mismatch-1.0-py3-none-any.whl'", id="name"),
        pytest.param("meta-mismatch", "2.0",
                     "Invalid distribution file: version in filename '1.0' does not match metadata "
                     "'2.0' in 'meta_mismatch-1.0-py3-none-any.whl'", id="version"),
    ],
)
def test_wheel_metadata_must_agree_with_form(corp: Index, dist_dir: Path, meta_name: str,
                                             meta_version: str, reason: str) -> None:
    wheel = build_wheel(dist_dir, "meta-mismatch", "1.0")
    members = wheel_members(wheel.path)
    key = "meta_mismatch-1.0.dist-info/METADATA"
    members[key] = (members[key].replace(b"Name: meta-mismatch", f"Name: {meta_name}".encode())
                    .replace(b"Version: 1.0", f"Version: {meta_version}".encode()))
    assert f"Name: {meta_name}\n".encode() in members[key]
    data = zip_bytes(members)
    with unchanged(corp):
        response = post(corp, wheel.filename, data, twine_fields(wheel, content=data))
        assert_refused(response, 400, reason)


def test_sdist_that_is_not_a_tarball_is_refused(corp: Index) -> None:
    data = b"plain text, not gzip"
    filename = "badtar-1.0.tar.gz"
    fields = {":action": "file_upload", "protocol_version": "1", "name": "badtar", "version": "1.0",
              "filetype": "sdist", "pyversion": "source", "metadata_version": "2.1",
              "sha256_digest": sha256(data)}
    with unchanged(corp):
        response = post(corp, filename, data, fields)
        assert_refused(response, 400, "Invalid distribution file: not an sdist: 'badtar-1.0.tar.gz' "
                                      "is not a valid .tar.gz: ", prefix=True)


def test_sdist_whose_pkg_info_names_another_version_is_refused(corp: Index, dist_dir: Path) -> None:
    other = build_sdist(dist_dir / "v2", "sd-meta", "2.0")
    data = other.path.read_bytes()
    fields = twine_fields(other, content=data, version="1.0")
    with unchanged(corp):
        response = post(corp, "sd_meta-1.0.tar.gz", data, fields)
        assert_refused(response, 400, "Invalid distribution file: version in filename '1.0' does not "
                                      "match metadata '2.0' in 'sd_meta-1.0.tar.gz'")


@pytest.mark.parametrize(
    "fixture",
    ["six-1.16.0-py2.py3-none-any.whl", "six-1.16.0.tar.gz", "jaraco.classes-3.4.0-py3-none-any.whl"],
)
def test_real_distributions_are_accepted(privrepo: Privrepo, fixture: str) -> None:
    """Files built by real tools (setuptools, old-style dotted wheel names) pass every rule."""
    index = privrepo.index("real", auth=CI)
    dist = inspect_dist(FIXTURES / fixture)
    assert_ok(post_dist(index, dist))
    [upload] = index.uploads
    assert (upload.filename, upload.sha256, upload.size) == (fixture, dist.sha256, dist.size)
    assert upload.path.read_bytes() == (FIXTURES / fixture).read_bytes()


# --------------------------------------------------------------------------- size limits


def _padded_wheel(dist_dir: Path, name: str, size: int) -> tuple[DistFile, bytes]:
    """A valid wheel of exactly ``size`` bytes (padded with a zip comment)."""
    wheel = build_wheel(dist_dir, name, "1.0")
    members = wheel_members(wheel.path)
    base = len(zip_bytes(members))
    assert base <= size, f"synthetic wheel is {base} bytes, larger than {size}"
    data = zip_bytes(members, comment=b"#" * (size - base))
    assert len(data) == size
    return wheel, data


@pytest.fixture
def small(privrepo: Privrepo) -> Index:
    return privrepo.index("small", auth=CI, max_upload_size=1024)


def test_file_over_the_size_limit_is_refused(small: Index, dist_dir: Path) -> None:
    wheel, data = _padded_wheel(dist_dir, "big", 1025)
    with unchanged(small):
        response = post(small, wheel.filename, data, twine_fields(wheel, content=data))
        assert_refused(response, 400, "File too large. Limit for index 'small' is ", prefix=True)
        assert response.reason.endswith("Limit for index 'small' is 1024 bytes.")
    assert small.uploads == []


def test_file_at_the_size_limit_is_accepted(small: Index, dist_dir: Path) -> None:
    wheel, data = _padded_wheel(dist_dir, "exact", 1024)
    assert_ok(post(small, wheel.filename, data, twine_fields(wheel, content=data)))
    [upload] = small.uploads
    assert (upload.size, upload.sha256) == (1024, sha256(data))
    assert upload.path.read_bytes() == data


def test_body_far_over_the_limit_gets_413(small: Index, dist_dir: Path) -> None:
    """A Content-Length far over the limit gets 413 without the body being parsed."""
    wheel = build_wheel(dist_dir, "huge", "1.0")
    data = b"\0" * (3 << 20)
    with unchanged(small):
        response = post(small, wheel.filename, data, twine_fields(wheel, content=data))
        assert_refused(response, 413, "File too large. Limit for index 'small' is ", prefix=True)


def test_declared_huge_content_length_gets_413_without_a_body(small: Index) -> None:
    """10 GiB announced, nothing sent: the answer comes at once, nothing is staged."""
    token = base64.b64encode(b"ci:pw").decode()
    head = (
        f"POST /legacy/ HTTP/1.1\r\nHost: {small.netloc}\r\nAuthorization: Basic {token}\r\n"
        "Content-Type: multipart/form-data; boundary=xyz\r\n"
        f"Content-Length: {10 << 30}\r\n\r\n"
    ).encode()
    with unchanged(small):
        with socket.create_connection((small.host, small.port), timeout=15) as sock:
            sock.sendall(head)
            response = http.client.HTTPResponse(sock)
            response.begin()
            body = response.read().decode()
        assert response.status == 413
        assert response.reason.startswith("File too large. Limit for index 'small' is ")
        assert body == response.reason + "\n"


def test_chunked_upload_over_the_limit_is_refused(small: Index, dist_dir: Path) -> None:
    """Without a Content-Length the 413 shortcut cannot apply: the streamed size decides."""
    wheel, data = _padded_wheel(dist_dir, "chunked-big", 4000)
    prepared = requests.Request(
        "POST", small.upload_url, data=twine_fields(wheel, content=data),
        files={"content": (wheel.filename, data)}).prepare()
    body: bytes = prepared.body  # type: ignore[assignment]
    with unchanged(small):
        response = requests.post(small.upload_url, data=(body[i:i + 512] for i in range(0, len(body), 512)),
                                 headers={"Content-Type": prepared.headers["Content-Type"]},
                                 auth=CI, timeout=30)
        assert response.request.headers.get("Transfer-Encoding") == "chunked"
        assert_refused(response, 400, "File too large. Limit for index 'small' is ", prefix=True)


def test_client_disconnecting_mid_upload_leaves_nothing(corp: Index, dist_dir: Path) -> None:
    wheel = build_wheel(dist_dir, "cut-short", "1.0")
    prepared = requests.Request(
        "POST", corp.upload_url, data=twine_fields(wheel),
        files={"content": (wheel.filename, wheel.path.read_bytes())}).prepare()
    body: bytes = prepared.body  # type: ignore[assignment]
    token = base64.b64encode(b"ci:pw").decode()
    head = (f"POST /legacy/ HTTP/1.1\r\nHost: {corp.netloc}\r\nAuthorization: Basic {token}\r\n"
            f"Content-Type: {prepared.headers['Content-Type']}\r\nContent-Length: {len(body)}\r\n\r\n")
    with unchanged(corp):
        with socket.create_connection((corp.host, corp.port), timeout=15) as sock:
            sock.sendall(head.encode() + body[: len(body) // 2 + 200])  # ends inside the file part
            sock.shutdown(socket.SHUT_WR)
            response = http.client.HTTPResponse(sock)
            response.begin()
            response.read()
        assert response.status == 400
    assert corp.files("cut-short") == []


# --------------------------------------------------------------------------- endpoint shape


def test_legacy_without_slash_redirects_with_308(corp: Index, dist_dir: Path) -> None:
    wheel = build_wheel(dist_dir, "noslash", "1.0")
    with unchanged(corp):
        response = post(corp, wheel.filename, wheel.path.read_bytes(), twine_fields(wheel),
                        url=corp.upload_url.rstrip("/"))
        assert response.status_code == 308
        assert response.headers["Location"] == "/legacy/"


def test_legacy_without_slash_redirects_under_a_prefix(privrepo: Privrepo) -> None:
    first = privrepo.index("first", auth=CI)
    team = privrepo.index("team", auth=CI, share=first)
    assert team.upload_url.endswith("/team/legacy/")
    response = requests.post(team.upload_url.rstrip("/"), auth=CI, allow_redirects=False, timeout=30)
    assert response.status_code == 308
    assert response.headers["Location"] == "/team/legacy/"


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_other_methods_get_405(corp: Index, method: str) -> None:
    with unchanged(corp):
        response = requests.request(method, corp.upload_url, auth=CI, timeout=30)
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"


# --------------------------------------------------------------------------- duplicates


def test_same_bytes_again_is_a_no_op(privrepo: Privrepo, dist_dir: Path) -> None:
    index = privrepo.index("dup", auth=CI)
    wheel = build_wheel(dist_dir, "dupe", "1.0")
    assert_ok(post_dist(index, wheel))
    with unchanged(index):
        response = post_dist(index, wheel)
        assert_ok(response)
    assert len(index.uploads) == 1
    assert index.uploads[0].sha256 == wheel.sha256


def test_other_bytes_under_an_existing_name_are_refused(privrepo: Privrepo, dist_dir: Path) -> None:
    index = privrepo.index("dup", auth=CI)
    first = build_wheel(dist_dir / "a", "dupe", "1.0")
    second = build_wheel(dist_dir / "b", "dupe", "1.0", summary="different bytes")
    assert first.filename == second.filename and first.sha256 != second.sha256
    assert_ok(post_dist(index, first))
    with unchanged(index):
        response = post_dist(index, second)
        assert_refused(response, 400, FILE_EXISTS, prefix=True)
        assert response.reason == response.text.rstrip("\n")
        assert first.sha256 in response.text
    assert index.files("dupe")[0].path.read_bytes() == first.path.read_bytes()


def test_file_added_by_the_test_counts_as_existing(privrepo: Privrepo, dist_dir: Path) -> None:
    """Files served via ``index.add`` block other bytes and accept identical ones."""
    index = privrepo.index("seeded", auth=CI)
    [stored] = index.add("seeded-pkg", "1.0")
    same = build_wheel(dist_dir / "same", "seeded-pkg", "1.0")
    other = build_wheel(dist_dir / "other", "seeded-pkg", "1.0", summary="other")
    assert same.sha256 == stored.sha256 and other.sha256 != stored.sha256
    with unchanged(index):
        assert_refused(post_dist(index, other), 400, FILE_EXISTS, prefix=True)
        assert_ok(post_dist(index, same))


def test_refused_duplicate_leaves_no_directory_in_a_separate_upload_dir(
        privrepo: Privrepo, dist_dir: Path, tmp_path: Path) -> None:
    index = privrepo.index("seeded", auth=CI, upload_dir=tmp_path / "uploads")
    index.add("seeded-elsewhere", "1.0")
    other = build_wheel(dist_dir, "seeded-elsewhere", "1.0", summary="other")
    with unchanged(index):
        assert_refused(post_dist(index, other), 400, FILE_EXISTS, prefix=True)


def test_overwrite_index_replaces_the_file(privrepo: Privrepo, dist_dir: Path) -> None:
    index = privrepo.index("volatile", auth=CI, overwrite=True)
    first = build_wheel(dist_dir / "a", "over", "1.0")
    second = build_wheel(dist_dir / "b", "over", "1.0", summary="replacement")
    client = simple_client(index, ACCEPT_HTML_ONLY)

    assert_ok(post_dist(index, first))
    [before] = client.get_project_page("over").packages
    assert before.digests["sha256"] == first.sha256

    assert_ok(post_dist(index, second))
    assert [(u.sha256, u.replaced) for u in index.uploads] == [(first.sha256, False), (second.sha256, True)]
    [after] = client.get_project_page("over").packages
    assert after.digests["sha256"] == second.sha256
    assert after.filename == before.filename
    [stored] = index.files("over")
    assert stored.path.read_bytes() == second.path.read_bytes()
    download = requests.get(requests.compat.urljoin(index.url + "over/", after.url), auth=CI, timeout=30)
    assert sha256(download.content) == second.sha256
    assert client.get_package_metadata_bytes(after) == second.metadata
    assert_no_staging_leftovers(index)


def _race(index: Index, wheels: list[DistFile]) -> list[requests.Response]:
    barrier = threading.Barrier(len(wheels))
    results: list[requests.Response | Exception | None] = [None] * len(wheels)
    payloads = [(w.filename, w.path.read_bytes(), twine_fields(w)) for w in wheels]

    def worker(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = post(index, *payloads[i])
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            results[i] = exc

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(wheels))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert all(isinstance(r, requests.Response) for r in results), results
    return results  # type: ignore[return-value]


def test_concurrent_uploads_of_one_name_store_exactly_one(privrepo: Privrepo, dist_dir: Path) -> None:
    index = privrepo.index("race", auth=CI)
    wheels = [build_wheel(dist_dir / str(i), "racer", "1.0", summary=f"contender {i}") for i in range(8)]
    assert len({w.filename for w in wheels}) == 1 and len({w.sha256 for w in wheels}) == 8

    responses = _race(index, wheels)

    winners = [i for i, r in enumerate(responses) if r.status_code == 200]
    assert len(winners) == 1, [(r.status_code, r.reason) for r in responses]
    for i, r in enumerate(responses):
        if i not in winners:
            assert_refused(r, 400, FILE_EXISTS, prefix=True)
    winner = wheels[winners[0]]
    [upload] = index.uploads
    [stored] = index.files("racer")
    assert upload.sha256 == stored.sha256 == winner.sha256
    assert sha256(stored.path.read_bytes()) == winner.sha256
    [package] = simple_client(index, ACCEPT_HTML_ONLY).get_project_page("racer").packages
    assert package.digests["sha256"] == winner.sha256
    assert sorted(p.name for p in stored.path.parent.iterdir()) == [winner.filename]
    assert_no_staging_leftovers(index)


def test_concurrent_overwrites_leave_the_last_committed_file(privrepo: Privrepo, dist_dir: Path) -> None:
    index = privrepo.index("race-over", auth=CI, overwrite=True)
    wheels = [build_wheel(dist_dir / str(i), "racer", "1.0", summary=f"contender {i}") for i in range(8)]
    responses = _race(index, wheels)
    assert [r.status_code for r in responses] == [200] * 8
    assert len(index.uploads) == 8
    assert sum(not u.replaced for u in index.uploads) == 1
    last = index.uploads[-1]
    [stored] = index.files("racer")
    assert sha256(stored.path.read_bytes()) == stored.sha256 == last.sha256
    [package] = simple_client(index, ACCEPT_JSON_ONLY).get_project_page("racer").packages
    assert package.digests["sha256"] == last.sha256
    assert_no_staging_leftovers(index)


# --------------------------------------------------------------------------- auth


def test_no_credentials_get_401_with_a_challenge(corp: Index, dist_dir: Path) -> None:
    wheel = build_wheel(dist_dir, "anon", "1.0")
    with unchanged(corp):
        response = post_dist(corp, wheel, auth=None)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Basic realm="pytest-privrepo corp"'
    hit = corp.log[-1]
    assert (hit.method, hit.status, hit.user, hit.auth_ok) == ("POST", 401, None, None)


@pytest.mark.parametrize("auth", [("ci", "wrong"), ("nobody", "pw"), ("__token__", "not-the-token")],
                         ids=["wrong-password", "unknown-user", "wrong-token"])
def test_wrong_credentials_get_403(corp: Index, dist_dir: Path, auth: tuple[str, str]) -> None:
    wheel = build_wheel(dist_dir, "badauth", "1.0")
    with unchanged(corp):
        response = post_dist(corp, wheel, auth=auth)
        assert_refused(response, 403, BAD_AUTH)
    assert "WWW-Authenticate" not in response.headers
    assert (corp.log[-1].user, corp.log[-1].auth_ok) == (auth[0], False)


def test_user_without_upload_permission_gets_403(privrepo: Privrepo, dist_dir: Path) -> None:
    index = privrepo.index("restricted", auth=[CI, READER], uploaders=["ci"])
    wheel = build_wheel(dist_dir, "perm", "1.0")
    with unchanged(index):
        response = post_dist(index, wheel, auth=READER)
        assert_refused(response, 403, "User 'reader' does not have permission to upload to index "
                                      "'restricted'.")
    # the reader may still read, and ci may upload
    assert requests.get(index.url, auth=READER, timeout=30).status_code == 200
    assert_ok(post_dist(index, wheel, auth=CI))
    assert [u.user for u in index.uploads] == ["ci"]


def test_public_read_index_still_needs_credentials_to_upload(privrepo: Privrepo, dist_dir: Path) -> None:
    index = privrepo.index("public", auth=CI, public_read=True)
    index.add("already-there", "1.0")
    wheel = build_wheel(dist_dir, "pub", "1.0")
    page = requests.get(index.url + "already-there/", timeout=30)
    assert page.status_code == 200 and "already_there-1.0-py3-none-any.whl" in page.text
    with unchanged(index):
        response = post_dist(index, wheel, auth=None)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic realm=")
    assert_ok(post_dist(index, wheel, auth=CI))
    # and the anonymous reader sees the new file at once
    [package] = simple_client(index, ACCEPT_JSON_ONLY, auth=None).get_project_page("pub").packages
    assert package.digests["sha256"] == wheel.sha256


def test_token_is_accepted_and_recorded_as_token_user(corp: Index, dist_dir: Path) -> None:
    wheel = build_wheel(dist_dir, "tokened", "1.0")
    assert_ok(post_dist(corp, wheel, auth=("__token__", TOKEN)))
    upload = corp.uploads[-1]
    assert (upload.filename, upload.user) == (wheel.filename, "__token__")
    assert corp.files("tokened")[0].uploaded_by == "__token__"
    assert (corp.log[-1].user, corp.log[-1].auth_ok) == ("__token__", True)


def test_bearer_token_and_empty_user_token_are_recorded_as_token_user(corp: Index, dist_dir: Path) -> None:
    """``Authorization: Bearer <token>`` and Artifactory's ``:<token>`` both mean __token__."""
    bearer = build_wheel(dist_dir, "bearer-tok", "1.0")
    response = requests.post(corp.upload_url, data=twine_fields(bearer),
                             files={"content": (bearer.filename, bearer.path.read_bytes())},
                             headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    assert_ok(response)
    empty_user = build_wheel(dist_dir, "empty-user-tok", "1.0")
    assert_ok(post_dist(corp, empty_user, auth=("", TOKEN)))
    users = {u.filename: u.user for u in corp.uploads}
    assert users[bearer.filename] == users[empty_user.filename] == "__token__"


def test_upload_to_an_index_under_a_path_prefix(privrepo: Privrepo, dist_dir: Path) -> None:
    first = privrepo.index("first", auth=CI)
    team = privrepo.index("team", auth=[("tm", "tpw")], share=first)
    wheel = build_wheel(dist_dir, "prefixed", "1.0")
    with unchanged(first):
        assert_refused(post_dist(team, wheel, auth=CI), 403, BAD_AUTH)  # team's users only
        assert_ok(post_dist(team, wheel, auth=("tm", "tpw")))
    assert [(u.filename, u.user) for u in team.uploads] == [(wheel.filename, "tm")]
    [package] = simple_client(team, ACCEPT_JSON_ONLY, auth=("tm", "tpw")).get_project_page("prefixed").packages
    assert package.digests["sha256"] == wheel.sha256


def test_index_without_credentials_accepts_anonymous_uploads(privrepo: Privrepo, dist_dir: Path) -> None:
    index = privrepo.index("open")
    wheel = build_wheel(dist_dir, "anon-ok", "1.0")
    assert_ok(post_dist(index, wheel, auth=None))
    assert [(u.filename, u.user) for u in index.uploads] == [(wheel.filename, None)]


# --------------------------------------------------------------------------- served at once


@pytest.mark.parametrize("tls", [None, "tls", "mtls"])
def test_upload_is_served_at_once_by_the_simple_api(privrepo: Privrepo, dist_dir: Path, tls: str | None) -> None:
    index = privrepo.index("served", auth=CI, tls=tls)
    wheel = build_wheel(dist_dir, "Served.Pkg", "2.1", requires_python=">=3.8",
                        requires=["six"], summary="served at once")
    sdist = build_sdist(dist_dir, "Served.Pkg", "2.1", requires_python=">=3.8")
    for dist in (wheel, sdist):
        assert_ok(post_dist(index, dist))

    uploads = {u.filename: u for u in index.uploads}
    assert uploads[wheel.filename].sha256 == wheel.sha256
    assert uploads[wheel.filename].size == wheel.size
    assert uploads[wheel.filename].user == "ci"
    assert uploads[wheel.filename].fields["pyversion"] == ["py3"]
    assert uploads[sdist.filename].fields["filetype"] == ["sdist"]
    assert uploads[wheel.filename].path.read_bytes() == wheel.path.read_bytes()

    for accept in (ACCEPT_HTML_ONLY, ACCEPT_JSON_ONLY):
        client = simple_client(index, accept)
        page = client.get_project_page("served-pkg")
        packages = {p.filename: p for p in page.packages}
        assert sorted(packages) == sorted([wheel.filename, sdist.filename])
        for dist in (wheel, sdist):
            pkg = packages[dist.filename]
            assert pkg.digests["sha256"] == dist.sha256
            assert pkg.version == "2.1"
            assert pkg.requires_python == ">=3.8"
        whl = packages[wheel.filename]
        assert whl.has_metadata is True
        assert whl.metadata_digests == {"sha256": sha256(wheel.metadata)}
        assert client.get_package_metadata_bytes(whl) == wheel.metadata  # verifies the digest too
        with zipfile.ZipFile(wheel.path) as zf:
            assert wheel.metadata == zf.read("served_pkg-2.1.dist-info/METADATA")
        assert packages[sdist.filename].has_metadata in (False, None)
        if accept == ACCEPT_JSON_ONLY:
            assert whl.size == wheel.size
            [stored] = [f for f in index.files("served-pkg") if f.filename == wheel.filename]
            assert whl.upload_time == stored.upload_time
            assert abs((stored.upload_time - uploads[wheel.filename].time).total_seconds()) < 5

    # the file URL serves the uploaded bytes
    whl_url = requests.compat.urljoin(index.url + "served-pkg/", packages[wheel.filename].url)
    session = requests.Session()
    session.trust_env = False
    session.verify = index.ca_cert or True
    session.cert = index.client_cert
    download = session.get(whl_url, auth=CI, timeout=30)
    assert download.status_code == 200
    assert sha256(download.content) == wheel.sha256
