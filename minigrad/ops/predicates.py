"""Tests of values: isnan, isfinite, isinf, isclose/allclose, any, all (bool results, no
gradient), and nan_to_num (differentiable where the input is finite)."""

import numpy as np

from ..autograd import Op
from ..tensor import Tensor
from .common import broadcast_shapes, check_tensor, normalize_dims, promote, resolve_dim_alias


def _bool_tensor(array, device):
    return Tensor._make(array, device)


def isnan(x):
    """True where x is NaN."""
    check_tensor(x, "isnan")
    return _bool_tensor(x.device.xp.isnan(x._data), x.device)


def isinf(x):
    """True where x is +inf or -inf."""
    check_tensor(x, "isinf")
    return _bool_tensor(x.device.xp.isinf(x._data), x.device)


def isfinite(x):
    """True where x is neither NaN nor infinite."""
    check_tensor(x, "isfinite")
    return _bool_tensor(x.device.xp.isfinite(x._data), x.device)


def _check_tolerance(op, name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or value < 0:
        raise ValueError(f"{op}: {name} must be a non-negative number, got {value!r}")


def isclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    """|a - b| <= atol + rtol * |b|, element-wise (broadcasting), as torch.isclose."""
    _check_tolerance("isclose", "rtol", rtol)
    _check_tolerance("isclose", "atol", atol)
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        raise TypeError("isclose: expected Tensors")
    a, b = promote("isclose", a, b)
    broadcast_shapes("isclose", a.shape, b.shape)
    xp = a.device.xp
    if a.dtype == np.bool_:
        return _bool_tensor(a._data == b._data, a.device)
    close = xp.isclose(a._data, b._data, rtol=rtol, atol=atol, equal_nan=bool(equal_nan))
    return _bool_tensor(close, a.device)


def allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    """Whether every element of a is close to b (a Python bool), as torch.allclose."""
    return bool(isclose(a, b, rtol, atol, equal_nan)._data.all())


def _logical_reduce(name, x, dim, keepdim, axis):
    check_tensor(x, name)
    dims = normalize_dims(resolve_dim_alias(dim, axis, name), x.ndim, name)
    dims = dims if x.ndim else ()  # dim=0 / -1 of a 0-d tensor is the tensor itself
    xp = x.device.xp
    out = getattr(xp, name)(x._data != 0, axis=dims, keepdims=bool(keepdim))
    return _bool_tensor(xp.asarray(out), x.device)


def any(x, dim=None, keepdim=False, *, axis=None):  # noqa: A001
    """True where some element over `dim` (None: all dims) is non-zero."""
    return _logical_reduce("any", x, dim, keepdim, axis)


def all(x, dim=None, keepdim=False, *, axis=None):  # noqa: A001
    """True where every element over `dim` (None: all dims) is non-zero."""
    return _logical_reduce("all", x, dim, keepdim, axis)


class NanToNum(Op):
    """y = x with NaN, +inf, -inf replaced;  dx = gy where x is finite, else 0."""

    @staticmethod
    def forward(ctx, x, *, nan, posinf, neginf):
        ctx.save_inputs(0)
        return ctx.xp.nan_to_num(x, copy=True, nan=nan, posinf=posinf, neginf=neginf)

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved_inputs
        finite = Tensor._make(ctx.xp.isfinite(x._data).astype(gy.dtype), gy.device)
        return gy * finite


def nan_to_num(x, nan=0.0, posinf=None, neginf=None):
    """NaN -> `nan`, +inf -> `posinf`, -inf -> `neginf` (None: the dtype's largest / smallest
    finite value), as torch.nan_to_num."""
    check_tensor(x, "nan_to_num")
    for name, value in (("nan", nan), ("posinf", posinf), ("neginf", neginf)):
        if value is not None and (isinstance(value, bool)
                                  or not isinstance(value, (int, float, np.number))):
            raise TypeError(f"nan_to_num: {name} must be a number or None, got {value!r}")
    if x.dtype.kind != "f":
        return x.clone()
    return NanToNum.apply(x, nan=float(nan), posinf=posinf, neginf=neginf)
