"""Reductions: sum, mean, max/min, var/std, logsumexp, softmax/log_softmax, argmax/argmin
(amax/amin, cumsum, norm: reduce_extra.py).

`dim` is None (every dim), an int or a tuple; `axis=` is an alias. Gradients are spread
back over the reduced dims by broadcasting (`expand`). A 0-d tensor takes dim 0 or -1 (and
reduces nothing), as PyTorch.
"""

import math
from collections import namedtuple

import numpy as np

from ..autograd import Op
from ..tensor import Tensor
from .elementwise import maximum, minimum
from .common import check_tensor, normalize_dim, normalize_dims, resolve_dim_alias


def _kept_shape(shape, dims):
    return tuple(1 if i in dims else n for i, n in enumerate(shape))


class Sum(Op):
    """y = sum of x over dims;  dx = gy broadcast back over the summed dims."""

    @staticmethod
    def forward(ctx, x, *, dims, keepdim):
        ctx.in_shape, ctx.dims = x.shape, dims
        y = x.sum(axis=dims, keepdims=keepdim)
        if x.dtype.kind == "f":
            y = y.astype(x.dtype, copy=False)
        return ctx.xp.asarray(y)

    @staticmethod
    def backward(ctx, gy):
        return gy.reshape(_kept_shape(ctx.in_shape, ctx.dims)).expand(ctx.in_shape)

    @staticmethod
    def backward_arrays(ctx, gy):
        kept = gy.reshape(_kept_shape(ctx.in_shape, ctx.dims))
        return ctx.xp.broadcast_to(kept, ctx.in_shape)


class Extremum(Op):
    """y = max (or min) of x over dims.

    dx: with one int dim, gy goes to the first extremal element (PyTorch's `max(dim)`);
    over several dims or all of them, it is split evenly among ties (PyTorch's `max()`).
    """

    @staticmethod
    def forward(ctx, x, *, dims, keepdim, largest, first_only):
        xp = ctx.xp
        reduce = xp.max if largest else xp.min
        ctx.in_shape, ctx.dims = x.shape, dims
        y_kept = reduce(x, axis=dims, keepdims=True)
        if x.dtype.kind == "f":
            if first_only and dims:
                (d,) = dims
                pick = (xp.argmax if largest else xp.argmin)(x, axis=d)
                pick = xp.expand_dims(pick, d)
                positions = xp.arange(x.shape[d]).reshape([-1 if i == d else 1 for i in range(x.ndim)])
                mask = (positions == pick).astype(x.dtype)
            else:
                mask = (x == y_kept).astype(x.dtype)
                mask /= mask.sum(axis=dims, keepdims=True)
            ctx.mask = mask
        return y_kept if keepdim else y_kept.reshape(
            tuple(n for i, n in enumerate(x.shape) if i not in dims))

    @staticmethod
    def backward(ctx, gy):
        spread = gy.reshape(_kept_shape(ctx.in_shape, ctx.dims)).expand(ctx.in_shape)
        return spread * Tensor._make(ctx.mask, gy.device)


def sum(x, dim=None, keepdim=False, *, axis=None, dtype=None):  # noqa: A001
    """Sum over `dim` (None: all). Bool and integer tensors sum to int64."""
    check_tensor(x, "sum")
    dims = normalize_dims(resolve_dim_alias(dim, axis, "sum"), x.ndim, "sum")
    if dtype is not None:
        x = x.to(dtype)
    return Sum.apply(x, dims=dims, keepdim=keepdim)


def mean(x, dim=None, keepdim=False, *, axis=None):
    """Mean over `dim` (None: all)."""
    check_tensor(x, "mean")
    if x.dtype.kind != "f":
        raise TypeError(f"mean: input dtype must be floating point, got {x.dtype}")
    dims = normalize_dims(resolve_dim_alias(dim, axis, "mean"), x.ndim, "mean")
    count = math.prod(x.shape[d] for d in dims)
    total = Sum.apply(x, dims=dims, keepdim=keepdim)
    return total / count if count else total * float("nan")


# As torch.return_types.max / .min: `values, indices = x.max(1)`, or `.values` / `.indices`.
MaxResult = namedtuple("max", ["values", "indices"])
MinResult = namedtuple("min", ["values", "indices"])


def _extremum(x, dims, keepdim, largest, first_only, name):
    if any(x.shape[d] == 0 for d in dims) or (x.numel() == 0 and len(dims) == x.ndim):
        raise ValueError(f"{name}: cannot reduce an empty dimension of a tensor of shape {x.shape}")
    return Extremum.apply(x, dims=dims, keepdim=keepdim, largest=largest, first_only=first_only)


def _max_or_min(x, dim, keepdim, axis, largest):
    name = "max" if largest else "min"
    check_tensor(x, name)
    dim = resolve_dim_alias(dim, axis, name)
    if dim is None:
        if keepdim:
            raise TypeError(f"{name}: keepdim needs a dim (as PyTorch); use a{name}(x, keepdim=True)")
        return _extremum(x, normalize_dims(None, x.ndim, name), False, largest, False, name)
    if isinstance(dim, (list, tuple)):
        raise TypeError(f"{name}: dim must be an int, got {tuple(dim)}; use mg.a{name}(x, dim) to "
                        "reduce several dims (as PyTorch)")
    dims = normalize_dims(dim, x.ndim, name)
    values = _extremum(x, dims, keepdim, largest, True, name)
    indices = _arg_extremum(x, dim, keepdim, None, largest)
    return (MaxResult if largest else MinResult)(values, indices)


