"""Huge pooling / convolution windows, strides and paddings (issue 8, item 3).

One shared check (minigrad/backend/window.py) bounds them for every layer: the public functions
(errors name "max_pool2d", "avg_pool2d", "conv2d"), the kernel tables of every backend (errors
name "max_pool2d_forward", ...) and the compiled kernels called directly. Whatever it lets
through is computed fast: the kernels loop only over the part of each window inside the input.
The cases that used to spin for minutes run in a child process with a timeout, so a regression
fails instead of hanging the suite.
"""

import subprocess
import sys
import textwrap

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn.functional as F
from minigrad.backend import cpu, reference, window

BIG = 2**62


def ones(*shape, device="cpu"):
    return mg.ones(*shape).to(device)


# ---------------------------------------------------------------- the examples of the issue


def run_child(code, timeout=120):
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                            text=True, timeout=timeout)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_max_pool2d_huge_kernel_raises_fast():
    # Used to loop for minutes inside the kernel (Ctrl-C only seen when it returned).
    out = run_child("""
        import time
        import minigrad as mg, minigrad.nn.functional as F
        start = time.perf_counter()
        try:
            F.max_pool2d(mg.ones(1, 1, 4, 4), 2**62, padding=2**61)
        except ValueError as e:
            print("ValueError", e)
        print("seconds", time.perf_counter() - start)
    """)
    assert "ValueError max_pool2d: kernel area" in out, out
    assert float(out.split("seconds")[1]) < 5, out


