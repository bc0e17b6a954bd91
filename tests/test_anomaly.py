"""mg.detect_anomaly: the first NaN/Inf gradient raises, naming the op and the user's
forward-call line; off, nothing is recorded and gradients come out as computed."""

import os
import sys
import threading
import warnings

import numpy as np
import pytest

import minigrad as mg
from minigrad import autograd

THIS_FILE = os.path.abspath(__file__)


def _line():
    """The caller's line number (so a test can say which line made an op)."""
    return sys._getframe(1).f_lineno


def _assert_points_here(message, line):
    last_frame = message.rstrip("\n").split("\n")[-2].strip()  # the innermost 'File ...' line
    assert last_frame.startswith(f'File "{THIS_FILE}", line {line},'), message


@pytest.fixture(autouse=True)
def _quiet_numpy():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # 0/0 and 1/0 in forward/backward
        yield


def test_sqrt_at_zero_names_the_op_and_the_forward_line():
    x = mg.tensor([0.0, 4.0], requires_grad=True)
    with mg.detect_anomaly():
        y = mg.sqrt(x) * 3.0; line = _line()  # noqa: E702
        loss = y.sum()
        with pytest.raises(RuntimeError) as info:
            loss.backward()
    message = str(info.value)
    # The first non-finite gradient is Sqrt's (d sqrt/dx = inf at 0), not Mul's or Sum's.
    assert "SqrtBackward" in message and "MulBackward" not in message
    assert "Inf" in message
    assert f"{THIS_FILE}" in message and f"line {line}" in message
    _assert_points_here(message, line)
    assert x.grad is None  # raised before the bad gradient was accumulated


def test_nan_from_zero_over_zero():
    a = mg.tensor([0.0, 1.0], requires_grad=True)
    b = mg.tensor([0.0, 2.0], requires_grad=True)
    with mg.detect_anomaly():
        c = a / b; line = _line()  # noqa: E702
        with pytest.raises(RuntimeError, match="DivBackward") as info:
            c.sum().backward()
    _assert_points_here(str(info.value), line)


def test_nan_made_in_forward_reaching_backward_through_mul():
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    nan = mg.tensor([0.0, 1.0]) / mg.tensor([0.0, 1.0])  # a constant holding NaN
    with mg.detect_anomaly():
        loss = (w * nan).sum(); line = _line()  # noqa: E702
        with pytest.raises(RuntimeError) as info:
            loss.backward()
    message = str(info.value)
    assert "MulBackward" in message and "NaN" in message and "Inf" not in message
    _assert_points_here(message, line)


def test_method_call_and_helper_frames_are_user_code():
    def helper(t):
        return t.sqrt()  # called through Tensor.sqrt (a minigrad frame, dropped)

    x = mg.tensor([0.0], requires_grad=True)
    with mg.detect_anomaly():
        y = helper(x); line = _line()  # noqa: E702
    trace = y.grad_fn.trace
    assert trace is not None
    package = os.path.dirname(os.path.abspath(mg.__file__)) + os.sep
    assert not any(os.path.abspath(f.filename).startswith(package) for f in trace)
    # Innermost frame: the helper's line in this file; the one before: the call of helper.
    assert trace[-1].filename == THIS_FILE and trace[-1].name == "helper"
    assert (trace[-2].filename, trace[-2].lineno) == (THIS_FILE, line)
    with pytest.raises(RuntimeError, match="SqrtBackward"):
        with mg.detect_anomaly():
            y.backward()