def max(x, dim=None, keepdim=False, *, axis=None):  # noqa: A001
    """The largest value: with no dim a 0-d tensor; with an int `dim` the named tuple
    `(values, indices)` over that dim, as torch.max (gy goes to the first maximum). A Tensor as
    2nd argument means `maximum`."""
    if isinstance(dim, Tensor):
        return maximum(x, dim)
    return _max_or_min(x, dim, keepdim, axis, largest=True)


def min(x, dim=None, keepdim=False, *, axis=None):  # noqa: A001
    """The smallest value: with no dim a 0-d tensor; with an int `dim` the named tuple
    `(values, indices)`, as torch.min. A Tensor as 2nd argument means `minimum`."""
    if isinstance(dim, Tensor):
        return minimum(x, dim)
    return _max_or_min(x, dim, keepdim, axis, largest=False)


def var(x, dim=None, keepdim=False, *, correction=None, unbiased=None, axis=None):
    """Variance over `dim`, divided by N - correction (Bessel's correction=1 by default)."""
    check_tensor(x, "var")
    if x.dtype.kind != "f":
        raise TypeError(f"var: input dtype must be floating point, got {x.dtype}")
    if correction is not None and unbiased is not None:
        raise TypeError("var: pass correction or unbiased, not both")
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    dims = normalize_dims(resolve_dim_alias(dim, axis, "var"), x.ndim, "var")
    count = math.prod(x.shape[d] for d in dims)
    centred = x - mean(x, dims, keepdim=True)
    divisor = count - correction
    squares = Sum.apply(centred * centred, dims=dims, keepdim=keepdim)
    # N <= correction gives nan, as PyTorch (with a warning there).
    return squares / divisor if divisor > 0 else squares * float("nan")


def std(x, dim=None, keepdim=False, *, correction=None, unbiased=None, axis=None):
    """Standard deviation: sqrt(var(...))."""
    return var(x, dim, keepdim, correction=correction, unbiased=unbiased, axis=axis).sqrt()


def logsumexp(x, dim=None, keepdim=False, *, axis=None):
    """log(sum(exp(x))) over `dim`, computed stably by shifting with the (constant) max."""
    check_tensor(x, "logsumexp")
    if x.dtype.kind != "f":
        x = x.float()
    dims = normalize_dims(resolve_dim_alias(dim, axis, "logsumexp"), x.ndim, "logsumexp")
    xp = x.device.xp
    shift = xp.max(x._data, axis=dims, keepdims=True) if x.numel() else xp.zeros(
        _kept_shape(x.shape, dims), x.dtype)
    shift = xp.where(xp.isfinite(shift), shift, 0).astype(x.dtype)
    # The shift is a constant: d/dx of log(sum(exp(x - m))) + m is exactly softmax(x).
    shift_t = Tensor._make(shift, x.device)
    out = Sum.apply((x - shift_t).exp(), dims=dims, keepdim=True).log() + shift_t
    if not keepdim:
        out = out.reshape(tuple(n for i, n in enumerate(x.shape) if i not in dims))
    return out


def log_softmax(x, dim):
    """x - logsumexp(x, dim): log-probabilities, stable for large logits."""
    check_tensor(x, "log_softmax")
    dim = normalize_dim(dim, x.ndim, "log_softmax")  # errors name this op, not logsumexp
    return x - logsumexp(x, dim, keepdim=True)


def softmax(x, dim):
    """exp(x) / sum(exp(x)) along `dim`, computed as exp(log_softmax) (no overflow)."""
    check_tensor(x, "softmax")
    dim = normalize_dim(dim, x.ndim, "softmax")
    return log_softmax(x, dim).exp()


def _arg_extremum(x, dim, keepdim, axis, largest):
    name = "argmax" if largest else "argmin"
    check_tensor(x, name)
    dim = resolve_dim_alias(dim, axis, name)
    xp = x.device.xp
    func = xp.argmax if largest else xp.argmin
    if dim is None:
        if x.numel() == 0:
            raise ValueError(f"{name}: cannot take {name} of an empty tensor of shape {x.shape}")
        out = xp.asarray(func(x._data))
        if keepdim:
            out = out.reshape((1,) * x.ndim)
    else:
        d = normalize_dim(dim, x.ndim, name)
        if x.ndim and x.shape[d] == 0:
            raise ValueError(f"{name}: cannot reduce dim {dim} of size 0 of a tensor of shape {x.shape}")
        out = func(x._data, axis=d, keepdims=keepdim) if x.ndim else xp.asarray(0)
    return Tensor._make(xp.asarray(out, dtype=np.int64), x.device)


def argmax(x, dim=None, keepdim=False, *, axis=None):
    """Index of the largest value (flattened when dim is None); first one on ties."""
    return _arg_extremum(x, dim, keepdim, axis, largest=True)


def argmin(x, dim=None, keepdim=False, *, axis=None):
    """Index of the smallest value (flattened when dim is None); first one on ties."""
    return _arg_extremum(x, dim, keepdim, axis, largest=False)
