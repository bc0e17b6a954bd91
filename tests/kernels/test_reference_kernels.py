"""The numpy reference kernels (the oracle) against naive loops, plus their error messages."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minigrad.backend import reference as ref

SETTINGS = settings(deadline=None, max_examples=60, derandomize=True)


# Naive loops, written straight from the definitions (float64, small sizes only).


def naive_conv(x, w, b, stride, padding):
    N, C, H, W = x.shape
    O, _, KH, KW = w.shape
    (sh, sw), (ph, pw) = stride, padding
    OH, OW = (H + 2 * ph - KH) // sh + 1, (W + 2 * pw - KW) // sw + 1
    y = np.zeros((N, O, OH, OW))
    for n, o, oh, ow, c, i, j in np.ndindex(N, O, OH, OW, C, KH, KW):
        h, v = oh * sh - ph + i, ow * sw - pw + j
        if 0 <= h < H and 0 <= v < W:
            y[n, o, oh, ow] += x[n, c, h, v] * w[o, c, i, j]
    if b is not None:
        y += b.reshape(1, O, 1, 1)
    return y


def naive_conv_grads(x, w, gy, stride, padding):
    """gx and gw by scattering every term of the forward sum."""
    N, C, H, W = x.shape
    O, _, KH, KW = w.shape
    (sh, sw), (ph, pw) = stride, padding
    gx, gw = np.zeros(x.shape), np.zeros(w.shape)
    for n, o, oh, ow, c, i, j in np.ndindex(*gy.shape, C, KH, KW):
        h, v = oh * sh - ph + i, ow * sw - pw + j
        if 0 <= h < H and 0 <= v < W:
            gx[n, c, h, v] += gy[n, o, oh, ow] * w[o, c, i, j]
            gw[o, c, i, j] += gy[n, o, oh, ow] * x[n, c, h, v]
    return gx, gw


def naive_pool(x, kernel_size, stride, padding, kind):
    """(y, argmax) for kind "max" (first maximum in row-major order wins) or (y, None) for "avg"."""
    N, C, H, W = x.shape
    (KH, KW), (sh, sw), (ph, pw) = kernel_size, stride, padding
    OH, OW = (H + 2 * ph - KH) // sh + 1, (W + 2 * pw - KW) // sw + 1
    y = np.zeros((N, C, OH, OW))
    argmax = np.zeros((N, C, OH, OW), dtype=np.int64)
    for n, c, oh, ow in np.ndindex(N, C, OH, OW):
        best, best_k, total = -np.inf, None, 0.0
        for i, j in np.ndindex(KH, KW):
            h, v = oh * sh - ph + i, ow * sw - pw + j
            if 0 <= h < H and 0 <= v < W:
                total += x[n, c, h, v]
                if best_k is None or x[n, c, h, v] > best:
                    best, best_k = x[n, c, h, v], h * W + v
        y[n, c, oh, ow] = best if kind == "max" else total / (KH * KW)
        argmax[n, c, oh, ow] = best_k
    return y, (argmax if kind == "max" else None)


def naive_pool_backward(gy, x_shape, kernel_size, stride, padding, argmax=None):
    N, C, H, W = x_shape
    (KH, KW), (sh, sw), (ph, pw) = kernel_size, stride, padding
    gx = np.zeros(x_shape)
    for n, c, oh, ow in np.ndindex(*gy.shape):
        if argmax is not None:
            h, v = divmod(int(argmax[n, c, oh, ow]), W)
            gx[n, c, h, v] += gy[n, c, oh, ow]
            continue
        for i, j in np.ndindex(KH, KW):
            h, v = oh * sh - ph + i, ow * sw - pw + j
            if 0 <= h < H and 0 <= v < W:
                gx[n, c, h, v] += gy[n, c, oh, ow] / (KH * KW)
    return gx


# Geometry strategies: small, but covering kernel == padded input, 1x1 kernels, stride > kernel
# and (H + 2p - K) not a multiple of the stride.


@st.composite
def conv_case(draw):
    N, C, O = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    H, W = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    ph, pw = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    KH, KW = draw(st.integers(1, H + 2 * ph)), draw(st.integers(1, W + 2 * pw))
    stride = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    seed = draw(st.integers(0, 2**16))
    return (N, C, H, W), (O, C, KH, KW), stride, (ph, pw), seed


@st.composite
def pool_case(draw):
    N, C = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    H, W = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    KH, KW = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    ph, pw = draw(st.integers(0, KH // 2)), draw(st.integers(0, KW // 2))
    if H + 2 * ph < KH or W + 2 * pw < KW:
        KH, KW = min(KH, H + 2 * ph), min(KW, W + 2 * pw)
        ph, pw = min(ph, KH // 2), min(pw, KW // 2)
    stride = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    seed = draw(st.integers(0, 2**16))
    return (N, C, H, W), (KH, KW), stride, (ph, pw), seed


@SETTINGS
@given(conv_case(), st.booleans())
def test_conv_forward_matches_loops(case, with_bias):
    x_shape, w_shape, stride, padding, seed = case
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    b = rng.standard_normal(w_shape[0]) if with_bias else None
    y = ref.conv2d_forward(x, w, b, stride, padding)
    np.testing.assert_allclose(y, naive_conv(x, w, b, stride, padding), rtol=1e-12, atol=1e-12)


@SETTINGS
@given(conv_case())
def test_conv_grads_match_loops(case):
    x_shape, w_shape, stride, padding, seed = case
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    gy = rng.standard_normal(ref.conv2d_forward(x, w, None, stride, padding).shape)
    gx_naive, gw_naive = naive_conv_grads(x, w, gy, stride, padding)
    gx = ref.conv2d_grad_input(gy, w, x_shape, stride, padding)
    gw = ref.conv2d_grad_weight(x, gy, w_shape, stride, padding)
    assert gx.shape == x_shape and gw.shape == w_shape
    np.testing.assert_allclose(gx, gx_naive, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(gw, gw_naive, rtol=1e-12, atol=1e-12)


@SETTINGS
@given(pool_case())
def test_max_pool_matches_loops(case):
    x_shape, kernel_size, stride, padding, seed = case
    rng = np.random.default_rng(seed)
    x = rng.integers(-3, 4, size=x_shape).astype(np.float64)  # small ints: plenty of ties
    y, argmax = ref.max_pool2d_forward(x, kernel_size, stride, padding)
    y_naive, argmax_naive = naive_pool(x, kernel_size, stride, padding, "max")
    np.testing.assert_array_equal(y, y_naive)
    np.testing.assert_array_equal(argmax, argmax_naive)
    assert argmax.dtype == np.int64
    gy = rng.standard_normal(y.shape)
    gx = ref.max_pool2d_backward(gy, argmax, x_shape, kernel_size, stride, padding)
    expected = naive_pool_backward(gy, x_shape, kernel_size, stride, padding, argmax_naive)
    np.testing.assert_allclose(gx, expected, rtol=1e-12, atol=1e-12)


@SETTINGS
@given(pool_case())
def test_avg_pool_matches_loops(case):
    x_shape, kernel_size, stride, padding, seed = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(x_shape)
    y = ref.avg_pool2d_forward(x, kernel_size, stride, padding)
    np.testing.assert_allclose(y, naive_pool(x, kernel_size, stride, padding, "avg")[0],
                               rtol=1e-12, atol=1e-12)
    gy = rng.standard_normal(y.shape)
    gx = ref.avg_pool2d_backward(gy, x_shape, kernel_size, stride, padding)
    np.testing.assert_allclose(gx, naive_pool_backward(gy, x_shape, kernel_size, stride, padding),
                               rtol=1e-12, atol=1e-12)


def test_max_pool_tie_rule_and_overlap_accumulates():
    # All equal: the first real element of each window wins (never the -inf padding).
    x = np.ones((1, 1, 3, 3))
    y, argmax = ref.max_pool2d_forward(x, (2, 2), (1, 1), (1, 1))
    assert argmax.tolist() == [[[[0, 0, 1, 2], [0, 0, 1, 2], [3, 3, 4, 5], [6, 6, 7, 8]]]]
    gx = ref.max_pool2d_backward(np.ones_like(y), argmax, x.shape, (2, 2), (1, 1), (1, 1))
    assert gx.sum() == y.size  # every output's gradient lands somewhere, duplicates add up
    assert gx[0, 0, 0, 0] == 4  # four overlapping windows pick the top-left element
    # An all -inf window still points at a real element.
    y, argmax = ref.max_pool2d_forward(np.full((1, 1, 2, 2), -np.inf), (2, 2), (2, 2), (1, 1))
    assert np.all(np.isneginf(y)) and argmax.tolist() == [[[[0, 1], [2, 3]]]]


def test_max_pool_nan_wins():
    x = np.array([[[[1.0, np.nan], [5.0, np.nan]]]])
    y, argmax = ref.max_pool2d_forward(x, (2, 2), (2, 2), (0, 0))
    assert np.isnan(y).all() and argmax.item() == 1


def test_conv_grads_are_adjoints_of_forward():
    """<conv(x), gy> == <x, grad_input(gy)> == <w, grad_weight(x, gy)>: conv is bilinear."""
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((2, 3, 9, 8)), rng.standard_normal((4, 3, 3, 2))
    stride, padding = (2, 3), (1, 1)
    y = ref.conv2d_forward(x, w, None, stride, padding)
    gy = rng.standard_normal(y.shape)
    lhs = np.vdot(y, gy)
    assert np.isclose(lhs, np.vdot(x, ref.conv2d_grad_input(gy, w, x.shape, stride, padding)))
    assert np.isclose(lhs, np.vdot(w, ref.conv2d_grad_weight(x, gy, w.shape, stride, padding)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_output_dtype_follows_input(dtype):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 2, 5, 5)).astype(dtype)
    w = rng.standard_normal((3, 2, 3, 3)).astype(dtype)
    b = np.zeros(3, dtype)
    y = ref.conv2d_forward(x, w, b, (1, 1), (1, 1))
    assert y.dtype == dtype
    assert ref.conv2d_grad_input(y, w, x.shape, (1, 1), (1, 1)).dtype == dtype
    assert ref.conv2d_grad_weight(x, y, w.shape, (1, 1), (1, 1)).dtype == dtype
    y, argmax = ref.max_pool2d_forward(x, (2, 2), (2, 2), (0, 0))
    assert y.dtype == dtype
    assert ref.max_pool2d_backward(y, argmax, x.shape, (2, 2), (2, 2), (0, 0)).dtype == dtype
    y = ref.avg_pool2d_forward(x, (2, 2), (2, 2), (0, 0))
    assert y.dtype == dtype
    assert ref.avg_pool2d_backward(y, x.shape, (2, 2), (2, 2), (0, 0)).dtype == dtype


@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("trans_b", [False, True])
def test_matmul_matches_numpy(trans_a, trans_b):
    rng = np.random.default_rng(3)
    a = rng.standard_normal((2, 1, 4, 3) if not trans_a else (2, 1, 3, 4))
    b = rng.standard_normal((5, 3, 6) if not trans_b else (5, 6, 3))
    expected = np.matmul(np.swapaxes(a, -1, -2) if trans_a else a,
                         np.swapaxes(b, -1, -2) if trans_b else b)
    np.testing.assert_allclose(ref.matmul(a, b, trans_a=trans_a, trans_b=trans_b), expected)


# Errors: the right exception type, and a message that names the op and the shapes.

X = np.zeros((2, 3, 5, 5))
W = np.zeros((4, 3, 3, 3))
ERRORS = [
    (ValueError, "conv2d_forward: input (2, 3, 5, 5) has 3 channels but weight (4, 2, 3, 3)",
     lambda: ref.conv2d_forward(X, np.zeros((4, 2, 3, 3)), None, (1, 1), (0, 0))),
    (ValueError, "conv2d_forward: input must be 4-D, got shape (3, 5, 5)",
     lambda: ref.conv2d_forward(X[0], W, None, (1, 1), (0, 0))),
    (TypeError, "conv2d_forward: dtypes differ",
     lambda: ref.conv2d_forward(X.astype(np.float32), W, None, (1, 1), (0, 0))),
    (TypeError, "conv2d_forward: input has dtype int64",
     lambda: ref.conv2d_forward(X.astype(np.int64), W, None, (1, 1), (0, 0))),
    (ValueError, "conv2d_forward: bias (3,) must have shape (4,)",
     lambda: ref.conv2d_forward(X, W, np.zeros(3), (1, 1), (0, 0))),
    (ValueError, "conv2d_forward: stride must be a pair of positive ints, got (0, 1)",
     lambda: ref.conv2d_forward(X, W, None, (0, 1), (0, 0))),
    (ValueError, "conv2d_forward: padding must be a pair of non-negative ints",
     lambda: ref.conv2d_forward(X, W, None, (1, 1), (-1, 0))),
    (ValueError, "conv2d_forward: kernel (8, 8) is larger than the padded input (7, 7)",
     lambda: ref.conv2d_forward(X, np.zeros((4, 3, 8, 8)), None, (1, 1), (1, 1))),
    (ValueError, "conv2d_grad_input: grad_output (2, 4, 4, 4) should be (2, 4, 3, 3)",
     lambda: ref.conv2d_grad_input(np.zeros((2, 4, 4, 4)), W, X.shape, (1, 1), (0, 0))),
    (ValueError, "conv2d_grad_input: x_shape (2, 2, 5, 5) has 2 channels",
     lambda: ref.conv2d_grad_input(np.zeros((2, 4, 3, 3)), W, (2, 2, 5, 5), (1, 1), (0, 0))),
    (ValueError, "conv2d_grad_weight: grad_output (2, 5, 3, 3) should be (2, 4, 3, 3)",
     lambda: ref.conv2d_grad_weight(X, np.zeros((2, 5, 3, 3)), W.shape, (1, 1), (0, 0))),
    (TypeError, "conv2d_grad_weight: dtypes differ",
     lambda: ref.conv2d_grad_weight(X, np.zeros((2, 4, 3, 3), np.float32), W.shape, (1, 1),
                                    (0, 0))),
    (ValueError, "max_pool2d_forward: padding (2, 2) must be at most half of kernel_size (3, 3)",
     lambda: ref.max_pool2d_forward(X, (3, 3), (1, 1), (2, 2))),
    (ValueError, "avg_pool2d_forward: kernel (6, 6) is larger than the padded input (5, 5)",
     lambda: ref.avg_pool2d_forward(X, (6, 6), (1, 1), (0, 0))),
    (ValueError, "max_pool2d_forward: kernel_size must be a pair of positive ints, got (0, 2)",
     lambda: ref.max_pool2d_forward(X, (0, 2), (1, 1), (0, 0))),
    (TypeError, "max_pool2d_backward: argmax has dtype int32",
     lambda: ref.max_pool2d_backward(np.zeros((2, 3, 2, 2)), np.zeros((2, 3, 2, 2), np.int32),
                                     X.shape, (2, 2), (2, 2), (0, 0))),
    (ValueError, "avg_pool2d_backward: grad_output (2, 3, 3, 3) should be (2, 3, 2, 2)",
     lambda: ref.avg_pool2d_backward(np.zeros((2, 3, 3, 3)), X.shape, (2, 2), (2, 2), (0, 0))),
    (ValueError, "matmul: inner dimensions differ",
     lambda: ref.matmul(np.zeros((2, 3)), np.zeros((2, 3)))),
    (ValueError, "matmul: batch dimensions of (2, 2, 3) and (3, 3, 2) do not broadcast",
     lambda: ref.matmul(np.zeros((2, 2, 3)), np.zeros((3, 3, 2)))),
    (TypeError, "matmul: dtypes differ",
     lambda: ref.matmul(np.zeros((2, 3)), np.zeros((3, 2), np.float32))),
]


@pytest.mark.parametrize("exc, message, call", ERRORS, ids=[m.split(":")[0] + str(i)
                                                             for i, (_, m, _) in enumerate(ERRORS)])
def test_errors_name_the_op_and_shapes(exc, message, call):
    with pytest.raises(exc) as info:
        call()
    assert message in str(info.value)
