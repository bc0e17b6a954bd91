"""Numpy reference kernels: the fallback backend, and the oracle the native kernels are tested on.

Images are NCHW: x (N, C, H, W), conv weights (O, C, KH, KW), outputs (N, O, OH, OW) with
OH = (H + 2*ph - KH) // sh + 1 (and the same for OW).

Convolution is im2col + GEMM. im2col copies every KH x KW window of the padded input into one
column, so cols has shape (N, C*KH*KW, OH*OW); the convolution is then the matrix product
w.reshape(O, C*KH*KW) @ cols. Its two gradients are matrix products too:
    gcols = w2d.T @ gy          then col2im (add every column back where it came from)
    gw    = sum_n gy[n] @ cols[n].T
Max pooling records, for each output, where its maximum came from (argmax) so the backward is a
scatter-add; average pooling spreads gy evenly over each window. The functions work on numpy
arrays and, where cheap, on cupy arrays (the array module is taken from the input).
"""

import math

import numpy as np

from .window import check_window

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def matmul(a, b, *, trans_a=False, trans_b=False):
    """op(a) @ op(b) with numpy's batch broadcasting; op transposes the last two axes if asked.

    Args:
        a: (..., M, K) array, or (..., K, M) with trans_a.
        b: (..., K, P) array, or (..., P, K) with trans_b.
    Returns:
        (..., M, P) array of the inputs' dtype.
    """
    check_matmul_args(a, b, trans_a, trans_b)
    xp = array_module(a)
    if trans_a:
        a = xp.swapaxes(a, -1, -2)
    if trans_b:
        b = xp.swapaxes(b, -1, -2)
    return xp.matmul(a, b)


def conv2d_forward(x, w, b, stride, padding, *, keep_cols=False):
    """2-D cross-correlation y = x * w (+ b).

    Args:
        x: (N, C, H, W) input.  w: (O, C, KH, KW) weight.  b: (O,) bias or None.
        stride: (sh, sw).  padding: (ph, pw), zero padding on both sides.
        keep_cols: also return the im2col columns, for conv2d_grad_weight(..., cols=...) to
            reuse instead of building them again (they cost C*KH*KW*OH*OW per image of memory).
    Returns:
        y: (N, O, OH, OW); with keep_cols, (y, cols). cols is opaque: only this backend's
        conv2d_grad_weight reads it (here the (N, C*KH*KW, OH*OW) array of im2col). A backend
        may return None for it when rebuilding the columns costs less than keeping them (the
        CPU kernels do for batches they run in chunks of images).
    """
    check_conv_forward_args(x, w, b, stride, padding)
    xp = array_module(x)
    N = x.shape[0]
    O = w.shape[0]
    cols, (OH, OW) = im2col(x, w.shape[2:], stride, padding)  # (N, C*KH*KW, OH*OW)
    y = xp.matmul(w.reshape(O, -1), cols)                       # (N, O, OH*OW)
    if b is not None:
        y += b.reshape(1, O, 1)
    if keep_cols:
        return y.reshape(N, O, OH, OW), cols
    return y.reshape(N, O, OH, OW)


def conv2d_grad_input(gy, w, x_shape, stride, padding):
    """Gradient of conv2d_forward with respect to x.

    Args:
        gy: (N, O, OH, OW) gradient of the output.  w: (O, C, KH, KW).  x_shape: (N, C, H, W).
    Returns:
        gx: array of shape x_shape.  Input rows and columns that no window touches (when
        H + 2*ph - KH is not a multiple of sh) get zero.
    """
    check_conv_grad_input_args(gy, w, x_shape, stride, padding)
    xp = array_module(gy)
    N, O, OH, OW = gy.shape
    gcols = xp.matmul(w.reshape(O, -1).T, gy.reshape(N, O, OH * OW))  # (N, C*KH*KW, OH*OW)
    return col2im(gcols, x_shape, w.shape[2:], stride, padding)


