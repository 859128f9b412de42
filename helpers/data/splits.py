"""What every dataset format delivers: splits as uint8 tensors, and the batches cut from them.

A dataset module (see `helpers.data`) turns its files into a `StudyData`: per split an `ImageSet`
of images uint8 [N, C, H, W] (C = 3 for colour, 1 for grey) with labels int64 [N], the class
names, the training set's per-channel mean and standard deviation (the models normalize with them
in their first layer), and a `DataSource` that answers what only the files know (their stored
sizes and formats, the original images, byte-identical duplicates).

The protocol has three roles for data: models train on `train`; every choice (early stopping, kept
epochs, which compressed models to examine, the deployment rule) is made on `selection`, a
stratified split carved reproducibly from the dataset's training images (`carve_selection`); the
dataset's `valid` (and `test`, when present) split is touched only to report.
"""
from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterator

import pandas as pd
import torch
import torch.nn.functional as F


class DataError(RuntimeError):
    """The data directory, a split or an image is missing or unreadable."""


@dataclass
class ImageSet:
    """One split in memory: images uint8 [N, C, H, W], labels int64 [N], a name per image."""
    split: str
    images: torch.Tensor
    labels: torch.Tensor
    files: list[str]
    classes: list[str]
    bad: list[tuple[str, str]] = field(default_factory=list)  # (file, reason) of skipped files

    def __len__(self) -> int:
        return len(self.labels)

    def class_counts(self) -> list[int]:
        return torch.bincount(self.labels, minlength=len(self.classes)).tolist()

    def float_images(self, index: slice | int | torch.Tensor = slice(None)) -> torch.Tensor:
        """Images as float in [0, 1], the models' input."""
        x = self.images[index]
        return x.float().div(255)


class DataSource:
    """What the stored files say beyond the decoded tensors. This default reads the tensors only;
    a format with files to look at (image folders) overrides it."""

    def __init__(self, description: str):
        self.description = description

    def storage(self, splits: dict[str, ImageSet]) -> pd.DataFrame:
        """Images per split, stored size, colour mode and format."""
        rows = [{"split": s.split, "size": f"{s.images.shape[-1]}x{s.images.shape[-2]}",
                 "mode": "L" if s.images.shape[1] == 1 else "RGB", "format": "tensor", "images": len(s)}
                for s in splits.values()]
        return pd.DataFrame(rows)

    def original(self, image_set: ImageSet, index: int, size: int) -> torch.Tensor:
        """Image `index` of a split for display, uint8 [C, size, size]."""
        x = image_set.images[index: index + 1].float()
        return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)[0].round().byte()

    def exact_duplicates(self, splits: dict[str, ImageSet]) -> list[list[str]]:
        """Groups (size ≥ 2) of '<split>/<name>' whose stored content is identical."""
        groups: dict[str, list[str]] = defaultdict(list)
        for s in splits.values():
            for name, img in zip(s.files, s.images):
                groups[hashlib.sha256(img.numpy().tobytes()).hexdigest()].append(f"{s.split}/{name}")
        return [g for g in groups.values() if len(g) > 1]


@dataclass
class StudyData:
    """The splits of a study. `selection` is None only until `carve_selection` made it (a dataset
    loader returns train, valid and test; `helpers.data.load_dataset` carves the selection)."""
    root: Path
    train: ImageSet
    valid: ImageSet
    test: ImageSet | None
    mean: list[float]
    std: list[float]
    source: DataSource = field(default_factory=lambda: DataSource("tensors"))
    selection: ImageSet | None = None
    split_note: str = ""  # where the splits come from when the format's own names differ from the study's roles

    @property
    def classes(self) -> list[str]:
        return self.train.classes

    @property
    def channels(self) -> int:
        return int(self.train.images.shape[1])

    @property
    def image_size(self) -> int:
        return int(self.train.images.shape[-1])

    def splits(self) -> dict[str, ImageSet]:
        """train, selection (once carved), valid and test (when present), in that order."""
        out = {"train": self.train}
        if self.selection is not None:
            out["selection"] = self.selection
        out["valid"] = self.valid
        if self.test is not None:
            out["test"] = self.test
        return out

    def content_key(self) -> str:
        """Digest of every split's images and labels: what a trained model depends on."""
        if not hasattr(self, "_content_key"):
            h = hashlib.sha256()
            for s in self.splits().values():
                h.update(s.split.encode())
                h.update(s.images.numpy().tobytes())
                h.update(s.labels.numpy().tobytes())
            self._content_key = h.hexdigest()
        return self._content_key


