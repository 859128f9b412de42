"""Checks of a built report, for the report test: numbered figures and tables each referenced,
no file name as a caption, no parameter identifier in the narrative, and contents whose page
numbers are the pages where the headings are (read back with pdftotext, page by page)."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Iterable

from ..config.schema import declarations
from . import crossref

FILE_NAME = re.compile(r"\w+\.(png|jpe?g|pdf|pt|json|ipynb|csv|ya?ml)\b", re.IGNORECASE)
_CAPTION = re.compile(r"\\caption\{")


def captions(tex: str) -> list[str]:
    """The text of every \\caption{...} of the LaTeX source (balanced braces), `\\_` read as `_`."""
    out = []
    for m in _CAPTION.finditer(tex):
        depth, i = 1, m.end()
        while depth and i < len(tex):
            depth += {"{": 1, "}": -1}.get(tex[i], 0) if tex[i - 1] != "\\" else 0
            i += 1
        out.append(tex[m.end():i - 1].replace(r"\_", "_"))
    return out


def file_name_captions(tex: str) -> list[str]:
    """Captions that contain a file name (a caption describes the content in words)."""
    return [c for c in captions(tex) if FILE_NAME.search(c)]


def labels_and_references(tex: str) -> tuple[list[str], set[str]]:
    """(labels of numbered figures and tables in order, labels that some \\ref names)."""
    labels = re.findall(r"\\label\{((?:fig|tab):[^}]+)\}", tex)
    refs = set(re.findall(r"\\ref\{((?:fig|tab):[^}]+)\}", tex))
    return labels, refs


def unreferenced(tex: str) -> list[str]:
    """Figures and tables that the text never refers to."""
    labels, refs = labels_and_references(tex)
    return [label for label in labels if label not in refs]


def _strip_code_free(text: str) -> str:
    """Markdown without link targets and HTML anchors (labels are not prose)."""
    text = re.sub(r"\]\([^)]*\)", "]", text)
    return re.sub(r"<a id=[^>]*></a>", "", text)


def parameter_names_in_prose(texts: Iterable[str], names: Iterable[str] | None = None) -> list[tuple[str, str]]:
    """(name, sentence) for each parameter identifier in the narrative `texts`: a declared name
    with an underscore anywhere as a word, or any declared name inside backticks."""
    names = sorted(names if names is not None else declarations(), key=len, reverse=True)
    found = []
    for text in texts:
        text = _strip_code_free(text)
        for name in names:
            pattern = rf"(?<![\w.]){re.escape(name)}(?![\w])" if "_" in name else rf"`{re.escape(name)}`"
            for m in re.finditer(pattern, text):
                start = max(text.rfind(". ", 0, m.start()) + 2, text.rfind("\n", 0, m.start()) + 1)
                end = text.find(". ", m.end())
                found.append((name, text[start:end + 1 if end >= 0 else len(text)].strip()))
    return found


def narrative_of(notebooks: Iterable[Path]) -> list[str]:
    """The narrative markdown of executed notebooks (cells and `stage.say` outputs, not tables)."""
    import nbformat
    out = []
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        nb.cells = [c for c in nb.cells if not ({"parameters", "injected-parameters", "remove-cell"}
                                                & set(c.metadata.get("tags", [])))]
        out += list(crossref.narrative(nb))
    return out


def pdf_pages(pdf: Path) -> list[str]:
    """The text of each page of `pdf` (pdftotext -layout), index 0 = page 1."""
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    return text.split("\f")


_TOC_LINE = re.compile(r"^\s*(\d+(?:\.\d+)*)\s+(.+?)[\s.]*\s(\d+)\s*$")


def _entries(lines: Iterable[str]) -> list[tuple[str, str, int]]:
    entries, pending = [], ""
    for line in lines:
        if not line.strip() or re.fullmatch(r"\s*\d+\s*", line):  # blank lines and page numbers
            continue
        m = _TOC_LINE.match(f"{pending} {line.strip()}" if pending else line)
        if m:
            entries.append((m.group(1), re.sub(r"\s+", " ", m.group(2)), int(m.group(3))))
            pending = ""
        elif re.match(r"^\s*\d+(\.\d+)*\s+\S", line):
            pending = line.strip()  # a title that wraps onto the next line
    return entries


def contents_pages(pages: list[str]) -> range:
    """Indices of the contents pages: from the one headed 'Contents' up to the page before the
    first section (which the first entry names)."""
    start = next((i for i, p in enumerate(pages) if re.search(r"^\s*Contents\s*$", p, re.MULTILINE)), None)
    if start is None:
        return range(0)
    first = _entries(pages[start].splitlines())
    return range(start, max(start + 1, first[0][2] - 1) if first else start + 1)


def contents(pages: list[str]) -> list[tuple[str, str, int]]:
    """(number, title, page) of each contents entry."""
    return _entries(line for i in contents_pages(pages) for line in pages[i].splitlines())


def contents_mismatches(pdf: Path | list[str]) -> list[str]:
    """Contents entries whose heading is not on the page the contents give (`pdf`: the file, or
    the text of its pages)."""
    pages = pdf if isinstance(pdf, list) else pdf_pages(pdf)
    toc, bad = contents_pages(pages), []
    for number, title, page in contents(pages):
        words = title.split()[:3]
        pattern = rf"^\s*{re.escape(number)}\s+" + r"\s+".join(re.escape(w) for w in words)
        if page - 1 in toc or not (0 < page <= len(pages)) or not re.search(pattern, pages[page - 1], re.MULTILINE):
            where = [i + 1 for i, p in enumerate(pages) if i not in toc and re.search(pattern, p, re.MULTILINE)]
            bad.append(f"{number} {title}: contents say page {page}, found on {where or 'no page'}")
    return bad


_CITATION = re.compile(r"\b([A-Z][a-z]+)(?: et al\.?,?| & [A-Z][a-z]+,?|, [A-Z][a-z]+ & [A-Z][a-z]+,?) ((?:19|20)\d\d)\b")


def missing_references(texts: Iterable[str]) -> list[str]:
    """Citations of the narrative ('Madry et al. 2018', 'Wong, Rice & Kolter 2020') whose first
    author and year no entry of the references section has."""
    from .bibliography import REFERENCES
    known = {(cite.split()[0].rstrip(","), cite.split()[-1]) for cite, _ in REFERENCES}
    cited = {(m.group(1), m.group(2)) for text in texts for m in _CITATION.finditer(text)}
    return sorted(f"{author} {year}" for author, year in cited - known)


MAX_MAIN_PAGES = 40  # a study's main text, executive summary to limitations, fits this many pages (the Sports-10
# report rebuilt cold on 2026-12-01: 37; the LeNet report: 24)


def main_text_pages(pdf: Path | list[str]) -> int:
    """Pages of the main text: from the page of the executive summary's heading to the page before the
    references (the appendices, reproduction and settings follow them)."""
    pages = pdf if isinstance(pdf, list) else pdf_pages(pdf)
    toc = set(contents_pages(pages))
    body = [(i, p) for i, p in enumerate(pages) if i not in toc]
    start = next(i for i, p in body if re.search(r"^\s*1\s+Executive summary\s*$", p, re.MULTILINE))
    end = next(i for i, p in body if re.search(r"^\s*\d+\s+References\s*$", p, re.MULTILINE))
    return end - start
