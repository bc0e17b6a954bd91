"""Test support shipped with the package: the op registry shared by `minigrad gradcheck`
and the test suite (opspecs.py), and hypothesis strategies plus a one-line gradcheck helper
for your own ops (strategies.py: `mg.testing.gradcheck_function(MyOp.apply, n_inputs=2)`).

The strategies need hypothesis (the test extra); they are imported on first use, so
`minigrad gradcheck` runs without it.
"""

_STRATEGIES = ("LAYOUTS", "broadcast_shapes", "gradcheck_function", "gradcheck_inputs", "layouts",
               "shapes", "well_conditioned", "with_layout")

__all__ = list(_STRATEGIES)


def __getattr__(name):
    if name in _STRATEGIES:
        from . import strategies

        return getattr(strategies, name)
    raise AttributeError(f"module 'minigrad.testing' has no attribute {name!r}")
