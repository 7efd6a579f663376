"""Mine, land, classify and frame: ``provenance.audit()`` builds the typed DataFrames.

Data flow: one streaming ``git log`` yields :class:`~provenance.gitlog.CommitRecord` s; the
classifier collects evidence while the stream is read, a batch of commits at a time (so only a
batch of message bodies is ever held); the landing pass runs once over the parent map; then two
DataFrames are built column-wise.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from provenance._lazy import preload
from provenance.classify import (
    NO_EVIDENCE,
    CommitClass,
    Evidence,
    Verdict,
    branch_evidence,
    collect_evidence,
    collect_evidence_many,
    decide,
    merged_branch,
    notes_evidence,
)
from provenance.config import Config, load_config
from provenance.errors import ConfigError
from provenance.exclusions import AttrRule, PathFilter, parse_gitattributes
from provenance.gitlog import (
    DEFAULT_CACHE,
    DEFAULT_JOBS,
    CommitRecord,
    HeadStart,
    Repository,
    iter_commits_listed,
    iter_history,
)
from provenance.landing import extend_landing, landing_commits
from provenance.rules import Confidence, Field, Kind, RuleSet, derived_table, load_derived

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
else:
    from provenance._lazy import numpy as np
    from provenance._lazy import pandas as pd

CLASSES = [c.value for c in CommitClass]
CONFIDENCES = [c.label for c in Confidence]

#: Columns of :attr:`Audit.commits`, in order (documented in the README).
COMMIT_COLUMNS = (
    "sha", "landed_sha", "authored_at", "landed_at", "author", "author_email", "subject",
    "class", "tool", "tools", "models", "confidence", "rules", "evidence_scope", "hint",
    "files", "added", "deleted", "excluded_added",
)  # fmt: skip


def parse_when(value: str | datetime | None, *, end: bool = False) -> pd.Timestamp | None:
    """Parse a --since/--until value. A bare date means the whole day (UTC)."""
    if value is None or value == "":
        return None
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise ConfigError(f"invalid date {value!r}: use YYYY-MM-DD or an ISO timestamp") from None
    if pd.isna(ts):
        raise ConfigError(f"invalid date {value!r}: use YYYY-MM-DD or an ISO timestamp")
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    if end and isinstance(value, str) and len(value.strip()) == 10:
        ts = ts + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1)
    return ts


@dataclass
class Audit:
    """The result of mining one repository: everything the metrics need, as DataFrames.

    ``commits`` has one row per counted commit (non-merge, reachable from the target, landed in
    the selected window), in landing order (then authored date, then id); ``files`` has one row
    per commit x changed path, in the same commit order, carrying the
    commit's class, tool, author and landing date so it can be grouped directly.
    """

    repo_name: str
    path: str
    rev: str
    tip: str
    commits: pd.DataFrame
    files: pd.DataFrame
    min_confidence: Confidence
    path_filter: PathFilter
    rules: RuleSet
    since: pd.Timestamp | None = None
    until: pd.Timestamp | None = None
    base: str | None = None
    merges: int = 0
    shallow_depth: int | None = None
    shallow_boundary: int = 0
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def counted_files(self) -> pd.DataFrame:
        """Rows of :attr:`files` that count (not excluded, not binary)."""
        f = self.files
        return f[(f["excluded"] == "") & ~f["binary"]]


@dataclass
class _Columns:
    """Column-wise accumulators for the two frames (cheaper than a list of dicts)."""

    sha: list[str] = field(default_factory=list)
    authored: list[int] = field(default_factory=list)
    author: list[str] = field(default_factory=list)
    email: list[str] = field(default_factory=list)
    subject: list[str] = field(default_factory=list)
    evidence: list[Sequence[Evidence]] = field(default_factory=list)
    f_commit: list[int] = field(default_factory=list)
    f_path: list[str] = field(default_factory=list)
    f_old: list[str | None] = field(default_factory=list)
    f_added: list[int] = field(default_factory=list)
    f_deleted: list[int] = field(default_factory=list)
    f_binary: list[bool] = field(default_factory=list)


# Commits whose evidence is collected together: large enough for one search of all their
# messages to pay, small enough that the last batch, classified once git has finished, is
# quick (1,024 classify git/git faster than 4,096 did: 0.39 against 0.43 s per 100k).
_BATCH: Final = 1024


@dataclass
class _History:
    """Everything the frames need from the mined history, before any per-run setting (the
    threshold, path filters, notes, dates) is applied: what :class:`AuditMemo` stores."""

    parents: dict[str, tuple[str, ...]] = field(default_factory=dict)
    committed: dict[str, int] = field(default_factory=dict)
    merge_branches: dict[str, str] = field(default_factory=dict)
    cols: _Columns = field(default_factory=_Columns)
    merges: int = 0
    skipped_boundary: int = 0
    pending: list[tuple[int, CommitRecord]] = field(default_factory=list)
    strings: dict[str, str] = field(default_factory=dict)  # one object per distinct string
    landing: dict[str, str] | None = None  # of the tip the memo was saved at

    def add(self, rec: CommitRecord, rules: RuleSet,
            ev_cache: dict[tuple[Field, str], list[Evidence]],
            boundary: frozenset[str]) -> None:  # fmt: skip
        """Take one mined commit (notes are matched later: they can change without it).

        Evidence is collected for batches of commits at once; :meth:`flush` the last one.
        """
        # Ids, names and paths shared as one object each, which the memo (marshal) then stores
        # once: a third smaller and twice as fast to load. (Not sys.intern: never freed on 3.12.)
        intern = self.strings.setdefault
        sha = intern(rec.sha, rec.sha)
        self.parents[sha] = tuple([intern(p, p) for p in rec.parents])
        self.committed[sha] = rec.committed_at
        if rec.is_merge:
            self.merges += 1
            branch = merged_branch(rec.subject)
            if branch:
                self.merge_branches[sha] = branch
            return
        if sha in boundary:
            self.skipped_boundary += 1
            return
        cols = self.cols
        i = len(cols.sha)
        cols.sha.append(sha)
        cols.authored.append(rec.authored_at)
        author = person(rec.author)
        cols.author.append(intern(author, author))
        cols.email.append(intern(rec.author_mail, rec.author_mail))
        cols.subject.append(rec.subject)
        cols.evidence.append(())
        self.pending.append((i, rec))
        if len(self.pending) >= _BATCH:
            self.flush(rules, ev_cache)
        for fc in rec.files:
            cols.f_commit.append(i)
            cols.f_path.append(intern(fc.path, fc.path))
            cols.f_old.append(None if fc.old_path is None else intern(fc.old_path, fc.old_path))
            cols.f_added.append(fc.added or 0)
            cols.f_deleted.append(fc.deleted or 0)
            cols.f_binary.append(fc.binary)

    def flush(self, rules: RuleSet, ev_cache: dict[tuple[Field, str], list[Evidence]]) -> None:
        """Collect the evidence of the commits added since the last batch."""
        if self.pending:
            found = collect_evidence_many([r for _, r in self.pending], rules, cache=ev_cache)
            for (i, _), ev in zip(self.pending, found, strict=True):
                self.cols.evidence[i] = ev
            self.pending.clear()

    def to_memo(self) -> dict[str, Any]:
        """Plain lists, dicts and tuples (marshal-able)."""
        c = self.cols
        evidence = {
            i: [(e.rule_id, e.tool, e.kind.value, e.field.value, int(e.confidence), e.matched,
                 e.model, e.scope, e.decisive) for e in ev]
            for i, ev in enumerate(c.evidence)
            if ev
        }  # fmt: skip
        shas = list(self.parents)
        index = {s: i for i, s in enumerate(shas)}
        landing = self.landing or {}
        return {
            "shas": shas, "parents": list(self.parents.values()),
            "committed": [self.committed[s] for s in shas],
            "landing": [index.get(landing.get(s, ""), -1) for s in shas],
            "merge_branches": self.merge_branches, "merges": self.merges,
            "skipped_boundary": self.skipped_boundary, "sha": c.sha, "authored": c.authored,
            "author": c.author, "email": c.email, "subject": c.subject, "evidence": evidence,
            "f_commit": c.f_commit, "f_path": c.f_path, "f_old": c.f_old, "f_added": c.f_added,
            "f_deleted": c.f_deleted, "f_binary": c.f_binary,
        }  # fmt: skip

    @classmethod
    def from_memo(cls, d: dict[str, Any]) -> _History:
        """The inverse of :meth:`to_memo`."""
        n = len(d["sha"])
        evidence: list[Sequence[Evidence]] = [() for _ in range(n)]
        for i, rows in d["evidence"].items():
            evidence[i] = [
                Evidence(r[0], r[1], Kind(r[2]), Field(r[3]), Confidence(r[4]), *r[5:])
                for r in rows
            ]
        cols = _Columns(
            sha=d["sha"], authored=d["authored"], author=d["author"], email=d["email"],
            subject=d["subject"], evidence=evidence, f_commit=d["f_commit"], f_path=d["f_path"],
            f_old=d["f_old"], f_added=d["f_added"], f_deleted=d["f_deleted"],
            f_binary=d["f_binary"],
        )  # fmt: skip
        shas = d["shas"]
        return cls(
            parents=dict(zip(shas, d["parents"], strict=True)),
            committed=dict(zip(shas, d["committed"], strict=True)),
            merge_branches=d["merge_branches"], cols=cols, merges=d["merges"],
            skipped_boundary=d["skipped_boundary"],
            landing={s: shas[j] for s, j in zip(shas, d["landing"], strict=True) if j >= 0},
        )  # fmt: skip


def notes_of(repo: Repository, rules: RuleSet) -> dict[str, tuple[str, ...]]:
    """The notes refs holding a note for each commit, for the refs some notes rule matches."""
    if not rules.by_field[Field.NOTES_REF]:
        return {}
    return repo.notes_index(lambda ref: bool(notes_evidence([ref], rules)))


def ruleset_key(rules: RuleSet) -> str:
    """A hash of everything in ``rules`` that can change a commit's evidence."""
    h = hashlib.sha256()
    for r in rules:
        for part in (r.id, r.tool, r.kind.value, r.field.value, r.pattern, r.confidence.label,
                     r.scope):  # fmt: skip
            b = part.encode("utf-8", "surrogateescape")
            h.update(len(b).to_bytes(8, "little") + b)
    return h.hexdigest()[:32]


