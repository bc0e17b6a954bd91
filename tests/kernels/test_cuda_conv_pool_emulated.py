"""The CUDA conv2d (im2col + GEMM with fused bias, col2im) and pooling kernels run by the host
emulation against the numpy reference: every stride/padding/kernel combination of a small
grid, windows that miss the last rows, 1x1 (pointwise, no im2col), size 1, the split weight
gradient, max-pool ties, NaN and -inf, non-contiguous inputs, float32 and float64."""

import itertools
import shutil

import numpy as np
import pytest
from hypothesis import given, strategies as st

from minigrad.backend import cuda, cuda_runners, reference

pytestmark = pytest.mark.skipif(shutil.which(cuda_runners.CXX) is None,
                                reason="the CUDA emulation needs a C++20 compiler")

DTYPES = (np.float32, np.float64)
TOL = {np.float32: dict(rtol=1e-5, atol=1e-5), np.float64: dict(rtol=1e-12, atol=1e-12)}


def close(out, ref):
    assert type(out) is np.ndarray and out.dtype == ref.dtype and out.shape == ref.shape
    np.testing.assert_allclose(out, ref, **TOL[ref.dtype.type])


def check_conv(x, w, b, stride, padding):
    y = reference.conv2d_forward(x, w, b, stride, padding)
    close(cuda.conv2d_forward(x, w, b, stride, padding), y)
    gy = np.random.default_rng(7).standard_normal(y.shape).astype(x.dtype)
    close(cuda.conv2d_grad_input(gy, w, x.shape, stride, padding),
          reference.conv2d_grad_input(gy, w, x.shape, stride, padding))
    close(cuda.conv2d_grad_weight(x, gy, w.shape, stride, padding),
          reference.conv2d_grad_weight(x, gy, w.shape, stride, padding))


GRID = list(itertools.product([(1, 1), (3, 2), (3, 3)], [(1, 1), (2, 1), (3, 2)],
                              [(0, 0), (1, 0), (2, 1)]))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bias", [False, True])
def test_conv_every_kernel_stride_padding(dtype, bias):
    rng = np.random.default_rng(0)
    for kernel, stride, padding in GRID:
        x = rng.standard_normal((2, 3, 7, 6)).astype(dtype)  # 7, 6: windows miss rows/cols
        w = rng.standard_normal((4, 3) + kernel).astype(dtype)
        b = rng.standard_normal(4).astype(dtype) if bias else None
        check_conv(x, w, b, stride, padding)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,kernel,stride,padding", [
    ((1, 1, 1, 1), (1, 1), (1, 1), (0, 0)),    # size 1, pointwise
    ((1, 1, 1, 1), (3, 3), (1, 1), (1, 1)),    # kernel larger than the input
    ((3, 5, 4, 4), (1, 1), (1, 1), (0, 0)),    # pointwise: x is its own cols
    ((1, 2, 5, 9), (2, 4), (4, 3), (0, 2)),    # one image: one weight-gradient split
    ((5, 1, 3, 3), (3, 3), (1, 1), (0, 0)),    # 1x1 output
    ((2, 70, 3, 3), (3, 3), (1, 1), (1, 1)),   # K = 630 crosses many GEMM k-steps
])
def test_conv_edge_shapes(dtype, shape, kernel, stride, padding):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape).astype(dtype)
    w = rng.standard_normal((3, shape[1]) + kernel).astype(dtype)
    check_conv(x, w, rng.standard_normal(3).astype(dtype), stride, padding)


def test_weight_gradient_split_is_exercised():
    assert cuda.weight_grad_splits(4, 27, 2, np.float32)[1] == 2   # partials summed
    assert cuda.weight_grad_splits(4, 27, 1, np.float32)[1] == 1   # written in place


def test_conv_non_contiguous_inputs():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 6, 5, 3)).transpose(0, 3, 2, 1)  # (2, 3, 5, 6), strided
    w = rng.standard_normal((2, 3, 2, 4))[..., ::2]              # (2, 3, 2, 2), strided
    assert not x.flags.c_contiguous and not w.flags.c_contiguous
    check_conv(x, w, None, (1, 2), (1, 1))


def test_conv_errors_name_the_op():
    x = np.ones((1, 2, 4, 4), np.float32)
    with pytest.raises(ValueError, match="conv2d_forward: input .* has 2 channels"):
        cuda.conv2d_forward(x, np.ones((1, 3, 2, 2), np.float32), None, (1, 1), (0, 0))
    with pytest.raises(TypeError, match="conv2d_forward: dtypes differ"):
        cuda.conv2d_forward(x, np.ones((1, 2, 2, 2)), None, (1, 1), (0, 0))


@given(N=st.integers(1, 3), C=st.integers(1, 3), O=st.integers(1, 4), H=st.integers(1, 8),
       W=st.integers(1, 8), KH=st.integers(1, 3), KW=st.integers(1, 3), sh=st.integers(1, 3),
       sw=st.integers(1, 3), ph=st.integers(0, 2), pw=st.integers(0, 2), bias=st.booleans(),
       dtype=st.sampled_from(DTYPES))
def test_conv_matches_reference(N, C, O, H, W, KH, KW, sh, sw, ph, pw, bias, dtype):
    if H + 2 * ph < KH or W + 2 * pw < KW:
        return
    rng = np.random.default_rng(N + 10 * C + 100 * H + 1000 * W)
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    w = rng.standard_normal((O, C, KH, KW)).astype(dtype)
    check_conv(x, w, rng.standard_normal(O).astype(dtype) if bias else None, (sh, sw), (ph, pw))


# Pooling


