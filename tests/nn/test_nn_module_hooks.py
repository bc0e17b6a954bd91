"""Module.register_forward_hook / register_forward_pre_hook: call order, replacing inputs and
outputs, with_kwargs, prepend, removable handles; compared call by call with PyTorch."""

import copy

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn

torch = pytest.importorskip("torch")

W = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])
B = np.array([0.1, -0.2])
X = np.array([[1.0, 2.0, -1.0], [0.5, 0.0, 3.0]])


def _linear(lib):
    layer = (nn if lib is mg else torch.nn).Linear(3, 2).double()
    layer.load_state_dict({"weight": lib.tensor(W.copy()), "bias": lib.tensor(B.copy())})
    return layer


def _run(lib):
    """A Sequential(Linear, Tanh) with a pre-hook that scales the input, a hook that records
    outputs and one that shifts them; returns the output, the gradient and the call log."""
    seq = (nn if lib is mg else torch.nn).Sequential(
        _linear(lib), (nn if lib is mg else torch.nn).Tanh())
    log = []
    lin = seq[0]
    lin.register_forward_pre_hook(lambda m, args: (args[0] * 2,))
    lin.register_forward_hook(lambda m, args, out: log.append(("lin", out.detach().numpy().copy())))
    seq.register_forward_hook(lambda m, args, out: out + 1)
    seq[1].register_forward_pre_hook(lambda m, args: log.append(("tanh-in", args[0].detach().numpy().copy())))
    x = lib.tensor(X.copy(), requires_grad=True)
    y = seq(x)
    (y * y).sum().backward()
    return y.detach().numpy(), x.grad.numpy(), log


def test_hooks_change_values_like_torch():
    (y, g, log), (ty, tg, tlog) = _run(mg), _run(torch)
    np.testing.assert_allclose(y, ty, rtol=1e-12)
    np.testing.assert_allclose(g, tg, rtol=1e-10, atol=1e-13)  # tanh near saturation
    assert [k for k, _ in log] == [k for k, _ in tlog] == ["lin", "tanh-in"]
    for (_, a), (_, b) in zip(log, tlog, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_pre_hook_single_value_and_with_kwargs():
    for lib in (mg, torch):
        lin = _linear(lib)
        lin.register_forward_pre_hook(lambda m, args: args[0] + 1)  # not a tuple: wrapped
        lin.register_forward_pre_hook(lambda m, args, kwargs: ((args[0] * 3,), kwargs),
                                      with_kwargs=True)
        seen = []
        lin.register_forward_hook(lambda m, args, kwargs, out: seen.append((kwargs, out.shape)),
                                  with_kwargs=True)
        out = lin(lib.tensor(X.copy()))
        if lib is mg:
            ours, ours_seen = out.detach().numpy(), seen
        else:
            np.testing.assert_allclose(ours, out.detach().numpy(), rtol=1e-12)
            assert ours_seen[0][0] == seen[0][0] == {}
            assert tuple(ours_seen[0][1]) == tuple(seen[0][1])


def test_order_prepend_and_remove():
    calls = []
    lin = nn.Linear(3, 2)
    h1 = lin.register_forward_hook(lambda m, a, o: calls.append(1))
    lin.register_forward_hook(lambda m, a, o: calls.append(2))
    h3 = lin.register_forward_hook(lambda m, a, o: calls.append(3), prepend=True)
    lin.register_forward_pre_hook(lambda m, a: calls.append("pre"))
    lin(mg.randn(1, 3))
    assert calls == ["pre", 3, 1, 2]
    calls.clear()
    h1.remove()
    h3.remove()
    lin(mg.randn(1, 3))
    assert calls == ["pre", 2]
    assert lin.register_forward_hook(lambda m, a, o: None).remove() is None


def test_hooks_can_capture_activations_for_every_submodule():
    mg.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    acts = {}
    handles = [m.register_forward_hook(lambda m, a, o, name=name: acts.__setitem__(name, o.shape))
               for name, m in net.named_modules() if name]
    net(mg.randn(5, 3))
    assert acts == {"0": (5, 4), "1": (5, 4), "2": (5, 2)}
    for h in handles:
        h.remove()
    acts.clear()
    net(mg.randn(5, 3))
    assert acts == {}
    # deepcopy of a module keeps working with hooks registered
    net[0].register_forward_hook(lambda m, a, o: o * 0)
    clone = copy.deepcopy(net)
    assert clone(mg.randn(1, 3)).shape == (1, 2)


def test_bad_hooks():
    lin = nn.Linear(3, 2)
    with pytest.raises(TypeError, match="callable"):
        lin.register_forward_hook("not a function")
    lin.register_forward_pre_hook(lambda m, a, k: 5, with_kwargs=True)
    with pytest.raises(RuntimeError, match="with_kwargs=True"):
        lin(mg.randn(1, 3))
