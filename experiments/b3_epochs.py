"""B3 at 4 against 8 epochs of FGSM-RS: the kept robust models of two runs attacked on the same
images (selection: PGD-10, one start; validation: PGD-50, two restarts; ε = 0.03, α = ε/3) and
compared pairwise (McNemar). Run from the project root after the two runs of experiments/README.md."""
from pathlib import Path
import sys
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from helpers.config.resolution import resolve
from helpers.data import load_dataset
from helpers.models.checkpoints import load_model
from helpers.robustness import worst_case_pgd
from helpers.evaluation.paired import mcnemar, describe
data = load_dataset(resolve("parameters/default.yaml", ["cache_dir=runs/default-fp32/cache"]))
ok = {}
for tag, run in {"4 epochs": "runs/default-fp32", "8 epochs": "runs/exp/b3-8"}.items():
    m, _ = load_model(f"{run}/checkpoints/ResNetSmall-adversarial.pt"); m.eval()
    for split, steps, restarts in (("selection", 10, 1), ("valid", 50, 2)):
        s = getattr(data, split)
        ok[tag, split] = worst_case_pgd(m, s.images, s.labels, 0.03, alpha=0.01, steps=steps, restarts=restarts)
        print(tag, split, float(ok[tag, split].float().mean()), flush=True)
for split in ("selection", "valid"):
    print(split, describe(mcnemar(ok["4 epochs", split], ok["8 epochs", split]), "4 epochs", "8 epochs"))
