"""MNIST from the standard IDX files in a folder the user already has (no downloads).

IDX layout (big-endian): two zero bytes, a type code (0x08 = uint8), the number of
dimensions, one uint32 per dimension, then the values in C order. Image files have magic
0x00000803 (N, rows, cols) and label files 0x00000801 (N,). Each file may be gzipped.
"""

import gzip
import os
import zlib
from pathlib import Path

import numpy as np

import minigrad

_IMAGES_MAGIC, _LABELS_MAGIC = 0x00000803, 0x00000801


def load_mnist(root: str | os.PathLike, train: bool = True) -> tuple:
    """Load the MNIST training (60000) or test (10000) split from `root`.

    Looks for `train-images-idx3-ubyte` and `train-labels-idx1-ubyte` (or `t10k-...` when
    `train=False`), each either raw or with a `.gz` suffix. Any IDX files of the same kind
    (e.g. Fashion-MNIST) work too.

    Args:
        root: folder holding the files.
        train: the training split if True, else the test split.

    Returns:
        images: float32 Tensor (N, 1, 28, 28), pixel values divided by 255, so in [0, 1].
        labels: int64 Tensor (N,).

    Raises:
        FileNotFoundError: a file is missing; the message names the files and the folder.
        ValueError: a file has the wrong magic number, is truncated or has trailing bytes,
            or images and labels disagree in number. The message names the file.
    """
    root = Path(root)
    prefix = "train" if train else "t10k"
    names = (f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte")
    paths = [_find(root, name) for name in names]
    missing = [f"{name} (or {name}.gz)"
               for name, path in zip(names, paths, strict=True) if path is None]
    if missing:
        raise FileNotFoundError(f"load_mnist: cannot find {' and '.join(missing)} in folder "
                                f"{str(root)!r}")
    images = _read_idx(paths[0], _IMAGES_MAGIC)
    labels = _read_idx(paths[1], _LABELS_MAGIC)
    if len(images) != len(labels):
        raise ValueError(f"load_mnist: {paths[0]} holds {len(images)} images but "
                         f"{paths[1]} holds {len(labels)} labels")
    n, rows, cols = images.shape
    x = (images.astype(np.float32) / 255.0).reshape(n, 1, rows, cols)
    return minigrad.from_numpy(x), minigrad.from_numpy(labels.astype(np.int64))


def _find(root: Path, name: str) -> Path | None:
    """The raw file if present, else the gzipped one, else None."""
    for candidate in (root / name, root / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _read_idx(path: Path, magic: int) -> np.ndarray:
    """Read a uint8 IDX file (raw or .gz) whose magic number must be `magic`."""
    data = path.read_bytes()
    if path.suffix == ".gz":
        try:
            data = gzip.decompress(data)
        # BadGzipFile (an OSError) for a wrong header, EOFError when cut short, zlib.error
        # for damaged compressed data.
        except (OSError, EOFError, zlib.error) as e:
            raise ValueError(f"load_mnist: {path} is not a valid gzip file: {e}") from e
    if len(data) < 4:
        raise ValueError(f"load_mnist: {path} is truncated: {len(data)} bytes, no IDX header")
    found = int.from_bytes(data[:4], "big")
    if found != magic:
        raise ValueError(f"load_mnist: {path} has magic number 0x{found:08x}, expected "
                         f"0x{magic:08x}; is it an MNIST IDX file of the right kind?")
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"load_mnist: {path} is truncated inside its header")
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(shape, dtype=np.int64))
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "longer than its header says"
        raise ValueError(f"load_mnist: {path} is {what}: {len(data)} bytes, expected "
                         f"{expected} for shape {shape}")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)
