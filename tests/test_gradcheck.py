"""mg.gradcheck / mg.gradgradcheck themselves: pass on correct ops, fail (with a message of
true Jacobian entries) on wrong ones, fast mode, the report object, and the side checks
(shape, dtype, reentrancy, linearity). Kinks, diagnosis, localisation and precision have
their own files (test_gradcheck_kinks.py, ..._diagnosis.py, ..._localize.py, ..._precision.py)."""

import json
import re
import warnings

import numpy as np
import pytest

import minigrad as mg
from minigrad.gradcheck import jacobians


def f64(shape, seed=0, requires_grad=True):
    return mg.tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=requires_grad)


def make_function(name, backward, forward=lambda ctx, x: x * x * 1.0, save=True):
    def fwd(ctx, x):
        if save:
            ctx.save_for_backward(x)
        return forward(ctx, x)

    return type(name, (mg.Function,), {"forward": staticmethod(fwd), "backward": staticmethod(backward)})


def _square_backward_wrong_at(index, factor=1.5):
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        gx = (2 * x * g).clone()
        with mg.no_grad():
            gx[index] = gx[index] * factor
        return gx

    return backward


# ---------------------------------------------------------------------------- passing


@pytest.mark.parametrize("fn, shapes", [
    (lambda a: (a * a).tanh(), [(3, 4)]),
    (lambda a, b: a @ b, [(2, 3), (3, 4)]),
    (lambda a, b: (a * b).sum(dim=1), [(3, 4), (1, 4)]),
    (lambda a: a.softmax(dim=-1), [(2, 5)]),
    (lambda a: (a.exp(), a.sin()), [(3,)]),  # two outputs
    (lambda a: a.sum(), [()]),  # 0-d input
    (lambda a: a.T[1:], [(3, 2)]),  # view output aliasing the input
])
def test_returns_true_on_correct_ops(fn, shapes):
    inputs = tuple(f64(s, k) for k, s in enumerate(shapes))
    assert mg.gradcheck(fn, inputs) is True


def test_accepts_a_single_tensor_and_non_tensor_arguments():
    x = f64((2, 3))
    assert mg.gradcheck(lambda t: t.exp(), x)
    assert mg.gradcheck(lambda t, k: t * k, (x, 3.0))
    # Tensors that don't require grad are constants, not checked.
    c = f64((2, 3), 1, requires_grad=False)
    assert mg.gradcheck(lambda t, c: t * c, (x, c))


def test_does_not_modify_the_inputs_or_touch_their_grad():
    x = f64((2, 3))
    before = x.detach().numpy().copy()
    mg.gradcheck(lambda t: t * t, (x,))
    np.testing.assert_array_equal(x.detach().numpy(), before)
    assert x.grad is None


def test_handles_expanded_stride_zero_inputs():
    base = f64((1, 3))
    x = base.detach().expand(4, 3).requires_grad_()
    assert mg.gradcheck(lambda t: (t * t).sum(dim=0), (x,))


# ---------------------------------------------------------------------------- failing + message


def test_error_message_names_everything_needed():
    wrong = make_function("WrongSquare", _square_backward_wrong_at((2, 0, 1)))
    x = f64((3, 2, 4), 3)
    with pytest.raises(mg.GradcheckError) as info:
        mg.gradcheck(wrong.apply, (x,), atol=1e-5, rtol=1e-3)
    message = str(info.value)
    assert message.startswith("WrongSquare: gradient w.r.t. input 0 (shape (3, 2, 4), float64)")
    assert "worst entry d output 0[2, 0, 1] / d input 0[2, 0, 1] (element (2, 0, 1) of input 0)" \
        in message
    match = re.search(r"analytical (\S+), numerical (\S+), abs err (\S+), rel err (\S+)", message)
    assert match, message
    analytical, numerical, abs_err, rel_err = (float(v.rstrip(",")) for v in match.groups())
    # True Jacobian entries: d(x^2)/dx = 2x at that element, and 1.5 times it.
    x_val = x.detach().numpy()[2, 0, 1]
    assert numerical == pytest.approx(2 * x_val, rel=1e-5)
    assert analytical == pytest.approx(1.5 * 2 * x_val, rel=1e-5)
    assert abs_err == pytest.approx(abs(analytical - numerical), rel=1e-2)
    assert rel_err == pytest.approx(0.5, rel=1e-2)
    assert "atol 1e-05" in message and "rtol 0.001" in message
    assert "1 of 576 Jacobian entries fail, in 1 of 24 elements" in message
    assert "step h = 6.06e-06 * max(1, |x|) (relative)" in message
    assert "full Jacobian" in message
    assert isinstance(info.value, RuntimeError)


