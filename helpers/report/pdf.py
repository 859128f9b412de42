"""The PDF report: executed notebooks merged, code hidden, compiled with XeLaTeX via nbconvert."""
from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import tempfile
from pathlib import Path

import nbformat

from ..core.files import ROOT, atomic_path

TEMPLATE_DIR = ROOT / "report"
TEMPLATE = "study.tex.j2"
# Cells whose input is shown as text in the report: none. Outputs that are noise in print: these.
_DROP_TAGS = {"parameters", "injected-parameters", "remove-cell"}


class ReportError(RuntimeError):
    pass


def merged_notebook(executed: list[Path], title: str) -> nbformat.NotebookNode:
    """One notebook of all executed ones, without parameter cells and stderr noise."""
    merged = nbformat.v4.new_notebook()
    for path in executed:
        nb = nbformat.read(path, as_version=4)
        for i, cell in enumerate(nb.cells):
            cell["id"] = f"{path.stem}-{i}"  # ids must stay unique in the merged notebook
            if _DROP_TAGS & set(cell.metadata.get("tags", [])):
                continue
            if cell.cell_type == "code":
                cell.outputs = [o for o in cell.outputs
                                if not (o.output_type == "stream" and o.get("name") == "stderr")]
                if not cell.outputs:
                    continue
            merged.cells.append(cell)
    merged.metadata.update(nbformat.read(executed[0], as_version=4).metadata)
    merged.metadata["title"] = title
    merged.metadata["date"] = dt.date.today().isoformat()
    return merged


def build(executed: list[Path], report_dir: Path, title: str, run_metrics: Path | None = None) -> Path:
    """Compile `<report_dir>/report.pdf` from the executed notebooks `executed`, in that order,
    closed by the reproduction section made from `run_metrics` (the run's metrics/run.json)."""
    from nbconvert import LatexExporter

    for tool in ("xelatex",):
        if shutil.which(tool) is None:
            raise ReportError(f"{tool} not found: run `make setup` (installs texlive-xetex, pandoc, fonts-dejavu)")
    missing = [str(p) for p in executed if not p.exists()]
    if missing:
        raise ReportError(f"executed notebooks missing (run them first): {missing}")
    exporter = LatexExporter(template_file=str(TEMPLATE_DIR / TEMPLATE),
                             exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
    merged = merged_notebook(executed, title)
    if run_metrics is not None:
        from .reproduction import reproduction_markdown
        merged.cells.append(nbformat.v4.new_markdown_cell(reproduction_markdown(run_metrics), id="reproduction"))
    body, resources = exporter.from_notebook_node(merged)
    with tempfile.TemporaryDirectory(prefix="report-") as tmp:
        build_dir = Path(tmp)
        (build_dir / "report.tex").write_text(body)
        for name, data in resources.get("outputs", {}).items():
            (build_dir / name).write_bytes(data)
        for _ in range(2):  # the second pass fills in the table of contents
            proc = subprocess.run(["xelatex", "-interaction=nonstopmode", "-halt-on-error", "report.tex"],
                                  cwd=build_dir, capture_output=True, text=True)
            if proc.returncode != 0:
                log = (build_dir / "report.log").read_text(errors="replace") if (build_dir / "report.log").exists() else proc.stdout
                raise ReportError("xelatex failed:\n" + "\n".join(log.splitlines()[-40:]))
        report_dir.mkdir(parents=True, exist_ok=True)
        dest = report_dir / "report.pdf"
        with atomic_path(dest) as out:
            shutil.copyfile(build_dir / "report.pdf", out)
    return dest
