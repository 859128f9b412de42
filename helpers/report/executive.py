"""The report's abstract and executive summary, computed from a flat summary dict (`summary.json`).

The headline table gives per model: validation accuracy with its 95 % Wilson interval (and the
mean ± std over seeds where A2 trained several), untargeted success and robust accuracy of the
robustness attack at the smallest ε, and the compressed model C2 recommends with its accuracy,
batch-1 speedup and size reduction. Each key finding is a sentence that needs some keys; when one
is missing the finding is left out. Two models are compared by the paired test their stage
recorded, and only a resolved difference is stated as one.
"""
from __future__ import annotations

from typing import Any

from . import facts
from .facts import Summary, number, rate


def _attack(params: dict[str, Any]) -> str:
    return params.get("robustness_attack") or "pgd"


def study_models(s: Summary, params: dict[str, Any]) -> list[str]:
    """The models every stage takes up (`models`), without those A2 only compares; every trained
    model when the parameters do not say."""
    trained = facts.models(s)
    return [m for m in params.get("models", []) if m in trained] or trained


def headline_table(s: Summary, params: dict[str, Any]):
    """One row per headline quantity, one column per model of the study's stages (a few models fit
    the page this way; seven columns ran off it): the numbers of A2, B1 and C1/C2, as strings with
    their intervals."""
    import pandas as pd

    attack, n = _attack(params), facts.n_valid(s)
    rows = []
    for m in study_models(s, params):
        row = {"model": m, "validation accuracy": rate(s, f"A2.{m}.val_acc", n)}
        mean, std = number(s, f"A2.{m}.val_acc_seed_mean"), number(s, f"A2.{m}.val_acc_seed_std")
        if mean is not None and std is not None:
            seeds = number(s, f"A2.{m}.n_seeds")
            row["mean ± std over seeds"] = f"{mean:.2f} ± {std:.2f}" + (f" ({int(seeds)} seeds)" if seeds else "")
        eps = facts.smallest_eps(s, m, attack)
        if eps is not None:
            key = f"B1.{m}.{attack}.untargeted.{facts.eps_key(eps)}"
            eligible = number(s, f"{key}.n_eligible")
            eligible = int(eligible) if eligible else None
            row[f"{facts.attack_title(attack)} success at ε {eps:g}"] = rate(s, f"{key}.success_rate", eligible)
            row[f"robust accuracy at ε {eps:g}"] = rate(s, f"{key}.robust_acc", n)
        rec = s.get(f"C2.{m}.recommended")
        if isinstance(rec, str):
            c = facts.compressed(s, m, facts.variant_key(rec))
            row["compressed model recommended by C2"] = rec if rec != "dense" else "none qualifies (dense)"
            row["its validation accuracy"] = rate(s, c["acc_key"], n)
            row["its speedup at batch 1"] = f"{c['speedup']:.2f}×" if c["speedup"] else None
            row["its size reduction"] = f"{c['size_reduction']:.1f}×" if c["size_reduction"] else None
        rows.append(row)
    table = pd.DataFrame(rows).set_index("model").T
    return table.rename_axis(None, axis=1).rename_axis("").reset_index().where(lambda t: t.notna(), None)


def abstract(s: Summary, params: dict[str, Any]) -> str:
    """The abstract (markdown): what was studied, the headline measurements with their intervals, and
    only the comparisons and decisions the paired tests and the latency noise resolve."""
    from .findings import findings_by_name
    ms, n, attack = facts.models(s), facts.n_valid(s), _attack(params)
    classes, train, held = number(s, "A1.n_classes"), number(s, "A1.n_train"), number(s, "A1.n_selection")
    data = (f"{int(classes)} classes, {int(train + (held or 0))} training images"
            + (f" ({int(held)} of them held out as a selection split that makes every choice)" if held else "")
            + f" and {n} validation images" if classes and train and n else "an image classification dataset")
    study = [m for m in ms if m in params.get("models", ms)]  # the models of every stage; the rest A2 compares only
    extra = [m for m in ms if m not in study]
    text = [f"We train {len(study)} image classifiers ({', '.join(study)}) on {data}, " + _what_was_done(s, params)
            + (f" Beside them, {len(extra)} more ({', '.join(extra)}) {'is' if len(extra) == 1 else 'are'} trained and compared in accuracy, size and "
               "time only." if extra else "")
            + " Two models are compared image by image (McNemar's exact test), and a difference is claimed only "
            "where the test resolves it."]
    accs = [f"{m} {rate(s, f'A2.{m}.val_acc', n)}" for m in ms if number(s, f"A2.{m}.val_acc") is not None]
    if accs:
        text.append("Validation accuracies are " + ", ".join(accs) + _accuracy_verdict(s, ms) + ".")
    fooled = []
    for m in ms:
        eps = facts.smallest_eps(s, m, attack)
        key = f"B1.{m}.{attack}.untargeted.{facts.eps_key(eps)}.success_rate" if eps is not None else ""
        eligible = number(s, key.replace(".success_rate", ".n_eligible")) if key else None
        if key and number(s, key) is not None:
            fooled.append(f"{m} {rate(s, key, int(eligible) if eligible else None)} at ε {eps:g}")
    if fooled:
        text.append(f"Untargeted {facts.attack_title(attack)} fools the correctly classified images of "
                    + ", ".join(fooled) + "; every robust accuracy it leaves is an upper bound.")
    named = findings_by_name(s, params)
    if named.get("defense", "").startswith("Adversarial fine-tuning of") and "resolves no gain" not in named["defense"]:
        text.append(named["defense"].split(" Its clean accuracy")[0])
    recs = [_recommendation(s, m, n) for m in ms]
    if any(recs):
        text.append("A rule that acts only on resolved differences, read on the selection split, deploys "
                    + "; ".join(r for r in recs if r) + ".")
    text.append("Every accuracy and rate is given with its 95\u00a0% Wilson interval in brackets.")
    return " ".join(text)


