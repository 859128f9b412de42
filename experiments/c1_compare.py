"""C1 channel budgets compared: per model and target, accuracy on selection and validation, the
fine-tuning seconds, and McNemar's exact test against a reference variant on the same images."""
import sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import torch
from helpers.compression import method_class
from helpers.config.resolution import resolve
from helpers.data import load_dataset
from helpers.evaluation.paired import mcnemar
from helpers.evaluation.predict import predict
from helpers.core.files import load_json

ref, variants = sys.argv[1], sys.argv[2:]
data = load_dataset(resolve("parameters/default.yaml", []))
def records(v):
    return {(r["model"], r["point"]): r for r in load_json(f"runs/exp/{v}/metrics/C1.json")["records"]}
def correct(v, r, split):
    s = getattr(data, split)
    model = method_class(r["method"])().load(f"runs/exp/{v}/{r['path']}")
    return predict(model, s.images, torch.device("cpu")).argmax(1) == s.labels
R = records(ref)
for v in [ref] + variants:
    rv = records(v)
    for key, r in rv.items():
        line = f"{v:12} {key[0]:12} {key[1]:5} MACs÷{r['mac_reduction']:.2f} sel {r['select_acc']:.3f} val {r['acc']:.3f} ft {r['finetune_s']:.0f}s"
        if v != ref and key in R:
            for split in ("selection", "valid"):
                m = mcnemar(correct(v, r, split), correct(ref, R[key], split))
                line += f" | {split}: {m['only_a']}/{m['only_b']} p={m['p_value']:.2f}"
        print(line, flush=True)
