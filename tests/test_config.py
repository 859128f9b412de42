import ast

import pytest

from helpers.config import notebook_cells
from helpers.config import schema as params
from helpers.config.resolution import resolve
from helpers.core.files import ROOT


def test_every_notebook_has_a_consistent_parameters_cell():
    schema = params.declarations()
    for key in ("run_dir", "data_dir", "image_size", "epochs", "seed"):
        assert key in schema
    # shared parameters are declared by several notebooks, each a copy of the one source
    declaring = [p.stem for p in notebook_cells.notebook_paths()
                 if "image_size" in notebook_cells.notebook_parameters(p)]
    assert set(declaring) >= {"A1_data", "A2_training"}


@pytest.mark.parametrize("path", notebook_cells.notebook_paths(), ids=lambda p: p.stem)
def test_notebook_defaults_equal_the_one_source(path):
    """A default lives in helpers/config/defaults.py; a notebook's parameters cell repeats it exactly."""
    assert notebook_cells.mismatches(path) == []


def test_a_drifted_copy_is_found(tmp_path, monkeypatch):
    import nbformat
    nb = nbformat.read(notebook_cells.notebook_path("A1_data"), as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    cell.source = cell.source.replace('seed: int = 0', 'seed: int = 1')
    nbformat.write(nb, tmp_path / "A1_data.ipynb")
    assert any("seed: int = 1" in m for m in notebook_cells.mismatches(tmp_path / "A1_data.ipynb"))


@pytest.mark.parametrize("name", ["default.yaml", "smoke.yaml", "course.yaml", "course-bf16.yaml", "full.yaml", "quick.yaml"])
def test_shipped_parameter_files_validate(name):
    assert params.load_yaml(ROOT / "parameters" / name)
    assert resolve(ROOT / "parameters" / name)["run_dir"]


def test_unknown_key_is_named_with_a_suggestion(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text("epoch: 3\n")
    with pytest.raises(params.ParameterError, match=r"unknown parameter 'epoch'.*did you mean 'epochs'"):
        params.load_yaml(f)


@pytest.mark.parametrize("text, key", [("epochs: ten\n", "epochs"), ("amp: fp8\n", "amp"),
                                       ("augment: 1\n", "augment"), ("models: SimpleCNN\n", "models"),
                                       ("lr: true\n", "lr"), ("epochs_by_model: 120\n", "epochs_by_model"),
                                       ("device: gpu\n", "device")])
def test_mistyped_value_is_named(tmp_path, text, key):
    f = tmp_path / "p.yaml"
    f.write_text(text)
    with pytest.raises(params.ParameterError, match=f"parameter '{key}'"):
        params.load_yaml(f)


@pytest.mark.parametrize("text, match", [
    ("models: [VGG]\n", "parameter 'models'.*unknown models \\['VGG'\\]"),
    ("attacks: [cw]\n", "parameter 'attacks'"),
    ("compression_methods: [globl]\n", "unknown compression methods \\['globl'\\]"),
    ("compression_targets: {global: [1.5]}\n", "compression_targets.global.*1.5.*sparsity"),
    ("compression_budgets: {channel: {epoch: 3}}\n", "compression_budgets.channel.*unknown budget keys \\['epoch'\\]"),
    ("compression_budgets: {channel: {epochs: ten}}\n", "compression_budgets.channel.*epochs is 'ten'"),
    ("compression_settings: {channel: {round: 4}}\n", "compression_settings.channel.*unknown setting keys"),
    ("dataset: cifar10\n", "parameter 'dataset'.*registered datasets"),
    ("plugins: [no_such_module]\n", "parameter 'plugins' names 'no_such_module'"),
])
def test_registries_check_the_names_a_parameter_gives(tmp_path, text, match):
    from helpers.core.plugins import PluginError
    f = tmp_path / "p.yaml"
    f.write_text(text)
    with pytest.raises((params.ParameterError, PluginError), match=match):
        resolve(f)


def test_set_overrides_are_validated_like_the_file(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text("epochs: 3\n")
    assert resolve(f, ["epochs=5", "models=[SimpleCNN]", "lr=0.01"])["epochs"] == 5
    assert resolve(f, ["models=[SimpleCNN]"])["models"] == ["SimpleCNN"]
    with pytest.raises(params.ParameterError, match="parameter 'epochs' in --set"):
        resolve(f, ["epochs=five"])
    with pytest.raises(params.ParameterError, match="unknown parameter 'epoch' in --set"):
        resolve(f, ["epoch=5"])
    with pytest.raises(params.ParameterError, match="expected name=value"):
        resolve(f, ["epochs"])


def test_int_is_accepted_for_float_and_missing_or_bad_files_are_named(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text("lr: 1\n")
    assert params.load_yaml(f) == {"lr": 1}
    with pytest.raises(params.ParameterError, match="does not exist"):
        params.load_yaml(tmp_path / "missing.yaml")
    f.write_text("- a\n- b\n")
    with pytest.raises(params.ParameterError, match="mapping"):
        params.load_yaml(f)


def test_check_rejects_an_injected_unknown_name():
    import helpers  # modules in the namespace are not parameters
    ns = {"run_dir": "runs/x", "helpers": helpers, "In": [], "_": None, "epocs": 3}
    with pytest.raises(params.ParameterError, match="unknown parameter 'epocs'"):
        notebook_cells.check(ns, "A1_data")
    ns.pop("epocs")
    declared = notebook_cells.notebook_parameters(notebook_cells.notebook_path("A1_data"))
    ns.update({k: p.default for k, p in declared.items()})
    assert set(notebook_cells.check(ns, "A1_data")) == set(declared)


def test_defaults_file_is_the_schema_and_parses_as_python():
    source = params.DEFAULTS_FILE.read_text()
    names = [n.target.id for n in ast.parse(source).body if isinstance(n, ast.AnnAssign)]
    assert names == list(params.declarations()) and len(names) == len(set(names))


@pytest.mark.parametrize("path", notebook_cells.notebook_paths(), ids=lambda p: p.stem)
def test_papermill_reads_every_parameter_we_declare(path):
    """papermill's own parser (used by `papermill --help-notebook` and JupyterLab extensions) gives up
    on some lines, e.g. a comment containing '='; every declared parameter must survive it."""
    import papermill

    theirs = set(papermill.inspect_notebook(str(path)))
    assert theirs == set(notebook_cells.notebook_parameters(path))


def test_a_study_names_its_stages():
    stems = [p.stem for p in notebook_cells.study_notebooks({"stages": ["C2", "A1", "B1"]})]
    assert stems == ["A1_data", "B1_attacks", "C2_robustness"]  # in study order
    assert notebook_cells.study_notebooks({"stages": []}) == notebook_cells.notebook_paths()
    with pytest.raises(params.ParameterError, match=r"'stages' names \['B9'\]"):
        notebook_cells.study_notebooks({"stages": ["A1", "B9"]})


def test_every_committed_study_resolves():
    from helpers.report.__main__ import summary_name
    for path in sorted((ROOT / "parameters").glob("*.yaml")):
        values = resolve(str(path))
        notebook_cells.study_notebooks(values)
    lenet = resolve(str(ROOT / "parameters" / "lenet5-fashion.yaml"))
    assert summary_name(lenet["report_name"]) == "lenet5-fashion.summary.json" and summary_name("report") == "summary.json"
    assert lenet["figures_dir"] != resolve(str(ROOT / "parameters" / "default.yaml"))["figures_dir"]
