"""Abstract, executive summary, conclusions, limitations and the settings appendix, computed from
a synthetic summary dict; missing optional keys drop a finding, never crash."""
import re

import pytest

from helpers.config.schema import declarations
from helpers.report import closing, executive, findings, settings_appendix
from helpers.report.bibliography import REFERENCES, references_markdown
from helpers.report.checks import parameter_names_in_prose

PARAMS = {"robustness_attack": "pgd", "image_size": 32, "pgd_steps": 40}


def _paired(s, prefix, p, resolved="", only=(3, 1), diff=(0.04, -0.04, 0.12)):
    s.update({f"{prefix}.p_value": p, f"{prefix}.only_a": only[0], f"{prefix}.only_b": only[1],
              f"{prefix}.difference": diff[0], f"{prefix}.diff_low": diff[1], f"{prefix}.diff_high": diff[2],
              f"{prefix}.resolved": resolved})


def _with_ci(s, key, n):
    from helpers.evaluation.intervals import wilson_of_rate
    low, high = wilson_of_rate(s[key], n)
    s.update({f"{key}.ci_low": low, f"{key}.ci_high": high, f"{key}.n": n})


def synthetic(full: bool = True) -> dict:
    s = {"A1.n_classes": 10, "A1.n_train": 1593, "A1.n_valid": 50}
    for m, acc, ok, fooled in (("SimpleCNN", 0.74, 37, 17), ("ResNetSmall", 0.82, 41, 24)):
        s.update({f"A2.{m}.val_acc": acc, f"A2.{m}.latency_b1_ms": 1.0, f"A2.{m}.latency_b1_std_ms": 0.1})
        for eps in (0.01, 0.03):
            key = f"B1.{m}.pgd.untargeted.eps{eps:g}"
            s.update({f"{key}.success_rate": fooled / ok, f"{key}.n_eligible": ok, f"{key}.robust_acc": 0.4})
        s[f"C2.{m}.recommended"] = "channel 4x"
        s.update({f"C1.{m}.dense.acc": acc, f"C1.{m}.dense.size_mb": 4.0, f"C1.{m}.channel.4x.acc": acc - 0.02,
                  f"C1.{m}.channel.4x.speedup": 2.0, f"C1.{m}.channel.4x.size_compressed_mb": 1.0,
                  f"C2.{m}.channel.4x.whitebox.pgd.untargeted.eps0.01.success_rate": 0.5,
                  f"C2.{m}.dense.whitebox.pgd.untargeted.eps0.01.success_rate": 0.4})
        _with_ci(s, f"A2.{m}.val_acc", 50)
    s.update({"B1.defense.ResNetSmall.clean_acc": 0.6, "B1.defense.ResNetSmall.pgd_robust_acc.eps0.01": 0.5,
              "B1.defense.standard.ResNetSmall.clean_acc": 0.82,
              "B1.defense.standard.ResNetSmall.pgd_robust_acc.eps0.01": 0.34, "C1.latency_noise": 0.15})
    _paired(s, "A2.paired.ResNetSmall_vs_SimpleCNN.valid", 0.3)
    _paired(s, "B1.paired.SimpleCNN_vs_ResNetSmall.pgd.eps0.01", 1.0, only=(2, 2), diff=(0.0, -0.08, 0.08))
    _paired(s, "B1.defense.ResNetSmall.paired.eps0.01", 0.02, "a", only=(9, 1), diff=(0.16, 0.04, 0.28))
    _paired(s, "B1.defense.ResNetSmall.paired.clean", 0.001, "b", only=(0, 11), diff=(-0.22, -0.34, -0.1))
    for m in ("SimpleCNN", "ResNetSmall"):
        _paired(s, f"C2.{m}.recommended_vs_dense", 0.5, only=(1, 2), diff=(-0.02, -0.1, 0.06))
        _paired(s, f"C2.{m}.channel.4x.whitebox.pgd.untargeted.eps0.01.vs_dense", 0.4)
        s.update({f"C2.{m}.channel.4x.whitebox.pgd.untargeted.eps0.01.robust_acc": 0.3,
                  f"C2.{m}.dense.whitebox.pgd.untargeted.eps0.01.robust_acc": 0.36})
    if full:
        s.update({"A2.SimpleCNN.val_acc_seed_mean": 0.73, "A2.SimpleCNN.val_acc_seed_std": 0.02,
                  "B2.SimpleCNN_to_ResNetSmall.pgd.untargeted.eps0.01.conditional_transfer_rate": 0.3,
                  "C2.robust.ResNetSmall.eps": 0.01, "C2.robust.ResNetSmall.dense.robust_acc": 0.5,
                  "C2.robust.ResNetSmall.dense.clean_acc": 0.6, "C2.robust.ResNetSmall.channel.2x.robust_acc": 0.44,
                  "C2.robust.ResNetSmall.global.s0.5.robust_acc": 0.2,
                  "C1.SimpleCNN.dense_control.acc": 0.76, "C2.SimpleCNN.runner_up": "global s0.8"})
        _paired(s, "C2.SimpleCNN.recommended_vs_control", 0.25, only=(1, 4), diff=(-0.06, -0.14, 0.02))
        _paired(s, "C2.robust.ResNetSmall.channel.2x.vs_unpruned", 0.5, only=(1, 4), diff=(-0.06, -0.14, 0.02))
        _paired(s, "C2.robust.ResNetSmall.channel.2x.vs_standard", 0.03, "a", only=(8, 1))
        for k in ("C2.robust.ResNetSmall.dense.robust_acc", "C2.robust.ResNetSmall.channel.2x.robust_acc",
                  "C2.robust.ResNetSmall.global.s0.5.robust_acc"):
            _with_ci(s, k, 50)
    return s


