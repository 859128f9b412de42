"""Dataset integrity: near-duplicates by perceptual hash (exact duplicates: `DataSource.exact_duplicates`).

Near-duplicates use the difference hash (dHash; Krawetz 2011): the image in grey, resized to
9×8, one bit per horizontal neighbour comparison, 64 bits in all. Two images whose hashes differ
in at most `max_distance` bits look alike to the eye (resized, re-encoded, slightly cropped).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def dhash(images: torch.Tensor) -> np.ndarray:
    """64-bit difference hashes, uint64 [N], of uint8 images [N, C, H, W] (C = 3 or 1)."""
    x = images.float()
    gray = x if x.shape[1] == 1 else x.mul(torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
    small = F.interpolate(gray, size=(8, 9), mode="area").squeeze(1)  # [N, 8, 9]
    bits = (small[:, :, 1:] > small[:, :, :-1]).reshape(len(images), 64).numpy().astype(np.uint64)
    return (bits << np.arange(64, dtype=np.uint64)).sum(1, dtype=np.uint64)


def _hash_pairs(hashes: np.ndarray, max_distance: int, block: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(i, j, distance) of every pair i < j whose hashes differ in at most max_distance bits, one
    block of rows at a time (block × N distances in memory, never N × N)."""
    out_i, out_j, out_d = [], [], []
    for start in range(0, len(hashes), block):
        dist = np.bitwise_count(hashes[start:start + block, None] ^ hashes[None, start:])
        ii, jj = np.nonzero(dist <= max_distance)
        later = jj > ii  # column jj is row start + jj: keep each pair once, never an image with itself
        ii, jj = ii[later], jj[later]
        out_i.append(ii + start)
        out_j.append(jj + start)
        out_d.append(dist[ii, jj])
    cat = lambda parts: np.concatenate(parts) if parts else np.zeros(0, np.int64)  # noqa: E731
    return cat(out_i), cat(out_j), cat(out_d)


def _pixel_close(images: torch.Tensor, ii: np.ndarray, jj: np.ndarray, max_mad: float,
                 chunk: int = 200_000) -> np.ndarray:
    """Mask of the pairs whose mean absolute pixel difference (units of [0, 1]) is at most max_mad.
    A 7×7 average pool first: the mean absolute difference of block means never exceeds that of
    the pixels, so pairs it already puts above max_mad are dropped without a false negative."""
    x = images.float().div(255)
    coarse = F.adaptive_avg_pool2d(x, 7).flatten(1)
    full = x.flatten(1)
    keep = np.zeros(len(ii), dtype=bool)
    for s in range(0, len(ii), chunk):
        a, b = torch.from_numpy(ii[s:s + chunk]), torch.from_numpy(jj[s:s + chunk])
        maybe = ((coarse[a] - coarse[b]).abs().mean(1) <= max_mad).nonzero().flatten()
        close = (full[a[maybe]] - full[b[maybe]]).abs().mean(1) <= max_mad
        keep[s + maybe[close].numpy()] = True
    return keep


def near_duplicates(hashes: np.ndarray, names: list[str], max_distance: int = 4, *, images: torch.Tensor | None = None,
                    max_pixel_distance: float = 0.0, block: int = 512) -> list[tuple[str, str, int]]:
    """Pairs (name_a, name_b, Hamming distance) with distance ≤ max_distance, a before b.

    With `max_pixel_distance` > 0 a pair must also differ by at most that mean absolute pixel value
    (images uint8 [N, C, H, W], in the order of `hashes`): on small grey images a 64-bit dHash is
    shared by thousands of look-alikes (Fashion-MNIST: 8.2 million pairs within 4 bits), and the
    pixels tell the copies among them. Memory grows with the pairs found, not with N²."""
    ii, jj, dist = _hash_pairs(hashes, max_distance, block)
    if max_pixel_distance > 0:
        if images is None:
            raise ValueError("near_duplicates: max_pixel_distance needs the images")
        close = _pixel_close(images, ii, jj, max_pixel_distance)
        ii, jj, dist = ii[close], jj[close], dist[close]
    return [(names[i], names[j], int(d)) for i, j, d in zip(ii, jj, dist)]
