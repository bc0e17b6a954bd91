"""`GradcheckReport`: everything one check found, as a structure, a message and JSON.

The message puts the most useful first: which input is wrong, the worst Jacobian entry
d output J[j...] / d input I[i...] with its analytical and numerical values (true
derivatives, never projections), the tolerance and how many entries fail, the diagnosis,
then the first wrong op inside a composite function, then kinks that were excluded.
"""

from dataclasses import asdict, dataclass, field
from typing import List, Optional

from ._common import fmt


@dataclass
class Entry:
    """One Jacobian entry d output[output_index] / d input[input_index]."""

    input: int
    output: int
    input_index: tuple
    output_index: tuple
    analytical: float
    numerical: float
    abs_err: float
    rel_err: float
    tolerance: float
    diagnosis: Optional[object] = None  # a diagnose.Diagnosis for failing entries

    def name(self):
        return (f"d output {self.output}[{', '.join(map(str, self.output_index))}] / "
                f"d input {self.input}[{', '.join(map(str, self.input_index))}]")

    def values(self):
        return (f"analytical {fmt(self.analytical)}, numerical {fmt(self.numerical)}, "
                f"abs err {self.abs_err:.2e}, rel err {self.rel_err:.2e}")

    def to_dict(self):
        d = {k: v for k, v in asdict(self).items() if k != "diagnosis"}
        d["input_index"], d["output_index"] = list(self.input_index), list(self.output_index)
        d["diagnosis"] = self.diagnosis.to_dict() if self.diagnosis is not None else None
        return d


@dataclass
class Kink:
    """An entry at a non-differentiable point: its one-sided slopes and which one (if any)
    the analytical value matches ("left", "right", "mean" or None: then it still fails)."""

    input: int
    output: int
    input_index: tuple
    output_index: tuple
    x: float
    left: float
    right: float
    analytical: float
    matches: Optional[str]

    def describe(self):
        entry = Entry(self.input, self.output, self.input_index, self.output_index, 0, 0, 0, 0, 0)
        which = {"left": "the left slope", "right": "the right slope",
                 "mean": "the mean of the two"}.get(self.matches, "neither slope nor their mean")
        return (f"{entry.name()} at x = {fmt(self.x)}: left slope {fmt(self.left)}, right slope "
                f"{fmt(self.right)}; analytical {fmt(self.analytical)} matches {which}")

    def to_dict(self):
        d = asdict(self)
        d["input_index"], d["output_index"] = list(self.input_index), list(self.output_index)
        return d


@dataclass
class InputErrors:
    """Per checked input: the largest errors over its (non-kink) entries, and counts."""

    input: int
    shape: tuple
    dtype: str
    max_abs_err: float = 0.0
    max_rel_err: float = 0.0
    entries: int = 0
    failing: int = 0
    failing_elements: int = 0
    elements: int = 0

    def to_dict(self):
        d = asdict(self)
        d["shape"] = list(self.shape)
        return d


@dataclass
class LocalisedNode:
    """The first op (in forward order) whose own backward disagrees with finite differences
    of its own forward, on the inputs it got inside the composite function."""

    op: str
    node: str
    position: int
    n_ops: int
    file: str
    line: int
    code: str
    worst: Optional[Entry]
    problem: str = ""

    def describe(self):
        where = f"{self.file}:{self.line}" if self.file else "(unknown call site)"
        code = f": `{self.code}`" if self.code else ""
        detail = (f"its worst entry {self.worst.name()}: {self.worst.values()}"
                  if self.worst is not None else self.problem)
        return (f"first wrong backward: op {self.position + 1} of {self.n_ops} in forward order, "
                f"{self.op} ({self.node}), called at {where}{code}\n    {detail}")

    def to_dict(self):
        d = asdict(self)
        d["worst"] = self.worst.to_dict() if self.worst is not None else None
        return d


@dataclass
class GradcheckReport:
    """What `mg.gradcheck_report` found. `passed` is the verdict; `failures` lists failing
    entries worst first (per input, a few); `diagnosis` is the worst one's."""

    function: str
    passed: bool = True
    mode: str = "full"
    step: str = ""
    atol: float = 0.0
    rtol: float = 0.0
    inputs: List[InputErrors] = field(default_factory=list)
    failures: List[Entry] = field(default_factory=list)
    kinks: List[Kink] = field(default_factory=list)
    localized: Optional[LocalisedNode] = None
    problems: List[str] = field(default_factory=list)
    max_abs_err: float = 0.0
    max_rel_err: float = 0.0

    @property
    def diagnosis(self):
        for entry in self.failures:
            if entry.diagnosis is not None:
                return entry.diagnosis
        return None

    def __bool__(self):
        return self.passed

    @property
    def message(self):
        """The human-readable report (what GradcheckError says)."""
        lines = [f"{self.function}: {p}" for p in self.problems]
        by_input = {}
        for entry in self.failures:
            by_input.setdefault(entry.input, []).append(entry)
        for errors in self.inputs:
            entries = by_input.get(errors.input)
            if not entries:
                continue
            worst, others = entries[0], entries[1:]
            lines.append(f"{self.function}: gradient w.r.t. input {errors.input} (shape "
                         f"{errors.shape}, {errors.dtype}) is wrong")
            lines.append(f"  worst entry {worst.name()} (element {worst.input_index} of input "
                         f"{worst.input}): {worst.values()}")
            also = "; also " + ", ".join(e.name() for e in others[:3]) if others else ""
            lines.append(f"  tolerance: atol {self.atol:g} + rtol {self.rtol:g} * |numerical|;  "
                         f"{errors.failing} of {errors.entries} Jacobian entries fail, in "
                         f"{errors.failing_elements} of {errors.elements} elements{also}")
            if worst.diagnosis is not None:
                lines.append(f"  diagnosis: {worst.diagnosis.explanation}")
        if self.failures or self.problems:
            lines.append(f"  {self.mode}, {self.step}")
        if self.localized is not None:
            lines.append("  " + self.localized.describe())
        for kink in self.kinks[:5]:
            excluded = "excluded from pass/fail" if kink.matches else "FAILS"
            lines.append(f"  kink ({excluded}): {kink.describe()}")
        if len(self.kinks) > 5:
            lines.append(f"  ... and {len(self.kinks) - 5} more kinks")
        return "\n".join(lines)

    def to_dict(self):
        return {
            "function": self.function, "passed": self.passed, "mode": self.mode,
            "step": self.step, "atol": self.atol, "rtol": self.rtol,
            "max_abs_err": self.max_abs_err, "max_rel_err": self.max_rel_err,
            "inputs": [e.to_dict() for e in self.inputs],
            "failures": [e.to_dict() for e in self.failures],
            "kinks": [k.to_dict() for k in self.kinks],
            "diagnosis": self.diagnosis.to_dict() if self.diagnosis else None,
            "localized": self.localized.to_dict() if self.localized else None,
            "problems": list(self.problems), "message": self.message,
        }
