"""The command line: parse options, call one library function, hand the result to a renderer.

Errors are one line on stderr and an exit code: 0 ok, 1 a ``check`` policy failed, 2 bad input or
usage, 3 git failed, 4 an output could not be written, 130 interrupted.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import os
import sys
from collections.abc import Callable, Iterator, MutableMapping
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from provenance.errors import EXIT_INTERRUPTED, EXIT_OUTPUT_FAILED, ProvenanceError
from provenance.gitlog import DEFAULT_CACHE, DEFAULT_JOBS, head_start
from provenance.options import Freq, GroupBy
from provenance.progress import progress
from provenance.ranges import parse_range
from provenance.render import (
    REPORT_RENDERERS,
    RULES_RENDERERS,
    OutputFormat,
    RowFormat,
    discard,
    explanation_json,
    explanation_text,
    open_output,
    write_frame,
)

if TYPE_CHECKING:
    from provenance import frame as audit_mod
    from provenance import metrics
else:
    # Imported on first use: a command that mines starts git before them (see _audit).
    from provenance._lazy import LazyModule

    audit_mod = LazyModule("provenance.frame")
    metrics = LazyModule("provenance.metrics")

F = TypeVar("F", bound=Callable[..., Any])


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version  # only for --version

    try:
        return version("provenance")
    except PackageNotFoundError:  # running from a source tree
        return "0+unknown"


def _print_version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(f"provenance, version {_version()}")
        ctx.exit()


def fail(message: str, code: int) -> None:
    """Print one error line to stderr and exit with ``code``."""
    click.echo(f"provenance: error: {message}", err=True)
    sys.exit(code)


class ProvenanceGroup(click.Group):
    """A click group that turns library errors and Ctrl-C into one stderr line and an exit code.

    The commands of :data:`LAZY_COMMANDS` register themselves when their module is imported,
    which happens only when one of them is run or listed: the others start sooner.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in LAZY_COMMANDS:
            importlib.import_module(LAZY_COMMANDS[cmd_name])
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ProvenanceError as exc:
            fail(str(exc), exc.exit_code)
        except KeyboardInterrupt:
            fail("interrupted", EXIT_INTERRUPTED)
        except BrokenPipeError:
            # The reader went away (e.g. `| head`): stop quietly, as other Unix tools do.
            discard(sys.stdout)
            sys.exit(0)
        return None


def _confidence_choice() -> click.Choice[str]:
    return click.Choice(["high", "medium", "low"], case_sensitive=False)


def history_options(f: F) -> F:
    """Options shared by every command that mines history."""
    opts = [
        click.argument("path", default=".", type=click.Path(file_okay=False, path_type=str)),
        click.option("--rev", default="HEAD", show_default=True,
                     help="Branch, tag or commit whose history to measure."),
        click.option("--since", metavar="DATE", help="Only commits that landed on or after DATE."),
        click.option("--until", metavar="DATE", help="Only commits that landed on or before DATE."),
        click.option("--min-confidence", type=_confidence_choice(), default=None,
                     help="Lowest rule confidence that counts as AI.  [default: high]"),
        click.option("--include", multiple=True, metavar="GLOB",
                     help="Count only paths matching GLOB (repeatable)."),
        click.option("--exclude", multiple=True, metavar="GLOB",
                     help="Also exclude paths matching GLOB (repeatable)."),
        click.option("--no-default-excludes", is_flag=True,
                     help="Count lockfiles, vendored, minified and generated files too."),
        click.option("--no-renames", is_flag=True,
                     help="Do not detect renames (a moved file counts as new lines)."),
        click.option("--allow-shallow", is_flag=True,
                     help="Measure a shallow clone's partial history instead of refusing."),
        click.option("--config", "config_file", type=click.Path(dir_okay=False),
                     help="Read settings from this TOML file instead of the repository's."),
        click.option("--range", "range_", metavar="BASE..HEAD",
                     help="Only commits in HEAD and not in BASE (a pull request); 'auto' reads "
                          "the CI's pull/merge request (GitHub Actions, GitLab)."),
        click.option("-j", "--jobs", type=click.IntRange(min=0), default=DEFAULT_JOBS,
                     help="git processes mining in parallel (0: one per core).  "
                          f"[default: {DEFAULT_JOBS}]"),
        click.option("--cache/--no-cache", default=DEFAULT_CACHE, show_default=True,
                     help="Reuse per-commit results from earlier runs."),
        click.option("-q", "--quiet", is_flag=True, help="No progress output on stderr."),
    ]  # fmt: skip
    for opt in reversed(opts):
        f = opt(f)
    return f


