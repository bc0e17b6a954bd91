"""Datasets: anything with `__getitem__` and `__len__`; `TensorDataset`, which pairs
tensors sample by sample along their first dimension; `Subset` (some samples of a dataset,
by index) and `ConcatDataset` (datasets one after another), as torch.utils.data."""

import bisect
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..tensor import from_numpy


class Dataset:
    """Base class for map-style datasets: `dataset[i]` is sample i, for 0 <= i < len(dataset).

    A sample is usually a tuple of components, e.g. `(image, label)`; DataLoader batches
    each component separately.
    """

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must implement __len__")

    def __add__(self, other: "Dataset") -> "ConcatDataset":
        return ConcatDataset([self, other])


class TensorDataset(Dataset):
    """Sample i is `tuple(t[i] for t in tensors)`.

    Args:
        *tensors: Tensors whose first dimensions are equal (e.g. images (N, 1, 8, 8) and
            labels (N,)).

    Raises:
        ValueError: no tensors, a 0-d tensor, or first dimensions that differ.
    """

    def __init__(self, *tensors: Any) -> None:
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        # numpy arrays become Tensors (sharing memory), so samples are Tensors either way.
        tensors = tuple(from_numpy(t) if isinstance(t, np.ndarray) else t for t in tensors)
        for i, t in enumerate(tensors):
            if len(t.shape) == 0:
                raise ValueError(f"TensorDataset: tensor {i} is 0-d; every tensor needs a "
                                 "first (sample) dimension")
        sizes = [t.shape[0] for t in tensors]
        if any(size != sizes[0] for size in sizes):
            shapes = ", ".join(str(tuple(t.shape)) for t in tensors)
            raise ValueError(f"TensorDataset: all tensors must have the same size in the first "
                             f"dimension, got shapes {shapes}")
        self.tensors = tuple(tensors)

    def __getitem__(self, index: int) -> tuple:
        return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].shape[0]


class Subset(Dataset):
    """The samples of `dataset` at `indices`, in that order: `subset[i]` is
    `dataset[indices[i]]`; as in PyTorch, a list of positions is passed on to the dataset as
    one list of indices (a TensorDataset then gives batched tensors), and
    `subset.__getitems__(positions)` gives the list of samples.

    Args:
        dataset: any dataset.
        indices: a sequence of indices into `dataset` (ints, possibly repeated).
    """

    def __init__(self, dataset: Any, indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, idx):
        if isinstance(idx, list):
            return self.dataset[[self.indices[i] for i in idx]]
        return self.dataset[self.indices[idx]]

    def __getitems__(self, positions):
        getitems = getattr(self.dataset, "__getitems__", None)
        if callable(getitems):
            return getitems([self.indices[i] for i in positions])
        return [self.dataset[self.indices[i]] for i in positions]

    def __len__(self) -> int:
        return len(self.indices)


class ConcatDataset(Dataset):
    """Several datasets one after another: indices 0..len(d0)-1 are d0's samples, the next
    len(d1) are d1's, and so on (negative indices count from the end).

    `cumulative_sizes[k]` is the number of samples in datasets 0..k.
    """

    def __init__(self, datasets) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        self.cumulative_sizes = []
        total = 0
        for d in self.datasets:
            total += len(d)
            self.cumulative_sizes.append(total)

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx: int):
        n = len(self)
        if idx < 0:
            if -idx > n:
                raise ValueError(f"ConcatDataset: absolute value of index {idx} should not "
                                 f"exceed dataset length {n}")
            idx += n
        if idx >= n:
            raise IndexError(f"ConcatDataset: index {idx} is out of range for {n} samples")
        k = bisect.bisect_right(self.cumulative_sizes, idx)
        start = self.cumulative_sizes[k - 1] if k > 0 else 0
        return self.datasets[k][idx - start]