#: Git dates are whole seconds; second resolution also covers any date git can store.
DATETIME_DTYPE: Final = "datetime64[s, UTC]"


def _utc(seconds: Sequence[int] | np.ndarray) -> pd.DatetimeIndex:
    arr = np.asarray(seconds, dtype="int64").astype("datetime64[s]")
    return pd.DatetimeIndex(arr).tz_localize("UTC")


def read_attributes(repo: Repository, tip: str) -> list[AttrRule]:
    """The linguist settings of every ``.gitattributes`` file in the tree at ``tip``."""
    files = {}
    for path, blob in repo.read_blobs(tip, repo.tree_paths(tip, ".gitattributes")).items():
        if blob is not None:
            files[path.rpartition("/")[0]] = blob.decode("utf-8", errors="replace")
    return parse_gitattributes(files)


def audit(
    path: str | os.PathLike[str] = ".",
    rev: str = "HEAD",
    since: str | datetime | None = None,
    until: str | datetime | None = None,
    *,
    base: str | None = None,
    min_confidence: str | Confidence | None = None,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    default_excludes: bool = True,
    renames: bool = True,
    allow_shallow: bool = False,
    rules: RuleSet | None = None,
    config: Config | None = None,
    config_file: str | os.PathLike[str] | None = None,
    jobs: int = DEFAULT_JOBS,
    cache: bool = DEFAULT_CACHE,
    progress: Callable[[int], None] | None = None,
    started: HeadStart | None = None,
) -> Audit:
    """Mine the history of ``rev`` in the repository at ``path`` and classify every commit.

    Counted commits are the non-merge commits reachable from ``rev`` (and not from ``base``, for
    a pull-request range), dated by when they landed on ``rev``'s first-parent chain; ``since``
    and ``until`` select by that landed date. ``progress`` is called with the number of commits
    read so far. ``started`` is a :class:`~provenance.gitlog.HeadStart` to adopt if it mines
    what this needs (the caller closes it). Returns an :class:`Audit` holding the frames.
    """
    repo = Repository(path)
    shallow = repo.check_not_shallow(allow_shallow)
    tip = repo.resolve(rev)
    base_sha = repo.resolve(base) if base else None
    cfg = config if config is not None else load_config(repo, config_file)
    ruleset = cfg.apply(rules if rules is not None else RuleSet.builtin())
    threshold = threshold_of(min_confidence, cfg)
    t0, t1 = parse_when(since), parse_when(until, end=True)
    filter_args: dict[str, Any] = {
        "include": (*cfg.include, *include),
        "exclude": (*cfg.exclude, *exclude),
        "defaults": default_excludes and cfg.default_excludes,
    }
    # A bad glob is an error now, not after mining. (Only the user's: the built-in ones are
    # compiled once git is busy.)
    PathFilter(include=filter_args["include"], exclude=filter_args["exclude"], defaults=False)

    # In a shallow clone, git diffs a commit whose parents were not fetched against the empty
    # tree, as if it added every file: such boundary commits are dated but not counted.
    boundary = _shallow_boundary(repo) if shallow is not None else frozenset()
    ev_cache: dict[tuple[Field, str], list[Evidence]] = {}
    hist, memo, memo_tip = _History(), None, None
    if cache and not base_sha:
        from provenance.cache import AuditMemo

        memo = AuditMemo(repo, renames, ruleset_key(ruleset))
        found = memo.find(tip)
        try:
            if found is not None:
                memo_tip, hist = found[0], _History.from_memo(found[1])
                load_derived(found[1].get("derived"))
        except (KeyError, TypeError, ValueError, IndexError, AttributeError):
            memo_tip, hist = None, _History()  # a memo of another shape: a miss
        if memo_tip is not None and progress is not None:
            progress(len(hist.parents))  # commits known without mining
    attrs: list[AttrRule] | None = None
    notes: dict[str, tuple[str, ...]] = {}

    def side_inputs() -> tuple[list[AttrRule], dict[str, tuple[str, ...]], PathFilter]:
        # pandas (for the frames) imports once git is busy: started earlier, the import
        # would hold the GIL that the threads feeding git need. The attributes and notes are
        # read, and the path filter compiled, meanwhile too, not before git starts or after
        # it is done.
        preload()
        found = read_attributes(repo, tip)
        return found, notes_of(repo, ruleset), PathFilter(**filter_args, attributes=found)

    if memo_tip != tip:
        if memo_tip is not None:
            since_memo: Sequence[str] = [memo_tip]
        else:
            since_memo = [base_sha] if base_sha else ()
        stream = iter_history(repo, tip, exclude=since_memo, renames=renames, jobs=jobs,
                              cache=cache and memo_tip is None, started=started)  # fmt: skip
        warmed = 0
        try:
            for n, rec in enumerate(stream, len(hist.parents) + 1):
                if progress is not None:
                    progress(n)
                hist.add(rec, ruleset, ev_cache, boundary)
                if attrs is None:
                    attrs, notes, pfilter = side_inputs()
                elif not n % _BATCH:
                    # The frames need every distinct path's category: worked out here, while
                    # git is busy, it is not on the single core left once git is done.
                    warmed = pfilter.warm(hist.cols.f_path, warmed)
        finally:
            # Closed here, not when garbage collected: an error or Ctrl-C in this loop stops
            # the git processes and discards a half-written cache segment at once.
            close = getattr(stream, "close", None)
            if close is not None:
                close()
        hist.flush(ruleset, ev_cache)
    cols, parents, committed = hist.cols, hist.parents, hist.committed
    if attrs is None:  # no record came (all in the memo, or none new): nothing to overlap
        attrs, notes, pfilter = side_inputs()

    # The memo keeps the landing of its tip; a tip built on it only walks the new mainline.
    landed = None
    if memo_tip is not None and hist.landing:
        landed = hist.landing if memo_tip == tip else extend_landing(
            hist.landing, memo_tip, tip, parents)  # fmt: skip
    if landed is None:
        landed = landing_commits(tip, parents)
    if memo is not None and memo_tip != tip:
        hist.landing = landed
        memo.save(tip, {**hist.to_memo(), "derived": derived_table(ruleset)})
    # Branch evidence of each merge whose merged branch some rule matches.
    branch_ev: dict[str, list[Evidence]] = {}
    if ruleset.by_field[Field.BRANCH]:
        for m, b in hist.merge_branches.items():
            found_ev = branch_evidence(b, ruleset, ev_cache)
            if found_ev:
                branch_ev[m] = found_ev
    verdicts: list[Verdict] = []
    for sha, ev in zip(cols.sha, cols.evidence, strict=True):
        refs = notes.get(sha) if notes else None
        if refs:
            ev = sorted([*ev, *notes_evidence(refs, ruleset, ev_cache)],
                        key=lambda e: ruleset.order[e.rule_id])  # fmt: skip
        if branch_ev:
            bev = branch_ev.get(landed.get(sha, ""))
            if bev:
                ev = [*ev, *bev]
        verdicts.append(decide(ev, threshold) if ev else NO_EVIDENCE)
    merges, skipped_boundary = hist.merges, hist.skipped_boundary

    commits, files = _frames(cols, verdicts, landed, committed, pfilter)
    if t0 is not None or t1 is not None:
        keep = pd.Series(True, index=commits.index)
        if t0 is not None:
            keep &= commits["landed_at"] >= t0
        if t1 is not None:
            keep &= commits["landed_at"] <= t1
        commits = commits[keep].reset_index(drop=True)
        files = files[files["sha"].isin(commits["sha"])].reset_index(drop=True)
    return Audit(
        repo_name=repo.name,
        path=str(repo.work_tree or repo.git_dir),
        rev=rev,
        tip=tip,
        commits=commits,
        files=files,
        min_confidence=threshold,
        path_filter=pfilter,
        rules=ruleset,
        since=t0,
        until=t1,
        base=base,
        merges=merges,
        shallow_depth=shallow,
        shallow_boundary=skipped_boundary,
    )


