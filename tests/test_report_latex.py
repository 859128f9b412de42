"""The LaTeX of numbered figures and tables, and the rewriting of references, without notebooks."""
import math
import re
import shutil

import nbformat
import numpy as np
import pandas as pd
import pytest

from helpers.report import crossref, display, latex


def test_escape_keeps_unicode_and_escapes_specials():
    assert latex.escape("5 % of ε_1 ≤ #3 & {x} ~ ^ \\") == (
        r"5 \% of ε\_1 ≤ \#3 \& \{x\} \textasciitilde{} \textasciicircum{} \textbackslash{}")


def test_format_column_gives_one_number_of_decimals_per_column():
    texts, numeric = latex.format_column([0.5, 1.0, np.float64(0.123456), None, float("nan")], ".3f")
    assert texts == ["0.500", "1.000", "0.123", "–", "–"] and numeric
    texts, numeric = latex.format_column([620810, np.int64(7), pd.NA], ".3f")
    assert texts == ["620810", "7", "–"] and numeric
    texts, numeric = latex.format_column(["SimpleCNN", 3], ".2f")
    assert texts == ["SimpleCNN", "3"] and not numeric


def _spec_widths(tex: str) -> list[float]:
    return [float(w) for w in re.findall(r"p\{([0-9.]+)pt\}", tex)]


def test_table_is_a_captioned_labelled_longtable_whose_columns_fit():
    df = pd.DataFrame({"model": ["SimpleCNN", "ResNetSmall"], "params": [620810, 2777674],
                       "accuracy (95 % Wilson interval)": ["0.74 [0.60, 0.84]", "0.82 [0.69, 0.90]"],
                       "loss": [0.5, 0.25]})
    tex = latex.table_latex(df, "accuracy of *each* model at ε ≤ 0.1 (5 % of pixels)", "tab:A2_accuracy", ".2f")
    # short: a float, which LaTeX never lets overflow a page; long: a longtable that breaks across pages
    assert tex.count(r"\begin{table}") == 1 and r"\toprule" in tex and r"\bottomrule" in tex
    long_tex = latex.table_latex(pd.concat([df] * 40), "many rows", "tab:A2_long", ".2f")
    assert long_tex.count(r"\begin{longtable}") == 1 and r"\endhead" in long_tex
    assert r"\label{tab:A2_accuracy}" in tex and r"\caption{" in tex
    assert r"\emph{each}" in tex or shutil.which("pandoc") is None
    assert r"5 \% of pixels" in tex
    assert r"\footnotesize" in tex  # 9 pt at the 11 pt base: never below 7 pt
    assert "ResNetSmall & 2777674 & 0.82 [0.69, 0.90] & 0.25" in tex  # separate cells, never run together
    assert "0.50" in tex  # the column's decimals agree
    widths = _spec_widths(tex)
    assert len(widths) == 4
    assert sum(widths) + 2 * latex.TABCOLSEP_PT * 4 <= latex.TEXT_WIDTH_PT
    # every column is at least as wide as its longest unbreakable word
    assert widths[1] >= latex.text_em("2777674") * latex.FONT_PT["footnotesize"] - 1e-6


def test_a_wide_table_wraps_its_columns_within_the_text_width():
    df = pd.DataFrame({f"column {i} with a long header": [f"value {i} " * 6] for i in range(8)})
    tex = latex.table_latex(df, "wide", "tab:X_1")
    widths = _spec_widths(tex)
    assert sum(widths) + 2 * latex.TABCOLSEP_PT * 8 <= latex.TEXT_WIDTH_PT + 1e-6


def test_table_with_index_and_bad_label():
    df = pd.DataFrame({"a": [1, 2]}, index=pd.Index(["x", "y"], name="row"))
    tex = latex.table_latex(df, "c", "tab:A1_2", index=True)
    assert "row & a" in tex and "x & 1" in tex
    with pytest.raises(ValueError, match="label"):
        latex.table_latex(df, "c", "table one")


def test_figure_keeps_caption_with_image_and_never_shows_the_file_name():
    tex = latex.figure_latex("B1_success_vs_eps.png", "success rate against ε", "fig:B1_success_vs_eps")
    assert r"\begin{figure}[htbp]" in tex and r"\includegraphics[" in tex and "{B1_success_vs_eps.png}" in tex
    caption = re.search(r"\\caption\{(.*)\}\\label", tex).group(1)
    assert "png" not in caption and r"\label{fig:B1_success_vs_eps}" in tex


def test_figure_outputs_show_png_in_jupyter_and_latex_in_the_pdf(tmp_path):
    png = tmp_path / "A1_counts.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 20)
    (img, img_meta), (cap, _) = display.figure_outputs(png, "images per class", "fig:A1_counts")
    assert "image/png" in img and img_meta[display.PDF_SKIP]
    assert "text/latex" in cap and "images per class" in cap["text/markdown"]


def _notebook(markdown: str, outputs: list[dict]) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_markdown_cell(markdown))
    code = nbformat.v4.new_code_cell("")
    code.outputs = [nbformat.v4.new_output("display_data", data=d, metadata=m) for d, m in outputs]
    nb.cells.append(code)
    return nb


