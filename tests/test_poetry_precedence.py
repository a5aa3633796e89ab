"""Which index served what: source precedence in the real Poetry 1.8.5 and 2.5.1.

Every test asserts two independent things: what Poetry wrote into poetry.lock (the source
each package was locked from) and what the index servers saw (which project pages were
requested, by whom, with which client certificate). The lock alone cannot show that a
supplemental or explicit source was *not* asked, and the logs alone cannot show which
answer Poetry chose.

Behaviour recorded here (both Poetry lines unless said otherwise):

- primary sources are all asked and merged: the highest allowed version wins; on an exact
  tie the source listed first wins (by pyproject order, not by name);
- a supplemental source is asked only for projects no primary source has; a project that
  a primary has is never looked up there, even if the supplemental has a higher version;
- an explicit source is asked only for dependencies pinned to it with ``source = "NAME"``,
  not for their transitive dependencies;
- 1.8.5 accepts ``default = true`` / ``secondary = true`` and priorities "default" /
  "secondary" with warnings: a default source is asked first (wins ties), a secondary one
  is merged like a primary listed last; 2.5.1 rejects all four as an invalid configuration
  before sending any request;
- a 401 on a project page is a warning ("Authorization error accessing ...") and Poetry
  goes on with the next source: wrong or missing credentials for the private index let a
  public index supply a package of the same name (dependency confusion);
- two indexes on one host:port: credentials are picked per request by netloc and path;
  file URLs outside every configured path (here ``/files/...`` of an index at the root)
  match no source better than another, so the first configured source on that netloc
  wins, and with the prefixed index configured first its credentials are sent to the
  root index's files (401, the lock fails). 1.8.5 compares paths character by character,
  so a look-alike prefix ("/files-mirror") captures "/files/..." whatever the order;
  2.5.1 compares whole segments.
"""

from __future__ import annotations

import pytest

from pytest_privrepo import ClientError
from pytest_privrepo.clients.indexes import IndexSpec
from pytest_privrepo.clients.poetry_project import PoetryProject

pytestmark = pytest.mark.parametrize("poetry", ["1.8.5", "2.5.1"], indirect=True)


def _project(tmp_path, poetry, *deps: str) -> PoetryProject:
    proj = PoetryProject(tmp_path / "proj", poetry).create("precedence-app", "0.1.0")
    for dep in deps:
        proj.add_dependency(dep, "*")
    return proj


def _page_hits(index, project: str) -> list:
    """Requests for the simple page of ``project`` on ``index`` (any status)."""
    return index.log.filter(path=f"{index.prefix}/simple/{project}/")


def _metadata_hits(index, project: str) -> list:
    return [h for h in index.log.filter(path_prefix=f"{index.prefix}/files/{project}/")
            if h.path.endswith(".metadata")]


def test_two_primary_sources_are_merged_highest_wins_tie_goes_to_first(privrepo, poetry, tmp_path):
    # "zeta" is listed first but sorts last by name: a tie decided by order, not by name.
    zeta = privrepo.index("zeta")
    alpha = privrepo.index("alpha")
    zeta.add("shared-lib", "1.0")
    alpha.add("shared-lib", "2.0")      # higher version in the second source
    zeta.add("newer-first", "3.0")
    alpha.add("newer-first", "1.0")     # higher version in the first source
    zeta.add("tie", "1.0")
    alpha.add("tie", "1.0")             # exact tie: same version, byte-identical wheel
    assert zeta.files("tie")[0].sha256 == alpha.files("tie")[0].sha256
    proj = _project(tmp_path, poetry, "shared-lib", "newer-first", "tie")
    proj.add_source("zeta", zeta.url)
    proj.add_source("alpha", alpha.url)

    lock = proj.lock()

    assert lock.versions() == {"shared-lib": "2.0", "newer-first": "3.0", "tie": "1.0"}
    assert lock.sources() == {"shared-lib": "alpha", "newer-first": "zeta", "tie": "zeta"}
    assert lock["shared-lib"].source_url == alpha.url.rstrip("/")
    assert lock["tie"].source_url == zeta.url.rstrip("/")
    # Both primaries were asked for every project (that is what "merged" means) ...
    for index in (zeta, alpha):
        for project in ("shared-lib", "newer-first", "tie"):
            assert [h.status for h in _page_hits(index, project)] == [200], (index.name, project)
    # ... and metadata was read only from the source each package was locked from.
    assert _metadata_hits(alpha, "shared-lib") and not _metadata_hits(zeta, "shared-lib")
    assert _metadata_hits(zeta, "newer-first") and not _metadata_hits(alpha, "newer-first")
    assert _metadata_hits(zeta, "tie") and not _metadata_hits(alpha, "tie")

    proj.install()
    assert {h.path for h in alpha.log.downloads} == {"/files/shared-lib/shared_lib-2.0-py3-none-any.whl"}
    assert {h.path for h in zeta.log.downloads} == {
        "/files/newer-first/newer_first-3.0-py3-none-any.whl",
        "/files/tie/tie-1.0-py3-none-any.whl",
    }