def conv2d_grad_weight(x, gy, w_shape, stride, padding, *, cols=None):
    """Gradient of conv2d_forward with respect to w.

    Args:
        x: (N, C, H, W) input.  gy: (N, O, OH, OW).  w_shape: (O, C, KH, KW).
        cols: the columns conv2d_forward(x, ..., keep_cols=True) returned for this x, or None
            to build them from x.
    Returns:
        gw: array of shape w_shape.
    """
    check_conv_grad_weight_args(x, gy, w_shape, stride, padding)
    xp = array_module(x)
    N, O, OH, OW = gy.shape
    if cols is None:
        cols, _ = im2col(x, w_shape[2:], stride, padding)  # (N, C*KH*KW, OH*OW)
    else:
        check_kept_cols("conv2d_grad_weight", cols, (N, math.prod(w_shape[1:]), OH * OW), x)
    # Contract over images and output pixels at once: one GEMM instead of N.
    gw = xp.tensordot(gy.reshape(N, O, OH * OW), cols, axes=([0, 2], [0, 2]))
    return gw.reshape(w_shape)


def max_pool2d_forward(x, kernel_size, stride, padding):
    """Max pooling with PyTorch semantics (-inf padding, floor output size).

    Args:
        x: (N, C, H, W).  kernel_size: (KH, KW).  stride: (sh, sw).
        padding: (ph, pw), each at most half the kernel size.
    Returns:
        (y, argmax): y (N, C, OH, OW); argmax int64 of the same shape holding, for each output,
        the flat index h * W + w of its maximum in the unpadded (n, c) input plane. Ties go to
        the first maximum in row-major window order; a NaN counts as the maximum.
    """
    check_pool_forward_args("max_pool2d_forward", x, kernel_size, stride, padding)
    xp = array_module(x)
    N, C, H, W = x.shape
    kernel_size, stride, padding = pool_window_in_input((H, W), kernel_size, stride, padding)
    KH, KW = kernel_size
    xpad = pad(x, padding, value=-xp.inf)
    win = windows(xpad, kernel_size, stride)  # view (N, C, OH, OW, KH, KW)
    OH, OW = win.shape[2:4]
    win = win.reshape(N, C, OH, OW, KH * KW)
    y = win.max(axis=-1)  # propagates NaN, like PyTorch
    # Where the maximum sits: the first window position holding a real (not padding) element
    # equal to y. Checking "real" keeps an all -inf window from pointing into the padding.
    real = pad(xp.ones((1, 1, H, W), dtype=bool), padding, value=False)
    real = windows(real, kernel_size, stride)
    real = real.reshape(1, 1, OH, OW, KH * KW)
    is_max = (win == y[..., None]) | xp.isnan(win)
    k = xp.argmax(is_max & real, axis=-1)  # argmax of booleans = first True
    ki, kj = k // KW, k % KW
    h = xp.arange(OH).reshape(OH, 1) * stride[0] - padding[0] + ki
    w = xp.arange(OW).reshape(1, OW) * stride[1] - padding[1] + kj
    return y, (h * W + w).astype(xp.int64)


def max_pool2d_backward(gy, argmax, x_shape, kernel_size, stride, padding):
    """Gradient of max_pool2d_forward: each gy goes to its argmax; overlapping windows add up.

    Args:
        gy: (N, C, OH, OW).  argmax: int64, same shape, from max_pool2d_forward.
        x_shape: (N, C, H, W).
    Returns:
        gx: array of shape x_shape.
    """
    check_max_pool_backward_args(gy, argmax, x_shape, kernel_size, stride, padding)
    xp = array_module(gy)
    N, C, H, W = x_shape
    outside = int(((argmax < 0) | (argmax >= H * W)).sum())
    if outside:
        raise ValueError(f"max_pool2d_backward: {outside} argmax entries lie outside the "
                         f"{H}x{W} input plane")
    # Turn the per-plane index into an index into the whole flattened gx, then scatter-add.
    # bincount sums duplicate indices (a plain gx[idx] += gy would keep only one of them).
    plane_start = xp.arange(N * C).reshape(N, C, 1, 1) * (H * W)
    gx = xp.bincount((argmax + plane_start).ravel(), weights=gy.ravel(), minlength=N * C * H * W)
    return gx.astype(gy.dtype, copy=False).reshape(x_shape)


