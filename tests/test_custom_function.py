"""mg.Function: PyTorch-style custom ops (forward on Tensors under no_grad, save_for_backward,
needs_input_grad, None grads, multiple inputs/outputs, version checks, double backward)."""

import numpy as np
import pytest

import minigrad as mg


def f64(shape, seed=0, requires_grad=True):
    data = np.random.default_rng(seed).standard_normal(shape)
    return mg.tensor(data, requires_grad=requires_grad)


class Cube(mg.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x * x

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return 3 * x * x * grad


def test_cube_from_api_md():
    x = mg.tensor([1.0, -2.0, 0.5], dtype=mg.float64, requires_grad=True)
    y = Cube.apply(x)
    assert y.grad_fn.name == "CubeBackward"
    assert y.requires_grad and not y.is_leaf
    np.testing.assert_allclose(y.detach().numpy(), [1.0, -8.0, 0.125])
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 12.0, 0.75])
    assert mg.gradcheck(Cube.apply, (f64((3, 4)),))
    assert mg.gradgradcheck(Cube.apply, (f64((3, 4)),))


def test_forward_runs_without_recording_and_gets_tensors():
    seen = {}

    class Probe(mg.Function):
        @staticmethod
        def forward(ctx, x, scale):
            seen["grad_enabled"] = mg.is_grad_enabled()
            seen["type"] = type(x)
            seen["scale"] = scale
            y = x * scale
            seen["inner_requires_grad"] = y.requires_grad
            return y

        @staticmethod
        def backward(ctx, g):
            return g * 2, None

    x = f64(3)
    y = Probe.apply(x, 2.0)
    assert seen == {"grad_enabled": False, "type": mg.Tensor, "scale": 2.0,
                    "inner_requires_grad": False}
    assert mg.is_grad_enabled()
    assert y.requires_grad
    with mg.no_grad():
        assert not Probe.apply(x, 2.0).requires_grad


