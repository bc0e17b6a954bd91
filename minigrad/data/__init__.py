"""Datasets and mini-batch loading: Dataset, TensorDataset, DataLoader, and the packaged
digits (load_digits) and user-supplied MNIST (load_mnist) as Tensors."""

from .dataset import Dataset, TensorDataset
from .digits import load_digits
from .loader import DataLoader
from .mnist import load_mnist

__all__ = ["DataLoader", "Dataset", "TensorDataset", "load_digits", "load_mnist"]