def test_message_shows_true_jacobian_values_not_projections():
    """Issue 10's example: x^3 with a backward 1.5x too large at x = 2: analytical 18,
    numerical 12 (not values multiplied by a random grad-output weight)."""

    class WrongCube(mg.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            gx = (3 * x * x * g).clone()
            with mg.no_grad():
                gx[2] = gx[2] * 1.5
            return gx

    mg.manual_seed(0)
    x = mg.tensor([0.5, -1.0, 2.0], dtype=mg.float64, requires_grad=True)
    for fast in (False, True):
        with pytest.raises(mg.GradcheckError) as info:
            mg.gradcheck(WrongCube.apply, (x,), fast_mode=fast)
        assert "d output 0[2] / d input 0[2]" in str(info.value)
        assert "analytical 18, numerical 12," in str(info.value), str(info.value)


def test_abs_with_a_wrong_backward_reports_minus_one_against_zero():
    class WrongAbs(mg.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x.abs()

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * (x > 0).to(g.dtype)  # forgets the -1 for x < 0

    x = mg.tensor([1.5, -6.0, 2.0], dtype=mg.float64, requires_grad=True)
    report = mg.gradcheck_report(WrongAbs.apply, (x,))
    worst = report.failures[0]
    assert (worst.input_index, worst.output_index) == ((1,), (1,))
    assert worst.analytical == 0.0 and worst.numerical == pytest.approx(-1.0, abs=1e-8)


def test_message_counts_and_lists_other_failing_entries():
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        gx = (2 * x * g).clone()
        with mg.no_grad():
            gx[1] = gx[1] * 2.0  # a whole row wrong
        return gx

    wrong = make_function("RowWrong", backward)
    with pytest.raises(mg.GradcheckError) as info:
        mg.gradcheck(wrong.apply, (f64((3, 4), 4),))
    message = str(info.value)
    assert "4 of 144 Jacobian entries fail, in 4 of 12 elements" in message
    assert re.search(r"worst entry d output 0\[1, (\d)\] / d input 0\[1, \1\]", message)
    assert re.search(r"also d output 0\[1, \d\] / d input 0\[1, \d\](, d output 0\[1, \d\] / "
                     r"d input 0\[1, \d\]){2}", message)


def test_names_the_input_and_output_position():
    def fn(a, b):
        return a * 2, WrongB.apply(b)

    WrongB = make_function("WrongB", _square_backward_wrong_at((0,), 3.0))
    with pytest.raises(mg.GradcheckError) as info:
        mg.gradcheck(fn, (f64(3, 5), f64(2, 6)), name="pair")
    message = str(info.value)
    assert "pair: gradient w.r.t. input 1 (shape (2,), float64) is wrong" in message
    assert "d output 1[0] / d input 1[0] (element (0,) of input 1)" in message
    assert "input 0" not in message.split("\n")[0]


def test_raise_exception_false_returns_false_and_the_report_has_the_findings():
    wrong = make_function("Wrong", _square_backward_wrong_at((0,)))
    assert mg.gradcheck(wrong.apply, (f64(3),), raise_exception=False) is False
    report = mg.gradcheck_report(wrong.apply, (f64(3),))
    assert report.passed is False and not report
    assert "element (0,)" in report.message
    assert report.max_abs_err > 0 and report.max_rel_err == pytest.approx(0.5, rel=1e-3)
    (errors,) = report.inputs
    assert (errors.input, errors.shape, errors.failing, errors.entries) == (0, (3,), 1, 9)
    assert report.failures[0].input_index == (0,) and report.diagnosis.kind == "wrong gradient"
    data = json.loads(json.dumps(report.to_dict()))
    assert data["passed"] is False and data["failures"][0]["input_index"] == [0]
    assert data["diagnosis"]["kind"] == "wrong gradient"
    assert data["inputs"][0]["max_rel_err"] == pytest.approx(0.5, rel=1e-3)
    good = mg.gradcheck_report(lambda t: t * t, (f64(3),))
    assert good.passed and good.max_abs_err < 1e-7 and good.failures == [] and good.kinks == []


def test_fast_mode_passes_correct_ops_and_fails_with_true_entries():
    a, b = f64((4, 5), 1), f64((5, 3), 2)
    assert mg.gradcheck(lambda p, q: (p @ q).tanh(), (a, b), fast_mode=True)
    wrong = make_function("Wrong", _square_backward_wrong_at((1, 2)))
    report = mg.gradcheck_report(wrong.apply, (f64((3, 4), 3),), fast_mode=True)
    assert not report.passed and report.mode.startswith("fast mode")
    worst = report.failures[0]
    assert worst.input_index == (1, 2) and worst.analytical == pytest.approx(1.5 * worst.numerical)


def test_tolerances_are_respected():
    slightly = make_function("Slightly", _square_backward_wrong_at((0,), 1 + 1e-4))
    x = f64(3, 7)
    assert mg.gradcheck(slightly.apply, (x,))  # 1e-4 relative < rtol 1e-3
    with pytest.raises(mg.GradcheckError):
        mg.gradcheck(slightly.apply, (x,), atol=1e-9, rtol=1e-6)


def test_nan_gradient_fails():
    nan = make_function("NanGrad", lambda ctx, g: g * float("nan"))
    with pytest.raises(mg.GradcheckError, match="input 0"):
        mg.gradcheck(nan.apply, (f64(2),))


# ---------------------------------------------------------------------------- preconditions


def test_warns_on_float32_inputs():
    x32 = mg.randn(3, requires_grad=True)
    x64 = f64(3)
    with pytest.warns(UserWarning, match="float32"):
        assert mg.gradcheck(lambda a, b: a * b, (x32, x64))


def test_raises_value_error_when_nothing_to_check():
    with pytest.raises(ValueError, match="no input"):
        mg.gradcheck(lambda t: t * 2, (f64(3, requires_grad=False),))
    with pytest.raises(ValueError):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mg.gradcheck(lambda t: t * 2, (mg.randn(3, requires_grad=True),))
    with pytest.raises(ValueError):
        mg.gradgradcheck(lambda t: t * 2, (f64(3, requires_grad=False),))


# ---------------------------------------------------------------------------- side checks


def test_detects_gradient_with_wrong_shape():
    bad = make_function("BadShape", lambda ctx, g: (g * 2).sum(0, keepdim=True), save=False)
    x = f64((3, 2))
    with pytest.raises(mg.GradcheckError, match=r"BadShape.*shape \(1, 2\).*\(3, 2\)"):
        mg.gradcheck(bad.apply, (x,))
    assert mg.gradcheck(bad.apply, (x,), raise_exception=False) is False


def test_detects_gradient_with_wrong_dtype():
    bad = make_function("BadDtype", lambda ctx, g: (g * 2).float(), forward=lambda ctx, x: x * 2,
                        save=False)
    with pytest.raises(mg.GradcheckError, match=r"BadDtype.*float32.*float64"):
        mg.gradcheck(bad.apply, (f64((3, 2)),))
    # Outside gradcheck the engine casts the gradient to the input's dtype, as PyTorch does.
    x = f64((3, 2))
    bad.apply(x).sum().backward()
    assert x.grad.dtype == mg.float64


def test_detects_non_reentrant_backward():
    calls = [0]

    def backward(ctx, g):
        calls[0] += 1
        return g * 2 + calls[0] * 1e-3

    flaky = make_function("Flaky", backward, forward=lambda ctx, x: x * 2, save=False)
    with pytest.raises(mg.GradcheckError, match="reentrant"):
        mg.gradcheck(flaky.apply, (f64((2, 2)),))


def test_detects_backward_not_linear_in_grad_output():
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 2 * x * g * g.abs()

    nonlinear = make_function("NonLinear", backward)
    with pytest.raises(mg.GradcheckError, match="linear"):
        mg.gradcheck(nonlinear.apply, (f64((2, 3)),))


# ---------------------------------------------------------------------------- gradgradcheck


def test_gradgradcheck_passes_on_correct_second_derivatives():
    assert mg.gradgradcheck(lambda a, b: (a @ b).sin(), (f64((2, 3), 1), f64((3, 2), 2)))
    assert mg.gradgradcheck(lambda a: a.softmax(dim=1), (f64((2, 4), 3),))


def test_gradgradcheck_catches_non_differentiable_backward():
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        xd = x.detach()  # right value, but the second derivative is lost
        return 3 * xd * xd * g

    shortcut = make_function("DetachedCube", backward, forward=lambda ctx, x: x * x * x)
    x = f64((2, 3), 4)
    assert mg.gradcheck(shortcut.apply, (x,))
    with pytest.raises(mg.GradcheckError) as info:
        mg.gradgradcheck(shortcut.apply, (x,))
    assert "DetachedCube (2nd order)" in str(info.value)
    assert "input 0" in str(info.value)
    assert mg.gradgradcheck(shortcut.apply, (x,), raise_exception=False) is False


def test_gradgradcheck_with_given_grad_outputs():
    x = f64(3, 5)
    v = f64(3, 6, requires_grad=False)
    assert mg.gradgradcheck(lambda t: t ** 3, (x,), grad_outputs=v)


# ---------------------------------------------------------------------------- jacobians


def test_full_jacobians_match():
    a = f64((2, 3), 7)
    b = f64((3,), 8)
    checked, analytical, numerical = jacobians(lambda a, b: (a * b).tanh(), (a, b))
    assert checked == [0, 1]
    assert analytical[0].shape == (6, 6) and analytical[1].shape == (6, 3)
    for an, nu in zip(analytical, numerical):
        np.testing.assert_allclose(an, nu, rtol=1e-5, atol=1e-7)
    # Elementwise in a: the Jacobian w.r.t. a is diagonal.
    assert np.count_nonzero(analytical[0] - np.diag(np.diag(analytical[0]))) == 0


def test_nan_gradient_reports_infinite_error_without_warnings():
    nan = make_function("NanGrad", lambda ctx, g: g * float("nan"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        report = mg.gradcheck_report(nan.apply, (f64(2),), side_checks=False)
    assert not report.passed
    assert report.max_abs_err == np.inf
