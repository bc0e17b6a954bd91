"""nn.utils.clip_grad_norm_ / clip_grad_value_ (and get_total_norm, clip_grads_with_norm_):
returned norms and clipped gradients equal PyTorch's for every norm type, small and large
max_norm, float32 and float64, parameters without grads, non-finite norms."""

import math

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn

torch = pytest.importorskip("torch")

G = [np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]]), np.array([3.0, -4.0]),
     np.array([[[0.1]], [[-0.2]]])]


def _params(lib, grads, dtype, device="cpu"):
    ps = []
    for g in grads:
        if lib is mg:
            p = nn.Parameter(mg.zeros(g.shape, dtype=dtype, device=device))
            p.grad = mg.tensor(g.astype(dtype), device=device)
        else:
            p = torch.nn.Parameter(torch.zeros(g.shape, dtype=getattr(torch, np.dtype(dtype).name)))
            p.grad = torch.tensor(g.astype(dtype))
        ps.append(p)
    return ps


def _grads(ps):
    return [p.grad.cpu().numpy() if isinstance(p, mg.Tensor) else p.grad.numpy()
            for p in ps if p.grad is not None]


@pytest.mark.parametrize("norm_type", [2.0, 1, 3.5, 0.5, math.inf, -math.inf, 0])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_clip_grad_norm_matches_torch(norm_type, max_norm, dtype):
    ours, theirs = _params(mg, G, dtype), _params(torch, G, dtype)
    ours.append(nn.Parameter(mg.ones(2, dtype=dtype)))  # no grad: skipped
    theirs.append(torch.nn.Parameter(torch.ones(2, dtype=getattr(torch, np.dtype(dtype).name))))
    n = nn.utils.clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    tn = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    assert isinstance(n, mg.Tensor) and n.shape == () and n.dtype == dtype
    rtol = 1e-13 if dtype == np.float64 else 1e-6
    np.testing.assert_allclose(n.item(), tn.item(), rtol=rtol)
    for a, b in zip(_grads(ours), _grads(theirs), strict=True):
        np.testing.assert_allclose(a, b, rtol=rtol)
    if max_norm == 0.5 and norm_type not in (0, -math.inf):
        assert not np.allclose(_grads(ours)[0], G[0])  # clipping happened


def test_clip_grad_norm_single_tensor_generator_and_empty():
    p = nn.Parameter(mg.zeros(3, dtype=mg.float64))
    p.grad = mg.tensor([3.0, 4.0, 0.0], dtype=mg.float64)
    assert nn.utils.clip_grad_norm_(p, mg.tensor(1.0)).item() == pytest.approx(5.0)
    np.testing.assert_allclose(p.grad.numpy(), np.array([3, 4, 0]) / (5 + 1e-6), rtol=1e-14)
    mg.manual_seed(0)
    net = nn.Linear(3, 2)
    total = nn.utils.clip_grad_norm_(net.parameters(), 1.0)  # no grads yet
    t_total = torch.nn.utils.clip_grad_norm_(torch.nn.Linear(3, 2).parameters(), 1.0)
    assert total.item() == t_total.item() == 0.0
    assert total.dtype == mg.float32


def test_nonfinite_norm():
    for lib, utils in ((mg, nn.utils), (torch, torch.nn.utils)):
        ps = _params(lib, [np.array([1.0, np.inf]), np.array([2.0])], np.float64)
        with pytest.raises(RuntimeError, match="non-finite"):
            utils.clip_grad_norm_(ps, 1.0, error_if_nonfinite=True)
        total = utils.clip_grad_norm_(ps, 1.0)  # scaled by the infinite norm anyway
        assert math.isinf(total.item())
        if lib is mg:
            ours = _grads(ps)
        else:
            for a, b in zip(ours, _grads(ps), strict=True):
                np.testing.assert_array_equal(a, b)


def test_get_total_norm_and_clip_with_norm():
    ours, theirs = _params(mg, G, np.float64), _params(torch, G, np.float64)
    n = nn.utils.get_total_norm([p.grad for p in ours], 3.0)
    tn = torch.nn.utils.get_total_norm([p.grad for p in theirs], 3.0)
    np.testing.assert_allclose(n.item(), tn.item(), rtol=1e-14)
    nn.utils.clip_grads_with_norm_(ours, 1.0, n)
    torch.nn.utils.clip_grads_with_norm_(theirs, 1.0, tn)
    for a, b in zip(_grads(ours), _grads(theirs), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-14)


@pytest.mark.parametrize("clip", [0.3, 1.0, 10.0])
def test_clip_grad_value_matches_torch(clip):
    ours, theirs = _params(mg, G, np.float64), _params(torch, G, np.float64)
    assert nn.utils.clip_grad_value_(ours, clip) is None
    torch.nn.utils.clip_grad_value_(theirs, clip)
    for a, b in zip(_grads(ours), _grads(theirs), strict=True):
        np.testing.assert_array_equal(a, b)


def test_bad_arguments():
    p = nn.Parameter(mg.zeros(2))
    p.grad = mg.ones(2)
    with pytest.raises(TypeError, match="clip_grad_norm_"):
        nn.utils.clip_grad_norm_(p, "big")
    with pytest.raises(TypeError, match="clip_grad_norm_"):
        nn.utils.clip_grad_norm_([p, 3], 1.0)
    with pytest.raises(TypeError, match="clip_grad_value_"):
        nn.utils.clip_grad_value_(p, None)


def test_clip_on_device_matches_cpu(device):
    for norm_type in (2.0, math.inf):
        on_dev = _params(mg, G, np.float32, device)
        on_cpu = _params(mg, G, np.float32)
        n = nn.utils.clip_grad_norm_(on_dev, 1.0, norm_type=norm_type)
        n_cpu = nn.utils.clip_grad_norm_(on_cpu, 1.0, norm_type=norm_type)
        assert n.device == device and all(p.grad.device == device for p in on_dev)
        np.testing.assert_allclose(n.cpu().item(), n_cpu.item(), rtol=1e-6)
        for a, b in zip(_grads(on_dev), _grads(on_cpu), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-6)
    on_dev = _params(mg, G, np.float32, device)
    nn.utils.clip_grad_value_(on_dev, 0.4)
    np.testing.assert_allclose(_grads(on_dev)[0], np.clip(G[0], -0.4, 0.4).astype(np.float32))
