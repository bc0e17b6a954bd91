"""The handwritten digits that ship with minigrad: 1797 images of 8x8 pixels, classes 0..9.

Source: UCI Machine Learning Repository, "Optical Recognition of Handwritten Digits"
(E. Alpaydin and C. Kaynak, 1998), https://doi.org/10.24432/C50P49,
https://archive.ics.uci.edu/dataset/80/optical+recognition+of+handwritten+digits, CC BY 4.0.
This is the set's 1797-image test split, as redistributed in scikit-learn; each pixel counts
the "on" pixels of a 4x4 block of a 32x32 bitmap, so it lies in 0..16.
`tools/make_digits_npz.py` rebuilds `digits.npz` (uint8) from that CSV.
"""

from importlib import resources

import numpy as np

import minigrad

_N, _SIDE, _MAX_COUNT = 1797, 8, 16


def load_digits() -> tuple:
    """Load the packaged digits (no network, no scikit-learn).

    Returns:
        images: float32 Tensor (1797, 1, 8, 8), pixel counts 0..16 divided by 16, so in [0, 1].
        labels: int64 Tensor (1797,), the digit 0..9 (about 180 of each).
    """
    packaged = resources.files(__package__).joinpath("digits.npz")
    with packaged.open("rb") as f, np.load(f, allow_pickle=False) as archive:
        images, labels = archive["images"], archive["labels"]
    # The file is ours, but a damaged install should fail here, not deep inside training.
    if images.shape != (_N, _SIDE, _SIDE) or labels.shape != (_N,):
        raise ValueError(f"load_digits: digits.npz is damaged: images {images.shape}, "
                         f"labels {labels.shape}; reinstall minigrad")
    x = (images.astype(np.float32) / _MAX_COUNT).reshape(_N, 1, _SIDE, _SIDE)
    return minigrad.from_numpy(x), minigrad.from_numpy(labels.astype(np.int64))