_AIDER_SUFFIX = re.compile(r"\s+\(aider\)$")


def person(name: str) -> str:
    """The person behind an author name: aider's ``Name (aider)`` is still Name."""
    return _AIDER_SUFFIX.sub("", name) if name.endswith("(aider)") else name


def _shallow_boundary(repo: Repository) -> frozenset[str]:
    """Commits at the edge of a shallow clone (listed in ``$GIT_DIR/shallow``)."""
    try:
        text = (repo.common_dir / "shallow").read_text(encoding="ascii", errors="replace")
    except OSError:
        return frozenset()
    return frozenset(text.split())


def _frames(
    cols: _Columns,
    verdicts: list[Verdict],
    landed: dict[str, str],
    committed: dict[str, int],
    pfilter: PathFilter,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    n = len(cols.sha)
    landed_sha = [landed.get(s, s) for s in cols.sha]
    landed_at = _utc([committed[s] for s in landed_sha])

    f_commit = np.asarray(cols.f_commit, dtype="int64")
    f_added = np.asarray(cols.f_added, dtype="int64")
    f_binary = np.asarray(cols.f_binary, dtype=bool)
    # Paths repeat across commits: each distinct one is categorised once.
    codes, paths = pd.factorize(np.asarray(cols.f_path, dtype=object))
    names = np.asarray([pfilter.category(p) for p in paths], dtype=object)
    f_excluded = pd.Categorical(names[codes] if len(codes) else [])
    counted = (f_excluded == "") & ~f_binary
    counted_added = np.where(counted, f_added, 0)
    added = np.bincount(f_commit, weights=counted_added, minlength=n).astype("int64")
    deleted = np.bincount(
        f_commit, weights=np.where(counted, cols.f_deleted, 0), minlength=n
    ).astype("int64")
    excluded_added = np.bincount(
        f_commit, weights=np.where(~counted, f_added, 0), minlength=n
    ).astype("int64")
    nfiles = np.bincount(f_commit, weights=counted, minlength=n).astype("int64")

    def conf(c: Confidence | None) -> str | None:
        return c.label if c is not None else None

    class_dtype = pd.CategoricalDtype(CLASSES)
    confidence_dtype = pd.CategoricalDtype(CONFIDENCES, ordered=True)
    commits = pd.DataFrame(
        {
            "sha": pd.array(cols.sha, dtype="string"),
            "landed_sha": pd.array(landed_sha, dtype="string"),
            "authored_at": _utc(cols.authored),
            "landed_at": landed_at,
            "author": pd.array(cols.author, dtype="string"),
            "author_email": pd.array(cols.email, dtype="string"),
            "subject": pd.array(cols.subject, dtype="string"),
            "class": pd.Categorical([v.cls.value for v in verdicts], dtype=class_dtype),
            "tool": pd.Categorical([v.tool for v in verdicts]),
            "tools": pd.array(["; ".join(v.tools) for v in verdicts], dtype="string"),
            "models": pd.array(["; ".join(v.models) for v in verdicts], dtype="string"),
            "confidence": pd.Categorical(
                [conf(v.confidence) for v in verdicts], dtype=confidence_dtype
            ),
            "rules": pd.array([";".join(v.counted) for v in verdicts], dtype="string"),
            "evidence_scope": pd.Categorical([v.scope for v in verdicts]),
            "hint": pd.Categorical([conf(v.hint) for v in verdicts], dtype=confidence_dtype),
            "files": nfiles,
            "added": added,
            "deleted": deleted,
            "excluded_added": excluded_added,
        },
        columns=list(COMMIT_COLUMNS),
    )
    take = f_commit

    def spread(col: str) -> Any:
        return commits[col].array.take(take)

    files = pd.DataFrame(
        {
            "sha": spread("sha"),
            "path": pd.array(cols.f_path, dtype="string"),
            "old_path": pd.array(cols.f_old, dtype="string"),
            "added": f_added,
            "deleted": np.asarray(cols.f_deleted, dtype="int64"),
            "binary": f_binary,
            "excluded": f_excluded,
            "class": spread("class"),
            "tool": spread("tool"),
            "models": spread("models"),
            "author": spread("author"),
            "landed_at": spread("landed_at"),
        }
    )
    # Landing order (then authored date, then id), whatever order the commits were mined or
    # cached in, so every run gives the same frames row for row.
    order = np.lexsort((
        commits["sha"].to_numpy(dtype=object),
        commits["authored_at"].to_numpy(dtype="datetime64[s]"),
        commits["landed_at"].to_numpy(dtype="datetime64[s]"),
    ))  # fmt: skip
    rank = np.empty(n, dtype="int64")
    rank[order] = np.arange(n)
    commits = commits.take(order).reset_index(drop=True)
    files = files.take(np.argsort(rank[f_commit], kind="stable")).reset_index(drop=True)
    return commits, files


def commit_table(audit: Audit) -> pd.DataFrame:
    """The ``commits`` listing as a frame: the :data:`COMMIT_COLUMNS` of every counted commit,
    in landing order (then authored date, then id)."""
    c = audit.commits
    if not _in_landing_order(c):  # as :func:`audit` makes them, unless changed since
        c = c.sort_values(["landed_at", "authored_at", "sha"], kind="stable")
    return c[list(COMMIT_COLUMNS)].reset_index(drop=True)


def _in_landing_order(c: pd.DataFrame) -> bool:
    """True if the rows are sorted by landing date, then authored date, then id (a check of
    a few vectorised comparisons, where sorting 100k rows by id takes a tenth of a second)."""
    if len(c) < 2:
        return True
    try:
        la, au = _instants(c["landed_at"]), _instants(c["authored_at"])
        same_la, same_au = la[1:] == la[:-1], au[1:] == au[:-1]
        ordered = (la[1:] > la[:-1]) | (same_la & ((au[1:] > au[:-1]) | same_au))
    except (TypeError, ValueError, AttributeError):  # not dates: let the sort decide
        return False
    if not ordered.all():
        return False
    sha = c["sha"].tolist()
    return all(sha[i] <= sha[i + 1] for i in np.flatnonzero(same_la & same_au).tolist())


def _instants(s: pd.Series) -> np.ndarray:
    """A date column as naive UTC datetime64 at its own precision (NaT compares unequal)."""
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        s = s.dt.tz_convert("UTC").dt.tz_localize(None)
    return s.to_numpy()


def commit_rows(audit: Audit) -> Iterator[dict[str, Any]]:
    """The ``commits`` listing, one dict per counted commit, produced lazily in landing order."""
    cols = list(COMMIT_COLUMNS)
    for rec in commit_table(audit).itertuples(index=False, name=None):
        yield dict(zip(cols, rec, strict=True))


@dataclass(frozen=True)
class Explanation:
    """Why one commit got its verdict: the commit, its files, and every rule that fired."""

    record: CommitRecord
    verdict: Verdict
    min_confidence: Confidence
    counted_files: tuple[tuple[str, int, int, str], ...]
    repo_name: str


def explain(
    path: str | os.PathLike[str],
    sha: str,
    *,
    min_confidence: str | Confidence | None = None,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    default_excludes: bool = True,
    config_file: str | os.PathLike[str] | None = None,
    rules: RuleSet | None = None,
) -> Explanation:
    """Classify one commit and return the evidence: every rule that matched, at any confidence.

    Branch-name rules are not evaluated here (they depend on the merge that landed the commit).
    """
    repo = Repository(path)
    full = repo.resolve(sha)
    cfg = load_config(repo, config_file)
    ruleset = cfg.apply(rules if rules is not None else RuleSet.builtin())
    threshold = threshold_of(min_confidence, cfg)
    notes = notes_of(repo, ruleset)
    rec = next(iter_commits_listed(repo, [full]))
    verdict = decide(collect_evidence(rec, ruleset, notes_refs=notes.get(full, ())), threshold)
    pfilter = PathFilter(
        include=(*cfg.include, *include),
        exclude=(*cfg.exclude, *exclude),
        defaults=default_excludes and cfg.default_excludes,
        attributes=read_attributes(repo, full),
    )
    files = tuple(
        (fc.path, fc.added or 0, fc.deleted or 0,
         "binary" if fc.binary else pfilter.category(fc.path))
        for fc in rec.files
    )  # fmt: skip
    return Explanation(rec, verdict, threshold, files, repo.name)


def active_rules(
    path: str | os.PathLike[str] = ".", *, config_file: str | os.PathLike[str] | None = None
) -> RuleSet:
    """The rules in effect for the repository at ``path``: the shipped catalogue with the
    repository's (or ``config_file``'s) additions, removals and re-grades. ``path`` need not be
    a repository when ``config_file`` is given."""
    repo: Repository | None = None
    if config_file is None:
        repo = Repository(path)
    return load_config(repo, config_file).apply(RuleSet.builtin())


def threshold_of(value: str | Confidence | None, cfg: Config) -> Confidence:
    """The confidence threshold in effect: the option if given, else the config's, else high."""
    if value is None:
        return cfg.min_confidence or Confidence.HIGH
    if isinstance(value, Confidence):
        return value
    try:
        return Confidence.parse(value)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
