"""A registered dataset of grey images (the test plugin's) through the data and training notebooks."""
import json

import pytest
import yaml

from helpers.pipeline import runner as run

pytestmark = pytest.mark.slow


def test_a_registered_dataset_of_grey_images_runs_the_data_and_training_stages(tmp_path, sports10):
    """README recipe 'a dataset': the test plugin's grey toy dataset through A1 and A2, with ToyNet
    and SimpleCNN (whose first layer takes the data's single channel)."""
    pfile = tmp_path / "grey.yaml"
    pfile.write_text(yaml.safe_dump({"run_dir": str(tmp_path / "run"), "plugins": ["tests.plugins.toy"],
                                     "dataset": "toy_grey", "image_size": 16, "subset_per_class": 6,
                                     "selection_per_class": 2,
                                     "models": ["ToyNet", "SimpleCNN"], "epochs": 1, "warmup_epochs": 0,
                                     "batch_size": 8, "latency_runs": 3, "latency_warmup": 1, "n_misclassified": 2,
                                     "seed_sweep": [], "calibration_seconds": 0.1}))
    done = run.run(str(pfile), ["A1", "A2"], log=lambda *_: None)
    assert set(done) == {"A1_data", "A2_training"}
    a1 = json.loads((tmp_path / "run" / "metrics" / "A1.json").read_text())
    assert a1["classes"] == ["left", "middle", "right"] and len(a1["mean"]) == 1
    a2 = json.loads((tmp_path / "run" / "metrics" / "A2.json").read_text())
    assert set(a2["summary"]) == {"ToyNet", "SimpleCNN", "paired"}  # the models, and their paired comparison
