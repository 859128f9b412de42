import pytest

from helpers import params
from helpers.io import ROOT


def test_every_notebook_has_a_consistent_parameters_cell():
    schema = params.schema()
    for key in ("run_dir", "data_dir", "image_size", "epochs", "seed"):
        assert key in schema
    # shared parameters are declared by both notebooks with the same default
    assert set(schema["image_size"].notebooks) >= {"A1_data", "A2_training"}


@pytest.mark.parametrize("name", ["default.yaml", "smoke.yaml"])
def test_shipped_parameter_files_validate(name):
    assert params.load_yaml(ROOT / "parameters" / name)


def test_unknown_key_is_named_with_a_suggestion(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text("epoch: 3\n")
    with pytest.raises(params.ParameterError, match=r"unknown parameter 'epoch'.*did you mean 'epochs'"):
        params.load_yaml(f)


@pytest.mark.parametrize("text, key", [("epochs: ten\n", "epochs"), ("amp: fp16\n", "amp"),
                                       ("augment: 1\n", "augment"), ("models: SimpleCNN\n", "models"),
                                       ("lr: true\n", "lr"), ("epochs_by_model: 120\n", "epochs_by_model"),
                                       ("device: gpu\n", "device")])
def test_mistyped_value_is_named(tmp_path, text, key):
    f = tmp_path / "p.yaml"
    f.write_text(text)
    with pytest.raises(params.ParameterError, match=f"parameter '{key}'"):
        params.load_yaml(f)


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
        params.check(ns, "A1_data")
    ns.pop("epocs")
    ns.update({k: p.default for k, p in params.notebook_parameters(params.NOTEBOOK_DIR / "A1_data.ipynb").items()})
    assert set(params.check(ns, "A1_data")) == set(params.notebook_parameters(params.NOTEBOOK_DIR / "A1_data.ipynb"))


@pytest.mark.parametrize("path", params.notebook_paths(), ids=lambda p: p.stem)
def test_papermill_reads_every_parameter_we_declare(path):
    """papermill's own parser (used by `papermill --help-notebook` and JupyterLab extensions) gives up
    on some lines, e.g. a comment containing '='; every declared parameter must survive it."""
    import papermill

    theirs = set(papermill.inspect_notebook(str(path)))
    assert theirs == set(params.notebook_parameters(path))
