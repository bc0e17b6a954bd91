"""Helpers shared by the op families: the Tensor check, operand conversion with PyTorch's
type promotion, summing a broadcast gradient back to an input's shape, and dim normalisation."""

import numbers

import numpy as np

from .. import dtypes
from ..backend.device import CPU
from ..tensor import Tensor


def _same_dtype_tensors(operands):
    """Fast path of `promote`: every operand already a Tensor of one dtype."""
    first = operands[0]
    if not isinstance(first, Tensor):
        return False
    dtype = first._data.dtype
    for x in operands[1:]:
        if not isinstance(x, Tensor) or x._data.dtype != dtype:
            return False
    return True


def promote(op, *operands):
    """Turn a mix of Tensors, numpy arrays and Python numbers into Tensors of one dtype.

    The dtype follows PyTorch's promotion (see `dtypes.result_type`); casting a Tensor that
    requires grad is recorded, so its gradient flows back in its own dtype.
    """
    if _same_dtype_tensors(operands):
        return list(operands)
    device = None
    dimensioned, zero_dim, scalars = [], [], []
    for x in operands:
        if isinstance(x, Tensor):
            device = device or x.device
            (dimensioned if x.ndim else zero_dim).append(x.dtype)
        elif isinstance(x, np.ndarray):
            (dimensioned if x.ndim else zero_dim).append(x.dtype)
        elif isinstance(x, (numbers.Number, np.bool_)) and not isinstance(x, complex):
            scalars.append(x)
        else:
            raise TypeError(f"{op}: unsupported operand type {type(x).__name__}")
    dtype = dtypes.result_type(dimensioned, zero_dim, scalars)
    device = device or CPU
    out = []
    for x in operands:
        if isinstance(x, Tensor):
            out.append(x if x.dtype == dtype else x.to(dtype))
        else:
            out.append(Tensor._make(device.xp.asarray(x, dtype=dtype), device))
    return out


def check_tensor(x, op, name="input"):
    """TypeError naming the op and the argument unless x is a Tensor."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: {name} must be a Tensor, got {type(x).__name__}")


def broadcast_shapes(op, *shapes):
    if all(s == shapes[0] for s in shapes[1:]):
        return shapes[0]
    try:
        return np.broadcast_shapes(*shapes)
    except ValueError:
        raise ValueError(
            f"{op}: shapes {' and '.join(str(tuple(s)) for s in shapes)} cannot be broadcast together"
        ) from None


def sum_to(grad, shape):
    """Sum a gradient of a broadcast result back to an input's `shape` (differentiable).

    Broadcasting adds leading dims and stretches size-1 dims, so the gradient is summed
    over the leading dims and, keeping dims, over every dim that was 1 in the input.
    """
    shape = tuple(shape)
    if grad.shape == shape:
        return grad
    lead = grad.ndim - len(shape)
    dims = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and grad.shape[lead + i] != 1
    )
    if dims:
        grad = grad.sum(dim=dims, keepdim=True)
    return grad.reshape(shape)


def sum_to_array(grad, shape):
    """`sum_to` on a raw array (numpy or cupy), for `backward_arrays`."""
    if grad.shape == shape:
        return grad
    shape = tuple(shape)
    lead = grad.ndim - len(shape)
    dims = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and grad.shape[lead + i] != 1
    )
    if dims:
        grad = grad.sum(axis=dims, keepdims=True)
    return grad.reshape(shape)


def normalize_dim(dim, ndim, op):
    """One dim index in [0, ndim), with negative dims counted from the end."""
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"{op}: dim must be an int, got {type(dim).__name__}")
    size = max(ndim, 1)
    if not -size <= dim < size:
        raise IndexError(f"{op}: dim {dim} is out of range for a tensor with {ndim} dims")
    return int(dim) % size


def normalize_dims(dim, ndim, op):
    """A sorted tuple of dims for `dim=None | int | tuple` (None means every dim).

    A 0-d tensor accepts dim 0 and -1 (as PyTorch) and has no dim to reduce: ().
    """
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, (list, tuple)):
        dims = tuple(normalize_dim(d, ndim, op) for d in dim)
        if len(set(dims)) != len(dims):
            raise ValueError(f"{op}: dim {tuple(dim)} repeats a dimension")
        return tuple(sorted(dims)) if ndim else ()
    d = normalize_dim(dim, ndim, op)
    return (d,) if ndim else ()


def resolve_dim_alias(dim, axis, op):
    """`axis=` is accepted as an alias of `dim=` (numpy habit)."""
    if axis is not None:
        if dim is not None:
            raise TypeError(f"{op}: pass dim or axis, not both")
        return axis
    return dim


def pair(value, name, op):
    """An int or a pair of ints -> a pair (for kernel_size, stride, padding)."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return (int(value), int(value))
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value
    ):
        return (int(value[0]), int(value[1]))
    raise TypeError(f"{op}: {name} must be an int or a pair of ints, got {value!r}")