def check_pools(x, kernel, stride, padding):
    y, argmax = reference.max_pool2d_forward(x, kernel, stride, padding)
    got_y, got_argmax = cuda.max_pool2d_forward(x, kernel, stride, padding)
    np.testing.assert_array_equal(got_y, y)   # a max is exact
    assert got_argmax.dtype == np.int64
    np.testing.assert_array_equal(got_argmax, argmax)
    gy = np.random.default_rng(3).standard_normal(y.shape).astype(x.dtype)
    close(cuda.max_pool2d_backward(gy, got_argmax, x.shape, kernel, stride, padding),
          reference.max_pool2d_backward(gy, argmax, x.shape, kernel, stride, padding))
    close(cuda.avg_pool2d_forward(x, kernel, stride, padding),
          reference.avg_pool2d_forward(x, kernel, stride, padding))
    close(cuda.avg_pool2d_backward(gy, x.shape, kernel, stride, padding),
          reference.avg_pool2d_backward(gy, x.shape, kernel, stride, padding))


POOL_GRID = [(k, s, p) for k, s, p in GRID if all(2 * pi <= ki for pi, ki in zip(p, k))]


@pytest.mark.parametrize("dtype", DTYPES)
def test_pools_every_kernel_stride_padding(dtype):
    rng = np.random.default_rng(4)
    for kernel, stride, padding in POOL_GRID + [((2, 2), (1, 1), (1, 1)), ((4, 2), (1, 2), (2, 0))]:
        check_pools(rng.standard_normal((2, 3, 7, 6)).astype(dtype), kernel, stride, padding)


@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool_ties_nan_and_inf(dtype):
    x = np.zeros((1, 2, 4, 5), dtype)          # all ties: the first in the window wins
    x[0, 1] = -np.inf                          # windows of -inf point at a real element
    x[0, 1, 2, 3] = np.nan                     # a NaN is the maximum
    x[0, 1, 1, 1] = np.nan                     # ...the first NaN
    for kernel, stride, padding in [((2, 2), (1, 1), (1, 1)), ((3, 3), (2, 2), (1, 1)),
                                    ((2, 3), (2, 1), (0, 1))]:
        y, argmax = reference.max_pool2d_forward(x, kernel, stride, padding)
        got_y, got_argmax = cuda.max_pool2d_forward(x, kernel, stride, padding)
        np.testing.assert_array_equal(got_y, y)
        np.testing.assert_array_equal(got_argmax, argmax)


def test_max_pool_overlapping_windows_accumulate():
    x = np.zeros((1, 1, 3, 3), np.float64)
    x[0, 0, 1, 1] = 1.0  # the maximum of all four 2x2 windows (stride 1)
    y, argmax = cuda.max_pool2d_forward(x, (2, 2), (1, 1), (0, 0))
    gx = cuda.max_pool2d_backward(np.ones_like(y), argmax, x.shape, (2, 2), (1, 1), (0, 0))
    assert gx[0, 0, 1, 1] == 4.0 and gx.sum() == 4.0


def test_max_pool_backward_refuses_foreign_argmax():
    x = np.random.default_rng(5).standard_normal((1, 1, 4, 4))
    y, argmax = cuda.max_pool2d_forward(x, (2, 2), (2, 2), (0, 0))
    for bad in (-1, 16, 15):  # outside the plane, and inside it but outside window (0, 0)
        wrong = argmax.copy()
        wrong[0, 0, 0, 0] = bad
        with pytest.raises(ValueError, match="max_pool2d_backward: argmax .* outside their"):
            cuda.max_pool2d_backward(np.ones_like(y), wrong, x.shape, (2, 2), (2, 2), (0, 0))


def test_pool_errors_name_the_op():
    with pytest.raises(ValueError, match="max_pool2d_forward: padding"):
        cuda.max_pool2d_forward(np.ones((1, 1, 4, 4)), (2, 2), (1, 1), (2, 2))
    with pytest.raises(ValueError, match="avg_pool2d_backward: grad_output"):
        cuda.avg_pool2d_backward(np.ones((1, 1, 3, 3)), (1, 1, 4, 4), (2, 2), (2, 2), (0, 0))


def test_pool_non_contiguous_and_empty():
    x = np.random.default_rng(6).standard_normal((3, 5, 2, 4)).transpose(0, 3, 1, 2)
    check_pools(x, (2, 2), (2, 1), (1, 0))
    empty = np.ones((0, 2, 4, 4), np.float32)
    y, argmax = cuda.max_pool2d_forward(empty, (2, 2), (2, 2), (0, 0))
    assert y.shape == argmax.shape == (0, 2, 2, 2)
    assert cuda.avg_pool2d_backward(y, empty.shape, (2, 2), (2, 2), (0, 0)).shape == empty.shape


@given(N=st.integers(1, 2), C=st.integers(1, 3), H=st.integers(1, 9), W=st.integers(1, 9),
       KH=st.integers(1, 4), KW=st.integers(1, 4), sh=st.integers(1, 3), sw=st.integers(1, 3),
       ph=st.integers(0, 2), pw=st.integers(0, 2), dtype=st.sampled_from(DTYPES))
def test_pools_match_reference(N, C, H, W, KH, KW, sh, sw, ph, pw, dtype):
    ph, pw = min(ph, KH // 2), min(pw, KW // 2)
    if H + 2 * ph < KH or W + 2 * pw < KW:
        return
    rng = np.random.default_rng(N + 10 * C + 100 * H + 1000 * W)
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    x[x > 1.5] = x.max()  # some ties
    check_pools(x, (KH, KW), (sh, sw), (ph, pw))