def test_avg_pool2d_kernel_area_overflow_raises():
    # (2**62, 2): KH*KW = 2**63 wrapped to a negative divisor, giving negative averages.
    with pytest.raises(ValueError, match=r"^avg_pool2d: kernel area .* does not fit in int64"):
        F.avg_pool2d(mg.ones(1, 1, 4, 4), (BIG, 2), padding=(BIG // 2, 1))
    with pytest.raises(ValueError, match=r"^avg_pool2d: kernel area"):
        F.avg_pool2d(mg.ones(1, 1, 4, 4), (BIG, 2), padding=(BIG // 2, 0))


@pytest.mark.parametrize("stride, padding, message", [
    (2**70, 0, r"^conv2d: stride \(1180591620717411303424, 1180591620717411303424\) is too large"),
    (1, BIG, r"^conv2d: padded input size .* does not fit in int64"),
    ((1, 2**64), 0, r"^conv2d: stride .* is too large"),
    (1, (0, -1), r"^conv2d: padding must be a pair of non-negative ints"),
    (0, 0, r"^conv2d: stride must be a pair of positive ints"),
])
def test_conv2d_huge_stride_or_padding_raises_naming_the_op(stride, padding, message):
    with pytest.raises(ValueError, match=message):
        F.conv2d(mg.ones(1, 1, 4, 4), mg.ones(1, 1, 2, 2), stride=stride, padding=padding)


def test_conv2d_output_too_large_for_int64_raises():
    # padding 2**40: a 2**41 x 2**41 output plane, 2**82 elements.
    with pytest.raises(ValueError, match=r"^conv2d: output plane .* does not fit in int64"):
        F.conv2d(mg.ones(1, 1, 4, 4), mg.ones(1, 1, 1, 1), padding=2**40)


# ------------------------------------------------ what the check lets through is computed fast


def test_huge_but_legal_windows_are_fast_and_right():
    # KH*KW = 2**62 fits in int64: legal, and every window holds the whole 4 x 4 input (plus
    # padding). The old max-pool kernel walked all 2**31 kernel columns of each input row.
    out = run_child("""
        import time
        import numpy as np
        import minigrad as mg, minigrad.nn.functional as F
        x = mg.tensor(np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4) - 20)
        start = time.perf_counter()
        y = F.max_pool2d(x, 2**31, padding=2**30).numpy()
        assert y.shape == (1, 1, 1, 1) and y.item() == -5.0, y
        # (2**61, 2) with padding (2**60, 1): rows cover everything, columns [-1, 1), [1, 3),
        # [3, 5); the mean divides by KH*KW = 2**62 (padding counted).
        z = F.avg_pool2d(mg.ones(1, 1, 4, 4, dtype=mg.float64), (2**61, 2),
                         padding=(2**60, 1)).numpy()
        want = np.array([4.0, 8.0, 4.0]) / 2.0**62
        assert z.shape == (1, 1, 1, 3) and np.allclose(z.ravel(), want, rtol=1e-12), z
        assert (z > 0).all()
        print("seconds", time.perf_counter() - start)
    """)
    assert float(out.split("seconds")[1]) < 5, out


def test_conv2d_huge_stride_is_legal_as_in_pytorch():
    y = F.conv2d(mg.ones(1, 1, 4, 4), mg.ones(1, 1, 2, 2), stride=BIG)
    assert y.shape == (1, 1, 1, 1) and y.item() == 4.0
    torch = pytest.importorskip("torch")
    t = torch.nn.functional.conv2d(torch.ones(1, 1, 4, 4), torch.ones(1, 1, 2, 2), stride=BIG)
    assert tuple(t.shape) == y.shape and t.item() == y.item()


def test_errors_where_pytorch_raises():
    # Each case PyTorch refuses, minigrad refuses too (ValueError naming the op).
    torch = pytest.importorskip("torch")
    tF = torch.nn.functional
    cases = [
        ("max_pool2d", lambda f, x: f.max_pool2d(x, BIG, padding=BIG // 2)),
        ("avg_pool2d", lambda f, x: f.avg_pool2d(x, (BIG, 2), padding=(BIG // 2, 1))),
        ("max_pool2d", lambda f, x: f.max_pool2d(x, 2, padding=2)),
        ("max_pool2d", lambda f, x: f.max_pool2d(x, 5)),
        ("max_pool2d", lambda f, x: f.max_pool2d(x, 2, stride=0)),
        ("conv2d", lambda f, x: f.conv2d(x, x[:, :, :2, :2] * 0 + 1, stride=2**70)),
        ("conv2d", lambda f, x: f.conv2d(x, x[:, :, :2, :2] * 0 + 1, padding=BIG)),
    ]
    for op, call in cases:
        with pytest.raises((RuntimeError, ValueError, OverflowError)):
            call(tF, torch.ones(1, 1, 4, 4))
        with pytest.raises(ValueError, match=f"^{op}: "):
            call(F, mg.ones(1, 1, 4, 4))


# --------------------------------------------- the kernel tables and the compiled kernels


@pytest.mark.parametrize("kernels", ["cpu", "reference"])
def test_kernel_tables_refuse_huge_windows_naming_the_kernel(kernels):
    k = cpu if kernels == "cpu" else reference
    x = np.ones((1, 1, 4, 4), np.float32)
    w = np.ones((1, 1, 2, 2), np.float32)
    with pytest.raises(ValueError, match=r"^max_pool2d_forward: kernel area"):
        k.max_pool2d_forward(x, (BIG, BIG), (BIG, BIG), (BIG // 2, BIG // 2))
    with pytest.raises(ValueError, match=r"^avg_pool2d_forward: kernel area"):
        k.avg_pool2d_forward(x, (BIG, 2), (1, 1), (BIG // 2, 1))
    with pytest.raises(ValueError, match=r"^avg_pool2d_backward: kernel area"):
        k.avg_pool2d_backward(np.ones((1, 1, 1, 3), np.float32), (1, 1, 4, 4), (BIG, 2), (1, 2),
                              (BIG // 2, 1))
    with pytest.raises(ValueError, match=r"^conv2d_forward: stride .* too large"):
        k.conv2d_forward(x, w, None, (2**70, 1), (0, 0))
    with pytest.raises(ValueError, match=r"^conv2d_grad_input: padded input size"):
        k.conv2d_grad_input(np.ones((1, 1, 3, 3), np.float32), w, (1, 1, 4, 4), (1, 1), (BIG, 0))
    with pytest.raises(ValueError, match=r"^conv2d_grad_weight: stride .* too large"):
        k.conv2d_grad_weight(x, np.ones((1, 1, 1, 1), np.float32), (1, 1, 2, 2), (2**64, 2**64),
                             (0, 0))


def test_compiled_kernels_refuse_huge_windows_naming_the_function():
    pool = pytest.importorskip("minigrad.kernels.cpu.pool")
    conv = pytest.importorskip("minigrad.kernels.cpu.conv")
    x = np.ones((1, 1, 4, 4), np.float32)
    y = np.empty((1, 1, 1, 1), np.float32)
    argmax = np.empty((1, 1, 1, 1), np.int64)
    with pytest.raises(ValueError, match=r"^max_pool2d_forward: kernel area"):
        pool.max_pool2d_forward(x, y, argmax, (BIG, BIG), (BIG, BIG), (BIG // 2, BIG // 2))
    with pytest.raises(ValueError, match=r"^avg_pool2d_forward: stride"):
        pool.avg_pool2d_forward(x, y, (2, 2), (2**70, 2), (0, 0))
    with pytest.raises(ValueError, match=r"^avg_pool2d_backward: kernel area"):
        pool.avg_pool2d_backward(np.ones((1, 1, 1, 3), np.float32), x, (BIG, 2), (1, 2),
                                 (BIG // 2, 1))
    cols = np.empty((1, 4, 9), np.float32)
    with pytest.raises(ValueError, match=r"^im2col: stride .* too large"):
        conv.im2col(x, cols, (2, 2), (2**70, 1), (0, 0))
    with pytest.raises(ValueError, match=r"^col2im: padded input size"):
        conv.col2im(cols, np.empty_like(x), (2, 2), (1, 1), (BIG, 0))


@pytest.mark.parametrize("device", ["cuda"], indirect=True)
def test_cuda_refuses_huge_windows_naming_the_op(device):
    x = ones(1, 1, 4, 4, device=device)
    with pytest.raises(ValueError, match=r"^max_pool2d: kernel area"):
        F.max_pool2d(x, BIG, padding=BIG // 2)
    with pytest.raises(ValueError, match=r"^avg_pool2d: kernel area"):
        F.avg_pool2d(x, (BIG, 2), padding=(BIG // 2, 1))
    with pytest.raises(ValueError, match=r"^conv2d: stride"):
        F.conv2d(x, ones(1, 1, 2, 2, device=device), stride=2**70)
    from minigrad.backend import cuda

    with pytest.raises(ValueError, match=r"^avg_pool2d_forward: kernel area"):
        cuda.avg_pool2d_forward(x._data, (BIG, 2), (1, 1), (BIG // 2, 1))


# ---------------------------------------------------------------- the shared check itself


def test_check_window_rules():
    cw = window.check_window
    assert cw("op", (2, 3, 4, 4), (2, 2), (2, 2), (1, 1), pool=True) == (3, 3)
    assert cw("op", (1, 1, 4, 4), (2, 2), (BIG, BIG), (0, 0), pool=False) == (1, 1)
    with pytest.raises(TypeError, match="^op: stride must be a pair of ints"):
        cw("op", (1, 1, 4, 4), (2, 2), (1.0, 1), (0, 0), pool=False)
    with pytest.raises(TypeError, match="^op: padding must be a pair of ints"):
        cw("op", (1, 1, 4, 4), (2, 2), (1, 1), (True, 0), pool=False)
    with pytest.raises(ValueError, match="^op: kernel_size must be a pair"):
        cw("op", (1, 1, 4, 4), (2,), (1, 1), (0, 0), pool=False)
    with pytest.raises(ValueError, match="^op: padding .* at most half"):
        cw("op", (1, 1, 4, 4), (2, 2), (1, 1), (2, 0), pool=True)
    assert cw("op", (1, 1, 4, 4), (2, 2), (1, 1), (2, 0), pool=False) == (7, 3)  # conv: any pad
    with pytest.raises(ValueError, match=r"^op: kernel \(5, 5\) is larger than the padded"):
        cw("op", (1, 1, 4, 4), (5, 5), (1, 1), (0, 0), pool=False)
    # The largest padding whose padded size still fits, and one more.
    assert cw("op", (1, 1, 1, 1), (1, 1), (2**62, 2**62), ((2**63 - 2) // 2, 0),
              pool=False) == (2, 1)
    with pytest.raises(ValueError, match="^op: padded input size"):
        cw("op", (1, 1, 2, 2), (1, 1), (2**62, 2**62), ((2**63 - 2) // 2, 0), pool=False)
    with pytest.raises(ValueError, match=r"^op: im2col size"):
        cw("op", (1, 2**20, 2**22, 4), (2**21, 2), (1, 1), (0, 0), pool=False)
    with pytest.raises(ValueError, match=r"^op: output elements"):
        cw("op", (2**40, 1, 4, 4), (1, 1), (1, 1), (0, 0), pool=False, channels_out=2**30)


def _brute_pool(x, kernel_size, stride, padding, how):
    """Direct loops over each window's real elements: the definition, independent of the
    strided-view reference and of the window cutting both implementations do."""
    N, C, H, W = x.shape
    (KH, KW), (sh, sw), (ph, pw) = kernel_size, stride, padding
    OH, OW = (H + 2 * ph - KH) // sh + 1, (W + 2 * pw - KW) // sw + 1
    y = np.zeros((N, C, OH, OW))
    for oh in range(OH):
        for ow in range(OW):
            h0, w0 = oh * sh - ph, ow * sw - pw
            part = x[:, :, max(h0, 0):min(h0 + KH, H), max(w0, 0):min(w0 + KW, W)]
            y[:, :, oh, ow] = part.max(axis=(2, 3)) if how == "max" else \
                part.sum(axis=(2, 3)) / (KH * KW)
    return y


def _pool_grid():
    for H in (1, 2, 5):
        for K in range(1, 2 * H + 4):
            for p in range(max(0, -(-(K - H) // 2)), K // 2 + 1):
                for s in (1, 2, K + 3):
                    yield H, K, p, s


@pytest.mark.parametrize("kernels", ["cpu", "reference"])
def test_windows_larger_than_the_input_match_the_definition(kernels):
    # Every (kernel, padding, stride) pooling allows on 1-, 2- and 5-pixel sides, including
    # windows up to 2H + 3 wide, whose padded parts the kernels skip.
    k = cpu if kernels == "cpu" else reference
    rng = np.random.default_rng(0)
    for H, K, p, s in _pool_grid():
        x = rng.standard_normal((1, 2, H, H + 1))
        ks, st, pd = (K, K), (s, s), (p, p)
        if H + 1 + 2 * p < K:
            continue
        y, argmax = k.max_pool2d_forward(x, ks, st, pd)
        np.testing.assert_array_equal(y, _brute_pool(x, ks, st, pd, "max"))
        np.testing.assert_array_equal(np.take_along_axis(x.reshape(1, 2, -1),
                                                         argmax.reshape(1, 2, -1), 2),
                                      y.reshape(1, 2, -1))
        np.testing.assert_allclose(k.avg_pool2d_forward(x, ks, st, pd),
                                   _brute_pool(x, ks, st, pd, "avg"), rtol=1e-12, atol=1e-15)
        gy = rng.standard_normal(y.shape)
        gx = k.avg_pool2d_backward(gy, x.shape, ks, st, pd)
        # <avg(x), gy> == <x, avg^T(gy)>: the backward is the forward's adjoint.
        np.testing.assert_allclose((k.avg_pool2d_forward(x, ks, st, pd) * gy).sum(),
                                   (x * gx).sum(), rtol=1e-10, atol=1e-12)


def test_a_cached_window_still_refuses_bools_and_numpy_ints_are_checked_afresh():
    """check_window caches windows of plain int tuples; True must not pass for 1 through the
    cache, and the cache gives the same answer as a fresh check."""
    import numpy as np

    from minigrad.backend import window

    args = ("max_pool2d", (1, 1, 4, 4), (2, 2), (1, 1), (0, 0))
    assert window.check_window(*args, pool=True) == (3, 3)
    assert window.check_window(*args, pool=True) == (3, 3)  # from the cache
    assert args + (True, None) in window._CHECKED
    with pytest.raises(TypeError, match="stride must be a pair of ints"):
        window.check_window("max_pool2d", (1, 1, 4, 4), (2, 2), (True, True), (0, 0), pool=True)
    numpy_ints = (np.int64(2), np.int64(2))
    assert window.check_window("max_pool2d", (1, 1, 4, 4), numpy_ints, (1, 1), (0, 0),
                               pool=True) == (3, 3)
    with pytest.raises(ValueError, match="padding"):  # an error is never cached as a pass
        window.check_window("max_pool2d", (1, 1, 4, 4), (2, 2), (1, 1), (2, 2), pool=True)
    with pytest.raises(ValueError, match="padding"):
        window.check_window("max_pool2d", (1, 1, 4, 4), (2, 2), (1, 1), (2, 2), pool=True)
