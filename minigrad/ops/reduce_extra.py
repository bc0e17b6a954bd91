"""More reductions: amax / amin (values only, gradient shared among ties), cumsum, and norm
(vector p-norms over dims: p = 2 / "fro", 1, inf, -inf, 0 and any other number)."""

import math

import numpy as np

from ..autograd import Op
from .common import check_tensor, normalize_dim, normalize_dims, resolve_dim_alias
from .elementwise import where
from .reduce import Extremum


def _dims(x, dim, op):
    """Reduced dims for dim=None | () (all) | int | tuple; dim 0 / -1 of a 0-d tensor is ()."""
    if isinstance(dim, (tuple, list)) and len(dim) == 0:
        dim = None
    dims = normalize_dims(dim, x.ndim, op)
    return dims if x.ndim else ()


def _kept_shape(shape, dims):
    return tuple(1 if i in dims else n for i, n in enumerate(shape))


def _amax_amin(x, dim, keepdim, axis, largest):
    name = "amax" if largest else "amin"
    check_tensor(x, name)
    dims = _dims(x, resolve_dim_alias(dim, axis, name), name)
    if any(x.shape[d] == 0 for d in dims) or (x.numel() == 0 and not dims):
        raise ValueError(f"{name}: cannot reduce an empty dimension of a tensor of shape {x.shape}")
    return Extremum.apply(x, dims=dims, keepdim=bool(keepdim), largest=largest, first_only=False)


def amax(x, dim=None, keepdim=False, *, axis=None):
    """The largest value over `dim` (None or (): every dim). The gradient is shared evenly
    among tied maxima, as torch.amax."""
    return _amax_amin(x, dim, keepdim, axis, largest=True)


def amin(x, dim=None, keepdim=False, *, axis=None):
    """The smallest value over `dim` (None or (): every dim); ties share the gradient."""
    return _amax_amin(x, dim, keepdim, axis, largest=False)


class CumSum(Op):
    """y_i = x_0 + ... + x_i along `dim` (reverse: x_i + ... + x_n-1);
    dx = the cumulative sum of gy in the other direction."""

    @staticmethod
    def forward(ctx, x, *, dim, reverse=False):
        ctx.dim, ctx.reverse = dim, reverse
        xp = ctx.xp
        if x.ndim == 0:
            return x.copy()
        if reverse:
            return xp.flip(xp.cumsum(xp.flip(x, dim), axis=dim, dtype=x.dtype), dim).copy()
        return xp.cumsum(x, axis=dim, dtype=x.dtype)

    @staticmethod
    def backward(ctx, gy):
        return CumSum.apply(gy, dim=ctx.dim, reverse=not ctx.reverse)


def cumsum(x, dim, *, dtype=None):
    """Running sums along `dim`. Bool and integer tensors sum in int64, as PyTorch."""
    check_tensor(x, "cumsum")
    d = normalize_dim(dim, x.ndim, "cumsum")
    if dtype is not None:
        x = x.to(dtype)
    elif x.dtype.kind in "biu" and x.dtype != np.int64:
        x = x.long()
    return CumSum.apply(x, dim=d)


class PNorm(Op):
    """y = (sum |x|**p)**(1/p) over dims, for a finite p != 0;
    dx = gy * sign(x) * |x|**(p-1) / y**(p-1)  (gy * x / y for p = 2), 0 where y == 0."""

    @staticmethod
    def forward(ctx, x, *, p, dims, keepdim):
        ctx.save_inputs(0)
        ctx.save_outputs(0)
        ctx.p, ctx.dims, ctx.in_shape = p, dims, x.shape
        xp = ctx.xp
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            if p == 2:
                y = xp.sqrt((x * x).sum(axis=dims, keepdims=keepdim))
            else:
                y = (xp.abs(x) ** p).sum(axis=dims, keepdims=keepdim) ** (1.0 / p)
        return xp.asarray(y, dtype=x.dtype)

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved_inputs
        (y,) = ctx.saved_outputs
        kept = _kept_shape(ctx.in_shape, ctx.dims)
        y, gy = y.reshape(kept), gy.reshape(kept)
        zero = y == 0
        safe_y = where(zero, 1.0, y)
        p = ctx.p
        if p == 2:
            scale = x / safe_y
        else:  # |x| ** (p - 1) at x = 0 would be inf for p < 1: sign(0) = 0 decides there
            safe_abs = where(x == 0, 1.0, x.abs())
            scale = x.sign() * safe_abs ** (p - 1) / safe_y ** (p - 1)
        return where(zero, 0.0, gy * scale)


def norm(x, p="fro", dim=None, keepdim=False, dtype=None):
    """The vector p-norm of x over `dim` (None: all elements), as torch.norm.

    p: 2 or "fro" (the default: sqrt of the sum of squares), 1 (sum of |x|), inf (max |x|),
    -inf (min |x|), 0 (the number of non-zeros) or any other number ((sum |x|**p)**(1/p)).
    The gradient at x = 0 is 0 (PyTorch's choice at the kink).
    """
    check_tensor(x, "norm")
    if dtype is not None:
        x = x.to(dtype)
    if x.dtype.kind != "f":
        raise TypeError(f"norm: input must be a floating point tensor, got {x.dtype}")
    if isinstance(p, str):
        if p != "fro":
            raise ValueError(
                f"norm: p={p!r} is not supported (vector norms only: a number or 'fro')")
        p = 2
    if isinstance(p, bool) or not isinstance(p, (int, float, np.number)) or math.isnan(p):
        raise TypeError(f"norm: p must be a number or 'fro', got {p!r}")
    dims = _dims(x, dim, "norm")
    keepdim = bool(keepdim)
    if p == math.inf or p == -math.inf:
        return _amax_amin(x.abs(), dims, keepdim, None, largest=p > 0)
    if p == 1:
        return x.abs().sum(dim=dims, keepdim=keepdim)
    if p == 0:  # |sign(x)| is 1 for each non-zero and has gradient 0, as PyTorch's p=0 norm
        return x.sign().abs().sum(dim=dims, keepdim=keepdim)
    return PNorm.apply(x, p=float(p), dims=dims, keepdim=keepdim)