def avg_pool2d_forward(x, kernel_size, stride, padding):
    """Average pooling with PyTorch defaults (zero padding counted in the mean, floor output size).

    Args:
        x: (N, C, H, W).  kernel_size: (KH, KW).  stride: (sh, sw).  padding: (ph, pw).
    Returns:
        y: (N, C, OH, OW), each the sum of its KH x KW window divided by KH * KW.
    """
    check_pool_forward_args("avg_pool2d_forward", x, kernel_size, stride, padding)
    area = kernel_size[0] * kernel_size[1]  # the divisor: padding counts, even where cut below
    kernel_size, stride, padding = pool_window_in_input(x.shape[2:], kernel_size, stride, padding)
    win = windows(pad(x, padding), kernel_size, stride)  # (N, C, OH, OW, KH, KW)
    return win.sum(axis=(-2, -1), dtype=x.dtype) / area


def avg_pool2d_backward(gy, x_shape, kernel_size, stride, padding):
    """Gradient of avg_pool2d_forward: each gy / (KH * KW) is added to every element of its window.

    Args:
        gy: (N, C, OH, OW).  x_shape: (N, C, H, W).
    Returns:
        gx: array of shape x_shape.
    """
    check_avg_pool_backward_args(gy, x_shape, kernel_size, stride, padding)
    xp = array_module(gy)
    N, C, H, W = x_shape
    KH, KW = kernel_size
    share = gy / gy.dtype.type(KH * KW)
    kernel_size, stride, padding = pool_window_in_input((H, W), kernel_size, stride, padding)
    # Same scatter as col2im, with one value per window instead of one per window element.
    gxpad = xp.zeros((N, C, H + 2 * padding[0], W + 2 * padding[1]), dtype=gy.dtype)
    _add_to_windows(gxpad, lambda i, j: share, kernel_size, stride, gy.shape[2:])
    return _crop(gxpad, padding, H, W)


def scatter_add(y, key, g):
    """y[key] += g in place; repeated indices accumulate (a plain y[key] += g keeps only one).

    Args:
        y: the array to add into.  key: any numpy index (integer arrays, slices, ...).
        g: values broadcastable to y[key].
    """
    array_module(y).add.at(y, key, g)


_erf_elementwise = np.frompyfunc(math.erf, 1, 1)


def erf(x):
    """The error function of each element, in x's dtype (math.erf per element: correctly
    rounded, which numpy has no ufunc for)."""
    return array_module(x).asarray(_erf_elementwise(x), dtype=x.dtype)


def relu(x):
    """max(x, 0) elementwise in x's dtype (NaN stays NaN, -0.0 gives +0.0)."""
    return array_module(x).maximum(x, 0).astype(x.dtype, copy=False)


def relu_backward(y, gy):
    """ReLU's input gradient from its output y: gy where y > 0, else 0 (as gy * mask)."""
    return gy * (y > 0).astype(gy.dtype)


# im2col / col2im and window helpers


def im2col(x, kernel_size, stride, padding):
    """Columns of the sliding windows: (N, C, H, W) -> (N, C*KH*KW, OH*OW), plus (OH, OW).

    Row (c*KH + i)*KW + j of image n's matrix holds x_padded[n, c, oh*sh + i, ow*sw + j] for every
    output pixel (oh, ow), so w.reshape(O, -1) @ cols[n] is the convolution of image n.
    """
    N, C = x.shape[:2]
    KH, KW = kernel_size
    stride = small_stride(x.shape[2:], kernel_size, stride, padding)
    win = windows(pad(x, padding), kernel_size, stride)  # view (N, C, OH, OW, KH, KW), no copy
    OH, OW = win.shape[2:4]
    cols = win.transpose(0, 1, 4, 5, 2, 3).reshape(N, C * KH * KW, OH * OW)  # the one copy
    return cols, (OH, OW)


