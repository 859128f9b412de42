"""Datasets: a registry of formats, each turning files into uint8 tensors per split.

The contract of a dataset format (see README, "Extending the study"): a function

    load(data_dir: str, image_size: int, *, on_bad_image: str, subset_per_class: int,
         cache_dir: str) -> StudyData

whose splits hold images uint8 [N, C, H, W] (C = 3 or 1) and labels int64 [N], with a `valid`
split, an optional `test` split, and the training set's per-channel mean and std. `load_dataset`
then carves the selection split from `train` (`splits.carve_selection`), the same way for every
format. Register it with
`register_dataset(name, load)`; the parameter `dataset` picks it by name.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from ..config.schema import ParameterError, register_check
from . import idx, image_folder
from .splits import DataError, DataSource, ImageSet, StudyData, batches, carve_selection, channel_stats

DatasetLoader = Callable[..., StudyData]
DATASETS: dict[str, DatasetLoader] = {"image_folder": image_folder.load, "fashion_mnist": idx.load_fashion_mnist,
                                       "mnist": idx.load_mnist}
# where a format's files lie for a data_dir parameter, so the runner can tell when they change
_LOCATE: dict[str, Callable[[str], Path]] = {"image_folder": image_folder.find_data_dir,
                                             "fashion_mnist": lambda d: idx.find_idx_dir(d, "fashion_mnist"),
                                             "mnist": lambda d: idx.find_idx_dir(d, "mnist")}


def register_dataset(name: str, load: DatasetLoader, locate: Callable[[str], Path] | None = None) -> None:
    """Make the format `load` available as `dataset: <name>`; `locate(data_dir)` gives the folder
    whose files it reads (default: data_dir itself)."""
    DATASETS[name] = load
    if locate is not None:
        _LOCATE[name] = locate


def files_fingerprint(params: dict[str, Any]) -> str:
    """A cheap digest (names, sizes, modification times) of the files the dataset reads, or
    'no-data' when they cannot be found (the stage that loads them then explains why)."""
    locate = _LOCATE.get(params["dataset"], lambda d: Path(d) if d else None)
    try:
        root = locate(params["data_dir"])
    except DataError:
        return "no-data"
    if root is None or not Path(root).exists():
        return "no-data"
    root = Path(root)
    return image_folder.files_fingerprint(root, sorted(p for p in root.rglob("*") if p.is_file()))


def load_dataset(params: dict[str, Any]) -> StudyData:
    """The dataset the parameters name (dataset, data_dir, image_size, on_bad_image,
    subset_per_class, cache_dir), with its selection split carved from the training images
    (selection_per_class images per class, drawn with selection_seed)."""
    _check_dataset(params["dataset"], "the parameters")
    data = DATASETS[params["dataset"]](params["data_dir"], params["image_size"], on_bad_image=params["on_bad_image"],
                                       subset_per_class=params["subset_per_class"], cache_dir=params["cache_dir"])
    return carve_selection(data, params["selection_per_class"], params["selection_seed"])


def split_sizes(params: dict[str, Any]) -> dict[str, int]:
    """Images per split as the study will see them (train after the selection split is carved from
    it, selection, valid, test), the class count, and how many images are still to decode (not in
    the decoded-image cache). An image folder is counted from its file listing; another format is
    loaded (and so decodes nothing later)."""
    if params["dataset"] == "image_folder":
        per_class, to_decode = image_folder.count(params["data_dir"], params["image_size"],
                                                  on_bad_image=params["on_bad_image"],
                                                  subset_per_class=params["subset_per_class"],
                                                  cache_dir=params["cache_dir"])
        taken = sum(min(params["selection_per_class"], n) for n in per_class["train"])
        sizes = {split: sum(n) for split, n in per_class.items()}
        return {"train": sizes["train"] - taken, "selection": taken, "valid": sizes["valid"],
                "test": sizes.get("test", 0), "classes": len(per_class["train"]), "to_decode": to_decode}
    data = load_dataset(params)
    return {"train": len(data.train), "selection": len(data.selection), "valid": len(data.valid),
            "test": len(data.test) if data.test is not None else 0, "classes": len(data.classes), "to_decode": 0}


def _check_dataset(name: str, source: str) -> None:
    if name not in DATASETS:
        raise ParameterError(f"parameter 'dataset' in {source} is {name!r}; registered datasets: {sorted(DATASETS)}")


register_check("dataset", _check_dataset)

__all__ = ["DATASETS", "DataError", "DataSource", "ImageSet", "StudyData", "batches", "carve_selection", "channel_stats",
           "files_fingerprint", "load_dataset", "register_dataset", "split_sizes"]
