"""The report: figures, the PDF built from the executed notebooks, summary.json.

latex / display: numbered figures and tables as stage.show_figure / show_table emit them;
crossref: `[Figure](#fig:<tag>_<what>)` / `[Table](#tab:<tag>_<label>)` references;
facts / executive / findings / closing: abstract, executive summary, conclusions and limitations
computed from summary.json; bibliography, settings_appendix, reproduction: the closing sections;
pdf: merging and XeLaTeX; checks: what the report test verifies in a built report.
"""
