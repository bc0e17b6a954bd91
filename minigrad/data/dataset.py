"""Datasets: anything with `__getitem__` and `__len__`, and `TensorDataset`, which pairs
tensors sample by sample along their first dimension (as torch.utils.data)."""

from typing import Any


class Dataset:
    """Base class for map-style datasets: `dataset[i]` is sample i, for 0 <= i < len(dataset).

    A sample is usually a tuple of components, e.g. `(image, label)`; DataLoader batches
    each component separately.
    """

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must implement __len__")


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
