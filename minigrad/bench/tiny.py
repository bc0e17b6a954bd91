"""The tiny-op workload: autograd's per-op overhead on a chain of small tensor ops, for
minigrad, PyTorch and (when installed) the numpy-based engines MyGrad and HIPS autograd."""

import numpy as np

from .config import HIPS_AUTOGRAD, MINIGRAD, MYGRAD, TORCH
from .results import Result
from .timing import _measure_impls


def _tiny_results(cfg, torch, progress):
    """A chain of L (mul, add) pairs and a sum on (4,4) float64 tensors, forward + backward
    (gradients of all three inputs).

    Ops per call: 2L + 1; the figure is microseconds per op (forward and backward together).
    Every engine gets the same float64 arrays; the impls are timed in interleaved rounds.
    """
    import minigrad as mg

    L = cfg.tiny_chain
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal((4, 4)) for _ in range(3)]
    label = f"{L}x(mul,add)+sum on (4,4) f64, fwd+bwd"
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
    if cfg.python_peers:
        impls += _python_peers(arrays, L)
    timings = _measure_impls(cfg, impls, progress=progress)
    return [Result("tiny", label, impl, t, 2 * L + 1, "us/op") for impl, t in timings.items()]


def _python_peers(arrays, L):
    """[(impl, fn)] for MyGrad and HIPS autograd, those of them that import."""
    impls = []
    try:
        import mygrad
    except Exception:  # noqa: BLE001  (optional peer: absent or broken, it is left out)
        mygrad = None
    if mygrad is not None:
        leaves = [mygrad.tensor(a) for a in arrays]

        def mygrad_chain():
            x, a, b = leaves
            y = x
            for _ in range(L):
                y = y * a + b
            y.sum().backward()  # fills x.grad, a.grad, b.grad (each op clears old grads)

        impls.append((MYGRAD, mygrad_chain))
    try:
        import autograd
        import autograd.numpy as anp
    except Exception:  # noqa: BLE001
        autograd = None
    if autograd is not None:
        def f(x, a, b):
            y = x
            for _ in range(L):
                y = y * a + b
            return anp.sum(y)

        grad_all = autograd.grad(f, argnum=(0, 1, 2))  # traces forward, then backward
        impls.append((HIPS_AUTOGRAD, lambda: grad_all(*arrays)))
    return impls
