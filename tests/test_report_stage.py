"""What `stage.show_figure` / `show_table` publish: PNG and markdown for JupyterLab, and the
numbered LaTeX figure / longtable for the PDF, labelled fig:<tag>_<what> and tab:<tag>_<label|n>."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
from IPython.core.interactiveshell import InteractiveShell  # noqa: E402
from IPython.utils.capture import capture_output  # noqa: E402

from helpers.core.layout import RunLayout  # noqa: E402
from helpers.report.display import PDF_SKIP  # noqa: E402
from helpers.study.stage import Stage, StageParameters  # noqa: E402


def _stage(tmp_path):
    InteractiveShell.instance()
    layout = RunLayout(tmp_path / "run", tmp_path / "figures")
    return Stage("B1_attacks", StageParameters("B1_attacks", {}), layout, torch.device("cpu"))


def test_show_figure_publishes_png_and_a_labelled_latex_figure(tmp_path):
    stage = _stage(tmp_path)
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    with capture_output() as cap:
        stage.show_figure(fig, "success_vs_eps", "success rate against ε")
    png, caption = cap.outputs
    assert "image/png" in png.data and png.metadata.get(PDF_SKIP)
    assert r"\label{fig:B1_success_vs_eps}" in caption.data["text/latex"]
    assert "{B1_success_vs_eps.png}" in caption.data["text/latex"]
    assert "success rate against ε" in caption.data["text/markdown"]
    assert (tmp_path / "figures" / "B1_success_vs_eps.png").exists() and stage.figures == ["B1_success_vs_eps.png"]


def test_show_table_labels_tables_by_name_or_by_count(tmp_path):
    stage = _stage(tmp_path)
    df = pd.DataFrame({"model": ["A", "B"], "rate": [0.5, 0.25]})
    with capture_output() as cap:
        stage.show_table(df, "success rates", floatfmt=".2f", label="success")
        stage.show_tables([("first", df), ("second", df, "second")])
    latex = [o.data["text/latex"] for o in cap.outputs]
    assert r"\label{tab:B1_success}" in latex[0] and r"\label{tab:B1_2}" in latex[1]
    assert r"\label{tab:B1_second}" in latex[2]
    assert "0.25" in cap.outputs[0].data["text/markdown"] and "success rates" in cap.outputs[0].data["text/markdown"]


def test_stage_references_name_the_labels_its_figures_and_tables_get(tmp_path):
    from helpers.study.stage import Stage
    stage = Stage("C2_robustness", None, None, None)
    assert stage.figure_refs([(None, "fixed_set_SimpleCNN", "c")]) == "[Figure](#fig:C2_fixed_set_SimpleCNN)"
    assert stage.table_refs([("a", None, "x"), ("b", None, "y")]) == "[Table](#tab:C2_x), [Table](#tab:C2_y)"
