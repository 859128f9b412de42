"""LaTeX of numbered figures and tables, as `Stage.show_figure` / `show_table` emit it beside the
PNG and markdown that JupyterLab shows (nbconvert's LaTeX exporter prefers `text/latex`).

A figure is a `figure` float (`[htbp]`: it stays whole, so the caption is on the page of its image,
and it may move to the top of the next page rather than leave half a page empty; the template keeps
floats inside their section)
with `\\caption{...}\\label{fig:<tag>_<what>}`; a table is a `longtable` (it splits across pages,
its header repeats) with booktabs rules, `\\caption{...}\\label{tab:<tag>_<label>}`, set in
\\footnotesize (9 pt at the report's 11 pt base; \\scriptsize, 8 pt, only when a table would not fit
otherwise) in paragraph columns whose widths come from their content, so that columns never run
into each other. Every cell is escaped; captions are markdown, converted by pandoc when it exists.
"""
from __future__ import annotations

import math
import re
import shutil
import subprocess
from numbers import Integral, Real
from typing import Any, Sequence

# Usable text width of the report in pt: an 8.5 in page with 0.8 in margins (report/study.tex.j2).
TEXT_WIDTH_PT = (8.5 - 1.6) * 72.27
# Font sizes of \footnotesize and \scriptsize at the 11 pt base.
FONT_PT = {"footnotesize": 9.0, "scriptsize": 8.0}
# Advance widths of DejaVu Serif in em, by kind of character (rounded up, so estimates err wide).
NARROW, NARROW_EM = set(" .,:;'!|iIljft()[]-"), 0.36
WIDE, WIDE_EM = set("mwMW%@"), 0.96
DIGIT_EM, LOWER_EM, CHAR_EM = 0.65, 0.63, 0.80  # CHAR_EM: capitals and everything else
SLACK_PT = 2.0  # added to every column: the estimate must never fall short (an overfull cell collides)
TABCOLSEP_PT = 4.0  # space either side of a column (LaTeX's default is 6 pt)
MAX_FIGURE_HEIGHT = r"0.72\textheight"  # leaves room for a caption of several lines on the page

_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
            "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}
_SPECIAL_RE = re.compile("|".join(re.escape(c) for c in _SPECIAL))
LABEL_RE = re.compile(r"^(fig|tab):[A-Za-z0-9_.\-]+$")
# A reference in markdown: [Figure](#fig:B1_success_vs_eps), [Table](#tab:B1_success), or other link text.
REFERENCE = re.compile(r"\[([^\]\n]+)\]\(#((?:fig|tab):[A-Za-z0-9_.\-]+)\)")
_KIND = {"fig": "Figure", "tab": "Table"}
_BARE = {"figure", "figures", "fig.", "table", "tables", "tab."}
NBSP = "\u00a0"  # pandoc writes it as ~, which keeps "Figure" and its number on one line


def _reference(text: str, label: str) -> str:
    """'Figure~\\ref{label}' for a bare link text, else 'text (Figure~\\ref{label})'."""
    ref = f"\\ref{{{label}}}"
    if text.strip().lower() in _BARE:
        return f"{text.strip()}{NBSP}{ref}"
    return f"{text} ({_KIND[label[:3]]}{NBSP}{ref})"


def rewrite(markdown: str) -> str:
    """`markdown` with every figure/table link replaced by a LaTeX reference (which pandoc keeps)."""
    return REFERENCE.sub(lambda m: _reference(m.group(1), m.group(2)), markdown)


def escape(text: Any) -> str:
    """Plain text as LaTeX: the ten special characters escaped; Unicode (ε, δ, ≤, ±) stays, the
    report's DejaVu fonts have the glyphs."""
    return _SPECIAL_RE.sub(lambda m: _SPECIAL[m.group(0)], str(text))


def markdown_to_latex(text: str) -> str:
    """Inline markdown (a caption: emphasis, code, `$math$`) as LaTeX, by pandoc when installed,
    otherwise escaped as plain text."""
    if not text:
        return ""
    if shutil.which("pandoc") is None:
        return cell(text)
    proc = subprocess.run(["pandoc", "-f", "markdown+tex_math_double_backslash", "-t", "latex", "--wrap=none"],
                          input=rewrite(text), capture_output=True, text=True, check=True)
    return proc.stdout.strip().replace("\n\n", " ")


