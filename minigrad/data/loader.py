"""DataLoader: iterate over a dataset in (optionally shuffled) mini-batches.

Shuffling draws from minigrad's generator, so `mg.manual_seed(n)` fixes the order of every
epoch. TensorDatasets take a fast path: one fancy-index per tensor per batch instead of
fetching samples one by one and stacking them.
"""

import math
from collections.abc import Iterator

import numpy as np

import minigrad
from minigrad import random as _random

from .dataset import Dataset, TensorDataset


class DataLoader:
    """Batches of a dataset, as in torch.utils.data.DataLoader (single process).

    Iterating yields, per batch, a tuple with one batched Tensor per sample component: for
    samples `(image, label)` a tuple `(images, labels)`; a sample that is not a tuple or
    list counts as one component, so it comes back as a 1-tuple. Components that are
    Tensors are stacked with `mg.stack`; numpy arrays and Python numbers become a new
    Tensor (ints -> int64, floats -> float64).

    Args:
        dataset: a Dataset (anything with `__getitem__` and `__len__`).
        batch_size: samples per batch, >= 1. The last batch may be smaller.
        shuffle: draw a new random order at the start of every epoch (every `iter()`),
            from minigrad's generator, so `mg.manual_seed` makes it reproducible.
        drop_last: drop the last batch when it is smaller than `batch_size`.
        collate_fn: called with the list of a batch's samples; what it returns is the batch
            (by default `default_collate`, the tuple of batched Tensors described above).

    `len(loader)` is the number of batches per epoch.
    """

    def __init__(self, dataset: Dataset, batch_size: int = 1, shuffle: bool = False,
                 drop_last: bool = False, collate_fn=None) -> None:
        # bool is an int subclass; DataLoader(ds, True) is almost surely a mistake.
        if not isinstance(batch_size, (int, np.integer)) or isinstance(batch_size, bool):
            raise TypeError(f"DataLoader: batch_size must be an int, "
                            f"got {type(batch_size).__name__}")
        if batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be at least 1, got {batch_size}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        if collate_fn is not None and not callable(collate_fn):
            raise TypeError(f"DataLoader: collate_fn must be callable, "
                            f"got {type(collate_fn).__name__}")
        self.collate_fn = default_collate if collate_fn is None else collate_fn

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self) -> Iterator[tuple]:
        # Draw the order here, not lazily inside the generator, so the permutation is fixed
        # by the seed at the moment iter() is called, as in PyTorch.
        n = len(self.dataset)
        order = _random.generator().permutation(n) if self.shuffle else np.arange(n)
        stop = len(self) * self.batch_size if self.drop_last else n
        batches = (order[start:start + self.batch_size]
                   for start in range(0, stop, self.batch_size))
        # A subclass that overrides __getitem__ (say, to augment) must go the slow way.
        if (self.collate_fn is default_collate
                and getattr(type(self.dataset), "__getitem__", None) is TensorDataset.__getitem__):
            tensors = self.dataset.tensors
            return (tuple(t[index] for t in tensors) for index in batches)
        collate = self.collate_fn
        return (collate([self.dataset[int(i)] for i in index]) for index in batches)


def default_collate(samples: list) -> tuple:
    """A list of samples -> a tuple with one batched Tensor per component (the DataLoader's
    default `collate_fn`; a custom one may call it after its own preprocessing)."""
    if not isinstance(samples[0], (tuple, list)):
        return (_stack(samples),)
    width = len(samples[0])
    if any(not isinstance(s, (tuple, list)) or len(s) != width for s in samples):
        raise ValueError(f"DataLoader: every sample must have the same number of components "
                         f"({width}, like the first sample of the batch)")
    return tuple(_stack(list(column)) for column in zip(*samples, strict=True))


def _stack(values: list):
    """Stack one component of a batch into a Tensor with a new leading dimension."""
    if isinstance(values[0], minigrad.Tensor):
        return minigrad.stack(values, dim=0)
    return minigrad.tensor(np.stack([np.asarray(v) for v in values]))
