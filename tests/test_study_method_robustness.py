"""C2's comparison of other methods with magnitude pruning on the fixed set, image by image."""
import pandas as pd

from helpers.study import method_robustness
from tests.conftest import outcome_bits


def _row(method, point, removed, robust, name=None):
    return {"model": "M", "method": method, "point": point, "name": name or (method if method == "dense" else f"{method} {point}"),
            "removed": removed, "attack": "pgd", "goal": "untargeted", "eps": 0.03, "robust": robust}


def test_int8_meets_its_source_and_other_methods_the_nearest_magnitude_point():
    strong, weak = outcome_bits(100, 60), outcome_bits(100, 20)
    replayed = pd.DataFrame([_row("dense", "–", 0.0, strong), _row("global", "s0.5", 0.5, strong),
                             _row("global", "s0.9", 0.9, weak), _row("channel", "4x", 0.6, strong),
                             _row("int8", "dense", 0.0, strong), _row("int8", "channel-4x", 0.75, weak),
                             _row("lottery", "s0.89", 0.89, strong),
                             _row("dense", "–", 0.0, strong) | {"eps": 0.1}])  # another ε: ignored
    table = method_robustness.comparisons(replayed, "pgd", 0.03, 0.05)
    assert list(zip(table.name, table.reference)) == [("channel 4x", "global s0.5"), ("int8 dense", "dense"),
                                                     ("int8 channel-4x", "channel 4x"), ("lottery s0.89", "global s0.9")]
    assert list(table.better.fillna("-")) == ["-", "-", "b", "a"]
    lines = method_robustness.lines(table, "pgd", 0.03)
    assert lines[1].startswith("- M, int8 against its fp32 source (PGD, ε = 0.03, robust accuracy over the 100 inputs "
                               "of the fixed set): 0 of 2 more robust, 1 less robust, 1 not resolved")
    assert lines[1].count("not resolved") == 1
    assert "int8 channel-4x 0.20 against channel 4x 0.60 (" in lines[1] and "McNemar p = " in lines[1]
    assert "1 of 1 more robust" in lines[2] and "magnitude-pruned model nearest" in lines[2]
    assert method_robustness.sentence(replayed[replayed.method == "global"], "pgd", 0.03, 0.05) == ""
