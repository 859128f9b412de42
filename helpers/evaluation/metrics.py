"""Classification metrics (scikit-learn), misclassified examples and a reading of each."""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

# How a prediction's probability is described: at least CONFIDENT is "confidently", below
# HESITANT "hesitantly", in between "moderately".
CONFIDENT, HESITANT = 0.7, 0.4
# A mistake whose true class is second and within this probability of the predicted one is a near miss.
NEAR_MISS = 0.1


def classification_metrics(labels: torch.Tensor, logits: torch.Tensor, classes: list[str]) -> dict[str, Any]:
    """Accuracy, per-class precision/recall/F1/support, the confusion matrix (rows = true) and
    `correct`, which images the model gets right ('0'/'1' per image, `paired.encode`), for paired tests."""
    # imported here: scikit-learn takes 1.4 s to import, paid otherwise by every notebook of a study
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    from .paired import encode

    y_true = labels.numpy()
    y_pred = logits.argmax(1).numpy()
    idx = list(range(len(classes)))
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=idx, zero_division=0)
    return {
        "accuracy": float((y_true == y_pred).mean()),
        "n": int(len(y_true)),
        "per_class": {c: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]),
                          "support": int(s[i])} for i, c in enumerate(classes)},
        "macro_f1": float(np.mean(f)),
        "confusion": confusion_matrix(y_true, y_pred, labels=idx).tolist(),
        "correct": encode(torch.from_numpy(y_true == y_pred)),
    }


def misclassified(labels: torch.Tensor, logits: torch.Tensor, k: int) -> list[dict[str, Any]]:
    """Up to k wrong predictions, most confident first: index, true, pred, top-3 (class, prob)."""
    probs = logits.softmax(1)
    pred = probs.argmax(1)
    wrong = (pred != labels).nonzero().flatten()
    order = wrong[probs[wrong, pred[wrong]].argsort(descending=True)][:k]
    out = []
    for i in order.tolist():
        top_p, top_c = probs[i].topk(min(3, probs.shape[1]))
        rank = int((probs[i] > probs[i, labels[i]]).sum()) + 1
        out.append({"index": i, "true": int(labels[i]), "pred": int(pred[i]),
                    "p_pred": float(probs[i, pred[i]]), "p_true": float(probs[i, labels[i]]),
                    "true_rank": rank, "top3": list(zip(top_c.tolist(), top_p.tolist()))})
    return out


def describe_confidence(p: float) -> str:
    """'confidently' (p >= CONFIDENT), 'hesitantly' (p < HESITANT) or 'moderately'."""
    return "confidently" if p >= CONFIDENT else "hesitantly" if p < HESITANT else "moderately"


def reading_of_error(err: dict[str, Any], classes: list[str]) -> str:
    """One sentence on one misclassification (an item of `misclassified`), from its own numbers:
    how sure the model was of the wrong class, where the true class ranked and by how much it lost.
    How often the same confusion recurs is said once per pair by `confusion_summary`."""
    t, p = classes[err["true"]], classes[err["pred"]]
    margin = err["p_pred"] - err["p_true"]
    if err["true_rank"] == 2 and margin < NEAR_MISS:
        where = f"a near miss: {t} is second, {margin:.2f} behind (p={err['p_true']:.2f})"
    elif err["true_rank"] <= 3:
        where = f"{t} ranks #{err['true_rank']} with p={err['p_true']:.2f}, {margin:.2f} behind"
    else:
        where = f"{t} is not in the top 3 (rank #{err['true_rank']}, p={err['p_true']:.3f})"
    return f"{t} {describe_confidence(err['p_pred'])} called {p} (p={err['p_pred']:.2f}); {where}."


def confusion_summary(errors: list[dict[str, Any]], classes: list[str], confusion: list[list[int]],
                      other_confusion: list[list[int]] | None = None, other: str = "training") -> str:
    """The confusions behind `errors`, each (true, predicted) pair said once: how many images of
    the true class the split holds and how many of them the model gives that wrong class (and in
    the `other` split's confusion matrix, when given). A pair seen on more than one image is
    systematic; the others are isolated. confusion: [classes][classes] counts, rows = true."""
    pairs = list(dict.fromkeys((e["true"], e["pred"]) for e in errors))

    def describe(t: int, p: int) -> str:
        seen = f"; {other_confusion[t][p]} in {other}" if other_confusion is not None else ""
        return f"{classes[t]} → {classes[p]} ({confusion[t][p]} of {sum(confusion[t])} {classes[t]} images{seen})"

    systematic = [describe(t, p) for t, p in pairs if confusion[t][p] > 1]
    isolated = [describe(t, p) for t, p in pairs if confusion[t][p] <= 1]
    parts = []
    if systematic:
        parts.append(f"Systematic confusions (the same wrong class for several images of a class): "
                     f"{'; '.join(systematic)}.")
    if isolated:
        kind = "One confusion is" if len(isolated) == 1 else f"{len(isolated)} confusions are"
        parts.append(f"{kind} isolated (a single image of its class): {'; '.join(isolated)}.")
    return " ".join(parts)
