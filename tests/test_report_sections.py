"""The report leaves out a section whose code shows nothing (a study without a pretrained network or
a defense), keeps sections of markdown alone and every notebook's title."""
import nbformat

from helpers.report import pdf

md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell


def shown(source: str):
    cell = code(source)
    cell.outputs = [nbformat.v4.new_output("display_data", data={"text/markdown": "a result"})]
    return cell


def test_sections_whose_code_shows_nothing_are_dropped_with_their_subsections():
    cells = [md("# Problem A"), code("stage = start_stage()"),
             md("## Models"), shown("table"),
             md("## Pretrained models\n\nA network pretrained on ImageNet ..."), code("say('')"),
             md("### A subsection of it"), code("say('')"),
             md("## Protocol\n\nMarkdown alone stays."),
             md("## Comparison"), code("nothing"), shown("comparison")]
    kept = [c.source.splitlines()[0] for c in pdf.drop_empty_sections(cells)]
    assert kept == ["# Problem A", "stage = start_stage()", "## Models", "table", "## Protocol",
                    "## Comparison", "nothing", "comparison"]


def test_the_merged_notebook_drops_empty_sections_and_cells_without_output(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [md("# Problem C"), code("x = 1"), md("## Robust model pruned\n\nB3 hardened ..."), code("say('')"),
                md("## Results"), shown("table")]
    path = tmp_path / "C2_robustness.ipynb"
    nbformat.write(nb, path)
    merged = pdf.merged_notebook([path], "a title")
    assert [c.source.splitlines()[0] for c in merged.cells] == ["# Problem C", "## Results", "table"]


def test_the_report_places_a_cell_as_the_studys_notebook_tags_it_now(tmp_path):
    """Moving a cell to the appendix is a tag, which the stage key leaves out: the report reads the
    tags of notebooks/<stem>.ipynb by cell id, not those the executed copy kept."""
    source = nbformat.read(pdf.ROOT / "notebooks" / "C1_compression.ipynb", as_version=4)
    appendix = next(c for c in source.cells if "appendix" in c.metadata.get("tags", []) and c.cell_type == "code")
    executed = nbformat.v4.new_notebook()
    stale = shown(appendix.source)
    stale["id"], stale.metadata["tags"] = appendix["id"], []  # executed before the cell moved
    executed.cells = [md("# Problem C"), md("## Results"), stale]
    path = tmp_path / "C1_compression.ipynb"
    nbformat.write(executed, path)
    merged = pdf.merged_notebook([path], "a title")
    assert merged.cells[-1].metadata["tags"] == ["appendix"]
