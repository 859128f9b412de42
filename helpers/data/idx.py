"""The IDX format (LeCun's MNIST files) for grey images, and the two data sets stored in it.

An IDX file is a 4-byte magic number (two zero bytes, a type code, 0x08 for unsigned bytes, and the
number of dimensions), one big-endian uint32 per dimension, then the values in C order. MNIST and
Fashion-MNIST (Xiao et al. 2017, "Fashion-MNIST: a Novel Image Dataset for Benchmarking Machine
Learning Algorithms") ship four of them, each optionally gzip-compressed:

    train-images-idx3-ubyte[.gz]  [60000, 28, 28]     train-labels-idx1-ubyte[.gz]  [60000]
    t10k-images-idx3-ubyte[.gz]   [10000, 28, 28]     t10k-labels-idx1-ubyte[.gz]   [10000]

The study's roles: the selection split is carved from the 60,000 training images (like every
format's), and the 10,000 test images are the reported split. The study calls the reported split
`valid` whatever its origin; `StudyData.split_note` says where it comes from, and A1 prints it.
"""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from ..core.files import project_path
from .splits import DataError, DataSource, ImageSet, StudyData, channel_stats, subset

FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                         "Ankle boot")
MNIST_CLASSES = tuple(str(d) for d in range(10))
# searched in this order when data_dir is empty (the Debian package dataset-fashion-mnist installs the first)
FASHION_MNIST_LOCATIONS = (Path("/usr/share/datasets/fashion-mnist"), Path("data/fashion-mnist"))
MNIST_LOCATIONS = (Path("data/mnist"),)
# the reported split is the files' test set (t10k)
FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
         "valid": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
_UNSIGNED_BYTE = 0x08

HOW_TO_GET = {
    "fashion_mnist": "Fashion-MNIST was not found. On Debian or Ubuntu: apt-get install dataset-fashion-mnist "
                     "(the Makefile does this), which puts its four IDX files under /usr/share/datasets/fashion-mnist/; "
                     "or set data_dir to a folder holding train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
                     "t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz (from "
                     "https://github.com/zalandoresearch/fashion-mnist).",
    "mnist": "MNIST was not found: set data_dir to a folder holding its four IDX files (train-images-idx3-ubyte, "
             "train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, each optionally .gz), "
             "or put them under data/mnist/.",
}