def channel_stats(images: torch.Tensor) -> tuple[list[float], list[float]]:
    """Per-channel mean and std of uint8 images [N, C, H, W] in [0, 1] units."""
    x = images.to(torch.float64).div_(255)
    return x.mean(dim=(0, 2, 3)).tolist(), x.std(dim=(0, 2, 3)).tolist()


def _take(s: ImageSet, index: torch.Tensor, split: str) -> ImageSet:
    return ImageSet(split, s.images[index], s.labels[index], [s.files[i] for i in index.tolist()], s.classes,
                    s.bad if split == "train" else [])


def carve_selection(data: StudyData, per_class: int, seed: int) -> StudyData:
    """Move `per_class` images of every class, drawn with `seed`, from `data.train` into a new
    `selection` split (order within each split kept); the normalization statistics are recomputed
    on what remains for training. The same data, per_class and seed give the same split on every
    machine (torch's CPU generator). Raises DataError when a class has too few training images to
    keep at least one for training."""
    if per_class < 1:
        raise DataError(f"parameter 'selection_per_class' is {per_class}: every choice needs a selection split "
                        "of at least one image per class")
    counts = data.train.class_counts()
    short = [f"{c} ({n})" for c, n in zip(data.classes, counts) if n <= per_class]
    if short:
        raise DataError(f"parameter 'selection_per_class' is {per_class}, but these classes have no more training "
                        f"images than that: {', '.join(short)}; lower it (or add images)")
    gen = torch.Generator().manual_seed(seed)
    labels = data.train.labels
    chosen = torch.cat([torch.nonzero(labels == c).flatten()[torch.randperm(n, generator=gen)[:per_class]]
                        for c, n in enumerate(counts) if n])
    keep = torch.ones(len(labels), dtype=torch.bool)
    keep[chosen] = False
    selection = _take(data.train, torch.sort(chosen).values, "selection")
    train = _take(data.train, torch.nonzero(keep).flatten(), "train")
    mean, std = channel_stats(train.images)
    return replace(data, train=train, selection=selection, mean=mean, std=std)


def stratified_subset(s: ImageSet, per_class: int, seed: int) -> ImageSet:
    """`per_class` images of every class of `s` (all of a class that has fewer), drawn with `seed`,
    in their order in `s`; `s` itself when per_class is 0 or no class has more. The same split,
    per_class and seed give the same images on every machine (torch's CPU generator)."""
    counts = s.class_counts()
    if per_class <= 0 or max(counts) <= per_class:
        return s
    gen = torch.Generator().manual_seed(seed)
    chosen = torch.cat([torch.nonzero(s.labels == c).flatten()[torch.randperm(n, generator=gen)[:per_class]]
                        for c, n in enumerate(counts) if n])
    return _take(s, torch.sort(chosen).values, s.split)


def subset(files: list, labels: list[int], per_class: int) -> tuple[list, list[int]]:
    """The first `per_class` items of each class (0 keeps all), order kept; for smoke runs."""
    if not per_class:
        return files, labels
    taken: dict[int, int] = defaultdict(int)
    keep = []
    for f, y in zip(files, labels):
        if taken[y] < per_class:
            taken[y] += 1
            keep.append((f, y))
    return [f for f, _ in keep], [y for _, y in keep]


def batches(images: torch.Tensor, labels: torch.Tensor, batch_size: int, *, shuffle: bool = False,
            generator: torch.Generator | None = None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield (x float32 [B, C, H, W] in [0, 1], y int64 [B]) from uint8 images (scaled by 1/255)
    or from float images already in [0, 1] (e.g. adversarial inputs)."""
    n = len(labels)
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    for start in range(0, n, batch_size):
        idx = order[start:start + batch_size]
        x = images[idx]
        yield (x.float().div_(255) if x.dtype == torch.uint8 else x.float()), labels[idx]
