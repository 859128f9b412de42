"""Image folders decoded once into uint8 tensors, cached, and served as batches.

Layout: `<data_dir>/<split>/<class>/<image>` (torchvision's ImageFolder layout) with splits
`train`, `valid` and optionally `test`. Images are decoded, converted to RGB and resized to
`image_size`² once, then cached per split as one uint8 tensor [N, 3, H, W]; decoding JPEGs with
PIL every epoch would cost several times the arithmetic of a small CNN on two cores.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from PIL import Image

from .io import ROOT, atomic_path, project_path, sha256_file, sha256_text

SPLITS = ("train", "valid", "test")
SPORTS10_CLASSES = ("baseball", "basketball", "football", "golf", "hockey", "rugby", "swimming",
                    "tennis", "volleyball", "weightlifting")
KAGGLE_URL = "https://www.kaggle.com/datasets/gpiosenka/sports-classification"
CACHE_VERSION = 1

HOW_TO_GET_DATA = f"""The Sports-10 images were not found.
Get them from Kaggle's "100 Sports Image Classification" ({KAGGLE_URL}):
    kaggle datasets download gpiosenka/sports-classification      # or download archive.zip from the page
    python -m helpers.data build-sports10 sports-classification.zip data/sports10
which keeps the 10 classes of the study in train/ and valid/ (test/ with --with-test) and drops
training images that are byte-identical to validation or test images. Then run with
data_dir: data/sports10 (or leave data_dir empty: data/sports10 and ../shared/data/sports10 are
searched). Any folder in the ImageFolder layout <dir>/train/<class>/*.jpg works."""


class DataError(RuntimeError):
    """The data directory, a split or an image is missing or unreadable."""


def find_data_dir(data_dir: str | None) -> Path:
    """Return the dataset root: `data_dir` if given, else the first known location that exists."""
    if data_dir:
        root = project_path(data_dir)
        if not (root / "train").is_dir():
            raise DataError(f"data_dir '{data_dir}' ({root}) has no train/ folder.\n{HOW_TO_GET_DATA}")
        return root
    for candidate in (ROOT / "data" / "sports10", ROOT.parent / "shared" / "data" / "sports10"):
        if (candidate / "train").is_dir():
            return candidate.resolve()
    raise DataError(HOW_TO_GET_DATA)


def list_split(root: Path, split: str, classes: list[str] | None = None) -> tuple[list[Path], list[int], list[str]]:
    """Files and labels of one split, sorted; classes are the train split's folders."""
    split_dir = root / split
    if not split_dir.is_dir():
        raise DataError(f"split '{split}' not found: {split_dir} is not a directory")
    found = sorted(d.name for d in split_dir.iterdir() if d.is_dir() and not d.name.startswith("."))
    if classes is None:
        classes = found
    unknown = sorted(set(found) - set(classes))
    if unknown:
        raise DataError(f"{split_dir} has class folders not in train/: {unknown}")
    files, labels = [], []
    for label, name in enumerate(classes):
        class_dir = split_dir / name
        if not class_dir.is_dir():
            continue
        for f in sorted(class_dir.iterdir()):
            if f.is_file() and not f.name.startswith("."):  # skip OS junk such as .DS_Store
                files.append(f)
                labels.append(label)
    if not files:
        raise DataError(f"split '{split}' ({split_dir}) contains no files")
    return files, labels, classes


def decode_image(path: Path, size: int) -> torch.Tensor:
    """Decode one file to a uint8 tensor [3, size, size]; DataError naming the file if it fails."""
    try:
        with Image.open(path) as img:
            img.load()
            rgb = img.convert("RGB")
    except Exception as e:  # PIL raises several unrelated types for broken files
        raise DataError(f"cannot decode image {path}: {type(e).__name__}: {e}") from None
    if rgb.size != (size, size):
        rgb = rgb.resize((size, size), Image.Resampling.BILINEAR, reducing_gap=None)
    return torch.from_numpy(np.asarray(rgb).copy()).permute(2, 0, 1).contiguous()


@dataclass
class ImageSet:
    """One split in memory: images uint8 [N, 3, H, W], labels int64 [N], files relative to the root."""
    split: str
    images: torch.Tensor
    labels: torch.Tensor
    files: list[str]
    classes: list[str]
    bad: list[tuple[str, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.labels)

    def class_counts(self) -> list[int]:
        return torch.bincount(self.labels, minlength=len(self.classes)).tolist()


def _files_fingerprint(root: Path, files: list[Path], *extra: str) -> str:
    """Hash of names, sizes and modification times: cheap, and changes when a file does."""
    parts = list(extra)
    for f in files:
        st = f.stat()
        parts.append(f"{f.relative_to(root)}:{st.st_size}:{st.st_mtime_ns}")
    return sha256_text("\n".join(parts))


def data_fingerprint(root: Path) -> str:
    """Fingerprint of every file under the dataset root."""
    return _files_fingerprint(root, sorted(p for p in root.rglob("*") if p.is_file()))


def load_split(root: Path, split: str, image_size: int, *, classes: list[str] | None = None,
               on_bad_image: str = "error", subset_per_class: int = 0,
               cache_dir: Path | None = None) -> ImageSet:
    """Decode (or read from cache) one split.

    on_bad_image: "error" raises DataError naming the first undecodable file; "skip" leaves such
    files out and lists them in `ImageSet.bad` as (file, reason).
    subset_per_class: keep only the first k files of each class (0 = all), for smoke runs.
    """
    if on_bad_image not in ("error", "skip"):
        raise ValueError(f"on_bad_image must be 'error' or 'skip', not {on_bad_image!r}")
    files, labels, classes = list_split(root, split, classes)
    if subset_per_class:
        taken: dict[int, int] = defaultdict(int)
        keep = []
        for f, y in zip(files, labels):
            if taken[y] < subset_per_class:
                taken[y] += 1
                keep.append((f, y))
        files, labels = [f for f, _ in keep], [y for _, y in keep]
    key = _files_fingerprint(root, files, f"v{CACHE_VERSION}", str(image_size), on_bad_image)
    cache_file = cache_dir / f"{split}-{image_size}px-{key[:16]}.pt" if cache_dir else None
    if cache_file and cache_file.exists():
        c = torch.load(cache_file, weights_only=True)
        return ImageSet(split, c["images"], c["labels"], c["files"], c["classes"],
                        [tuple(b) for b in c["bad"]])
    images, kept_labels, kept_files, bad = [], [], [], []
    for f, y in zip(files, labels):
        rel = str(f.relative_to(root))
        try:
            images.append(decode_image(f, image_size))
        except DataError as e:
            if on_bad_image == "error":
                raise DataError(f"{e}\n(set on_bad_image: skip to leave such files out and list them)") from None
            bad.append((rel, str(e).split(": ", 1)[-1]))
            continue
        kept_labels.append(y)
        kept_files.append(rel)
    if not images:
        raise DataError(f"split '{split}' of {root}: no decodable image")
    s = ImageSet(split, torch.stack(images), torch.tensor(kept_labels, dtype=torch.int64),
                 kept_files, classes, bad)
    if cache_file:
        with atomic_path(cache_file) as tmp:
            torch.save({"images": s.images, "labels": s.labels, "files": s.files,
                        "classes": s.classes, "bad": [list(b) for b in s.bad]}, tmp)
    return s


@dataclass
class StudyData:
    root: Path
    train: ImageSet
    valid: ImageSet
    test: ImageSet | None
    mean: list[float]
    std: list[float]

    @property
    def classes(self) -> list[str]:
        return self.train.classes

    def splits(self) -> dict[str, ImageSet]:
        out = {"train": self.train, "valid": self.valid}
        if self.test is not None:
            out["test"] = self.test
        return out


def channel_stats(images: torch.Tensor) -> tuple[list[float], list[float]]:
    """Per-channel mean and std of uint8 images [N, 3, H, W] in [0, 1] units."""
    x = images.to(torch.float64).div_(255)
    return x.mean(dim=(0, 2, 3)).tolist(), x.std(dim=(0, 2, 3)).tolist()


def load_data(data_dir: str | None, image_size: int, *, on_bad_image: str = "error",
              subset_per_class: int = 0, cache_dir: str | Path | None = None) -> StudyData:
    """All splits of the dataset; `test` is None when the folder has no test/ split."""
    root = find_data_dir(data_dir)
    cache = project_path(cache_dir) if cache_dir else None
    kw = dict(on_bad_image=on_bad_image, subset_per_class=subset_per_class, cache_dir=cache)
    train = load_split(root, "train", image_size, **kw)
    valid = load_split(root, "valid", image_size, classes=train.classes, **kw)
    test = (load_split(root, "test", image_size, classes=train.classes, **kw)
            if (root / "test").is_dir() else None)
    mean, std = channel_stats(train.images)
    return StudyData(root, train, valid, test, mean, std)


def batches(images: torch.Tensor, labels: torch.Tensor, batch_size: int, *, shuffle: bool = False,
            generator: torch.Generator | None = None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield (x float32 [B, 3, H, W] in [0, 1], y int64 [B]) from uint8 images (scaled by 1/255)
    or from float images already in [0, 1] (e.g. adversarial inputs)."""
    n = len(labels)
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    for start in range(0, n, batch_size):
        idx = order[start:start + batch_size]
        x = images[idx]
        yield (x.float().div_(255) if x.dtype == torch.uint8 else x.float()), labels[idx]


# --- building the Sports-10 layout from the Kaggle archive -------------------------------------

def build_sports10(archive: Path, out: Path, with_test: bool = False) -> dict[str, int]:
    """Copy the 10 study classes from the Kaggle archive (zip or extracted folder) into `out`.

    Training images byte-identical to a validation/test image are dropped (the source leaks five).
    Returns the number of images written per split.
    """
    if out.exists():
        raise DataError(f"{out} already exists; remove it or choose another output folder")
    splits = ("train", "valid", "test") if with_test else ("train", "valid")
    staging = out.with_name(out.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    if archive.is_file():
        with zipfile.ZipFile(archive) as z:
            wanted = [n for n in z.namelist()
                      if len(Path(n).parts) >= 3 and Path(n).parts[-3] in splits
                      and Path(n).parts[-2] in SPORTS10_CLASSES and not n.endswith("/")]
            if not wanted:
                raise DataError(f"{archive} holds no <split>/<class>/ image of the 10 classes")
            for name in wanted:
                split, cls, fname = Path(name).parts[-3:]
                dest = staging / split / cls / fname
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(z.read(name))
    elif archive.is_dir():
        for split in splits:
            for cls in SPORTS10_CLASSES:
                src = archive / split / cls
                if not src.is_dir():
                    raise DataError(f"{src} not found: is {archive} the extracted Kaggle archive?")
                shutil.copytree(src, staging / split / cls)
    else:
        raise DataError(f"archive {archive} does not exist")
    held_out = {sha256_file(f) for s in splits if s != "train" for f in (staging / s).rglob("*") if f.is_file()}
    for f in sorted((staging / "train").rglob("*")):
        if f.is_file() and sha256_file(f) in held_out:
            f.unlink()
    lines = [f"{sha256_file(f)}  ./{f.relative_to(staging)}"
             for f in sorted(staging.rglob("*")) if f.is_file()]
    (staging / "SHA256SUMS").write_text("\n".join(lines) + "\n")
    os.replace(staging, out)
    return {s: sum(1 for f in (out / s).rglob("*") if f.is_file()) for s in splits}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.data")
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build-sports10", help="build data/sports10 from the Kaggle archive")
    b.add_argument("archive", type=Path, help="the downloaded zip, or its extracted folder")
    b.add_argument("out", type=Path, help="output folder, e.g. data/sports10")
    b.add_argument("--with-test", action="store_true", help="also copy the test split")
    args = parser.parse_args(argv)
    try:
        counts = build_sports10(args.archive, args.out, args.with_test)
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(", ".join(f"{k}: {v} images" for k, v in counts.items()), f"-> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
