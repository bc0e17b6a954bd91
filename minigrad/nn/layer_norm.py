"""Layer normalisation over the trailing `normalized_shape` dims, as an op.

y = (x - mean) / sqrt(var + eps) * weight + bias, with the mean and the biased variance
taken over the last len(normalized_shape) dims of each sample (as torch.nn.functional.layer_norm).
"""

import numbers

from ..autograd import Op
from ..tensor import Tensor


class LayerNorm(Op):
    """y = xhat w + b, xhat = (x - mu) rstd, rstd = (var + eps)**-1/2 over the last k dims;
    dx = rstd (g - mean(g) - xhat mean(g xhat)) with g = gy w;  dw = sum(gy xhat), db = sum(gy)
    (w and b summed over the leading dims)."""

    @staticmethod
    def forward(ctx, x, weight, bias, *, k, eps):
        xp = ctx.xp
        dims = tuple(range(x.ndim - k, x.ndim))
        mu = x.mean(axis=dims, keepdims=True)
        centered = x - mu
        var = (centered * centered).mean(axis=dims, keepdims=True)
        y = centered * (1.0 / xp.sqrt(var + eps))
        if weight is not None:
            y = y * weight
        if bias is not None:
            y = y + bias
        ctx.dims, ctx.eps = dims, eps
        ctx.has_weight = weight is not None
        ctx.save_inputs(0, 1) if weight is not None else ctx.save_inputs(0)
        return y.astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, gy):
        saved = ctx.saved_inputs
        x, weight = saved if ctx.has_weight else (saved[0], None)
        dims = ctx.dims
        lead = tuple(range(x.ndim - len(dims)))
        # xhat and rstd are recomputed from x with Tensor ops, so this backward is itself
        # differentiable (double backward sees how they depend on x).
        centered = x - x.mean(dims, keepdim=True)
        rstd = ((centered * centered).mean(dims, keepdim=True) + ctx.eps) ** -0.5
        xhat = centered * rstd
        gx = gw = gb = None
        if ctx.needs_input_grad[0]:
            g = gy * weight if weight is not None else gy
            gx = rstd * (g - g.mean(dims, keepdim=True)
                         - xhat * (g * xhat).mean(dims, keepdim=True))
        if ctx.needs_input_grad[1]:
            gw = (gy * xhat).sum(lead) if lead else gy * xhat
        if ctx.needs_input_grad[2]:
            gb = gy.sum(lead) if lead else gy
        return gx, gw, gb


def normalized_shape_tuple(normalized_shape, op):
    """An int or a sequence of ints -> a tuple of positive ints."""
    if isinstance(normalized_shape, numbers.Integral) and not isinstance(normalized_shape, bool):
        normalized_shape = (normalized_shape,)
    try:
        shape = tuple(int(n) for n in normalized_shape)
    except TypeError:
        raise TypeError(
            f"{op}: normalized_shape must be an int or a sequence of ints, got {normalized_shape!r}"
        ) from None
    if any(n < 0 for n in shape):
        raise ValueError(f"{op}: normalized_shape {shape} has a negative size")
    return shape


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):  # noqa: A002
    """Normalise the last len(normalized_shape) dims of input (as torch.nn.functional.layer_norm).

    Args:
        input: (..., *normalized_shape), floating point.
        normalized_shape: the trailing shape to normalise over (int or sequence).
        weight, bias: optional Tensors of shape normalized_shape.
        eps: added to the variance.
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"layer_norm: input must be a Tensor, got {type(input).__name__}")
    if input.dtype.kind != "f":
        raise TypeError(f"layer_norm: input must be floating point, got {input.dtype}")
    shape = normalized_shape_tuple(normalized_shape, "layer_norm")
    k = len(shape)
    if k == 0 or input.ndim < k or input.shape[input.ndim - k:] != shape:
        raise RuntimeError(
            f"layer_norm: given normalized_shape={list(shape)}, expected input with shape "
            f"[*, {', '.join(map(str, shape))}], but got input of size {list(input.shape)}"
        )
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and (not isinstance(t, Tensor) or t.shape != shape):
            got = t.shape if isinstance(t, Tensor) else type(t).__name__
            raise RuntimeError(
                f"layer_norm: {name} must be a Tensor of shape {shape} (normalized_shape), got {got}"
            )
        if t is not None and t.dtype != input.dtype:
            raise TypeError(f"layer_norm: {name} dtype {t.dtype} differs from input dtype {input.dtype}")
    return LayerNorm.apply(input, weight, bias, k=k, eps=float(eps))
