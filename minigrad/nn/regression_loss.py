"""Regression and divergence losses as ops: SmoothL1 / Huber (one op, two scalings) and KL
divergence, with PyTorch's formulas; l1_loss is |input - target| from the core ops.

smooth_l1(d) = 0.5 d**2 / beta if |d| < beta else |d| - beta / 2;  huber = delta * smooth_l1
with beta = delta, i.e. 0.5 d**2 if |d| < delta else delta (|d| - delta / 2).
kl_div(x, t) = t (log t - x) (0 where t == 0), or exp(t) (t - x) with log_target.
"""

import numpy as np

from ..autograd import Op
from ..tensor import Tensor


class SmoothL1(Op):
    """l = s * (0.5 d**2 / beta if |d| < beta else |d| - beta/2) on the difference d;
    dl/dd = s * (d / beta if |d| < beta else sign(d))."""

    @staticmethod
    def forward(ctx, d, *, beta, scale):
        xp = ctx.xp
        ctx.save_inputs(0)
        ctx.beta, ctx.scale = beta, scale
        a = xp.abs(d)
        inside = 0.5 * d * d * (scale / beta)
        outside = scale * (a - 0.5 * beta)
        return xp.where(a < beta, inside, outside).astype(d.dtype, copy=False)

    @staticmethod
    def backward(ctx, gy):
        (d,) = ctx.saved_inputs
        inside = Tensor._make((ctx.xp.abs(d._data) < ctx.beta).astype(gy.dtype), gy.device)
        slope = inside * d * (1.0 / ctx.beta) + (1.0 - inside) * d.sign()
        return gy * slope * ctx.scale


class KLDiv(Op):
    """l = t (log t - x) (0 at t == 0): dl/dx = -t, dl/dt = log t + 1 - x (nan at t == 0);
    log_target: l = exp(t) (t - x): dl/dx = -exp(t), dl/dt = exp(t) (t - x + 1)."""

    @staticmethod
    def forward(ctx, x, t, *, log_target):
        xp = ctx.xp
        ctx.save_inputs(0, 1)
        ctx.log_target = log_target
        if log_target:
            return xp.exp(t) * (t - x)
        positive = t > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            xlogx = xp.where(positive, t * xp.log(xp.where(positive, t, 1)), 0)
        return (xlogx - t * x).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, gy):
        x, t = ctx.saved_inputs
        gx = gt = None
        if ctx.log_target:
            e = t.exp()
            if ctx.needs_input_grad[0]:
                gx = -gy * e
            if ctx.needs_input_grad[1]:
                gt = gy * e * (t - x + 1.0)
            return gx, gt
        if ctx.needs_input_grad[0]:
            gx = -gy * t
        if ctx.needs_input_grad[1]:
            # t / t is 1, and nan at t == 0, where PyTorch's xlogy(t, t) gradient t / t is too.
            gt = gy * (t.log() + t / t - x)
        return gx, gt
