import zipfile

import pytest
import torch

from helpers.data import image_folder as data
from helpers.data import sports10
from helpers.data.augment import augment
from tests.conftest import CLASSES, make_image_folder


def test_load_data_decodes_resizes_and_caches(image_folder, tmp_path):
    cache = tmp_path / "cache"
    assert data.count(str(image_folder), 16, cache_dir=cache) == ({"train": [4, 4, 4], "valid": [4, 4, 4]}, 24)
    d = data.load(str(image_folder), 16, cache_dir=cache)
    assert data.count(str(image_folder), 16, cache_dir=cache)[1] == 0  # the plan sees nothing left to decode
    assert data.count(str(image_folder), 32, cache_dir=cache)[1] == 24  # another size is decoded anew
    assert d.classes == CLASSES and d.test is None
    assert d.train.images.shape == (12, 3, 16, 16) and d.train.images.dtype == torch.uint8
    assert d.train.labels.tolist() == [0] * 4 + [1] * 4 + [2] * 4
    assert len(d.mean) == 3 and all(0 < s < 1 for s in d.std)
    files = sorted(cache.glob("*.pt"))
    assert len(files) == 2  # train and valid
    again = data.load(str(image_folder), 16, cache_dir=cache)
    assert torch.equal(again.train.images, d.train.images)
    assert sorted(cache.glob("*.pt")) == files  # served from the cache


def test_optional_test_split_and_subset(tmp_path):
    root = make_image_folder(tmp_path / "d", splits=("train", "valid", "test"))
    d = data.load(str(root), 8, subset_per_class=2)
    assert d.test is not None and len(d.test) == 6 and len(d.train) == 6


def test_missing_data_dir_explains_how_to_get_the_data(tmp_path):
    with pytest.raises(data.DataError) as e:
        data.find_data_dir(str(tmp_path / "nowhere"))
    assert "kaggle" in str(e.value).lower() and "build-sports10" in str(e.value)


def test_missing_split_is_named(image_folder):
    import shutil
    shutil.rmtree(image_folder / "valid")
    with pytest.raises(data.DataError, match="split 'valid' not found"):
        data.load(str(image_folder), 8)


def test_undecodable_file_is_an_error_naming_it_or_skipped_and_listed(image_folder):
    bad = image_folder / "train" / "dog" / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff this is not a jpeg")
    (image_folder / "train" / "owl" / "notes.txt").write_text("not an image")
    with pytest.raises(data.DataError, match="broken.jpg"):
        data.load(str(image_folder), 8)
    d = data.load(str(image_folder), 8, on_bad_image="skip")
    assert sorted(f for f, _ in d.train.bad) == ["train/dog/broken.jpg", "train/owl/notes.txt"]
    assert len(d.train) == 12  # the broken files are left out, never replaced by a blank image


def test_build_sports10_from_a_kaggle_like_zip(tmp_path):
    archive = tmp_path / "sports.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for split in ("train", "valid", "test"):
            for cls in sports10.SPORTS10_CLASSES + ("archery",):
                for i in range(2):
                    z.writestr(f"{split}/{cls}/{i}.jpg", f"{split}{cls}{i}".encode())
        z.writestr("train/volleyball/leak.jpg", b"validvolleyball1")  # byte-identical to a valid image
    out = tmp_path / "sports10"
    counts = sports10.build_sports10(archive, out)
    assert counts == {"train": 20, "valid": 20}
    assert sorted(p.name for p in (out / "train").iterdir()) == sorted(sports10.SPORTS10_CLASSES)
    assert not (out / "train" / "volleyball" / "leak.jpg").exists()
    assert len((out / "SHA256SUMS").read_text().splitlines()) == 40
    with pytest.raises(data.DataError, match="already exists"):
        sports10.build_sports10(archive, out)


def test_augment_is_per_image_bounded_and_seeded():
    x = torch.rand(8, 3, 16, 16)
    a = augment(x, generator=torch.Generator().manual_seed(1))
    b = augment(x, generator=torch.Generator().manual_seed(1))
    assert a.shape == x.shape and torch.equal(a, b)
    assert a.min() >= 0 and a.max() <= 1
    flips = augment(x, rotation_deg=0, brightness=0, contrast=0, saturation=0,
                    generator=torch.Generator().manual_seed(0))
    same = [torch.equal(flips[i], x[i]) for i in range(8)]
    mirrored = [torch.equal(flips[i], x[i].flip(-1)) for i in range(8)]
    assert all(s or m for s, m in zip(same, mirrored)) and any(same) and any(mirrored)


def test_real_dataset_loads(sports10, tmp_path):
    d = data.load(str(sports10), 32, subset_per_class=2)
    assert len(d.classes) == 10 and "basketball" in d.classes


def test_the_selection_split_is_carved_stratified_reproducibly_and_apart_from_training(image_folder):
    from helpers.data import DataError, carve_selection

    d = data.load(str(image_folder), 16)
    carved = carve_selection(d, 1, seed=0)
    assert carved.selection.class_counts() == [1, 1, 1] and carved.train.class_counts() == [3, 3, 3]
    assert not set(carved.selection.files) & set(carved.train.files)  # never trained on
    assert sorted(carved.selection.files + carved.train.files) == sorted(d.train.files)
    assert carved.valid is d.valid and list(carved.splits()) == ["train", "selection", "valid"]
    assert carved.mean != d.mean or carved.std != d.std  # statistics of what the models train on
    assert carve_selection(d, 1, seed=0).selection.files == carved.selection.files  # same seed, same split
    assert any(carve_selection(d, 1, seed=s).selection.files != carved.selection.files for s in range(1, 6))
    with pytest.raises(DataError, match=r"parameter 'selection_per_class' is 4.*cat \(4\)"):
        carve_selection(d, 4, seed=0)
    with pytest.raises(DataError, match="at least one image per class"):
        carve_selection(d, 0, seed=0)


def test_near_duplicates_into_the_training_split_name_what_they_can_bias():
    import pandas as pd

    from helpers.study.data_overview import _consequence
    near = pd.DataFrame({"where": ["across selection and train", "across train and valid", "within train"]})
    text = _consequence(near, {"train": [0] * 100, "selection": [0] * 150, "valid": [0] * 50})
    assert "1 touches an evaluated split" in text and "1 the selection split (1 of its 150 images" in text
    assert _consequence(near.iloc[[2]], {"train": []}) == ""


def test_the_attacked_subset_is_stratified_reproducible_and_whole_when_small():
    from helpers.data.splits import ImageSet, stratified_subset
    labels = torch.tensor([0] * 30 + [1] * 5 + [2] * 20)
    s = ImageSet("valid", torch.zeros(55, 1, 4, 4, dtype=torch.uint8), labels, [f"f{i}" for i in range(55)], ["a", "b", "c"])
    sub = stratified_subset(s, 10, seed=0)
    assert sub.class_counts() == [10, 5, 10] and sub.split == "valid"
    assert sub.files == sorted(sub.files, key=s.files.index)  # the split's order kept
    assert stratified_subset(s, 10, seed=0).files == sub.files and stratified_subset(s, 10, seed=1).files != sub.files
    assert stratified_subset(s, 0, seed=0) is s and stratified_subset(s, 30, seed=0) is s
