"""Which op's backward is wrong, inside a composite function.

`fn` is run once more with every op application observed (autograd.observe_ops, the hook
anomaly mode's call-site recording shares): each op that records a graph node is kept with
a copy of its inputs, its arguments and the user's line that called it. Then, in forward
order, each op alone is gradchecked on exactly those inputs: its own backward (its
vector-Jacobian product) against finite differences of its own forward. The first op that
disagrees is the one to fix; every op before it is right on the values it saw.

Cost: one recording forward, then one full check per recorded op (its own Jacobian, on its
own inputs), stopping at the first wrong one.
"""

import linecache
import os
import sys

import numpy as np

from ..autograd import _in_package, observe_ops
from ..tensor import Tensor
from ._common import as_tuple, prepare_inputs
from .report import LocalisedNode

# Registry functions (minigrad/testing) are user code for this purpose: their lines are the
# calls worth naming.
_TESTING_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                            "testing") + os.sep


def _call_site():
    """(file, line) of the innermost frame outside minigrad's own code."""
    frame = sys._getframe(2)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not _in_package(filename) or os.path.abspath(filename).startswith(_TESTING_DIR):
            return filename, frame.f_lineno
        frame = frame.f_back
    return "", 0


class _Recorder:
    """Keeps (op, argument template, tensor positions, copied tensors, call site) per op."""

    def __init__(self):
        self.calls = []

    def __call__(self, fn, args, kwargs, outputs):
        positions = [p for p, a in enumerate(args) if isinstance(a, Tensor)]
        if not any(args[p].requires_grad and args[p].dtype == np.float64 for p in positions):
            return
        copies = []
        for p in positions:
            a = args[p]
            t = Tensor._make(a.device.xp.array(a._data, copy=True), a.device)
            t.requires_grad = a.requires_grad and a.dtype.kind == "f"
            copies.append(t)
        self.calls.append((fn, args, dict(kwargs), positions, copies, _call_site()))


def _short_path(filename):
    """Relative to the working directory when the file lies under it, else absolute."""
    if not filename:
        return ""
    path = os.path.abspath(filename)
    rel = os.path.relpath(path)
    return path if rel.startswith(os.pardir) else rel


def _replay(fn, template, kwargs, positions):
    def op(*tensors):
        args = list(template)
        for p, t in zip(positions, tensors):
            args[p] = t
        return fn.apply(*args, **kwargs)

    return op


def recorded_ops(fn, inputs):
    """Run fn on copies of inputs and return the recorded op applications, in forward order."""
    prepared, _ = prepare_inputs(as_tuple(inputs), who="gradcheck_localize", warn=False)
    recorder = _Recorder()
    with observe_ops(recorder):
        fn(*prepared)
    return recorder.calls


def localize_wrong_op(fn, inputs, eps=None, atol=1e-5, rtol=1e-3, seed=0,
                      only_if_composite=False):
    """The first recorded op whose own backward disagrees (a LocalisedNode), or None."""
    from .check import _backward_suspected, gradcheck_report

    calls = recorded_ops(fn, inputs)
    if only_if_composite and len(calls) < 2:
        return None
    for position, (op, template, kwargs, positions, copies, (filename, line)) in enumerate(calls):
        template = [None if isinstance(a, Tensor) else a for a in template]
        report = gradcheck_report(_replay(op, template, kwargs, positions), tuple(copies), eps,
                                  atol, rtol, seed=seed, side_checks=True, localize=False,
                                  name=op.__name__)
        if report.passed or not _backward_suspected(report) and not report.problems:
            continue
        worst = report.failures[0] if report.failures else None
        return LocalisedNode(
            op=op.__name__, node=op.__name__ + "Backward", position=position, n_ops=len(calls),
            file=_short_path(filename), line=line,
            code=linecache.getline(filename, line).strip() if filename else "", worst=worst,
            problem="; ".join(report.problems))
    return None


def gradcheck_localize(fn, inputs, eps=None, atol=1e-5, rtol=1e-3, *, seed=0):
    """Replay each op of `fn` on the inputs it receives and gradcheck it alone; return the
    first one whose backward is wrong (a LocalisedNode: `op`, `node`, `file`, `line`,
    `code`, `worst` entry, `describe()`), or None when every op is right.

    This can find an op whose wrong backward is masked in the whole fn (e.g. multiplied by
    zero downstream), which `gradcheck(fn, inputs)` alone cannot see.
    """
    return localize_wrong_op(fn, inputs, eps=eps, atol=atol, rtol=rtol, seed=seed)
