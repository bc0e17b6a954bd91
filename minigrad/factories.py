"""Tensor factories: zeros, ones, full, empty, arange, eye, rand, randn, randint and the
*_like variants. Each takes dtype=, device=, requires_grad= (as PyTorch)."""

import numpy as np

from . import dtypes
from .backend.device import as_device
from .random import generator
from .tensor import Tensor


def _shape(size, op):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    for n in size:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
            raise TypeError(f"{op}: sizes must be ints, got {size!r}")
        if n < 0:
            raise ValueError(f"{op}: sizes must be non-negative, got {size!r}")
    return tuple(int(n) for n in size)


def _finish(array, dtype, device, requires_grad, default=dtypes.default_float):
    device = as_device(device)
    dtype = dtypes.as_dtype(dtype) if dtype is not None else default
    array = np.asarray(array, dtype=dtype)
    if device.type != "cpu":
        array = device.xp.asarray(array)
    out = Tensor._make(array, device)
    out.requires_grad = requires_grad
    return out


def zeros(*size, dtype=None, device=None, requires_grad=False):
    """A tensor of zeros of the given shape (default float32)."""
    return _finish(np.zeros(_shape(size, "zeros")), dtype, device, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False):
    """A tensor of ones."""
    return _finish(np.ones(_shape(size, "ones")), dtype, device, requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False):
    """An uninitialised tensor (here: zeros, so results never depend on garbage)."""
    return _finish(np.zeros(_shape(size, "empty")), dtype, device, requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad=False):
    """A tensor filled with `fill_value`; the dtype follows the value when not given."""
    default = dtypes.scalar_dtype(fill_value)
    dtypes.check_int_range("full", [fill_value], default if dtype is None else dtype)
    return _finish(np.full(_shape((size,), "full"), fill_value), dtype, device, requires_grad, default)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False):
    """Values from start to end (exclusive) by step; int64 when all arguments are ints."""
    if end is None:
        start, end = 0, start
    if step == 0:
        raise ValueError("arange: step must be non-zero")
    values = (start, end, step)
    default = dtypes.int64 if all(isinstance(v, (int, np.integer)) for v in values) else \
        dtypes.default_float
    dtypes.check_int_range("arange", values, default if dtype is None else dtype)
    return _finish(np.arange(start, end, step), dtype, device, requires_grad, default)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False):
    """`steps` evenly spaced values from start to end (inclusive)."""
    return _finish(np.linspace(start, end, steps), dtype, device, requires_grad)


def eye(n, m=None, dtype=None, device=None, requires_grad=False):
    """The identity matrix (n x m)."""
    return _finish(np.eye(n, m), dtype, device, requires_grad)


def rand(*size, dtype=None, device=None, requires_grad=False):
    """Uniform samples in [0, 1) (reproducible with mg.manual_seed)."""
    return _finish(generator().random(_shape(size, "rand")), dtype, device, requires_grad)


def randn(*size, dtype=None, device=None, requires_grad=False):
    """Standard normal samples (reproducible with mg.manual_seed)."""
    return _finish(generator().standard_normal(_shape(size, "randn")), dtype, device, requires_grad)


def randint(low, high=None, size=None, dtype=None, device=None, requires_grad=False):
    """Random integers in [low, high) (int64); `randint(high, size)` also works."""
    if size is None and isinstance(high, (tuple, list)):
        low, high, size = 0, low, high
    if high is None:
        low, high = 0, low
    if size is None:
        raise TypeError("randint: size is required")
    if high <= low:
        raise ValueError(f"randint: high ({high}) must be greater than low ({low})")
    values = generator().integers(low, high, _shape((size,), "randint"))
    return _finish(values, dtype, device, requires_grad, dtypes.int64)


def _like(x, dtype, device):
    return (x.dtype if dtype is None else dtype), (x.device if device is None else device)


def zeros_like(x, dtype=None, device=None, requires_grad=False):
    dtype, device = _like(x, dtype, device)
    return zeros(*x.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def ones_like(x, dtype=None, device=None, requires_grad=False):
    dtype, device = _like(x, dtype, device)
    return ones(*x.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def full_like(x, fill_value, dtype=None, device=None, requires_grad=False):
    dtype, device = _like(x, dtype, device)
    return full(x.shape, fill_value, dtype=dtype, device=device, requires_grad=requires_grad)


def empty_like(x, dtype=None, device=None, requires_grad=False):
    return zeros_like(x, dtype, device, requires_grad)


def rand_like(x, dtype=None, device=None, requires_grad=False):
    dtype, device = _like(x, dtype, device)
    return rand(*x.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def randn_like(x, dtype=None, device=None, requires_grad=False):
    dtype, device = _like(x, dtype, device)
    return randn(*x.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def _new(x, size, dtype, device, requires_grad, fill, op):
    """Tensor.new_*: a fresh tensor with x's dtype and device unless given (as PyTorch)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")
    dtype = x.dtype if dtype is None else dtype
    device = x.device if device is None else device
    return full(_shape(size, op), fill, dtype=dtype, device=device, requires_grad=requires_grad)


def new_zeros(x, *size, dtype=None, device=None, requires_grad=False):
    """Zeros of `size`, with x's dtype and device by default (Tensor.new_zeros)."""
    return _new(x, size, dtype, device, requires_grad, 0, "new_zeros")


def new_ones(x, *size, dtype=None, device=None, requires_grad=False):
    """Ones of `size`, with x's dtype and device by default (Tensor.new_ones)."""
    return _new(x, size, dtype, device, requires_grad, 1, "new_ones")


def new_full(x, size, fill_value, *, dtype=None, device=None, requires_grad=False):
    """`fill_value` everywhere, with x's dtype and device by default (Tensor.new_full)."""
    return _new(x, (size,), dtype, device, requires_grad, fill_value, "new_full")


def new_empty(x, *size, dtype=None, device=None, requires_grad=False):
    """An uninitialised (here: zero) tensor with x's dtype and device (Tensor.new_empty)."""
    return _new(x, size, dtype, device, requires_grad, 0, "new_empty")
