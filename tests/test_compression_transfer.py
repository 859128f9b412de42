"""C2's comparison of transfer to compressed versions against transfer to another architecture."""
import pandas as pd

from helpers.study import compression_transfer


def replayed(rates):
    """Replay rows of source S's compressed versions (untargeted PGD at ε = 0.03), 40 source successes each."""
    rows = [{"model": "S", "method": "dense", "name": "dense", "attack": "pgd", "goal": "untargeted", "eps": 0.03,
             "conditional_transfer_rate": None, "n_source_success": 40}]
    rows += [{"model": "S", "method": "global", "name": f"global s{i}", "attack": "pgd", "goal": "untargeted",
              "eps": 0.03, "conditional_transfer_rate": r, "n_source_success": 40} for i, r in enumerate(rates)]
    rows += [{"model": "T", "method": "dense", "name": "dense", "attack": "pgd", "goal": "untargeted", "eps": 0.03,
              "conditional_transfer_rate": None, "n_source_success": 30}]
    return pd.DataFrame(rows)


def b2(rate_s_to_t):
    return {"S_to_T": {"pgd": {"untargeted": {"eps0.03": {"conditional_transfer_rate": rate_s_to_t, "n_source_success": 40}}}}}


def test_each_version_is_set_against_the_other_architecture_by_fishers_test():
    rows = compression_transfer.comparison(replayed([0.9, 0.85, 0.5]), b2(0.2), "pgd", 0.03, 0.05)
    # T has no compressed version, so only S's row; 36 and 34 of 40 against 8 of 40 resolve, 20 of 40 too (p < 0.05)
    assert [(r["source"], r["other"], r["versions"], r["above"], r["below"], r["not resolved"]) for r in rows] == \
        [("S", "T", 3, 3, 0, 0)]
    text = compression_transfer.sentence(rows, "pgd", 0.03, "transfer_vs_architecture")
    assert "every compressed version keeps resolvably more of the vulnerability than the other architecture in 1 of " \
           "the 1 pairs (S against T)" in text and "[Table](#tab:C2_transfer_vs_architecture)" in text
    table = compression_transfer.table(rows)
    assert table.iloc[0]["to it (B2)"].startswith("0.20 [") and list(table.columns[-3:]) == ["above", "below", "not resolved"]


def test_mixed_verdicts_are_not_read_as_one():
    rows = compression_transfer.comparison(replayed([0.9, 0.22]), b2(0.2), "pgd", 0.03, 0.05)
    assert (rows[0]["above"], rows[0]["not resolved"]) == (1, 1)
    assert compression_transfer.sentence(rows, "pgd", 0.03, "x").endswith("no single reading holds for every version in 1.")
    assert compression_transfer.comparison(replayed([0.9]), {}, "pgd", 0.03, 0.05) == []  # no B2: nothing to compare
