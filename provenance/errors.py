"""Typed errors. Each carries the process exit code the CLI uses for it."""

from __future__ import annotations

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_GIT_FAILED = 3
EXIT_OUTPUT_FAILED = 4
EXIT_INTERRUPTED = 130


class ProvenanceError(Exception):
    """Base class: a failure the user can act on, reported as one line."""

    exit_code = EXIT_BAD_INPUT


class NotAGitRepository(ProvenanceError):
    """The path does not exist or is not inside a git repository."""


class EmptyRepository(ProvenanceError):
    """The repository has no commits yet."""


class UnknownRevision(ProvenanceError):
    """A revision or range does not name a commit."""


class ShallowRepository(ProvenanceError):
    """History is truncated and --allow-shallow was not given."""


class DubiousOwnership(ProvenanceError):
    """git refuses the repository because another user owns it (safe.directory)."""


class ConfigError(ProvenanceError):
    """A configuration file or option value is invalid."""


class GitError(ProvenanceError):
    """git failed unexpectedly; the message carries git's own stderr line."""

    exit_code = EXIT_GIT_FAILED


class OutputError(ProvenanceError):
    """An output file could not be written."""

    exit_code = EXIT_OUTPUT_FAILED