_BOLD, _CODE = re.compile(r"\*\*(.+?)\*\*"), re.compile(r"`([^`]+)`")


def _plain_cell(text: str) -> str:
    return _CODE.sub(r"\\texttt{\1}", _BOLD.sub(r"\\textbf{\1}", escape(text)))


def cell(text: str) -> str:
    """A table cell as LaTeX: escaped, with markdown **bold**, `code` and figure/table references
    kept as such."""
    out, pos = [], 0
    for m in REFERENCE.finditer(text):
        out += [_plain_cell(text[pos:m.start()]), _reference(_plain_cell(m.group(1)), m.group(2)).replace(NBSP, "~")]
        pos = m.end()
    return "".join(out + [_plain_cell(text[pos:])])


def check_label(label: str) -> str:
    if not LABEL_RE.match(label):
        raise ValueError(f"label {label!r} must look like fig:<tag>_<what> or tab:<tag>_<name> "
                         "(letters, digits, '_', '.', '-')")
    return label


def figure_latex(filename: str, caption: str, label: str) -> str:
    """A captioned, labelled figure of the image `filename` (found in the LaTeX build directory),
    at its natural size (150 dpi) unless that exceeds the text width or 72 % of the text height."""
    return "\n".join([
        r"\begin{figure}[htbp]", r"\centering",
        rf"\includegraphics[max width=\linewidth, max height={MAX_FIGURE_HEIGHT}]{{{filename}}}",
        rf"\caption{{{markdown_to_latex(caption)}}}\label{{{check_label(label)}}}", r"\end{figure}", ""])