def test_supplemental_is_only_asked_for_what_no_primary_has(privrepo, poetry, tmp_path):
    primary = privrepo.index("primary")
    supp = privrepo.index("supp")
    primary.add("in-both", "1.0")
    supp.add("in-both", "9.0")          # higher, but must never even be looked at
    supp.add("only-supp", "1.0")
    proj = _project(tmp_path, poetry, "in-both", "only-supp")
    proj.add_source("primary", primary.url)
    proj.add_source("supp", supp.url, priority="supplemental")

    lock = proj.lock()

    assert lock.versions() == {"in-both": "1.0", "only-supp": "1.0"}
    assert lock.sources() == {"in-both": "primary", "only-supp": "supp"}
    # The supplemental project page of "in-both" was never requested.
    assert _page_hits(supp, "in-both") == []
    assert supp.log.filter(path_contains="in-both") == []
    # "only-supp": the primary answered 404 first, then the supplemental was asked.
    assert {h.status for h in _page_hits(primary, "only-supp")} == {404}
    assert [h.status for h in _page_hits(supp, "only-supp")] == [200]
    assert [h.status for h in _page_hits(primary, "in-both")] == [200]


def test_explicit_source_only_for_pinned_deps_not_their_transitive_deps(privrepo, poetry, tmp_path):
    primary = privrepo.index("primary")
    expl = privrepo.index("expl")
    expl.add("pinned", "1.0", requires=["trans>=1"])
    expl.add("trans", "5.0")            # better, but only in the explicit source
    primary.add("trans", "1.0")
    expl.add("unpinned", "2.0")         # better, but the dependency is not pinned
    primary.add("unpinned", "0.5")
    proj = _project(tmp_path, poetry, "unpinned")
    proj.add_dependency("pinned", "*", source="expl")
    proj.add_source("primary", primary.url)
    proj.add_source("expl", expl.url, priority="explicit")

    lock = proj.lock()

    assert lock.sources() == {"pinned": "expl", "trans": "primary", "unpinned": "primary"}
    assert lock.versions() == {"pinned": "1.0", "trans": "1.0", "unpinned": "0.5"}
    # The explicit source was asked for the pinned project and nothing else ...
    assert {h.path for h in expl.log.filter(path_prefix="/simple/")} == {"/simple/pinned/"}
    assert expl.log.filter(path_contains="trans") == []
    assert expl.log.filter(path_contains="unpinned") == []
    # ... and the primary source was never asked for the pinned project.
    assert _page_hits(primary, "pinned") == []
    assert primary.log.filter(path_prefix="/files/pinned/") == []


_DEPRECATED_KEY_WARNING = (
    "Warning: Found deprecated key 'default' or 'secondary' in pyproject.toml configuration "
    "for source legacy. Please provide the key 'priority' instead. Accepted values are: "
    "'default', 'primary', 'secondary', 'supplemental', 'explicit'."
)
_DEFAULT_WARNING = (
    "Warning: Found deprecated priority 'default' for source 'legacy' in pyproject.toml. "
    "You can achieve the same effect by changing the priority to 'primary' and putting the "
    "source first."
)
_SECONDARY_WARNING = (
    "Warning: Found deprecated priority 'secondary' for source 'legacy' in pyproject.toml. "
    "Consider changing the priority to one of the non-deprecated values: 'default', "
    "'primary', 'supplemental', 'explicit'."
)


