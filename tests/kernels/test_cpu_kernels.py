"""The Cython-backed CPU kernels (backend/cpu.py) against the numpy reference (reference.py).

Tolerances: float64 1e-10; float32 rtol 1e-4 with atol 1e-4 * sqrt(terms summed), since the two
sides sum in different orders (GEMM blocking vs numpy). Max pooling (values and argmax) and the
pooling backward on exact inputs must agree exactly.
"""

import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("minigrad.kernels.cpu.conv")
pytest.importorskip("minigrad.kernels.cpu.pool")

from minigrad.backend import cpu  # noqa: E402
from minigrad.backend import reference as ref  # noqa: E402
from minigrad.kernels.cpu import conv as conv_ext  # noqa: E402

SETTINGS = settings(deadline=None, max_examples=150, derandomize=True)
DTYPES = [np.float32, np.float64]


def assert_close(actual, expected, terms=1):
    assert actual.dtype == expected.dtype
    assert actual.shape == expected.shape
    if expected.dtype == np.float64:
        np.testing.assert_allclose(actual, expected, rtol=1e-10, atol=1e-10)
    else:
        np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-4 * np.sqrt(terms))


def layout(a, how):
    """The same values as a, as a C-contiguous, transposed, step-sliced or read-only array."""
    if how == "transposed":  # built as (N, C, W, H) and swapped back: strides of a .T view
        return np.ascontiguousarray(a.swapaxes(-1, -2)).swapaxes(-1, -2)
    if how == "sliced":  # every other element of a twice-as-wide buffer
        wide = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), a.dtype)
        wide[..., ::2] = a
        return wide[..., ::2]
    if how == "readonly":
        a = a.copy()
        a.flags.writeable = False
    return a


LAYOUTS = st.sampled_from(["contiguous", "transposed", "sliced", "readonly"])


@st.composite
def conv_case(draw):
    N, C, O = draw(st.integers(1, 3)), draw(st.integers(1, 4)), draw(st.integers(1, 5))
    H, W = draw(st.integers(1, 11)), draw(st.integers(1, 11))
    ph, pw = draw(st.integers(0, 3)), draw(st.integers(0, 3))
    KH = draw(st.sampled_from([1, min(3, H + 2 * ph), H + 2 * ph]) | st.integers(1, H + 2 * ph))
    KW = draw(st.sampled_from([1, min(3, W + 2 * pw), W + 2 * pw]) | st.integers(1, W + 2 * pw))
    stride = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    dtype = draw(st.sampled_from(DTYPES))
    return dict(x_shape=(N, C, H, W), w_shape=(O, C, KH, KW), stride=stride, padding=(ph, pw),
                dtype=dtype, layout=draw(LAYOUTS), bias=draw(st.booleans()),
                seed=draw(st.integers(0, 2**16)))


