"""Results: one (workload, impl) measurement, the ratios to the fastest impl of each workload
and issue 4's targets evaluated on them."""

from dataclasses import asdict, dataclass

from .config import HIPS_AUTOGRAD, MINIGRAD, MYGRAD, NUMPY_BEST, REFERENCE, TORCH
from .timing import Timing


@dataclass
class Result:
    """One (workload, impl) measurement. work: FLOPs, images or ops per call (0: none)."""

    group: str
    workload: str
    impl: str
    timing: Timing = None
    work: float = 0.0
    unit: str = ""  # "GFLOP/s", "img/s" or "us/op"
    ratio: float = None  # speed / speed of the fastest impl of this workload
    note: str = ""

    @property
    def rate(self):
        if self.timing is None or not self.work:
            return None
        t = self.timing.median
        if self.unit == "GFLOP/s":
            return self.work / t / 1e9
        if self.unit == "img/s":
            return self.work / t
        if self.unit == "us/op":
            return t / self.work * 1e6
        return None

    def to_dict(self):
        d = asdict(self)
        d["rate"] = self.rate
        if self.timing is not None:
            d["timing"]["spread"] = self.timing.spread
        return d


def compute_ratios(results):
    """Set each result's ratio: its speed over the fastest impl's speed, per workload."""
    best = {}
    for r in results:
        if r.timing is not None:
            key = (r.group, r.workload)
            best[key] = min(best.get(key, float("inf")), r.timing.median)
    for r in results:
        if r.timing is not None:
            r.ratio = best[(r.group, r.workload)] / r.timing.median
    return results


def _find(results, group, workload, impl):
    for r in results:
        if r.group == group and r.workload == workload and r.impl == impl and r.timing:
            return r
    return None


def _speedup(results, group, workload, impl, peer):
    """Speed of impl over peer (peer time / impl time) on one workload, or None."""
    a, b = _find(results, group, workload, impl), _find(results, group, workload, peer)
    return None if a is None or b is None else b.timing.median / a.timing.median


# The targets: (label, group, workload filter, peer, minimum, aim). The figure is the speed
# ratio minigrad / peer (the worst one when several workloads match). Issue 4 set the GEMM and
# pooling ones; issue 12 raised the CNN GEMM, conv2d and training-step ones to these.
TARGETS = (
    ("GEMM f32 1024^3 vs numpy best OpenBLAS", "gemm", lambda w: w == "1024x1024x1024",
     NUMPY_BEST, 0.5, 0.9),
    ("every CNN GEMM shape vs numpy best", "cnn-gemm", lambda w: True, NUMPY_BEST, 0.8, None),
    ("conv2d fwd vs PyTorch", "conv", lambda w: w.endswith(" fwd"), TORCH, 1.0, 1.2),
    ("conv2d fwd+bwd vs PyTorch", "conv", lambda w: "fwd+bwd" in w, TORCH, 0.9, 1.2),
    ("max-pool fwd+bwd vs PyTorch", "pool", lambda w: True, TORCH, 1.0, 2.0),
    ("training step batch 32 vs PyTorch (img/s)", "train", lambda w: w == "N=32", TORCH,
     1.0, 1.3),
    ("training step batch 128 vs PyTorch (img/s)", "train", lambda w: w == "N=128", TORCH,
     1.0, 1.3),
    # Issue 12: at most 2x PyTorch's microseconds per op, and ahead of the numpy engines.
    ("tiny-op overhead vs PyTorch (<= 2x its us/op)", "tiny", lambda w: True, TORCH, 0.5, None),
    ("tiny-op overhead vs MyGrad (ahead of it)", "tiny", lambda w: True, MYGRAD, 1.0, None),
    ("tiny-op overhead vs HIPS autograd (ahead)", "tiny", lambda w: True, HIPS_AUTOGRAD,
     1.0, None),
)


def evaluate_targets(results):
    """[{target, peer, ratio, worst_workload, minimum, aim, status}] from the measured results."""
    out = []
    for label, group, match, peer, minimum, aim in TARGETS:
        workloads = sorted({r.workload for r in results if r.group == group and match(r.workload)})
        ratios = [(_speedup(results, group, w, MINIGRAD, peer), w) for w in workloads]
        ratios = [(x, w) for x, w in ratios if x is not None]
        entry = {"target": label, "peer": peer, "minimum": minimum, "aim": aim,
                 "ratio": None, "worst_workload": None}
        if not ratios and peer == NUMPY_BEST:  # child failed: fall back to numpy as-is
            ratios = [(_speedup(results, group, w, MINIGRAD, REFERENCE), w) for w in workloads]
            ratios = [(x, w) for x, w in ratios if x is not None]
            entry["peer"] = REFERENCE + " (numpy best unavailable)"
        if not ratios:
            entry["status"] = "not measured"
        else:
            ratio, worst = min(ratios)
            entry.update(ratio=ratio, worst_workload=worst)
            if minimum is not None and ratio < minimum:
                entry["status"] = "MISSED"
            elif aim is not None and ratio >= aim:
                entry["status"] = "aim met"
            else:
                entry["status"] = "met" if minimum is not None else "below aim"
        out.append(entry)
    return out
