"""Localisation: when a composite function fails, each recorded op is gradchecked alone on
the inputs it received, in forward order, and the first wrong one is named with its call
site (file:line) and its worst entry."""

import inspect

import numpy as np
import pytest

import minigrad as mg
from minigrad.ops.elementwise import Tanh


class Cube(mg.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 3.5 * x * x * g  # planted: should be 3 x^2


def twenty_ops(x, w):
    h = x @ w                        # 1 MatMul
    h = h + 0.5                      # 2 Add
    h = h.tanh()                     # 3 Tanh
    h = h * x[:, :3]                 # 4 GetItem, 5 Mul
    h = h.exp()                      # 6 Exp
    h = h - h.sum(dim=1, keepdim=True)    # 7 Sum, 8 Sub
    h = h.sigmoid()                  # 9 Sigmoid
    h = h.sin()                      # 10 Sin
    h = h.T                          # 11 Permute
    h = h.reshape(-1)                # 12 Reshape
    h = Cube.apply(h)  # the planted bug, op 13
    h = h.cos()                      # 14 Cos
    h = h * 2.0                      # 15 Mul
    h = h.exp()                      # 16 Exp
    h = h.log()                      # 17 Log
    h = h.reshape(3, 2)              # 18 Reshape
    h = h.sum(dim=0)                 # 19 Sum
    return h.neg()                   # 20 Neg


def _line_of(fn, text):
    lines, first = inspect.getsourcelines(fn)
    return first + next(n for n, line in enumerate(lines) if text in line)


def inputs(seed=0):
    rng = np.random.default_rng(seed)
    return (mg.tensor(rng.uniform(-1, 1, (2, 4)), requires_grad=True),
            mg.tensor(rng.uniform(-1, 1, (4, 3)), requires_grad=True))


def test_planted_wrong_backward_in_a_20_op_composite_is_named_by_op_and_line():
    with pytest.raises(mg.GradcheckError) as info:
        mg.gradcheck(twenty_ops, inputs())
    message = str(info.value)
    line = _line_of(twenty_ops, "Cube.apply(h)")
    assert (f"first wrong backward: op 13 of 20 in forward order, Cube (CubeBackward), called at "
            f"tests/test_gradcheck_localize.py:{line}: `h = Cube.apply(h)  # the planted bug, op 13`"
            in message), message
    report = mg.gradcheck_report(twenty_ops, inputs())
    node = report.localized
    assert (node.op, node.node, node.position, node.n_ops, node.line) == ("Cube", "CubeBackward", 12,
                                                                          20, line)
    assert node.file.endswith("test_gradcheck_localize.py")
    # Its worst entry is a true Jacobian entry of Cube alone: analytical = 3.5/3 numerical.
    assert node.worst.analytical == pytest.approx(3.5 / 3 * node.worst.numerical, rel=1e-6)
    assert report.to_dict()["localized"]["op"] == "Cube"


def test_a_wrong_builtin_backward_is_named(monkeypatch):
    def wrong_tanh_backward(ctx, gy):
        (y,) = ctx.saved_outputs
        return gy * (1 - y * y) * 1.1

    def wrong_tanh_backward_arrays(ctx, gy):  # the raw-array twin the first-order check runs
        (y,) = ctx.saved_output_arrays
        return gy * (1 - y * y) * 1.1

    monkeypatch.setattr(Tanh, "backward", staticmethod(wrong_tanh_backward))
    monkeypatch.setattr(Tanh, "backward_arrays", staticmethod(wrong_tanh_backward_arrays))
    report = mg.gradcheck_report(twenty_ops, inputs())
    assert not report.passed
    assert (report.localized.node, report.localized.position) == ("TanhBackward", 2)
    assert report.localized.line == _line_of(twenty_ops, "h = h.tanh()")


def test_localize_alone_finds_a_masked_wrong_backward():
    # The wrong backward's gradient is multiplied by zero downstream: the whole fn passes,
    # but the op itself is wrong.
    fn = lambda x: Cube.apply(x) * 0.0 + x  # noqa: E731
    x = mg.tensor([0.5, -1.5], dtype=mg.float64, requires_grad=True)
    assert mg.gradcheck(fn, (x,))
    node = mg.gradcheck_localize(fn, (x,))
    assert node is not None and node.op == "Cube" and node.position == 0
    with pytest.raises(mg.GradcheckError, match="first wrong backward: op 1 of 3"):
        mg.gradcheck(fn, (x,), localize=True)


def test_localize_returns_none_when_every_op_is_right():
    assert mg.gradcheck_localize(lambda x, w: (x @ w).tanh().sum(), inputs()) is None


def test_localize_false_skips_it():
    report = mg.gradcheck_report(twenty_ops, inputs(), localize=False)
    assert not report.passed and report.localized is None