def col2im(cols, x_shape, kernel_size, stride, padding):
    """Adjoint of im2col: adds every column entry back onto the input pixel it was copied from.

    Windows overlap when the stride is smaller than the kernel, so this must accumulate (+=)
    into a zero buffer the size of the *padded* input; the padding is cropped at the end. Rows
    no window reaches (H + 2p - K not a multiple of the stride) simply stay zero.
    """
    xp = array_module(cols)
    N, C, H, W = x_shape
    KH, KW = kernel_size
    stride = small_stride((H, W), kernel_size, stride, padding)
    OH = (H + 2 * padding[0] - KH) // stride[0] + 1
    OW = (W + 2 * padding[1] - KW) // stride[1] + 1
    cols = cols.reshape(N, C, KH, KW, OH, OW)
    gxpad = xp.zeros((N, C, H + 2 * padding[0], W + 2 * padding[1]), dtype=cols.dtype)
    _add_to_windows(gxpad, lambda i, j: cols[:, :, i, j], kernel_size, stride, (OH, OW))
    return _crop(gxpad, padding, H, W)


def _add_to_windows(gxpad, values, kernel_size, stride, out_size):
    """For each kernel offset (i, j), add values(i, j) (N, C, OH, OW) at rows i, i+sh, ... and
    columns j, j+sw, ... of gxpad. One strided += per offset: within one offset the targets are
    distinct, so the plain += is safe; overlaps between offsets are summed by the loop."""
    KH, KW = kernel_size
    sh, sw = stride
    OH, OW = out_size
    for i in range(KH):
        for j in range(KW):
            gxpad[:, :, i : i + sh * OH : sh, j : j + sw * OW : sw] += values(i, j)


def small_stride(in_hw, kernel_size, stride, padding):
    """The stride, capped at padded size - kernel + 1: a larger one gives the same single output
    along its axis, and a huge one (2**62) would overflow the strided view's byte strides."""
    return tuple(min(s, n + 2 * p - k + 1)
                 for n, k, s, p in zip(in_hw, kernel_size, stride, padding))


def pool_window_in_input(in_hw, kernel_size, stride, padding):
    """(kernel_size, stride, padding) of a pooling with the same output size whose windows hold
    the same real elements, but cut to at most 2*H x 2*W and padding at most H, W.

    With padding p <= K/2 and H + 2p >= K (check_window), the first d = K - p - H rows of every
    window, and its last d rows, lie in the padding (when d > 0): dropping them from both ends
    (kernel K - 2d, padding p - d) moves no window's real part. So a kernel of 2**31 on a 4 x 4
    image needs no 2**31-row padded copy. Max pooling ignores padding anyway; average pooling
    must still divide by the original KH*KW.
    """
    ks, ps = [], []
    for n, k, p in zip(in_hw, kernel_size, padding):
        d = max(0, k - p - n) if n > 0 else 0
        ks.append(k - 2 * d)
        ps.append(p - d)
    return tuple(ks), small_stride(in_hw, ks, stride, ps), tuple(ps)


def windows(xpad, kernel_size, stride):
    """Read-only strided view (N, C, OH, OW, KH, KW) of every window of an already padded input."""
    xp = array_module(xpad)
    N, C, Hp, Wp = xpad.shape
    KH, KW = kernel_size
    sh, sw = stride
    OH = (Hp - KH) // sh + 1
    OW = (Wp - KW) // sw + 1
    sN, sC, sH, sW = xpad.strides
    read_only = {"writeable": False} if xp is np else {}  # cupy's as_strided has no flag
    return xp.lib.stride_tricks.as_strided(
        xpad,
        shape=(N, C, OH, OW, KH, KW),
        strides=(sN, sC, sH * sh, sW * sw, sH, sW),
        **read_only,
    )


def pad(x, padding, value=0):
    """x with ph rows above and below and pw columns left and right filled with value."""
    ph, pw = padding
    if ph == 0 and pw == 0:
        return x
    xp = array_module(x)
    return xp.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=value)


def _crop(xpad, padding, H, W):
    ph, pw = padding
    return xpad[:, :, ph : ph + H, pw : pw + W]


