"""Index-driven ops along one dim: gather, scatter_add, index_select, and masked_fill.

gather and index_select are `x[key]` for a key built from the index tensor (so they reuse
indexing.GetItem, whose backward scatter-adds: repeated indices accumulate); scatter_add is the
adjoint, y = x with src added at the key, whose src gradient is a gather.

Index errors raise IndexOutOfRangeError, which is both an IndexError (PyTorch's index_select
raises one) and a RuntimeError (PyTorch's gather and scatter_add raise one).
"""

import numpy as np

from ..autograd import Op
from ..tensor import Tensor
from .common import check_tensor, normalize_dim
from .elementwise import Where
from .indexing import GetItem


class IndexOutOfRangeError(IndexError, RuntimeError):
    """An index tensor holds a value outside [0, size) of the dim it indexes."""


def _index_tensor(index, op, device):
    if not isinstance(index, Tensor):
        raise TypeError(f"{op}: index must be an integer Tensor, got {type(index).__name__}")
    if index.dtype.kind not in "iu":
        raise TypeError(f"{op}: index must be an integer tensor (int64), got {index.dtype}")
    if index.device != device:
        raise RuntimeError(f"{op}: index is on {index.device} but the input is on {device}")
    return index._data


def _check_range(op, idx, size, dim):
    if idx.size and (bool((idx < 0).any()) or bool((idx >= size).any())):
        lo, hi = int(idx.min()), int(idx.max())
        bad = lo if lo < 0 else hi
        raise IndexOutOfRangeError(
            f"{op}: index {bad} is out of bounds for dim {dim} with size {size}")


def _dim_key(xp, idx, dim):
    """The advanced-index key that picks x[..., idx[i, j, k], ...] at position (i, j, k):
    idx along `dim`, each other dim its own position (an arange, broadcast)."""
    key = []
    for d, n in enumerate(idx.shape):
        if d == dim:
            key.append(idx)
        else:
            shape = [1] * idx.ndim
            shape[d] = n
            key.append(xp.arange(n).reshape(shape))
    return tuple(key)


def _check_index_shape(op, index_shape, x_shape, dim, what="input"):
    if len(index_shape) != len(x_shape):
        raise ValueError(f"{op}: index of shape {index_shape} must have as many dims as the "
                         f"{what} of shape {x_shape}")
    for d, (i, n) in enumerate(zip(index_shape, x_shape)):
        if d != dim and i > n:
            raise ValueError(f"{op}: index of shape {index_shape} is larger than the {what} of "
                             f"shape {x_shape} at dim {d}")


def gather(input, dim, index):  # noqa: A002
    """out[i][j][k] = input[index[i][j][k]][j][k] (for dim=0; likewise for other dims).

    index has input's number of dims and is no larger than input outside `dim`; out has
    index's shape. Gradients of repeated indices add up.
    """
    check_tensor(input, "gather")
    idx = _index_tensor(index, "gather", input.device)
    if input.ndim == 0 or idx.ndim == 0:
        if input.ndim > 1 or idx.ndim > 1:
            raise ValueError(f"gather: index of shape {index.shape} must have as many dims as "
                             f"the input of shape {input.shape}")
        normalize_dim(dim, 1, "gather")
        out = gather(input.reshape(-1), 0, index.reshape(-1))
        return out.reshape(index.shape)
    d = normalize_dim(dim, input.ndim, "gather")
    _check_index_shape("gather", idx.shape, input.shape, d)
    _check_range("gather", idx, input.shape[d], d)
    return GetItem.apply(input, key=_dim_key(input.device.xp, idx, d))


class ScatterAddDim(Op):
    """y = x with y[index[i][j][k]][j][k] += src[i][j][k] (dim=0) (repeated indices add up);
    dx = gy, dsrc = gy gathered at the same key."""

    @staticmethod
    def forward(ctx, x, src, *, key):
        ctx.key = key
        y = x.copy()
        ctx.kernels.scatter_add(y, key, src)
        return y

    @staticmethod
    def backward(ctx, gy):
        gx = gy if ctx.needs_input_grad[0] else None
        gsrc = GetItem.apply(gy, key=ctx.key) if ctx.needs_input_grad[1] else None
        return gx, gsrc