def _what_was_done(s: Summary, params: dict[str, Any]) -> str:
    """The study's work in one sentence, from the stages that left results in the summary."""
    ran = lambda prefix: any(k.startswith(prefix) for k in s)  # noqa: E731
    parts = []
    if ran("A3."):
        parts.append("explain their decisions with saliency maps and Grad-CAM")
    if ran("B1."):
        titles = [facts.attack_title(a) for a in params.get("attacks", [])]
        parts.append("attack them with " + (" and ".join(titles) if titles else "adversarial attacks"))
    if ran("B2."):
        parts.append("measure how adversarial examples transfer between them")
    if ran("B1.defense."):
        parts.append("harden one by adversarial fine-tuning")
    if ran("C1."):
        from ..compression import method_class
        from ..config.model_overrides import for_model
        # every model's own list (model_overrides may give one model methods the study-wide list lacks)
        names = [m for model in params.get("models", []) for m in for_model(params, model).get("compression_methods", [])]
        methods = [method_class(m).title for m in dict.fromkeys(names or params.get("compression_methods", []))]
        parts.append("compress them (" + "; ".join(methods) + ")" + (", measuring accuracy, latency, size and "
                     "robustness of every compressed model" if ran("C2.") else ""))
    if not parts:
        return "and evaluate them."
    return (", ".join(parts[:-1]) + (", and " if len(parts) > 1 else "") + parts[-1] + ".")


def _accuracy_verdict(s: Summary, ms: list[str]) -> str:
    """'; the difference is not resolved (McNemar p = 0.69)' for the most against the least accurate model."""
    if len(ms) < 2:
        return ""
    ranked = sorted(ms, key=lambda m: -(number(s, f"A2.{m}.val_acc") or 0))
    test = facts.paired(s, f"A2.paired.{ranked[0]}_vs_{ranked[-1]}.valid")
    if test is None:
        return ""
    return (f"; the most accurate, {ranked[0]}, is resolved more accurate than the least, {ranked[-1]} "
            f"(McNemar p = {test['p_value']:.2g})" if facts.resolved_side(test) == "a" else
            f"; between the most and the least accurate, {ranked[0]} and {ranked[-1]}, a difference that is not "
            f"resolved (McNemar p = {test['p_value']:.2g})")


def _recommendation(s: Summary, m: str, n: int | None) -> str:
    """'ResNetSmall channel 8x (0.76 [..] accuracy, no resolved loss; 3.5× faster, beyond the ±12 % noise;
    6.9× smaller)', or '' when C2 recommends the dense model."""
    rec = s.get(f"C2.{m}.recommended")
    if not isinstance(rec, str) or rec == "dense":
        return f"for {m} the dense model (no compressed model qualifies)" if rec == "dense" else ""
    c, noise = facts.compressed(s, m, facts.variant_key(rec)), number(s, "C1.latency_noise")
    if not (c["speedup"] and c["size_reduction"] and number(s, c["acc_key"]) is not None):
        return ""
    test = facts.paired(s, f"C2.{m}.recommended_vs_dense")
    loss = "" if test is None else (", a resolved loss" if facts.resolved_side(test) == "b" else ", no resolved loss")
    real = noise is not None and abs(c["speedup"] - 1) > noise
    speed = (f"{c['speedup']:.1f}× faster" + (f", beyond the ±{100 * noise:.0f} % latency noise" if real else
                                               ", within the latency noise" if noise is not None else ""))
    return f"{m} {rec} ({rate(s, c['acc_key'], n)} accuracy{loss}; {speed}; {c['size_reduction']:.1f}× smaller)"


HEADLINE_LABEL = "tab:summary_headline"


def executive_cells(s: Summary, params: dict[str, Any]) -> list:
    """Notebook cells of the executive summary: a heading, the headline table, the key findings."""
    import nbformat

    from .display import table_output
    from .findings import findings
    attack = facts.attack_title(_attack(params))
    intro = (f"# Executive summary\n\n[Table](#{HEADLINE_LABEL}) gives the headline numbers of the study; the "
             "sections that follow derive each of them. Accuracies and success rates are proportions "
             + (f"over {n:,} validation images or fewer" if (n := facts.n_valid(s)) and n > 200 else
                "over a few dozen images") + ", so each comes with its 95\u00a0% Wilson interval. Two models evaluated on the same "
             "images are compared image by image (McNemar's exact test, with the paired bootstrap interval of the "
             "difference), and a difference is called one only where that test resolves it.")
    compared_only = len(study_models(s, params)) < len(facts.models(s))
    caption = (f"Headline results, one column per model: validation accuracy, untargeted {attack} success rate and "
               "robust accuracy at the smallest ε, and the compressed model that C2 recommends with its accuracy, "
               "its batch-1 speedup and how many times smaller it is than the dense model. Brackets: 95\u00a0% Wilson "
               "intervals." + (" The models A2 only compares are in [Table](#tab:A2_comparison)." if compared_only else ""))
    table = nbformat.v4.new_code_cell("", id="executive-table")
    table.outputs = [nbformat.v4.new_output("display_data", data=table_output(headline_table(s, params), caption,
                                                                              HEADLINE_LABEL, ".2f"))]
    found = findings(s, params)
    points = "## Key findings\n\n" + "\n".join(f"{i}. {f}" for i, f in enumerate(found, 1))
    return [nbformat.v4.new_markdown_cell(intro, id="executive-intro"), table,
            nbformat.v4.new_markdown_cell(points, id="executive-findings")]
