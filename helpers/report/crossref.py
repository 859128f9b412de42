"""References from the narrative to numbered figures and tables.

In markdown (cells and `stage.say` outputs) a reference is a link to the label:
`[Figure](#fig:B1_success_vs_eps)` or `[Table](#tab:B1_success)`; for the PDF it becomes
`Figure~\\ref{fig:B1_success_vs_eps}` ("Figure 12"). A link with other text,
`[the success curves](#fig:B1_success_vs_eps)`, becomes "the success curves (Figure 12)".
Pandoc passes the raw `\\ref` through; a non-breaking space keeps "Figure" and its number together.
"""
from __future__ import annotations

import re
from typing import Iterable

from .display import PDF_SKIP
from .latex import NBSP, REFERENCE, rewrite  # noqa: F401  (the reference syntax lives with the LaTeX writers)

LABEL = re.compile(r"\\label\{((?:fig|tab):[^}]+)\}")
REF = re.compile(r"\\ref\{((?:fig|tab):[^}]+)\}")


class UnknownLabel(ValueError):
    pass


def referenced(markdown: str) -> list[str]:
    """Labels that `markdown` refers to, in order."""
    return [m.group(2) for m in REFERENCE.finditer(markdown)]


def narrative(nb) -> Iterable[str]:
    """Every piece of narrative markdown of a notebook: markdown cells and markdown outputs that
    carry no LaTeX of their own (those are table and figure captions)."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            yield cell.source
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if "text/markdown" in data and "text/latex" not in data:
                yield data["text/markdown"]


def defined(nb) -> list[str]:
    """Labels of the numbered figures and tables a notebook's LaTeX outputs define, in order."""
    return [label for cell in nb.cells for out in cell.get("outputs", [])
            for label in LABEL.findall(out.get("data", {}).get("text/latex", ""))]


def resolve(nb) -> dict[str, list[str]]:
    """Rewrite the references of notebook `nb` in place for LaTeX and drop outputs marked for
    JupyterLab only; raise UnknownLabel naming every reference to a label no output defines.
    Returns {'defined': [...], 'unreferenced': [...]} for the report checks."""
    labels = defined(nb)
    twice = sorted({label for label in labels if labels.count(label) > 1})
    if twice:
        raise UnknownLabel("labels defined by more than one figure or table: " + ", ".join(twice)
                           + " (give show_figure a distinct `what`, show_table a distinct `label`)")
    used = [label for text in narrative(nb) for label in referenced(text)]
    used += [label for cell in nb.cells for out in cell.get("outputs", [])  # references inside tables and captions
             for label in REF.findall(out.get("data", {}).get("text/latex", ""))]
    unknown = sorted(set(used) - set(labels))
    if unknown:
        raise UnknownLabel("references to labels that no figure or table defines: " + ", ".join(unknown)
                           + (f" (defined labels: {', '.join(labels)})" if labels else ""))
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = rewrite(cell.source)
        if "outputs" in cell:
            cell.outputs = [o for o in cell.outputs if not o.get("metadata", {}).get(PDF_SKIP)]
            for out in cell.outputs:
                data = out.get("data", {})
                if "text/markdown" in data and "text/latex" not in data:
                    data["text/markdown"] = rewrite(data["text/markdown"])
    return {"defined": labels, "unreferenced": [label for label in labels if label not in used]}