def test_only_package_frames_are_filtered():
    package = os.path.dirname(os.path.abspath(mg.__file__))
    sibling = package + "_user" + os.sep + "script.py"  # shares the package's path prefix
    inside = os.path.join(package, "not_really_here.py")
    code = "def make(x):\n    return mg.sqrt(x)\n"
    env = {"mg": mg}
    exec(compile(code, sibling, "exec"), env)
    env_inside = {"mg": mg}
    exec(compile(code, inside, "exec"), env_inside)
    x = mg.tensor([1.0], requires_grad=True)
    with mg.detect_anomaly():
        from_sibling = env["make"](x).grad_fn.trace
        from_inside = env_inside["make"](x).grad_fn.trace
    assert from_sibling[-1].filename == sibling and from_sibling[-1].lineno == 2
    assert all(f.filename != inside for f in from_inside)
    assert from_inside[-1].filename == THIS_FILE


def test_without_the_context_no_error_and_no_trace():
    x = mg.tensor([0.0, 4.0], requires_grad=True)
    y = mg.sqrt(x)
    assert y.grad_fn.trace is None
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.array([np.inf, 0.25], np.float32))

    a = mg.tensor([0.0], requires_grad=True)
    b = mg.tensor([0.0], requires_grad=True)
    c = a / b
    assert c.grad_fn.trace is None
    c.sum().backward()
    assert not np.isfinite(a.grad.numpy()).any() and np.isnan(b.grad.numpy()).all()


def test_no_stack_is_recorded_when_off(monkeypatch):
    calls = []

    def spy(*args, **kwargs):
        calls.append(1)
        return []

    monkeypatch.setattr(autograd, "_user_stack", spy)
    monkeypatch.setattr(autograd.traceback, "extract_stack", spy)
    monkeypatch.setattr(autograd.traceback, "StackSummary", None)  # would fail if used
    x = mg.randn(3, 3, requires_grad=True)
    loss = ((x @ x).tanh() * 2).sum()
    loss.backward()
    assert calls == [] and loss.grad_fn.trace is None
    with mg.detect_anomaly():
        x * 2
    assert calls == [1]


def test_decorator_forms_and_state_restored():
    @mg.detect_anomaly()
    def with_parens(x):
        assert mg.is_anomaly_enabled()
        y = mg.sqrt(x)
        y.sum().backward()

    @mg.detect_anomaly
    def bare(x):
        assert mg.is_anomaly_enabled()
        return mg.sqrt(x)

    assert not mg.is_anomaly_enabled()
    with pytest.raises(RuntimeError, match="SqrtBackward"):
        with_parens(mg.tensor([0.0], requires_grad=True))
    assert not mg.is_anomaly_enabled()  # restored after the exception
    assert bare(mg.tensor([1.0], requires_grad=True)).grad_fn.trace is not None
    assert not mg.is_anomaly_enabled()
    with mg.detect_anomaly():
        with mg.detect_anomaly():
            pass
        assert mg.is_anomaly_enabled()
    assert not mg.is_anomaly_enabled()


def test_graph_built_outside_checked_inside():
    x = mg.tensor([0.0], requires_grad=True)
    y = mg.sqrt(x)  # no trace recorded
    with mg.detect_anomaly():
        with pytest.raises(RuntimeError, match="(?s)SqrtBackward.*outside detect_anomaly"):
            y.backward()


def test_finite_gradients_pass_and_match():
    x = mg.tensor([1.0, 4.0], requires_grad=True)
    with mg.detect_anomaly():
        mg.sqrt(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.5, 0.25])


def test_create_graph_backward_under_anomaly():
    x = mg.tensor([0.0, 1.0], requires_grad=True)
    with mg.detect_anomaly():
        (g,) = mg.grad((x * x * x).sum(), x, create_graph=True)
        assert g.grad_fn.trace is not None  # gradient nodes are traced too
        g.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.0, 6.0])


def test_anomaly_mode_is_thread_local():
    seen = []

    def worker():
        seen.append(mg.is_anomaly_enabled())
        seen.append(mg.sqrt(mg.tensor([1.0], requires_grad=True)).grad_fn.trace)

    with mg.detect_anomaly():
        t = threading.Thread(target=worker)
        t.start()
        t.join()
    assert seen == [False, None]
