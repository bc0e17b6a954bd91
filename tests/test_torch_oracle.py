"""PyTorch as the oracle: forward values and gradients (float64, random grad_output) of every
registry op with a torch equivalent, plus dtype promotion and dtype inference."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

import minigrad as mg  # noqa: E402
from minigrad.testing import catalogue  # noqa: E402
from minigrad.testing.opspecs import ALL_SPECS  # noqa: E402

WITH_TORCH = [s for s in ALL_SPECS if s.torch_fn is not None]


@pytest.mark.parametrize("entry", [e for e in catalogue.ENTRIES if e.torch], ids=lambda e: e.name)
def test_torch_counterpart_exists(entry):
    """Each entry's torch path names something in the installed torch (resolved here, not at
    collection, so one wrong path fails one test)."""
    assert catalogue.resolve(entry.torch) is not None


@pytest.mark.parametrize("entry", [e for e in catalogue.ENTRIES if e.nn], ids=lambda e: e.name)
def test_torch_has_the_nn_modules(entry):
    for path in catalogue.nn_paths(entry):
        name = path.rsplit(".", 1)[1]
        assert isinstance(getattr(torch.nn, name, None), type), f"torch.nn.{name}"


def as_numpy(x):
    return x.detach().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


@pytest.mark.parametrize("spec", WITH_TORCH, ids=lambda s: s.name)
@given(seed=st.integers(0, 2**32 - 1), pick=st.integers(0, 2**16))
def test_forward_and_gradients_match_torch(spec, seed, pick):
    rng = np.random.default_rng(seed)
    cases = spec.shape_cases(rng)
    arrays = [np.asarray(a, dtype=np.float64) for a in spec.sample(rng, cases[pick % len(cases)])]

    ours_in = [mg.tensor(a, requires_grad=spec.differentiable) for a in arrays]
    theirs_in = [torch.tensor(a, requires_grad=spec.differentiable) for a in arrays]
    ours = spec.fn(*ours_in)
    theirs = spec.torch_fn(*theirs_in)
    assert ours.shape == tuple(theirs.shape)
    expected = as_numpy(theirs)
    got = ours.detach().numpy()
    assert got.dtype == expected.dtype, f"{spec.name}: dtype {got.dtype} vs torch {expected.dtype}"
    if expected.dtype.kind in "biu":
        np.testing.assert_array_equal(got, expected)
        return
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)
    if not spec.differentiable:
        return

    v = rng.standard_normal(ours.shape)
    ours.backward(mg.tensor(v))
    theirs.backward(torch.tensor(v))
    for i, (x, tx) in enumerate(zip(ours_in, theirs_in)):
        if tx.grad is None:
            assert x.grad is None or not np.any(x.grad.numpy()), f"input {i}: torch has no grad"
            continue
        assert x.grad is not None, f"{spec.name}: input {i} got no gradient"
        assert x.grad.shape == tuple(tx.grad.shape)
        assert x.grad.dtype == mg.float64
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-9, atol=1e-11,
                                   err_msg=f"{spec.name}: gradient of input {i}")


# ---------------------------------------------------------------------------- dtypes

def _pair(value, dtype):
    """The same operand for both libraries: a Python scalar, or a tensor of `dtype` (0-d if
    `value` is a scalar wrapped as ("0d", v))."""
    if isinstance(value, tuple) and value[0] == "0d":
        return mg.tensor(np.asarray(value[1], dtype=dtype)), torch.tensor(value[1], dtype=getattr(torch, dtype))
    if isinstance(value, (int, float, bool)):
        return value, value
    arr = np.asarray(value, dtype=dtype)
    return mg.tensor(arr), torch.tensor(arr)


PROMOTION_CASES = [
    # (left value, left dtype, right value, right dtype)
    ([1.0, 2.0], "float32", 2.5, None),                  # float32 tensor * python float
    ([1, 2], "int64", 2.5, None),                        # int tensor * python float -> float32
    ([1, 2], "int64", 3, None),                          # int tensor * python int -> int64
    ([1, 2], "int64", ("0d", 1.5), "float64"),           # int64 tensor with 0-d float64 tensor
    ([1.0, 2.0], "float32", ("0d", 1.5), "float64"),     # 0-d does not promote float32 up
    ([1.0, 2.0], "float32", [1.0, 2.0], "float64"),      # 1-d float32 with 1-d float64 -> float64
    ([1, 2], "int64", [1.0, 2.0], "float32"),            # int64 with float32 -> float32
    ([True, True], "bool", 2, None),                      # bool with python int -> int64
    ([True, False], "bool", [1.5, 2.0], "float64"),
    ([1.0, 2.0], "float64", True, None),
]


@pytest.mark.parametrize("op", ["add", "mul", "sub", "div"])
@pytest.mark.parametrize("left,ldt,right,rdt", PROMOTION_CASES)
def test_dtype_promotion_matches_torch(op, left, ldt, right, rdt):
    a, ta = _pair(left, ldt)
    b, tb = _pair(right, rdt)
    if op == "sub" and (ldt == "bool" or isinstance(right, bool)):
        pytest.skip("torch rejects subtraction of bools")
    ours = getattr(mg, op)(a, b)
    theirs = getattr(torch, op)(ta, tb)
    assert str(ours.dtype) == str(theirs.dtype).replace("torch.", ""), (op, left, right)
    np.testing.assert_allclose(ours.numpy().astype(np.float64), theirs.numpy().astype(np.float64),
                               rtol=1e-6)
    # Reflected form with a Python scalar on the left agrees too.
    if not isinstance(b, mg.Tensor):
        sym = {"add": "__radd__", "mul": "__rmul__", "sub": "__rsub__", "div": "__rtruediv__"}[op]
        assert str(getattr(a, sym)(b).dtype) == str(getattr(ta, sym)(tb).dtype).replace("torch.", "")


def test_comparison_gives_bool():
    x = mg.tensor([1.0, 2.0])
    assert (x > 1).dtype == mg.bool
    assert (x == mg.tensor([1.0, 3.0])).dtype == mg.bool


def test_dtype_inference_matches_torch():
    cases = [[1, 2], [1.0], [[1, 2], [3, 4]], 3, 2.5, True, [True, False]]
    for data in cases:
        assert str(mg.tensor(data).dtype) == str(torch.tensor(data).dtype).replace("torch.", ""), data
    assert mg.tensor([1, 2]).dtype == mg.int64
    assert mg.tensor([1.0]).dtype == mg.float32
    assert mg.tensor(np.array([1.0, 2.0])).dtype == mg.float64
    assert mg.from_numpy(np.array([1.0], dtype=np.float32)).dtype == mg.float32
    assert mg.arange(5).dtype == mg.int64
    assert mg.arange(5.0).dtype == mg.float32
    assert mg.zeros(2).dtype == mg.float32
    assert mg.tensor([1, 2], dtype=mg.float64).dtype == mg.float64


def test_reductions_and_activations_keep_float32():
    x = mg.tensor([[1.0, -2.0], [3.0, 4.0]])
    for y in (x.sum(), x.mean(), x.var(), x.softmax(0), x.relu(), x.exp(), x @ x, x ** 2):
        assert y.dtype == mg.float32


def test_mean_of_int_tensor_is_rejected_like_torch():
    x = mg.tensor([1, 2, 3])
    with pytest.raises((TypeError, RuntimeError)):
        x.mean()
    with pytest.raises(RuntimeError):
        torch.tensor([1, 2, 3]).mean()
