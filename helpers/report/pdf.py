"""The PDF report: executed notebooks merged, code hidden, compiled with XeLaTeX via nbconvert.

Order: title page with the abstract, contents, executive summary, the notebooks A1 … C2, then
conclusions, limitations, references, reproduction, the appendix of details (the cells a notebook
tags `appendix`: example panels, per-layer tables, in notebook order) and the settings appendix. Figure and table
references of the narrative (`[Figure](#fig:B1_success_vs_eps)`) become `Figure~\\ref{...}`; a
reference to a label that no figure or table defines stops the build. XeLaTeX runs until the
.aux and .toc files stop changing, so the contents' page numbers are right.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import nbformat

from ..core.files import ROOT, atomic_path
from . import crossref

TEMPLATE_DIR = ROOT / "report"
TEMPLATE = "study.tex.j2"
# Cells whose input is shown as text in the report: none. Outputs that are noise in print: these.
_DROP_TAGS = {"parameters", "injected-parameters", "remove-cell"}
# Cells a notebook tags so are printed in the appendix of details, not in the main text: panels of
# examples and per-layer details that support a section but are not its argument.
APPENDIX_TAG = "appendix"
# From the appendix of details on, a subsection's tables and panels stay before the next subsection
# heading: floating past it, they left headings alone on a page with their content pages later; and
# a heading needs a fifth of a page below it, or it starts the next page.
SUBSECTION_BARRIER = ("\\let\\studySubsection\\subsection\n"
                      "\\renewcommand{\\subsection}{\\FloatBarrier\\needspace{0.2\\textheight}\\studySubsection}")
APPENDIX_HEADING = "# Appendix: examples and per-layer details"
MAX_PASSES = 4  # XeLaTeX passes at most; contents and references settle after two or three


class ReportError(RuntimeError):
    pass


def _heading_level(cell) -> int:
    """The level of the markdown heading a cell opens with (2 for '## ...'), 0 for any other cell."""
    match = re.match(r"(#+) ", cell.source) if cell.cell_type == "markdown" else None
    return len(match.group(1)) if match else 0


def drop_empty_sections(cells: list) -> list:
    """The cells without the sections (level 2 and deeper) whose code shows nothing: a section's
    helpers return no text where the study has nothing for it to read (no pretrained network, no
    defense), and the report leaves it out rather than print a heading over an empty page. A
    section of markdown alone is kept; so is every notebook's title (level 1)."""
    keep = [True] * len(cells)
    for i, cell in enumerate(cells):
        level = _heading_level(cell)
        if level < 2:
            continue
        end = next((j for j in range(i + 1, len(cells)) if 0 < _heading_level(cells[j]) <= level), len(cells))
        code = [c for c in cells[i + 1:end] if c.cell_type == "code"]
        if code and not any(c.outputs for c in code):
            keep[i:end] = [False] * (end - i)
    return [c for c, k in zip(cells, keep) if k]


def layout_tags(executed: Path) -> dict[str, list[str]]:
    """The tags of the study's own notebook of the executed one, by cell id. Where a cell prints
    (main text or appendix) is layout: the stage key covers the cells' sources only, so a retagged
    cell does not rerun its stage, and the report takes the tags from the notebook as it is now."""
    source = ROOT / "notebooks" / executed.name
    if not source.exists():
        return {}
    return {c["id"]: list(c.metadata.get("tags", [])) for c in nbformat.read(source, as_version=4).cells if "id" in c}


def merged_notebook(executed: list[Path], title: str) -> nbformat.NotebookNode:
    """One notebook of all executed ones, without parameter cells, stderr noise and empty sections;
    each cell tagged as the study's notebook tags it now (`layout_tags`)."""
    merged = nbformat.v4.new_notebook()
    for path in executed:
        nb = nbformat.read(path, as_version=4)
        tags, shown = layout_tags(path), []
        for i, cell in enumerate(nb.cells):
            if cell.get("id") in tags:
                cell.metadata["tags"] = tags[cell["id"]]
            cell["id"] = f"{path.stem}-{i}"  # ids must stay unique in the merged notebook
            if _DROP_TAGS & set(cell.metadata.get("tags", [])):
                continue
            if cell.cell_type == "code":
                cell.outputs = [o for o in cell.outputs
                                if not (o.output_type == "stream" and o.get("name") == "stderr")]
            shown.append(cell)
        merged.cells += [c for c in drop_empty_sections(shown) if c.cell_type != "code" or c.outputs]
    merged.metadata.update(nbformat.read(executed[0], as_version=4).metadata)
    merged.metadata["title"] = title
    merged.metadata["date"] = dt.date.today().isoformat()
    return merged


