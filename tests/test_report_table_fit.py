"""Tables that fit their columns (helpers/report/table_fit.py)."""
import pandas as pd

from helpers.report import table_fit

RATE = "0.38 [0.26, 0.52]"


def test_a_table_of_many_interval_columns_wraps_and_a_narrow_one_does_not():
    wide = pd.DataFrame([{"model": "SimpleCNN", "attack": "PGD", "n": 50,
                          **{f"ε = 0.0{k}": RATE for k in range(1, 8)}} for _ in range(4)])
    assert table_fit.wrapped_share(wide) > table_fit.MAX_WRAPPED_SHARE
    assert not table_fit.check(table_fit.wrapped_share(wide))["ok"]
    narrow = pd.DataFrame({"model": ["a", "b"], "acc": [RATE, RATE]})
    assert table_fit.wrapped_share(narrow) == 0 and table_fit.check(0.0)["ok"]


def test_constant_columns_move_to_the_caption_only_when_that_saves_wrapping():
    rows = [{"model": m, "attack": "PGD", "n": 50, **{f"ε = 0.0{k}": rate for k in range(1, 6)}}
            for m, rate in (("SimpleCNN", RATE), ("ResNetSmall", "0.40 [0.28, 0.54]"))]
    table, caption, _ = table_fit.fitted(pd.DataFrame(rows), "robust accuracy.")
    assert list(table.columns) == ["model"] + [f"ε = 0.0{k}" for k in range(1, 6)]
    assert caption == "robust accuracy; in every row: attack = PGD, n = 50"
    assert table_fit.wrapped_share(table) < table_fit.wrapped_share(pd.DataFrame(rows))
    fits = pd.DataFrame({"model": ["a", "b"], "n": [50, 50]})
    assert table_fit.fitted(fits, "c")[0] is fits  # nothing wraps: the table stays as it is


def test_a_table_splits_into_one_per_value_with_safe_labels():
    table = pd.DataFrame({"direction": ["S → T", "S → T", "T → S"], "rate": [1, 2, 3]})
    parts = table_fit.split_by(table, "direction", "transfer", "transfer")
    assert [(c, lab, list(t.columns), len(t)) for c, t, lab in parts] == [
        ("S → T: transfer", "transfer_S_to_T", ["rate"], 2), ("T → S: transfer", "transfer_T_to_S", ["rate"], 1)]
