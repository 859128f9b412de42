"""The settings appendix: every parameter of the run with its value and its meaning, the
meaning taken from the comment of its declaration in helpers/config/defaults.py."""
from __future__ import annotations

import json
from typing import Any

from ..config.schema import declarations

SETTINGS_LABEL = "tab:settings"
def _value(v: Any) -> str:
    """A value as the YAML parameter files would write it (JSON for lists and dicts)."""
    if isinstance(v, str):
        return v if v else "(empty)"
    return json.dumps(v, ensure_ascii=False).replace(",", ", ").replace(":", ": ").replace(",  ", ", ")


def settings_table(values: dict[str, Any]):
    """One row per declared parameter, in the order (and so the groups) of defaults.py: name, value
    of this run, its default where that differs, and its meaning."""
    import pandas as pd

    rows = []
    for name, p in declarations().items():
        v = values.get(name, p.default)
        rows.append({"parameter": name, "value": _value(v),
                     "default, where different": "" if v == p.default else _value(p.default), "meaning": p.help})
    return pd.DataFrame(rows)


def settings_cells(values: dict[str, Any]) -> list:
    """Notebook cells of the appendix: a heading with a sentence, and the table."""
    import nbformat

    from .display import table_output
    table = settings_table(values)
    changed = int((table["default, where different"] != "").sum())
    intro = (f"# Appendix: settings of this run\n\n[Table](#{SETTINGS_LABEL}) lists all {len(table)} parameters of "
             f"the study with the value this run used; {changed} differ from their defaults. The meanings are "
             "those declared with each parameter; a parameter file or a command-line override changes any of them.")
    cell = nbformat.v4.new_code_cell("", id="settings-table")
    cell.outputs = [nbformat.v4.new_output("display_data", data=table_output(
        table, "Every parameter of the run, in the order of its declaration: name, value, default where the run "
        "used another value, and meaning.",
        SETTINGS_LABEL))]
    return [nbformat.v4.new_markdown_cell(intro, id="settings-intro"), cell]
