"""The miner: the one module that runs git.

Everything here reads; nothing writes into the repository. Every git call goes through
:class:`Repository`, which pins a fixed set of options and environment variables so that nothing
the audited repository configures (pager, external diff, textconv, fsmonitor, hooks, signature
verification, ssh) can run, and which turns any failure into a typed error carrying git's stderr.
"""

from __future__ import annotations

import collections
import contextlib
import fcntl
import functools
import io
import os
import queue
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, cast

from provenance.errors import (
    DubiousOwnership,
    EmptyRepository,
    GitError,
    NotAGitRepository,
    ShallowRepository,
    UnknownRevision,
)

# Options given to every git command, ahead of the subcommand. Command-line `-c` wins over any
# repository, global or system configuration, so these neutralise everything that could make a
# read-only git command execute something the repository chose.
SAFE_CONFIG: tuple[str, ...] = (
    "-c", "core.fsmonitor=false",
    "-c", "core.hooksPath=/dev/null",
    "-c", "core.pager=cat",
    "-c", "core.sshCommand=false",
    "-c", "core.askPass=false",
    "-c", "gpg.program=false",
    "-c", "log.showSignature=false",
    "-c", "log.showRoot=true",
    "-c", "log.mailmap=true",
    "-c", "i18n.logOutputEncoding=UTF-8",
    "-c", "diff.relative=false",
    "-c", "protocol.allow=never",
    "-c", "color.ui=false",
)  # fmt: skip

# Environment variables that would redirect git or run programs; removed from the child's env.
_DROPPED_ENV = (
    "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_NAMESPACE", "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_EXTERNAL_DIFF", "GIT_DIFF_OPTS", "GIT_SSH",
    "GIT_SSH_COMMAND", "GIT_ASKPASS", "SSH_ASKPASS", "GIT_EDITOR", "GIT_SEQUENCE_EDITOR",
    "GIT_PAGER", "PAGER", "GIT_TRACE", "GIT_CONFIG_PARAMETERS", "GIT_CONFIG_COUNT",
    "GIT_COMMON_DIR", "GIT_SHALLOW_FILE", "GIT_GRAFT_FILE", "GIT_REPLACE_REF_BASE",
)  # fmt: skip

# Options for any diff-producing command, so counts are the same whatever the user configured.
DIFF_OPTIONS: tuple[str, ...] = (
    "--no-ext-diff",
    "--no-textconv",
    "--no-color",
    "--diff-algorithm=myers",
    "--ignore-submodules=all",
    "-O/dev/null",  # diff.orderFile: git log reads it, diff-tree does not
)

_CHUNK = 1 << 20

#: Defaults of the CLI's --jobs and --cache options.
DEFAULT_JOBS = 0
DEFAULT_CACHE = True


def git_env() -> dict[str, str]:
    """The environment every git child runs with."""
    env = {k: v for k, v in os.environ.items() if k not in _DROPPED_ENV}
    env.update(
        GIT_PAGER="cat",
        PAGER="cat",
        GIT_TERMINAL_PROMPT="0",
        GIT_OPTIONAL_LOCKS="0",
        LC_ALL="C",
        LANGUAGE="C",
        # Block-buffered output even into a pipe (git flushes after every commit otherwise: a
        # write per commit). The one conversation, with the parallel miner's workers, ends each
        # request with a line git echoes and always flushes (see CHUNK).
        GIT_FLUSH="0",
    )
    env["GLIBC_TUNABLES"] = malloc_tunables(env.get("GLIBC_TUNABLES"))
    return env


#: glibc's malloc settings for git. Diffing inflates blobs, diffs and frees them, commit after
#: commit, and by default glibc gives the freed top of the heap back to the kernel each time
#: and takes it again for the next commit: a page fault per page, every time. Keeping 64 MiB
#: of slack saves git 6-7% of its CPU on a history's diffs (0.14 of 2.1 s on scrapy, 0.6 of
#: 8.0 s on 15,000 commits of git/git) for about 5 MB of peak memory. Other C libraries
#: ignore the variable.
MALLOC_TUNABLES: tuple[tuple[str, str], ...] = (
    ("glibc.malloc.top_pad", str(64 << 20)),
    ("glibc.malloc.trim_threshold", str(256 << 20)),
    # Setting either of those turns off glibc's own raising of the mmap threshold, which would
    # leave every blob of 128 KiB or more to an mmap and munmap of its own: fixed at the
    # highest value glibc would raise it to.
    ("glibc.malloc.mmap_threshold", str(32 << 20)),
)


def malloc_tunables(given: str | None) -> str:
    """``GLIBC_TUNABLES`` for git: the user's own settings, and ours for the rest."""
    own = [t for t in (given or "").split(":") if t]
    named = {t.split("=", 1)[0] for t in own}
    return ":".join([*own, *(f"{k}={v}" for k, v in MALLOC_TUNABLES if k not in named)])


@dataclass(frozen=True, slots=True)
class FileChange:
    """One path changed by a commit, as git's numstat reports it against the first parent.

    ``added``/``deleted`` are ``None`` for binary files. ``old_path`` is set for renames.
    """

    path: str
    added: int | None
    deleted: int | None
    old_path: str | None = None

    @property
    def binary(self) -> bool:
        """True when git reported the file as binary (no line counts)."""
        return self.added is None