@pytest.mark.parametrize("spelling", [
    pytest.param({"default": True}, id="key-default"),
    pytest.param({"secondary": True}, id="key-secondary"),
    pytest.param({"priority": "default"}, id="priority-default"),
    pytest.param({"priority": "secondary"}, id="priority-secondary"),
])
def test_deprecated_default_and_secondary(privrepo, poetry, tmp_path, spelling):
    main = privrepo.index("main")
    legacy = privrepo.index("legacy")
    main.add("tie", "1.0")
    legacy.add("tie", "1.0")
    main.add("higher-in-legacy", "1.0")
    legacy.add("higher-in-legacy", "9.0")
    legacy.add("only-legacy", "1.0")
    proj = _project(tmp_path, poetry, "tie", "higher-in-legacy", "only-legacy")
    proj.add_source("main", main.url)                   # listed first, primary
    proj.add_source("legacy", legacy.url, **spelling)
    is_default = spelling in ({"default": True}, {"priority": "default"})

    if poetry.major >= 2:
        # 2.x refuses the whole pyproject before touching the network.
        with pytest.raises(ClientError) as err:
            proj.lock()
        message = str(err.value)
        assert "The Poetry configuration is invalid:" in message
        if "priority" in spelling:
            assert ("tool.poetry.source[1].priority must be one of "
                    "['primary', 'supplemental', 'explicit']") in message
        else:
            key = next(iter(spelling))
            assert f"tool.poetry.source[1] must not contain {{'{key}'}} properties" in message
        assert len(main.log) == 0 and len(legacy.log) == 0
        return

    result = proj.run("lock")
    out = result.stdout + result.stderr
    if "priority" not in spelling:
        assert _DEPRECATED_KEY_WARNING in out
    else:
        assert _DEPRECATED_KEY_WARNING not in out
    assert (_DEFAULT_WARNING if is_default else _SECONDARY_WARNING) in out
    lock = proj.lock_result()
    # Both spellings merge the source with the primary: the higher version wins ...
    assert lock["higher-in-legacy"].source == "legacy"
    assert lock["higher-in-legacy"].version == "9.0"
    assert lock["only-legacy"].source == "legacy"
    # ... but a default source is asked first (wins the tie), a secondary one last.
    assert lock["tie"].source == ("legacy" if is_default else "main")
    for project in ("tie", "higher-in-legacy"):
        assert [h.status for h in _page_hits(main, project)] == [200]
        assert [h.status for h in _page_hits(legacy, project)] == [200]
    assert {h.status for h in _page_hits(main, "only-legacy")} == {404}


@pytest.mark.parametrize("credentials", ["wrong", "missing", "right"])
def test_401_falls_through_to_the_next_source(privrepo, poetry, tmp_path, credentials):
    """The dependency-confusion vector: an unreadable private index counts as "not found"."""
    corp = privrepo.index("corp", auth=("alice", "s3cret"))
    public = privrepo.index("public")
    corp.add("corp-utils", "1.0")
    public.add("corp-utils", "99.0")    # the attacker's upload under the private name
    if credentials == "wrong":
        poetry.configure(IndexSpec(corp.url, username="alice", password="WRONG", name="corp"))
    elif credentials == "right":
        poetry.configure(corp)
    proj = _project(tmp_path, poetry, "corp-utils")
    proj.add_source("corp", corp.url)
    proj.add_source("public", public.url, priority="supplemental")

    result = proj.run("lock")
    lock = proj.lock_result()

    corp_pages = _page_hits(corp, "corp-utils")
    if credentials == "right":
        assert lock["corp-utils"].source == "corp" and lock["corp-utils"].version == "1.0"
        assert [(h.status, h.user, h.auth_ok) for h in corp_pages] == [(200, "alice", True)]
        assert len(public.log) == 0     # the supplemental index was never asked
        return
    # Poetry only warns, then takes the public package of the same name.
    warning = f"Source (corp): Authorization error accessing {corp.url}corp-utils/"
    assert warning in result.stderr
    assert lock["corp-utils"].source == "public"
    assert lock["corp-utils"].version == "99.0"
    assert lock["corp-utils"].source_url == public.url.rstrip("/")
    assert corp_pages and {h.status for h in corp_pages} == {401}
    if credentials == "wrong":
        assert {(h.user, h.auth_ok) for h in corp_pages} == {("alice", False)}
    else:
        assert {(h.user, h.auth_ok) for h in corp_pages} == {(None, None)}
    assert [h.status for h in _page_hits(public, "corp-utils")] == [200]
    assert _metadata_hits(public, "corp-utils") and not _metadata_hits(corp, "corp-utils")


