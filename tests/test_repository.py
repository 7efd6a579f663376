"""Opening a repository: git's own discovery, checked against GitPython's on every layout."""

from __future__ import annotations

import subprocess
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
    with pytest.raises(NotAGitRepository, match=r"^not a git repository: .*README"):
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
    namespace: dict[str, object] = {}
    exec("from provenance import *", namespace)
    assert set(provenance.__all__) <= set(namespace)
