"""Tensor.register_hook: hooks see the gradient, may replace it, run once per backward with
the summed gradient, are removable; against PyTorch where it defines the numbers."""

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch")

X0 = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])


@pytest.mark.parametrize("where", ["leaf", "nonleaf"])
def test_hook_replacing_the_gradient_matches_torch(where):
    results = []
    for lib in (mg, torch):
        x = lib.tensor(X0.copy(), requires_grad=True)
        seen = []
        y = x * x
        target = x if where == "leaf" else y

        def hook(g, seen=seen):
            seen.append(g.detach().numpy().copy())
            return g * 2 + 1

        target.register_hook(hook)
        z = (y * 3 + y.exp()).sum() + (x * 2).sum()
        z.backward()
        results.append((x.grad.numpy().copy(), seen))
    (mg_grad, mg_seen), (t_grad, t_seen) = results
    np.testing.assert_allclose(mg_grad, t_grad, rtol=1e-12)
    # Once per backward, with the gradient summed over all uses of the tensor.
    assert len(mg_seen) == len(t_seen) == 1
    np.testing.assert_allclose(mg_seen[0], t_seen[0], rtol=1e-12)


def test_hooks_run_in_order_and_chain():
    x = mg.tensor(X0.copy(), requires_grad=True)
    calls = []
    x.register_hook(lambda g: calls.append("a") or g * 10)
    x.register_hook(lambda g: calls.append(("b", float(g.sum()))))
    (x * 1.0).sum().backward()
    assert calls == ["a", ("b", 60.0)]
    np.testing.assert_array_equal(x.grad.numpy(), np.full(X0.shape, 10.0))


def test_handle_remove_and_context_manager():
    x = mg.tensor(X0.copy(), requires_grad=True)
    handle = x.register_hook(lambda g: g * 0)
    (x * 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), 0)
    handle.remove()
    handle.remove()  # idempotent
    x.grad = None
    (x * 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), 2)
    x.grad = None
    y = x * 3
    with y.register_hook(lambda g: g * 5):
        y.sum().backward(retain_graph=True)
    np.testing.assert_array_equal(x.grad.numpy(), 15)
    x.grad = None
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), 3)


def test_nonleaf_hook_fires_after_the_tensor_is_gone_and_feeds_retain_grad():
    x = mg.tensor(X0.copy(), requires_grad=True)
    y = x * 2
    y.register_hook(lambda g: g * 7)
    z = y.sum()
    del y
    z.backward()
    np.testing.assert_array_equal(x.grad.numpy(), 14)
    # retain_grad sees the hooked gradient, as PyTorch 2 (retain_grad runs last).
    for lib in (mg, torch):
        a = lib.tensor(X0.copy(), requires_grad=True)
        b = a * 2
        b.retain_grad()
        b.register_hook(lambda g: g * 3)
        (b * b).sum().backward()
        if lib is mg:
            mg_b = b.grad.numpy().copy()
        else:
            np.testing.assert_allclose(mg_b, b.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("where", ["leaf", "nonleaf"])
def test_hooks_apply_to_autograd_grad(where):
    outs = []
    for lib, grad in ((mg, mg.grad), (torch, torch.autograd.grad)):
        x = lib.tensor(X0.copy(), requires_grad=True)
        y = x.exp()
        (x if where == "leaf" else y).register_hook(lambda g: g * 4)
        z = (y * y).sum()
        (g,) = grad(z, x if where == "leaf" else y)
        outs.append(g.detach().numpy())
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-12)


def test_hook_with_create_graph_is_differentiable():
    outs = []
    for lib, grad in ((mg, mg.grad), (torch, torch.autograd.grad)):
        x = lib.tensor(X0.copy(), requires_grad=True)
        y = x * x
        y.register_hook(lambda g: g * y)
        (g,) = grad((y * 3).sum(), x, create_graph=True)
        (gg,) = grad(g.sum(), x)
        outs.append((g.detach().numpy(), gg.numpy()))
    np.testing.assert_allclose(outs[0][0], outs[1][0], rtol=1e-12)
    np.testing.assert_allclose(outs[0][1], outs[1][1], rtol=1e-12)


def test_hook_errors():
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        mg.tensor([1.0]).register_hook(lambda g: g)
    x = mg.tensor(X0.copy(), requires_grad=True)
    with pytest.raises(TypeError, match="callable"):
        x.register_hook(3)
    x.register_hook(lambda g: g.sum())
    with pytest.raises(RuntimeError, match="shape"):
        (x * 2).sum().backward()
    y = mg.tensor(X0.copy(), requires_grad=True)
    y.register_hook(lambda g: "nope")
    with pytest.raises(TypeError, match="must return a Tensor or None"):
        (y * 2).sum().backward()


def test_hook_on_the_cuda_device(device):
    x = mg.tensor(X0.copy(), requires_grad=True, device=device)
    y = x * x
    y.register_hook(lambda g: g * 2)
    x.register_hook(lambda g: g + 1)
    y.sum().backward()
    assert x.grad.device == device
    np.testing.assert_allclose(x.grad.cpu().numpy(), 4 * X0 + 1, rtol=1e-12)
