import torch

from helpers.data import ImageSet, StudyData
from helpers.defense import fgsm_rs as defense
from helpers.models import build_model
from helpers.models.checkpoints import save_checkpoint
from helpers.training.config import TrainConfig


def _split(n, seed):
    g = torch.Generator().manual_seed(seed)
    return ImageSet("train", torch.randint(0, 255, (n, 3, 32, 32), dtype=torch.uint8, generator=g),
                    torch.arange(n) % 3, [f"c/{i}.jpg" for i in range(n)], ["a", "b", "c"])


def test_fgsm_rs_stays_in_the_budget():
    torch.manual_seed(0)
    model = build_model("SimpleCNN", num_classes=3).train()
    x, y = torch.rand(6, 3, 32, 32), torch.randint(0, 3, (6,))
    x_adv = defense.fgsm_rs(0.03, 0.0375)(model, x, y)
    assert model.training
    assert (x_adv - x).abs().max() <= 0.03 + 1e-6 and x_adv.min() >= 0 and x_adv.max() <= 1
    assert (x_adv - x).abs().max() > 0.02  # it moved


def test_adversarial_finetuning_trains_selects_by_robust_accuracy_and_is_reused(tmp_path):
    torch.manual_seed(0)
    base = build_model("SimpleCNN", num_classes=3)
    save_checkpoint(tmp_path / "base.pt", base, "SimpleCNN", {"num_classes": 3}, classes=["a", "b", "c"])
    data = StudyData(tmp_path, _split(24, 0), _split(9, 1), None, [0.5] * 3, [0.25] * 3, selection=_split(9, 1))
    cfg = TrainConfig(epochs=2, batch_size=8, warmup_epochs=0, augment=False, amp="off")
    dcfg = defense.DefenseConfig(eps=0.02, select_steps=2)
    out = tmp_path / "adv.pt"
    hardened = defense.adversarial_finetune_or_load(tmp_path / "base.pt", data, cfg, dcfg, out_path=out,
                                                    device=torch.device("cpu"))
    model, result = hardened.model, hardened.result
    assert not hardened.reused
    scores = [r["select_score"] for r in result["history"]]
    assert len(scores) == 2 and all(0 <= s <= 1 for s in scores)
    assert result["best_epoch"] == 1 + scores.index(max(scores))
    assert not any(torch.equal(a, b) for a, b in zip(model.parameters(), base.parameters()))  # all trained
    assert out.exists() and not (tmp_path / "adv-train-state.pt").exists()
    stamp = out.stat().st_mtime_ns
    reloaded = defense.adversarial_finetune_or_load(tmp_path / "base.pt", data, cfg, dcfg, out_path=out,
                                                    device=torch.device("cpu"))
    again = reloaded.model
    assert out.stat().st_mtime_ns == stamp  # reused, not retrained
    assert reloaded.reused and reloaded.created_at == hardened.created_at
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values()))