def test_headline_table_has_intervals_seeds_robustness_and_the_recommended_model():
    table = executive.headline_table(synthetic(), PARAMS)
    assert list(table.columns) == ["", "SimpleCNN", "ResNetSmall"]
    row = table.set_index("")["SimpleCNN"]
    assert row["validation accuracy"] == "0.74 [0.60, 0.84]"
    assert row["mean ± std over seeds"] == "0.73 ± 0.02"
    assert re.fullmatch(r"0\.46 \[0\.\d\d, 0\.\d\d\]", row["PGD success at ε 0.01"])
    assert row["compressed model recommended by C2"] == "channel 4x" and row["its speedup at batch 1"] == "2.00×"
    assert row["its size reduction"] == "4.0×"


def test_headline_table_has_a_column_per_model_of_the_stages_not_of_a2_comparisons_only():
    s = {**synthetic(), "A2.EffNetL0-frozen.val_acc": 0.9}
    assert list(executive.headline_table(s, {**PARAMS, "models": ["SimpleCNN", "ResNetSmall"]}).columns) == [
        "", "SimpleCNN", "ResNetSmall"]
    assert "EffNetL0-frozen" in executive.headline_table(s, PARAMS).columns  # no models named: every trained one
    cells = executive.executive_cells(s, {**PARAMS, "models": ["SimpleCNN", "ResNetSmall"]})
    assert "The models A2 only compares are in [Table](#tab:A2_comparison)." in str(cells[1].outputs[0].data)


def test_five_to_eight_findings_each_computed_and_saying_what_the_paired_tests_resolve():
    found = findings.findings(synthetic(), PARAMS)
    assert 5 <= len(found) <= 8
    assert any("(difference +0.04 [-0.04, +0.12], McNemar p = 0.3) the difference is not resolved" in f for f in found)
    assert any("raises its robust accuracy under worst-case PGD (an upper bound) from 0.34" in f and "a resolved cost" in f
               for f in found)
    assert any("2.00× as fast at batch 1 (beyond the ±15 % latency noise)" in f and "no resolved loss" in f
               for f in found)
    assert any("17 of 37" in f for f in found)  # counts behind the rate
    assert any("also fools ResNetSmall" in f for f in found)  # the conditional transfer rate
    assert any("adversarially fine-tuned ResNetSmall of B3" in f and "channel 2x keeps 0.44" in f
               and "no resolved change from the unpruned model" in f and "resolvably above the standard model" in f
               for f in found)
    assert any("runner-up is global s0.8" in f and "same extra budget" in f for f in found)
    assert len(set(found)) == len(found)


def test_a_model_without_a_qualifying_compressed_version_keeps_the_dense_one():
    s = synthetic()
    s.update({"C2.SimpleCNN.recommended": "dense", "C2.SimpleCNN.runner_up": "–"})
    text = " ".join(findings.findings(s, PARAMS))
    assert "For SimpleCNN no compressed model passes" in text and "SimpleCNN dense" not in text
    row = executive.headline_table(s, PARAMS).set_index("")["SimpleCNN"]
    assert row["compressed model recommended by C2"] == "none qualifies (dense)" and row["its speedup at batch 1"] == "1.00×"


def test_missing_optional_keys_drop_findings_and_a_sparse_summary_never_crashes():
    full, partial = findings.findings(synthetic(), PARAMS), findings.findings(synthetic(full=False), PARAMS)
    assert len(partial) < len(full)
    assert not any("seed" in f.lower() for f in partial)
    sparse = {"A1.n_valid": 50, "A2.OnlyNet.val_acc": 0.5}
    assert list(executive.headline_table(sparse, PARAMS).columns) == ["", "OnlyNet"]
    assert findings.findings(sparse, PARAMS) == [] or all(isinstance(f, str) for f in findings.findings(sparse, PARAMS))
    assert executive.abstract({}, {}) and closing.conclusions_markdown({}, {}).startswith("# Conclusions")
    assert closing.limitations_markdown({}, {}).startswith("# Limitations")