def breakdown_options(f: F) -> F:
    """``--by`` and ``--depth``, shared by ``report`` and ``blame``."""
    f = click.option(
        "--depth",
        type=click.IntRange(min=1),
        default=1,
        show_default=True,
        help="Directory levels for --by path.",
    )(f)
    return click.option(
        "--by",
        type=click.Choice([g.value for g in GroupBy]),
        default=None,
        help="Break the share down by tool, author, model, top directories or extension.",
    )(f)


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """The cyclic garbage collector off while the CLI mines (the library leaves it alone): the
    records hold no cycles, and its passes over the growing history took a tenth of the
    parsing time. Back on (if it was) afterwards, also on errors, with everything that exists
    by then frozen (:func:`gc.freeze`)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            # What mining made (records, columns, frames) lives until the CLI exits. Moved
            # to the permanent generation, it is not traversed again by the first collection
            # after the pause, which took 20 ms on scrapy's 11,000 commits. (Frozen objects
            # are still freed when their last reference goes; only cycles among them stay.)
            gc.freeze()
            gc.enable()


def _audit(kw: dict[str, Any]) -> audit_mod.Audit:
    rev, base = kw["rev"], None
    if kw["range_"]:
        if kw["rev"] != "HEAD":
            raise click.UsageError("use either --rev or --range, not both")
        base, rev = parse_range(kw["range_"])
    # If the whole history is to be mined, git starts now and works while the classifier and
    # the frames are imported and the configuration is read (about 30 ms on one core).
    started = None if base else head_start(kw["path"], rev, renames=not kw["no_renames"],
                                           jobs=kw["jobs"], cache=kw["cache"])  # fmt: skip
    with (
        contextlib.nullcontext() if started is None else started,
        progress("mining commits", quiet=kw["quiet"]) as tick,
        _gc_paused(),
    ):
        return audit_mod.audit(
            kw["path"],
            rev,
            kw["since"],
            kw["until"],
            base=base,
            min_confidence=kw["min_confidence"],
            include=kw["include"],
            exclude=kw["exclude"],
            default_excludes=not kw["no_default_excludes"],
            renames=not kw["no_renames"],
            allow_shallow=kw["allow_shallow"],
            config_file=kw["config_file"],
            jobs=kw["jobs"],
            cache=kw["cache"],
            progress=tick,
            started=started,
        )


@click.group(cls=ProvenanceGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--version", is_flag=True, expose_value=False, is_eager=True,
              callback=_print_version, help="Show the version and exit.")  # fmt: skip
def cli() -> None:
    """Measure how much of the code merged into a git repository was written with AI."""


@cli.command()
@history_options
@click.option(
    "--freq",
    type=click.Choice([f.value for f in Freq]),
    default=None,
    help="Period length.  [default: month; none with --by]",
)
@breakdown_options
@click.option(
    "--format",
    "fmt",
    type=click.Choice([*(f.value for f in OutputFormat), "html"]),
    default="table",
    show_default=True,
    help="html: one self-contained page with charts and every breakdown.",
)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to FILE, not stdout.")
@click.option(
    "--chart",
    type=click.Path(dir_okay=False),
    metavar="FILE.png|FILE.svg",
    help="Also draw the share over time to FILE (needs provenance[chart]).",
)
def report(**kw: Any) -> None:
    """Share of lines added by AI-assisted commits, per period, as they landed on the branch."""
    if kw["fmt"] == "html" and kw["by"]:
        raise click.UsageError("--by does not apply to --format html (it shows every breakdown)")
    if kw["chart"]:
        from provenance.chart import check_chart_target

        check_chart_target(kw["chart"])  # a bad name or no matplotlib fails before mining
    freq = kw["freq"] or (None if kw["by"] else "month")
    a = _audit(kw)
    rep = metrics.report(a, freq=freq, by=kw["by"], depth=kw["depth"])
    if kw["fmt"] == "html":
        from provenance.html import build_html_report

        text = build_html_report(a, freq=freq or "month", depth=kw["depth"])
    else:
        text = REPORT_RENDERERS[OutputFormat(kw["fmt"])](rep)
    with open_output(kw["output"], sys.stdout) as out:
        out.write(text)
    if kw["chart"]:
        from provenance.chart import write_report_chart

        # A chart is over time: with --by and no --freq, chart the groups per month.
        trend = rep if rep.freq else metrics.report(a, freq="month", by=kw["by"], depth=kw["depth"])
        write_report_chart(trend, kw["chart"])


@cli.command()
@history_options
@click.option(
    "--format",
    "fmt",
    type=click.Choice([f.value for f in RowFormat]),
    default="csv",
    show_default=True,
)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to FILE, not stdout.")
def commits(**kw: Any) -> None:
    """One row per counted commit: landing, identity, class, tools, evidence and line counts."""
    a = _audit(kw)
    with open_output(kw["output"], sys.stdout) as out:
        write_frame(out, audit_mod.commit_table(a), RowFormat(kw["fmt"]))


@cli.command()
@click.argument("sha")
@click.argument("path", default=".", type=click.Path(file_okay=False, path_type=str))
@click.option(
    "--min-confidence",
    type=_confidence_choice(),
    default=None,
    help="Lowest rule confidence that counts as AI.  [default: high]",
)
@click.option("--config", "config_file", type=click.Path(dir_okay=False))
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
def explain(sha: str, path: str, min_confidence: str | None, config_file: str | None,
            fmt: str) -> None:  # fmt: skip
    """Show one commit, its verdict and every rule that fired, with the text it matched."""
    ex = audit_mod.explain(path, sha, min_confidence=min_confidence, config_file=config_file)
    click.echo(explanation_json(ex) if fmt == "json" else explanation_text(ex), nl=False)


@cli.command()
@click.argument("path", default=".", type=click.Path(file_okay=False, path_type=str))
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    help="Read settings from this TOML file instead of the repository's.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice([f.value for f in OutputFormat]),
    default="table",
    show_default=True,
)
@click.option("--pattern", is_flag=True, help="Show each rule's regular expression too.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to FILE, not stdout.")
def rules(path: str, config_file: str | None, fmt: str, pattern: bool, output: str | None
          ) -> None:  # fmt: skip
    """List the active classification rules: shipped ones plus the repository's config."""
    table = audit_mod.active_rules(path, config_file=config_file).to_frame()
    text = RULES_RENDERERS[OutputFormat(fmt)](table, pattern)
    with open_output(output, sys.stdout) as out:
        out.write(text)


