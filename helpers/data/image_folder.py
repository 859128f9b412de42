"""The image-folder dataset format: `<data_dir>/<split>/<class>/<image>`, decoded once and cached.

torchvision's ImageFolder layout, with splits `train`, `valid` and optionally `test`. Images are
decoded, converted to RGB and resized to `image_size`² once, then cached per split as one uint8
tensor [N, 3, H, W]; decoding JPEGs with PIL every epoch would cost several times the arithmetic
of a small CNN on two cores. With an empty `data_dir`, Sports-10 is searched where it usually lies.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd
import torch
from PIL import Image

from ..core.files import atomic_path, project_path, sha256_file, sha256_text
from ..core.reuse import reuse_key
from .decode import decode_file as decode_image
from .splits import DataError, DataSource, ImageSet, StudyData, channel_stats, subset
from .sports10 import DEFAULT_LOCATIONS, HOW_TO_GET_DATA


def find_data_dir(data_dir: str | None) -> Path:
    """Return the dataset root: `data_dir` if given, else the first known location that exists."""
    if data_dir:
        root = project_path(data_dir)
        if not (root / "train").is_dir():
            raise DataError(f"data_dir '{data_dir}' ({root}) has no train/ folder.\n{HOW_TO_GET_DATA}")
        return root
    for candidate in DEFAULT_LOCATIONS:
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
    files, labels, empty = [], [], []
    for label, name in enumerate(classes):
        class_dir = split_dir / name
        found_files = sorted(f for f in class_dir.iterdir() if f.is_file() and not f.name.startswith(".")) \
            if class_dir.is_dir() else []  # names starting with '.' are OS junk such as .DS_Store
        if not found_files:
            empty.append(name)
        files.extend(found_files)
        labels.extend([label] * len(found_files))
    if not files:
        raise DataError(f"split '{split}' ({split_dir}) contains no files")
    if empty:
        # a class without training images cannot be learned, and one missing from an evaluated
        # split leaves its accuracy and the confusion matrix's row undefined: both are errors
        raise DataError(f"split '{split}' ({split_dir}) has no images of class(es) {empty}: every class of train/ "
                        "needs images in every split (remove the class folder everywhere, or add its images)")
    return files, labels, classes


def files_fingerprint(root: Path, files: list[Path]) -> str:
    """Hash of names, sizes and modification times: cheap, and changes when a file does."""
    parts = []
    for f in files:
        st = f.stat()
        parts.append(f"{f.relative_to(root)}:{st.st_size}:{st.st_mtime_ns}")
    return sha256_text("\n".join(parts))


def _decode_all(root: Path, split: str, files: list[Path], labels: list[int], classes: list[str],
                image_size: int, on_bad_image: str) -> ImageSet:
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
    lost = sorted(set(classes[y] for y in labels) - set(classes[y] for y in kept_labels))
    if lost:
        raise DataError(f"split '{split}' of {root}: every image of class(es) {lost} was skipped as undecodable "
                        f"({len(bad)} skipped in all: {[b[0] for b in bad][:5]} ...)")
    return ImageSet(split, torch.stack(images), torch.tensor(kept_labels, dtype=torch.int64), kept_files, classes, bad)


def _cache_file(root: Path, split: str, files: list[Path], classes: list[str], image_size: int, on_bad_image: str,
                cache_dir: Path | None) -> Path | None:
    """Where the decoded tensors of these files are cached: keyed on the files, the size, the
    decoder's code and the classes."""
    if not cache_dir:
        return None
    key = reuse_key(code=[decode_image], files=files_fingerprint(root, files), image_size=image_size,
                    on_bad_image=on_bad_image, classes=classes)
    return cache_dir / f"{split}-{image_size}px-{key[:16]}.pt"


