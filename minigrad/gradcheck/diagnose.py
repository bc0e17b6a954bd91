"""Is the backward wrong, or the check? Kinks and the step-ladder diagnosis.

Kinks. f(x + h), f(x) and f(x - h), which the check evaluates anyway, give the right and left
slopes. A smooth function's slopes differ by ~h f'' (which shrinks with h); at a
non-differentiable point (relu or abs at 0, a tie in max or max-pool) they differ by the
jump in the derivative, whatever h. An entry whose slopes differ beyond tolerance is
re-measured at h/16 and 16h: if the difference stays the same (it neither shrinks with h,
as curvature does, nor grows as h shrinks, as round-off does), it is a kink. It is excluded from
pass/fail when the analytical value matches the left slope, the right slope or their mean
(any of them is a valid subgradient choice), and still fails when it matches none.

Diagnosis of a failing entry. The central difference D(h) is re-measured over the ladder
h0 * 4^s, s = 3 .. -3, with one Richardson step R = (16 D(h0/4) - D(h0)) / 15 (removes the
h^2 term). The analytical value a is then explained as:
  truncation   |a - D| shrinks like h^2 and a smaller step (or R) agrees: step too large;
  round-off    |a - D| does not shrink with h (noise ~ eps |f| / h) and a larger step
               agrees: step too small;
  kink         the one-sided slopes disagree at every step: not differentiable at (or
               within h of) x;
  wrong gradient  D is flat in h (two neighbouring steps agree with each other) but no step
               agrees with a: the backward is wrong, not the check;
  inconclusive none of the above (e.g. a function that is noisy at every step).
"""

from dataclasses import dataclass, field

import numpy as np

from ._common import fmt, tolerance
from .jacobian import central_and_sides

LADDER = 4.0 ** np.arange(3, -4, -1)  # 64 h0 ... h0/64
H0 = 3  # position of h0 in LADDER
KINK_REFINE = 16.0


@dataclass
class Diagnosis:
    """Why one Jacobian entry disagrees: `kind` is "truncation", "round-off", "kink",
    "wrong gradient" or "inconclusive"; `steps`/`numerical` the ladder, `richardson` R."""

    kind: str
    explanation: str
    steps: list = field(default_factory=list)
    numerical: list = field(default_factory=list)
    richardson: float = float("nan")

    def to_dict(self):
        return {"kind": self.kind, "explanation": self.explanation, "steps": list(self.steps),
                "numerical": list(self.numerical), "richardson": self.richardson}


def kink_candidates(right, left, atol, rtol):
    """Entries whose one-sided slopes disagree beyond tolerance (boolean, same shape)."""
    with np.errstate(invalid="ignore"):
        jump = np.abs(right - left)
        return jump > atol + rtol * np.maximum(np.abs(right), np.abs(left))


def confirm_kinks(fn, inputs, i, j, elements, steps, center, candidates, right, left, atol, rtol,
                  needs_grad=False):
    """Re-measure the candidate columns `elements` of input i at h/16 and 16h. Returns (kink
    mask, left, right) of output j over those columns, with the slopes of the smaller step.

    A kink's jump between the slopes is the same at every step; a smooth function's shrinks
    with h, and round-off noise grows as h shrinks: only a jump that stays within a factor
    of 2 at all three steps is a kink."""
    _, right_s, left_s = central_and_sides(fn, inputs, i, elements, steps / KINK_REFINE, center,
                                           needs_grad)
    _, right_b, left_b = central_and_sides(fn, inputs, i, elements, steps * KINK_REFINE, center,
                                           needs_grad)
    right_s, left_s, right_b, left_b = right_s[j], left_s[j], right_b[j], left_b[j]
    with np.errstate(invalid="ignore"):
        jump = np.abs(right - left)
        steady = candidates & kink_candidates(right_s, left_s, atol, rtol)
        for other in (np.abs(right_s - left_s), np.abs(right_b - left_b)):
            steady &= (other > 0.5 * jump) & (other < 2 * jump)
    return steady, left_s, right_s


def kink_match(analytical, left, right, atol, rtol):
    """Which valid one-sided value the analytical entry matches: "left", "right", "mean"
    (of the two) or None."""
    for name, value in (("left", left), ("right", right), ("mean", (left + right) / 2)):
        if abs(analytical - value) <= tolerance(value, atol, rtol):
            return name
    return None


