"""gemm.conv2d_forward_implicit, conv2d_grad_input_implicit and conv2d_grad_weight_implicit,
the implicit-GEMM convolution behind cpu.conv2d_forward and its gradients behind
cpu.conv2d_grad_input / conv2d_grad_weight, against the numpy reference on awkward shapes.

The kernel packs the GEMM's pixel panels straight from the image (kernels/cpu/conv_implicit_t.h):
panels that cross an image boundary, a last panel shorter than the kernel's NR, strides > 1
(where pixels are not consecutive in x and the packer gathers element by element), panels whose
runs of consecutive pixels are copied NR elements at a time (and the panels near the end of x
where such a copy would read past it), the bias folded in as a row of ones, k blocks of a long
K, and every micro-kernel family this CPU has (NR = 8, 16 or 32), on one thread and on two.
The weight gradient splits the pixels between the threads (partials summed at the end) and
packs both operands from x and gy: ragged k-row and channel panels, pixel blocks shorter than
the kernel's KC, a thread with no pixels at all. The input gradient adds each tile of gradient columns into gx
run by run (pixels consecutive in gx) or element by element (strides > 1), whole images per
thread, and must leave the pixels no window reaches at zero.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigrad as mg
from minigrad.backend import cpu
from minigrad.backend import reference as ref

gemm = pytest.importorskip("minigrad.kernels.cpu.gemm")

SETTINGS = settings(deadline=None, max_examples=60, derandomize=True)


def implicit(x, w, b, stride):
    """The kernel called directly, on an unpadded x (the kernel has no padding)."""
    O, C, KH, KW = w.shape
    wk = w.reshape(O, C * KH * KW)
    if b is not None:
        wk = np.concatenate([wk, b.reshape(O, 1)], axis=1)
    OH = (x.shape[2] - KH) // stride[0] + 1
    OW = (x.shape[3] - KW) // stride[1] + 1
    y = np.full((x.shape[0], O, OH, OW), np.nan, dtype=x.dtype)  # every element must be written
    out = gemm.conv2d_forward_implicit(x, np.ascontiguousarray(wk), y, (KH, KW), stride,
                                       b is not None)
    assert out is y
    return y


def assert_close(y, y_ref, terms):
    assert y.dtype == y_ref.dtype and y.shape == y_ref.shape
    if y.dtype == np.float64:
        np.testing.assert_allclose(y, y_ref, rtol=1e-12, atol=1e-12 * terms)
    else:
        np.testing.assert_allclose(y, y_ref, rtol=1e-5, atol=1e-6 * terms)


@st.composite
def conv_case(draw):
    N, C, O = draw(st.integers(1, 5)), draw(st.integers(1, 6)), draw(st.integers(1, 19))
    H, W = draw(st.integers(1, 14)), draw(st.integers(1, 14))
    KH, KW = draw(st.integers(1, H)), draw(st.integers(1, W))
    stride = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    return dict(x_shape=(N, C, H, W), w_shape=(O, C, KH, KW), stride=stride,
                dtype=draw(st.sampled_from([np.float32, np.float64])),
                bias=draw(st.booleans()), isa=draw(st.sampled_from(gemm.available_isas())),
                seed=draw(st.integers(0, 2**16)))


def implicit_dw(x, gy, w_shape, stride):
    O, C, KH, KW = w_shape
    gwt = np.full((C * KH * KW, O), np.nan, dtype=x.dtype)  # every element must be written
    out = gemm.conv2d_grad_weight_implicit(x, gy, gwt, (KH, KW), stride)
    assert out is gwt
    return gwt.T.reshape(w_shape)


def implicit_dx(gy, w, x_shape, stride):
    gx = np.full(x_shape, np.nan, dtype=gy.dtype)  # zeroed by the kernel
    out = gemm.conv2d_grad_input_implicit(gy, w, gx, stride)
    assert out is gx
    return gx


def run_case(case):
    rng = np.random.default_rng(case["seed"])
    dt = case["dtype"]
    x = rng.uniform(-1, 1, case["x_shape"]).astype(dt)
    w = rng.uniform(-1, 1, case["w_shape"]).astype(dt)
    b = rng.uniform(-1, 1, case["w_shape"][0]).astype(dt) if case["bias"] else None
    gemm.set_isa(case["isa"])
    try:
        y = implicit(x, w, b, case["stride"])
    finally:
        gemm.set_isa(None)
    y_ref = ref.conv2d_forward(x, w, b, case["stride"], (0, 0))
    assert_close(y, y_ref, terms=w[0].size + 1)
    gy = rng.uniform(-1, 1, y_ref.shape).astype(dt)
    gemm.set_isa(case["isa"])
    try:
        gw = implicit_dw(x, gy, w.shape, case["stride"])
        gx = implicit_dx(gy, w, x.shape, case["stride"])
    finally:
        gemm.set_isa(None)
    gx_ref = ref.conv2d_grad_input(gy, w, x.shape, case["stride"], (0, 0))
    assert_close(gx, gx_ref, terms=w.shape[0] * w.shape[2] * w.shape[3])
    gw_ref = ref.conv2d_grad_weight(x, gy, w.shape, case["stride"], (0, 0))
    assert_close(gw, gw_ref, terms=y_ref.shape[0] * y_ref.shape[2] * y_ref.shape[3])


@SETTINGS
@given(case=conv_case())
def test_matches_reference_on_random_shapes(case):
    run_case(case)


@pytest.mark.parametrize("isa", gemm.available_isas())
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, stride", [
    ((37, 32, 13, 13, 64, 3), (1, 1)),   # the benchmark CNN's conv2 (odd batch): threaded
    ((9, 1, 28, 28, 32, 3), (1, 1)),     # conv1: one input channel, K = 9
    ((5, 7, 30, 31, 13, 5), (2, 3)),     # strided: the element-wise gather, ragged O
    ((3, 70, 6, 6, 5, 3), (1, 1)),       # K = 630 + 1: several k blocks
    ((2, 3, 4, 40, 6, 1), (1, 1)),       # 1x1 kernel, rows longer than NR: one run per panel
    ((1, 2, 3, 3, 40, 3), (1, 1)),       # one output pixel: a thread without pixels (dW)
])
def test_matches_reference_on_layer_shapes(isa, threads, dtype, shape, stride):
    N, C, H, W, O, K = shape
    case = dict(x_shape=(N, C, H, W), w_shape=(O, C, K, K), stride=stride, dtype=dtype,
                bias=True, isa=isa, seed=7)
    previous = mg.get_num_threads()
    mg.set_num_threads(threads)
    try:
        run_case(case)
        run_case(dict(case, bias=False, seed=8))
    finally:
        mg.set_num_threads(previous)


def test_cpu_forward_pads_then_runs_the_kernel():
    """cpu.conv2d_forward: padding (a padded copy of x), bias, strides, non-contiguous input."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4, 9, 20)).astype(np.float32)[..., ::2]  # (3, 4, 9, 10) view
    w = rng.standard_normal((6, 4, 3, 2)).astype(np.float32)
    b = rng.standard_normal(6).astype(np.float32)
    for stride, padding in [((1, 1), (1, 2)), ((2, 1), (0, 1)), ((3, 3), (2, 0))]:
        y = cpu.conv2d_forward(x, w, b, stride, padding)
        assert_close(y, ref.conv2d_forward(x, w, b, stride, padding), terms=25)
        y2, kept = cpu.conv2d_forward(x, w, None, stride, padding, keep_cols=True)
        assert kept is None  # no column matrix: conv2d_grad_weight makes its own
        assert_close(y2, ref.conv2d_forward(x, w, None, stride, padding), terms=25)


