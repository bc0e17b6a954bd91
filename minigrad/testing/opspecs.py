"""The op registry: one `OpSpec` per case of every op in the catalogue (catalogue/).

`minigrad gradcheck` and the test suite (gradcheck, gradgradcheck, forward vs numpy, torch
oracle, completeness) all iterate `ALL_SPECS`. Nothing is declared here: add an op with its
Op class and one catalogue entry (docs/adding-an-op.md), and it appears in `ALL_SPECS`.
"""

from . import catalogue
from .samplers import np_conv2d as _np_conv2d  # noqa: F401  (used by tests/nn)
from .samplers import np_pool as _np_pool  # noqa: F401

ALL_SPECS = catalogue.specs()
# The entries of minigrad/ops (mg., Tensor.); the rest are mg.nn.functional's own functions.
CORE_SPECS = [s for s in ALL_SPECS if catalogue.BY_NAME[s.entry].impl.startswith(("minigrad.ops.",
                                                                                 "minigrad.tensor."))]
SPECS_BY_NAME = {spec.name: spec for spec in ALL_SPECS}
SECOND_ORDER = [s.name for s in ALL_SPECS if s.second_order]


def get_spec(name):
    """The spec called `name` (KeyError listing the valid names otherwise)."""
    try:
        return SPECS_BY_NAME[name]
    except KeyError:
        raise KeyError(f"no op spec named {name!r}; valid names: {', '.join(sorted(SPECS_BY_NAME))}") from None