@dataclass(frozen=True, slots=True)
class CommitRecord:
    """One commit as read from git: identities, dates, message and per-file line counts.

    ``author_name``/``author_email`` are the raw identities stored in the commit (what
    classification looks at); ``author``/``author_mail`` are the same after ``.mailmap``
    (what reports group by). Dates are Unix seconds plus git's ``+HHMM`` offset.
    """

    sha: str
    parents: tuple[str, ...]
    author_name: str
    author_email: str
    author: str
    author_mail: str
    committer_name: str
    committer_email: str
    authored_at: int
    author_tz: str
    committed_at: int
    committer_tz: str
    message: str
    files: tuple[FileChange, ...] = ()

    @property
    def subject(self) -> str:
        """The first line of the message."""
        return self.message.split("\n", 1)[0].strip()

    @property
    def is_merge(self) -> bool:
        """True for commits with more than one parent."""
        return len(self.parents) > 1


# %an/%ae raw identity, %aN/%aE mailmapped, raw dates "<epoch> <+zone>".
_FIELDS = ("%H", "%P", "%an", "%ae", "%aN", "%aE", "%cn", "%ce", "%ad", "%cd", "%B")


_HEX = re.compile(rb"[0-9a-f]{40}|[0-9a-f]{64}")


def _batchable(path: str) -> bool:
    """True if ``path`` survives ``cat-file --batch``'s line protocol (no LF, no trailing CR,
    which git strips, and encodable as UTF-8)."""
    return "\n" not in path and not path.endswith("\r") and _utf8(path)