def ladder(fn, inputs, i, k, h0, center, needs_grad=False):
    """D(h) over LADDER * h0 for flat element k of input i: (steps, [per output (m_j, L)],
    right, left at each step)."""
    steps = LADDER * h0
    elements = np.full(len(steps), k)
    central, right, left = central_and_sides(fn, inputs, i, elements, steps, center, needs_grad)
    return steps, central, right, left


def _order(e_big, e_small):
    """Observed order p of |a - D(h)| ~ h^p between steps 4h and h."""
    if not (np.isfinite(e_big) and np.isfinite(e_small)) or e_big <= 0 or e_small <= 0:
        return float("nan")
    return float(np.log(e_big / e_small) / np.log(4.0))


CHECK_ERRORS = ("truncation", "round-off")  # the check's step is at fault, not the backward


def diagnose(analytical, steps, numerical, right, left, atol, rtol):
    """Classify one failing entry from its ladder (arrays over LADDER, h0 at index H0)."""
    D = np.asarray(numerical, dtype=np.float64)
    with np.errstate(all="ignore"):
        err = np.abs(analytical - D)
        ok = err <= tolerance(D, atol, rtol)
        R = (16 * D[H0 + 1] - D[H0]) / 15
        p_up = _order(err[H0 - 1], err[H0])      # ~2 for truncation
        kinked = kink_candidates(np.asarray(right), np.asarray(left), atol, rtol)
    values = ", ".join(f"h={h:.2g}: {fmt(d)}" for h, d in zip(steps[H0 - 1:H0 + 2], D[H0 - 1:H0 + 2]))
    common = dict(steps=[float(h) for h in steps], numerical=[float(d) for d in D],
                  richardson=float(R))
    smaller_ok = bool(ok[H0 + 1:].any()) or abs(analytical - R) <= tolerance(R, atol, rtol)
    if not ok[H0] and smaller_ok and (p_up > 1.5 or np.isnan(p_up)):
        return Diagnosis("truncation", (
            f"truncation error: |analytical - numerical| shrinks like h^{p_up:.1f} with the step "
            f"({values}; Richardson {fmt(R)}, analytical {fmt(analytical)}): the step is too "
            f"large, the gradient is right"), **common)
    # Round-off: noise ~ eps |f| / h, so smaller steps are no better (noisy: compare with the
    # worst of them rather than fitting an order).
    noisier_below = bool(np.any(err[H0 + 1:] >= 0.5 * err[H0]))
    if not ok[H0] and ok[:H0].any() and noisier_below and not p_up > 1.5:
        return Diagnosis("round-off", (
            f"round-off error: |analytical - numerical| grows like 1/h as the step shrinks "
            f"({values}; analytical {fmt(analytical)}): the step is too small, a larger one "
            f"agrees, the gradient is right"), **common)
    if kinked[H0 - 1:].all():
        return Diagnosis("kink", (
            f"kink: the one-sided slopes disagree at every step (left {fmt(left[-1])}, right "
            f"{fmt(right[-1])} at h={steps[-1]:.2g}; analytical {fmt(analytical)}): f is not "
            f"differentiable at x, and the analytical value matches neither slope nor their mean"),
            **common)
    flat = [s for s in range(H0 - 1, len(D) - 1)
            if abs(D[s] - D[s + 1]) <= tolerance(D[s + 1], atol, rtol) and not ok[s] and not ok[s + 1]]
    if flat:
        s = flat[0]
        return Diagnosis("wrong gradient", (
            f"wrong gradient: the finite difference is flat in h ({values}; Richardson "
            f"{fmt(R)}) and no step agrees with the analytical {fmt(analytical)}: the backward "
            f"is wrong, not the check"), **common)
    if kinked[H0 - 1:].any():
        return Diagnosis("kink", (
            f"kink within h of x: the one-sided slopes disagree at some steps ({values}): a "
            f"non-differentiable point is closer to x than the step"), **common)
    return Diagnosis("inconclusive", (
        f"inconclusive: the finite difference moves with h without a clear order ({values}; "
        f"analytical {fmt(analytical)})"), **common)
