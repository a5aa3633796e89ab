"""How an index bends the protocol: one value per product, each fact with its source.

Why data and not a subclass per product: what breaks for users of a private index is rarely
the protocol and almost always one product's answer where the specifications leave room
(which status an anonymous request gets, whether a 401 carries a challenge, which user name
a token goes with, what a duplicate upload is told). A :class:`Behaviour` holds those
answers as fields; the routes, the auth policy and the page renderer read them, so a
profile is a row of :data:`PROFILES` and any single field can be set on its own.

Sources are in ``../shared/reference/products.md`` (product source: GitLab
``lib/api/pypi_packages.rb``, nexus-public ``nexus-repository-pypi``, pypiserver
``_app.py``; client and issue threads by number). "unconfirmed" marks a choice no source
settled.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from typing import Any

from ..errors import ConfigError
from .auth import TOKEN_USER

__all__ = ["PROFILES", "STORAGE", "Behaviour", "behaviour_for"]

#: Warehouse's answer to another file under an existing name (twine matches the prefix).
WAREHOUSE_DUPLICATE = "File already exists"


@dataclass(frozen=True)
class Behaviour:
    """The answers of one index product (defaults: PyPI's Warehouse)."""

    #: the product this behaviour follows ("privrepo": Warehouse's rules)
    product: str = "privrepo"
    # -- layout (below the index's prefix) ------------------------------------------------
    #: the simple API root: ``/simple`` (devpi: ``/+simple``)
    simple_path: str = "/simple"
    #: where file links point: ``/files`` (Nexus ``/packages``, devpi ``/+f``)
    files_path: str = "/files"
    #: the upload endpoint: ``/legacy/`` (GitLab and Artifactory: the prefix itself, ``""``;
    #: Nexus and devpi: ``/``)
    upload_path: str = "/legacy/"
    #: a host name the product's indexes answer at when the test names none
    default_host: str | None = None
    #: the path prefix when the test gives none; ``{name}`` is the index name
    default_prefix: str = ""
    # -- credentials ------------------------------------------------------------------------
    #: user names a token is accepted with; ``None``: any user name (Azure PATs); the
    #: first is what clients are handed (``index.username`` of a token-only index)
    token_users: tuple[str, ...] | None = (TOKEN_USER, "")
    #: answer to a request without credentials: 401, 403 or 404
    anonymous_status: int = 401
    #: a 401 carries ``WWW-Authenticate: Basic`` (clients send credentials only after one)
    challenge: bool = True
    #: answer to wrong credentials on a read: 401, 403 or 404
    wrong_credentials_status: int = 401
    #: answer to wrong credentials on an upload: 403 (Warehouse) or 401
    wrong_upload_status: int = 403
    #: refusals have an empty body (Google Artifact Registry's 403)
    empty_refusal_body: bool = False
    #: answer to a project the index does not have, with valid credentials: 404 (Azure: 401)
    missing_status: int = 404
    #: redirect for a project the index does not have (``{name}``: the normalised name):
    #: GitLab's 302 to PyPI while request forwarding is on; None: answer missing_status
    missing_redirect: str | None = None
    missing_redirect_status: int = 302
    # -- pages ------------------------------------------------------------------------------
    #: PEP 691 JSON pages (else HTML whatever the Accept header)
    pep691: bool = True
    #: PEP 658 ``.metadata`` files and their attributes
    pep658: bool = True
    #: PEP 592 yanking shown in pages
    yanked: bool = True
    #: PEP 700 ``upload-time`` in JSON pages
    upload_time: bool = True
    #: ``data-requires-python=""`` on files without one (GitLab writes it)
    empty_requires_python: bool = False
    # -- where the files are ---------------------------------------------------------------
    #: the pages link the files absolutely on this host (PyPI's files.pythonhosted.org);
    #: None: relative links to this index's own host
    files_host: str | None = None
    #: the upload endpoint is on this host (PyPI's upload.pypi.org); None: the index's own
    upload_host: str | None = None
    #: serve PyPI's JSON API (``/pypi/<name>[/<version>]/json``), which Poetry's PyPI
    #: source reads (see :mod:`.json_api`)
    json_api: bool = False
    #: files are kept on this host (cloud storage, signed by the public CA as S3 and Azure
    #: Blob are) and the index answers a file request with a redirect to a signed URL there
    storage_host: str | None = None
    #: the redirect's status (302, 303, 307)
    files_redirect: int = 302
    #: only files at least this large are redirected (Artifactory: ~512 KB, pip#13396)
    redirect_min_size: int = 0
    #: this is a storage host's behaviour: it serves files only, at signed URLs, and refuses
    #: any ``Authorization`` header with 400 (S3: "Only one auth mechanism allowed",
    #: setuptools#1417)
    storage: bool = False
    # -- uploads ------------------------------------------------------------------------------
    #: status for another file under an existing name
    duplicate_status: int = 400
    #: its message (twine >= 6.2 recognises 409, or 400 containing "already exist")
    duplicate_message: str = WAREHOUSE_DUPLICATE
    #: an identical re-upload is refused too (else 200, as Warehouse)
    refuse_identical: bool = False
    #: the duplicate status for a client whose User-Agent contains "twine", when it differs
    #: (pypiserver: 400, so that twine's --skip-existing recognises it)
    duplicate_status_for_twine: int | None = None
    #: an upload to the endpoint without its trailing slash is a 400 (Nexus: "Repository
    #: path must have another '/'", poetry#8391); else a 308 to it, or the same endpoint
    upload_slash_required: bool = False

    def replace(self, **changes: Any) -> Behaviour:
        """This behaviour with some fields changed (unknown names: ConfigError)."""
        check_fields(changes)
        return dataclasses.replace(self, **changes)

    def duplicate_status_for(self, user_agent: str) -> int:
        """The duplicate-upload status for a client with this User-Agent."""
        if self.duplicate_status_for_twine is not None and "twine" in user_agent.lower():
            return self.duplicate_status_for_twine
        return self.duplicate_status

    @property
    def token_user(self) -> str:
        """The user name a token-only index hands its clients."""
        return self.token_users[0] if self.token_users else TOKEN_USER


def check_fields(changes: dict[str, Any]) -> None:
    known = {f.name for f in fields(Behaviour)}
    unknown = sorted(set(changes) - known)
    if unknown:
        raise ConfigError(f"unknown behaviour field(s) {', '.join(unknown)}: known are "
                          f"{', '.join(sorted(known))}")


#: One row per product (``privrepo.index(..., profile="gitlab")``).
PROFILES: dict[str, Behaviour] = {
    "pypi": Behaviour(product="pypi"),
    "gitlab": Behaviour(
        product="gitlab",
        default_host="gitlab.example.com",
        default_prefix="/api/v4/projects/1/packages/pypi",  # also groups/:id/-/packages/pypi
        upload_path="",  # POST /api/v4/projects/:id/packages/pypi -> 201 (products.md)
        # personal access token or deploy token with its own user name, or the CI job token
        token_users=("gitlab-ci-token", "__token__"),  # any user with a PAT: unconfirmed
        challenge=True,  # 401 + WWW-Authenticate: Basic realm="GitLab Packages Registry"
        wrong_credentials_status=401,
        missing_status=404,
        # unknown package: 302 to PyPI's simple page while request forwarding is on (default)
        missing_redirect="https://pypi.org/simple/{name}/",
        pep691=False,  # behind a feature flag only
        pep658=False,
        yanked=False,  # no data-yanked
        upload_time=False,
        empty_requires_python=True,  # writes data-requires-python=""
        duplicate_status=400,
        duplicate_message="Validation failed: File name has already been taken",
        refuse_identical=True,  # identical or different bytes
    ),
    "nexus": Behaviour(
        product="nexus",
        default_host="nexus.example.com",
        default_prefix="/repository/{name}",
        files_path="/packages",  # links ../../packages/... on the same host
        upload_path="/",  # POST /repository/<r>/; without the slash: 400 (poetry#8391)
        upload_slash_required=True,
        token_users=("__token__",),  # Basic only; user tokens are user:pass pairs
        anonymous_status=401,  # unconfirmed
        pep691=False,  # HTML only, api-version 2
        pep658=False,  # nexus-public#296
        yanked=False,
        upload_time=False,
        duplicate_status=400,  # ALLOW_ONCE: "Repository does not allow updating assets"
        duplicate_message="Repository does not allow updating assets",
        refuse_identical=True,
    ),
    "artifactory": Behaviour(
        product="artifactory",
        default_host="artifactory.example.com",
        default_prefix="/artifactory/api/pypi/{name}",
        upload_path="",  # POST /artifactory/api/pypi/<r>
        # an identity token (JWT) goes with an EMPTY user name: `uv publish --token` sends
        # __token__ and gets 401 (uv's JFrog guide)
        token_users=("",),
        wrong_upload_status=401,  # `uv publish --token` (__token__): 401 (uv's JFrog guide)
        anonymous_status=401,  # "hide existence of unauthorized resources": 404 (twine#918)
        pep658=False,  # unconfirmed
        # files over ~512 KB: 302 to a signed cloud-storage URL (pip#13396); forwarding
        # Authorization there fails (setuptools#1417)
        storage_host="corp-artifactory.s3.amazonaws.com",
        redirect_min_size=512 * 1024,
        duplicate_status=403,  # twine#1251
        duplicate_message="Not enough permissions to overwrite artifact",
    ),
    "codeartifact": Behaviour(
        product="codeartifact",
        default_host="corp-123456789012.d.codeartifact.us-east-1.amazonaws.com",
        default_prefix="/pypi/{name}",
        upload_path="/",
        token_users=("aws",),  # user aws, password a 12-hour token
        challenge=True,
        wrong_credentials_status=404,  # bad token: 404 (uv#11899, a uv maintainer)
        pep658=False,  # unconfirmed
        duplicate_status=409,  # twine 6.2+ --skip-existing then fails (UnsupportedConfiguration)
        duplicate_message="Conflict: package version already exists",
    ),
    "azure": Behaviour(
        product="azure",
        default_host="pkgs.dev.azure.com",
        default_prefix="/corp/_packaging/{name}/pypi",
        upload_path="/upload/",
        token_users=None,  # a PAT with any user name
        anonymous_status=401,
        missing_status=401,  # 401 also for a package that does not exist, valid credentials
        pep658=False,  # unconfirmed
        # files .../pypi/download/<n>/<v>/<file> redirect to Blob storage (uv#13208, #11440)
        files_path="/download",
        storage_host="corp.blob.core.windows.net",
        duplicate_status=409,  # JSON PackageAlreadyExistsException (uv#8817)
        duplicate_message="PackageAlreadyExistsException: the package version already exists",
    ),
    "artifact-registry": Behaviour(
        product="artifact-registry",
        default_host="us-python.pkg.dev",
        default_prefix="/corp-project/{name}",
        upload_path="/",
        token_users=("oauth2accesstoken", "_json_key_base64"),
        anonymous_status=403,  # 403 with an EMPTY body: pip's 401-triggered keyring never runs
        challenge=False,
        empty_refusal_body=True,
        wrong_credentials_status=401,
        duplicate_status=400,
        duplicate_message="Package already exist",
    ),
    "devpi": Behaviour(
        product="devpi",
        default_host="devpi.example.com",
        default_prefix="/root/{name}",
        simple_path="/+simple",
        files_path="/+f",
        upload_path="/",  # POST /<user>/<index>/; hatch pre-GETs <upload_url>+simple/<p>/
        pep658=False,  # PEP 691 since 6.6, no PEP 658
        duplicate_status=409,  # non-volatile indexes: unconfirmed (200 on volatile, twine#681)
        duplicate_message="Conflict: file already exists in non-volatile index",
    ),
    "pypiserver": Behaviour(
        product="pypiserver",
        default_host="pypiserver.example.com",
        files_path="/packages",
        upload_path="/",  # POST /
        anonymous_status=401,  # Basic realm="pypi"
        wrong_credentials_status=403,
        # unknown package: 303 to PyPI unless --disable-fallback
        missing_redirect="https://pypi.org/simple/{name}/",
        missing_redirect_status=303,
        pep691=False,
        pep658=False,
        yanked=False,
        duplicate_status=409,
        duplicate_status_for_twine=400,  # 400 when the User-Agent contains "twine" (#1265)
        duplicate_message="Conflict: package already exists",
    ),
}


#: What a storage host (``Behaviour.storage_host``) behaves as: files only, signed URLs.
STORAGE = Behaviour(product="storage", storage=True, files_path="", token_users=(),
                    pep691=False)


def behaviour_for(profile: str | Behaviour | None, **settings: Any) -> Behaviour:
    """The behaviour of ``profile`` (a name from :data:`PROFILES`, a :class:`Behaviour`,
    or None for Warehouse's), with ``settings`` applied.

    A setting that contradicts a named profile is a :class:`ConfigError`: the profile is a
    claim about a product, so vary it explicitly (``profile=PROFILES["gitlab"].replace(...)``).
    """
    check_fields(settings)
    if profile is None:
        return Behaviour().replace(**settings)
    if isinstance(profile, Behaviour):
        return profile.replace(**settings)
    if not isinstance(profile, str) or profile not in PROFILES:
        raise ConfigError(f"unknown profile {profile!r}: known are {', '.join(sorted(PROFILES))}")
    base = PROFILES[profile]
    for name, value in settings.items():
        if getattr(base, name) != value:
            raise ConfigError(
                f"profile {profile!r} has {name}={getattr(base, name)!r}; {name}={value!r} "
                f"contradicts it: drop one, or pass profile=PROFILES[{profile!r}]"
                f".replace({name}={value!r})"
            )
    return base
