import pytest
import torch
import torchattacks

from helpers.attacks import fgsm, pgd
from helpers.models import build_model



@pytest.fixture(scope="module")
def model_and_data():
    torch.manual_seed(0)
    model = build_model("SimpleCNN", num_classes=4, mean=[0.5] * 3, std=[0.25] * 3)
    model.train()  # attacks must switch to eval and back
    with torch.no_grad():  # non-trivial BatchNorm statistics
        for _ in range(3):
            model(torch.rand(16, 3, 32, 32))
    x = torch.rand(8, 3, 32, 32)
    y = torch.randint(0, 4, (8,))
    t = torch.full((8,), 2)
    return model, x, y, t


def _state(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("targeted", [False, True])
@pytest.mark.parametrize("eps", [0.01, 0.03, 0.1])
def test_fgsm_matches_torchattacks(model_and_data, targeted, eps):
    model, x, y, t = model_and_data
    before = _state(model)
    ours = fgsm(model, x, y, eps, target=t if targeted else None).x_adv
    assert model.training and all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    atk = torchattacks.FGSM(model, eps=eps)
    if targeted:
        atk.set_mode_targeted_by_label(quiet=True)
    ref = atk(x, t if targeted else y)
    assert torch.allclose(ours, ref, atol=1e-6)
    assert (ours - x).abs().max() <= eps + 1e-6 and ours.min() >= 0 and ours.max() <= 1


@pytest.mark.parametrize("targeted", [False, True])
def test_pgd_matches_torchattacks_with_the_same_random_start(model_and_data, targeted):
    model, x, y, t = model_and_data
    before = _state(model)
    torch.manual_seed(123)
    ours = pgd(model, x, y, 0.03, 0.01, 10, target=t if targeted else None)
    assert model.training and all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    atk = torchattacks.PGD(model, eps=0.03, alpha=0.01, steps=10, random_start=True)
    if targeted:
        atk.set_mode_targeted_by_label(quiet=True)
    torch.manual_seed(123)
    ref = atk(x, t if targeted else y)
    assert torch.allclose(ours.x_adv, ref, atol=1e-6)
    assert (ours.x_adv - x).abs().max() <= 0.03 + 1e-6


def test_pgd_first_success_is_consistent(model_and_data):
    model, x, y, _ = model_and_data
    r = pgd(model, x, y, 0.1, 0.02, 20, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        fooled = model.eval()(r.x_adv).argmax(1) != y
        clean_wrong = model(x).argmax(1) != y
        assert torch.allclose(r.adv_logits, model(r.x_adv)) and torch.allclose(r.clean_logits, model(x))
    model.train()
    assert torch.equal(r.first_success == 0, clean_wrong)
    assert bool(((r.first_success > 0) | (r.first_success == 0))[fooled].all())  # fooled => it succeeded at some step
    assert int(r.first_success.max()) <= 20


@pytest.mark.parametrize("targeted", [False, True])
def test_pgd_stopping_on_success_keeps_each_first_success(model_and_data, targeted):
    model, x, _, _ = model_and_data
    with torch.no_grad():
        y = model.eval()(x).argmax(1)  # labels the model gets right, so every input can be attacked
    model.train()
    t = (y + 1) % 4 if targeted else None
    kw = dict(target=t, generator=torch.Generator().manual_seed(1))
    full = pgd(model, x, y, 0.01, 0.0025, 15, **kw)
    stop = pgd(model, x, y, 0.01, 0.0025, 15, **kw | {"generator": torch.Generator().manual_seed(1)},
               stop_on_success=True)
    assert model.training
    assert torch.equal(full.first_success, stop.first_success)
    never, won = full.first_success < 0, full.first_success > 0
    assert never.any() and won.any()  # both branches are exercised
    assert torch.allclose(stop.x_adv[never], full.x_adv[never], atol=1e-6)  # same trajectory when never met
    with torch.no_grad():
        logits = model.eval()(stop.x_adv)
    model.train()
    assert torch.allclose(stop.adv_logits, logits, atol=1e-5)
    pred = logits.argmax(1)
    assert bool((pred[won] == t[won]).all() if targeted else (pred[won] != y[won]).all())
    assert (stop.x_adv - x).abs().max() <= 0.01 + 1e-6


def test_pgd_stopping_on_success_keeps_inputs_already_wrong_unperturbed(model_and_data):
    """An input the model already gets wrong meets the goal at iterate 0: it stays the clean
    input with the clean logits (a random start must not make it count as robust)."""
    model, x, _, _ = model_and_data
    with torch.no_grad():
        y = (model.eval()(x).argmax(1) + 1) % 4  # every input is misclassified
    stop = pgd(model, x, y, 0.05, 0.01, 5, generator=torch.Generator().manual_seed(1), stop_on_success=True)
    assert bool((stop.first_success == 0).all())
    assert torch.equal(stop.x_adv, x) and torch.equal(stop.adv_logits, stop.clean_logits)
