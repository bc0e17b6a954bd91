"""conv2d, max_pool2d, avg_pool2d on NCHW tensors, served by the device's kernels.

Every gradient is itself an Op whose backward is again one of these kernels, so second
derivatives (gradgradcheck, create_graph) work through convolutions and pooling:
  conv2d(x, w)            -> gx = Conv2dGradInput(gy, w),  gw = Conv2dGradWeight(x, gy)
  Conv2dGradInput(gy, w)  is linear in gy and w: its grads are conv2d(u, w), Conv2dGradWeight(u, gy)
  Conv2dGradWeight(x, gy) is linear in x and gy: its grads are Conv2dGradInput(gy, v), conv2d(x, v)
"""

import numpy as np

from ..autograd import Op, is_grad_enabled
from ..backend.window import check_window
from ..tensor import Tensor
from .common import check_tensor, pair


class Conv2d(Op):
    """y[n,o] = sum_c x[n,c] (*) w[o,c] + b[o] (cross-correlation, stride, zero padding)."""

    @staticmethod
    def forward(ctx, x, w, b=None, *, stride, padding):
        ctx.stride, ctx.padding = stride, padding
        ctx.save_inputs(0, 1)
        if len(ctx.needs_input_grad) > 1 and ctx.needs_input_grad[1] and is_grad_enabled():
            # The weight gradient needs the same im2col columns as this product: keep them
            # (memory: C*KH*KW*OH*OW per image until backward) rather than rebuild them.
            y, ctx.kept = ctx.kernels.conv2d_forward(x, w, b, stride, padding, keep_cols=True)
            return y
        return ctx.kernels.conv2d_forward(x, w, b, stride, padding)

    @staticmethod
    def backward(ctx, gy):
        x, w = ctx.saved_inputs
        need_x, need_w, need_b = (ctx.needs_input_grad + (False,))[:3]
        gx = Conv2dGradInput.apply(gy, w, x_shape=x.shape, stride=ctx.stride,
                                   padding=ctx.padding) if need_x else None
        gw = Conv2dGradWeight.apply(x, gy, w_shape=w.shape, stride=ctx.stride,
                                    padding=ctx.padding, cols=ctx.kept) if need_w else None
        # Over the batch first (whole contiguous planes added), then each channel's plane:
        # 3-4x faster than one sum over (0, 2, 3), which walks gy in small pieces.
        gb = gy.sum(dim=0).sum(dim=(1, 2)) if need_b else None
        return gx, gw, gb


class Conv2dGradInput(Op):
    """gx = transposed convolution of gy with w (the input-gradient of conv2d)."""

    @staticmethod
    def forward(ctx, gy, w, *, x_shape, stride, padding):
        ctx.stride, ctx.padding = stride, padding
        ctx.save_inputs(0, 1)
        return ctx.kernels.conv2d_grad_input(gy, w, x_shape, stride, padding)

    @staticmethod
    def backward(ctx, u):
        gy, w = ctx.saved_inputs
        d_gy = Conv2d.apply(u, w, None, stride=ctx.stride, padding=ctx.padding) \
            if ctx.needs_input_grad[0] else None
        d_w = Conv2dGradWeight.apply(u, gy, w_shape=w.shape, stride=ctx.stride,
                                     padding=ctx.padding) if ctx.needs_input_grad[1] else None
        return d_gy, d_w


class Conv2dGradWeight(Op):
    """gw = correlation of x with gy (the weight-gradient of conv2d)."""

    @staticmethod
    def forward(ctx, x, gy, *, w_shape, stride, padding, cols=None):
        ctx.stride, ctx.padding = stride, padding
        ctx.save_inputs(0, 1)
        return ctx.kernels.conv2d_grad_weight(x, gy, w_shape, stride, padding, cols=cols)

    @staticmethod
    def backward(ctx, v):
        x, gy = ctx.saved_inputs
        d_x = Conv2dGradInput.apply(gy, v, x_shape=x.shape, stride=ctx.stride,
                                    padding=ctx.padding) if ctx.needs_input_grad[0] else None
        d_gy = Conv2d.apply(x, v, None, stride=ctx.stride, padding=ctx.padding) \
            if ctx.needs_input_grad[1] else None
        return d_x, d_gy


class MaxPool2d(Op):
    """y = max over each window;  dx: gy goes to the recorded argmax of its window."""

    @staticmethod
    def forward(ctx, x, *, kernel_size, stride, padding):
        y, argmax = ctx.kernels.max_pool2d_forward(x, kernel_size, stride, padding)
        ctx.argmax, ctx.x_shape = argmax, x.shape
        ctx.window = (kernel_size, stride, padding)
        return y

    @staticmethod
    def backward(ctx, gy):
        return MaxPool2dScatter.apply(gy, argmax=ctx.argmax, x_shape=ctx.x_shape, window=ctx.window)


class MaxPool2dScatter(Op):
    """gx = gy added at the argmax positions (max_pool2d's backward);  du = u at argmax."""

    @staticmethod
    def forward(ctx, gy, *, argmax, x_shape, window):
        ctx.argmax, ctx.window = argmax, window
        return ctx.kernels.max_pool2d_backward(gy, argmax, x_shape, *window)

    @staticmethod
    def backward(ctx, u):
        return MaxPool2dGather.apply(u, argmax=ctx.argmax, window=ctx.window)


class MaxPool2dGather(Op):
    """y = u read at the argmax positions (per N, C plane);  du = MaxPool2dScatter(gy)."""

    @staticmethod
    def forward(ctx, u, *, argmax, window):
        ctx.argmax, ctx.window, ctx.u_shape = argmax, window, u.shape
        n, c = u.shape[:2]
        picked = ctx.xp.take_along_axis(u.reshape(n, c, -1), argmax.reshape(n, c, -1), axis=2)
        return picked.reshape(argmax.shape)

    @staticmethod
    def backward(ctx, gy):
        return MaxPool2dScatter.apply(gy, argmax=ctx.argmax, x_shape=ctx.u_shape, window=ctx.window)


