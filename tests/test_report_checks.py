"""The report checks on synthetic LaTeX and page text: captions, references, contents pages."""
from helpers.report import checks

TOC = """Contents
1   Executive summary                                   2
    1.1 Key findings . . . . . . . . . . . . . . . .    2
2   Problem A — a title long enough that it wraps onto
    the next line                                       3
                                   1"""
BODY = ["Title\n\nAbstract\n", TOC, "1   Executive summary\ntext\n1.1 Key findings\n", "2   Problem A — a title long\n"]


def test_contents_entries_and_their_pages():
    pages = [BODY[0], TOC, BODY[2], BODY[3]]
    entries = checks.contents(pages)
    assert [e[0] for e in entries] == ["1", "1.1", "2"] and entries[2][2] == 3
    assert checks.contents_mismatches(pages) == ["1 Executive summary: contents say page 2, found on [3]",
                                                 "1.1 Key findings: contents say page 2, found on [3]",
                                                 "2 Problem A — a title long enough that it wraps onto the next line: "
                                                 "contents say page 3, found on [4]"]
    shifted = [BODY[0], TOC.replace("2\n    1.1", "3\n    1.1").replace(". .    2", ". .    3")
               .replace("                                       3", "                                       4"),
               BODY[2], BODY[3]]
    assert checks.contents_mismatches(shifted) == []


def test_captions_with_file_names_and_unreferenced_labels():
    tex = (r"\caption{\textbf{B1\_x.png}: success}\label{fig:B1_x} \caption{rate at ε {0.1}}\label{tab:B1_1}"
           r" see Table~\ref{tab:B1_1}")
    assert checks.captions(tex) == [r"\textbf{B1_x.png}: success", "rate at ε {0.1}"]
    assert checks.file_name_captions(tex) == [r"\textbf{B1_x.png}: success"]
    assert checks.unreferenced(tex) == ["fig:B1_x"]


def test_citations_without_a_reference_are_named():
    text = ["PGD (Madry et al. 2018) and FGSM-RS (Wong, Rice & Kolter 2020); Nobody et al. 2031 too."]
    assert checks.missing_references(text) == ["Nobody 2031"]