def _read_cache(cache_file: Path) -> tuple | None:
    """The cached (images, labels, files, classes, bad), or None after a warning naming the file when
    it is damaged (truncated, zeroed): a cache is rebuilt from the images, never trusted half-read."""
    try:
        c = torch.load(cache_file, weights_only=True)
        images, labels = c["images"], c["labels"]
        if images.dtype != torch.uint8 or images.ndim != 4 or not len(images) == len(labels) == len(c["files"]):
            raise ValueError(f"images {tuple(images.shape)} {images.dtype}, {len(labels)} labels")
        return images, labels, c["files"], c["classes"], [tuple(b) for b in c["bad"]]
    except Exception as e:  # torch.load raises several types for a damaged zip or pickle
        warnings.warn(f"decoded-image cache {cache_file} is damaged ({type(e).__name__}: {e}); decoding the "
                      "images again and rewriting it", stacklevel=3)
        return None


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
    files, labels = subset(files, labels, subset_per_class)
    cache_file = _cache_file(root, split, files, classes, image_size, on_bad_image, cache_dir)
    if cache_file and cache_file.exists():
        cached = _read_cache(cache_file)
        if cached is not None:
            return ImageSet(split, *cached)
    s = _decode_all(root, split, files, labels, classes, image_size, on_bad_image)
    if cache_file:
        with atomic_path(cache_file) as tmp:
            torch.save({"images": s.images, "labels": s.labels, "files": s.files,
                        "classes": s.classes, "bad": [list(b) for b in s.bad]}, tmp)
    return s


def count(data_dir: str | None, image_size: int, *, on_bad_image: str = "error", subset_per_class: int = 0,
          cache_dir: str | Path | None = None) -> tuple[dict[str, list[int]], int]:
    """What the run's plan needs before anything runs, from the file listing alone (nothing
    decoded): images per class of each split, and how many images are not in the decoded-image
    cache yet (they will be decoded)."""
    root = find_data_dir(data_dir)
    cache = project_path(cache_dir) if cache_dir else None
    counts, classes, to_decode = {}, None, 0
    for split in ("train", "valid", "test"):
        if split == "test" and not (root / "test").is_dir():
            continue
        files, labels, classes = list_split(root, split, classes)
        files, labels = subset(files, labels, subset_per_class)
        counts[split] = [labels.count(c) for c in range(len(classes))]
        cache_file = _cache_file(root, split, files, classes, image_size, on_bad_image, cache)
        to_decode += 0 if cache_file is not None and cache_file.exists() else len(files)
    return counts, to_decode


class ImageFolderSource(DataSource):
    """The files behind an image folder: headers, originals and byte-identical duplicates."""

    def __init__(self, root: Path):
        super().__init__(f"image folder {root}")
        self.root = root

    def storage(self, splits: dict[str, ImageSet]) -> pd.DataFrame:
        rows = []
        for s in splits.values():
            for rel in s.files:
                with Image.open(self.root / rel) as im:
                    rows.append({"split": s.split, "size": f"{im.width}x{im.height}", "mode": im.mode,
                                 "format": im.format})
        table = pd.DataFrame(rows)
        return table.groupby(["split", "size", "mode", "format"], sort=False).size().rename("images").reset_index()

    def original(self, image_set: ImageSet, index: int, size: int) -> torch.Tensor:
        return decode_image(self.root / image_set.files[index], size)

    def exact_duplicates(self, splits: dict[str, ImageSet]) -> list[list[str]]:
        groups: dict[str, list[str]] = {}
        for s in splits.values():
            for rel in s.files:
                groups.setdefault(sha256_file(self.root / rel), []).append(rel)
        return [g for g in groups.values() if len(g) > 1]


def load(data_dir: str | None, image_size: int, *, on_bad_image: str = "error", subset_per_class: int = 0,
         cache_dir: str | Path | None = None) -> StudyData:
    """All splits of an image folder; `test` is None when the folder has no test/ split."""
    root = find_data_dir(data_dir)
    cache = project_path(cache_dir) if cache_dir else None
    kw = dict(on_bad_image=on_bad_image, subset_per_class=subset_per_class, cache_dir=cache)
    train = load_split(root, "train", image_size, **kw)
    valid = load_split(root, "valid", image_size, classes=train.classes, **kw)
    test = load_split(root, "test", image_size, classes=train.classes, **kw) if (root / "test").is_dir() else None
    mean, std = channel_stats(train.images)
    return StudyData(root, train, valid, test, mean, std, ImageFolderSource(root))
