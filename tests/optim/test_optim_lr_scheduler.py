"""StepLR / CosineAnnealingLR / ExponentialLR: the lr sequences, against closed forms and
against PyTorch's schedulers step for step."""

import math

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn, optim
from minigrad.optim import lr_scheduler


def lrs(make_sched, steps=25, lr=0.1, groups=1):
    params = [{"params": [nn.Parameter(mg.ones(1))], "lr": lr * (i + 1)} for i in range(groups)]
    opt = optim.SGD(params, lr=lr)
    sched = make_sched(opt)
    out = []
    for _ in range(steps):
        out.append(sched.get_last_lr())
        opt.step()
        sched.step()
    return np.array(out)


def test_step_lr_closed_form():
    out = lrs(lambda o: lr_scheduler.StepLR(o, step_size=3, gamma=0.5), 10)[:, 0]
    np.testing.assert_allclose(out, [0.1 * 0.5 ** (e // 3) for e in range(10)])


def test_cosine_closed_form_within_period():
    out = lrs(lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=10, eta_min=0.01), 11)[:, 0]
    ref = [0.01 + 0.09 * (1 + math.cos(math.pi * e / 10)) / 2 for e in range(11)]
    np.testing.assert_allclose(out, ref, rtol=1e-12)


def test_scheduler_state_dict_round_trip():
    opt = optim.SGD([nn.Parameter(mg.ones(1))], lr=0.1)
    sched = lr_scheduler.CosineAnnealingLR(opt, T_max=5)
    for _ in range(3):
        sched.step()
    sd = sched.state_dict()
    assert "optimizer" not in sd and sd["last_epoch"] == 3
    opt2 = optim.SGD([nn.Parameter(mg.ones(1))], lr=0.1)
    sched2 = lr_scheduler.CosineAnnealingLR(opt2, T_max=99)
    sched2.load_state_dict(sd)
    opt2.param_groups[0]["lr"] = opt.param_groups[0]["lr"]
    sched.step(), sched2.step()
    assert sched.get_last_lr() == sched2.get_last_lr()


@pytest.mark.parametrize("name,kwargs", [
    ("StepLR", dict(step_size=4, gamma=0.3)),
    ("StepLR", dict(step_size=1)),
    ("CosineAnnealingLR", dict(T_max=7)),
    ("CosineAnnealingLR", dict(T_max=5, eta_min=0.02)),
    ("ExponentialLR", dict(gamma=0.9)),
])
def test_lr_sequences_match_torch(name, kwargs):
    torch = pytest.importorskip("torch")
    ours = lrs(lambda o: getattr(lr_scheduler, name)(o, **kwargs), groups=2)
    params = [{"params": [torch.nn.Parameter(torch.ones(1))], "lr": 0.1 * (i + 1)}
              for i in range(2)]
    opt = torch.optim.SGD(params, lr=0.1)
    sched = getattr(torch.optim.lr_scheduler, name)(opt, **kwargs)
    theirs = []
    for _ in range(25):
        theirs.append(sched.get_last_lr())
        opt.step()
        sched.step()
    np.testing.assert_allclose(ours, np.array(theirs), rtol=1e-13, atol=1e-16)
