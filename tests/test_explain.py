import pytest
import torch
import torch.nn.functional as F
from captum import attr as captum_attr

from helpers import explain
from helpers.models import build_model



def _model(name):
    torch.manual_seed(0)
    m = build_model(name, num_classes=5)
    with torch.no_grad():  # realistic BatchNorm statistics, then train mode to check it is restored
        m.train()(torch.rand(16, 3, 32, 32))
    return m


@pytest.mark.parametrize("name", ["SimpleCNN", "ResNetSmall"])
def test_saliency_matches_captum(name):
    m = _model(name)
    x, t = torch.rand(4, 3, 32, 32), torch.tensor([0, 1, 2, 3])
    ours = explain.saliency(m, x, t)
    assert ours.shape == (4, 32, 32) and m.training
    ref = captum_attr.Saliency(m.eval()).attribute(x, target=t, abs=True).amax(1)
    assert torch.allclose(ours, ref, atol=1e-6)


@pytest.mark.parametrize("name", ["SimpleCNN", "ResNetSmall"])
def test_gradcam_matches_captum_layer_gradcam(name):
    m = _model(name)
    x, t = torch.rand(4, 3, 32, 32), torch.tensor([4, 3, 2, 1])
    ours = explain.gradcam(m, x, t)
    assert ours.shape == (4, 32, 32) and m.training
    layer = explain.gradcam_layer(m)
    raw = captum_attr.LayerGradCam(m.eval(), layer).attribute(x, target=t, relu_attributions=True)
    assert raw.shape[-1] >= 4 and raw.shape[-2] >= 4  # the map is at least 4×4
    # pytorch-grad-cam scales to [0, 1], resizes, and scales again after resizing
    ref = _minmax(F.interpolate(_minmax(raw), size=(32, 32), mode="bilinear", align_corners=False))[:, 0]
    assert torch.allclose(ours, ref.detach(), atol=1e-4)


def _minmax(a):
    a = a - a.amin(dim=(1, 2, 3), keepdim=True)
    return a / (a.amax(dim=(1, 2, 3), keepdim=True) + 1e-7)


def test_every_map_gets_a_colorbar_and_the_figure_prints_at_its_size():
    from helpers.report import figures
    image, sal, cam = torch.rand(3, 16, 16), torch.rand(16, 16) * 0.01, torch.rand(16, 16)
    rows = [{"image": image, "title": "cat\nvalid/cat/0.jpg", "maps": [("A\nsaliency\nfor cat", sal, "saliency"),
                                                                      ("A\nGrad-CAM\nfor cat", cam, "gradcam")]}]
    fig = figures.explanation_rows(rows * 2)
    colorbars = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
    assert len(colorbars) == 4  # one per saliency and Grad-CAM map, none on the image
    assert fig.get_size_inches()[0] <= 6.1  # 0.9 of the text width: drawn at print size, the text stays at 7.5 pt
    assert min(t.get_fontsize() for ax in fig.axes for t in ax.get_yticklabels() + [ax.title]) >= 7
