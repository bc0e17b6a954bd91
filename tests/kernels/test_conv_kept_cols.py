"""conv2d_forward(keep_cols=True) + conv2d_grad_weight(cols=...): the weight gradient from the
forward's im2col columns (what ops/conv.py's Conv2d does) against the numpy reference, on every
device's kernel table, on awkward shapes (padding, strides, kernels as large as the padded
input, one-channel inputs that take the CPU's per-image path, batch 1)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigrad as mg
from minigrad.backend import reference as ref

SETTINGS = settings(deadline=None, max_examples=40, derandomize=True)


def to_host(a):
    return a if isinstance(a, np.ndarray) else a.get()


@st.composite
def conv_case(draw):
    N, C, O = draw(st.integers(1, 3)), draw(st.integers(1, 4)), draw(st.integers(1, 5))
    H, W = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    ph, pw = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    KH = draw(st.sampled_from([1, H + 2 * ph]) | st.integers(1, H + 2 * ph))
    KW = draw(st.sampled_from([1, W + 2 * pw]) | st.integers(1, W + 2 * pw))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    return dict(x_shape=(N, C, H, W), w_shape=(O, C, KH, KW), stride=stride, padding=(ph, pw),
                dtype=draw(st.sampled_from([np.float32, np.float64])),
                bias=draw(st.booleans()), seed=draw(st.integers(0, 2**16)))


def check_case(device, case):
    if device == "reference":  # the numpy reference's own keep_cols/cols path
        kernels, xp = ref, np
    else:
        kernels, xp = mg.Device(device).kernels, mg.Device(device).xp
    rng = np.random.default_rng(case["seed"])
    dt, s, p = case["dtype"], case["stride"], case["padding"]
    x = rng.uniform(-1, 1, case["x_shape"]).astype(dt)
    w = rng.uniform(-1, 1, case["w_shape"]).astype(dt)
    b = rng.uniform(-1, 1, case["w_shape"][0]).astype(dt) if case["bias"] else None
    y_ref = ref.conv2d_forward(x, w, b, s, p)
    gy = rng.uniform(-1, 1, y_ref.shape).astype(dt)
    dev = [None if a is None else xp.asarray(a) for a in (x, w, b, gy)]
    y, cols = kernels.conv2d_forward(dev[0], dev[1], dev[2], s, p, keep_cols=True)
    tol = dict(rtol=1e-10, atol=1e-10) if dt == np.float64 else dict(rtol=1e-4, atol=1e-4 * 8)
    np.testing.assert_allclose(to_host(y), y_ref, **tol)
    # the plain forward gives the same y
    np.testing.assert_allclose(to_host(kernels.conv2d_forward(dev[0], dev[1], dev[2], s, p)),
                               to_host(y), rtol=0, atol=0)
    gw = kernels.conv2d_grad_weight(dev[0], dev[3], w.shape, s, p, cols=cols)
    gw_ref = ref.conv2d_grad_weight(x, gy, w.shape, s, p)
    assert to_host(gw).dtype == gw_ref.dtype and gw.shape == gw_ref.shape
    terms = max(1, y_ref.shape[0] * y_ref.shape[2] * y_ref.shape[3])
    if dt == np.float32:
        tol = dict(rtol=1e-4, atol=1e-4 * np.sqrt(terms))
    np.testing.assert_allclose(to_host(gw), gw_ref, **tol)


@SETTINGS
@given(case=conv_case())
def test_grad_weight_from_kept_cols_matches_reference(device, case):
    check_case(device, case)


@SETTINGS
@given(case=conv_case())
def test_reference_kept_cols_match_its_own_grad_weight(case):
    check_case("reference", case)


@pytest.mark.parametrize("shape", [(8, 1, 32, 12), (4, 6, 16, 9)])  # per-image / whole-batch
def test_benchmark_like_layers(device, shape):
    N, C, O, H = shape
    check_case(device, dict(x_shape=(N, C, H, H), w_shape=(O, C, 3, 3), stride=(1, 1),
                            padding=(0, 0), dtype=np.float32, bias=True, seed=1))


def test_wrong_cols_are_refused(device):
    kernels = mg.Device(device).kernels
    xp = mg.Device(device).xp
    x = xp.zeros((2, 3, 6, 6), np.float32)
    w = xp.zeros((4, 3, 3, 3), np.float32)
    gy = xp.zeros((2, 4, 4, 4), np.float32)
    _, cols = kernels.conv2d_forward(x, w, None, (1, 1), (0, 0), keep_cols=True)
    other = xp.zeros((2, 3, 7, 7), np.float32)  # another input: other columns
    _, wrong = kernels.conv2d_forward(other, w, None, (1, 1), (0, 0), keep_cols=True)
    if cols is None:
        # This backend keeps no columns (the CPU's implicit GEMM builds none); an array passed
        # as cols is checked all the same.
        assert wrong is None
        wrong = xp.zeros((3, 5), np.float32)
    else:
        with pytest.raises(ValueError, match=r"conv2d_grad_weight: cols"):
            kernels.conv2d_grad_weight(x, gy, w.shape, (1, 1), (0, 0),
                                       cols=cols.astype(np.float64))
    with pytest.raises(ValueError, match=r"conv2d_grad_weight: cols .* are not the columns"):
        kernels.conv2d_grad_weight(x, gy, w.shape, (1, 1), (0, 0), cols=wrong)
    with pytest.raises(TypeError, match=r"conv2d_grad_weight: cols must be the array"):
        kernels.conv2d_grad_weight(x, gy, w.shape, (1, 1), (0, 0), cols=[1, 2])


def test_conv_op_keeps_cols_only_for_the_weight_gradient_and_frees_them(monkeypatch):
    from minigrad.ops.conv import Conv2d

    # The op's logic, on kernels that do keep their columns (the reference's; the CPU's
    # implicit GEMM keeps none): the forward's columns reach the weight gradient.
    from minigrad.autograd import Context
    from minigrad.backend import interface

    seen = []

    def grad_weight(x, gy, w_shape, stride, padding, *, cols=None):
        seen.append(cols)
        return ref.conv2d_grad_weight(x, gy, w_shape, stride, padding, cols=cols)

    table = interface.build_table("cpu", {"conv2d_grad_weight": grad_weight}, source="test")
    monkeypatch.setattr(Context, "kernels", property(lambda ctx: table))
    x = mg.randn(2, 3, 6, 6)
    w = mg.randn(4, 3, 3, 3, requires_grad=True)
    y = mg.nn.functional.conv2d(x, w)
    ctx = y.grad_fn.ctx
    assert ctx.kept is not None  # w needs its gradient: the columns are kept
    kept = ctx.kept
    y.sum().backward()
    assert len(seen) == 1 and seen[0] is kept  # ... and used by the weight gradient
    assert ctx.kept is None  # freed with the graph
    np.testing.assert_allclose(
        w.grad.numpy(), ref.conv2d_grad_weight(x.numpy(), np.ones((2, 4, 4, 4), np.float32),
                                               w.shape, (1, 1), (0, 0)), rtol=1e-5, atol=1e-4)
    with mg.no_grad():
        assert mg.nn.functional.conv2d(x, w).grad_fn is None
    xg = mg.randn(2, 3, 6, 6, requires_grad=True)
    y2 = Conv2d.apply(xg, w.detach(), None, stride=(1, 1), padding=(0, 0))
    assert y2.grad_fn.ctx.kept is None  # no weight gradient wanted: nothing kept
