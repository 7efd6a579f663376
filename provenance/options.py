"""The choices of the report options (periods, breakdowns).

Kept apart from :mod:`provenance.metrics` so that the CLI can declare its options without
importing the classifier and the frames (it starts git first).
"""

from __future__ import annotations

from enum import StrEnum


class Freq(StrEnum):
    """Period length for time series."""

    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


class GroupBy(StrEnum):
    """Dimensions a table can be broken down by."""

    TOOL = "tool"
    AUTHOR = "author"
    MODEL = "model"
    PATH = "path"
    EXT = "ext"
