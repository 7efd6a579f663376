"""Surviving share: of the lines present at a revision, how many were last changed by AI.

Every counted file at the revision (the same path filters as ``report``, applied before any
blaming; binary files, symlinks and submodules skipped) is blamed with one
``git blame --incremental`` process, files in parallel. The distinct commits blame names are
then classified exactly as ``report`` classifies commits (same rules, configuration, threshold,
notes and merged-branch evidence), and the lines are summed per class and group.

Release windows: for successive tags (start, end), only the lines present at ``end`` whose last
change lies in ``start..end`` count (``git blame start..end``); older lines are left out. A file
that no commit of the window touched cannot hold such lines and is not blamed at all.

Blame results are cached per (blob id, path, blame options, window start) in an SQLite file
under the user cache directory (see :func:`cache_path`); nothing is written into the
repository. A cached result is reused whenever the same content sits at the same path, so a
file whose content returns byte for byte to an earlier version keeps the earlier blame
(``--no-cache`` blames it afresh; git credits such re-added lines to the reverting commit).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import sqlite3
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field
from enum import StrEnum
from fnmatch import fnmatchcase
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any

from provenance import gitlog
from provenance.cache import cache_root
from provenance.classify import (
    CommitClass,
    Evidence,
    branch_evidence,
    collect_evidence,
    decide,
    merged_branch,
)
from provenance.config import load_config
from provenance.errors import ConfigError, GitError
from provenance.exclusions import PathFilter
from provenance.frame import Audit, notes_of, person, read_attributes, threshold_of
from provenance.gitlog import CommitRecord, Repository, resolve_jobs
from provenance.landing import landing_commits
from provenance.metrics import CAVEAT, ExcludedSummary, commit_key, dir_of, ext_of
from provenance.options import GroupBy
from provenance.progress import Progress
from provenance.rules import Confidence, Field, RuleSet

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
else:
    from provenance._lazy import numpy as np
    from provenance._lazy import pandas as pd

# -- options ---------------------------------------------------------------------------------


class Detect(StrEnum):
    """How hard blame looks for lines that moved or were copied (git's ``-M`` / ``-C``).

    Whole-file renames are always followed (git blame does that by itself).
    """

    NONE = "none"
    MOVE = "move"
    COPY = "copy"
    COPY_HARDER = "copy-harder"
    COPY_HARDEST = "copy-hardest"


#: The git blame options each level stands for.
DETECT_ARGS: Mapping[Detect, tuple[str, ...]] = {
    Detect.NONE: (),
    Detect.MOVE: ("-M",),
    Detect.COPY: ("-M", "-C"),
    Detect.COPY_HARDER: ("-M", "-C", "-C"),
    Detect.COPY_HARDEST: ("-M", "-C", "-C", "-C"),
}
#: Default detection: lines moved within a file keep their commit (``-M``). Cross-file copy
#: detection (``-C``) costs about 3x the blame time (measured on charmbracelet/crush).
DEFAULT_DETECT = Detect.MOVE

#: Bump when the cached value layout or the fixed blame arguments change.
CACHE_FORMAT = 1
IGNORE_REVS_FILE = ".git-blame-ignore-revs"

# Fixed arguments of every blame: never textconv or external diff, a fixed diff algorithm, root
# commits are not boundaries (only a window's start is), and any blame.ignoreRevsFile the
# repository configures is cleared (an empty name resets git's list).
_BLAME_FIXED = ("blame", "--incremental", "--root", "--no-textconv", "--no-ext-diff",
                "--diff-algorithm=myers", "--ignore-revs-file=")  # fmt: skip
_ENTRY = re.compile(rb"^([0-9a-f]{40}|[0-9a-f]{64}) \d+ \d+ (\d+)$")
_HEX = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")
_BLAMED_MODES = {"100644", "100755"}
_LOOKUP_BATCH = 500
_PATHS_BATCH = 1000

ProgressCallback = Callable[[int], None]


@dataclass(frozen=True)
class IgnoreRevs:
    """Revisions blame looks through (``--ignore-revs-file``), and where they came from."""

    source: str = ""
    revs: tuple[str, ...] = ()

    def digest(self) -> str:
        """A short hash of the list (part of the cache key)."""
        return hashlib.sha256("\n".join(self.revs).encode()).hexdigest()[:16] if self.revs else "-"


def parse_ignore_revs(text: str, source: str) -> IgnoreRevs:
    """Parse an ignore-revs file: one full commit id per line, ``#`` comments, blank lines.

    A line that is not a full object id is a :class:`ConfigError` (git itself refuses them).
    """
    revs: list[str] = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if not _HEX.match(line.lower()):
            raise ConfigError(f"{source}:{n}: not a full commit id: {line[:50]!r}")
        revs.append(line.lower())
    return IgnoreRevs(source, tuple(sorted(set(revs))))


@dataclass(frozen=True)
class BlameOptions:
    """The options that change what blame answers (and so the cache key)."""

    detect: Detect = DEFAULT_DETECT
    ignore_whitespace: bool = False
    ignore_revs: IgnoreRevs = field(default_factory=IgnoreRevs)

    @property
    def git_args(self) -> tuple[str, ...]:
        """The user-visible blame options (without the ignore-revs file)."""
        return (*DETECT_ARGS[self.detect], *(("-w",) if self.ignore_whitespace else ()))

    def key(self, history: str) -> str:
        """The cache-key component for these options and the repository's ``history`` digest."""
        return (f"v{CACHE_FORMAT} {' '.join(_BLAME_FIXED)} {' '.join(self.git_args)} "
                f"ignore={self.ignore_revs.digest()} history={history}")  # fmt: skip


# -- windows and files -----------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """One blame snapshot: the lines at ``rev``, optionally only those changed since ``start``."""

    label: str
    rev: str
    start_label: str | None = None
    start: str | None = None
    end_date: pd.Timestamp | None = None


@dataclass(frozen=True, slots=True)
class TreeFile:
    """A file at a revision: path, mode, blob id and line count (None: binary)."""

    path: str
    mode: str
    blob: str
    lines: int | None


def list_files(
    repo: Repository, rev: str, empty_tree: str, paths: Sequence[str] | None = None
) -> list[TreeFile]:
    """Every file at ``rev`` (or only ``paths``) with its blob id and line count, from one
    ``git diff-tree --raw --numstat`` against the empty tree (``-`` counts mean binary)."""
    args = ["diff-tree", "-r", "-z", "--raw", "--numstat", "--no-renames", *gitlog.DIFF_OPTIONS,
            empty_tree, rev, "--"]  # fmt: skip
    if paths is None:
        raw = repo.run_bytes(args)
    else:
        # Pathspecs in batches, taken literally (a path may contain '*' or start with ':').
        raw = b"\0".join(
            repo.run_bytes([*args, *(f":(literal){p}" for p in paths[i : i + _PATHS_BATCH])])
            for i in range(0, len(paths), _PATHS_BATCH)
        )
    tokens = raw.split(b"\0")
    meta: dict[str, tuple[str, str]] = {}
    counts: dict[str, int | None] = {}
    i = 0
    while i < len(tokens):
        tok = tokens[i].lstrip(b"\n")
        i += 1
        if not tok:
            continue
        if tok.startswith(b":"):
            parts = tok.decode("ascii").split()
            meta[tokens[i].decode("utf-8", "surrogateescape")] = (parts[1], parts[3])
            i += 1
        else:
            added, _, rest = tok.partition(b"\t")
            _, _, path = rest.partition(b"\t")
            counts[path.decode("utf-8", "surrogateescape")] = None if added == b"-" else int(added)
    return [TreeFile(p, mode, blob, counts.get(p)) for p, (mode, blob) in meta.items()]


def _touched_paths(repo: Repository, start: str, end: str) -> list[str]:
    """Paths changed by any commit in ``start..end`` (merges against their first parent)."""
    raw = repo.run_bytes(["log", "--format=", "--name-only", "-z", "--no-renames",
                          "--diff-merges=first-parent", f"{start}..{end}", "--"])  # fmt: skip
    paths = {t.lstrip(b"\n").decode("utf-8", "surrogateescape") for t in raw.split(b"\0")}
    paths.discard("")
    return sorted(paths)


# -- running blame ---------------------------------------------------------------------------

#: One file's blame: (commit id, lines, is a window boundary) per commit.
BlameCounts = tuple[tuple[str, int, bool], ...]


def parse_incremental(chunks: Iterable[bytes]) -> BlameCounts:
    """Lines per commit from ``git blame --incremental`` output, read as a stream.

    A commit marked ``boundary`` lies outside the blamed range (``--root`` keeps root commits
    out of that set).
    """
    counts: dict[str, int] = {}
    boundary: set[str] = set()
    current = ""
    rest = b""
    for chunk in chunks:
        lines = (rest + chunk).split(b"\n")
        rest = lines.pop()
        for line in lines:
            m = _ENTRY.match(line)
            if m is not None:
                current = m.group(1).decode("ascii")
                counts[current] = counts.get(current, 0) + int(m.group(2))
            elif line == b"boundary":
                boundary.add(current)
    return tuple((sha, n, sha in boundary) for sha, n in counts.items())


def blame_file(
    repo: Repository, rev: str, path: str, options: BlameOptions, *,
    start: str | None = None, ignore_file: str | None = None,
    started: Callable[[subprocess.Popen[bytes]], None] | None = None,
) -> BlameCounts:  # fmt: skip
    """Blame one file at ``rev`` (``start..rev`` for a window) with one git process."""
    args = [*_BLAME_FIXED, *options.git_args]
    if ignore_file is not None:
        args.append(f"--ignore-revs-file={ignore_file}")
    args += [f"{start}..{rev}" if start else rev, "--", path]
    return parse_incremental(repo.stream(args, started=started))


class BlameCache:
    """Blame results of earlier runs, in one SQLite file per repository (safe for concurrent
    runs: SQLite locks; a write that fails leaves the earlier content)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, timeout=30)
        self._db.execute("CREATE TABLE IF NOT EXISTS blame (key TEXT PRIMARY KEY, counts TEXT)")

    def get_many(self, keys: Sequence[str]) -> dict[str, BlameCounts]:
        """The cached results among ``keys``."""
        out: dict[str, BlameCounts] = {}
        for i in range(0, len(keys), _LOOKUP_BATCH):
            batch = keys[i : i + _LOOKUP_BATCH]
            marks = ",".join("?" * len(batch))
            for key, raw in self._db.execute(
                f"SELECT key, counts FROM blame WHERE key IN ({marks})", batch
            ):
                try:
                    out[key] = tuple((str(s), int(n), bool(b)) for s, n, b in json.loads(raw))
                except (ValueError, TypeError):
                    continue  # unreadable entry: blame again
        return out

    def put_many(self, items: Mapping[str, BlameCounts]) -> None:
        """Store results (one transaction)."""
        rows = [(k, json.dumps([[s, n, int(b)] for s, n, b in v], separators=(",", ":")))
                for k, v in items.items()]  # fmt: skip
        with self._db:
            self._db.executemany("INSERT OR REPLACE INTO blame VALUES (?, ?)", rows)

    def close(self) -> None:
        """Close the database."""
        self._db.close()


def cache_path(repo: Repository) -> Path:
    """Where the blame cache of ``repo`` lives: ``<cache root>/blame/<name>-<hash>/blame.sqlite3``,
    the cache root being ``$PROVENANCE_CACHE_DIR``, else ``$XDG_CACHE_HOME/provenance``, else
    ``~/.cache/provenance``; ``<hash>`` identifies the repository's git directory."""
    ident = hashlib.sha256(str(repo.git_dir.resolve()).encode("utf-8", "surrogateescape"))
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", repo.name)[:40] or "repo"
    return cache_root() / "blame" / f"{safe}-{ident.hexdigest()[:16]}" / "blame.sqlite3"


def _history_digest(repo: Repository) -> str:
    """What besides the commits can change blame's answer: replace refs and a shallow boundary."""
    parts = repo.run(["for-each-ref", "--format=%(refname) %(objectname)", "refs/replace/"])
    with suppress(OSError):
        parts += (repo.common_dir / "shallow").read_text("ascii", errors="replace")
    return hashlib.sha256(parts.encode()).hexdigest()[:16]


def _cache_key(blob: str, path: str, start: str | None, opts_key: str) -> str:
    raw = "\0".join((blob, path, start or "", opts_key)).encode("utf-8", "surrogateescape")
    return hashlib.sha256(raw).hexdigest()


@dataclass(frozen=True, slots=True)
class _Job:
    window: int
    file: TreeFile
    key: str


# -- classification --------------------------------------------------------------------------


def _metadata(repo: Repository, shas: Sequence[str]) -> Iterator[CommitRecord]:
    """The listed commits' metadata from one ``git log --no-walk=unsorted --stdin`` process.

    Like :func:`provenance.gitlog.iter_commits_listed` without ``--numstat`` (which would diff
    every commit: 1.8 s for 3,000 commits of charmbracelet/crush, against 0.04 s without).
    """
    if not shas:
        return
    nonce = b"\x1eprov-" + secrets.token_hex(8).encode()
    args = [a for a in gitlog.log_args(nonce) if a != "--numstat"]
    args += ["--no-walk=unsorted", "--stdin", "--"]
    stdin = ("\n".join(shas) + "\n").encode()
    yield from gitlog._Parser(nonce).records(repo.stream(args, stdin=stdin))


def _merged_branches(repo: Repository, tip: str) -> dict[str, str]:
    """For each commit reachable from ``tip``, the branch named by the merge that landed it
    (one metadata-only ``git log`` and the landing pass, as :func:`provenance.audit` does)."""
    parents: dict[str, tuple[str, ...]] = {}
    branch_of_merge: dict[str, str] = {}
    raw = repo.run_bytes(["log", "-z", "--format=%H %P%x1f%s", tip, "--"])
    for rec in raw.split(b"\0"):
        ids, _, subject = rec.decode("utf-8", "replace").strip("\n").partition("\x1f")
        shas = ids.split()
        if not shas:
            continue
        parents[shas[0]] = tuple(shas[1:])
        if len(shas) > 2:
            b = merged_branch(subject)
            if b:
                branch_of_merge[shas[0]] = b
    landed = landing_commits(tip, parents)
    return {c: branch_of_merge[m] for c, m in landed.items() if m in branch_of_merge}


def classify_commits(
    repo: Repository, shas: Sequence[str], rules: RuleSet, threshold: Confidence, tip: str,
) -> pd.DataFrame:  # fmt: skip
    """Classify the listed commits as ``report`` does: one row per commit with ``sha``,
    ``class``, ``tool``, ``models`` and ``author`` (after ``.mailmap``)."""
    notes = notes_of(repo, rules)
    branches = _merged_branches(repo, tip) if rules.by_field[Field.BRANCH] else {}
    memo: dict[tuple[Field, str], list[Evidence]] = {}
    rows = []
    for rec in _metadata(repo, shas):
        ev = collect_evidence(rec, rules, notes_refs=notes.get(rec.sha, ()), cache=memo)
        branch = branches.get(rec.sha)
        if branch:
            ev += branch_evidence(branch, rules, memo)
        v = decide(ev, threshold)
        rows.append((rec.sha, v.cls.value, v.tool, "; ".join(v.models), person(rec.author)))
    return pd.DataFrame(rows, columns=["sha", "class", "tool", "models", "author"])


def _commit_classes(
    repo: Repository, audit: Audit | None, blamed: Sequence[str], rules: RuleSet,
    threshold: Confidence, tip: str,
) -> pd.DataFrame:  # fmt: skip
    """Class, tool, models and author of each blamed commit: the audit's verdict when it has
    one, else classified here (merges and commits outside the audit's window)."""
    shas = list(dict.fromkeys(blamed))
    parts = []
    if audit is not None:
        c = audit.commits
        known = c[c["sha"].isin(shas)]
        parts.append(pd.DataFrame({
            "sha": known["sha"].astype(str).to_numpy(),
            "class": known["class"].astype(str).to_numpy(),
            "tool": known["tool"].astype(object).where(known["tool"].notna(), "").to_numpy(),
            "models": known["models"].fillna("").astype(str).to_numpy(),
            "author": known["author"].astype(str).to_numpy(),
        }))  # fmt: skip
    seen = set(parts[0]["sha"]) if parts else set()
    parts.append(classify_commits(repo, [s for s in shas if s not in seen], rules, threshold, tip))
    commits = pd.concat(parts, ignore_index=True)
    missing = set(shas) - set(commits["sha"])
    if missing:
        raise GitError(f"git log did not return blamed commit {sorted(missing)[0]}")
    return commits


# -- aggregation -----------------------------------------------------------------------------

#: Columns of every surviving-share table after its key column(s).
BLAME_COLUMNS = ("files", "commits", "lines", "ai_lines", "human_lines", "bot_lines",
                 "ai_share", "human_share", "bot_share")  # fmt: skip
TOTAL = "total"


def _sums(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Per group of ``keys`` (or over everything): files, commits, lines per class, shares."""
    if frame.empty:
        if keys:
            return _empty(keys)
        return _with_shares(pd.DataFrame([dict.fromkeys(BLAME_COLUMNS[:6], 0)]))
    gk = keys or ["_all"]
    f = frame if keys else frame.assign(_all=0)
    cls = f["class"].astype(str)
    parts = f[gk].copy()
    parts["lines"] = f["lines"].to_numpy()
    for c in CommitClass:
        parts[f"{c.value}_lines"] = np.where(cls == c.value, f["lines"], 0)
    out = parts.groupby(gk, sort=False, observed=True)[
        ["lines", "ai_lines", "human_lines", "bot_lines"]
    ].sum()
    grouped = f.groupby(gk, sort=False, observed=True)
    out["files"] = grouped["path"].nunique()
    out["commits"] = grouped["sha"].nunique()
    out = out.reset_index()
    return _with_shares(out)[[*keys, *BLAME_COLUMNS]]


def _with_shares(t: pd.DataFrame) -> pd.DataFrame:
    t = t.copy()
    for c in ("files", "commits", "lines", "ai_lines", "human_lines", "bot_lines"):
        t[c] = t[c].fillna(0).astype("int64")
    denom = t["lines"].where(t["lines"] > 0)
    for c in CommitClass:
        t[f"{c.value}_share"] = (t[f"{c.value}_lines"] / denom).astype("float64")
    return t


def _empty(keys: list[str]) -> pd.DataFrame:
    t = pd.DataFrame({k: pd.Series([], dtype="string") for k in keys})
    for c in BLAME_COLUMNS:
        t[c] = pd.Series([], dtype="float64" if c.endswith("share") else "int64")
    return t


def _key_column(lines: pd.DataFrame, by: GroupBy, depth: int) -> pd.Series:
    if lines.empty:
        return pd.Series([], dtype="string", index=lines.index)
    if by is GroupBy.PATH:
        return dir_of(lines["path"], depth)
    if by is GroupBy.EXT:
        return ext_of(lines["path"])
    return commit_key(lines, by).astype("string")


def surviving_table(
    lines: pd.DataFrame, windows: Sequence[Window], by: GroupBy | None, depth: int, *,
    releases: bool,
) -> pd.DataFrame:  # fmt: skip
    """The table from per-(window, path, commit) line counts joined with commit classes.

    At one revision: one row per group (most lines first) and a ``total`` row last, or a single
    row without ``by``. Per release: one row per release (and group), in release order; every
    release has a row when there is no ``by``.
    """
    keys = ["_group"] if by is not None else []
    if by is not None:
        lines = lines.assign(_group=_key_column(lines, by, depth))
    if not releases:
        table = _sums(lines, keys)
        if by is not None:
            table = table.sort_values(["lines", "_group"], ascending=[False, True])
            total = _sums(lines, []).assign(_group=TOTAL)
            table = pd.concat([table, total[table.columns]], ignore_index=True)
    else:
        table = _sums(lines, ["window", *keys])
        if by is None:
            table = table.set_index("window").reindex(range(len(windows)))
            table = _with_shares(table.rename_axis("window").reset_index())
            table = table.sort_values("window")
        else:
            table = table.sort_values(["window", "lines", "_group"], ascending=[True, False, True])
        ws = [windows[int(i)] for i in table["window"]]
        table = table.reset_index(drop=True).drop(columns="window")
        table.insert(0, "release", pd.Series([w.label for w in ws], dtype="string"))
        table.insert(1, "start", pd.Series([w.start_label for w in ws], dtype="string"))
        dates = pd.Series([w.end_date for w in ws], dtype=object)
        table.insert(2, "end_date", pd.to_datetime(dates, utc=True))
    if by is not None:
        table = table.rename(columns={"_group": by.value})
        table[by.value] = table[by.value].astype("string")
    return table.reset_index(drop=True)


# -- the report ------------------------------------------------------------------------------


@dataclass
class BlameReport:
    """Everything ``provenance blame`` shows: the table plus its context."""

    metric: str
    repo: str
    at: str
    tip: str
    mode: str  # "at" (one revision) or "releases" (one or more windows)
    by: str | None
    table: pd.DataFrame
    windows: list[Window]
    options: BlameOptions
    min_confidence: str
    excluded: ExcludedSummary
    tags: str | None = None
    since_rev: str | None = None
    files: int = 0
    blamed: int = 0
    cached: int = 0
    shallow_depth: int | None = None
    caveat: str = CAVEAT
    notes: list[str] = field(default_factory=list)

    @property
    def total(self) -> dict[str, Any]:
        """The total row (at one revision) as a dict."""
        return dict(self.table.iloc[-1])


def release_windows(
    repo: Repository, tip: str, releases: str | Sequence[str]
) -> list[tuple[str, str]]:
    """The (label, commit) of each release boundary, oldest first.

    A string is a shell glob over tag names (``*`` also matches ``/``): the matching tags whose
    commit is reachable from ``tip``, in the order of their commits' dates (ties by version
    order). A sequence names the revisions in order.
    """
    if not isinstance(releases, str):
        return [(r, repo.resolve(r)) for r in releases]
    fmt = "%(refname:lstrip=2)%00%(objectname)%00%(*objectname)%00%(committerdate:unix)%00" \
          "%(*committerdate:unix)"  # fmt: skip
    out = repo.run(["for-each-ref", "--merged", tip, "--sort=version:refname",
                    f"--format={fmt}", "refs/tags/"])  # fmt: skip
    found = []
    for n, line in enumerate(out.splitlines()):
        name, obj, peeled, date, peeled_date = (line.split("\0") + [""] * 5)[:5]
        if not fnmatchcase(name, releases):
            continue
        when = peeled_date or date
        found.append((int(when) if when.isdigit() else 0, n, name, peeled or obj))
    found.sort()
    return [(name, sha) for _, _, name, sha in found]


def _commit_dates(repo: Repository, shas: Sequence[str]) -> dict[str, pd.Timestamp]:
    unique = list(dict.fromkeys(shas))
    if not unique:
        return {}
    out = repo.run(["log", "--no-walk=unsorted", "--format=%H %ct", *unique, "--"])
    dates = {}
    for line in out.splitlines():
        sha, _, ct = line.partition(" ")
        dates[sha] = pd.Timestamp(int(ct), unit="s", tz="UTC")
    return dates


def _ignore_revs(
    repo: Repository, tip: str, ignore_revs_file: str | os.PathLike[str] | None, auto: bool
) -> IgnoreRevs:
    if ignore_revs_file is not None:
        p = Path(ignore_revs_file)
        try:
            text = p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read ignore-revs file {p}: {exc}") from None
        return parse_ignore_revs(text, str(p))
    if auto:
        blob = repo.read_blob(tip, IGNORE_REVS_FILE)
        if blob is not None:
            where = f"{IGNORE_REVS_FILE} at {tip[:12]}"
            return parse_ignore_revs(blob.decode("utf-8", "replace"), where)
    return IgnoreRevs()


def blame_report(
    audit_or_path: Audit | str | os.PathLike[str] = ".",
    at: str | None = None,
    releases: str | Sequence[str] | None = None,
    *,
    since_rev: str | None = None,
    by: str | GroupBy | None = None,
    depth: int = 1,
    detect: str | Detect = DEFAULT_DETECT,
    ignore_whitespace: bool = False,
    ignore_revs_file: str | os.PathLike[str] | None = None,
    ignore_revs: bool = True,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    default_excludes: bool = True,
    min_confidence: str | Confidence | None = None,
    rules: RuleSet | None = None,
    config_file: str | os.PathLike[str] | None = None,
    allow_shallow: bool = False,
    jobs: int = 0,
    cache: bool = True,
    progress: ProgressCallback | None = None,
) -> BlameReport:
    """Blame every counted file and build the surviving-share :class:`BlameReport`.

    ``audit_or_path`` is a repository path, or an :class:`~provenance.frame.Audit` whose rules,
    threshold, path filter and verdicts are reused (``at`` then defaults to the audit's
    revision). ``releases`` (a tag glob, or revisions in order) gives one window per pair of
    successive releases; ``since_rev`` one window ``since_rev..at``. ``detect``,
    ``ignore_whitespace`` and the ignore-revs options are passed to git blame
    (``ignore_revs=True`` reads ``.git-blame-ignore-revs`` from the blamed revision when no
    file is given). ``jobs`` blame processes run at once (0: one per core). ``progress`` is
    called with the number of files blamed so far (a :class:`~provenance.progress.Progress`
    also gets the total).
    """
    if releases is not None and since_rev is not None:
        raise ConfigError("use either releases or since_rev, not both")
    audit = audit_or_path if isinstance(audit_or_path, Audit) else None
    repo = Repository(audit_or_path.path if isinstance(audit_or_path, Audit) else audit_or_path)
    at_label = at if at is not None else (audit.rev if audit is not None else "HEAD")
    tip = repo.resolve(at_label)
    shallow = repo.check_not_shallow(allow_shallow)
    group = GroupBy(by) if by is not None else None
    if audit is not None:
        ruleset, threshold = audit.rules, audit.min_confidence
        filt = audit.path_filter
        include, exclude = tuple(filt.include), tuple(filt.exclude)
        default_excludes = filt.defaults
    else:
        cfg = load_config(repo, config_file)
        ruleset = cfg.apply(rules if rules is not None else RuleSet.builtin())
        threshold = threshold_of(min_confidence, cfg)
        include, exclude = (*cfg.include, *include), (*cfg.exclude, *exclude)
        default_excludes = default_excludes and cfg.default_excludes
    try:
        level = Detect(detect)
    except ValueError:
        choices = ", ".join(d.value for d in Detect)
        raise ConfigError(f"unknown detect level {detect!r}: use one of {choices}") from None
    options = BlameOptions(level, ignore_whitespace,
                           _ignore_revs(repo, tip, ignore_revs_file, ignore_revs))  # fmt: skip
    windowed = releases is not None or since_rev is not None
    notes: list[str] = []
    windows = _windows(repo, at_label, tip, releases, since_rev, notes)

    def path_filter(rev: str) -> PathFilter:
        if audit is not None and rev == audit.tip:
            return audit.path_filter
        return PathFilter(include=include, exclude=exclude, defaults=default_excludes,
                          attributes=read_attributes(repo, rev))  # fmt: skip

    plan = _plan(repo, windows, path_filter, options.key(_history_digest(repo)))
    results, cached = _run_blames(repo, windows, plan.jobs, options, jobs, cache, progress, notes)
    lines = _line_rows(plan.jobs, results, skip_boundary=windowed)
    commits = _commit_classes(repo, audit, lines["sha"].tolist(), ruleset, threshold, tip)
    lines = lines.merge(commits, on="sha", how="left", validate="many_to_one")

    if options.ignore_revs.revs:
        notes.append(f"blame ignored {len(options.ignore_revs.revs):,} revisions listed in "
                     f"{options.ignore_revs.source}")  # fmt: skip
    if shallow is not None:
        notes.append(f"history is shallow (depth {shallow}): lines older than the fetched "
                     "history are credited to its oldest commits")  # fmt: skip
    return BlameReport(
        metric=METRIC_WINDOWS if windowed else METRIC_AT,
        repo=repo.name,
        at=at_label,
        tip=tip,
        mode="releases" if windowed else "at",
        by=group.value if group is not None else None,
        table=surviving_table(lines, windows, group, depth, releases=windowed),
        windows=windows,
        options=options,
        min_confidence=threshold.label,
        excluded=plan.excluded,
        tags=releases if isinstance(releases, str) else None,
        since_rev=since_rev,
        files=plan.files,
        blamed=len(plan.jobs) - cached,
        cached=cached,
        shallow_depth=shallow,
        notes=notes,
    )


METRIC_AT = "surviving share (lines present at the revision, by the commit that last changed them)"
METRIC_WINDOWS = ("surviving share per release (lines present at each release whose last change "
                  "lies inside the release)")  # fmt: skip


def _windows(
    repo: Repository, at_label: str, tip: str, releases: str | Sequence[str] | None,
    since_rev: str | None, notes: list[str],
) -> list[Window]:  # fmt: skip
    if releases is None and since_rev is None:
        return [Window(at_label, tip)]
    if releases is not None:
        bounds = release_windows(repo, tip, releases)
        if len(bounds) < 2:
            what = (f"tags matching {releases!r} reachable from {at_label}"
                    if isinstance(releases, str) else "releases")  # fmt: skip
            notes.append(f"no release window: it takes two {what}, found {len(bounds)}")
        pairs = list(pairwise(bounds))
    else:
        assert since_rev is not None
        pairs = [((since_rev, repo.resolve(since_rev)), (at_label, tip))]
    dates = _commit_dates(repo, [end for _, (_, end) in pairs])
    return [Window(e_label, e, s_label, s, dates.get(e)) for (s_label, s), (e_label, e) in pairs]


@dataclass
class _Plan:
    jobs: list[_Job]
    files: int
    excluded: ExcludedSummary


def _plan(
    repo: Repository, windows: Sequence[Window], path_filter: Callable[[str], PathFilter],
    opts_key: str,
) -> _Plan:  # fmt: skip
    """The files to blame in each window: counted (filters, text, regular file), not empty,
    and in a window touched by one of its commits. The exclusions are summarised at the last
    window's revision."""
    empty_tree = repo.run(["hash-object", "-t", "tree", "--stdin"], input=b"").strip()
    plan = _Plan([], 0, ExcludedSummary(_excluded_table([]), 0, []))
    for wi, w in enumerate(windows):
        last = wi == len(windows) - 1
        touched = _touched_paths(repo, w.start, w.rev) if w.start else None
        files = list_files(repo, w.rev, empty_tree, None if last else touched)
        pfilter = path_filter(w.rev)
        if last:
            plan.excluded = _summarise_exclusions(files, pfilter)
            if touched is not None:
                keep = set(touched)
                files = [f for f in files if f.path in keep]
        for f in files:
            if f.mode not in _BLAMED_MODES or f.lines is None or pfilter.category(f.path):
                continue
            plan.files += 1
            if f.lines > 0:
                plan.jobs.append(_Job(wi, f, _cache_key(f.blob, f.path, w.start, opts_key)))
    return plan


def _line_rows(
    jobs: Sequence[_Job], results: Mapping[str, BlameCounts], *, skip_boundary: bool
) -> pd.DataFrame:
    """One row per (window, path, commit) with the lines blame credited to the commit."""
    w: list[int] = []
    paths: list[str] = []
    shas: list[str] = []
    counts: list[int] = []
    for job in jobs:
        for sha, n, boundary in results[job.key]:
            if skip_boundary and boundary:
                continue
            w.append(job.window)
            paths.append(job.file.path)
            shas.append(sha)
            counts.append(n)
    return pd.DataFrame({"window": np.asarray(w, dtype="int64"),
                         "path": pd.array(paths, dtype="string"),
                         "sha": pd.array(shas, dtype="string"),
                         "lines": np.asarray(counts, dtype="int64")})  # fmt: skip


def _excluded_table(rows: list[tuple[str, int, int]]) -> pd.DataFrame:
    t = pd.DataFrame(rows, columns=["category", "files", "lines"])
    t = t.astype({"category": "string", "files": "int64", "lines": "int64"})
    return t.sort_values(["lines", "category"], ascending=[False, True]).reset_index(drop=True)


def _summarise_exclusions(files: Sequence[TreeFile], pfilter: PathFilter) -> ExcludedSummary:
    per: dict[str, list[int]] = {}
    binary = 0
    for f in files:
        if f.mode not in _BLAMED_MODES:
            continue
        cat = pfilter.category(f.path)
        if cat:
            acc = per.setdefault(cat, [0, 0])
            acc[0] += 1
            acc[1] += f.lines or 0
        elif f.lines is None:
            binary += 1
    table = _excluded_table([(c, n, ln) for c, (n, ln) in per.items()])
    return ExcludedSummary(table=table, binary_files=binary, filters=pfilter.describe())


def _run_blames(
    repo: Repository, windows: Sequence[Window], jobs_list: Sequence[_Job],
    options: BlameOptions, jobs: int, use_cache: bool, progress: ProgressCallback | None,
    notes: list[str],
) -> tuple[dict[str, BlameCounts], int]:  # fmt: skip
    """Results for every job: from the cache, else from git (in parallel); stores new ones."""
    results: dict[str, BlameCounts] = {}
    store: BlameCache | None = None
    with ExitStack() as stack:
        if use_cache and jobs_list:
            try:
                store = BlameCache(cache_path(repo))
                stack.callback(store.close)
                results.update(store.get_many(list(dict.fromkeys(j.key for j in jobs_list))))
            except (OSError, sqlite3.Error) as exc:
                notes.append(f"blame cache unavailable ({exc}): blamed without it")
                store = None
        if results:
            # Blame is keyed by content, so a rewritten (or pruned) history can leave cached
            # answers naming commits that are not in the blamed revision's history: blame those
            # files again.
            by_rev: dict[str, set[str]] = {}
            for j in jobs_list:
                if j.key in results:
                    by_rev.setdefault(windows[j.window].rev, set()).add(j.key)
            drop: set[str] = set()
            for rev, keys in by_rev.items():
                shas = {sha for k in keys for sha, _, _ in results[k]}
                stale = _unreachable(repo, [rev], shas)
                drop |= {k for k in keys if any(sha in stale for sha, _, _ in results[k])}
            results = {k: v for k, v in results.items() if k not in drop}
        cached = sum(1 for j in jobs_list if j.key in results)
        todo = list({j.key: j for j in jobs_list if j.key not in results}.values())
        if isinstance(progress, Progress):
            progress.total = len(todo)
        ignore_file = None
        if options.ignore_revs.revs:
            fd, ignore_file = tempfile.mkstemp(prefix="provenance-ignore-revs-", suffix=".txt")
            stack.callback(os.unlink, ignore_file)
            with os.fdopen(fd, "w", encoding="ascii") as fh:
                fh.write("\n".join(options.ignore_revs.revs) + "\n")
        fresh: dict[str, BlameCounts] = {}
        try:
            _blame_all(repo, windows, todo, options, ignore_file, jobs, progress, fresh)
        finally:
            # Keep what was blamed even when interrupted: a re-run resumes from there.
            if store is not None and fresh:
                try:
                    store.put_many(fresh)
                except sqlite3.Error as exc:
                    notes.append(f"blame cache not updated ({exc})")
        results.update(fresh)
    return results, cached


def _unreachable(repo: Repository, revs: Iterable[str], shas: set[str]) -> set[str]:
    """The commits of ``shas`` that are missing or not reachable from any of ``revs``."""
    if not shas:
        return set()
    listed = "".join(f"{s}\n" for s in sorted(shas)).encode("ascii")
    check = repo.run_bytes(["cat-file", "--batch-check=%(objectname) %(objecttype)"],
                           input=listed).decode("ascii", "replace")  # fmt: skip
    present = {ln.split()[0] for ln in check.splitlines() if ln.endswith(" commit")}
    bad = shas - present
    if present:
        args = ["rev-list", "--stdin", *(f"^{r}" for r in sorted(set(revs))), "--"]
        out = repo.run_bytes(args, input="\n".join(sorted(present)).encode("ascii") + b"\n")
        bad |= present & set(out.decode("ascii", "replace").split())
    return bad


def _blame_all(
    repo: Repository, windows: Sequence[Window], todo: Sequence[_Job], options: BlameOptions,
    ignore_file: str | None, jobs: int, progress: ProgressCallback | None,
    out: dict[str, BlameCounts],
) -> None:  # fmt: skip
    if not todo:
        return
    # Big files first, so one long blame does not start last and leave the other workers idle.
    order = sorted(todo, key=lambda j: -(j.file.lines or 0))
    pool = ThreadPoolExecutor(max_workers=min(resolve_jobs(jobs), len(order)))
    procs: list[subprocess.Popen[bytes]] = []
    finished = False
    try:
        futures: dict[Future[BlameCounts], _Job] = {
            pool.submit(blame_file, repo, windows[j.window].rev, j.file.path, options,
                        start=windows[j.window].start, ignore_file=ignore_file,
                        started=procs.append): j
            for j in order
        }  # fmt: skip
        for fut in as_completed(futures):
            out[futures[fut].key] = fut.result()
            if progress is not None:
                progress(len(out))
        finished = True
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        if not finished:
            # Interrupted or failed: kill the running blames rather than wait for them.
            for proc in list(procs):
                if proc.poll() is None:
                    proc.kill()
        pool.shutdown(wait=True)


def surviving_share(
    audit_or_path: Audit | str | os.PathLike[str] = ".",
    at: str | None = None,
    releases: str | Sequence[str] | None = None,
    **kwargs: Any,
) -> pd.DataFrame:
    """The surviving-share table: of the lines present at ``at`` (default ``HEAD``, or the
    audit's revision), how many were last changed by ai, human and bot commits.

    One row without ``by``; with ``by`` (``tool``, ``author``, ``model``, ``path``, ``ext``)
    one row per group and a ``total`` row last. With ``releases`` (a tag glob such as
    ``"v*.*.0"``, or revisions in order) or ``since_rev``: one row per release window (and
    group), counting only lines whose last change lies inside the window. Keyword arguments
    are those of :func:`blame_report`.
    """
    return blame_report(audit_or_path, at, releases, **kwargs).table
