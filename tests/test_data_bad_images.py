"""Fault injection, bad images: a corpus generated here, each file with its documented outcome
(helpers/data/decode.py): decoded correctly, an error naming the file, or skipped and listed with
`on_bad_image: skip`."""
import gzip
import struct
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import make_image_folder
from helpers.data import DataError, decode, idx, image_folder

SIZE = 16


def _png_header_only(path, width, height):
    """A valid 1-bit PNG of width × height, all zeros, without building it in memory: a small file
    that decodes to 400 megapixels (a decompression bomb)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    row = b"\x00" + b"\x00" * ((width + 7) // 8)
    comp = zlib.compressobj(9)
    body = b"".join(comp.compress(row) for _ in range(height)) + comp.flush()
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
                     + chunk(b"IDAT", body) + chunk(b"IEND", b""))


def _exif_rotated(path):
    """A 20 × 10 landscape JPEG, left half black and right half white, tagged orientation 6
    (rotate 90° clockwise to display): shown as a 10 × 20 portrait with black on top."""
    arr = np.zeros((10, 20, 3), np.uint8)
    arr[:, 10:] = 255
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(arr).save(path, exif=exif.tobytes(), quality=95)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad")
    good = np.full((8, 8, 3), 100, np.uint8)
    Image.fromarray(good).save(d / "ok.jpg")
    (d / "truncated.jpg").write_bytes((d / "ok.jpg").read_bytes()[:60])
    (d / "empty.jpg").write_bytes(b"")
    (d / "text.jpg").write_text("this is not an image\n")
    rgba = np.zeros((8, 8, 4), np.uint8)  # fully transparent black: must come out white
    Image.fromarray(rgba, "RGBA").save(d / "alpha.png")
    pal = Image.new("P", (8, 8), 1)
    pal.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    pal.save(d / "palette.png")
    Image.fromarray(np.full((8, 8), 65535 // 2, np.uint16)).save(d / "grey16.png")
    Image.new("CMYK", (8, 8), (0, 255, 255, 0)).save(d / "cmyk.jpg", quality=95)  # cyan-free: red
    Image.new("L", (8, 8), 77).save(d / "grey.png")
    _exif_rotated(d / "rotated.jpg")
    _png_header_only(d / "bomb.png", 20_000, 20_000)
    return d


def _decode(path, size=SIZE):
    return decode.decode_file(path, size)


@pytest.mark.parametrize("name", ["truncated.jpg", "empty.jpg", "text.jpg", "bomb.png"])
def test_undecodable_file_is_an_error_naming_it(corpus, name):
    with pytest.raises(DataError, match=name.replace(".", r"\.")) as e:
        _decode(corpus / name)
    if name == "bomb.png":
        assert "400000000 pixels" in str(e.value) and "decompression bomb" in str(e.value)


def test_alpha_is_composited_on_white(corpus):
    assert _decode(corpus / "alpha.png").min() == 255


def test_palette_cmyk_and_grey_become_rgb(corpus):
    pal = _decode(corpus / "palette.png")
    assert pal[:, 0, 0].tolist() == [255, 0, 0]
    cmyk = _decode(corpus / "cmyk.jpg").float().mean((1, 2))
    assert cmyk[0] > 200 and cmyk[1] < 60 and cmyk[2] < 60
    grey = _decode(corpus / "grey.png")
    assert grey.shape == (3, SIZE, SIZE) and (grey == 77).all()


def test_sixteen_bit_grey_is_scaled_not_clipped(corpus):
    x = _decode(corpus / "grey16.png")
    assert abs(int(x[0, 0, 0]) - 127) <= 1  # PIL's own convert("RGB") gives 255 here


def test_exif_orientation_is_applied(corpus):
    x = decode.decode_pil(corpus / "rotated.jpg", "rotated.jpg", 20)  # square resize keeps top/bottom
    top, bottom = x[:, :5].float().mean(), x[:, -5:].float().mean()
    assert top < 60 and bottom > 200


def test_uploaded_bytes_are_checked_like_files(corpus):
    assert decode.decode_bytes((corpus / "ok.jpg").read_bytes(), "upload.jpg", SIZE).shape == (3, SIZE, SIZE)
    with pytest.raises(DataError, match="upload.jpg.*empty"):
        decode.decode_bytes(b"", "upload.jpg", SIZE)
    with pytest.raises(DataError, match="note.jpg"):
        decode.decode_bytes(b"hello", "note.jpg", SIZE)


def _folder_with(tmp_path, bad_name, writer):
    root = make_image_folder(tmp_path / "ds", per_class=2)
    writer(root / "train" / "dog" / bad_name)
    return root


def test_folder_bad_file_error_names_it_and_skip_lists_it(tmp_path, corpus):
    root = _folder_with(tmp_path, "broken.jpg", lambda p: p.write_bytes(b"\xff\xd8\xff"))
    with pytest.raises(DataError, match=r"(?s)train/dog/broken\.jpg.*on_bad_image: skip"):
        image_folder.load(str(root), SIZE)
    data = image_folder.load(str(root), SIZE, on_bad_image="skip")
    assert [b[0] for b in data.train.bad] == ["train/dog/broken.jpg"]
    assert len(data.train) == 6 and "train/dog/broken.jpg" not in data.train.files


def test_empty_class_folder_is_an_error_naming_it(tmp_path):
    root = make_image_folder(tmp_path / "ds", per_class=2)
    (root / "train" / "emu").mkdir()
    with pytest.raises(DataError, match=r"train.*\['emu'\]"):
        image_folder.load(str(root), SIZE)


def test_class_missing_from_reported_split_is_an_error(tmp_path):
    root = make_image_folder(tmp_path / "ds", per_class=2)
    for f in (root / "valid" / "owl").iterdir():
        f.unlink()
    (root / "valid" / "owl").rmdir()
    with pytest.raises(DataError, match=r"split 'valid'.*\['owl'\]"):
        image_folder.load(str(root), SIZE)


def test_class_whose_images_are_all_skipped_is_an_error(tmp_path):
    root = make_image_folder(tmp_path / "ds", per_class=2)
    for f in (root / "valid" / "owl").iterdir():
        f.write_bytes(b"")
    with pytest.raises(DataError, match=r"'valid'.*\['owl'\].*skipped"):
        image_folder.load(str(root), SIZE, on_bad_image="skip")


def test_corrupt_idx_header_is_an_error_naming_the_file(tmp_path):
    good = np.zeros((3, 4, 4), np.uint8)
    header = struct.pack(">BBBBIII", 0, 0, 8, 3, 3, 4, 4)
    cases = {"magic.gz": b"\x12\x34" + header[2:] + good.tobytes(),
             "short.gz": header + good.tobytes()[:-5],
             "type.gz": struct.pack(">BBBBIII", 0, 0, 0x0D, 3, 3, 4, 4) + good.tobytes()}
    for name, raw in cases.items():
        path = tmp_path / name
        path.write_bytes(gzip.compress(raw))
        with pytest.raises(DataError, match=name.replace(".", r"\.")):
            idx.read_idx(path)
    assert torch.equal(torch.from_numpy(idx.read_idx(_write(tmp_path / "ok.gz", header + good.tobytes())).copy()),
                       torch.zeros(3, 4, 4, dtype=torch.uint8))


def _write(path, raw):
    path.write_bytes(gzip.compress(raw))
    return path