def test_references_become_latex_refs_and_jupyter_only_outputs_are_dropped():
    assert crossref.rewrite("see [Figure](#fig:B1_x) and [Table](#tab:B1_2).") == (
        "see Figure\u00a0\\ref{fig:B1_x} and Table\u00a0\\ref{tab:B1_2}.")
    assert crossref.rewrite("[the curves](#fig:B1_x)") == "the curves (Figure\u00a0\\ref{fig:B1_x})"
    assert crossref.rewrite("[a link](#some-heading)") == "[a link](#some-heading)"
    fig = latex.figure_latex("B1_x.png", "curves", "fig:B1_x")
    tab = {"text/markdown": "t", "text/latex": "\\caption{t}\\label{tab:B1_2}"}
    nb = _notebook("As [Figure](#fig:B1_x) shows", [({"image/png": "x"}, {display.PDF_SKIP: True}),
                                                     ({"text/markdown": "c", "text/latex": fig}, {}), (tab, {}),
                                                     ({"text/markdown": "and [Table](#tab:B1_2) too"}, {})])
    found = crossref.resolve(nb)
    assert found == {"defined": ["fig:B1_x", "tab:B1_2"], "unreferenced": []}
    assert "\\ref{fig:B1_x}" in nb.cells[0].source
    outs = nb.cells[1].outputs
    assert len(outs) == 3 and "\\ref{tab:B1_2}" in outs[-1]["data"]["text/markdown"]


def test_a_reference_to_an_unknown_label_names_it():
    nb = _notebook("see [Figure](#fig:B9_nowhere)", [])
    with pytest.raises(crossref.UnknownLabel, match="fig:B9_nowhere"):
        crossref.resolve(nb)


def test_unreferenced_figures_are_reported():
    fig = latex.figure_latex("A.png", "c", "fig:A1_a")
    nb = _notebook("no reference", [({"text/markdown": "c", "text/latex": fig}, {})])
    assert crossref.resolve(nb)["unreferenced"] == ["fig:A1_a"]
    assert not math.isnan(latex.text_em("x"))


def test_cells_keep_markdown_emphasis_and_duplicate_columns_work():
    assert latex.cell("**SimpleCNN** uses `conv3` at 5 %") == r"\textbf{SimpleCNN} uses \texttt{conv3} at 5 \%"
    df = pd.DataFrame([[1, 2]], columns=["n", "n"])
    assert "1 & 2" in latex.table_latex(df, "twice", "tab:X_dup")
    assert "| 1 | 2 |" in display.table_markdown(df, "twice", "tab:X_dup", ".3f", False)


@pytest.mark.skipif(shutil.which("xelatex") is None, reason="xelatex not installed")
def test_estimated_column_widths_hold_their_cells_in_xelatex(tmp_path):
    """The width estimate never falls short: no cell of a table overflows its column (an overfull
    box in a column is text running into the next one)."""
    import subprocess
    df = pd.DataFrame({"model": ["ResNetSmall", "SimpleCNN", "WWWMMM"], "MMACs": [422.9, 11.1, 1.0],
                       "accuracy (95 % Wilson interval)": ["0.82 [0.69, 0.90]", "0.74 [0.60, 0.84]", "1.00 [0.93, 1.00]"],
                       "method": ["global", "layerwise", "channel"], "note": ["ε ≤ 0.1 and δ", "—", "dense_control"]})
    body = latex.table_latex(df, "widths", "tab:X_1", ".1f")
    doc = "\n".join([r"\documentclass[11pt]{article}", r"\usepackage[margin=0.8in]{geometry}",
                     r"\usepackage{fontspec}\setmainfont{DejaVu Serif}", r"\usepackage{longtable,booktabs,array,caption}",
                     r"\begin{document}", body, r"\end{document}"])
    (tmp_path / "t.tex").write_text(doc)
    subprocess.run(["xelatex", "-interaction=nonstopmode", "t.tex"], cwd=tmp_path, capture_output=True, timeout=120)
    log = (tmp_path / "t.log").read_text(errors="replace")
    assert "Output written" in log and "Overfull" not in log, log[log.find("Overfull"):][:300]


def test_references_inside_tables_and_captions_become_refs_and_are_checked():
    assert latex.cell("see [Table](#tab:C2_deployment) for 5 %") == r"see Table~\ref{tab:C2_deployment} for 5 \%"
    tex = latex.table_latex(pd.DataFrame({"a": ["[Figure](#fig:B1_x)"]}), "as in [Figure](#fig:B1_y)", "tab:B1_9")
    assert r"Figure~\ref{fig:B1_x}" in tex and (r"\ref{fig:B1_y}" in tex or shutil.which("pandoc") is None)
    nb = _notebook("", [({"text/markdown": "t", "text/latex": tex}, {})])
    with pytest.raises(crossref.UnknownLabel, match="fig:B1_x, fig:B1_y"):
        crossref.resolve(nb)