def test_several_private_indexes_each_with_its_own_credentials_and_certificates(privrepo, poetry, tmp_path):
    """Flow 14: HTTP basic, TLS + basic, mTLS + basic, all resolved into one lock."""
    basic = privrepo.index("basic", auth=("bob", "bob-pass"))
    tls = privrepo.index("tls", auth=("carol", "carol-pass"), tls="tls")
    mtls = privrepo.index("mtls", auth=("dave", "dave-pass"), tls="mtls")
    basic.add("lib-basic", "1.0", requires=["lib-tls>=2"])
    tls.add("lib-tls", "2.0", requires=["lib-mtls>=3"])
    mtls.add("lib-mtls", "3.0")
    for index in (basic, tls, mtls):
        poetry.configure(index)
    proj = _project(tmp_path, poetry, "lib-basic")
    for index in (basic, tls, mtls):
        proj.add_source(index.name, index.url)

    lock = proj.lock()
    proj.install()

    assert lock.sources() == {"lib-basic": "basic", "lib-tls": "tls", "lib-mtls": "mtls"}
    assert lock.versions() == {"lib-basic": "1.0", "lib-tls": "2.0", "lib-mtls": "3.0"}
    assert lock["lib-tls"].source_url.startswith("https://")
    expected = {basic: "bob", tls: "carol", mtls: "dave"}
    for index, user in expected.items():
        hits = list(index.log)
        assert hits, index.name
        # Every request to an index carried that index's credentials and nobody else's.
        assert {(h.user, h.auth_ok) for h in hits} == {(user, True)}, index.name
        # Pages of the other projects were asked for (all three are primary) and 404.
        assert {h.status for h in index.log.filter(path_prefix="/simple/")} <= {200, 404}
        # Each index served its own wheel to the installer.
        assert len(index.log.downloads) == 1 and index.log.downloads[0].status == 200
    # The client certificate went to the mTLS index only, on every request.
    assert all(h.client_cert and "CN=mtls-client@privrepo.test" in h.client_cert for h in mtls.log)
    assert all(h.client_cert is None for h in list(basic.log) + list(tls.log))
    assert proj.python("import lib_basic, lib_tls, lib_mtls").returncode == 0


@pytest.mark.parametrize("case", ["root-first", "prefixed-first", "lookalike-prefix"])
def test_two_indexes_on_one_host_port_with_different_credentials(privrepo, poetry, tmp_path, case):
    """Which credentials go where when two indexes share a host:port (one at the root).

    Project pages always get the right credentials. File URLs of the root index
    (``/files/...``) lie under neither source URL, and the choice differs:

    - root-first: both Poetry lines send alice's credentials to alice's files;
    - prefixed-first: both send bob's (first configured source on the netloc wins a tie);
    - lookalike-prefix (``/files-mirror``, configured second): 1.8.5 compares paths
      character by character, so "/files-mirror/simple/" beats "/simple/" for
      "/files/..." and bob's credentials go to alice's files; 2.5.1 compares whole path
      segments, finds a tie and keeps the configuration order (alice).
    """
    prefix = "/files-mirror" if case == "lookalike-prefix" else "/team"
    root = privrepo.index("root", auth=("alice", "alice-pass"))                       # /simple/
    other = privrepo.index("other", share=root, prefix=prefix, auth=("bob", "bob-pass"))
    assert root.netloc == other.netloc and other.url.endswith(f"{prefix}/simple/")
    root.add("root-lib", "1.0")
    other.add("other-lib", "1.0")
    ordered = [other, root] if case == "prefixed-first" else [root, other]
    for index in ordered:
        poetry.configure(index)
    proj = _project(tmp_path, poetry, "root-lib", "other-lib")
    for index in ordered:
        proj.add_source(index.name, index.url)
    wrong_user_for_root_files = case == "prefixed-first" or (
        case == "lookalike-prefix" and poetry.major < 2)

    def page_users(index):
        return {(h.user, h.auth_ok) for h in index.log.filter(path_prefix=f"{index.prefix}/simple/")}

    def other_files():
        return {(h.user, h.status) for h in other.log.filter(path_prefix=f"{prefix}/files/")}

    if not wrong_user_for_root_files:
        lock = proj.lock()
        proj.install()
        assert lock.sources() == {"root-lib": "root", "other-lib": "other"}
        assert page_users(root) == {("alice", True)}
        assert page_users(other) == {("bob", True)}
        assert {(h.user, h.status) for h in root.log.filter(path_prefix="/files/")} == {("alice", 200)}
        assert other_files() == {("bob", 200)}
        assert len(root.log.downloads) == 1 and len(other.log.downloads) == 1
        return

    with pytest.raises(ClientError) as err:
        proj.lock()
    assert f"Source (root): Failed to retrieve metadata at {root.base_url}/files/root-lib/" in str(err.value)
    assert "401 Client Error: UNAUTHORIZED" in str(err.value)
    assert page_users(root) == {("alice", True)}
    assert page_users(other) == {("bob", True)}
    root_files = root.log.filter(path_prefix="/files/")
    assert root_files and {(h.user, h.auth_ok, h.status) for h in root_files} == {("bob", False, 401)}
    assert other_files() == {("bob", 200)}
