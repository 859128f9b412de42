"""Tables that fit their columns: how many cells a table's PDF layout wraps, and columns whose
every row holds the same value moved into the caption when that saves wrapping.

A table of the report is checked when it is shown (`Stage.show_table`): the share of its body
cells whose text is wider than the column `latex` gives it, estimated with the same font metrics.
A table that wraps most of its cells reads badly in print (the issue "The reports argue")."""
from __future__ import annotations

import math
import re
from typing import Any, Sequence

from . import latex

# A table may wrap at most this share of its short body cells: a rate with its interval or a name
# breaking over two lines is what reads badly; a note longer than SHORT_CELL characters wraps by design.
MAX_WRAPPED_SHARE = 0.25
SHORT_CELL = 32


def _texts(df, floatfmt: str | Sequence[str], index: bool) -> tuple[list[str], list[list[str]]]:
    df = latex.with_index(df) if index else df
    return [str(c) for c in df.columns], latex.cell_texts(df, floatfmt)[0]


def wrapped_share(df, floatfmt: str | Sequence[str] = ".3f", index: bool = False) -> float:
    """The share of body cells (0–1) that are short (≤ SHORT_CELL characters) and still wider than
    their column in the PDF's layout."""
    header, columns = _texts(df, floatfmt, index)
    if not columns or not columns[0]:
        return 0.0
    font, widths = latex._layout(header, columns)
    em = latex.FONT_PT[font]
    wrapped = sum(len(t) <= SHORT_CELL and latex.text_em(t) * em > w - latex.SLACK_PT + 0.5
                  for col, w in zip(columns, widths) for t in col)
    return wrapped / (len(columns) * len(columns[0]))


def _constant(df) -> list[str]:
    """Columns after the first whose cells are all the same text, in a table of two rows or more."""
    if len(df) < 2:
        return []
    return [c for c in df.columns[1:] if df[c].astype(str).nunique() == 1]


def fitted(df, caption: str, floatfmt: str | Sequence[str] = ".3f", index: bool = False
           ) -> tuple[Any, str, str | Sequence[str]]:
    """(table, caption, floatfmt): when the table wraps cells and some columns hold one value in every
    row, those columns leave the table and their values join the caption ('in every row: n = 50'),
    if that wraps fewer cells; otherwise the table as given."""
    share, constant = wrapped_share(df, floatfmt, index), _constant(df)
    if share == 0 or not constant or len(constant) == len(df.columns) - 1 or (index and not isinstance(floatfmt, str)):
        return df, caption, floatfmt
    kept = [c for c in df.columns if c not in constant]
    fmt = floatfmt if isinstance(floatfmt, str) else [f for c, f in zip(df.columns, floatfmt) if c in kept]
    if wrapped_share(df[kept], fmt, index) >= share:
        return df, caption, floatfmt
    values = ", ".join(f"{c} = {_text(df[c].iloc[0], floatfmt, list(df.columns).index(c))}" for c in constant)
    return df[kept], f"{caption.rstrip('. ')}; in every row: {values}", fmt


def _text(value: Any, floatfmt: str | Sequence[str], i: int) -> str:
    text, _ = latex.format_column([value], latex.column_format(floatfmt, i))
    return text[0]


def check(share: float) -> dict[str, Any]:
    """What `Stage.show_table` records of a table: its wrapped share and whether it passes."""
    return {"wrapped_share": round(share, 3), "ok": share <= MAX_WRAPPED_SHARE or math.isclose(share, 0.0)}


def split_by(table, column: str, caption: str, label: str) -> list[tuple[str, Any, str]]:
    """(caption, table, label) per value of `column`, in order of appearance, without that column:
    a table too wide for the page as one becomes one per model or direction. Labels are
    '<label>_<value>' with the value's arrows and spaces made label-safe ('S → T' -> 'S_to_T')."""
    def safe(value: str) -> str:
        return re.sub(r"[^A-Za-z0-9_.\-]+", "_", str(value).replace("→", "to")).strip("_")
    return [(f"{value}: {caption}", part.drop(columns=column).reset_index(drop=True), f"{label}_{safe(value)}")
            for value, part in table.groupby(column, sort=False)]
