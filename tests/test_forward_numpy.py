"""Every registry op's forward against its numpy reference, in float64 and float32.

Float32 runs on the float32-rounded inputs and is compared with the float64 reference of
those same rounded values, so the tolerance only covers float32 arithmetic.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
from minigrad.testing.opspecs import ALL_SPECS

WITH_REFERENCE = [s for s in ALL_SPECS if s.reference is not None]
TOLERANCE = {np.float64: dict(rtol=1e-10, atol=1e-12), np.float32: dict(rtol=2e-5, atol=2e-5)}


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("spec", WITH_REFERENCE, ids=lambda s: s.name)
@given(seed=st.integers(0, 2**32 - 1), pick=st.integers(0, 2**16))
def test_forward_matches_numpy(spec, dtype, seed, pick, device):
    rng = np.random.default_rng(seed)
    cases = spec.shape_cases(rng)
    arrays = [np.asarray(a).astype(dtype) for a in spec.sample(rng, cases[pick % len(cases)])]
    out = spec.fn(*[mg.tensor(a, device=device) for a in arrays])
    expected = np.asarray(spec.reference(*[a.astype(np.float64) for a in arrays]))
    assert isinstance(out, mg.Tensor)
    assert out.shape == expected.shape
    assert out.device == device
    got = out.cpu().numpy()
    if expected.dtype.kind == "b":
        assert got.dtype == np.bool_
        np.testing.assert_array_equal(got, expected)
    elif expected.dtype.kind in "iu":
        assert got.dtype == np.int64
        np.testing.assert_array_equal(got, expected)
    else:
        assert got.dtype == dtype, f"{spec.name}: {dtype.__name__} inputs gave {got.dtype}"
        np.testing.assert_allclose(got, expected, **TOLERANCE[dtype])


@pytest.mark.parametrize("spec", [s for s in ALL_SPECS if s.differentiable], ids=lambda s: s.name)
def test_output_requires_grad_and_has_grad_fn(spec):
    rng = np.random.default_rng(0)
    arrays = spec.sample(rng, spec.shape_cases(rng)[0])
    inputs = [mg.tensor(a, requires_grad=True) for a in arrays]
    out = spec.fn(*inputs)
    assert out.requires_grad and out.grad_fn is not None
    with mg.no_grad():
        out = spec.fn(*[mg.tensor(a, requires_grad=True) for a in arrays])
    assert not out.requires_grad and out.grad_fn is None
