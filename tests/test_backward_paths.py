"""The two ways a node's backward runs: on raw arrays (`backward_arrays`, or `backward` on
wrapped arrays) when create_graph is off, and on Tensors when it is on. Both must give the
same gradients on every registered op, and each must really be the one that runs."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
from minigrad.autograd import Function, Op
from minigrad.ops import elementwise
from minigrad.testing.opspecs import ALL_SPECS
from minigrad.testing.strategies import LAYOUTS, with_layout

DIFFERENTIABLE = [s for s in ALL_SPECS if s.differentiable]


def draw_inputs(spec, data):
    """A sample of one of the spec's shape cases, in a drawn memory layout."""
    seed = data.draw(st.integers(0, 2**32 - 1), label="seed")
    rng = np.random.default_rng(seed)
    cases = spec.shape_cases(rng)
    case = cases[data.draw(st.integers(0, len(cases) - 1), label="case")]
    kind = data.draw(st.sampled_from(LAYOUTS if spec.noncontiguous else ("contiguous",)),
                     label="layout")
    arrays = spec.sample(rng, case)
    return [with_layout(np.asarray(a, dtype=np.float64), kind) for a in arrays], seed


def _outputs(out):
    return [o for o in (out if isinstance(out, tuple) else (out,)) if o.requires_grad]


@pytest.mark.parametrize("spec", DIFFERENTIABLE, ids=lambda s: s.name)
@given(data=st.data())
def test_array_backward_matches_tensor_backward(spec, data, device):
    """mg.grad without create_graph (arrays) == with create_graph (Tensors), every op."""
    arrays, seed = draw_inputs(spec, data)
    inputs = tuple(mg.from_numpy(a).to(device).requires_grad_() for a in arrays)
    outs = _outputs(spec.fn(*inputs))
    rng = np.random.default_rng(seed)
    upstream = [mg.from_numpy(rng.standard_normal(o.shape)).to(device) for o in outs]
    on_arrays = mg.grad(outs, inputs, upstream, retain_graph=True, allow_unused=True)
    on_tensors = mg.grad(outs, inputs, upstream, create_graph=True, allow_unused=True)
    for i, (a, t) in enumerate(zip(on_arrays, on_tensors)):
        assert (a is None) == (t is None), f"{spec.name}: input {i}"
        if a is None:
            continue
        assert isinstance(a, mg.Tensor) and a.device == t.device == inputs[i].device
        assert a.shape == t.shape == inputs[i].shape and a.dtype == t.dtype
        assert not a.requires_grad
        np.testing.assert_allclose(a.cpu().numpy(), t.detach().cpu().numpy(), rtol=1e-12,
                                   atol=1e-12, err_msg=f"{spec.name}: input {i}")


def _forbid(monkeypatch, cls, name):
    def refuse(ctx, *grads):
        raise AssertionError(f"{cls.__name__}.{name} ran")

    monkeypatch.setattr(cls, name, staticmethod(refuse))


def test_backward_without_create_graph_runs_backward_arrays(monkeypatch):
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x + x).sum()
    _forbid(monkeypatch, elementwise.Mul, "backward")
    _forbid(monkeypatch, elementwise.Add, "backward")
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 5.0])


def test_create_graph_runs_tensor_backward(monkeypatch):
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    _forbid(monkeypatch, elementwise.Mul, "backward_arrays")
    (g,) = mg.grad(y, x, create_graph=True)
    assert g.requires_grad
    monkeypatch.undo()  # (the second backward, without create_graph, may use arrays)
    (gg,) = mg.grad(g.sum(), x)
    np.testing.assert_allclose(gg.numpy(), [2.0, 2.0])


class _TensorOnlyOp(Op):
    """An Op with only a Tensor backward: the array path wraps and unwraps around it."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_inputs(0)
        return x * x

    @staticmethod
    def backward(ctx, gy):
        assert not mg.is_grad_enabled()
        assert isinstance(gy, mg.Tensor) and gy.device == ctx.device
        (x,) = ctx.saved_inputs
        return 2 * x * gy


def test_op_without_backward_arrays_gets_tensors():
    assert _TensorOnlyOp.backward_arrays is None
    x = mg.tensor([1.0, -3.0], requires_grad=True)
    _TensorOnlyOp.apply(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, -6.0])


class _BadType(Function):
    @staticmethod
    def forward(ctx, x):
        return x * 1

    @staticmethod
    def backward(ctx, gy):
        return gy.numpy()  # an array, not a Tensor


def test_function_returning_an_array_is_refused_on_both_paths():
    for create_graph in (False, True):
        x = mg.tensor([1.0], requires_grad=True)
        with pytest.raises(TypeError, match="_BadTypeBackward returned a ndarray for input 0"):
            mg.grad(_BadType.apply(x).sum(), x, create_graph=create_graph)


class _BadShape(Op):
    @staticmethod
    def forward(ctx, x):
        return x.copy()

    @staticmethod
    def backward(ctx, gy):
        return gy.sum()

    @staticmethod
    def backward_arrays(ctx, gy):
        return gy.sum(keepdims=True)


def test_wrong_gradient_shape_is_refused_on_both_paths():
    for create_graph in (False, True):
        x = mg.tensor([1.0, 2.0], requires_grad=True)
        with pytest.raises(mg.autograd.InvalidGradientError, match="expected \\(2,\\)"):
            mg.grad(_BadShape.apply(x).sum(), x, create_graph=create_graph)


def test_array_gradient_of_another_dtype_is_cast_or_refused_under_strict():
    class Widen(Op):
        @staticmethod
        def forward(ctx, x):
            return x.copy()

        @staticmethod
        def backward_arrays(ctx, gy):
            return gy.astype(np.float64)

    x = mg.tensor([1.0, 2.0], requires_grad=True)  # float32
    Widen.apply(x).sum().backward()
    assert x.grad.dtype == np.float32
    with mg.autograd.strict_gradients(), pytest.raises(mg.autograd.InvalidGradientError,
                                                        match="dtype float64"):
        Widen.apply(x).sum().backward()


def test_leaf_grad_never_aliases_a_gradient_passed_through():
    """Add passes gy through unchanged; the leaf's .grad must still be its own array."""
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    upstream = mg.tensor([5.0, 7.0])
    (x + 0).backward(upstream)
    assert not np.shares_memory(x.grad.numpy(), upstream.numpy())
    x.grad.numpy()[0] = 100.0
    np.testing.assert_allclose(upstream.numpy(), [5.0, 7.0])
