import os
import shutil

from helpers.core.threads import THREAD_VARIABLES  # imports nothing heavy: numpy is not loaded yet

# Under pytest-xdist the workers share the cores: each (and every notebook kernel it starts) gets its
# share of threads, set before numpy or torch is imported. Two workers with two OpenMP threads each on
# two cores ran the study fixtures more than 10 times slower (spinning threads oversubscribed).
if os.environ.get("PYTEST_XDIST_WORKER_COUNT"):
    _share = str(max(1, (os.cpu_count() or 1) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"])))
    for _name in THREAD_VARIABLES:
        os.environ.setdefault(_name, _share)
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers.core.files import ROOT

CLASSES = ["cat", "dog", "owl"]
# The studies that module fixtures run once (minutes each), longest first. `make test` runs the suite on
# two workers (pytest-xdist, --dist loadfile: a file's tests share one worker, so each study runs once);
# the files of these studies go first so that they start at once instead of holding up the end.
STUDY_FIXTURES = ("smoke", "lenet")


def pytest_collection_modifyitems(config, items):
    rank = {}
    for item in items:
        used = [i for i, f in enumerate(STUDY_FIXTURES) if f in getattr(item, "fixturenames", ())]
        rank[item.path] = min([rank.get(item.path, len(STUDY_FIXTURES)), *used])
    items.sort(key=lambda item: rank[item.path])  # stable: each file keeps its order


def make_image_folder(root: Path, splits=("train", "valid"), per_class=4, size=40, seed=0) -> Path:
    """A tiny ImageFolder dataset of random JPEGs and PNGs (one greyscale image, to test RGB)."""
    rng = np.random.default_rng(seed)
    for split in splits:
        for c, name in enumerate(CLASSES):
            d = root / split / name
            d.mkdir(parents=True, exist_ok=True)
            for i in range(per_class):
                arr = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
                arr[..., c] = 200  # a class colour cue, so a model can learn something
                img = Image.fromarray(arr)
                if i == 0 and c == 0:
                    img.convert("L").save(d / f"{i}.png")
                else:
                    img.save(d / f"{i}.jpg", quality=90)
    return root


def tiny_study_data(root: Path, n: int, classes: list[str], channels: int = 3, size: int = 32):
    """`data.StudyData` of n random uint8 images (seeded), labels cycling through `classes`, one split
    serving as train, validation and selection: what a compression method's unit test trains on."""
    import torch

    from helpers.data import ImageSet, StudyData
    x = torch.randint(0, 255, (n, channels, size, size), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    split = ImageSet("train", x, torch.arange(n) % len(classes), [f"f{i}" for i in range(n)], classes)
    return StudyData(root, split, split, None, [0.5] * channels, [0.25] * channels, selection=split)


@pytest.fixture
def image_folder(tmp_path) -> Path:
    return make_image_folder(tmp_path / "data")


@pytest.fixture(scope="session")
def sports10() -> Path:
    """The real dataset when present beside the project (it is, on these machines and in CI)."""
    root = ROOT.parent / "shared" / "data" / "sports10"
    if not (root / "train").is_dir():
        pytest.skip("Sports-10 not found at ../shared/data/sports10")
    return root


def model_and_own_labels(n: int, classes: int = 3, size: int = 32):
    """An untrained SimpleCNN (seed 0, eval mode), n random uint8 images and the labels the model
    itself predicts: every input starts correctly classified, so every input can be attacked."""
    import torch

    from helpers.models import build_model

    torch.manual_seed(0)
    model = build_model("SimpleCNN", num_classes=classes).eval()
    images = torch.randint(0, 255, (n, 3, size, size), dtype=torch.uint8)
    with torch.no_grad():
        labels = model(images.float() / 255).argmax(1)
    return model, images, labels


def outcome_bits(n: int, right: int, start: int = 0) -> str:
    """A per-image outcome string over n images (`evaluation.paired.encode`): '1' on images
    start … start + right − 1, wrapping around."""
    return "".join("1" if (i - start) % n < right else "0" for i in range(n))


def make_explorer_run(pfile: Path, checkpoints: bool = True) -> Path:
    """What the explorer needs of a finished run, made in seconds beside `pfile` (its parameter
    file): a tiny image folder (16 px), SimpleCNN and ResNetSmall-w32 checkpoints (untrained but
    with BatchNorm statistics of the data, seeded) and an adversarially fine-tuned SimpleCNN.
    With `checkpoints` False only the parameters and data (then `ExplorerRun` must refuse)."""
    import torch
    import yaml

    from helpers.config.resolution import resolve
    from helpers.core.layout import RunLayout
    from helpers.data import load_dataset
    from helpers.explorer.run import ExplorerRun
    from helpers.models import build_model
    from helpers.models.checkpoints import save_checkpoint
    from helpers.study.training import arch_args

    base = pfile.parent
    values = {"run_dir": str(base / "run"), "data_dir": str(make_image_folder(base / "data", per_class=6, size=16)),
              "cache_dir": str(base / "cache"), "image_size": 16, "models": ["SimpleCNN", "ResNetSmall-w32"],
              "selection_per_class": 2, "attacks": ["fgsm", "pgd"], "attack_eps": [0.03], "pgd_steps": 5}
    pfile.write_text(yaml.safe_dump(values))
    if not checkpoints:
        ExplorerRun(str(pfile))
        return pfile
    params = resolve(str(pfile))
    data, layout = load_dataset(params), RunLayout.from_params(params)
    for name, seed, path in (("SimpleCNN", 0, layout.trained("SimpleCNN")), ("ResNetSmall-w32", 1,
                             layout.trained("ResNetSmall-w32")), ("SimpleCNN", 2, layout.hardened("SimpleCNN"))):
        torch.manual_seed(seed)
        model = build_model(name, **arch_args(name, data))
        with torch.no_grad():  # BatchNorm statistics of real inputs
            model.train()(data.train.images.float() / 255)
        save_checkpoint(path, model.eval(), name, arch_args(name, data))
    return pfile
