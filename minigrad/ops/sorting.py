"""Sorting along a dim: sort, argsort and topk.

The indices come from a stable argsort on the device's arrays (NaN sorts as the largest value,
as PyTorch); the values are then `gather(x, dim, indices)`, so their gradient is the scatter of
the incoming gradient back to where each value came from. `sort` and `topk` return named tuples
`(values, indices)`, as PyTorch.
"""

from collections import namedtuple

import numpy as np

from ..tensor import Tensor
from .common import check_tensor, normalize_dim
from .scatter import gather

# PyTorch's torch.return_types.sort / topk: tuples with .values and .indices.
sort_result = namedtuple("sort", ["values", "indices"])
topk_result = namedtuple("topk", ["values", "indices"])


def _argsort_array(xp, a, dim, descending):
    """Stable argsort of `a` along `dim`; descending keeps equal elements in their original
    order too (reverse, sort ascending stably, reverse back)."""
    if not descending:
        return xp.argsort(a, axis=dim, kind="stable")
    n = a.shape[dim]
    flipped = xp.flip(a, dim)
    order = xp.argsort(flipped, axis=dim, kind="stable")
    return xp.flip(n - 1 - order, dim)


def _argsort(x, dim, descending, op):
    check_tensor(x, op)
    if x.ndim == 0:
        normalize_dim(dim, 1, op)
        return 0, x.device.xp.zeros((), np.int64)
    d = normalize_dim(dim, x.ndim, op)
    idx = _argsort_array(x.device.xp, x._data, d, bool(descending))
    return d, idx.astype(np.int64, copy=False)


def argsort(x, dim=-1, descending=False, stable=False):
    """Indices that sort x along `dim` (ascending unless descending=True; equal elements keep
    their order, which PyTorch guarantees with stable=True)."""
    _, idx = _argsort(x, dim, descending, "argsort")
    return Tensor._make(idx, x.device)


def sort(x, dim=-1, descending=False, stable=False):
    """(values, indices): x sorted along `dim`, and where each value came from."""
    d, idx = _argsort(x, dim, descending, "sort")
    indices = Tensor._make(idx, x.device)
    values = gather(x, d, indices) if x.ndim else x.clone()
    return sort_result(values, indices)


def topk(x, k, dim=-1, largest=True, sorted=True):  # noqa: A002
    """(values, indices) of the k largest (largest=False: smallest) entries along `dim`,
    in sorted order."""
    check_tensor(x, "topk")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"topk: k must be an int, got {k!r}")
    d = normalize_dim(dim, x.ndim, "topk") if x.ndim else normalize_dim(dim, 1, "topk")
    size = x.shape[d] if x.ndim else 1
    if not 0 <= k <= size:
        raise ValueError(
            f"topk: k={k} is out of range for dim {d} of size {size} (shape {x.shape})")
    if x.ndim == 0:
        indices = Tensor._make(x.device.xp.zeros((), np.int64), x.device)
        return topk_result(x.clone() if k else x.reshape(-1)[:0].reshape(()), indices)
    _, idx = _argsort(x, d, largest, "topk")
    idx = idx[(slice(None),) * d + (slice(0, int(k)),)]
    indices = Tensor._make(idx, x.device)
    return topk_result(gather(x, d, indices), indices)