def _utf8(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _token() -> bytes:
    """16 random hex digits, as ``secrets.token_hex(8)`` (which would import OpenSSL's hashes
    at start-up; with the cache on, :func:`head_start` still imports them via the cache)."""
    return os.urandom(8).hex().encode()


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


def _parse_date(raw: str) -> tuple[int, str]:
    stamp, _, tz = raw.strip().partition(" ")
    try:
        return int(stamp), tz or "+0000"
    except ValueError:
        return 0, "+0000"


class _Stderr:
    """Drains a child's stderr on a thread so a chatty git can never block its stdout."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._chunks: list[bytes] = []
        self._thread = threading.Thread(target=self._drain, args=(stream,), daemon=True)
        self._thread.start()

    def _drain(self, stream: IO[bytes]) -> None:
        for line in iter(stream.readline, b""):
            if sum(map(len, self._chunks)) < 64 * 1024:
                self._chunks.append(line)
        stream.close()

    def text(self) -> str:
        self._thread.join(timeout=5)
        return self.peek()

    def peek(self) -> str:
        """What the child wrote so far."""
        return _decode(b"".join(self._chunks)).strip()


@dataclass
class _Child:
    """A running git process, the arguments it was given and its drained stderr."""

    proc: subprocess.Popen[bytes]
    args: tuple[str, ...]
    err: _Stderr
    pipe_size: int = 0  # of its stdout, where known


def _first_error_line(stderr: str) -> str:
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    for ln in lines:
        if ln.startswith(("fatal:", "error:")):
            return ln
    return lines[0] if lines else "no message"


class Repository:
    """A read-only handle on a git repository (working tree or bare).

    Opening asks git where the repository is (``rev-parse``); all git commands then run
    through :meth:`run` and :meth:`stream` with the safe options above.
    """

    def __init__(self, path: str | os.PathLike[str] = ".") -> None:
        p = Path(path)
        if not p.exists():
            raise NotAGitRepository(f"path does not exist: {p}")
        self.git_executable = shutil.which("git") or ""
        if not self.git_executable:
            raise GitError("git is not installed or not on PATH")
        if not p.is_dir():
            raise NotAGitRepository(f"not a git repository (not a directory): {p}")
        # git finds the repository itself (from a subfolder, a bare one, a linked worktree).
        self._cwd = str(p)
        args = ["rev-parse", "--absolute-git-dir", "--is-bare-repository", "--is-inside-git-dir",
                "--git-common-dir", "--is-shallow-repository"]  # fmt: skip
        try:
            proc = subprocess.run(  # noqa: S603 - argv list, fixed executable
                self.argv(args), cwd=self._cwd, env=git_env(), capture_output=True, check=False
            )
        except OSError as exc:  # e.g. a directory we may not enter
            raise NotAGitRepository(f"cannot open git repository at {p}: {exc.strerror}") from None
        # Paths are bytes on POSIX: decoded as the file system does, never with replacement.
        lines = [os.fsdecode(x) for x in proc.stdout.split(b"\n")]
        if proc.returncode != 0:
            err = _decode(proc.stderr)
            if proc.returncode < 0:
                raise GitError(f"git rev-parse was killed by signal {-proc.returncode}")
            if "dubious ownership" in err:
                self._raise(args, proc.returncode, err)
            if "not a git repository" in err:
                raise NotAGitRepository(f"not a git repository: {p}")
            raise NotAGitRepository(f"cannot open git repository at {p}: {_first_error_line(err)}")
        git_dir = Path(lines[0])
        if len(lines) < 4 or not git_dir.is_absolute() or not git_dir.is_dir():
            # An old git echoes the options it does not know (--absolute-git-dir is 2.13's).
            raise GitError(f"git rev-parse gave no repository for {p}: git 2.13 or newer needed")
        self.git_dir = git_dir
        self._shallow = lines[4:5] == ["true"]  # asked here: one git process less per run
        out = lines[1:3]
        in_git_dir = out[1:] == ["true"]
        # A linked worktree has its own git dir (HEAD, index) but shares the common one, which
        # holds the objects, refs, ``shallow``, ``info/grafts`` and ``info/attributes``.
        common = Path(lines[3])
        self.common_dir = (common if common.is_absolute() else Path(self._cwd) / common).resolve()
        top = ""
        if not (out[:1] == ["true"] or in_git_dir):
            top = os.fsdecode(self.run_bytes(["rev-parse", "--show-toplevel"]).rstrip(b"\n"))
        self.work_tree = Path(top) if top else None
        self.bare = self.work_tree is None
        self._cwd = str(self.work_tree or self.git_dir)
        self.name = (self.work_tree or self.git_dir).resolve().name
        if self.bare and self.name.endswith(".git"):
            self.name = self.name[:-4]

    # -- running git ---------------------------------------------------------------------------

    def argv(self, args: Sequence[str]) -> list[str]:
        """The full argv for a git subcommand, with the safe options in front."""
        return [self.git_executable, "--no-pager", *SAFE_CONFIG, *args]

    def _raise(self, args: Sequence[str], code: int, stderr: str) -> None:
        line = _first_error_line(stderr)
        if "dubious ownership" in stderr:
            # git names the folder to trust (absolute, the repository's top), as in its advice.
            m = re.search(r"safe\.directory '?([^'\n]+?)'?\s*$", stderr, re.MULTILINE)
            where = m.group(1) if m else str(Path(self._cwd).resolve())
            raise DubiousOwnership(
                f"git refuses {where}: it is owned by another user; if you trust it, run "
                f"git config --global --add safe.directory {where}"
            )
        raise GitError(f"git {args[0]} failed (exit {code}): {line}")

    def run(self, args: Sequence[str], *, check: bool = True, input: bytes | None = None) -> str:
        """Run git to completion and return its stdout as text."""
        proc = subprocess.run(  # noqa: S603 - argv list, fixed executable
            self.argv(args),
            cwd=self._cwd,
            env=git_env(),
            input=input,
            capture_output=True,
            check=False,
        )
        if check and proc.returncode != 0:
            self._raise(args, proc.returncode, _decode(proc.stderr))
        return _decode(proc.stdout)

    def run_bytes(self, args: Sequence[str], *, input: bytes | None = None) -> bytes:
        """Run git to completion and return its raw stdout."""
        proc = subprocess.run(  # noqa: S603 - argv list, fixed executable
            self.argv(args), cwd=self._cwd, env=git_env(), input=input,
            capture_output=True, check=False,
        )  # fmt: skip
        if proc.returncode != 0:
            self._raise(args, proc.returncode, _decode(proc.stderr))
        return proc.stdout

    def stream(
        self,
        args: Sequence[str],
        *,
        stdin: bytes | None = None,
        started: Callable[[subprocess.Popen[bytes]], None] | None = None,
    ) -> Iterator[bytes]:
        """Yield git's stdout in chunks; raise :class:`GitError` if git fails or dies.

        The exit status is checked only after stdout is drained, so a git killed mid-stream
        (signal, OOM) is reported as an error, never as a short history. Closing the generator
        early (or Ctrl-C) kills the child. ``started`` receives the child process, so another
        thread can kill it.
        """
        yield from self._stream(args, stdin=stdin, started=started)

    def _stream(
        self,
        args: Sequence[str],
        *,
        stdin: bytes | None = None,
        started: Callable[[subprocess.Popen[bytes]], None] | None = None,
    ) -> Iterator[bytes]:
        # ``started`` lets the parallel miner kill a child that another thread is reading.
        stdin_file = None
        if stdin is not None:
            stdin_file = tempfile.TemporaryFile()  # noqa: SIM115 - closed in the finally below
            stdin_file.write(stdin)
            stdin_file.seek(0)
        try:
            child = self._spawn(args, stdin=stdin_file, started=started)
        finally:
            if stdin_file is not None:
                stdin_file.close()  # the child has its own descriptor
        yield from self._drain(child)

    def _spawn(
        self,
        args: Sequence[str],
        *,
        stdin: IO[bytes] | int | None = None,
        started: Callable[[subprocess.Popen[bytes]], None] | None = None,
    ) -> _Child:
        """Start git with ``args``, stdin from ``stdin`` (default: nothing), stdout piped."""
        proc = subprocess.Popen(  # noqa: S603 - argv list, fixed executable
            self.argv(args),
            cwd=self._cwd,
            env=git_env(),
            stdin=subprocess.DEVNULL if stdin is None else stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        if started is not None:
            started(proc)
        assert proc.stderr is not None and proc.stdout is not None
        return _Child(proc, tuple(args), _Stderr(proc.stderr), _widen(proc.stdout))

    def _drain(self, child: _Child) -> Iterator[bytes]:
        """Yield a started child's stdout in chunks; raise :class:`GitError` if git fails or
        dies. A child not read to the end (the generator closed early) is killed."""
        proc = child.proc
        assert proc.stdout is not None
        finished = False
        try:
            read = cast(io.BufferedReader, proc.stdout).read1
            while chunk := read(_CHUNK):
                yield chunk
            code = proc.wait()
            finished = True
            if code != 0:
                self._raise(child.args, code, child.err.text() or f"killed by signal {-code}")
        finally:
            if not finished and proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()

    # -- questions about the repository -----------------------------------------------------------

    def has_commits(self) -> bool:
        """False for a repository whose HEAD points at an unborn branch and has no refs."""
        out = self.run(["rev-parse", "--verify", "--quiet", "HEAD^{commit}"], check=False)
        if out.strip():
            return True
        return bool(self.run(["for-each-ref", "--count=1", "--format=%(objectname)"]).strip())

    def resolve(self, rev: str) -> str:
        """The full commit id that ``rev`` names; :class:`UnknownRevision` if none."""
        if not rev or rev.startswith("-"):
            raise UnknownRevision(f"unknown revision: {rev!r}")
        out = self.run(
            ["rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}"],
            check=False,
        ).strip()
        if not re.fullmatch(r"[0-9a-f]{40}([0-9a-f]{24})?", out):
            if rev == "HEAD" and not self.has_commits():
                raise EmptyRepository(f"repository has no commits yet: {self._cwd}")
            raise UnknownRevision(f"unknown revision: {rev!r} does not name a commit")
        return out

    def is_ancestor(self, ancestor: str, rev: str) -> bool:
        """True if commit ``ancestor`` is ``rev`` or reachable from it (False if unknown)."""
        proc = subprocess.run(  # noqa: S603 - argv list, fixed executable
            self.argv(["merge-base", "--is-ancestor", ancestor, rev]),
            cwd=self._cwd, env=git_env(), capture_output=True, check=False,
        )  # fmt: skip
        return proc.returncode == 0

    def shallow_depth(self) -> int | None:
        """None for a complete history; otherwise the number of commits fetched (as it was
        when this handle was opened)."""
        if not self._shallow:
            return None
        out = self.run(["rev-list", "--count", "--all"], check=False).strip()
        return int(out) if out.isdigit() else 0

    def check_not_shallow(self, allow_shallow: bool) -> int | None:
        """Raise :class:`ShallowRepository` unless history is complete or that is allowed."""
        depth = self.shallow_depth()
        if depth is not None and not allow_shallow:
            raise ShallowRepository(
                f"history is shallow (depth {depth}): use fetch-depth: 0 or pass "
                "--allow-shallow to measure only what is present"
            )
        return depth

    def notes_index(
        self, wanted: Callable[[str], bool] | None = None
    ) -> dict[str, tuple[str, ...]]:
        """For each commit that has a git note in a notes ref, the refs that hold one.

        ``wanted`` picks the refs worth listing (by name); listing a big notes ref such as
        git.git's ``refs/notes/amlog`` costs a tenth of a second.
        """
        refs = self.run(["for-each-ref", "--format=%(refname)", "refs/notes/"]).split()
        index: dict[str, list[str]] = {}
        for ref in refs:
            if wanted is not None and not wanted(ref):
                continue
            for line in self.run(["notes", "--ref", ref, "list"], check=False).splitlines():
                parts = line.split()
                if len(parts) == 2:
                    index.setdefault(parts[1], []).append(ref)
        return {sha: tuple(v) for sha, v in index.items()}

    def read_blob(self, rev: str, path: str) -> bytes | None:
        """Contents of ``path`` at ``rev``, or None if it does not exist there."""
        proc = subprocess.run(  # noqa: S603 - argv list, fixed executable
            self.argv(["cat-file", "blob", f"{rev}:{path}"]),
            cwd=self._cwd, env=git_env(), capture_output=True, check=False,
        )  # fmt: skip
        return proc.stdout if proc.returncode == 0 else None

    def read_blobs(self, rev: str, paths: Sequence[str]) -> dict[str, bytes | None]:
        """:meth:`read_blob` of each of ``paths``, with one ``git cat-file --batch``."""
        out: dict[str, bytes | None] = {}
        batch = [p for p in paths if _batchable(p)]
        for p in paths:
            if not _batchable(p):
                out[p] = self.read_blob(rev, p)
        if not batch:
            return out
        raw = self.run_bytes(["cat-file", "--batch"],
                             input=b"".join(f"{rev}:{p}\n".encode() for p in batch))  # fmt: skip
        pos = 0
        for p in batch:
            nl = raw.index(b"\n", pos)
            head = raw[pos:nl].rsplit(b" ", 2)
            pos = nl + 1
            # "<oid> <type> <size>", or "<rev:path> missing" / "ambiguous".
            if len(head) == 3 and _HEX.fullmatch(head[0]) and head[2].isdigit():
                size = int(head[2])
                out[p] = raw[pos : pos + size] if head[1] == b"blob" else None
                pos += size + 1
            else:
                out[p] = None
        return {p: out[p] for p in paths}

    def tree_paths(self, rev: str, name: str | None = None) -> list[str]:
        """Every path in the tree at ``rev`` (optionally only those whose basename is ``name``)."""
        raw = self.run_bytes(["ls-tree", "-r", "-z", "--name-only", "--full-tree", rev])
        paths = [_decode(p) for p in raw.split(b"\0") if p]
        if name is not None:
            paths = [p for p in paths if p.rsplit("/", 1)[-1] == name]
        return paths


_PIPE_SIZE = 256 << 10


def _widen(pipe: IO[bytes]) -> int:
    """Let git write 256 KiB ahead instead of 64 KiB (Linux), so it does not stop while the
    thread that reads it waits its turn for the GIL. Best effort: where the kernel refuses
    (``pipe-max-size``, a user over the per-user quota), the pipe keeps its size. Even 64
    workers stay well inside the default quota of 64 MiB of pipes per user. Returns the size
    the pipe has (0 where that cannot be asked)."""
    setsize = getattr(fcntl, "F_SETPIPE_SZ", None)
    getsize = getattr(fcntl, "F_GETPIPE_SZ", None)
    if setsize is None or getsize is None:
        return 0
    with contextlib.suppress(OSError):
        fcntl.fcntl(pipe.fileno(), setsize, _PIPE_SIZE)
    try:
        return int(fcntl.fcntl(pipe.fileno(), getsize))
    except OSError:
        return 0


class _Parser:
    """Incremental parser of ``git log -z --numstat`` output framed by a per-run nonce.

    Fields are NUL-separated (a commit message cannot contain NUL), each commit starts with a
    random nonce token, and numstat entries follow as ``A<TAB>D<TAB>path`` tokens, or
    ``A<TAB>D<TAB>`` followed by old and new path tokens for a rename.
    """

    def __init__(self, nonce: bytes, mark: bytes | None = None,
                 on_mark: Callable[[int], None] | None = None) -> None:  # fmt: skip
        self.nonce = nonce
        self.nfields = len(_FIELDS)
        # A line ``mark`` that a ``diff-tree --stdin`` worker echoes after a run of ids: the
        # run's last commit is complete, and ``on_mark`` is told how many commits the run had.
        self.mark = None if mark is None else mark + b"\n"
        self.on_mark = on_mark

    def records(self, chunks: Iterator[bytes]) -> Iterator[CommitRecord]:
        header: list[bytes] | None = None
        files: list[FileChange] = []
        pending_rename: list[bytes] | None = None
        rename_counts: tuple[int | None, int | None] = (None, None)
        buf = b""
        started = 0  # commits begun since the last mark
        nonce, nl_nonce, mark, nfields = self.nonce, b"\n" + self.nonce, self.mark, self.nfields
        new_file = FileChange
        for chunk in chunks:
            buf += chunk
            tokens = buf.split(b"\0")
            buf = tokens.pop()
            if mark is not None and buf.endswith(mark):
                # Nothing follows a mark until the next request: take it (or several) now.
                tokens.append(buf)
                buf = b""
            i, n = 0, len(tokens)
            while i < n:
                tok = tokens[i]
                i += 1
                if tok in (nonce, nl_nonce):
                    if header is not None:
                        yield self._record(header, files)
                    # The header's fields are the tokens that follow (git writes a commit's
                    # header whole, never a mark inside it); a header cut by the end of this
                    # chunk is completed one token at a time below.
                    header = tokens[i : i + nfields]
                    i += nfields
                    files, pending_rename = [], None
                    started += 1
                    continue
                if mark is not None and mark in tok and tok.lstrip(b"\n").startswith(mark):
                    marks = tok.count(mark)
                    if tok.replace(mark, b"").strip(b"\n") == b"":
                        # One mark per run; runs that printed nothing leave marks in a row.
                        if header is not None:
                            yield self._record(header, files)
                        header, files, pending_rename = None, [], None
                        if self.on_mark is not None:
                            self.on_mark(started)
                            for _ in range(marks - 1):
                                self.on_mark(0)
                        started = 0
                        continue
                if header is None:
                    continue
                if len(header) < nfields:
                    header.append(tok)
                    continue
                if pending_rename is not None:
                    pending_rename.append(tok)
                    if len(pending_rename) == 2:
                        old, new = (_decode(x) for x in pending_rename)
                        files.append(new_file(new, *rename_counts, old_path=old))
                        pending_rename = None
                    continue
                if not tok or tok == b"\n":
                    continue
                parts = tok.lstrip(b"\n").split(b"\t", 2)
                if len(parts) == 3:
                    a, d, path = parts
                    if (a.isdigit() or a == b"-") and (d.isdigit() or d == b"-"):
                        counts = (None if a == b"-" else int(a), None if d == b"-" else int(d))
                        if path:
                            files.append(new_file(path.decode("utf-8", "replace"), *counts))
                        else:
                            pending_rename, rename_counts = [], counts
                        continue
                if not files:
                    # A message containing NUL bytes: keep the rest as message text.
                    header[-1] += b"\0" + tok
        if header is not None:
            yield self._record(header, files)

    def _record(self, h: list[bytes], files: list[FileChange]) -> CommitRecord:
        # One decode for the whole header: the fields hold no NUL (the message may, last).
        f = _decode(b"\0".join(h)).split("\0", self.nfields - 1)
        f += [""] * (self.nfields - len(f))
        at, atz = _parse_date(f[8])
        ct, ctz = _parse_date(f[9])
        return CommitRecord(
            sha=f[0],
            parents=tuple(f[1].split()),
            author_name=f[2],
            author_email=f[3],
            author=f[4],
            author_mail=f[5],
            committer_name=f[6],
            committer_email=f[7],
            authored_at=at,
            author_tz=atz,
            committed_at=ct,
            committer_tz=ctz,
            message=f[10],
            files=tuple(files),
        )


def log_args(nonce: bytes, *, renames: bool = True) -> list[str]:
    """Arguments of the streaming ``git log`` (without the revisions)."""
    fmt = "%x00" + nonce.decode() + "%x00" + "%x00".join(_FIELDS) + "%x00"
    return [
        "log",
        "-z",
        "--numstat",
        "--date=raw",
        f"--format={fmt}",
        "-M" if renames else "--no-renames",
        *DIFF_OPTIONS,
    ]


def iter_commits(
    repo: Repository,
    rev: str,
    *,
    exclude: Sequence[str] = (),
    renames: bool = True,
) -> Iterator[CommitRecord]:
    """Stream every commit reachable from ``rev`` (and not from ``exclude``) from ONE git log.

    Merge commits come without files (git log shows no diff for merges by default); every other
    commit carries its numstat against its first parent, with renames detected.
    """
    nonce = b"\x1eprov-" + _token()
    args = [*log_args(nonce, renames=renames), rev, *(f"^{x}" for x in exclude), "--"]
    yield from _Parser(nonce).records(repo.stream(args))


def iter_commits_listed(
    repo: Repository, shas: Sequence[str], *, renames: bool = True
) -> Iterator[CommitRecord]:
    """Stream exactly the listed commits (in the given order) from one git log process."""
    if not shas:
        return
    nonce = b"\x1eprov-" + _token()
    args = [*log_args(nonce, renames=renames), "--no-walk=unsorted", "--stdin", "--"]
    stdin = ("\n".join(shas) + "\n").encode()
    yield from _Parser(nonce).records(repo.stream(args, stdin=stdin))


def cpu_count() -> int:
    """The number of cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def resolve_jobs(jobs: int) -> int:
    """The number of git processes ``jobs`` asks for (0 means one per core)."""
    return jobs if jobs > 0 else max(1, cpu_count())


#: Commits handed to a worker at a time, and the in-flight count (written to its stdin, not
#: yet parsed back) below which a worker gets another run. Workers are long-lived
#: ``git diff-tree --stdin`` processes: each pays git's start-up (mapping and faulting in the
#: pack files, about 0.14 s of CPU on git/git) once, and small runs keep them evenly loaded to
#: the very end. Each run is followed by a marker line, which diff-tree echoes and flushes once
#: the run's last commit is out: so the feeder knows exactly what is done, and git's output
#: can stay block-buffered (``GIT_FLUSH=0``) without ever holding back what the feeder waits
#: for.
CHUNK = 64
WINDOW = 4 * CHUNK
#: Consecutive commits (in rev-list's order) reserved for one worker, which gets them run by
#: run as rev-list prints them. Neighbouring commits share most of their blobs' delta chains,
#: and each git process has its own cache of delta bases: runs of 64 dealt alternately cost
#: the two workers 8% more CPU than one ``git log`` on scrapy. Blocks of 8,192 mined scrapy
#: 45 ms faster than blocks of 1,024 (which were 2% over one ``git log``) and git/git 0.47 s
#: faster. See :class:`_Schedule`.
BLOCK = 8192

#: A worker's reader, after a read of less than PACE_BELOW bytes, sleeps PACE seconds before the
#: next (where its pipe could be widened to :data:`_PIPE_SIZE`): on scrapy, 1,277 reads of
#: 4 KiB (median) became about 310 of 12 KiB. git writes about 25 KiB per worker in that time,
#: a tenth of the pipe. A chunk holding a run's mark is never followed by a wait: on cheap
#: commits (empty, merges) a worker clears its window of runs faster than PACE.
PACE = 0.010
PACE_BELOW = 32 << 10
_BATCH = 256
_DONE = object()


def diff_tree_args(nonce: bytes, *, renames: bool = True) -> list[str]:
    """Arguments of a parallel worker: the commits' ids come on stdin, one per line.

    For each id, ``diff-tree --stdin --always --root`` prints exactly what ``git log`` prints
    for it (see :func:`log_args`): the header, then the numstat against the first parent, none
    for a merge, the whole tree for a root commit (``log.showRoot``).
    """
    return ["diff-tree", "--stdin", "--always", "--root", *log_args(nonce, renames=renames)[1:]]


def _ids(repo: Repository, revs: Sequence[str], exclude: Sequence[str],
         started: Callable[[subprocess.Popen[bytes]], None]) -> Iterator[list[bytes]]:  # fmt: skip
    """The commit ids of one streaming ``git rev-list`` (newest first), in lists of whatever
    each read brings."""
    args = ["rev-list", *revs, *(f"^{x}" for x in exclude), "--"]
    rest = b""
    for data in repo._stream(args, started=started):
        lines = (rest + data).split(b"\n")
        rest = lines.pop()
        if lines:
            yield lines
    if rest:
        yield [rest]


class _Schedule:
    """Which commit ids go to which worker: blocks of :data:`BLOCK` consecutive positions in
    rev-list's order, each reserved for one worker and handed to it in runs of :data:`CHUNK`
    as rev-list prints them (a worker starts on its block's first run, not once the whole
    block is printed). Once rev-list has nothing more, a worker whose block is used up takes
    the back half of the largest block left, so the workers still finish together. Every id
    is handed out exactly once.
    """

    def __init__(self, jobs: int, source: Iterator[list[bytes]], block: int | None = None) -> None:
        self.source = source
        self.size = BLOCK if block is None else block
        self.exhausted = False
        self.read = 0  # ids read from rev-list so far
        self.reserved = 0  # positions before this one belong to some block
        # Each worker's ids read but not yet handed out, and where its block ends.
        self.blocks: list[collections.deque[bytes]] = [collections.deque() for _ in range(jobs)]
        self.ends = [0] * jobs
        self.pending: collections.deque[bytes] = collections.deque()  # read, in no block yet

    @property
    def done(self) -> bool:
        """Every id has been handed out."""
        return self.exhausted and not self.pending and not any(self.blocks)

    def _waiting(self, w: int) -> bool:
        """True if ids of ``w``'s block are still to come from rev-list."""
        return not self.exhausted and self.ends[w] > self.read

    def run_for(self, w: int, read: bool = True) -> list[bytes]:
        """Up to :data:`CHUNK` ids for worker ``w``, after reading rev-list once more if ``read``
        and its block lacks them; empty if nothing is there for ``w`` now."""
        block = self.blocks[w]
        if not block and not self._waiting(w) and (self.pending or not self.exhausted):
            # A new block: the next positions, some of them read already.
            self.reserved = self.ends[w] = self.reserved + self.size
            pending = self.pending
            block.extend(pending.popleft() for _ in range(min(self.size, len(pending))))
        if read and len(block) < CHUNK and self._waiting(w):
            self._read()
        if not block and self.exhausted and not self.pending:
            largest = max(self.blocks, key=len)
            stolen = [largest.pop() for _ in range(len(largest) // 2)]
            block.extend(reversed(stolen))
        return [block.popleft() for _ in range(min(CHUNK, len(block)))]

    def _read(self) -> None:
        ids = next(self.source, None)
        if ids is None:
            self.exhausted = True
            return
        first, self.read = self.read, self.read + len(ids)
        for w, end in enumerate(self.ends):
            start = end - self.size
            if end > first and start < self.read:  # some of these ids are in w's block
                self.blocks[w].extend(ids[max(start - first, 0) : end - first])
        if self.read > self.reserved:
            self.pending.extend(ids[max(self.reserved - first, 0) :])


class _Pool:
    """``jobs`` long-lived ``git diff-tree --stdin`` workers fed from one ``git rev-list``.

    A feeder thread hands runs of ids, planned by :class:`_Schedule`, to the worker with the
    fewest commits in flight, and only to one with fewer than :data:`WINDOW`; a thread per
    worker parses its output and hands batches to the consumer through a bounded queue. So
    memory stays flat, a slow consumer slows git down instead of buffering its output, and the
    workers finish together. Closing kills every child; the first error from any thread is
    re-raised in the consumer.
    """

    def __init__(self, repo: Repository, revs: Sequence[str], exclude: Sequence[str],
                 renames: bool, jobs: int) -> None:  # fmt: skip
        self.repo, self.jobs = repo, jobs
        self.out: queue.Queue[object] = queue.Queue(maxsize=4 * jobs)
        self.stop = threading.Event()
        self.fed = threading.Event()  # the feeder has handed out its last run
        self.lock = threading.Lock()
        self.ready = threading.Condition(self.lock)
        self.procs: set[subprocess.Popen[bytes]] = set()
        # Sizes of the runs each worker has in flight, oldest first.
        self.runs: list[collections.deque[int]] = [collections.deque() for _ in range(jobs)]
        self.finished = 0  # runs come back so far
        self.mark = b"prov-mark-" + _token()
        nonce = b"\x1eprov-" + _token()
        args = [*diff_tree_args(nonce, renames=renames), "--"]
        self.workers: list[_Child] = []
        self.threads: list[threading.Thread] = []
        try:
            for _ in range(jobs):
                self.workers.append(repo._spawn(args, stdin=subprocess.PIPE,
                                                started=self._started))  # fmt: skip
        except BaseException:
            self.close()
            raise
        self.threads.append(threading.Thread(target=self._feed, args=(revs, exclude),
                                             daemon=True))  # fmt: skip
        self.threads += [threading.Thread(target=self._work, args=(w, nonce), daemon=True)
                         for w in range(jobs)]  # fmt: skip
        for t in self.threads:
            t.start()

    def _started(self, proc: subprocess.Popen[bytes]) -> None:
        with self.lock:
            self.procs.add(proc)
            stopping = self.stop.is_set()
        if stopping:
            proc.kill()

    def _put(self, item: object) -> None:
        while not self.stop.is_set():
            try:
                self.out.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def _feed(self, revs: Sequence[str], exclude: Sequence[str]) -> None:
        try:
            # Blocks shrink with more workers, so the last one's first block is never more
            # than 2 * BLOCK positions into rev-list's output.
            plan = _Schedule(self.jobs, _ids(self.repo, revs, exclude, self._started),
                             max(CHUNK, 2 * BLOCK // self.jobs))  # fmt: skip
            while True:
                with self.ready:
                    while True:
                        if self.stop.is_set():
                            return
                        load = [sum(r) for r in self.runs]
                        ready = [w for w in sorted(range(self.jobs), key=load.__getitem__)
                                 if load[w] < WINDOW]  # fmt: skip
                        if ready:
                            break
                        self.ready.wait(0.1)
                    seen = self.finished
                # The least loaded first, from what rev-list has printed; only if none of them
                # has anything there, read rev-list further (once) for them.
                run: list[bytes] = []
                for read in (False, True):
                    for w in ready:
                        if run := plan.run_for(w, read):
                            break
                    if run:
                        break
                if not run:
                    if plan.done:
                        return
                    if not plan.exhausted:
                        continue  # what was read went to busy workers' blocks: read on
                    # What is left belongs to busy workers, in pieces too small to share.
                    with self.ready:
                        if self.finished == seen:
                            self.ready.wait(0.1)
                    continue
                with self.ready:
                    self.runs[w].append(len(run))
                stdin = self.workers[w].proc.stdin
                assert stdin is not None
                try:
                    stdin.write(b"\n".join(run) + b"\n" + self.mark + b"\n")
                    stdin.flush()
                except OSError:  # the worker died: its own thread reports git's error
                    return
        except BaseException as exc:  # handed to the consumer, which re-raises it
            self._put(exc)
        finally:
            self.fed.set()
            for child in self.workers:
                with contextlib.suppress(OSError):
                    child.proc.stdin.close()  # type: ignore[union-attr]
            self._put(_DONE)

    def _done(self, w: int, got: int) -> None:
        with self.ready:
            sent = self.runs[w].popleft()
            self.finished += 1
            self.ready.notify()
        if got != sent:  # diff-tree reports a commit it cannot read and goes on: not us
            said = self.workers[w].err.peek()  # git's line, if its thread has read it yet
            raise GitError(f"git diff-tree failed: {got} of {sent} commits came back"
                           + (f": {_first_error_line(said)}" if said else ""))  # fmt: skip

    def _work(self, w: int, nonce: bytes) -> None:
        try:
            batch: list[CommitRecord] = []
            child = self.workers[w]
            chunks = self.repo._drain(child)
            if child.pipe_size >= _PIPE_SIZE:
                chunks = self._paced(w, chunks)
            on_mark = functools.partial(self._done, w)
            for rec in _Parser(nonce, self.mark, on_mark).records(chunks):
                batch.append(rec)
                if len(batch) == _BATCH:
                    self._put(batch)
                    batch = []
                    if self.stop.is_set():
                        return
            if batch:
                self._put(batch)
            with self.lock:
                lost = sum(self.runs[w]) if not self.stop.is_set() else 0
            if lost:
                raise GitError(f"git diff-tree failed: {lost} commits never came back")
        except BaseException as exc:
            self._put(exc)
        finally:
            self._put(_DONE)

    def _paced(self, w: int, chunks: Iterator[bytes]) -> Iterator[bytes]:
        # After a small read, wait for git to write more (the widened pipe holds many times
        # what it writes in PACE) before parsing again: git writes 4 KiB at a time, and each
        # wake-up of this thread costs a hand-over of the GIL with the main thread. Not after
        # a chunk that ends a run (the feeder, told at once, tops the worker up before it runs
        # dry on cheap commits), nor once the worker has nothing left to do.
        for chunk in chunks:
            yield chunk
            if (len(chunk) < PACE_BELOW and self.mark not in chunk
                    and (self.runs[w] or not self.fed.is_set())
                    and not self.stop.is_set()):  # fmt: skip
                time.sleep(PACE)

    def records(self) -> Iterator[CommitRecord]:
        """Every record, as the threads produce them; stops and kills everything on close."""
        running = len(self.threads)
        try:
            while running:
                item = self.out.get()
                if item is _DONE:
                    running -= 1
                elif isinstance(item, BaseException):
                    raise item
                else:
                    yield from item  # type: ignore[misc]
        finally:
            self.close()

    def close(self) -> None:
        """Stop the threads and kill the git processes (idempotent)."""
        with self.lock:
            self.stop.set()
            procs = list(self.procs)
        for p in procs:
            if p.poll() is None:
                p.kill()
        for t in self.threads:
            t.join(timeout=10)
        if not any(t.is_alive() for t in self.threads):
            for child in self.workers:
                child.proc.wait()
                for f in (child.proc.stdin, child.proc.stdout):
                    if f is not None:
                        with contextlib.suppress(OSError):
                            f.close()


class HeadStart:
    """git processes mining ``tip``'s whole history, started before anyone asked for it.

    The CLI starts them as soon as it has parsed its options (:func:`head_start`), so git works
    while Python imports the classifier, reads the configuration and looks in the cache.
    :func:`mine` adopts them when asked for exactly that walk; otherwise, and on
    :meth:`close`, they are stopped. Closing is idempotent and does nothing once adopted.
    """

    def __init__(self, repo: Repository, tip: str, renames: bool, jobs: int) -> None:
        self.key = (repo.git_dir, tip, renames, jobs)
        self._pool: _Pool | None = _Pool(repo, [tip], (), renames, jobs)

    def take(self, repo: Repository, tip: str, exclude: Sequence[str], renames: bool,
             jobs: int) -> Iterator[CommitRecord] | None:  # fmt: skip
        """The records of the started walk if it is the one asked for (once), else None."""
        pool, self._pool = self._pool, None
        if pool is None:
            return None
        if exclude or (repo.git_dir, tip, renames, jobs) != self.key:
            pool.close()
            return None
        return pool.records()

    def close(self) -> None:
        """Stop the processes unless they were adopted."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()

    def __enter__(self) -> HeadStart:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def head_start(path: str | os.PathLike[str], rev: str, *, renames: bool = True, jobs: int = 1,
               cache: bool = False) -> HeadStart | None:  # fmt: skip
    """Start mining the whole history of ``rev`` now, for a later :func:`mine` to adopt.

    None where it is not sure to be wanted or gains nothing: with ``cache`` if the cache holds
    anything for the repository (a run would reuse it), with one job (a single ``git log``
    starts as fast when asked for), or in a shallow clone (whose boundary is checked first).
    Errors are the ones that opening ``path`` and resolving ``rev`` raise anyway.
    """
    jobs = resolve_jobs(jobs)
    if jobs == 1:
        return None
    repo = Repository(path)
    if cache:
        from provenance.cache import holds

        if holds(repo):
            return None
    if repo._shallow:  # the audit counts the depth and reports it; no need to count here
        return None
    return HeadStart(repo, repo.resolve(rev), renames, jobs)


def mine(
    repo: Repository,
    tip: str,
    *,
    exclude: Sequence[str] = (),
    renames: bool = True,
    jobs: int = 1,
    started: HeadStart | None = None,
) -> Iterator[CommitRecord]:
    """Every commit reachable from ``tip`` and not from ``exclude``, in no guaranteed order,
    mined by ``jobs`` git processes (0: one per core) and never read from a cache.

    With one job this is :func:`iter_commits`. With more, one ``git rev-list`` streams the
    commit ids and runs of consecutive ones go to ``jobs`` long-lived
    ``git diff-tree --stdin`` workers (see :class:`_Pool`), each parsed on its own thread. The
    runs are disjoint and cover the walk, and a worker prints for each commit what ``git log``
    prints, so the records are the same as with one process (merges without files, others
    against their first parent). Processes ``started`` earlier for this very walk are adopted.
    """
    jobs = resolve_jobs(jobs)
    adopted = started.take(repo, tip, exclude, renames, jobs) if started is not None else None
    if adopted is not None:
        yield from adopted
    elif jobs == 1:
        yield from iter_commits(repo, tip, exclude=exclude, renames=renames)
    else:
        yield from _Pool(repo, [tip], exclude, renames, jobs).records()


def iter_history(
    repo: Repository,
    tip: str,
    *,
    exclude: Sequence[str] = (),
    renames: bool = True,
    jobs: int = 1,
    cache: bool = False,
    started: HeadStart | None = None,
) -> Iterator[CommitRecord]:
    """Every commit reachable from ``tip`` and not from ``exclude``, merges included, in no
    guaranteed order. This is what :func:`provenance.audit` consumes.

    ``jobs`` git processes mine in parallel (0: one per core; see :func:`mine`). With
    ``cache``, records of earlier runs are reused from the cache directory and only commits
    new since a cached tip are mined (see :mod:`provenance.cache`). ``started`` (see
    :class:`HeadStart`) is adopted if this is the walk it started; the caller closes it.
    """
    if cache:
        from provenance.cache import cached_history

        yield from cached_history(repo, tip, exclude=exclude, renames=renames, jobs=jobs,
                                  started=started)  # fmt: skip
    else:
        yield from mine(repo, tip, exclude=exclude, renames=renames, jobs=jobs, started=started)
