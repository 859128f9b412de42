import pytest
import torch

from helpers.data import ImageSet, StudyData
from helpers.training import loop as train
from helpers.training.cached import train_or_load
from helpers.training.config import TrainConfig
from helpers.training.losses import distillation_loss
from helpers.training.loop import fit


def tiny_data(n=24, size=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 3
    images = torch.randint(0, 255, (n, 3, size, size), generator=g, dtype=torch.uint8)
    images[torch.arange(n), labels] = 230  # class = the bright channel
    return images, labels


def small_model():
    torch.manual_seed(0)
    from helpers.models import build_model
    return build_model("SimpleCNN", num_classes=3)


CFG = TrainConfig(epochs=3, batch_size=8, lr=1e-3, warmup_epochs=1, patience=5, amp="off")


def test_fit_logs_every_epoch_and_keeps_best_weights(tmp_path):
    x, y = tiny_data()
    m = small_model()
    r = fit(m, x, y, x, y, CFG, device=torch.device("cpu"), log_dir=tmp_path / "tb")
    assert [h["epoch"] for h in r["history"]] == [1, 2, 3]
    assert set(r["history"][0]) >= {"train_loss", "train_acc", "select_loss", "select_acc", "epoch_s"}
    best = min(r["history"], key=lambda h: h["select_loss"])
    assert r["best_epoch"] == best["epoch"] and not m.training and r["precision"] == "fp32"  # amp off
    assert train.evaluate_loss(m, x, y, torch.device("cpu"))[0] == pytest.approx(best["select_loss"], rel=1e-5)
    assert any((tmp_path / "tb").iterdir())  # TensorBoard event file


def test_lr_schedule_warms_up_then_decays_to_zero():
    f = [train._lr_factor(s, 4, 20) for s in range(21)]
    assert f[0] == 0.25 and f[3] == 1.0 and f[4] == 1.0
    assert all(a >= b for a, b in zip(f[4:], f[5:])) and f[20] == pytest.approx(0.0)


def test_interrupted_training_resumes_where_it_stopped(tmp_path, monkeypatch):
    x, y = tiny_data()
    reference = small_model()
    ref = fit(reference, x, y, x, y, CFG, device=torch.device("cpu"))

    calls = {"n": 0}
    real = train.evaluate_loss

    def dies_in_epoch_2(*a, **k):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real(*a, **k)

    state = tmp_path / "state.pt"
    monkeypatch.setattr(train, "evaluate_loss", dies_in_epoch_2)
    with pytest.raises(KeyboardInterrupt):
        fit(small_model(), x, y, x, y, CFG, device=torch.device("cpu"), state_path=state)
    assert state.exists()
    monkeypatch.setattr(train, "evaluate_loss", real)
    resumed_model = small_model()
    resumed = fit(resumed_model, x, y, x, y, CFG, device=torch.device("cpu"), state_path=state)
    assert len(resumed["history"]) == 3
    for a, b in zip(ref["history"], resumed["history"]):
        assert a["select_loss"] == pytest.approx(b["select_loss"], rel=1e-5)
    for (k, a), b in zip(reference.state_dict().items(), resumed_model.state_dict().values()):
        assert torch.allclose(a.float(), b.float(), atol=1e-6), k


def test_train_or_load_reuses_a_matching_checkpoint(tmp_path, monkeypatch):
    from helpers.training import cached

    x, y = tiny_data()
    s = ImageSet("train", x, y, [str(i) for i in range(len(y))], ["a", "b", "c"])
    data = StudyData(tmp_path, s, s, None, [0.5] * 3, [0.25] * 3, selection=s)
    args = {"num_classes": 3}
    cfg = TrainConfig(epochs=1, batch_size=8, amp="off")
    path = tmp_path / "SimpleCNN-original.pt"
    first = train_or_load("SimpleCNN", args, data, cfg, path=path, device=torch.device("cpu"))
    m1, r1 = first.model, first.result
    assert path.exists() and not (tmp_path / "SimpleCNN-original-train-state.pt").exists() and not first.reused

    def no_training(*a, **k):
        raise AssertionError("retrained although up to date")

    monkeypatch.setattr(cached, "fit", no_training)
    second = train_or_load("SimpleCNN", args, data, cfg, path=path, device=torch.device("cpu"))
    m2, r2 = second.model, second.result
    assert r2 == r1 and all(torch.equal(a, b) for a, b in zip(m1.state_dict().values(), m2.state_dict().values()))
    assert second.reused and second.created_at == first.created_at
    other_images = x.clone()
    other_images[0] = 0
    other = StudyData(tmp_path, ImageSet("train", other_images, y, s.files, s.classes), s, None, [0.5] * 3, [0.25] * 3,
                      selection=s)
    with pytest.raises(AssertionError, match="retrained"):  # other data: trains again
        train_or_load("SimpleCNN", args, other, cfg, path=path, device=torch.device("cpu"))


class _FixedLogits(torch.nn.Module):
    """A teacher whose logits are given; records the mode it was called in."""

    def __init__(self, logits):
        super().__init__()
        self.logits, self.modes = torch.nn.Parameter(logits), []

    def forward(self, x):
        self.modes.append(self.training)
        return self.logits[: len(x)]


def test_distillation_loss_is_hintons_soft_and_hard_mix():
    import torch.nn.functional as F

    g = torch.Generator().manual_seed(0)
    student, y = torch.randn(4, 3, generator=g, requires_grad=True), torch.tensor([0, 1, 2, 0])
    teacher = _FixedLogits(torch.randn(4, 3, generator=g)).train()
    x = torch.rand(4, 3, 8, 8)
    T = 3.0
    p_t = F.softmax(teacher.logits.detach() / T, 1)
    kl = (p_t * (p_t.log() - F.log_softmax(student / T, 1))).sum(1).mean()
    soft = distillation_loss(teacher, temperature=T, alpha=1.0)(student, x, y)
    assert soft.item() == pytest.approx(T * T * kl.item(), rel=1e-5)
    hard = distillation_loss(teacher, temperature=T, alpha=0.0, label_smoothing=0.1)(student, x, y)
    assert hard.item() == pytest.approx(F.cross_entropy(student, y, label_smoothing=0.1).item(), rel=1e-6)
    mix = distillation_loss(teacher, temperature=T, alpha=0.25)(student, x, y)
    mix.backward()
    assert mix.item() == pytest.approx(0.25 * soft.item() + 0.75 * F.cross_entropy(student, y).item(), rel=1e-5)
    # the teacher runs in eval mode, is given back in its mode, and gets no gradient
    assert teacher.modes == [False] * 3 and teacher.training and teacher.logits.grad is None
    assert student.grad is not None
    # a student equal to its teacher has nothing left to learn from it
    same = distillation_loss(teacher, temperature=T, alpha=1.0)(teacher.logits.detach(), x, y)
    assert same.item() == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(ValueError, match="alpha"):
        distillation_loss(teacher, alpha=1.5)


def test_fit_trains_on_the_given_loss():
    x, y = tiny_data()
    calls = []

    def loss_fn(logits, xb, yb):
        calls.append((tuple(logits.shape), tuple(xb.shape), len(yb)))
        return torch.nn.functional.cross_entropy(logits, yb)

    fit(small_model(), x, y, x, y, CFG, device=torch.device("cpu"), loss_fn=loss_fn)
    assert len(calls) == 3 * 3  # 3 epochs of 3 batches
    assert calls[0] == ((8, 3), (8, 3, 16, 16), 8)


def test_per_image_selection_keeps_the_earliest_epoch_not_resolved_below_the_best():
    x, y = tiny_data()
    outcomes = iter([torch.tensor([True] * 13 + [False] * 7), torch.tensor([True] * 16 + [False] * 4),
                     torch.tensor([True] * 2 + [False] * 18)] * 2)
    cfg = TrainConfig(**{**CFG.__dict__, "epochs": 3, "patience": 10})
    paired = fit(small_model(), x, y, x, y, cfg, device=torch.device("cpu"), select_by=lambda m: next(outcomes),
                 select_alpha=0.05)
    assert paired["best_epoch"] == 1 and paired["history"][1]["select_outcome"] == "1" * 16 + "0" * 4
    plain = fit(small_model(), x, y, x, y, cfg, device=torch.device("cpu"), select_by=lambda m: next(outcomes))
    assert plain["best_epoch"] == 2  # without a significance level, the highest score wins