def test_abstract_conclusions_and_limitations_state_computed_numbers():
    s = synthetic()
    abstract = executive.abstract(s, PARAMS)
    assert "0.74 [0.60, 0.84]" in abstract and "Wilson" in abstract
    assert ("between the most and the least accurate, ResNetSmall and SimpleCNN, a difference that is not resolved "
            "(McNemar p = 0.3)") in abstract and "upper bound" in abstract
    assert "Beside them" not in abstract
    only_a2 = executive.abstract(s, {**PARAMS, "models": ["ResNetSmall"]})
    assert only_a2.startswith("We train 1 image classifiers (ResNetSmall)") or "(ResNetSmall) on" in only_a2
    assert "Beside them, 1 more (SimpleCNN) is trained and compared in accuracy, size and time only." in only_a2
    assert "Adversarial fine-tuning of ResNetSmall raises its robust accuracy" in abstract
    assert "2.0× faster, beyond the ±15 % latency noise" in abstract
    conclusions = closing.conclusions_markdown(s, PARAMS)
    assert "**The deployed compressed models buy speed and size, at no resolved cost in accuracy.**" in conclusions
    assert "**Robustness is bought by training for it.**" in conclusions and "a resolved cost (p = 0.001)" in conclusions
    assert "**Pruned, the robust model stays more robust than the standard one.**" in conclusions  # no resolved loss, resolved above the standard model
    assert "The change from the unpruned robust model is not resolved" in conclusions
    assert not set(re.split(r"(?<=\.) ", conclusions)) & set(re.split(r"(?<=\.) ", " ".join(findings.findings(s, PARAMS))))
    assert "**Neither accuracy nor robustness separates the two models.**" in conclusions
    assert "the difference in robustness is not resolved" in conclusions
    # B1 recorded SimpleCNN against ResNetSmall; the text states the more accurate ResNetSmall's difference
    assert "difference +0.00 [-0.08, +0.08], McNemar p = 1" in conclusions
    assert "**How far attacks carry over.**" in conclusions
    limitations = closing.limitations_markdown(s, PARAMS)
    assert "50 images" in limitations and "±15 %" in limitations and "dense control" in limitations
    prose = [abstract, conclusions, limitations, *findings.findings(s, PARAMS)]
    assert parameter_names_in_prose(prose) == []


def test_limitations_name_the_choices_and_attacks_of_the_stages_that_ran():
    s = {**synthetic(), "A1.n_selection": 150}
    with_all = closing.limitations_markdown(s, {**PARAMS, "defense_eval_steps": 50, "defense_restarts": 2})
    assert "(kept epochs, the hardened model, the compressed models examined, the deployment rule)" in with_all
    assert "PGD-50 with 2 random starts for the defense" in with_all
    no_defense = {k: v for k, v in s.items() if not k.startswith(("B1.defense.", "C2."))}
    lenet_like = closing.limitations_markdown(no_defense, {**PARAMS, "defense_eval_steps": 50})
    assert "Every choice (kept epochs) is made" in lenet_like and "for the defense" not in lenet_like


def test_parameter_names_are_found_in_prose_but_not_in_link_targets():
    names = list(declarations())
    found = parameter_names_in_prose(["Fine-tuning stops after `patience` epochs. The target_sparsity is 0.8.",
                                      "See [Table](#tab:target_sparsity)."], names)
    assert sorted(n for n, _ in found) == ["patience", "target_sparsity"]
    assert any("The target_sparsity is 0.8." in sentence for _, sentence in found)


def test_settings_appendix_lists_every_parameter_with_its_meaning():
    table = settings_appendix.settings_table({"epochs": 3})
    assert list(table["parameter"]) == list(declarations())
    row = table[table["parameter"] == "epochs"].iloc[0]
    default = str(declarations()["epochs"].default)
    assert row["value"] == "3" and row["default, where different"] == ("" if default == "3" else default)
    assert "epochs" in row["meaning"]
    assert all(table["meaning"].str.len() > 0)


@pytest.mark.parametrize("cite", ["Goodfellow et al. 2015", "Madry et al. 2018", "Wong et al. 2020", "Han et al. 2015",
                                  "Li et al. 2017", "Hinton et al. 2015", "Selvaraju et al. 2017",
                                  "Simonyan et al. 2014", "He et al. 2016", "Wilson 1927", "Papernot et al. 2016"])
def test_references_cover_the_cited_papers(cite):
    assert cite in dict(REFERENCES) and cite in references_markdown()


def test_the_references_list_only_the_works_the_text_cites():
    from helpers.report.bibliography import cited
    texts = ["PGD (Madry et al. 2018), distillation (Hinton, Vinyals & Dean 2015)", "McNemar 1947 and Wilson 1927."]
    assert cited(texts) == ["Hinton et al. 2015", "Madry et al. 2018", "McNemar 1947", "Wilson 1927"]
    listed = references_markdown(texts)
    assert "**Madry et al. 2018.**" in listed and "Goodfellow" not in listed


def test_the_abstract_names_every_models_own_compression_methods():
    params = {"models": ["A", "B"], "attacks": [], "compression_methods": ["global"],
              "model_overrides": {"A": {"compression_methods": ["global", "lottery"]},
                                  "B": {"compression_methods": ["global", "channel", "int8"]}}}
    text = executive._what_was_done({"C1.A.global.s0.5.acc": 0.5}, params)
    assert text == ("compress them (global magnitude pruning; lottery tickets (Frankle & Carbin); channel pruning; "
                    "int8 (post-training static, ONNX Runtime)).")