def _missing(v: Any) -> bool:
    """None, NaN, pandas' NA and NaT: shown as a dash."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return True
    import pandas as pd
    return v is pd.NA or v is pd.NaT


def _is_number(v: Any) -> bool:
    return isinstance(v, Real) and not isinstance(v, bool)


def column_format(fmt: str | Sequence[str], i: int) -> str:
    return fmt if isinstance(fmt, str) else fmt[i] if i < len(fmt) else ".3f"


def format_column(values: Sequence[Any], floatfmt: str) -> tuple[list[str], bool]:
    """Cells of one column as text, and whether the column is numeric (right-aligned). Every
    floating-point number of a column is written with the one `floatfmt`, so its decimals agree;
    integers (counts) stay integers."""
    present = [v for v in values if not _missing(v)]
    numeric = bool(present) and all(_is_number(v) for v in present)
    out = []
    for v in values:
        if _missing(v):
            out.append("–")
        elif _is_number(v) and isinstance(v, Integral):
            out.append(str(int(v)))
        elif _is_number(v):
            out.append(format(float(v), floatfmt))
        else:
            out.append(str(v))
    return out, numeric


def text_em(text: str) -> float:
    """Estimated width of `text` in DejaVu Serif, in em."""
    return sum(NARROW_EM if c in NARROW else WIDE_EM if c in WIDE else DIGIT_EM if c.isdigit()
               else LOWER_EM if c.islower() else CHAR_EM for c in text)


def column_widths(header: list[str], cells: list[list[str]], font: str, wrap: bool) -> list[float] | None:
    """Widths in pt of each column's text (without padding) so that the table fits the text width,
    or None. Headers may wrap at their words; cells keep each on one line unless `wrap`, when every
    column gets at least its longest unbreakable word and the rest of the room by what it needs."""
    em = FONT_PT[font]
    word = [max((text_em(w) for t in [h] + col for w in t.split()), default=1.0) * em + SLACK_PT
            for h, col in zip(header, cells)]
    natural = [max(w, max((text_em(t) for t in col), default=0.0) * em + SLACK_PT) for w, col in zip(word, cells)]
    full = [max(n, text_em(h) * em + SLACK_PT) for n, h in zip(natural, header)]
    room = TEXT_WIDTH_PT - 2 * TABCOLSEP_PT * len(header)
    if sum(full) <= room:
        return full
    if sum(natural) <= room:  # headers that must wrap share what is left, by how much more they need
        spare, need = room - sum(natural), [f - n for f, n in zip(full, natural)]
        return [n + spare * d / sum(need) for n, d in zip(natural, need)]
    if not wrap or sum(word) > room:
        return None
    spare, extra = room - sum(word), [n - w for n, w in zip(natural, word)]
    return [w + spare * e / (sum(extra) or 1.0) for w, e in zip(word, extra)]


def _layout(header: list[str], columns: list[list[str]]) -> tuple[str, list[float]]:
    """Font size and column widths: cells on one line at 9 pt, else at 8 pt, else wrapped."""
    for font, wrap in (("footnotesize", False), ("scriptsize", False), ("footnotesize", True), ("scriptsize", True)):
        widths = column_widths(header, columns, font, wrap)
        if widths is not None:
            return font, widths
    # still too wide: the smallest legible size, each column as wide as its longest word (overfull)
    return "scriptsize", [max(text_em(w) for t in [h] + col for w in t.split() or ["x"]) * FONT_PT["scriptsize"]
                          for h, col in zip(header, columns)]


def with_index(df):
    """`df` with its index as the first column (headed by the index's name, or nothing)."""
    names = [n if n is not None else "" for n in df.index.names]
    return df.rename_axis(names).reset_index()


# A table whose estimated height stays under this many points is a `table` float (tabular), longer
# ones a longtable. longtable breaks pages by its own output routine, which ignores floats placed on
# the same page: a short longtable after a figure overflowed the bottom margin and lost the
# heading below it (text height at 0.8 in margins: about 680 pt).
FLOAT_TABLE_MAX_PT = 400.0


def estimated_height_pt(header: list[str], columns: list[list[str]], font: str, widths: list[float]) -> float:
    """Rough height of the table's body and header in pt: wrapped lines per row times the leading."""
    em, leading = FONT_PT[font], FONT_PT[font] * 1.25

    def lines(texts: list[str]) -> int:
        return max(max(1, math.ceil(text_em(t) * em / max(w - SLACK_PT, 1.0))) for t, w in zip(texts, widths))

    rows = [[col[r] for col in columns] for r in range(len(columns[0]) if columns else 0)]
    return (lines(header) + sum(lines(r) for r in rows)) * leading


def cell_texts(df, floatfmt: str | Sequence[str]) -> tuple[list[list[str]], list[bool]]:
    """Every column's cells as printed (`format_column`), and whether each column is numeric."""
    formatted = [format_column(list(df.iloc[:, i].astype(object)), column_format(floatfmt, i))
                 for i in range(df.shape[1])]
    return [texts for texts, _ in formatted], [is_num for _, is_num in formatted]


def table_latex(df, caption: str, label: str, floatfmt: str | Sequence[str] = ".3f", index: bool = False) -> str:
    """The DataFrame `df` as a captioned table labelled `label` (escaped cells, per-column
    decimals, booktabs rules): a `table` float when it is short, else a longtable that breaks
    across pages and repeats its header."""
    df = with_index(df) if index else df
    header = [escape(c) for c in df.columns]
    columns, numeric = cell_texts(df, floatfmt)
    font, widths = _layout([str(c) for c in df.columns], columns)
    align = [r"\raggedleft" if num else r"\raggedright" for num in numeric]
    spec = "".join(f">{{{a}\\arraybackslash}}p{{{w:.1f}pt}}" for a, w in zip(align, widths))
    rows = [" & ".join(cell(col[r]) for col in columns) + r" \\" for r in range(len(df))]
    head = " & ".join(header) + r" \\"
    caption_line = rf"\caption{{{markdown_to_latex(caption)}}}\label{{{check_label(label)}}}"
    if estimated_height_pt([str(c) for c in df.columns], columns, font, widths) <= FLOAT_TABLE_MAX_PT:
        return "\n".join([
            r"\begin{table}[htbp]", r"\centering", rf"\{font}", rf"\setlength{{\tabcolsep}}{{{TABCOLSEP_PT:g}pt}}",
            caption_line, rf"\begin{{tabular}}{{{spec}}}", r"\toprule", head, r"\midrule",
            *rows, r"\bottomrule", r"\end{tabular}", r"\end{table}", ""])
    return "\n".join([
        r"\begingroup", rf"\{font}", rf"\setlength{{\tabcolsep}}{{{TABCOLSEP_PT:g}pt}}",
        rf"\begin{{longtable}}{{{spec}}}",
        caption_line + r" \\",
        r"\toprule", head, r"\midrule", r"\endfirsthead",
        rf"\multicolumn{{{len(header)}}}{{l}}{{\emph{{(continued)}}}} \\", r"\toprule", head, r"\midrule", r"\endhead",
        r"\bottomrule", r"\endlastfoot",
        *rows, r"\end{longtable}", r"\endgroup", ""])