class AvgPool2d(Op):
    """y = mean over each window (zero padding counted, as PyTorch's default)."""

    @staticmethod
    def forward(ctx, x, *, kernel_size, stride, padding):
        ctx.x_shape, ctx.window = x.shape, (kernel_size, stride, padding)
        return ctx.kernels.avg_pool2d_forward(x, kernel_size, stride, padding)

    @staticmethod
    def backward(ctx, gy):
        return AvgPool2dBackward.apply(gy, x_shape=ctx.x_shape, window=ctx.window)


class AvgPool2dBackward(Op):
    """gx = each gy spread evenly over its window (linear; its own gradient is avg_pool2d)."""

    @staticmethod
    def forward(ctx, gy, *, x_shape, window):
        ctx.window = window
        return ctx.kernels.avg_pool2d_backward(gy, x_shape, *window)

    @staticmethod
    def backward(ctx, u):
        return AvgPool2d.apply(u, kernel_size=ctx.window[0], stride=ctx.window[1],
                               padding=ctx.window[2])


# ---------------------------------------------------------------------------- public functions


def _check_4d(x, name, op, kinds="f"):
    check_tensor(x, op, name)
    if x.ndim != 4:
        raise ValueError(f"{op}: {name} must be 4-D (N, C, H, W), got shape {x.shape}")
    if x.dtype.kind not in kinds:
        raise TypeError(f"{op}: {name} must be floating point, got {x.dtype}")


def conv2d(x, weight, bias=None, stride=1, padding=0):
    """2-D convolution (cross-correlation), NCHW.

    Args:
        x: (N, C, H, W); weight: (O, C, KH, KW); bias: (O,) or None.
        stride, padding: int or (h, w) pair.
    Returns:
        (N, O, OH, OW) with OH = (H + 2*ph - KH) // sh + 1.
    """
    _check_4d(x, "input", "conv2d")
    _check_4d(weight, "weight", "conv2d")
    stride, padding = pair(stride, "stride", "conv2d"), pair(padding, "padding", "conv2d")
    if x.shape[1] != weight.shape[1]:
        raise ValueError(
            f"conv2d: input {x.shape} has {x.shape[1]} channels but weight {weight.shape} "
            f"expects {weight.shape[1]}"
        )
    check_window("conv2d", x.shape, weight.shape[2:], stride, padding, pool=False,
                 channels_out=weight.shape[0])
    if x.dtype != weight.dtype:
        raise TypeError(f"conv2d: input dtype {x.dtype} and weight dtype {weight.dtype} differ")
    if bias is not None:
        if bias.shape != (weight.shape[0],):
            raise ValueError(f"conv2d: bias shape {bias.shape} should be ({weight.shape[0]},)")
        if bias.dtype != x.dtype:
            raise TypeError(f"conv2d: bias dtype {bias.dtype} differs from input dtype {x.dtype}")
    return Conv2d.apply(x, weight, bias, stride=stride, padding=padding)


def _pool_args(op, x, kernel_size, stride, padding, kinds="f"):
    _check_4d(x, "input", op, kinds)
    kernel_size = pair(kernel_size, "kernel_size", op)
    stride = kernel_size if stride is None else pair(stride, "stride", op)
    padding = pair(padding, "padding", op)
    check_window(op, x.shape, kernel_size, stride, padding, pool=True)
    return dict(kernel_size=kernel_size, stride=stride, padding=padding)


def max_pool2d(x, kernel_size, stride=None, padding=0):
    """Max over kernel_size windows (stride defaults to kernel_size; -inf padding). Integer
    tensors are pooled too (forward only: they never require grad), as PyTorch."""
    window = _pool_args("max_pool2d", x, kernel_size, stride, padding, kinds="fiu")
    if x.dtype.kind in "iu":
        return _integer_max_pool2d(x, **window)
    return MaxPool2d.apply(x, **window)


def _integer_max_pool2d(x, kernel_size, stride, padding):
    """Max pooling of an integer tensor (no gradient). Values that float64 holds exactly (all
    of them but int64 beyond 2**53) go through the float kernels, which handle any window;
    the others take the maximum of the KH * KW strided slices of the input padded with the
    dtype's minimum."""
    xp = x.device.xp
    if x.numel() == 0 or x.dtype.itemsize < 8 or int(xp.abs(x._data).max()) <= 2 ** 53:
        as_float = Tensor._make(x._data.astype(np.float64), x.device)
        y = MaxPool2d.apply(as_float, kernel_size=kernel_size, stride=stride, padding=padding)
        return Tensor._make(y._data.astype(x.dtype), x.device)
    (kh, kw), (sh, sw), (ph, pw) = kernel_size, stride, padding
    padded = xp.pad(x._data, ((0, 0), (0, 0), (ph, ph), (pw, pw)),
                    constant_values=np.iinfo(x.dtype).min)
    oh = (padded.shape[2] - kh) // sh + 1
    ow = (padded.shape[3] - kw) // sw + 1
    y = None
    for i in range(kh):
        for j in range(kw):
            part = padded[:, :, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw]
            y = part if y is None else xp.maximum(y, part)
    return Tensor._make(xp.ascontiguousarray(y), x.device)


def avg_pool2d(x, kernel_size, stride=None, padding=0):
    """Mean over kernel_size windows (stride defaults to kernel_size; zero padding counted)."""
    return AvgPool2d.apply(x, **_pool_args("avg_pool2d", x, kernel_size, stride, padding))
