"""Training parity with PyTorch: the same small CNN in float64, the same initial weights
(copied with load_state_dict), the same batches, 10 optimizer steps: the loss curves and the
final weights agree."""

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn


def make_mg():
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(4 * 3 * 3, 5)).double()


def batches(steps=10, n=16):
    """Two fixed batches, alternated; the class is the brightest of 5 image regions."""
    rng = np.random.default_rng(0)
    pairs = []
    for _ in range(2):
        x = rng.standard_normal((n, 1, 8, 8))
        t = rng.integers(0, 5, n)
        for i, c in enumerate(t):
            x[i, 0, c:c + 3, c:c + 3] += 2.0
        pairs.append((x, t))
    return [pairs[i % 2] for i in range(steps)]


@pytest.mark.parametrize("opt_name,kwargs", [("Adam", dict(lr=0.01)),
                                             ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
                                             ("AdamW", dict(lr=0.01, weight_decay=0.1))])
def test_cnn_training_matches_torch(opt_name, kwargs):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    ref = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                              torch.nn.Flatten(), torch.nn.Linear(36, 5)).double()
    model = make_mg()
    model.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})
    opt = getattr(mg.optim, opt_name)(model.parameters(), **kwargs)
    ref_opt = getattr(torch.optim, opt_name)(ref.parameters(), **kwargs)
    ours, theirs = [], []
    for x, t in batches():
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(mg.tensor(x)), mg.tensor(t))
        loss.backward()
        opt.step()
        ours.append(loss.item())
        ref_opt.zero_grad()
        ref_loss = torch.nn.functional.cross_entropy(ref(torch.tensor(x)), torch.tensor(t))
        ref_loss.backward()
        ref_opt.step()
        theirs.append(ref_loss.item())
    np.testing.assert_allclose(ours, theirs, rtol=1e-4)
    assert ours[-2] < ours[0]  # it trains (same batch at steps 0 and 8)
    for k, v in ref.state_dict().items():
        np.testing.assert_allclose(model.state_dict()[k].numpy(), v.numpy(), rtol=1e-6,
                                   atol=1e-9, err_msg=k)
    # the figure reported by the nn/optim helper: worst relative difference of the loss curve
    print(f"{opt_name}: max rel loss diff "
          f"{np.max(np.abs(np.array(ours) - theirs) / np.abs(theirs)):.2e}")
