"""Fused loss ops: one forward on raw arrays, a backward written with Tensor ops.

cross_entropy(x, t) = logsumexp(x_i) - x_i[t_i], computed with the max shift so that logits
of +-1e4 stay finite. Its gradient (softmax(x) - onehot(t)) * scale is itself an Op
(`CrossEntropyGrad`) whose backward is again Tensor ops, so double backward works.
"""

import numpy as np

from ..autograd import Op
from ..tensor import Tensor
from .smooth_activations import logsigmoid


def row_scale(xp, n, dtype, weights, reduction, denom, ignored=None):
    """Per-row factor c_i such that loss-grad rows are (p - onehot) * c_i * gy: the row's
    weight, over denom for "mean". Ignored rows get exactly 0, even when denom is 0 (every
    target ignored: the loss is nan but the gradient 0, as PyTorch's)."""
    c = xp.ones((n, 1), dtype) if weights is None else weights.reshape(n, 1).astype(dtype)
    if reduction == "mean":
        with np.errstate(divide="ignore", invalid="ignore"):
            c = c / dtype.type(denom)
    if ignored is not None:
        c[ignored.reshape(n)] = 0
    return c


class CrossEntropy(Op):
    """l_i = w_i * (logsumexp(x_i) - x_i[t_i]);  dl_i/dx_i = w_i * (softmax(x_i) - onehot(t_i))."""

    @staticmethod
    def forward(ctx, x, *, target, weights, reduction, ignored=None):
        xp = ctx.xp
        n = x.shape[0]
        z = x - x.max(axis=1, keepdims=True)
        sum_exp = xp.exp(z).sum(axis=1, keepdims=True)
        log_sum = xp.log(sum_exp)
        rows = xp.arange(n)
        losses = log_sum[:, 0] - z[rows, target]
        if weights is not None:
            losses = losses * weights.astype(x.dtype)
        denom = n if weights is None else float(weights.sum())
        ctx.target, ctx.reduction = target, reduction
        ctx.scale = row_scale(xp, n, x.dtype, weights, reduction, denom, ignored)
        ctx.probs = xp.exp(z - log_sum)  # softmax, reused by the first-order backward
        ctx.save_inputs(0)
        if reduction == "none":
            return losses
        total = losses.sum()
        with np.errstate(divide="ignore", invalid="ignore"):  # all ignored: 0/0 = nan, silently
            return xp.asarray(total / denom if reduction == "mean" else total, dtype=x.dtype)

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved_inputs
        return CrossEntropyGrad.apply(x, gy, probs=ctx.probs, target=ctx.target,
                                      scale=ctx.scale, reduction=ctx.reduction)


class CrossEntropyGrad(Op):
    """G = (softmax(x) - onehot(t)) * r with r = c * gy;
    dG/dx: r p_k (u_k - sum_j u_j p_j),  dG/dgy: sum(u (p - onehot) c)."""

    @staticmethod
    def forward(ctx, x, gy, *, probs, target, scale, reduction):
        ctx.target, ctx.scale, ctx.reduction = target, scale, reduction
        ctx.save_inputs(0, 1)
        g = gy.reshape(-1, 1) if reduction == "none" else gy
        gx = probs * (scale * g)
        gx[ctx.xp.arange(x.shape[0]), target] -= (scale * g)[:, 0]
        return gx

    @staticmethod
    def backward(ctx, u):
        x, gy = ctx.saved_inputs
        n, num_classes = x.shape
        xp = ctx.xp
        scale = Tensor._make(ctx.scale, x.device)
        g = gy.reshape(n, 1) if ctx.reduction == "none" else gy.reshape(1, 1)
        p = x.softmax(1)
        gx = ggy = None
        if ctx.needs_input_grad[0]:
            gx = (scale * g) * p * (u - (u * p).sum(1, keepdim=True))
        if ctx.needs_input_grad[1]:
            onehot = xp.zeros((n, num_classes), x.dtype)
            onehot[xp.arange(n), ctx.target] = 1
            d = (p - Tensor._make(onehot, x.device)) * scale * u
            ggy = d.sum(1) if ctx.reduction == "none" else d.sum().reshape(gy.shape)
        return gx, ggy


class BinaryCrossEntropy(Op):
    """l = -(y log x + (1-y) log(1-x)) with each log clamped to >= -100 (as PyTorch);
    dl/dx = (x - y) / max(x (1 - x), 1e-12), dl/dy = log(1-x) - log(x) (clamped)."""

    @staticmethod
    def forward(ctx, x, y):
        xp = ctx.xp
        ctx.save_inputs(0, 1)
        with np.errstate(divide="ignore"):
            log_x = xp.maximum(xp.log(x), -100)
            log_1mx = xp.maximum(xp.log(1 - x), -100)
        return -(y * log_x + (1 - y) * log_1mx)

    @staticmethod
    def backward(ctx, gy):
        x, y = ctx.saved_inputs
        gx = gt = None
        if ctx.needs_input_grad[0]:
            gx = gy * (x - y) / (x * (1 - x)).clamp(min=1e-12)
        if ctx.needs_input_grad[1]:
            with np.errstate(divide="ignore"):
                gt = gy * ((1 - x).log().clamp(min=-100) - x.log().clamp(min=-100))
        return gx, gt


class BinaryCrossEntropyWithLogits(Op):
    """l = (1 - y) x + L softplus(-x), L = 1 + (pw - 1) y (L = 1 without pos_weight), where
    softplus(-x) = -log(sigmoid(x)) = max(-x, 0) + log(1 + exp(-|x|)) (stable);
    dl/dx = (1 - y) - L sigmoid(-x),  dl/dy = -x + (pw - 1) softplus(-x).
    pos_weight is a constant (no gradient, as in PyTorch)."""

    @staticmethod
    def forward(ctx, x, y, *, pos_weight=None):
        xp = ctx.xp
        ctx.save_inputs(0, 1)
        ctx.pos_weight = pos_weight
        log1p_exp = xp.log1p(xp.exp(-xp.abs(x)))
        if pos_weight is None:
            return xp.maximum(x, 0) - x * y + log1p_exp
        log_weight = (pos_weight - 1) * y + 1
        return ((1 - y) * x + log_weight * (xp.maximum(-x, 0) + log1p_exp)).astype(x.dtype)

    @staticmethod
    def backward(ctx, gy):
        x, y = ctx.saved_inputs
        need_x, need_y = ctx.needs_input_grad
        if ctx.pos_weight is None:
            gx = gy * (x.sigmoid() - y) if need_x else None
            gt = -gy * x if need_y else None
            return gx, gt
        pw_minus_1 = Tensor._make(ctx.pos_weight - 1, x.device)
        gx = gt = None
        if need_x:
            gx = gy * ((1.0 - y) - (pw_minus_1 * y + 1.0) * (-x).sigmoid())
        if need_y:
            gt = gy * (pw_minus_1 * -logsigmoid(x) - x)
        return gx, gt
