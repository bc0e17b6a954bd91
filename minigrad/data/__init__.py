"""Datasets and mini-batch loading: Dataset, TensorDataset, Subset, ConcatDataset,
random_split, DataLoader, and the packaged digits (load_digits) and user-supplied MNIST
(load_mnist) as Tensors. Also importable as `minigrad.utils.data` (PyTorch's name)."""

from .dataset import ConcatDataset, Dataset, Subset, TensorDataset
from .digits import load_digits
from .loader import DataLoader, default_collate
from .mnist import load_mnist
from .split import random_split

__all__ = ["ConcatDataset", "DataLoader", "Dataset", "Subset", "TensorDataset",
           "default_collate", "load_digits", "load_mnist", "random_split"]
