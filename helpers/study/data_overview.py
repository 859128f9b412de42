"""A1, the data: class counts, what the images look like, preprocessing and augmentation, and
integrity (undecodable files, exact and near-duplicates)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from ..data.augment import augment
from ..data.integrity import dhash, near_duplicates
from ..report import figures
from ..report.wording import joined, noun


def class_counts(data) -> pd.DataFrame:
    """Images per class (rows, plus 'total') and split (columns)."""
    counts = pd.DataFrame({name: s.class_counts() for name, s in data.splits().items()}, index=data.classes)
    counts.loc["total"] = counts.sum()
    return counts.rename_axis("class").reset_index()


def counts_figure(data):
    return figures.grouped_bars({n: s.class_counts() for n, s in data.splits().items()}, data.classes, "images")


def describe_counts(data) -> str:
    train = pd.Series(data.train.class_counts(), index=data.classes)
    return (f"The data set `{data.root.name}` has {len(data.classes)} classes, "
            + ", ".join(f"{len(s)} {n}" for n, s in data.splits().items()) + " images. "
            f"Training classes hold {train.min()} to {train.max()} images "
            f"(imbalance ratio {train.max() / train.min():.2f}); "
            + ("there is a test split." if data.test is not None else
               "there is no test split, so validation accuracy is the held-out figure of this study.")
            + (f" {data.split_note}" if data.split_note else ""))


def samples_figure(data, size: int = 160):
    """The first training image of every class, from the stored original."""
    labels = data.train.labels.tolist()
    originals = [data.source.original(data.train, labels.index(c), size) for c in range(len(data.classes))]
    return figures.image_grid(originals, data.classes, ncols=5)


def channel_names(data) -> list[str]:
    return ["red", "green", "blue"] if data.channels == 3 else ["grey"]


def channel_table(data) -> pd.DataFrame:
    return pd.DataFrame({"channel": channel_names(data), "mean": data.mean, "std": data.std})


def pixel_histogram(data):
    """Pixel values per channel of the training images (every 4th pixel)."""
    sample = data.train.float_images()[:, :, ::4, ::4]
    return figures.histogram({c: sample[:, i].flatten().numpy() for i, c in enumerate(channel_names(data))},
                             "pixel value", title="training pixel values per channel")


def brightness_table(data) -> pd.DataFrame:
    """Mean pixel value of each class's training images."""
    brightness = data.train.float_images().mean(dim=(1, 2, 3))
    return pd.DataFrame({"class": data.classes, "mean brightness": [
        brightness[data.train.labels == c].mean().item() for c in range(len(data.classes))]})


def describe_storage(storage: pd.DataFrame, brightness: pd.DataFrame) -> str:
    b = brightness.set_index("class")["mean brightness"]
    sizes, modes = storage["size"].unique(), storage["mode"].unique()
    return (f"Every stored image is {joined(sizes, 'or')} pixels in {noun(len(modes), 'mode')} {joined(modes)}. The brightest class on average is {b.idxmax()} "
            f"({b.max():.3f}), the darkest {b.idxmin()} ({b.min():.3f}): brightness alone carries some "
            f"class information, which colour jitter during training makes less reliable to use.")


def preprocessing_text(params: dict[str, Any]) -> str:
    size, rot, scale, shift, jit = (params[k] for k in ("image_size", "rotation_deg", "scale", "translate", "jitter"))
    text = (f"Every image goes through the same fixed steps once: decode, convert to the dataset's colour mode, "
            f"resize to {size}x{size} pixels (bilinear) where it is stored at another size, store as uint8. The "
            f"tensors become floats in $[0, 1]$ per batch. Normalization, $(x - \\mu) / \\sigma$ per channel with the "
            f"training statistics above, is the first layer of every model, so attacks and saliency later work in "
            f"pixel space. ")
    if not params["augment"]:
        return text + "The models train on the images as they are, without augmentation."
    return (text + f"During training only, each image of a batch gets its own random horizontal flip, "
            f"rotation $\\theta \\sim U[-{rot:g}°, {rot:g}°]$"
            + (f", zoom $\\sim U[{1 - scale:g}, {1 + scale:g}]$" if scale else "")
            + (f", shift of up to {shift:.0%} of the image per axis" if shift else "")
            + f" and colour jitter (brightness, contrast and saturation factors $\\sim U[{1 - jit:g}, {1 + jit:g}]$), "
            "computed on the whole batch at once ([Figure](#fig:A1_augmentation) shows random augmentations of four "
            "training images).")


def augmentation_figure(data, params: dict[str, Any], shown: int = 4, variants: int = 5):
    """`shown` training images (evenly spaced) and `variants` random augmentations of each."""
    gen = torch.Generator().manual_seed(params["seed"])
    picks = torch.linspace(0, len(data.train) - 1, shown).long().tolist()
    jit = params["jitter"]
    images, titles = [], []
    for i in picks:
        x0 = data.train.float_images(i)
        batch = augment(x0.expand(variants, -1, -1, -1).clone(), rotation_deg=params["rotation_deg"],
                        scale=params["scale"], translate=params["translate"], brightness=jit, contrast=jit,
                        saturation=jit, generator=gen)
        images += [x0, *batch]
        titles += [f"{data.classes[data.train.labels[i]]}\n(input)"] + [f"augmented {k}" for k in range(1, variants + 1)]
    return figures.image_grid(images, titles, ncols=variants + 1, size=1.6, text_lines=2)