def read_idx(path: Path) -> np.ndarray:
    """The uint8 array an IDX file holds ([N] labels or [N, H, W] images); DataError naming the file
    when its header, type or length is not that of an unsigned-byte IDX file."""
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as e:  # gzip raises BadGzipFile (an OSError) or EOFError when truncated
        raise DataError(f"cannot read IDX file {path}: {type(e).__name__}: {e}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise DataError(f"{path} is not an IDX file: its first bytes are {raw[:4].hex() or 'missing'}, not 0000xxxx")
    dtype, ndim = raw[2], raw[3]
    if dtype != _UNSIGNED_BYTE or not 1 <= ndim <= 3:
        raise DataError(f"{path}: IDX type 0x{dtype:02x} with {ndim} dimensions; expected unsigned bytes (0x08) "
                        "in 1 (labels) or 3 (images) dimensions")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: the header is cut short ({len(raw)} bytes, needs {header})")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(shape))
    if len(raw) != expected:
        raise DataError(f"{path}: the header declares shape {shape}, i.e. {expected} bytes, but the file holds "
                        f"{len(raw)} (truncated or not an IDX file)")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def _find_file(root: Path, stem: str) -> Path:
    for name in (stem + ".gz", stem):
        if (root / name).is_file():
            return root / name
    raise DataError(f"{root} has no {stem}.gz (or {stem}): an IDX data set needs its four files")


def find_idx_dir(data_dir: str | None, dataset: str = "fashion_mnist") -> Path:
    """The folder with the four IDX files: `data_dir`, else the first known location holding them."""
    if data_dir:
        root = project_path(data_dir)
        if not root.is_dir():
            raise DataError(f"data_dir '{data_dir}' ({root}) is not a folder.\n{HOW_TO_GET[dataset]}")
        _find_file(root, FILES["train"][0])
        return root
    for candidate in FASHION_MNIST_LOCATIONS if dataset == "fashion_mnist" else MNIST_LOCATIONS:
        root = candidate if candidate.is_absolute() else project_path(str(candidate))
        if root.is_dir() and any((root / (FILES["train"][0] + s)).is_file() for s in (".gz", "")):
            return root
    raise DataError(HOW_TO_GET[dataset])


def load_idx_split(root: Path, split: str, classes: tuple[str, ...], image_size: int,
                   subset_per_class: int = 0) -> ImageSet:
    """One split as an ImageSet of uint8 [N, 1, image_size, image_size]; names are '<file set>-<index>'."""
    images_file, labels_file = (_find_file(root, stem) for stem in FILES[split])
    images, labels = read_idx(images_file), read_idx(labels_file)
    if images.ndim != 3 or labels.ndim != 1:
        raise DataError(f"{images_file} must hold [N, H, W] images and {labels_file} [N] labels; "
                        f"they hold {images.shape} and {labels.shape}")
    if len(images) != len(labels):
        raise DataError(f"{images_file} holds {len(images)} images but {labels_file} {len(labels)} labels")
    if labels.size and int(labels.max()) >= len(classes):
        raise DataError(f"{labels_file} has label {int(labels.max())}; the data set has {len(classes)} classes")
    prefix = "train" if split == "train" else "t10k"
    index, kept_labels = subset(list(range(len(labels))), labels.tolist(), subset_per_class)
    x = torch.from_numpy(images[index].copy()).unsqueeze(1)
    if x.shape[-1] != image_size or x.shape[-2] != image_size:
        x = F.interpolate(x.float(), size=(image_size, image_size), mode="bilinear", align_corners=False,
                          antialias=True).round().clamp(0, 255).byte()
    return ImageSet(split, x.contiguous(), torch.tensor(kept_labels, dtype=torch.int64),
                    [f"{prefix}-{i:05d}" for i in index], list(classes))


class IdxSource(DataSource):
    """What the IDX files say: one stored size and mode, grey 8-bit, for every image."""

    def __init__(self, root: Path, native: dict[str, tuple[int, int]]):
        super().__init__(f"IDX files in {root}")
        self.native = native

    def storage(self, splits: dict[str, ImageSet]) -> pd.DataFrame:
        rows = []
        for s in splits.values():
            h, w = self.native["valid" if s.split == "valid" else "train"]
            rows.append({"split": s.split, "size": f"{w}x{h}", "mode": "L", "format": "IDX", "images": len(s)})
        return pd.DataFrame(rows)


def _load(dataset: str, classes: tuple[str, ...], data_dir: str | None, image_size: int, *,
          on_bad_image: str = "error", subset_per_class: int = 0, cache_dir=None) -> StudyData:
    """Both file sets of an IDX data set; the t10k images are the reported split (`valid`), and
    there is no separate test split. `on_bad_image` and `cache_dir` do not apply: an IDX file is
    read whole (a broken one is an error naming it), in well under a second."""
    del on_bad_image, cache_dir
    root = find_idx_dir(data_dir, dataset)
    train = load_idx_split(root, "train", classes, image_size, subset_per_class)
    valid = load_idx_split(root, "valid", classes, image_size, subset_per_class)
    mean, std = channel_stats(train.images)
    native = {s: tuple(read_idx(_find_file(root, FILES[s][0])).shape[1:]) for s in FILES}
    note = (f"The files' {len(valid)} test (t10k) images are this study's reported split, called the validation "
            "split in this report; the selection split is carved from the training images.")
    return StudyData(root, train, valid, None, mean, std, IdxSource(root, native), split_note=note)


def load_fashion_mnist(data_dir: str | None, image_size: int, **kw) -> StudyData:
    """Fashion-MNIST: 28×28 grey images of 10 kinds of clothing, 60,000 training and 10,000 test."""
    return _load("fashion_mnist", FASHION_MNIST_CLASSES, data_dir, image_size, **kw)


def load_mnist(data_dir: str | None, image_size: int, **kw) -> StudyData:
    """MNIST: 28×28 grey handwritten digits, 60,000 training and 10,000 test, from a user's IDX files."""
    return _load("mnist", MNIST_CLASSES, data_dir, image_size, **kw)
