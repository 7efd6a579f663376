"""``provenance blame``: the surviving share at a revision, or per release window."""

from __future__ import annotations

import sys
from typing import Any

import click

from provenance.blame import DEFAULT_DETECT, Detect, blame_report
from provenance.cli import _confidence_choice, breakdown_options, cli
from provenance.errors import ConfigError
from provenance.progress import progress
from provenance.render import OutputFormat, open_output
from provenance.render_blame import BLAME_RENDERERS


@cli.command()
@click.argument("path", default=".", type=click.Path(file_okay=False, path_type=str))
@click.option(
    "--at",
    "at",
    default="HEAD",
    show_default=True,
    metavar="REV",
    help="Revision whose lines are blamed (the work tree is never read).",
)
@breakdown_options
@click.option(
    "--releases",
    is_flag=True,
    help="One row per pair of successive tags: lines present at the later tag whose "
    "last change lies after the earlier one.",
)
@click.option(
    "--tags",
    metavar="GLOB",
    default=None,
    help="Tags that mark releases (shell glob, e.g. 'v*.*.0'; implies --releases).  [default: *]",
)
@click.option(
    "--since-rev",
    metavar="START",
    help="One window: lines present at --at whose last change lies in START..REV.",
)
@click.option(
    "--detect",
    type=click.Choice([d.value for d in Detect]),
    default=DEFAULT_DETECT.value,
    show_default=True,
    help="Moved/copied line detection: none, move (-M), copy (-M -C), copy-harder "
    "(-M -C -C), copy-hardest (-M -C -C -C).",
)
@click.option(
    "-w",
    "--ignore-whitespace",
    is_flag=True,
    help="Ignore whitespace changes when finding a line's last change (git blame -w).",
)
@click.option(
    "--ignore-revs-file",
    type=click.Path(dir_okay=False, exists=True),
    metavar="FILE",
    help="Look through the commits listed in FILE.  [default: .git-blame-ignore-revs "
    "at the revision, when present]",
)
@click.option("--no-ignore-revs", is_flag=True, help="Do not read .git-blame-ignore-revs.")
@click.option(
    "--include", multiple=True, metavar="GLOB", help="Count only paths matching GLOB (repeatable)."
)
@click.option(
    "--exclude",
    multiple=True,
    metavar="GLOB",
    help="Also exclude paths matching GLOB (repeatable).",
)
@click.option(
    "--no-default-excludes",
    is_flag=True,
    help="Count lockfiles, vendored, minified and generated files too.",
)
@click.option(
    "--min-confidence",
    type=_confidence_choice(),
    default=None,
    help="Lowest rule confidence that counts as AI.  [default: high]",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    help="Read settings from this TOML file instead of the repository's.",
)
@click.option(
    "--allow-shallow",
    is_flag=True,
    help="Blame a shallow clone (old lines are credited to its oldest commits).",
)
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(min=0),
    default=0,
    help="Files blamed in parallel (0: one per core).  [default: 0]",
)
@click.option(
    "--cache/--no-cache",
    default=True,
    show_default=True,
    help="Reuse blame results of earlier runs (see the README for where they live).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice([f.value for f in OutputFormat]),
    default="table",
    show_default=True,
)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to FILE, not stdout.")
@click.option(
    "--chart",
    type=click.Path(dir_okay=False),
    metavar="FILE.png|FILE.svg",
    help="Also draw the share as bars to FILE, with the tree at --at by directory "
    "(needs provenance[chart]).",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress output on stderr.")
def blame(**kw: Any) -> None:
    """Share of the lines present at a revision (or added in each release) last changed by AI."""
    if kw["since_rev"] and (kw["releases"] or kw["tags"]):
        raise ConfigError("use either --since-rev or --releases/--tags, not both")
    if kw["ignore_revs_file"] and kw["no_ignore_revs"]:
        raise ConfigError("use either --ignore-revs-file or --no-ignore-revs, not both")
    if kw["chart"]:
        from provenance.chart import check_chart_target

        check_chart_target(kw["chart"])  # a bad name or no matplotlib fails before blaming
    releases = (kw["tags"] or "*") if (kw["releases"] or kw["tags"]) else None
    common: dict[str, Any] = dict(
        depth=kw["depth"],
        detect=kw["detect"],
        ignore_whitespace=kw["ignore_whitespace"],
        ignore_revs_file=kw["ignore_revs_file"],
        ignore_revs=not kw["no_ignore_revs"],
        include=kw["include"],
        exclude=kw["exclude"],
        default_excludes=not kw["no_default_excludes"],
        min_confidence=kw["min_confidence"],
        config_file=kw["config_file"],
        allow_shallow=kw["allow_shallow"],
        jobs=kw["jobs"],
        cache=kw["cache"],
    )
    with progress("blaming files", quiet=kw["quiet"]) as tick:
        rep = blame_report(
            kw["path"],
            kw["at"],
            releases,
            since_rev=kw["since_rev"],
            by=kw["by"],
            progress=tick,
            **common,
        )
    text = BLAME_RENDERERS[OutputFormat(kw["fmt"])](rep)
    with open_output(kw["output"], sys.stdout) as out:
        out.write(text)
    if kw["chart"]:
        from provenance.chart import write_blame_chart

        panels = [rep]
        if rep.mode != "at" or rep.by != "path":  # add the tree today by directory
            with progress("blaming files (tree)", quiet=kw["quiet"]) as tick:
                panels.append(
                    blame_report(kw["path"], kw["at"], by="path", progress=tick, **common)
                )
        write_blame_chart(panels, kw["chart"])
