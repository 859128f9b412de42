"""The report: figures, the PDF built from the executed notebooks, summary.json."""
