"""The incremental cache: per-commit records of earlier runs, so a re-run mines only new commits.

Layout (one directory per repository and per set of options that change git's output)::

    <root>/<repo-key>/<options-key>/
        seg-<random>.bin        immutable segments: CRC-checked frames of marshalled records
        tip-<sha>.json          snapshot: the segments that hold exactly the commits reachable
                                from <sha>, with their sizes and CRCs

``root`` is ``$PROVENANCE_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/provenance``, else
``~/.cache/provenance``: nothing is written into the repository. ``repo-key`` hashes the
absolute git directory; ``options-key`` hashes everything that can change a commit's record
besides its id: the record format, rename detection, the fixed diff options, the repository's
``diff.*``/``mailmap.*``/``core.attributesFile`` settings, the mailmap and attributes files,
replace refs and the shallow boundary.

A run at tip T looks for a snapshot whose tip is T or an ancestor of T (``git merge-base
--is-ancestor``), yields its records and mines only ``T ^<snapshot tip>``. Records are keyed by
immutable commit ids, so a rewritten history simply finds no usable snapshot. Files are
written to a temporary name and renamed into place, so two concurrent runs never see a
partial file; the last snapshot written wins. Any unreadable or inconsistent file is treated
as a miss, never as data. Pull-request ranges (an ``exclude``) bypass the cache.
"""

from __future__ import annotations

import functools
import hashlib
import json
import marshal
import operator
import os
import secrets
import struct
import sys
import tempfile
import time
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from provenance.gitlog import (
    _FIELDS,
    DIFF_OPTIONS,
    CommitRecord,
    FileChange,
    HeadStart,
    Repository,
    mine,
)

#: Bump whenever the stored record layout or its meaning changes.
FORMAT = 1
ENV_VAR = "PROVENANCE_CACHE_DIR"
_FRAME = struct.Struct("<II")  # payload length, CRC-32 of the payload
_BATCH = 2048
_MAX_SEGMENTS = 8  # a snapshot with more segments is compacted into one
_KEEP_SNAPSHOTS = 4
_ORPHAN_AGE = 3600.0  # seconds before an unreferenced segment may be deleted

Row = tuple[Any, ...]


def cache_root() -> Path:
    """The directory holding every repository's cache (see the module docstring)."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "provenance"


def _digest(*parts: bytes | str) -> str:
    h = hashlib.sha256()
    for p in parts:
        b = p.encode("utf-8", "surrogateescape") if isinstance(p, str) else p
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)
    return h.hexdigest()


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""


def _repo_key(repo: Repository) -> str:
    return _digest(str(repo.git_dir.resolve()))[:16]


def holds(repo: Repository, root: Path | None = None) -> bool:
    """True if the cache has a directory for ``repo`` (whatever its options or rules); False
    also where the cache root cannot be looked at (a run then works uncached)."""
    try:
        return ((root or cache_root()) / _repo_key(repo)).is_dir()
    except (OSError, ValueError):
        return False


def options_key(repo: Repository, renames: bool) -> str:
    """A hash of everything besides the commit id that can change a commit's record."""
    config = repo.run(
        ["config", "-z", "--get-regexp", r"^(diff\.|mailmap\.|core\.attributesfile)"],
        check=False,
    )
    version = f"{FORMAT} py{sys.version_info[0]}.{sys.version_info[1]}"  # marshal's format
    parts: list[bytes | str] = [version, str(renames), *DIFF_OPTIONS, *_FIELDS, config]
    parts.append(repo.run(["for-each-ref", "--format=%(refname) %(objectname)",
                           "refs/replace/"], check=False))  # fmt: skip
    parts += [_read(repo.common_dir / "shallow"), _read(repo.common_dir / "info" / "attributes")]
    parts.append(_read(repo.common_dir / "info" / "grafts"))
    if repo.work_tree is not None:
        parts.append(_read(repo.work_tree / ".mailmap"))
        listed = repo.run_bytes(["ls-files", "-z", "--", ":(glob)**/.gitattributes"])
        for rel in sorted(p for p in listed.split(b"\0") if p):
            parts += [rel, _read(repo.work_tree / os.fsdecode(rel))]
    else:
        parts.append(repo.read_blob("HEAD", ".mailmap") or b"")
    attributes_file = False
    for line in config.split("\0"):
        key, _, value = line.partition("\n")
        if key in ("mailmap.file", "core.attributesfile") and value:
            parts.append(_read(Path(os.path.expanduser(value))))
            attributes_file = attributes_file or key == "core.attributesfile"
        elif key == "mailmap.blob" and value:
            parts.append(repo.read_blob(value, "") or b"")
    if not attributes_file:
        # git's default global attributes file, then the usual system one.
        xdg = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
        parts.append(_read(Path(xdg) / "git" / "attributes"))
    parts.append(_read(Path("/etc/gitattributes")))
    return _digest(*parts)[:32]