@st.composite
def pool_case(draw):
    N, C = draw(st.integers(1, 3)), draw(st.integers(1, 4))
    H, W = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    KH, KW = draw(st.integers(1, min(H, 5))), draw(st.integers(1, min(W, 5)))
    ph, pw = draw(st.integers(0, KH // 2)), draw(st.integers(0, KW // 2))
    stride = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    return dict(x_shape=(N, C, H, W), kernel_size=(KH, KW), stride=stride, padding=(ph, pw),
                dtype=draw(st.sampled_from(DTYPES)), layout=draw(LAYOUTS),
                ties=draw(st.booleans()), seed=draw(st.integers(0, 2**16)))


@SETTINGS
@given(conv_case())
def test_conv_matches_reference(case):
    rng = np.random.default_rng(case["seed"])
    dt, stride, padding = case["dtype"], case["stride"], case["padding"]
    x = layout(rng.uniform(-1, 1, case["x_shape"]).astype(dt), case["layout"])
    w = layout(rng.uniform(-1, 1, case["w_shape"]).astype(dt), case["layout"])
    b = rng.uniform(-1, 1, case["w_shape"][0]).astype(dt) if case["bias"] else None
    N, C, H, W = case["x_shape"]
    O, _, KH, KW = case["w_shape"]

    y = cpu.conv2d_forward(x, w, b, stride, padding)
    assert_close(y, ref.conv2d_forward(x, w, b, stride, padding), terms=C * KH * KW)

    gy = layout(rng.uniform(-1, 1, y.shape).astype(dt), case["layout"])
    gx = cpu.conv2d_grad_input(gy, w, x.shape, stride, padding)
    assert_close(gx, ref.conv2d_grad_input(gy, w, x.shape, stride, padding), terms=O * KH * KW)
    gw = cpu.conv2d_grad_weight(x, gy, w.shape, stride, padding)
    assert_close(gw, ref.conv2d_grad_weight(x, gy, w.shape, stride, padding),
                 terms=N * y.shape[2] * y.shape[3])


@pytest.mark.parametrize("dtype", DTYPES)
def test_conv_on_an_empty_batch_in_the_whole_batch_path(dtype):
    """N = 0 with layer sizes that take the chunked whole-batch path: empty results, no error."""
    x, w = np.ones((0, 32, 13, 13), dtype), np.ones((64, 32, 3, 3), dtype)
    gy = np.ones((0, 64, 11, 11), dtype)
    y, _ = cpu.conv2d_forward(x, w, None, (1, 1), (0, 0), keep_cols=True)
    assert y.shape == (0, 64, 11, 11)
    assert cpu.conv2d_grad_input(gy, w, x.shape, (1, 1), (0, 0)).shape == x.shape
    gw = cpu.conv2d_grad_weight(x, gy, w.shape, (1, 1), (0, 0))
    assert gw.shape == w.shape and not gw.any()
    assert cpu._chunks(0, 5) == []


@given(st.integers(1, 300), st.integers(1, 300))
def test_chunks_of_images_cover_the_batch_evenly(N, nb):
    chunks = cpu._chunks(N, nb)
    assert [n0 for n0, _ in chunks] == [sum(m for _, m in chunks[:i]) for i in range(len(chunks))]
    sizes = [m for _, m in chunks]
    assert sum(sizes) == N and max(sizes) <= nb and max(sizes) - min(sizes) <= 1
    assert len(chunks) == -(-N // nb)


@SETTINGS
@given(conv_case(), st.integers(2, 6), st.sampled_from(["bytes", "one image"]))
def test_conv_in_chunks_of_images_matches_reference(case, N, chunk):
    """The whole-batch path in chunks of images (cpu._CONV_CHUNK_BYTES): forward, grad_input,
    and grad_weight both from keep_cols (None then: rebuilt per chunk) and from x, with a
    ragged last chunk; the small per-image path is switched off so every shape takes it."""
    from unittest import mock

    case = dict(case, x_shape=(N,) + case["x_shape"][1:])
    rng = np.random.default_rng(case["seed"])
    dt, stride, padding = case["dtype"], case["stride"], case["padding"]
    x = layout(rng.uniform(-1, 1, case["x_shape"]).astype(dt), case["layout"])
    w = rng.uniform(-1, 1, case["w_shape"]).astype(dt)
    b = rng.uniform(-1, 1, case["w_shape"][0]).astype(dt) if case["bias"] else None
    C, H, W = case["x_shape"][1:]
    O, _, KH, KW = case["w_shape"]
    y_ref = ref.conv2d_forward(x, w, b, stride, padding)
    L = y_ref.shape[2] * y_ref.shape[3]
    # chunks of 1 image, or of 2 images (with N odd, the last chunk is 1 image)
    size = C * KH * KW * L * x.itemsize * (1 if chunk == "one image" or N < 3 else 2)
    gy = rng.uniform(-1, 1, y_ref.shape).astype(dt)
    with mock.patch.object(cpu, "_CONV_CHUNK_BYTES", size), \
            mock.patch.object(cpu, "_CONV_PER_IMAGE_WORK", 0):
        assert cpu._chunk_images(N, C * KH * KW, L, x.itemsize) < N
        y, cols = cpu.conv2d_forward(x, w, b, stride, padding, keep_cols=True)
        assert cols is None  # chunked: the columns are not kept
        assert_close(y, y_ref, terms=C * KH * KW)
        np.testing.assert_array_equal(cpu.conv2d_forward(x, w, b, stride, padding), y)
        gx = cpu.conv2d_grad_input(gy, w, x.shape, stride, padding)
        assert_close(gx, ref.conv2d_grad_input(gy, w, x.shape, stride, padding),
                     terms=O * KH * KW)
        gw_ref = ref.conv2d_grad_weight(x, gy, w.shape, stride, padding)
        for kept in (cols, None):
            gw = cpu.conv2d_grad_weight(x, gy, w.shape, stride, padding, cols=kept)
            assert_close(gw, gw_ref, terms=N * L)


@SETTINGS
@given(pool_case())
def test_pooling_matches_reference(case):
    rng = np.random.default_rng(case["seed"])
    dt, k, s, p = case["dtype"], case["kernel_size"], case["stride"], case["padding"]
    if case["ties"]:  # small integers: many equal maxima per window
        values = rng.integers(-2, 3, case["x_shape"])
    else:
        values = rng.standard_normal(case["x_shape"])
    x = layout(values.astype(dt), case["layout"])

    y, argmax = cpu.max_pool2d_forward(x, k, s, p)
    y_ref, argmax_ref = ref.max_pool2d_forward(x, k, s, p)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(argmax, argmax_ref)
    assert y.dtype == dt and argmax.dtype == np.int64

    # Integer-valued gy makes every sum exact, so the scatter-adds must agree exactly.
    gy = layout(rng.integers(-4, 5, y.shape).astype(dt), case["layout"])
    np.testing.assert_array_equal(cpu.max_pool2d_backward(gy, argmax, x.shape, k, s, p),
                                  ref.max_pool2d_backward(gy, argmax, x.shape, k, s, p))

    assert_close(cpu.avg_pool2d_forward(x, k, s, p), ref.avg_pool2d_forward(x, k, s, p))
    assert_close(cpu.avg_pool2d_backward(gy, x.shape, k, s, p),
                 ref.avg_pool2d_backward(gy, x.shape, k, s, p), terms=k[0] * k[1])


@SETTINGS
@given(N=st.integers(1, 3), C=st.integers(1, 3), H=st.integers(1, 13), W=st.integers(1, 13),
       dtype=st.sampled_from(DTYPES), values=st.sampled_from(["normal", "ties", "special"]),
       how=LAYOUTS, seed=st.integers(0, 2**16))
def test_max_pool_2x2_stride_2_fast_path_matches_reference(N, C, H, W, dtype, values, how, seed):
    """The 2x2 / stride 2 / no padding windows take pool_2x2.h's loop: the same values and
    argmax as the reference, odd sizes (a row or column left out), ties, NaN and infinities."""
    rng = np.random.default_rng(seed)
    if values == "ties":
        x = rng.integers(-1, 2, (N, C, H, W)).astype(dtype)
    elif values == "special":
        x = rng.choice(np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, 1.0]),
                       (N, C, H, W)).astype(dtype)
    else:
        x = rng.standard_normal((N, C, H, W)).astype(dtype)
    x = layout(x, how)
    if H < 2 or W < 2:
        with pytest.raises(ValueError):
            ref.max_pool2d_forward(x, (2, 2), (2, 2), (0, 0))
        with pytest.raises(ValueError):
            cpu.max_pool2d_forward(x, (2, 2), (2, 2), (0, 0))
        return
    y, argmax = cpu.max_pool2d_forward(x, (2, 2), (2, 2), (0, 0))
    y_ref, argmax_ref = ref.max_pool2d_forward(x, (2, 2), (2, 2), (0, 0))
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(argmax, argmax_ref)
    at_argmax = np.take_along_axis(np.ascontiguousarray(x).reshape(N, C, -1),
                                   argmax.reshape(N, C, -1), axis=2).reshape(y.shape)
    np.testing.assert_array_equal(y.view(np.uint8), at_argmax.view(np.uint8))  # -0.0 too


@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool_ties_go_to_first_real_element(dtype):
    x = np.ones((1, 2, 3, 3), dtype)
    y, argmax = cpu.max_pool2d_forward(x, (2, 2), (1, 1), (1, 1))
    assert argmax[0, 0].tolist() == [[0, 0, 1, 2], [0, 0, 1, 2], [3, 3, 4, 5], [6, 6, 7, 8]]
    # all -inf: still a real element, never the padding; NaN wins over numbers
    _, argmax = cpu.max_pool2d_forward(np.full((1, 1, 2, 2), -np.inf, dtype), (2, 2), (2, 2),
                                       (1, 1))
    assert argmax.tolist() == [[[[0, 1], [2, 3]]]]
    y, argmax = cpu.max_pool2d_forward(np.array([[[[1, np.nan], [5, np.nan]]]], dtype), (2, 2),
                                       (2, 2), (0, 0))
    assert np.isnan(y).all() and argmax.item() == 1


@pytest.mark.parametrize("dtype", DTYPES)
def test_overlapping_windows_accumulate(dtype):
    x = np.zeros((2, 3, 6, 6), dtype)
    x[:, :, 2, 2] = 1  # the maximum of every 3x3 window that contains it
    y, argmax = cpu.max_pool2d_forward(x, (3, 3), (1, 1), (0, 0))
    gx = cpu.max_pool2d_backward(np.ones_like(y), argmax, x.shape, (3, 3), (1, 1), (0, 0))
    assert gx[0, 0, 2, 2] == 9  # all nine windows of the 4x4 output that contain (2, 2)
    assert gx.sum() == y.size
    gx = cpu.avg_pool2d_backward(np.ones((2, 3, 4, 4), dtype), x.shape, (3, 3), (1, 1), (0, 0))
    np.testing.assert_allclose(gx[0, 0, 2, 2], 1.0, rtol=1e-6)  # 9 windows x 1/9
    gx = cpu.conv2d_grad_input(np.ones((2, 1, 4, 4), dtype), np.ones((1, 3, 3, 3), dtype),
                               x.shape, (1, 1), (0, 0))
    assert gx[0, 0, 2, 2] == 9 and gx[0, 0, 0, 0] == 1


def test_unreached_rows_get_zero_gradient():
    # H + 2p - K = 7 is not a multiple of stride 3: the last row and column are never read.
    x_shape, w = (1, 1, 9, 9), np.ones((1, 1, 2, 2))
    gx = cpu.conv2d_grad_input(np.ones((1, 1, 3, 3)), w, x_shape, (3, 3), (0, 0))
    assert gx.shape == x_shape
    assert gx[0, 0, 8].sum() == 0 and gx[0, 0, :, 8].sum() == 0
    assert gx[0, 0, 2].sum() == 0  # row 2 sits between windows (rows 0-1, 3-4, 6-7)
    np.testing.assert_array_equal(gx, ref.conv2d_grad_input(np.ones((1, 1, 3, 3)), w, x_shape,
                                                            (3, 3), (0, 0)))


def test_realistic_cnn_layers_match_reference():
    """The shapes the benchmark uses, in float32, at a small batch."""
    rng = np.random.default_rng(0)
    for C, O, H in [(1, 32, 28), (32, 64, 13)]:
        x = rng.standard_normal((4, C, H, H)).astype(np.float32)
        w = rng.standard_normal((O, C, 3, 3)).astype(np.float32)
        b = rng.standard_normal(O).astype(np.float32)
        y = cpu.conv2d_forward(x, w, b, (1, 1), (0, 0))
        assert_close(y, ref.conv2d_forward(x, w, b, (1, 1), (0, 0)), terms=9 * C * 10)
        gx = cpu.conv2d_grad_input(y, w, x.shape, (1, 1), (0, 0))
        assert_close(gx, ref.conv2d_grad_input(y, w, x.shape, (1, 1), (0, 0)), terms=9 * O * 100)
        gw = cpu.conv2d_grad_weight(x, y, w.shape, (1, 1), (0, 0))
        assert_close(gw, ref.conv2d_grad_weight(x, y, w.shape, (1, 1), (0, 0)),
                     terms=4 * (H - 2) ** 2 * 100)


@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("trans_b", [False, True])
def test_matmul_matches_reference(trans_a, trans_b):
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((3, 5, 7)), rng.standard_normal((7, 4))  # op(a), op(b)
    if trans_a:
        a = np.ascontiguousarray(a.swapaxes(-1, -2))
    if trans_b:
        b = np.ascontiguousarray(b.T)
    assert_close(cpu.matmul(a, b, trans_a=trans_a, trans_b=trans_b),
                 ref.matmul(a, b, trans_a=trans_a, trans_b=trans_b))


# Errors raised on the Cython path (checked before any nogil code runs).

X = np.zeros((2, 3, 5, 5), np.float32)
W = np.zeros((4, 3, 3, 3), np.float32)
BAD_ARGMAX = np.zeros((2, 3, 2, 2), np.int64)
BAD_ARGMAX[1, 2, 1, 0] = 25  # one past the end of a 5x5 plane
ERRORS = [
    (ValueError, "conv2d_forward: input (2, 3, 5, 5) has 3 channels but weight (4, 2, 3, 3) "
                 "expects 2",
     lambda: cpu.conv2d_forward(X, np.zeros((4, 2, 3, 3), np.float32), None, (1, 1), (0, 0))),
    (TypeError, "conv2d_forward: dtypes differ",
     lambda: cpu.conv2d_forward(X, W.astype(np.float64), None, (1, 1), (0, 0))),
    (ValueError, "conv2d_grad_input: grad_output (2, 4, 5, 5) should be (2, 4, 3, 3)",
     lambda: cpu.conv2d_grad_input(np.zeros((2, 4, 5, 5), np.float32), W, X.shape, (1, 1),
                                   (0, 0))),
    (ValueError, "conv2d_grad_weight: stride must be a pair of positive ints",
     lambda: cpu.conv2d_grad_weight(X, np.zeros((2, 4, 3, 3), np.float32), W.shape, (0, 1),
                                    (0, 0))),
    (ValueError, "max_pool2d_forward: padding (2, 0) must be at most half",
     lambda: cpu.max_pool2d_forward(X, (3, 3), (1, 1), (2, 0))),
    (TypeError, "avg_pool2d_forward: input has dtype float16",
     lambda: cpu.avg_pool2d_forward(X.astype(np.float16), (2, 2), (2, 2), (0, 0))),
    (TypeError, "max_pool2d_backward: argmax has dtype int32",
     lambda: cpu.max_pool2d_backward(np.zeros((2, 3, 2, 2), np.float32),
                                     np.zeros((2, 3, 2, 2), np.int32), X.shape, (2, 2), (2, 2),
                                     (0, 0))),
    (ValueError, "max_pool2d_backward: 1 argmax entries lie outside the 5x5 input plane",
     lambda: cpu.max_pool2d_backward(np.zeros((2, 3, 2, 2), np.float32), BAD_ARGMAX, X.shape,
                                     (2, 2), (2, 2), (0, 0))),
    (ValueError, "col2im: cols (2, 27, 4) should be (2, 27, 9)",
     lambda: conv_ext.col2im(np.zeros((2, 27, 4), np.float32), np.zeros(X.shape, np.float32),
                             (3, 3), (1, 1), (0, 0))),
    (ValueError, "im2col: cols must be contiguous along its last axis",
     lambda: conv_ext.im2col(X, np.zeros((2, 27, 18), np.float32)[:, :, ::2], (3, 3), (1, 1),
                             (0, 0))),
]


@pytest.mark.parametrize("exc, message, call", ERRORS,
                         ids=[m.split(":")[0] + str(i) for i, (_, m, _) in enumerate(ERRORS)])
def test_errors_name_the_op_and_shapes(exc, message, call):
    with pytest.raises(exc) as info:
        call()
    assert message in str(info.value)


def test_kernel_sources_lists_every_op():
    sources = cpu.kernel_sources()
    assert set(sources) == set(cpu.OPS)
    assert set(sources.values()) <= {"cython", "reference"}
    if cpu.DISABLED:
        assert set(sources.values()) == {"reference"}
        return
    for op in ["conv2d_forward", "conv2d_grad_input", "conv2d_grad_weight", "max_pool2d_forward",
               "max_pool2d_backward", "avg_pool2d_forward", "avg_pool2d_backward"]:
        assert sources[op] == "cython"


def _run(code, **env):
    """Run code in a fresh interpreter (the backend is chosen at import) and return its stdout."""
    result = subprocess.run([sys.executable, "-W", "always", "-c", code], capture_output=True,
                            text=True, env={**os.environ, **env}, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout, result.stderr


def test_disable_ext_forces_reference_without_warning():
    code = "from minigrad.backend import cpu; print(sorted(set(cpu.kernel_sources().values())))"
    out, err = _run(code, MINIGRAD_DISABLE_EXT="1")
    assert out.strip() == "['reference']"
    assert "falling back" not in err


def test_missing_extension_falls_back_and_warns_once():
    code = (
        "import sys, warnings\n"
        "sys.modules['minigrad.kernels.cpu.pool'] = None  # makes the import fail\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    from minigrad.backend import cpu\n"
        "    import numpy as np\n"
        "    y, a = cpu.max_pool2d_forward(np.ones((1, 1, 2, 2)), (2, 2), (2, 2), (0, 0))\n"
        "    cpu.max_pool2d_forward(np.ones((1, 1, 2, 2)), (2, 2), (2, 2), (0, 0))\n"
        "msgs = [str(w.message) for w in caught if 'falling back' in str(w.message)]\n"
        "print(len(msgs)); print(msgs[0]); print(cpu.kernel_sources()['max_pool2d_forward'],"
        " cpu.kernel_sources()['conv2d_forward'])\n"
    )
    out, _ = _run(code, MINIGRAD_DISABLE_EXT="0")
    count, message, sources = out.strip().splitlines()
    assert count == "1"
    assert "minigrad.kernels.cpu.pool" in message and "numpy reference kernels" in message
    assert sources == "reference cython"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("with_bias", [False, True])
@pytest.mark.parametrize("stride, padding", [((1, 1), (0, 0)), ((2, 1), (1, 2))])
def test_both_conv_gemm_layouts_match_reference(dtype, with_bias, stride, padding):
    """cpu.py takes a conv's gradients as one GEMM per image when the per-image product is
    small and as implicit GEMMs when it is large (the forward is always implicit): both sides
    of that threshold, with and without bias, strided and padded."""
    rng = np.random.default_rng(3)
    sides = []
    for C, O, H in [(2, 8, 9), (32, 64, 17)]:  # per-image work below and above the threshold
        x = rng.standard_normal((3, C, H, H + 2)).astype(dtype)
        w = rng.standard_normal((O, C, 3, 3)).astype(dtype)
        b = rng.standard_normal(O).astype(dtype) if with_bias else None
        y = cpu.conv2d_forward(x, w, b, stride, padding)
        assert_close(y, ref.conv2d_forward(x, w, b, stride, padding), terms=9 * C)
        gx = cpu.conv2d_grad_input(y, w, x.shape, stride, padding)
        assert_close(gx, ref.conv2d_grad_input(y, w, x.shape, stride, padding), terms=9 * O * 10)
        gw = cpu.conv2d_grad_weight(x, y, w.shape, stride, padding)
        assert_close(gw, ref.conv2d_grad_weight(x, y, w.shape, stride, padding),
                     terms=3 * H * H * 10)
        per_image_work = O * y.shape[2] * y.shape[3] * (9 * C + 1)
        sides.append(per_image_work < cpu._CONV_PER_IMAGE_WORK)
    assert sides == [True, False]  # the two cases straddle the threshold


