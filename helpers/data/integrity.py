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


def near_duplicates(hashes: np.ndarray, names: list[str], max_distance: int = 4) -> list[tuple[str, str, int]]:
    """Pairs (name_a, name_b, Hamming distance) with distance ≤ max_distance, a before b."""
    dist = np.bitwise_count(hashes[:, None] ^ hashes[None, :])
    ii, jj = np.nonzero(np.triu(dist <= max_distance, k=1))
    return [(names[i], names[j], int(dist[i, j])) for i, j in zip(ii, jj)]
