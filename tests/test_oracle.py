"""Line counts cross-checked against PyDriller, the reference oracle, commit by commit."""

from __future__ import annotations

import shutil
import warnings

import pytest

import provenance
from fixtures.repos import Built


def pydriller_counts(path: str) -> dict[str, dict[str, tuple[int, int]]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pydriller import Repository as PDRepository

        out: dict[str, dict[str, tuple[int, int]]] = {}
        for c in PDRepository(path, only_no_merge=True).traverse_commits():
            files = {}
            for m in c.modified_files:
                name = m.new_path or m.old_path
                files[name] = (m.added_lines, m.deleted_lines)
            out[c.hash] = files
    return out


@pytest.mark.parametrize("renames", [True, False])
def test_per_file_counts_match_pydriller(core_repo: Built, tmp_path_factory: pytest.TempPathFactory,
                                         renames: bool) -> None:  # fmt: skip
    # PyDriller writes into the repository's config when it opens it; give it a copy.
    copy = tmp_path_factory.mktemp("oracle") / "core"
    shutil.copytree(core_repo.path, copy)
    oracle = pydriller_counts(str(copy))
    a = provenance.audit(core_repo.path, default_excludes=False, renames=renames)
    ours: dict[str, dict[str, tuple[int, int]]] = {sha: {} for sha in a.commits["sha"]}
    for row in a.files.itertuples():
        if row.binary:
            continue
        ours[row.sha][row.path] = (row.added, row.deleted)
    for sha, files in oracle.items():
        # PyDriller reports binary files with 0/0; ours leaves them out of line counts.
        files = {p: v for p, v in files.items() if p != "assets/logo.png"}
        if not renames and sha == core_repo.sha["c7"]:
            # PyDriller always detects renames; with --no-renames the move is a delete + add.
            continue
        assert ours[sha] == files, sha
