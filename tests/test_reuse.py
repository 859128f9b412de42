"""The one rule for reusing saved results: keys follow the code through its imports."""
import pytest

from helpers.core import reuse
from helpers.core.layout import RunLayout


@pytest.fixture
def package(tmp_path, monkeypatch):
    """A throw-away `helpers` package: train imports loop (inside a function, too), loop imports util."""
    pkg = tmp_path / "helpers"
    (pkg / "training").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "training" / "__init__.py").write_text("")
    (pkg / "training" / "train.py").write_text("from .loop import fit\n\ndef run():\n    from ..util import helper\n")
    (pkg / "training" / "loop.py").write_text("def fit():\n    return 1\n")
    (pkg / "util.py").write_text("def helper():\n    return 2\n")
    (pkg / "report.py").write_text("def figure():\n    return 3\n")
    monkeypatch.setattr(reuse, "ROOT", tmp_path)
    reuse._closure_cached.cache_clear()
    return pkg


def test_the_key_follows_imports_and_ignores_unrelated_code(package):
    key = lambda: reuse.reuse_key(code=["helpers.training.train"], config={"epochs": 3})  # noqa: E731
    assert reuse.module_closure("helpers.training.train") == {"helpers.training.train", "helpers.training.loop",
                                                              "helpers.util"}
    first = key()
    (package / "report.py").write_text("def figure():\n    return 4\n")  # not imported by training
    assert key() == first
    (package / "util.py").write_text("def helper():\n    return 5\n")  # imported inside a function
    second = key()
    assert second != first
    # a module that training starts to import changes the key, with no list to update
    (package / "extra.py").write_text("X = 1\n")
    (package / "training" / "loop.py").write_text("from ..extra import X\n\ndef fit():\n    return X\n")
    third = key()
    assert third != second
    (package / "extra.py").write_text("X = 2\n")
    assert key() != third


def test_inputs_are_canonical():
    a = reuse.reuse_key(code=[], config={"a": 1, "b": [1, 2]}, data="x")
    assert a == reuse.reuse_key(code=[], data="x", config={"b": [1, 2], "a": 1})
    assert a != reuse.reuse_key(code=[], config={"a": 2, "b": [1, 2]}, data="x")


def test_real_closures_keep_stages_and_methods_apart():
    training = reuse.module_closure("helpers.training.cached")
    assert {"helpers.training.loop", "helpers.data.augment", "helpers.models.checkpoints"} <= training
    assert not [m for m in training if m.startswith(("helpers.study", "helpers.report", "helpers.compression"))]
    assert not [m for m in training if m.startswith("helpers.models.zoo.")]  # a new model retrains no other
    glob = reuse.module_closure("helpers.compression.global_magnitude")
    assert "helpers.compression.channel" not in glob and "helpers.training.cached" in glob


def test_layout_names_every_artifact(tmp_path):
    layout = RunLayout(tmp_path, tmp_path / "figs")
    assert layout.trained("M") == tmp_path / "checkpoints" / "M-original.pt"
    assert layout.compressed("channel", "M", "4x", "-sparse") == tmp_path / "checkpoints" / "channel" / "M-4x-sparse.pt"
    assert RunLayout.train_state(layout.hardened("M")).name == "M-adversarial-train-state.pt"
    assert layout.relative(layout.adversarial_set("M")) == "adversarial/M.pt"
    assert layout.figure("A1_x.png") == tmp_path / "figs" / "A1_x.png"
