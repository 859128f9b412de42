"""The explorer's computation and widgets on a small run made here (a trained checkpoint, an
adversarially fine-tuned one and the data): what it shows equals the study's own attack and maps."""
import io

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import CLASSES, make_explorer_run
from helpers.attacks import build_attack
from helpers.explain.saliency import saliency
from helpers.explorer import compare, inspection
from helpers.explorer.app import Explorer
from helpers.explorer.run import ExplorerError, ExplorerRun

SIZE = 16  # make_explorer_run's image size


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    pfile = tmp_path_factory.mktemp("explorer") / "params.yaml"
    with pytest.raises(ExplorerError, match="no trained model yet"):
        make_explorer_run(pfile, checkpoints=False)
    return ExplorerRun(str(make_explorer_run(pfile)))


def test_variants_are_what_the_run_holds(run):
    assert run.models == ["SimpleCNN", "ResNetSmall-w32"]
    assert [v.label for v in run.variants("SimpleCNN")] == ["dense", "adversarially fine-tuned"]
    assert [v.label for v in run.variants("ResNetSmall-w32")] == ["dense"]
    with pytest.raises(ExplorerError, match="no variant 'channel 2x'"):
        run.variant("SimpleCNN", "channel 2x")
    with pytest.raises(ExplorerError, match="has 6 validation images; index 9"):
        run.image(CLASSES[0], 9)


def test_inspection_equals_the_studys_attack_and_maps(run):
    model = run.load(run.variant("SimpleCNN", "dense"))
    x, label = run.image("dog", 1)
    pgd = build_attack("pgd", run.params)
    ins = inspection.inspect(model, x, label, run.data.classes, pgd, 0.03, seed=7)
    xf = x.float()[None] / 255
    ref = pgd(model, xf, torch.tensor([label]), 0.03, generator=torch.Generator().manual_seed(7)).x_adv[0]
    assert torch.equal(ins.adv, ref)
    assert ins.linf <= 0.03 + 1e-6 and abs(ins.l2 - float((ref - xf[0]).norm())) < 1e-6
    assert torch.allclose(ins.probs_adv, torch.softmax(model(ref[None]), 1)[0], atol=1e-6)
    assert torch.allclose(ins.saliency_adv, saliency(model, ref[None], torch.tensor([ins.pred_adv]))[0])
    assert ins.gradcam_clean.shape == (SIZE, SIZE) and float(ins.gradcam_clean.max()) <= 1
    top = ins.top("clean")
    assert len(top) == 3 and top == sorted(top, key=lambda t: -t[1]) and abs(sum(p for _, p in top) - 1) < 1e-5
    same = inspection.inspect(model, x, label, run.data.classes, pgd, 0.0)
    assert torch.equal(same.adv, same.clean) and same.l2 == 0 and same.pred_adv == same.pred_clean
    targeted = inspection.inspect(model, x, label, run.data.classes, pgd, 0.1, target=2, seed=7)
    assert targeted.target == 2 and targeted.linf <= 0.1 + 1e-6


def test_widgets_follow_each_change_and_show_helpers_numbers(run):
    ex = Explorer(run, image_class="dog", image_index=1, eps=0.0)
    ex.show()
    first = ex.summary.value
    assert "L2 = 0.0000" in first
    ex.eps.value = 0.05
    ins = ex.current
    expected = inspection.inspect(run.load(run.variant("SimpleCNN", "dense")), *run.image("dog", 1), run.data.classes,
                                  build_attack("pgd", run.params), 0.05, seed=run.params["seed"])
    assert torch.equal(ins.adv, expected.adv) and ex.summary.value != first
    assert f"L2 = {expected.l2:.4f}" in ex.summary.value
    ex.model.value = "ResNetSmall-w32"
    assert list(ex.variant.options) == ["dense"] and ex.current.variant.startswith("ResNetSmall-w32 dense")
    ex.image_class.value = "owl"
    assert ex.image_index.max == 5 and "owl #1" in ex.current.variant


def test_an_upload_is_decoded_like_the_data_and_a_bad_one_is_named(run):
    ex = Explorer(run, eps=0.03)
    buf = io.BytesIO()
    Image.fromarray(np.full((40, 30, 4), 128, np.uint8), "RGBA").save(buf, "PNG")
    ex._uploaded({"new": [{"name": "mine.png", "content": memoryview(buf.getvalue())}]})
    assert ex.current.clean.shape == (3, SIZE, SIZE) and "upload mine.png" in ex.current.variant
    assert ex.current.label == ex.current.pred_clean  # attacked away from the model's own prediction
    ex._uploaded({"new": [{"name": "notes.jpg", "content": memoryview(b"not an image")}]})
    assert "notes.jpg" in ex.summary.value and "cannot decode" in ex.summary.value


def test_static_figure_and_compare_without_c1(run, capsys):
    ex = Explorer(run, eps=0.03)
    ex.show_static()
    assert ex.current.summary() in capsys.readouterr().out
    assert compare.comparison_table(run, "SimpleCNN").empty
    assert "C1 has not measured SimpleCNN" in compare.comparison_note(run, "SimpleCNN")