def array_module(a):
    """numpy, or cupy for a cupy array (imported only then), or the emulated device's stand-in
    for cupy (backend/fake_cupy.py) for its arrays."""
    module = type(a).__module__
    if module.split(".")[0] == "cupy":
        import cupy

        return cupy
    if module == "minigrad.backend.fake_cupy":
        from . import fake_cupy

        return fake_cupy
    return np


# Argument checks, shared with backend/cpu.py. Each raises TypeError (wrong dtype) or ValueError
# (wrong shape or parameter) with a message that starts with the op name.


def check_float_dtypes(op, **arrays):
    """All arrays float32 or all float64."""
    dtypes = {name: a.dtype for name, a in arrays.items()}
    for name, dt in dtypes.items():
        if dt not in FLOAT_DTYPES:
            raise TypeError(f"{op}: {name} has dtype {dt}; expected float32 or float64")
    if len(set(dtypes.values())) > 1:
        listed = ", ".join(f"{name} {dt}" for name, dt in dtypes.items())
        raise TypeError(f"{op}: dtypes differ ({listed}); all must be the same")


def check_ndim(op, name, a, ndim):
    if a.ndim != ndim:
        raise ValueError(f"{op}: {name} must be {ndim}-D, got shape {tuple(a.shape)}")


def check_shape_tuple(op, name, shape):
    if len(shape) != 4 or any(int(d) < 0 for d in shape):
        raise ValueError(f"{op}: {name} must be 4 non-negative sizes, got {tuple(shape)}")


def check_matmul_args(a, b, trans_a, trans_b):
    op = "matmul"
    check_float_dtypes(op, a=a, b=b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: inputs must be at least 1-D, got {tuple(a.shape)} and "
                         f"{tuple(b.shape)}")
    if (trans_a and a.ndim < 2) or (trans_b and b.ndim < 2):
        raise ValueError(f"matmul: trans_a/trans_b need a 2-D or batched operand, got "
                         f"{tuple(a.shape)} and {tuple(b.shape)}")
    ka = a.shape[-2] if trans_a else a.shape[-1]
    kb = b.shape[0] if b.ndim == 1 else (b.shape[-1] if trans_b else b.shape[-2])
    if ka != kb:
        raise ValueError(
            f"matmul: inner dimensions differ: op(a) from {tuple(a.shape)} (trans_a={trans_a}) "
            f"has {ka} columns but op(b) from {tuple(b.shape)} (trans_b={trans_b}) has {kb} rows"
        )
    try:
        np.broadcast_shapes(tuple(a.shape[:-2]), tuple(b.shape[:-2]))
    except ValueError:
        raise ValueError(f"matmul: batch dimensions of {tuple(a.shape)} and {tuple(b.shape)} "
                         "do not broadcast") from None


def check_conv_forward_args(x, w, b, stride, padding):
    op = "conv2d_forward"
    arrays = {"input": x, "weight": w} if b is None else {"input": x, "weight": w, "bias": b}
    check_float_dtypes(op, **arrays)
    check_ndim(op, "input", x, 4)
    check_ndim(op, "weight", w, 4)
    if x.shape[1] != w.shape[1]:
        raise ValueError(f"{op}: input {tuple(x.shape)} has {x.shape[1]} channels but weight "
                         f"{tuple(w.shape)} expects {w.shape[1]}")
    if b is not None and tuple(b.shape) != (w.shape[0],):
        raise ValueError(f"{op}: bias {tuple(b.shape)} must have shape ({w.shape[0]},) to match "
                         f"weight {tuple(w.shape)}")
    return check_window(op, x.shape, w.shape[2:], stride, padding, pool=False,
                        channels_out=w.shape[0])


def check_conv_grad_input_args(gy, w, x_shape, stride, padding):
    op = "conv2d_grad_input"
    check_float_dtypes(op, grad_output=gy, weight=w)
    check_ndim(op, "grad_output", gy, 4)
    check_ndim(op, "weight", w, 4)
    check_shape_tuple(op, "x_shape", x_shape)
    if x_shape[1] != w.shape[1]:
        raise ValueError(f"{op}: x_shape {tuple(x_shape)} has {x_shape[1]} channels but weight "
                         f"{tuple(w.shape)} expects {w.shape[1]}")
    OH, OW = check_window(op, x_shape, w.shape[2:], stride, padding, pool=False,
                          channels_out=w.shape[0])
    expected = (x_shape[0], w.shape[0], OH, OW)
    if tuple(gy.shape) != expected:
        raise ValueError(f"{op}: grad_output {tuple(gy.shape)} should be {expected} for input "
                         f"{tuple(x_shape)} and weight {tuple(w.shape)}")


