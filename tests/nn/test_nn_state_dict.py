"""state_dict / load_state_dict: round trips, strict errors naming the key, mg.save/mg.load."""

from collections import OrderedDict

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn


def make():
    return nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.Flatten(),
                         nn.Linear(8, 3))


def test_state_dict_keys_values_and_detached():
    model = make()
    sd = model.state_dict()
    assert isinstance(sd, OrderedDict)
    assert list(sd) == ["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean",
                        "1.running_var", "1.num_batches_tracked", "4.weight", "4.bias"]
    assert all(not t.requires_grad for t in sd.values())
    np.testing.assert_array_equal(sd["4.weight"].numpy(), model[4].weight.detach().numpy())


def test_round_trip_copies_in_place():
    mg.manual_seed(0)
    a, b = make(), make()
    a(mg.randn(4, 1, 4, 4))  # move a's BatchNorm buffers
    weight_before = b[0].weight
    result = b.load_state_dict(a.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert b[0].weight is weight_before
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values()):
        np.testing.assert_array_equal(va.numpy(), vb.numpy(), err_msg=k)
    x = mg.randn(3, 1, 4, 4)
    a.eval(), b.eval()
    np.testing.assert_array_equal(a(x).detach().numpy(), b(x).detach().numpy())


def test_numpy_values_and_dtype_cast():
    model = nn.Linear(2, 2).double()
    sd = {"weight": np.ones((2, 2), np.float32), "bias": np.arange(2.0)}
    model.load_state_dict(sd)
    assert model.weight.dtype == np.float64
    np.testing.assert_array_equal(model.weight.detach().numpy(), np.ones((2, 2)))


def test_strict_errors_name_the_key():
    model = nn.Linear(2, 2)
    sd = model.state_dict()
    missing = {"weight": sd["weight"]}
    with pytest.raises(RuntimeError, match='Missing key.*"bias"'):
        model.load_state_dict(missing)
    unexpected = dict(sd, extra=mg.zeros(1))
    with pytest.raises(RuntimeError, match='Unexpected key.*"extra"'):
        model.load_state_dict(unexpected)
    result = model.load_state_dict(unexpected, strict=False)
    assert result.unexpected_keys == ["extra"]
    result = model.load_state_dict(missing, strict=False)
    assert result.missing_keys == ["bias"]
    bad = dict(sd, weight=mg.zeros(3, 2))
    for strict in (True, False):
        with pytest.raises(RuntimeError, match=r"size mismatch for weight.*\(3, 2\).*\(2, 2\)"):
            model.load_state_dict(bad, strict=strict)


def test_failed_load_leaves_module_untouched():
    model = nn.Linear(2, 2)
    before = model.weight.detach().numpy().copy()
    with pytest.raises(RuntimeError):
        model.load_state_dict({"weight": mg.zeros(2, 2), "bias": mg.zeros(5)})
    np.testing.assert_array_equal(model.weight.detach().numpy(), before)


def test_save_load_file_round_trip(tmp_path):
    model = make()
    opt = mg.optim.Adam(model.parameters(), lr=0.01)
    model(mg.randn(2, 1, 4, 4)).sum().backward()
    opt.step()
    path = tmp_path / "ckpt.mg"
    mg.save({"model": model.state_dict(), "optimizer": opt.state_dict()}, path)
    loaded = mg.load(path)
    fresh = make()
    fresh.load_state_dict(loaded["model"])
    opt2 = mg.optim.Adam(fresh.parameters(), lr=0.5)
    opt2.load_state_dict(loaded["optimizer"])
    assert opt2.param_groups[0]["lr"] == 0.01
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), fresh.state_dict()[k].numpy())
