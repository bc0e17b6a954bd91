"""Gradient checking: is a backward right? (`mg.gradcheck` and friends)

- `gradcheck(fn, inputs)`: backward against central finite differences, entry by entry of
  the full Jacobian (check.py; `fast_mode=True` for random projections); messages give true
  Jacobian values, a diagnosis (diagnose.py) and, for a composite fn, the first op whose own
  backward is wrong and where it was called (localize.py).
- `gradcheck_report(fn, inputs)`: the same findings as a `GradcheckReport` (report.py).
- `gradgradcheck`: second derivatives.
- `gradcheck_precision(fn, inputs, dtype=mg.float32)`: float32 forward/backward against
  float64 within a rounding-error budget (precision.py).
- `gradcheck_localize(fn, inputs)`: only the per-op replay.
"""

from ._common import GradcheckError
from .check import GradcheckKinkWarning, gradcheck, gradcheck_report, gradgradcheck, jacobians
from .localize import gradcheck_localize
from .precision import PrecisionReport, gradcheck_precision

__all__ = ["GradcheckError", "GradcheckKinkWarning", "PrecisionReport", "gradcheck",
           "gradcheck_localize", "gradcheck_precision", "gradcheck_report", "gradgradcheck",
           "jacobians"]