NEAR_SHOWN = 25  # near-duplicate pairs listed in the report's table (all of them are in the metrics)


@dataclass
class Integrity:
    bad: pd.DataFrame        # split, file, reason of each undecodable (skipped) file
    exact: list[list[str]]   # groups of byte-identical files
    near: pd.DataFrame       # image a, image b, distance, where
    text: str                # the sentence that reports them

    @property
    def near_across_splits(self) -> int:
        return int(self.near["where"].str.startswith("across").sum()) if len(self.near) else 0


def check_integrity(data, near_dup_distance: int, on_bad_image: str, near_dup_pixel_distance: float = 0.0) -> Integrity:
    """Undecodable files, exact duplicates and near-duplicates (dHash within `near_dup_distance` bits
    and, when `near_dup_pixel_distance` > 0, a mean absolute pixel difference within it)."""
    splits = data.splits()
    bad = pd.DataFrame([(s.split, f, why) for s in splits.values() for f, why in s.bad],
                       columns=["split", "file", "reason"])
    exact = data.source.exact_duplicates(splits)
    names = [f"{s.split}/{f}" if not f.startswith(f"{s.split}/") else f for s in splits.values() for f in s.files]
    hashes = np.concatenate([dhash(s.images) for s in splits.values()])
    pixels = torch.cat([s.images for s in splits.values()]) if near_dup_pixel_distance > 0 else None
    near = pd.DataFrame(near_duplicates(hashes, names, near_dup_distance, images=pixels,
                                        max_pixel_distance=near_dup_pixel_distance),
                        columns=["image a", "image b", "distance"])
    split_of = lambda f: f.split("/", 1)[0]  # noqa: E731
    near["where"] = [f"across {' and '.join(sorted({split_of(a), split_of(b)}))}" if split_of(a) != split_of(b)
                     else f"within {split_of(a)}" for a, b in zip(near["image a"], near["image b"])]
    result = Integrity(bad, exact, near, "")
    policy = ("an undecodable file would stop the run" if on_bad_image == "error"
              else "undecodable files are skipped" + (" and listed in [Table](#tab:A1_bad)" if len(bad) else ""))
    result.text = (f"Undecodable files: {len(bad)} ({policy}).\n\n"
                   f"Exact duplicate groups: {len(exact)}" + ("".join(f"\n- {', '.join(g)}" for g in exact) if exact else ".")
                   + f"\n\nNear-duplicate pairs (difference hashes within {near_dup_distance} of 64 bits"
                   + (f" and a mean absolute pixel difference of at most {near_dup_pixel_distance:g}"
                      if near_dup_pixel_distance > 0 else "") + f"): {len(near)}, "
                   f"of which {result.near_across_splits} across splits"
                   + (" ([Table](#tab:A1_near), and the first pairs in [Figure](#fig:A1_near_duplicates))." if len(near)
                      else ".") + _consequence(near, splits))
    return result


def _consequence(near: pd.DataFrame, splits: dict) -> str:
    """What the pairs that cross from the training split can bias: the reported accuracy (an evaluated
    split) or only the choices made on the selection split."""
    crossing = [w for w in near["where"] if w.startswith("across") and "train" in w.split()] if len(near) else []
    if not crossing:
        return ""
    chosen = sum("selection" in w.split() for w in crossing)
    reported = len(crossing) - chosen
    text = (f" Of the pairs that reach into the training images, {reported} "
            f"{'touches' if reported == 1 else 'touch'} an evaluated split (each would inflate the reported accuracy)")
    if chosen and "selection" in splits:
        text += (f" and {chosen} the selection split ({chosen} of its {len(splits['selection'])} images; such a pair "
                 "can only bias the epochs and models chosen there, by at most that share of its accuracy)")
    return text + "."


def near_duplicates_figure(data, integrity: Integrity, shown: int = 6):
    """The first `shown` near-duplicate pairs side by side, or None when there are none."""
    if not len(integrity.near):
        return None
    index = {f"{s.split}/{f}" if not f.startswith(f"{s.split}/") else f: (s, i)
             for s in data.splits().values() for i, f in enumerate(s.files)}
    rows = integrity.near.head(shown)
    imgs = [data.source.original(*index[f], 96) for a, b in zip(rows["image a"], rows["image b"]) for f in (a, b)]
    caps = [f"{f.rsplit('/', 2)[-2]}/{f.rsplit('/', 1)[-1]}\n({f.split('/')[0]}, d={d})"
            for a, b, d in zip(rows["image a"], rows["image b"], rows["distance"]) for f in (a, b)]
    return figures.image_grid(imgs, caps, ncols=4, size=1.7)


def metrics(data, integrity: Integrity) -> dict[str, Any]:
    """A1's metrics file: the summary keys and what the tables show."""
    return {"summary": {"n_classes": len(data.classes), **{f"n_{n}": len(s) for n, s in data.splits().items()},
                        "bad_files": len(integrity.bad), "exact_duplicate_groups": len(integrity.exact),
                        "near_duplicate_pairs": len(integrity.near),
                        "near_duplicate_pairs_across_splits": integrity.near_across_splits},
            "classes": data.classes, "counts": {n: s.class_counts() for n, s in data.splits().items()},
            "mean": data.mean, "std": data.std, "bad": integrity.bad.values.tolist(),
            "exact_duplicates": integrity.exact, "near_duplicates": integrity.near.values.tolist()}