def test_cpu_grad_input_pads_then_crops():
    """cpu.conv2d_grad_input on a layer above the per-image threshold (the implicit GEMM):
    padding (the gradient of the padded input, cropped), strides, a non-contiguous gy."""
    rng = np.random.default_rng(2)
    w = rng.standard_normal((64, 32, 3, 3))
    x_shape = (5, 32, 13, 13)
    for stride, padding in [((1, 1), (0, 0)), ((1, 1), (1, 1)), ((2, 1), (2, 2))]:
        y_shape = ref.conv2d_forward(np.zeros(x_shape), w, None, stride, padding).shape
        gy = rng.standard_normal(y_shape[:3] + (2 * y_shape[3],))[..., ::2]
        assert 64 * y_shape[2] * y_shape[3] * 32 * 9 >= cpu._CONV_PER_IMAGE_WORK
        gx = cpu.conv2d_grad_input(gy, w, x_shape, stride, padding)
        assert gx.flags.c_contiguous
        assert_close(gx, ref.conv2d_grad_input(gy, w, x_shape, stride, padding), terms=64 * 9)


def test_cpu_grad_weight_pads_then_runs_the_kernel():
    """cpu.conv2d_grad_weight on a layer above the per-image threshold (the implicit GEMM):
    padding, strides, a non-contiguous gy."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, 32, 13, 13))
    w_shape = (64, 32, 3, 3)
    for stride, padding in [((1, 1), (0, 0)), ((1, 1), (1, 1)), ((2, 1), (2, 2))]:
        y_shape = ref.conv2d_forward(x, np.zeros(w_shape), None, stride, padding).shape
        gy = rng.standard_normal(y_shape[:3] + (2 * y_shape[3],))[..., ::2]
        O, L, K = 64, y_shape[2] * y_shape[3], 32 * 9
        assert O * L * K >= cpu._CONV_PER_IMAGE_WORK  # the implicit path
        gw = cpu.conv2d_grad_weight(x, gy, w_shape, stride, padding)
        assert_close(gw, ref.conv2d_grad_weight(x, gy, w_shape, stride, padding),
                     terms=5 * L)


def test_huge_stride_is_one_output_pixel():
    x = np.arange(2 * 1 * 5 * 6, dtype=np.float64).reshape(2, 1, 5, 6)
    w = np.ones((1, 1, 2, 2))
    y = implicit(x, w, None, (2**40, 2**40))
    np.testing.assert_array_equal(y, ref.conv2d_forward(x, w, None, (5, 6), (0, 0)))
    gy = np.arange(2, dtype=np.float64).reshape(2, 1, 1, 1) + 1
    np.testing.assert_array_equal(implicit_dw(x, gy, w.shape, (2**40, 7)),
                                  ref.conv2d_grad_weight(x, gy, w.shape, (5, 6), (0, 0)))
    np.testing.assert_array_equal(implicit_dx(gy, w, x.shape, (2**40, 7)),
                                  ref.conv2d_grad_input(gy, w, x.shape, (5, 6), (0, 0)))


def test_empty_batch_and_no_channels():
    y = implicit(np.zeros((0, 3, 5, 5), np.float32), np.ones((2, 3, 3, 3), np.float32), None,
                 (1, 1))
    assert y.shape == (0, 2, 3, 3)
    y = implicit(np.zeros((2, 0, 5, 5), np.float32), np.ones((2, 0, 3, 3), np.float32),
                 np.array([1.5, -2], np.float32), (1, 1))
    np.testing.assert_array_equal(y, np.broadcast_to(np.array([1.5, -2], np.float32)
                                                     .reshape(1, 2, 1, 1), y.shape))
    gw = implicit_dw(np.zeros((0, 3, 5, 5)), np.zeros((0, 2, 3, 3)), (2, 3, 3, 3), (1, 1))
    np.testing.assert_array_equal(gw, np.zeros((2, 3, 3, 3)))
    assert implicit_dw(np.zeros((2, 0, 5, 5)), np.zeros((2, 2, 3, 3)), (2, 0, 3, 3),
                       (1, 1)).shape == (2, 0, 3, 3)
    assert implicit_dx(np.zeros((0, 2, 3, 3)), np.ones((2, 3, 3, 3)), (0, 3, 5, 5),
                       (1, 1)).shape == (0, 3, 5, 5)
    np.testing.assert_array_equal(  # no output channels: an empty sum
        implicit_dx(np.zeros((2, 0, 3, 3)), np.ones((0, 3, 3, 3)), (2, 3, 5, 5), (1, 1)), 0)
