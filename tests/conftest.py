"""Shared fixtures: repositories built once per session with git itself (see fixtures/)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import pytest
from click.testing import CliRunner, Result

from fixtures.repos import Built, build_core, build_empty, build_linear
from provenance.cli import cli


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Caches go to a temporary folder, never to the user's ~/.cache."""
    mp = pytest.MonkeyPatch()
    mp.setenv("PROVENANCE_CACHE_DIR", str(tmp_path_factory.mktemp("provenance-cache")))
    yield
    mp.undo()


@pytest.fixture(scope="session")
def core_repo(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """The core scenario (read-only: tests must not modify it)."""
    return build_core(tmp_path_factory.mktemp("core") / "core")


@pytest.fixture(scope="session")
def empty_repo(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """A repository without commits."""
    return build_empty(tmp_path_factory.mktemp("empty") / "empty")


@pytest.fixture(scope="session")
def linear_repo(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """Three human commits."""
    return build_linear(tmp_path_factory.mktemp("linear") / "linear")


@pytest.fixture
def run() -> Callable[..., Result]:
    """Invoke the CLI in-process; stdout and stderr are kept apart."""

    def invoke(args: Sequence[str], *, catch: bool = True, env: dict[str, str] | None = None
               ) -> Result:  # fmt: skip
        return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=catch, env=env)

    return invoke
