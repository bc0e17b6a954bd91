"""mg.inference_mode: a context manager and decorator like no_grad; nothing made inside is
tracked; grad mode comes back afterwards (also after an exception); inference_mode(False)
changes nothing. Checked against torch.inference_mode's observable behaviour."""

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("lib", ["mg", "torch"])
def test_tensors_made_inside_are_not_tracked(lib):
    lib = mg if lib == "mg" else torch
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    with lib.inference_mode():
        y = (x * 2).exp()
        assert not lib.is_grad_enabled()
        assert lib.is_inference_mode_enabled()
    assert lib.is_grad_enabled() and not lib.is_inference_mode_enabled()
    assert not y.requires_grad and y.grad_fn is None
    assert (x * 2).requires_grad


def test_decorator_forms_and_exceptions():
    x = mg.tensor([1.0, 2.0], requires_grad=True)

    @mg.inference_mode()
    def f(t):
        return t * 3

    @mg.inference_mode
    def g(t):
        return t * 3

    @mg.inference_mode(False)
    def h(t):
        return t * 3

    assert not f(x).requires_grad and not g(x).requires_grad
    assert h(x).requires_grad and h(x).grad_fn is not None
    assert f.__name__ == "f"
    with pytest.raises(ValueError):
        with mg.inference_mode():
            raise ValueError("boom")
    assert mg.is_grad_enabled() and not mg.is_inference_mode_enabled()
    with mg.no_grad():
        with mg.inference_mode(False):
            assert not mg.is_grad_enabled()  # False leaves the mode as it found it
        with mg.inference_mode():
            pass
        assert not mg.is_grad_enabled()


def test_same_values_as_torch_and_training_continues_after():
    w0 = np.array([[0.5, -1.0], [2.0, 0.25]])
    outs = []
    for lib in (mg, torch):
        w = lib.tensor(w0.copy(), requires_grad=True)
        x = lib.tensor(np.array([[1.0, 2.0], [3.0, -1.0]]))
        with lib.inference_mode():
            pred = (x @ w).tanh()
        loss = ((x @ w) ** 2).sum()
        loss.backward()
        outs.append((pred.numpy().copy(), w.grad.numpy().copy()))
    np.testing.assert_allclose(outs[0][0], outs[1][0], rtol=1e-12)
    np.testing.assert_allclose(outs[0][1], outs[1][1], rtol=1e-12)


def test_module_inference(device):
    mg.manual_seed(0)
    net = mg.nn.Linear(3, 2).to(device)
    with mg.inference_mode():
        y = net(mg.randn(4, 3, device=device))
    assert not y.requires_grad and y.device == device