class WrongAt201(mg.Function):
    """Right forward (a * b), backward wrong for b at element (2, 0, 1) only."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        gb = (g * a).clone()
        with mg.no_grad():
            gb[2, 0, 1] = gb[2, 0, 1] * 1.5  # still linear in g
        return g * b, gb


def test_wrong_backward_is_caught_and_localised():
    a, b = f64((3, 2, 4), 1), f64((3, 2, 4), 2)
    with pytest.raises(mg.GradcheckError) as info:
        mg.gradcheck(WrongAt201.apply, (a, b))
    message = str(info.value)
    assert "WrongAt201" in message
    assert "input 1" in message and "input 0" not in message
    assert "(3, 2, 4)" in message and "float64" in message
    assert "element (2, 0, 1)" in message
    assert "analytical" in message and "numerical" in message
    assert "1 of 576 Jacobian entries fail, in 1 of 24 elements" in message
    assert isinstance(info.value, RuntimeError)
    assert mg.gradcheck(WrongAt201.apply, (a, b), raise_exception=False) is False
    # The same Function passes when only input 0 is checked.
    assert mg.gradcheck(WrongAt201.apply, (a, b.detach()))


class SumAndProduct(mg.Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a + b, a * b

    @staticmethod
    def backward(ctx, g_sum, g_prod):
        a, b = ctx.saved_tensors
        return g_sum + g_prod * b, g_sum + g_prod * a


def test_multi_input_multi_output_function():
    a, b = f64(4, 3), f64(4, 4)
    s, p = SumAndProduct.apply(a, b)
    assert s.grad_fn is p.grad_fn
    assert s.grad_fn.name == "SumAndProductBackward"
    (s.sum() + (p * 2).sum()).backward()
    np.testing.assert_allclose(a.grad.numpy(), 1 + 2 * b.detach().numpy())
    np.testing.assert_allclose(b.grad.numpy(), 1 + 2 * a.detach().numpy())
    assert mg.gradcheck(SumAndProduct.apply, (a, b))
    assert mg.gradgradcheck(SumAndProduct.apply, (a, b))


def test_only_one_output_used_gets_zero_grad_for_the_other():
    a, b = f64(3, 5), f64(3, 6)
    s, p = SumAndProduct.apply(a, b)
    p.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), b.detach().numpy())


class ExpSavingOutput(mg.Function):
    @staticmethod
    def forward(ctx, x):
        y = x.exp()
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * y


def test_save_for_backward_of_an_output():
    x = f64(5, 7)
    y = ExpSavingOutput.apply(x)
    (y * 2).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.exp(x.detach().numpy()))
    assert mg.gradcheck(ExpSavingOutput.apply, (f64((2, 3), 8),))
    # The saved output comes back attached to the node, so the backward is differentiable.
    assert mg.gradgradcheck(ExpSavingOutput.apply, (f64((2, 3), 8),))
    x = mg.tensor(0.3, dtype=mg.float64, requires_grad=True)
    (g,) = mg.grad(ExpSavingOutput.apply(x), x, create_graph=True)
    (g2,) = mg.grad(g, x)
    assert g2.item() == pytest.approx(np.exp(0.3))


def test_modifying_an_output_saved_for_backward_raises():
    x = f64(3, 9)
    y = ExpSavingOutput.apply(x)
    y.mul_(2)
    with pytest.raises(RuntimeError, match="in-place"):
        y.sum().backward()


def test_modifying_an_input_saved_for_backward_raises():
    x = f64(3, 10)
    h = x * 1
    y = Cube.apply(h)
    h += 1
    with pytest.raises(RuntimeError, match="in-place") as info:
        y.sum().backward()
    assert "CubeBackward" in str(info.value)


def test_needs_input_grad_and_none_gradients():
    record = {}

    class Scale(mg.Function):
        @staticmethod
        def forward(ctx, x, w, factor):
            ctx.save_for_backward(x, w)
            ctx.factor = factor
            record["needs"] = ctx.needs_input_grad
            return x * w * factor

        @staticmethod
        def backward(ctx, g):
            x, w = ctx.saved_tensors
            gx = g * w * ctx.factor if ctx.needs_input_grad[0] else None
            gw = g * x * ctx.factor if ctx.needs_input_grad[1] else None
            record["calls"] = record.get("calls", 0) + 1
            return gx, gw, None

    x, w = f64(3, 11), f64(3, 12, requires_grad=False)
    Scale.apply(x, w, 3.0).sum().backward()
    assert record["needs"] == (True, False, False)
    np.testing.assert_allclose(x.grad.numpy(), 3.0 * w.numpy())
    assert w.grad is None
    x2, w2 = f64(3, 13, requires_grad=False), f64(3, 14)
    Scale.apply(x2, w2, 2.0).sum().backward()
    assert record["needs"] == (False, True, False)
    np.testing.assert_allclose(w2.grad.numpy(), 2.0 * x2.numpy())
    assert mg.gradcheck(lambda x, w: Scale.apply(x, w, 0.5), (f64(4, 15), f64(4, 16)))


class FirstOnly(mg.Function):
    """Returns a gradient for `a` only, though forward takes (a, b)."""

    @staticmethod
    def forward(ctx, a, b):
        return a * 2 + b * 0

    @staticmethod
    def backward(ctx, g):
        return g * 2


def test_returning_too_few_gradients_raises_naming_the_function_and_counts():
    # As PyTorch: silently treating the missing one as None would leave b.grad None forever.
    a, b = f64(2, 17), f64(2, 18)
    with pytest.raises(RuntimeError, match=r"FirstOnlyBackward returned an incorrect number of "
                                           r"gradients \(expected 2, got 1\)"):
        FirstOnly.apply(a, b).sum().backward()
    assert a.grad is None and b.grad is None
    # Also when only `a` requires grad: the count is per forward argument, not per needed grad.
    with pytest.raises(RuntimeError, match=r"expected 2, got 1"):
        FirstOnly.apply(f64(2, 17), f64(2, 18, requires_grad=False)).sum().backward()


def test_returning_too_many_gradients_raises_unless_the_extras_are_none():
    class Extra(mg.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2, g

    with pytest.raises(RuntimeError, match=r"ExtraBackward .*\(expected 1, got 2\)"):
        Extra.apply(f64(3, 20)).sum().backward()

    class TrailingNone(mg.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2, None  # extra Nones are accepted, as PyTorch does

    x = f64(3, 21)
    TrailingNone.apply(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0, 2.0])


def test_explicit_none_gradients_are_fine():
    class FirstOnlyExplicit(FirstOnly):
        @staticmethod
        def backward(ctx, g):
            return g * 2, None

    a, b = f64(2, 17), f64(2, 18)
    FirstOnlyExplicit.apply(a, b).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), [2.0, 2.0])
    assert b.grad is None


def test_wrong_gradient_count_is_reported_by_gradcheck():
    with pytest.raises(mg.GradcheckError, match=r"incorrect number of gradients"):
        mg.gradcheck(FirstOnly.apply, (f64(2, 17), f64(2, 18)))


def test_backward_returning_wrong_shape_raises_clearly():
    class BadShape(mg.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return (g * 2).sum(0)

    x = f64((3, 2), 19)
    with pytest.raises(RuntimeError, match=r"BadShapeBackward.*shape \(2,\).*\(3, 2\)"):
        BadShape.apply(x).sum().backward()


def test_forward_must_return_tensors():
    class ReturnsArray(mg.Function):
        @staticmethod
        def forward(ctx, x):
            return x.detach().numpy() * 2

        @staticmethod
        def backward(ctx, g):
            return g

    with pytest.raises(TypeError, match="ReturnsArray"):
        ReturnsArray.apply(f64(2, 20))


def test_function_backward_made_of_differentiable_ops_passes_gradgradcheck():
    class SoftplusF(mg.Function):
        """y = log(1 + exp(x));  dy/dx = sigmoid(x)."""

        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return (x.exp() + 1).log()

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * x.sigmoid()

    x = f64((2, 3), 21)
    assert mg.gradcheck(SoftplusF.apply, (x,))
    assert mg.gradgradcheck(SoftplusF.apply, (x,))


def test_function_composes_with_builtin_ops_and_matches_torch():
    torch = pytest.importorskip("torch")
    xn = np.random.default_rng(22).standard_normal((3, 4))
    x = mg.tensor(xn, requires_grad=True)
    (Cube.apply(x.tanh()) @ x.T).sum().backward()
    xt = torch.tensor(xn, requires_grad=True)
    ((xt.tanh() ** 3) @ xt.T).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-10, atol=1e-12)
