"""Sports-10: where the study looks for it, how to get it, and how to build its folder from
Kaggle's "100 Sports Image Classification" archive (`python -m helpers.data build-sports10`)."""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import zipfile
from pathlib import Path

from ..core.files import ROOT, sha256_file
from .splits import DataError

SPORTS10_CLASSES = ("baseball", "basketball", "football", "golf", "hockey", "rugby", "swimming",
                    "tennis", "volleyball", "weightlifting")
KAGGLE_URL = "https://www.kaggle.com/datasets/gpiosenka/sports-classification"
# searched in this order when data_dir is empty
DEFAULT_LOCATIONS = (ROOT / "data" / "sports10", ROOT.parent / "shared" / "data" / "sports10")

HOW_TO_GET_DATA = f"""The Sports-10 images were not found.
Get them from Kaggle's "100 Sports Image Classification" ({KAGGLE_URL}):
    kaggle datasets download gpiosenka/sports-classification      # or download archive.zip from the page
    python -m helpers.data build-sports10 sports-classification.zip data/sports10
which keeps the 10 classes of the study in train/ and valid/ (test/ with --with-test) and drops
training images that are byte-identical to validation or test images. Then run with
data_dir: data/sports10 (or leave data_dir empty: data/sports10 and ../shared/data/sports10 are
searched). Any folder in the ImageFolder layout <dir>/train/<class>/*.jpg works."""


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
