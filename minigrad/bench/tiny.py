"""The tiny-op workload: autograd's per-op overhead on a chain of small tensor ops."""

import numpy as np

from .config import MINIGRAD, TORCH
from .results import Result
from .timing import _measure_impls


def _tiny_results(cfg, torch, progress):
    """A chain of L (mul, add) pairs and a sum on (4,4) tensors, forward + backward.

    Ops per call: 2L + 1; the figure is microseconds per op (forward and backward together).
    """
    import minigrad as mg

    L = cfg.tiny_chain
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal((4, 4)).astype(np.float32) for _ in range(3)]
    label = f"{L}x(mul,add)+sum on (4,4), fwd+bwd"
    progress.set("tiny ops")

    def chain(x, a, b):
        for t in (x, a, b):
            t.grad = None
        y = x
        for _ in range(L):
            y = y * a + b
        y.sum().backward()

    leaves = [mg.tensor(a, requires_grad=True) for a in arrays]
    impls = [(MINIGRAD, lambda: chain(*leaves))]
    if torch is not None:
        tleaves = [torch.tensor(a, requires_grad=True) for a in arrays]
        impls.append((TORCH, lambda: chain(*tleaves)))
    timings = _measure_impls(cfg, impls, progress=progress)
    return [Result("tiny", label, impl, t, 2 * L + 1, "us/op") for impl, t in timings.items()]
