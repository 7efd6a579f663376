"""Opening a repository: git's own discovery, checked against GitPython's on every layout."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import git
import pytest

from fixtures.builder import base_env
from fixtures.repos import Built
from provenance.errors import NotAGitRepository
from provenance.gitlog import Repository


def _git(*args: str | Path) -> None:
    subprocess.run(["git", *map(str, args)], check=True, capture_output=True, env=base_env())


@pytest.fixture(scope="module")
def layouts(core_repo: Built, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every way a user can point at a repository, on copies of the core scenario."""
    root = tmp_path_factory.mktemp("layouts")
    clone = root / "clone"
    _git("clone", "-q", core_repo.path, clone)
    _git("clone", "-q", "--bare", core_repo.path, root / "bare.git")
    _git("-C", clone, "worktree", "add", "-q", "--detach", root / "linked", "HEAD~1")
    return {
        "top": clone,
        "subfolder": clone / "src",
        "git dir": clone / ".git",
        "bare": root / "bare.git",
        "linked worktree": root / "linked",
        "linked subfolder": root / "linked" / "src",
    }


@pytest.mark.parametrize(
    "layout", ["top", "subfolder", "git dir", "bare", "linked worktree", "linked subfolder"]
)
def test_discovery_agrees_with_gitpython(layouts: dict[str, Path], layout: str) -> None:
    path = layouts[layout]
    ours = Repository(path)
    ref = git.Repo(path, search_parent_directories=True)
    assert ours.git_dir == Path(ref.git_dir).resolve()
    assert ours.common_dir == Path(ref.common_dir).resolve()
    if layout == "bare":
        assert ours.bare and ref.bare and ours.work_tree is None
        assert ours.name == "bare"
    elif layout == "git dir":
        assert ours.work_tree is None  # inside .git there is no work tree to speak of
    else:
        assert not ours.bare
        assert ours.work_tree == Path(str(ref.working_tree_dir)).resolve()
    ref.close()


def test_linked_worktree_reads_its_own_head(layouts: dict[str, Path]) -> None:
    main, linked = Repository(layouts["top"]), Repository(layouts["linked worktree"])
    assert linked.resolve("HEAD") == main.resolve("HEAD~1")
    assert linked.common_dir == main.git_dir


def test_plain_folder_is_not_a_repository(tmp_path: Path) -> None:
    with pytest.raises(NotAGitRepository, match=r"^not a git repository: "):
        Repository(tmp_path)
    with pytest.raises(git.InvalidGitRepositoryError):
        git.Repo(tmp_path, search_parent_directories=True)


def test_file_is_not_a_repository(core_repo: Built) -> None:
    with pytest.raises(
        NotAGitRepository, match=r"^not a git repository \(not a directory\): .*README"
    ):
        Repository(Path(core_repo.path) / "README.md")


def test_dangling_gitfile_is_not_a_repository(tmp_path: Path) -> None:
    (tmp_path / ".git").write_text(f"gitdir: {tmp_path / 'gone'}\n")
    with pytest.raises(NotAGitRepository, match=r"not a git repository"):
        Repository(tmp_path)


def test_damaged_repository_is_one_clear_error(tmp_path: Path) -> None:
    _git("init", "-q", tmp_path / "r")
    (tmp_path / "r" / ".git" / "config").write_text("[core\nbroken")
    with pytest.raises(NotAGitRepository, match=r"^cannot open git repository at .*: fatal: "):
        Repository(tmp_path / "r")


