"""Indexing: x[key] and x[key] = value, with ints, slices (positive steps), None, Ellipsis,
integer arrays and boolean masks. Gradients of repeated indices add up (scatter-add).

Ints mixed with advanced indices follow PyTorch, not numpy: the int-indexed dims are removed
first, then the rest of the key applies (`x[0, :, [1, 2]]` has shape (n1, 2); numpy would
give (2, n1)). Such a key is kept as a `SplitKey` (ints first, the rest second).
"""

import numpy as np

from ..autograd import Op
from ..tensor import Tensor
from .common import promote, sum_to


def normalize_key(key, op="getitem"):
    """Replace Tensors/lists in an index by arrays and reject what PyTorch rejects."""
    parts = key if isinstance(key, tuple) else (key,)
    out = []
    for part in parts:
        if isinstance(part, Tensor):
            part = part._data
            if part.dtype.kind == "f":
                raise IndexError(f"{op}: tensors used as indices must be integer or bool, got {part.dtype}")
        elif isinstance(part, list):
            part = np.asarray(part)
            if part.dtype.kind == "f":
                raise IndexError(f"{op}: index lists must hold ints or bools, got {part.dtype}")
        elif isinstance(part, slice):
            if part.step is not None and part.step <= 0:
                raise ValueError(f"{op}: slice step must be positive, got {part.step} (as PyTorch)")
        elif isinstance(part, np.ndarray) and part.dtype.kind == "f":
            raise IndexError(f"{op}: arrays used as indices must be integer or bool, got {part.dtype}")
        elif isinstance(part, float):
            raise IndexError(f"{op}: indices must be ints, slices, None, Ellipsis or tensors, got {part!r}")
        out.append(part)
    return tuple(out)


def _is_array_index(k):
    return hasattr(k, "ndim") and (k.ndim > 0 or k.dtype == np.bool_)


def _is_int(k):
    return (isinstance(k, (int, np.integer)) and not isinstance(k, (bool, np.bool_))) or (
        hasattr(k, "ndim") and k.ndim == 0 and k.dtype.kind in "iu")


class SplitKey(tuple):
    """(ints, rest): index with the int-only basic key first, then with the rest."""


def _pytorch_order(key, ndim):
    """`key` itself, or a SplitKey when it mixes ints with array indices (PyTorch's rule)."""
    if not (any(_is_int(k) for k in key) and any(_is_array_index(k) for k in key)):
        return key

    def width(k):
        return 0 if k is None else (k.ndim if _is_array_index(k) and k.dtype == np.bool_ else 1)

    explicit = sum(width(k) for k in key if k is not Ellipsis)
    ints, rest = [], []
    for k in key:
        if k is Ellipsis:
            ints += [slice(None)] * (ndim - explicit)
            rest.append(Ellipsis)
        elif k is None:
            rest.append(None)
        elif _is_int(k):
            ints.append(k)
        else:
            ints += [slice(None)] * width(k)
            rest.append(k)
    return SplitKey((tuple(ints), tuple(rest)))


def _take(array, key):
    """array[key] for a plain or split key."""
    if isinstance(key, SplitKey):
        return array[key[0]][key[1]]
    return array[key]


def _assign(array, key, value):
    if isinstance(key, SplitKey):
        array[key[0]][key[1]] = value  # array[ints] is a view (basic indexing)
    else:
        array[key] = value


def _is_advanced(key):
    if isinstance(key, SplitKey):
        key = key[1]
    return any(_is_array_index(k) for k in key)


class GetItem(Op):
    """y = x[key];  dx = zeros with gy scattered (added) back at key."""

    _view_of_input0 = True

    @staticmethod
    def forward(ctx, x, *, key):
        ctx.key, ctx.in_shape = key, x.shape
        y = _take(x, key)
        if isinstance(y, np.generic):
            # All-int keys give numpy a scalar; ask for the 0-d view of that element instead
            # (so `x[0]` is writable and shares memory, as in PyTorch).
            y = x[key + (Ellipsis,)]
        return y

    @staticmethod
    def backward(ctx, gy):
        return ScatterAdd.apply(gy, key=ctx.key, shape=ctx.in_shape)


class ScatterAdd(Op):
    """y = zeros(shape) with y[key] += g (repeated indices accumulate);  dg = gy[key]."""

    @staticmethod
    def forward(ctx, g, *, key, shape):
        ctx.key = key
        y = ctx.xp.zeros(shape, g.dtype)
        target, rest = (y[key[0]], key[1]) if isinstance(key, SplitKey) else (y, key)
        if _is_advanced(rest):
            ctx.kernels.scatter_add(target, rest, g)
        else:
            target[rest] = g  # basic indexing never repeats an element
        return y

    @staticmethod
    def backward(ctx, gy):
        return GetItem.apply(gy, key=ctx.key)


class IndexPut(Op):
    """y = x with y[key] = v;  dx = gy with zeros at key, dv = gy[key] summed to v's shape."""

    @staticmethod
    def forward(ctx, x, v, *, key):
        ctx.key, ctx.v_shape = key, v.shape
        y = x.copy()
        _assign(y, key, v)
        return y

    @staticmethod
    def backward(ctx, gy):
        zero = Tensor._make(ctx.xp.zeros((), gy.dtype), gy.device)
        gx = IndexPut.apply(gy, zero, key=ctx.key) if ctx.needs_input_grad[0] else None
        gv = sum_to(GetItem.apply(gy, key=ctx.key), ctx.v_shape) if ctx.needs_input_grad[1] else None
        return gx, gv


def getitem(x, key):
    """x[key]."""
    key = normalize_key(key)
    try:
        x._data[key]  # validate with numpy's own rules first, for a clear error
        key = _pytorch_order(key, x.ndim)
    except IndexError as exc:
        raise IndexError(f"getitem: {exc} (tensor of shape {x.shape})") from None
    return GetItem.apply(x, key=key)


def index_put(x, key, value):
    """A copy of x with x[key] = value (differentiable in both)."""
    key = normalize_key(key, "setitem")
    (v,) = promote("setitem", value) if not hasattr(value, "_data") else (value,)
    if v.dtype != x.dtype:
        v = v.to(x.dtype)
    try:
        x._data[key]
        key = _pytorch_order(key, x.ndim)
        target = _take(x._data, key)
        np.broadcast_shapes(v.shape, target.shape)
    except IndexError as exc:
        raise IndexError(f"setitem: {exc} (tensor of shape {x.shape})") from None
    except ValueError:
        raise ValueError(
            f"setitem: value of shape {v.shape} cannot be broadcast to the indexed shape {target.shape}"
        ) from None
    return IndexPut.apply(x, v, key=key)
