"""What a notebook displays for a numbered figure or table: one output that JupyterLab renders
(PNG, markdown) and one that the PDF build renders (`text/latex`, which nbconvert's LaTeX exporter
ranks first, while JupyterLab ranks markdown above LaTeX).

A figure is two outputs: the PNG, marked `PDF_SKIP` so the PDF build drops it (the LaTeX figure
includes the saved file itself, with its caption on the same page), and the caption as markdown
with the LaTeX figure environment beside it.
"""
from __future__ import annotations

import base64
from pathlib import Path

from . import latex

PDF_SKIP = "pdf_skip"  # output metadata key: the PDF build leaves this output out


def figure_outputs(path: Path, caption: str, label: str) -> list[tuple[dict, dict]]:
    """[(data, metadata), ...] to publish for the figure saved at `path`."""
    png = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    shown = f'<a id="{label}"></a>**Figure** ({label}): {caption}'
    return [({"image/png": png}, {PDF_SKIP: True}),
            ({"text/markdown": shown, "text/latex": latex.figure_latex(Path(path).name, caption, label)}, {})]


def table_markdown(df, caption: str, label: str, floatfmt, index: bool) -> str:
    """The table as JupyterLab shows it: its caption, then a markdown table with the PDF's
    per-column number formats."""
    shown = latex.with_index(df) if index else df
    cells = [latex.format_column(list(shown.iloc[:, i].astype(object)), latex.column_format(floatfmt, i))[0]
             for i in range(shown.shape[1])]
    head = "| " + " | ".join(str(c) for c in shown.columns) + " |"
    rule = "|" + "---|" * len(shown.columns)
    rows = ["| " + " | ".join(col[r].replace("|", "\\|") for col in cells) + " |" for r in range(len(shown))]
    title = f'<a id="{label}"></a>**Table** ({label}): {caption}\n\n'
    return title + "\n".join([head, rule, *rows])


def table_output(df, caption: str, label: str, floatfmt=".3f", index: bool = False) -> dict:
    """The data of the one output that shows the table in JupyterLab and in the PDF."""
    return {"text/markdown": table_markdown(df, caption, label, floatfmt, index),
            "text/latex": latex.table_latex(df, caption, label, floatfmt, index)}
