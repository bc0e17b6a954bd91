"""Module mechanics: registration, traversal, modes, zero_grad, to(), repr, containers."""

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)
        self.bn = nn.BatchNorm2d(2)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(8, 3))
        self.scale = nn.Parameter(mg.ones(1))
        self.register_buffer("steps", mg.zeros(1))
        self.not_registered = [nn.Linear(1, 1)]

    def forward(self, x):
        return self.head(self.bn(self.conv(x))) * self.scale


def test_registration_and_traversal_order():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["scale", "conv.weight", "conv.bias", "bn.weight", "bn.bias",
                     "head.1.weight", "head.1.bias"]
    assert [n for n, _ in net.named_children()] == ["conv", "bn", "head"]
    assert [type(m).__name__ for m in net.modules()] == [
        "Net", "Conv2d", "BatchNorm2d", "Sequential", "Flatten", "Linear"]
    assert [n for n, _ in net.named_buffers()] == [
        "steps", "bn.running_mean", "bn.running_var", "bn.num_batches_tracked"]
    assert all(isinstance(p, nn.Parameter) and p.requires_grad and p.is_leaf
               for p in net.parameters())


def test_shared_parameter_listed_once_and_reassignment():
    lin = nn.Linear(2, 2)
    seq = nn.Sequential(lin, nn.ReLU(), lin)
    assert len(list(seq.parameters())) == 2
    m = nn.Module()
    m.w = nn.Parameter(mg.zeros(2))
    m.w = None  # a registered parameter may be set to None
    assert list(m.parameters()) == []
    with pytest.raises(TypeError, match="Parameter or None"):
        m.w = mg.zeros(2)
    del m.w
    m.w = mg.zeros(2)  # now a plain attribute
    assert list(m.parameters()) == []


def test_train_eval_and_zero_grad():
    net = Net()
    net.eval()
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    net(mg.randn(2, 1, 4, 4)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_to_dtype_keeps_identity_and_casts_floats_only():
    net = Net()
    params = list(net.parameters())
    out = net.to(mg.float64)
    assert out is net
    assert [id(p) for p in net.parameters()] == [id(p) for p in params]
    assert all(p.dtype == np.float64 for p in net.parameters())
    assert net.bn.running_mean.dtype == np.float64
    assert net.bn.num_batches_tracked.dtype == np.int64
    y = net(mg.randn(2, 1, 4, 4, dtype=mg.float64))
    assert y.dtype == np.float64
    net.float()
    assert net.conv.weight.dtype == np.float32


def test_repr_like_pytorch():
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(36, 10, bias=False))
    assert repr(model) == (
        "Sequential(\n"
        "  (0): Conv2d(1, 4, kernel_size=(3, 3), stride=(1, 1))\n"
        "  (1): ReLU()\n"
        "  (2): MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)\n"
        "  (3): Flatten(start_dim=1, end_dim=-1)\n"
        "  (4): Linear(in_features=36, out_features=10, bias=False)\n"
        ")"
    )
    assert repr(nn.Parameter(mg.zeros(2))).startswith("Parameter containing:\ntensor(")


def test_containers():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    layers.append(nn.ReLU())
    assert len(layers) == 4 and isinstance(layers[-1], nn.ReLU)
    owner = nn.Module()
    owner.layers = layers
    assert len(list(owner.parameters())) == 6
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    assert isinstance(seq[1], nn.ReLU) and len(seq[:2]) == 2
    x = mg.randn(4, 2)
    np.testing.assert_allclose(seq(x).detach().numpy(),
                               seq[2](seq[1](seq[0](x))).detach().numpy())
    with pytest.raises(IndexError):
        seq[3]


def test_module_errors():
    class Bad(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(mg.zeros(1))

    with pytest.raises(AttributeError, match="before Module.__init__"):
        Bad()
    with pytest.raises(NotImplementedError):
        nn.Module()(1)
    with pytest.raises(KeyError):
        nn.Module().register_buffer("a.b", mg.zeros(1))
    with pytest.raises(AttributeError, match="no attribute 'missing'"):
        nn.Linear(1, 1).missing
