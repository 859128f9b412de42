"""The IDX format (MNIST, Fashion-MNIST) and the integrity checks at 70,000 images."""
import gzip
import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from helpers.data import DataError, load_dataset
from helpers.data.idx import FASHION_MNIST_CLASSES, read_idx
from helpers.data.integrity import near_duplicates


def write_idx(path, array: np.ndarray, compress: bool = True) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    raw = header + array.astype(np.uint8).tobytes()
    if compress:
        with gzip.open(path.with_name(path.name + ".gz"), "wb") as f:
            f.write(raw)
    else:
        path.write_bytes(raw)


def make_idx_set(root, n_train=60, n_test=20, compress=True, seed=0):
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    for stem, n in (("train", n_train), ("t10k", n_test)):
        labels = np.arange(n) % 10
        images = rng.integers(0, 256, (n, 28, 28))
        write_idx(root / f"{stem}-images-idx3-ubyte", images, compress)
        write_idx(root / f"{stem}-labels-idx1-ubyte", labels, compress)
    return root


def params(root, **kw):
    return {"dataset": "fashion_mnist", "data_dir": str(root), "image_size": 28, "on_bad_image": "error",
            "subset_per_class": 0, "cache_dir": "", "selection_per_class": 2, "selection_seed": 0, **kw}


@pytest.mark.parametrize("compress", [True, False])
def test_idx_files_load_as_grey_splits_with_the_test_images_reported(tmp_path, compress):
    root = make_idx_set(tmp_path / "fm", compress=compress)
    d = load_dataset(params(root))
    assert d.classes == list(FASHION_MNIST_CLASSES)
    assert d.train.images.shape == (40, 1, 28, 28) and d.train.images.dtype == torch.uint8
    assert len(d.selection) == 20 and len(d.valid) == 20 and d.test is None
    assert d.valid.files[0] == "t10k-00000" and "test (t10k) images are this study's reported split" in d.split_note
    raw = read_idx(root / ("train-images-idx3-ubyte" + (".gz" if compress else "")))
    assert torch.equal(d.valid.images[3, 0], torch.from_numpy(read_idx(next(root.glob("t10k-images*")))[3].copy()))
    assert raw.shape == (60, 28, 28)
    assert d.source.storage(d.splits())["format"].tolist() == ["IDX"] * 3


def test_idx_resizes_and_subsets(tmp_path):
    d = load_dataset(params(make_idx_set(tmp_path / "fm"), image_size=14, subset_per_class=4))
    assert d.train.images.shape[-1] == 14 and len(d.valid) == 20 and len(d.train) + len(d.selection) == 40


@pytest.mark.parametrize("damage, message", [
    (lambda b: b[:3], "not an IDX file"),
    (lambda b: b"\x00\x00\x0d\x03" + b[4:], "IDX type 0x0d"),
    (lambda b: b[:-5], "truncated"),
    (lambda b: b"\xff" + b[1:], "not an IDX file"),
])
def test_a_corrupt_idx_file_is_named(tmp_path, damage, message):
    root = make_idx_set(tmp_path / "fm", compress=False)
    f = root / "train-images-idx3-ubyte"
    f.write_bytes(damage(f.read_bytes()))
    with pytest.raises(DataError, match=message) as e:
        load_dataset(params(root))
    assert str(f) in str(e.value)


def test_a_truncated_gzip_and_mismatched_labels_are_named(tmp_path):
    root = make_idx_set(tmp_path / "fm")
    gz = root / "t10k-images-idx3-ubyte.gz"
    gz.write_bytes(gz.read_bytes()[:200])
    with pytest.raises(DataError, match="cannot read IDX file .*t10k-images"):
        load_dataset(params(root))
    root = make_idx_set(tmp_path / "fm2")
    write_idx(root / "train-labels-idx1-ubyte", np.zeros(59))
    with pytest.raises(DataError, match="holds 60 images but .*train-labels.* 59 labels"):
        load_dataset(params(root))


def test_missing_files_say_how_to_get_them(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="train-images-idx3-ubyte"):
        load_dataset(params(tmp_path / "empty"))


def test_blocked_near_duplicates_equal_the_full_matrix():
    rng = np.random.default_rng(1)
    hashes = rng.integers(0, 2**63, 300, dtype=np.int64).astype(np.uint64)
    hashes[100:140] = hashes[0] ^ (np.uint64(1) << rng.integers(0, 64, 40).astype(np.uint64))  # one-bit neighbours
    names = [f"i{k}" for k in range(300)]
    dist = np.bitwise_count(hashes[:, None] ^ hashes[None, :])
    ii, jj = np.nonzero(np.triu(dist <= 4, k=1))
    expected = [(names[i], names[j], int(dist[i, j])) for i, j in zip(ii, jj)]
    assert len(expected) > 40
    assert near_duplicates(hashes, names, 4, block=37) == expected


def test_the_pixel_check_keeps_copies_and_drops_hash_look_alikes():
    images = torch.zeros(4, 1, 28, 28, dtype=torch.uint8)
    images[0, :, :, :14] = 200
    images[1] = images[0]
    images[1, 0, 0, 0] = 190          # a copy with one pixel changed
    images[2, :, :, :14] = 120        # the same shape, darker: the same dHash, other pixels
    hashes = np.zeros(4, dtype=np.uint64)
    pairs = near_duplicates(hashes, list("abcd"), 0, images=images, max_pixel_distance=0.01)
    assert [(a, b) for a, b, _ in pairs] == [("a", "b")]
    assert len(near_duplicates(hashes, list("abcd"), 0)) == 6


SCALE_SCRIPT = r"""
import json, resource, sys, time
import numpy as np
sys.path.insert(0, sys.argv[2])
from tests.test_data_idx import make_idx_set, params
from pathlib import Path
from helpers.data import load_dataset
from helpers.study import data_overview
root = make_idx_set(Path(sys.argv[1]), n_train=60000, n_test=10000)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter()
d = load_dataset(params(root, selection_per_class=500))
d.valid.images[7] = d.train.images[11]        # a planted copy across splits
integrity = data_overview.check_integrity(d, 4, "error", 0.01)
counts = data_overview.class_counts(d)
print(json.dumps({"peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "before_mb": before / 1024,
                  "seconds": time.perf_counter() - t0, "near": len(integrity.near), "exact": len(integrity.exact),
                  "n": int(counts.iloc[-1, 1:].sum())}))
"""


def test_the_data_steps_run_on_70000_images_within_memory(tmp_path):
    """A1's data steps (load, selection split, counts, exact and near-duplicates) on 70,000 images:
    the near-duplicate search in blocks keeps the peak far below the 39 GB of a 70,000² matrix."""
    from helpers.core.files import ROOT
    out = subprocess.run([sys.executable, "-c", SCALE_SCRIPT, str(tmp_path / "big"), str(ROOT)],
                         capture_output=True, text=True, check=True, cwd=ROOT)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["n"] == 70000
    assert r["exact"] == 1 and r["near"] == 1  # the planted copy, found by both checks
    assert r["peak_mb"] < 2500, r
