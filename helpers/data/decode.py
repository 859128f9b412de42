"""Decode one image file (or uploaded bytes) to the study's uint8 RGB tensor, the same way everywhere.

What a folder of photos holds in practice, and what each becomes (tests/test_data_bad_images.py
builds every case):

- EXIF orientation (phones store portrait photos as landscape pixels plus a rotate tag): applied,
  so the network sees the photo as a person does;
- alpha (RGBA, LA, a palette with a transparent colour): composited on white, not dropped (dropping
  it turns transparent areas into whatever colour the pixels happen to hold, often black);
- 16-bit grey (mode I;16 / I): scaled by 1/257 to 8 bits; PIL's own conversion clips at 255 and
  turns most of such an image white;
- palette, grey, CMYK: converted to RGB by PIL;
- more pixels than `PIL.Image.MAX_IMAGE_PIXELS` (a decompression bomb: a small file that expands
  to gigabytes): refused before decoding, as an error naming the file;
- anything PIL cannot decode (truncated, empty, text named .jpg): an error naming the file.

Every failure is a `DataError` whose message starts with the file's name; the loader either raises
it or, with `on_bad_image: skip`, leaves the file out and lists it.
"""
from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

from .splits import DataError

_SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I;16N", "I")


def _to_rgb(img: Image.Image) -> Image.Image:
    """RGB with the alpha composited on white and 16-bit grey scaled to 8 bits."""
    if img.mode in _SIXTEEN_BIT:
        grey = np.asarray(img, dtype=np.float64)
        peak = 65535.0 if img.mode != "I" or grey.max(initial=0) > 255 else 255.0
        img = Image.fromarray(np.round(np.clip(grey, 0, peak) * (255.0 / peak)).astype(np.uint8), "L")
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return img.convert("RGB")


def _open_checked(source, name: str) -> Image.Image:
    """Open, check the pixel count against PIL's bomb limit, apply EXIF orientation and load."""
    with warnings.catch_warnings():
        # PIL only warns between MAX_IMAGE_PIXELS and twice that; the study refuses both
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            img = Image.open(source)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
            raise DataError(f"{name}: refused as a possible decompression bomb: {e}") from None
        limit = Image.MAX_IMAGE_PIXELS
        if limit and img.width * img.height > limit:
            raise DataError(f"{name}: {img.width} × {img.height} pixels is more than PIL.Image.MAX_IMAGE_PIXELS "
                            f"({limit:,}); refused as a possible decompression bomb")
        img = ImageOps.exif_transpose(img)
        img.load()
        return img


def decode_pil(source, name: str, size: int, channels: int = 3) -> torch.Tensor:
    """`source` (a path or a binary file object) → uint8 [channels, size, size] (3: RGB, 1: PIL's
    luminance of it); DataError naming `name`."""
    try:
        img = _open_checked(source, name)
        rgb = _to_rgb(img)
    except DataError:
        raise
    except Exception as e:  # PIL raises several unrelated types for broken files
        raise DataError(f"{name}: cannot decode image: {type(e).__name__}: {e}") from None
    if rgb.size != (size, size):
        rgb = rgb.resize((size, size), Image.Resampling.BILINEAR, reducing_gap=None)
    if channels == 1:
        return torch.from_numpy(np.asarray(rgb.convert("L")).copy())[None].contiguous()
    return torch.from_numpy(np.asarray(rgb).copy()).permute(2, 0, 1).contiguous()


def decode_file(path: Path, size: int) -> torch.Tensor:
    """One image file → uint8 [3, size, size] (see the module docstring for what is done to it)."""
    return decode_pil(path, str(path), size)


def decode_bytes(data: bytes, name: str, size: int, channels: int = 3) -> torch.Tensor:
    """An uploaded file's bytes → uint8 [channels, size, size], checked like a dataset's image."""
    if not data:
        raise DataError(f"{name}: the file is empty (0 bytes)")
    return decode_pil(io.BytesIO(data), name, size, channels)