#: Commands defined in their own modules (which register them on `cli` when imported).
LAZY_COMMANDS: dict[str, str] = {
    "blame": "provenance.cli_blame",
    "check": "provenance.cli_ci",
    "badge": "provenance.cli_ci",
    "schema": "provenance.cli_ci",
}


def load_all_commands() -> click.Group:
    """:data:`cli` with every command registered (for tools that walk ``cli.commands``)."""
    for module in sorted(set(LAZY_COMMANDS.values())):
        importlib.import_module(module)
    return cli


def main() -> None:
    """Console-script entry point."""
    # numpy's OpenBLAS starts a spinning thread per core when imported: a tenth of a second of
    # CPU taken from git. Nothing here does linear algebra. (Only the CLI's own process: a
    # program that imports provenance keeps its settings.)
    one_blas_thread(os.environ)
    code: object = 0
    try:
        try:
            cli.main(prog_name="provenance")
        except KeyboardInterrupt:
            fail("interrupted", EXIT_INTERRUPTED)
    except SystemExit as exc:
        code = exc.code
    # Outside the handler: the exception and its traceback are released first, so every
    # generator it held (git processes, cache writers) is closed before the process ends.
    _exit(code)


def one_blas_thread(environ: MutableMapping[str, str]) -> None:
    """Set ``OPENBLAS_NUM_THREADS=1`` unless a variable OpenBLAS reads for its thread count is
    set already (the user's choice stands)."""
    if not any(k in environ for k in ("OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS",
                                      "OMP_NUM_THREADS")):  # fmt: skip
        environ["OPENBLAS_NUM_THREADS"] = "1"


def _exit(code: object) -> NoReturn:
    """Flush stdout and stderr and end the process now, with ``sys.exit``'s meaning of ``code``.

    Every output file is closed by then and every git child reaped. What is skipped is the
    interpreter's teardown, which frees the mined history object by object: a tenth of a
    second after a 10k-commit run, for memory the operating system takes back anyway.
    """
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:
        click.echo(str(code), err=True)
        status = 1
    try:
        if sys.stdout is not None:
            sys.stdout.flush()
    except BrokenPipeError:
        pass  # the reader went away (e.g. `| head`): as in ProvenanceGroup.invoke
    except OSError as exc:
        click.echo(f"provenance: error: cannot write standard output: {exc.strerror}", err=True)
        status = status or EXIT_OUTPUT_FAILED
    if sys.stderr is not None:
        with contextlib.suppress(OSError):
            sys.stderr.flush()
    os._exit(status)