def check_conv_grad_weight_args(x, gy, w_shape, stride, padding):
    op = "conv2d_grad_weight"
    check_float_dtypes(op, input=x, grad_output=gy)
    check_ndim(op, "input", x, 4)
    check_ndim(op, "grad_output", gy, 4)
    check_shape_tuple(op, "w_shape", w_shape)
    if x.shape[1] != w_shape[1]:
        raise ValueError(f"{op}: input {tuple(x.shape)} has {x.shape[1]} channels but w_shape "
                         f"{tuple(w_shape)} expects {w_shape[1]}")
    OH, OW = check_window(op, x.shape, w_shape[2:], stride, padding, pool=False,
                          channels_out=w_shape[0])
    expected = (x.shape[0], w_shape[0], OH, OW)
    if tuple(gy.shape) != expected:
        raise ValueError(f"{op}: grad_output {tuple(gy.shape)} should be {expected} for input "
                         f"{tuple(x.shape)} and weight shape {tuple(w_shape)}")


def check_kept_cols(op, cols, expected, x):
    """ValueError unless cols has the shape and dtype the forward's keep_cols gives for x."""
    if not hasattr(cols, "shape") or not hasattr(cols, "dtype"):
        raise TypeError(f"{op}: cols must be the array conv2d_forward(keep_cols=True) returned, "
                        f"got {type(cols).__name__}")
    if tuple(cols.shape) != tuple(expected) or cols.dtype != x.dtype:
        raise ValueError(f"{op}: cols {tuple(cols.shape)} {cols.dtype} are not the columns "
                         f"conv2d_forward(keep_cols=True) makes for input {tuple(x.shape)} "
                         f"{x.dtype}: expected {tuple(expected)} {x.dtype}")


def check_pool_forward_args(op, x, kernel_size, stride, padding):
    check_float_dtypes(op, input=x)
    check_ndim(op, "input", x, 4)
    out_hw = check_window(op, x.shape, kernel_size, stride, padding, pool=True)
    if x.shape[2] == 0 or x.shape[3] == 0:
        raise ValueError(f"{op}: input {tuple(x.shape)} has an empty spatial dimension")
    return out_hw


def _check_pool_grad_output(op, gy, x_shape, kernel_size, stride, padding):
    check_float_dtypes(op, grad_output=gy)
    check_ndim(op, "grad_output", gy, 4)
    check_shape_tuple(op, "x_shape", x_shape)
    expected = tuple(x_shape[:2]) + check_window(op, x_shape, kernel_size, stride, padding,
                                                 pool=True)
    if tuple(gy.shape) != expected:
        raise ValueError(f"{op}: grad_output {tuple(gy.shape)} should be {expected} for input "
                         f"{tuple(x_shape)}, kernel {tuple(kernel_size)}, stride {tuple(stride)}, "
                         f"padding {tuple(padding)}")


def check_max_pool_backward_args(gy, argmax, x_shape, kernel_size, stride, padding):
    op = "max_pool2d_backward"
    _check_pool_grad_output(op, gy, x_shape, kernel_size, stride, padding)
    if argmax.dtype != np.int64:
        raise TypeError(f"{op}: argmax has dtype {argmax.dtype}; expected int64")
    if tuple(argmax.shape) != tuple(gy.shape):
        raise ValueError(f"{op}: argmax {tuple(argmax.shape)} and grad_output "
                         f"{tuple(gy.shape)} must have the same shape")


def check_avg_pool_backward_args(gy, x_shape, kernel_size, stride, padding):
    _check_pool_grad_output("avg_pool2d_backward", gy, x_shape, kernel_size, stride, padding)