def scatter_add(input, dim, index, src):  # noqa: A002
    """A copy of input with src[i][j][k] added at input[index[i][j][k]][j][k] (dim=0).

    index has input's number of dims, is no larger than src anywhere and than input outside
    `dim`; only src's leading index-shaped block is used (as torch.scatter_add).
    """
    check_tensor(input, "scatter_add")
    check_tensor(src, "scatter_add")
    idx = _index_tensor(index, "scatter_add", input.device)
    if src.dtype != input.dtype:
        raise TypeError(
            f"scatter_add: src dtype {src.dtype} differs from the input's {input.dtype}")
    if input.ndim == 0:
        out = scatter_add(input.reshape(1), dim, index.reshape(-1), src.reshape(-1))
        return out.reshape(())
    d = normalize_dim(dim, input.ndim, "scatter_add")
    _check_index_shape("scatter_add", idx.shape, input.shape, d)
    if src.ndim != idx.ndim or any(i > n for i, n in zip(idx.shape, src.shape)):
        raise ValueError(f"scatter_add: index of shape {index.shape} must not be larger than src "
                         f"of shape {src.shape}")
    _check_range("scatter_add", idx, input.shape[d], d)
    if src.shape != idx.shape:
        src = src[tuple(slice(0, n) for n in idx.shape)]
    return ScatterAddDim.apply(input, src, key=_dim_key(input.device.xp, idx, d))


def index_select(input, dim, index):  # noqa: A002
    """The entries of input at positions `index` (1-D integer tensor) along `dim`."""
    check_tensor(input, "index_select")
    idx = _index_tensor(index, "index_select", input.device)
    if idx.ndim > 1:
        raise ValueError(f"index_select: index must be 1-D, got shape {index.shape}")
    idx = idx.reshape(-1)
    if input.ndim == 0:
        normalize_dim(dim, 1, "index_select")
        _check_range("index_select", idx, 1, 0)
        out = GetItem.apply(input.reshape(1), key=(idx,))
        return out.reshape(() if idx.size == 1 else (idx.size,))
    d = normalize_dim(dim, input.ndim, "index_select")
    _check_range("index_select", idx, input.shape[d], d)
    return GetItem.apply(input, key=(slice(None),) * d + (idx,))


def masked_fill(input, mask, value):  # noqa: A002
    """A copy of input with `value` wherever the bool `mask` is True (mask and input broadcast
    together, as torch.masked_fill).

    value: a number or a 0-d tensor (differentiable: it gets the sum of the masked gradient).
    """
    check_tensor(input, "masked_fill")
    if not isinstance(mask, Tensor) or mask.dtype != np.bool_:
        got = mask.dtype if isinstance(mask, Tensor) else type(mask).__name__
        raise TypeError(f"masked_fill: mask must be a bool tensor, got {got}")
    if mask.device != input.device:
        raise RuntimeError(
            f"masked_fill: mask is on {mask.device} but the input is on {input.device}")
    try:
        np.broadcast_shapes(mask.shape, input.shape)
    except ValueError:
        raise ValueError(f"masked_fill: mask of shape {mask.shape} and input of shape "
                         f"{input.shape} cannot be broadcast together") from None
    if isinstance(value, Tensor):
        if value.ndim:
            raise ValueError(
                f"masked_fill: value must be a number or a 0-d tensor, got shape {value.shape}")
        if value.device != input.device:
            raise RuntimeError(
                f"masked_fill: value is on {value.device} but the input is on {input.device}")
        fill = value if value.dtype == input.dtype else value.to(input.dtype)
    elif isinstance(value, (bool, int, float, np.number)):
        fill = Tensor._make(input.device.xp.asarray(value, dtype=input.dtype), input.device)
    else:
        raise TypeError(
            f"masked_fill: value must be a number or a 0-d tensor, got {type(value).__name__}")
    return Where.apply(mask._data, fill, input)