# Each field in one C call: twice as fast as reading them one by one (a first run writes
# every record of the history).
_RECORD_FIELDS = operator.attrgetter(
    "sha", "parents", "author_name", "author_email", "author", "author_mail", "committer_name",
    "committer_email", "authored_at", "author_tz", "committed_at", "committer_tz", "message",
)  # fmt: skip
_FILE_FIELDS = operator.attrgetter("path", "added", "deleted", "old_path")


def to_row(rec: CommitRecord) -> Row:
    """A record as plain tuples (what the cache stores)."""
    return (*_RECORD_FIELDS(rec), tuple(map(_FILE_FIELDS, rec.files)))


def from_row(row: Row) -> CommitRecord:
    """The inverse of :func:`to_row`."""
    return CommitRecord(
        row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8], row[9],
        row[10], row[11], row[12], tuple([FileChange(*f) for f in row[13]]),
    )  # fmt: skip


@dataclass(frozen=True)
class Snapshot:
    """The segments holding exactly the commits reachable from ``tip``."""

    tip: str
    count: int
    segments: tuple[tuple[str, int, int], ...]  # (file name, size, CRC-32 of the file)
    path: Path


class Store:
    """One repository's cache directory for one options key."""

    def __init__(self, repo: Repository, renames: bool, root: Path | None = None) -> None:
        self.dir = (root or cache_root()) / _repo_key(repo) / options_key(repo, renames)

    def snapshots(self) -> list[Snapshot]:
        """Readable snapshots, newest first."""
        found: list[tuple[float, Snapshot]] = []
        try:
            entries = list(self.dir.glob("tip-*.json"))
        except OSError:
            return []
        for p in entries:
            try:
                data = json.loads(p.read_text(encoding="utf-8"))
                snap = Snapshot(
                    tip=str(data["tip"]),
                    count=int(data["count"]),
                    segments=tuple((str(n), int(s), int(c)) for n, s, c in data["segments"]),
                    path=p,
                )
                found.append((p.stat().st_mtime, snap))
            except (OSError, ValueError, KeyError, TypeError):
                continue
        return [s for _, s in sorted(found, key=lambda x: x[0], reverse=True)]

    def load(self, snap: Snapshot) -> list[bytes] | None:
        """The raw segments of ``snap``, verified; None if any is missing or damaged."""
        blobs = []
        for name, size, crc in snap.segments:
            data = _read(self.dir / name)
            if len(data) != size or zlib.crc32(data) != crc:
                return None
            blobs.append(data)
        return blobs

    def writer(self) -> SegmentWriter:
        """A new segment, invisible until :meth:`SegmentWriter.finish`."""
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        return SegmentWriter(self.dir)

    def publish(self, tip: str, count: int, segments: Sequence[tuple[str, int, int]]) -> None:
        """Atomically record that ``segments`` hold exactly the history of ``tip``."""
        body = json.dumps({"tip": tip, "count": count, "segments": list(segments),
                           "format": FORMAT}).encode()  # fmt: skip
        _atomic_write(self.dir / f"tip-{tip}.json", body)
        self._prune()

    def _prune(self) -> None:
        snaps = self.snapshots()
        for old in snaps[_KEEP_SNAPSHOTS:]:
            old.path.unlink(missing_ok=True)
        live = {n for s in snaps[:_KEEP_SNAPSHOTS] for n, _, _ in s.segments}
        now = time.time()
        # Orphans: unreferenced segments, and temporary files of runs killed mid-write.
        for p in [*self.dir.glob("seg-*.bin"), *self.dir.glob(".tmp-*")]:
            try:
                if p.name not in live and now - p.stat().st_mtime > _ORPHAN_AGE:
                    p.unlink(missing_ok=True)
            except OSError:
                continue


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class SegmentWriter:
    """Appends batches of rows to a temporary file; :meth:`finish` renames it into place."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-seg-")
        self.tmp = Path(tmp)
        self.fh = os.fdopen(fd, "wb")
        self.rows: list[Row] = []
        self.count = 0
        self.size = 0
        self.crc = 0

    def add(self, rec: CommitRecord) -> None:
        """Queue one record (written in batches)."""
        self.rows.append(to_row(rec))
        if len(self.rows) >= _BATCH:
            self._flush()

    def _flush(self) -> None:
        if not self.rows:
            return
        payload = marshal.dumps(self.rows)
        head = _FRAME.pack(len(payload), zlib.crc32(payload))
        self.fh.write(head)
        self.fh.write(payload)
        self.crc = zlib.crc32(payload, zlib.crc32(head, self.crc))
        self.size += len(head) + len(payload)
        self.count += len(self.rows)
        self.rows = []

    def finish(self) -> tuple[str, int, int]:
        """Close and publish the segment; returns (name, size, CRC)."""
        self._flush()
        self.fh.close()
        name = f"seg-{secrets.token_hex(8)}.bin"
        os.replace(self.tmp, self.dir / name)
        return name, self.size, self.crc

    def abort(self) -> None:
        """Drop the temporary file."""
        self.fh.close()
        self.tmp.unlink(missing_ok=True)


def _rows(blob: bytes) -> Iterator[Row]:
    view = memoryview(blob)
    pos = 0
    while pos < len(view):
        length, crc = _FRAME.unpack_from(view, pos)
        pos += _FRAME.size
        payload = view[pos : pos + length]
        pos += length
        if zlib.crc32(payload) != crc:
            raise ValueError("damaged cache frame")
        yield from marshal.loads(payload)


def _usable(repo: Repository, store: Store, tip: str) -> tuple[Snapshot, list[bytes]] | None:
    """The newest snapshot at ``tip`` or at one of its ancestors, with its verified segments."""
    snaps = store.snapshots()
    exact = [s for s in snaps if s.tip == tip]
    for snap in exact + [s for s in snaps if s.tip != tip][:_KEEP_SNAPSHOTS]:
        if snap.tip != tip and not repo.is_ancestor(snap.tip, tip):
            continue
        blobs = store.load(snap)
        if blobs is not None:
            return snap, blobs
    return None


def cached_history(
    repo: Repository,
    tip: str,
    *,
    exclude: Sequence[str] = (),
    renames: bool = True,
    jobs: int = 1,
    root: Path | None = None,
    started: HeadStart | None = None,
) -> Iterator[CommitRecord]:
    """Like :func:`provenance.gitlog.mine`, reusing and extending the cache (see module doc);
    ``started`` is adopted if the cache has nothing to reuse.

    The new snapshot is published only when the whole history has been yielded, so a run that
    is interrupted or fails leaves the cache as it was.
    """
    if exclude:
        yield from mine(repo, tip, exclude=exclude, renames=renames, jobs=jobs)
        return
    store = Store(repo, renames, root)
    found = _usable(repo, store, tip)
    if found is not None and found[0].tip == tip:
        for blob in found[1]:
            for row in _rows(blob):
                yield from_row(row)
        return
    try:
        writer = store.writer()
    except OSError:
        writer = None  # read-only or full cache directory: run uncached
    count = 0
    keep: list[tuple[str, int, int]] = []
    try:
        if found is not None:
            snap, blobs = found
            compact = len(snap.segments) >= _MAX_SEGMENTS
            if not compact:
                keep = list(snap.segments)
            for blob in blobs:
                for row in _rows(blob):
                    rec = from_row(row)
                    if compact and writer is not None:
                        writer.add(rec)
                    count += 1
                    yield rec
            del blobs
        new = mine(repo, tip, exclude=[found[0].tip] if found else (), renames=renames,
                   jobs=jobs, started=started)  # fmt: skip
        for rec in new:
            if writer is not None:
                writer.add(rec)
            count += 1
            yield rec
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    if writer is None:
        return
    try:
        segment = writer.finish()
        store.publish(tip, count, [*keep, segment])
    except OSError:
        writer.abort()


#: Bump whenever the layout of a stored audit memo changes.
AUDIT_FORMAT = 1
_KEEP_MEMOS = 3


_MEMO_CODE = (
    "classify.py", "frame.py", "rules.py", "gitlog.py", "cache.py", "exclusions.py", "landing.py",
)


@functools.lru_cache(maxsize=1)
def code_key() -> str:
    """A hash of the source of the modules whose logic shapes a memo, so that an upgrade (or a
    local edit) of provenance never reads a memo an older version wrote."""
    here = Path(__file__).resolve().parent
    return _digest(*(_read(here / name) for name in _MEMO_CODE))[:16]


class AuditMemo:
    """Classified history memos: for a tip, everything :func:`provenance.audit` derives from
    the commits reachable from it before any per-run setting applies (landing inputs,
    identities, line counts per file, evidence of every rule except notes).

    Stored as ``audit-<rules-key>-<tip>.bin`` next to the record segments (so under the same
    options key), as one CRC-checked frame of marshalled lists. ``rules_key`` hashes the rule
    set, so another configuration never reads a memo it did not write. A run at tip T uses the
    memo of T, or of an ancestor of T plus the commits mined since; the memo of T is then
    written. Writes are atomic renames; anything unreadable is a miss.
    """

    def __init__(self, repo: Repository, renames: bool, rules_key: str,
                 root: Path | None = None) -> None:  # fmt: skip
        self.repo = repo
        self.store = Store(repo, renames, root)
        self.prefix = f"audit-{AUDIT_FORMAT}-{_digest(rules_key, code_key())[:32]}-"

    def _path(self, tip: str) -> Path:
        return self.store.dir / f"{self.prefix}{tip}.bin"

    def _candidates(self) -> list[Path]:
        try:
            found = [(p.stat().st_mtime, p) for p in self.store.dir.glob(f"{self.prefix}*.bin")]
        except OSError:
            return []
        return [p for _, p in sorted(found, reverse=True)]

    def find(self, tip: str) -> tuple[str, dict[str, Any]] | None:
        """The memo of ``tip``, or of the newest ancestor of it that has one."""
        exact = self._path(tip)
        others = [p for p in self._candidates() if p != exact][:_KEEP_MEMOS]
        for p in [exact, *others]:
            memo_tip = p.name[len(self.prefix) : -len(".bin")]
            if p != exact and not self.repo.is_ancestor(memo_tip, tip):
                continue
            data = _load_frame(p)
            if isinstance(data, dict) and data.get("tip") == memo_tip:
                return memo_tip, data
        return None

    def save(self, tip: str, data: dict[str, Any]) -> None:
        """Write the memo of ``tip`` (best effort: a read-only cache directory is skipped)."""
        try:
            payload = marshal.dumps({**data, "tip": tip})
            self.store.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            _atomic_write(self._path(tip), _FRAME.pack(len(payload), zlib.crc32(payload)) + payload)
            # Keep the newest few of any rule set or version; older ones are dead weight.
            found = [(p.stat().st_mtime, p) for p in self.store.dir.glob("audit-*.bin")]
            for _, old in sorted(found, reverse=True)[_KEEP_MEMOS:]:
                old.unlink(missing_ok=True)
        except (OSError, ValueError):
            return


def _load_frame(path: Path) -> Any:
    data = _read(path)
    if len(data) < _FRAME.size:
        return None
    length, crc = _FRAME.unpack_from(data, 0)
    payload = memoryview(data)[_FRAME.size :]
    if len(payload) != length or zlib.crc32(payload) != crc:
        return None
    try:
        return marshal.loads(payload)
    except (EOFError, ValueError, TypeError):
        return None