def test_public_api_resolves_lazily() -> None:
    """``provenance.X`` for every name in ``__all__`` is the object its module defines (blame's
    is imported on first use), even after the submodules are imported."""
    import importlib

    import provenance

    modules = ["blame", "classify", "errors", "frame", "metrics", "rules"]
    defined = {}
    for m in modules:
        module = importlib.import_module(f"provenance.{m}")
        defined.update({n: getattr(module, n) for n in provenance.__all__ if hasattr(module, n)})
    assert set(defined) == set(provenance.__all__)
    for name in provenance.__all__:
        assert getattr(provenance, name) is defined[name], name
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        provenance.nope  # noqa: B018
    assert set(provenance.__all__) <= set(dir(provenance))
    code = "import sys, provenance; print('provenance.blame' in sys.modules)"
    fresh = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert fresh.stdout.strip() == "False"  # blame is imported on first use only
    namespace: dict[str, object] = {}
    exec("from provenance import *", namespace)
    assert set(provenance.__all__) <= set(namespace)


def test_symlinked_and_relative_paths(
    layouts: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    top = Repository(layouts["top"])
    link = tmp_path / "link"
    link.symlink_to(layouts["top"])
    assert Repository(link).git_dir == top.git_dir
    assert Repository(link).resolve("HEAD") == top.resolve("HEAD")
    monkeypatch.chdir(layouts["top"].parent)
    rel = Repository(Path(layouts["top"].name) / "src")
    assert rel.git_dir == top.git_dir and rel.work_tree == top.work_tree


def test_environment_cannot_redirect_discovery(
    layouts: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIT_DIR, GIT_COMMON_DIR and friends in the user's environment do not move the
    repository (or its objects and refs) away from the path given."""
    top = Repository(layouts["top"])
    other = str(layouts["bare"])
    for name in ("GIT_DIR", "GIT_COMMON_DIR", "GIT_OBJECT_DIRECTORY", "GIT_WORK_TREE"):
        monkeypatch.setenv(name, other)
    r = Repository(layouts["top"])
    assert (r.git_dir, r.common_dir, r.work_tree) == (top.git_dir, top.common_dir, top.work_tree)
    assert r.resolve("HEAD") == top.resolve("HEAD")


def test_non_utf8_directory_name(core_repo: Built, tmp_path: Path) -> None:
    """Paths are bytes: a folder whose name is not UTF-8 opens like any other."""
    parent = Path(os.fsdecode(bytes(tmp_path) + b"/caf\xe9"))
    parent.mkdir()
    _git("clone", "-q", "--bare", core_repo.path, parent / "b.git")
    _git("clone", "-q", core_repo.path, parent / "w")
    bare, work = Repository(parent / "b.git"), Repository(parent / "w" / "src")
    assert bare.git_dir == (parent / "b.git").resolve() and bare.bare
    assert work.work_tree == (parent / "w").resolve()
    assert (
        bare.resolve("HEAD") == work.resolve("HEAD") == Repository(core_repo.path).resolve("HEAD")
    )


def test_git_runs_with_malloc_slack_and_the_users_own_tunables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """git's children keep 64 MiB of heap slack (see MALLOC_TUNABLES); a setting the user
    made for a tunable is kept as it is, and other tunables of theirs are passed on."""
    from provenance.gitlog import git_env, malloc_tunables

    mmap = "glibc.malloc.mmap_threshold=33554432"
    ours = f"glibc.malloc.top_pad=67108864:glibc.malloc.trim_threshold=268435456:{mmap}"
    monkeypatch.delenv("GLIBC_TUNABLES", raising=False)
    assert git_env()["GLIBC_TUNABLES"] == ours
    monkeypatch.setenv("GLIBC_TUNABLES", "glibc.malloc.top_pad=0:glibc.cpu.x86_ibt=on")
    assert git_env()["GLIBC_TUNABLES"] == (
        "glibc.malloc.top_pad=0:glibc.cpu.x86_ibt=on:glibc.malloc.trim_threshold=268435456:"
        + mmap
    )
    assert malloc_tunables("") == malloc_tunables(None) == ours
    assert malloc_tunables("::glibc.malloc.trim_threshold=1") == (
        f"glibc.malloc.trim_threshold=1:glibc.malloc.top_pad=67108864:{mmap}"
    )
