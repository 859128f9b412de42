"""Classification metrics (scikit-learn), misclassified examples and a reading of each."""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

# How a prediction's probability is described: at least CONFIDENT is "confidently", below
# HESITANT "hesitantly", in between "moderately".
CONFIDENT, HESITANT = 0.7, 0.4


def classification_metrics(labels: torch.Tensor, logits: torch.Tensor, classes: list[str]) -> dict[str, Any]:
    """Accuracy, per-class precision/recall/F1/support and the confusion matrix (rows = true)."""
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


def reading_of_error(err: dict[str, Any], classes: list[str], confusion: list[list[int]],
                     train_confusion: list[list[int]] | None = None) -> str:
    """One or two sentences on a misclassification, computed from its probabilities and the
    confusion matrices (how systematic the same mistake is)."""
    t, p = classes[err["true"]], classes[err["pred"]]
    confident = ("confidently" if err["p_pred"] >= CONFIDENT else "hesitantly" if err["p_pred"] < HESITANT
                 else "moderately")
    text = (f"A {t} image {confident} called {p} (p={err['p_pred']:.2f}); the true class ranks "
            f"#{err['true_rank']} with p={err['p_true']:.2f}.")
    same = confusion[err["true"]][err["pred"]]
    text += f" {same} of {sum(confusion[err['true']])} {t} images in this split are called {p}"
    if train_confusion is not None:
        text += f" ({train_confusion[err['true']][err['pred']]} in training)"
    return text + ("; a systematic confusion." if same > 1 else "; an isolated error.")
