"""`provenance check` (a CI gate with GitHub integration), `provenance badge` and
`provenance schema`.

``check`` exits 0 when every policy passes, 1 when one fails (one line per failure on stdout),
2 on bad input (including a shallow clone without ``--allow-shallow``).
"""

from __future__ import annotations

import sys
from importlib import resources
from typing import Any

import click

from provenance import metrics
from provenance.badge import DEFAULT_COLOR, DEFAULT_LABEL, badge_svg, parse_color, share_message
from provenance.check import CheckResult, Policies, evaluate, parse_share, policies_from_config
from provenance.cli import _audit, cli, history_options
from provenance.config import load_config
from provenance.errors import EXIT_CHECK_FAILED, ConfigError
from provenance.frame import Audit, commit_table
from provenance.github import (
    annotation,
    failure_annotations,
    github_mode,
    scope_label,
    step_outputs,
    summarize,
    summary_markdown,
    write_outputs,
    write_step_summary,
)
from provenance.gitlog import Repository
from provenance.render import RowFormat, fmt_share, open_output, plain, write_frame


def _share(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    """Parse a share limit given on the command line: ``0.8`` or ``80%``."""
    if value is None:
        return None
    try:
        return parse_share(value, "value")
    except ConfigError:
        raise click.BadParameter(
            f"{value!r} is not a share: use a fraction from 0 to 1 (0.8) or a percentage (80%)"
        ) from None


def _policies(kw: dict[str, Any], repo: Repository) -> Policies:
    cfg = load_config(repo, kw["config_file"])
    configured = policies_from_config(cfg.check, cfg.source or "config")
    return configured.updated(
        max_ai_share=kw["max_ai_share"],
        min_ai_share=kw["min_ai_share"],
        require_disclosure=kw["require_disclosure"],
        forbid_tool=kw["forbid_tool"],
        max_unclassified_bots=kw["max_unclassified_bots"],
    )


def _verdict_line(result: CheckResult, a: Audit) -> str:
    share = fmt_share(result.ai_share)
    measured = (
        f"{scope_label(a)}: AI share {share} of {result.added:,} lines added in "
        f"{result.commits:,} commits ({a.min_confidence.label} confidence)"
    )
    n = len(result.results)
    if not n:
        return f"check passed: no policies set; {measured}"
    if result.passed:
        return f"check passed: {n} of {n} policies; {measured}"
    return f"check failed: {len(result.failed)} of {n} policies; {measured}"


@cli.command()
@history_options
@click.option(
    "--max-ai-share",
    callback=_share,
    metavar="SHARE",
    help="Fail when the AI share of lines added is above SHARE (0.8 or 80%).",
)
@click.option(
    "--min-ai-share",
    callback=_share,
    metavar="SHARE",
    help="Fail when the AI share of lines added is below SHARE.",
)
@click.option(
    "--require-disclosure/--no-require-disclosure",
    default=None,
    help="Fail on each commit with AI evidence below the threshold (a hint) that "
    "does not declare its AI use in a form that counts.",
)
@click.option(
    "--forbid-tool",
    multiple=True,
    metavar="NAME",
    help="Fail on commits made with a tool whose name has NAME as whole words "
    "(case-insensitive; repeatable).",
)
@click.option(
    "--max-unclassified-bots",
    type=click.IntRange(min=0),
    metavar="N",
    help="Fail when more than N commits come from bots no rule names "
    "(a '[bot]' author matched only by the generic rule).",
)
@click.option(
    "--github/--no-github",
    default=None,
    help="Write the GitHub step summary, step outputs and annotations.  "
    "[default: on when GITHUB_ACTIONS=true]",
)
@click.option(
    "--summary",
    "summary_file",
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help="Also write the Markdown summary to FILE (e.g. for a GitLab job).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice([f.value for f in RowFormat]),
    default=None,
    help="Format of the --output listing.  [default: csv]",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help="Write the measured commits (as `provenance commits` lists them) to FILE.",
)
def check(**kw: Any) -> None:
    """Enforce policies on the AI share of a branch or a pull request (a CI gate).

    Exits 0 when every policy passes, 1 when one fails (each failure is one line naming the
    policy, the measured value and the limit), 2 on bad input. Policies come from these options
    and from [tool.provenance.check] in the repository's configuration.
    """
    if kw["fmt"] and not kw["output"]:
        raise click.UsageError("--format applies to the --output listing: give --output FILE")
    repo = Repository(kw["path"])
    # Before resolving the range: in a shallow clone the base is often missing, and the
    # shallow history is the problem to report.
    repo.check_not_shallow(kw["allow_shallow"])
    policies = _policies(kw, repo)
    a = _audit(kw)
    result = evaluate(a, policies)
    github = github_mode(kw["github"])
    if kw["output"]:
        with open_output(kw["output"], sys.stdout) as out:
            write_frame(out, commit_table(a), RowFormat(kw["fmt"] or "csv"))
    if github or kw["summary_file"]:
        branch = _audit({**kw, "range_": None, "rev": a.rev}) if a.base else None
        summ = summarize(result, a, branch)
        markdown = summary_markdown(summ)
        if kw["summary_file"]:
            with open_output(kw["summary_file"], sys.stdout) as out:
                out.write(markdown)
        if github:
            if write_step_summary(markdown) is None:
                click.echo("provenance: GITHUB_STEP_SUMMARY is not set: no step summary", err=True)
            write_outputs(step_outputs(summ))
    lines = failure_annotations(result.failures) if github else [f.message for f in result.failures]
    if github:
        lines += [annotation("warning", note) for note in result.report.notes]
    for line in lines:
        click.echo(line)
    click.echo(_verdict_line(result, a))
    if not result.passed:
        sys.exit(EXIT_CHECK_FAILED)


@cli.command()
@history_options
@click.option("--label", default=DEFAULT_LABEL, show_default=True, help="Left-hand text.")
@click.option(
    "--color",
    default=DEFAULT_COLOR,
    show_default=True,
    help="Right-hand colour: a shields name (blue, green, orange, …) or #hex.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    metavar="FILE.svg",
    help="Write to FILE, not stdout.",
)
def badge(**kw: Any) -> None:
    """A shields-style SVG badge with the AI share of lines added ("AI code 37%"); offline."""
    try:
        color = parse_color(kw["color"])
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'--color'") from None
    total = metrics.report(_audit(kw), freq=None, by="tool").total
    svg = badge_svg(kw["label"], share_message(plain(total["ai_share"])), color)
    with open_output(kw["output"], sys.stdout) as out:
        out.write(svg)


@cli.command()
def schema() -> None:
    """Print the JSON Schema of every JSON output (``schema_version``, one ``$defs`` per kind)."""
    text = resources.files("provenance").joinpath("data/report.schema.json").read_text("utf-8")
    click.echo(text, nl=False)
