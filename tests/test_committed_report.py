"""The committed reports (report/report.pdf and report/lenet5-fashion.pdf, built by `make report`)
have the form every study's report promises: a main text of at most 40 pages, every listed
reference cited in the text, and contents whose page numbers are right."""
import re
import shutil

import pytest

from helpers.core.files import ROOT
from helpers.report import checks
from helpers.report.bibliography import REFERENCES, cited

REPORTS = [p for p in (ROOT / "report" / "report.pdf", ROOT / "report" / "lenet5-fashion.pdf") if p.exists()]
pytestmark = [pytest.mark.skipif(not REPORTS or shutil.which("pdftotext") is None,
                                 reason="no committed report, or no pdftotext"),
              pytest.mark.parametrize("report", REPORTS, ids=lambda p: p.name)]


def test_the_main_text_fits_forty_pages(report):
    assert checks.main_text_pages(report) <= checks.MAX_MAIN_PAGES


def test_every_listed_reference_is_cited_in_the_text(report):
    pages = checks.pdf_pages(report)
    text = [re.sub(r"-\n(\w)", r"\1", p) for p in pages]
    start = next(i for i, p in enumerate(text) if re.search(r"^\s*\d+\s+References\s*$", p, re.MULTILINE))
    body = re.sub(r"\s+", " ", " ".join(text[:start]))
    references = re.sub(r"\s+", " ", " ".join(text[start:]).split("Reproducing this report")[0])
    listed = [cite for cite, _ in REFERENCES if cite in references]
    assert listed, "the references section lists nothing"
    assert [c for c in listed if c not in cited([body])] == []


def test_the_contents_give_the_right_pages(report):
    assert checks.contents_mismatches(report) == []