def add_sections(merged: nbformat.NotebookNode, summary_: dict[str, Any] | None, params: dict[str, Any] | None,
                 run_metrics: Path | None) -> None:
    """The computed sections around the notebooks: the abstract (as metadata for the title page) and
    executive summary before them, conclusions, limitations, references, reproduction and the
    settings appendix after them."""
    from .bibliography import references_markdown
    from .reproduction import reproduction_cells
    params = params or {}
    md = nbformat.v4.new_markdown_cell
    front, back = [], []
    if summary_ is not None:
        from .closing import conclusions_markdown, limitations_markdown
        from .executive import abstract, executive_cells
        merged.metadata["abstract"] = abstract(summary_, params)
        front = executive_cells(summary_, params)
        back += [md(conclusions_markdown(summary_, params), id="conclusions"),
                 md(limitations_markdown(summary_, params), id="limitations")]
    back.append(md(references_markdown(_texts(front + merged.cells + back)), id="references"))
    if run_metrics is not None:
        back += reproduction_cells(run_metrics)
    main = [c for c in merged.cells if APPENDIX_TAG not in c.metadata.get("tags", [])]
    details = [c for c in merged.cells if APPENDIX_TAG in c.metadata.get("tags", [])]
    if details:
        back.append(md(APPENDIX_HEADING + "\n\nThe panels and per-layer details that the sections of the main text "
                       "refer to, in the order of the study.", id="appendix-details"))
        back.append(nbformat.v4.new_raw_cell(SUBSECTION_BARRIER, metadata={"raw_mimetype": "text/latex"}))
        back += details
    if params:
        from .settings_appendix import settings_cells
        back += settings_cells(params)
    merged.cells = front + main + back


def _texts(cells) -> list[str]:
    """The text of the cells and of their outputs (narrative, tables, captions), where citations are."""
    out = []
    for c in cells:
        if c.cell_type == "markdown":
            out.append(c.source)
        for o in c.get("outputs", []):
            out += [v if isinstance(v, str) else "".join(v) for v in o.get("data", {}).values()
                    if isinstance(v, (str, list))]
    return out


_PANDOC_TABLE = re.compile(r"(\\begin\{longtable\}\[\].*?\\end\{longtable\})", re.DOTALL)


def uncount_pandoc_tables(body: str) -> str:
    """Markdown tables that pandoc turned into caption-less longtables still step the table counter
    (longtable does so for every table); take the step back so that numbered tables count 1, 2, 3."""
    return _PANDOC_TABLE.sub(lambda m: m.group(1) + "\n\\addtocounter{table}{-1}", body)


def _latex_of_markdown(text: str) -> str:
    from nbconvert.filters.pandoc import convert_pandoc
    return convert_pandoc(text, "markdown+tex_math_double_backslash", "latex")


def _fingerprint(build_dir: Path) -> str:
    """Hash of the files whose change means another pass is needed (labels, pages, contents)."""
    h = hashlib.sha256()
    for name in ("report.aux", "report.toc", "report.out"):
        f = build_dir / name
        h.update(f.read_bytes() if f.exists() else b"-")
    return h.hexdigest()


def compile_latex(build_dir: Path) -> int:
    """Run XeLaTeX on build_dir/report.tex until .aux/.toc stop changing (at most MAX_PASSES);
    returns the number of passes."""
    before = _fingerprint(build_dir)
    for n in range(1, MAX_PASSES + 1):
        proc = subprocess.run(["xelatex", "-interaction=nonstopmode", "-halt-on-error", "report.tex"],
                              cwd=build_dir, capture_output=True, text=True)
        if proc.returncode != 0:
            log = build_dir / "report.log"
            text = log.read_text(errors="replace") if log.exists() else proc.stdout
            raise ReportError("xelatex failed:\n" + "\n".join(text.splitlines()[-40:]))
        after = _fingerprint(build_dir)
        if after == before and n >= 2:
            return n
        before = after
    return MAX_PASSES


def build(executed: list[Path], report_dir: Path, title: str, run_metrics: Path | None = None,
          summary_: dict[str, Any] | None = None, params: dict[str, Any] | None = None,
          figures_dir: Path | None = None, name: str = "report") -> Path:
    """Compile `<report_dir>/<name>.pdf` (and keep its `<name>.tex` beside it for the checks) from
    the executed notebooks `executed`, in that order, with the computed sections of `add_sections`;
    the figures' PNG files are taken from `figures_dir`."""
    from nbconvert import LatexExporter

    for tool in ("xelatex", "pandoc"):
        if shutil.which(tool) is None:
            raise ReportError(f"{tool} not found: run `make setup` (installs texlive-xetex, pandoc, fonts-dejavu)")
    missing = [str(p) for p in executed if not p.exists()]
    if missing:
        raise ReportError(f"executed notebooks missing (run them first): {missing}")
    exporter = LatexExporter(template_file=str(TEMPLATE_DIR / TEMPLATE),
                             exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
    merged = merged_notebook(executed, title)
    add_sections(merged, summary_, params, run_metrics)
    try:
        crossref.resolve(merged)
    except crossref.UnknownLabel as e:
        raise ReportError(str(e)) from None
    if "abstract" in merged.metadata:
        merged.metadata["abstract_latex"] = _latex_of_markdown(merged.metadata["abstract"])
    body, resources = exporter.from_notebook_node(merged)
    body = uncount_pandoc_tables(body)
    with tempfile.TemporaryDirectory(prefix="report-") as tmp:
        build_dir = Path(tmp)
        (build_dir / "report.tex").write_text(body)
        for name, data in resources.get("outputs", {}).items():
            (build_dir / name).write_bytes(data)
        if figures_dir is not None and figures_dir.is_dir():
            for png in figures_dir.glob("*.png"):
                shutil.copyfile(png, build_dir / png.name)
        compile_latex(build_dir)
        report_dir.mkdir(parents=True, exist_ok=True)
        dest = report_dir / f"{name}.pdf"
        with atomic_path(dest) as out:
            shutil.copyfile(build_dir / "report.pdf", out)
        with atomic_path(report_dir / f"{name}.tex") as out:
            shutil.copyfile(build_dir / "report.tex", out)
    return dest
