"""The fused elementwise kernels (kernels/cpu/elementwise.pyx via backend/cpu.py relu,
relu_backward) against the numpy reference, bit for bit: awkward shapes (empty, 0-d, size 1,
sizes around the serial/threaded threshold), special values (NaN, +-inf, -0.0, subnormals),
both float dtypes and layouts the kernel does not take (transposed, strided: the reference
serves those)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("minigrad.kernels.cpu.elementwise")

import minigrad as mg  # noqa: E402
from minigrad.backend import cpu  # noqa: E402
from minigrad.backend import reference as ref  # noqa: E402
from minigrad.kernels.cpu import elementwise as ext  # noqa: E402

SETTINGS = settings(deadline=None, max_examples=60, derandomize=True)
SPECIAL = [np.nan, np.inf, -np.inf, -0.0, 0.0, 1e-40, -1e-40, 1.0, -1.0]


def same_bits(actual, expected):
    assert actual.dtype == expected.dtype and actual.shape == expected.shape
    np.testing.assert_array_equal(actual, expected)  # NaN == NaN here
    np.testing.assert_array_equal(np.signbit(actual), np.signbit(expected))  # -0.0 vs +0.0


@st.composite
def arrays(draw):
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    shape = draw(st.sampled_from([(), (0,), (1,), (3, 0, 2), (7,), (5, 13), (2, 3, 4, 5),
                                  (65535,), (65536,), (65537,), (3, 40001)]))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    values = rng.standard_normal(shape)
    if values.size and draw(st.booleans()):  # sprinkle special values
        idx = rng.integers(0, values.size, size=min(values.size, 50))
        values.reshape(-1)[idx] = rng.choice(SPECIAL, size=idx.size)
    a = values.astype(dtype)
    how = draw(st.sampled_from(["contiguous", "contiguous", "transposed", "strided"]))
    if how == "transposed" and a.ndim >= 2:
        a = np.ascontiguousarray(a.swapaxes(-1, -2)).swapaxes(-1, -2)
    elif how == "strided" and a.ndim >= 1:
        wide = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), dtype)
        wide[..., ::2] = a
        a = wide[..., ::2]
    return a


@SETTINGS
@given(x=arrays())
def test_relu_matches_reference(x):
    same_bits(cpu.relu(x), ref.relu(x))


@SETTINGS
@given(y=arrays(), seed=st.integers(0, 2**16), special=st.booleans())
def test_relu_backward_matches_reference(y, seed, special):
    rng = np.random.default_rng(seed)
    gy = rng.standard_normal(y.shape).astype(y.dtype)
    if special and gy.size:
        gy.reshape(-1)[rng.integers(0, gy.size, size=min(gy.size, 30))] = np.inf
    y = np.maximum(y, 0)  # relu outputs are what the backward gets (NaN kept)
    with np.errstate(invalid="ignore"):  # inf * 0 where y <= 0: NaN, as the product
        same_bits(cpu.relu_backward(y, gy), ref.relu_backward(y, gy))


def test_mixed_dtypes_and_shapes_fall_back_to_the_reference():
    y = np.array([1.0, -1.0, 0.5], np.float32)
    gy = np.array([2.0, 3.0, 4.0], np.float64)
    same_bits(cpu.relu_backward(y, gy), ref.relu_backward(y, gy))
    x = np.array([-2, 0, 3], np.int64)
    same_bits(cpu.relu(x), ref.relu(x))


def test_threaded_path_is_taken_and_agrees():
    x = np.random.default_rng(0).standard_normal(1 << 18).astype(np.float32)
    same_bits(cpu.relu(x), ref.relu(x))
    if ext.has_openmp() and ext.get_num_threads() > 1:
        assert ext.last_team_size() >= 1  # a region ran (its size is what OpenMP granted)


def test_kernel_refuses_different_lengths():
    with pytest.raises(ValueError, match=r"relu_backward: flat arrays of different lengths"):
        ext.relu_backward(np.zeros(3, np.float32), np.zeros(4, np.float32),
                          np.zeros(3, np.float32))
    with pytest.raises(ValueError, match=r"relu_forward: flat arrays of different lengths"):
        ext.relu_forward(np.zeros(3), np.zeros(2))


def test_relu_op_uses_the_kernels_and_keeps_gradients():
    x = mg.tensor(np.array([[-1.0, 2.0, 0.0], [3.0, -4.0, 5.0]], np.float32), requires_grad=True)
    y = mg.relu(x)
    np.testing.assert_array_equal(y.detach().numpy(), [[0, 2, 0], [3, 0, 5]])
    (y * mg.tensor(np.arange(6, dtype=np.float32).reshape(2, 3))).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 1, 0], [3, 0, 5]])
    # double backward through the fused backward: d/dgy of (gy * mask) is the mask
    x = mg.tensor(np.array([-1.0, 2.0, 3.0]), requires_grad=True)
    gy = mg.tensor(np.array([1.0, 1.0, 1.0]), requires_grad=True)
    (gx,) = mg.autograd.grad(mg.relu(x), x, grad_outputs=gy, create_graph=True)
    (g2,) = mg.autograd.grad(gx.sum(), gy)
    np.testing.assert_array_equal(g2.numpy(), [0.0, 1.0, 1.0])



def test_relu_backward_on_arrays_and_second_order_without_create_graph():
    """The engine's raw-array backward (backward_arrays) of Relu and of its ReluGrad."""
    x = mg.tensor(np.array([-1.0, 2.0, 3.0, -0.5], np.float32), requires_grad=True)
    mg.relu(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0, 1, 1, 0])
    x = mg.tensor(np.array([-1.0, 2.0, 3.0]), requires_grad=True)
    gy = mg.tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    (gx,) = mg.autograd.grad(mg.relu(x), x, grad_outputs=gy, create_graph=True)
    (gx * mg.tensor(np.array([5.0, 6.0, 7.0]))).sum().backward()  # second order, no graph
    np.testing.assert_array_equal(gy.grad.numpy(), [0.0, 6.0, 7.0])
