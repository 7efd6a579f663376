"""The column-wise CSV writer gives the same bytes as the row-by-row one."""

from __future__ import annotations

import io

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from provenance.render import RowFormat, write_frame, write_rows


def tricky() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "sha": pd.array(["a1", "b2", "c3", "d4"], dtype="string"),
            "subject": pd.array(
                ["=SUM(A1)", "+1 fix", None, 'plain, "quoted"\nline'], dtype="string"
            ),
            "when": pd.to_datetime(
                ["2024-01-02T03:04:05Z", "1970-01-01T00:00:00Z", "2026-11-28T23:59:59Z", None],
                utc=True,
            ).astype("datetime64[s, UTC]"),
            "class": pd.Categorical(["ai", "human", "bot", "ai"]),
            "confidence": pd.Categorical(["high", None, None, "-low"]),
            "added": [0, 12, -3, 10**12],
            "mixed": pd.Series(["@x", 1.5, None, "\tTab"], dtype=object),
            "flag": [True, False, True, False],
        }
    )


@pytest.mark.parametrize("fmt", list(RowFormat))
def test_write_frame_equals_write_rows(fmt: RowFormat) -> None:
    df = tricky()
    a, b = io.StringIO(), io.StringIO()
    cols = list(df.columns)
    rows = (dict(zip(cols, r, strict=True)) for r in df.itertuples(index=False, name=None))
    assert write_rows(a, cols, rows, fmt) == write_frame(b, df, fmt) == 4
    assert b.getvalue() == a.getvalue()


def test_sub_second_dates_and_str_subclasses() -> None:
    import numpy as np

    df = pd.DataFrame(
        {
            "when": pd.to_datetime(["2025-01-01T00:00:00.5Z", None], utc=True),
            "obj": pd.Series([np.str_("a"), np.str_("-b")], dtype=object),
            "cat": pd.Categorical([np.str_("x"), None]),
        }
    )
    assert "2025-01-01T00:00:00.500000+00:00,a,x" in _same_bytes(df)


def test_formula_cells_are_neutralised() -> None:
    out = io.StringIO()
    write_frame(out, tricky(), RowFormat.CSV)
    lines = out.getvalue().splitlines()
    assert lines[1].startswith("a1,'=SUM(A1),2024-01-02T03:04:05+00:00,ai,high,0,'@x,True")
    assert ",'-low," in out.getvalue()


def test_empty_frame() -> None:
    out = io.StringIO()
    assert write_frame(out, tricky().iloc[:0], RowFormat.CSV) == 0
    assert out.getvalue() == "sha,subject,when,class,confidence,added,mixed,flag\n"


def _same_bytes(df: pd.DataFrame) -> str:
    a, b = io.StringIO(), io.StringIO()
    cols = list(df.columns)
    rows = (dict(zip(cols, r, strict=True)) for r in df.itertuples(index=False, name=None))
    write_rows(a, cols, rows, RowFormat.CSV)
    write_frame(b, df, RowFormat.CSV)
    assert b.getvalue() == a.getvalue()
    return b.getvalue()


_CELL = st.text(alphabet=st.sampled_from(list('ab ,"\r\n\t=+-@\'x\u2028\x00')), max_size=6)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_CELL, st.one_of(st.none(), _CELL), _CELL), max_size=8),
       st.integers(1, 3))  # fmt: skip
def test_quoting_and_formulas_match_the_csv_module(rows: list[tuple[str, str | None, str]],
                                                   ncols: int) -> None:  # fmt: skip
    text = [r[0] for r in rows]
    df = pd.DataFrame(
        {
            "text": pd.array(text, dtype="string"),
            "maybe": pd.array([r[1] for r in rows], dtype="string"),
            "cat": pd.Categorical([r[2] for r in rows]),
        }
    ).iloc[:, :ncols]
    _same_bytes(df)
    _same_bytes(df.astype(object))


def test_one_column_of_empty_cells_and_no_rows() -> None:
    assert _same_bytes(pd.DataFrame({"a": pd.array(["", ""], dtype="string")})) == 'a\n""\n""\n'
    assert _same_bytes(pd.DataFrame({"a": [], "b": []})) == "a,b\n"
    assert _same_bytes(pd.DataFrame({"a": ["", "x"], "b": ["", ""]})) == "a,b\n,\nx,\n"


def test_integer_columns_of_any_width() -> None:
    import numpy as np

    df = pd.DataFrame(
        {
            "nullable": pd.array([1, -2], dtype="Int64"),
            "unsigned": np.array([0, 2**64 - 1], dtype="uint64"),
            "small": np.array([-128, 127], dtype="int8"),
            "holes": pd.array([None, 3], dtype="Int64"),
        }
    )
    assert _same_bytes(df) == (
        "nullable,unsigned,small,holes\n1,0,-128,\n-2,18446744073709551615,127,3\n"
    )
