"""Values at the edges of the integer range and numpy subclasses: raise as PyTorch does or
convert correctly, never wrap silently (issue 8 item 7)."""

import numpy as np
import pytest

import minigrad as mg

INT64_MAX = 2 ** 63 - 1


@pytest.mark.parametrize("make", [lambda: mg.tensor(2 ** 63), lambda: mg.tensor([1, 2 ** 63]),
                                  lambda: mg.tensor([-1, 2 ** 63]), lambda: mg.tensor(2 ** 64),
                                  lambda: mg.tensor([[2 ** 63]], dtype=mg.int64)])
def test_tensor_of_an_int_beyond_int64_raises_value_error(make):
    with pytest.raises(ValueError, match="tensor: .*int64"):
        make()


@pytest.mark.parametrize("make, op", [
    (lambda: mg.full((2,), 2 ** 63), "full"),
    (lambda: mg.full((2,), -2 ** 63 - 1), "full"),
    (lambda: mg.arange(2 ** 63 - 3, 2 ** 63), "arange"),
    (lambda: mg.arange(-2 ** 64, 0, 2 ** 62), "arange"),
    (lambda: mg.tensor(300, dtype=np.int8), "tensor"),
])
def test_factories_raise_runtime_error_on_overflow(make, op):
    with pytest.raises(RuntimeError, match=f"{op}: value -?[0-9]+ cannot be converted to type "
                                           "int(8|64) without overflow"):
        make()


def test_the_extremes_that_do_fit_are_exact():
    assert mg.tensor([1.5, 2 ** 63]).dtype == mg.float32  # a float makes it a float tensor
    assert mg.tensor(INT64_MAX).item() == INT64_MAX
    assert mg.tensor([-2 ** 63, 1]).tolist() == [-2 ** 63, 1]
    assert mg.full((2,), INT64_MAX).tolist() == [INT64_MAX] * 2
    assert mg.arange(INT64_MAX - 2, INT64_MAX).tolist() == [INT64_MAX - 2, INT64_MAX - 1]
    assert mg.tensor(2 ** 63, dtype=mg.float64).item() == 2.0 ** 63  # a float dtype holds it
    assert mg.full((1,), 2 ** 63, dtype=mg.float32).dtype == mg.float32


def test_matching_pytorch_exception_types():
    torch = pytest.importorskip("torch")
    for ours, theirs in [(lambda: mg.tensor(2 ** 63), lambda: torch.tensor(2 ** 63)),
                         (lambda: mg.full((2,), 2 ** 63), lambda: torch.full((2,), 2 ** 63)),
                         (lambda: mg.arange(2 ** 63 - 3, 2 ** 63),
                          lambda: torch.arange(2 ** 63 - 3, 2 ** 63))]:
        with pytest.raises(Exception) as expected:
            theirs()
        with pytest.raises(expected.type):
            ours()


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # np.matrix itself warns
def test_from_numpy_of_a_matrix_is_a_plain_elementwise_tensor():
    m = np.matrix([[1.0, 2.0], [3.0, 4.0]])
    t = mg.from_numpy(m)
    assert type(t.numpy()) is np.ndarray
    np.testing.assert_array_equal((t * t).numpy(), [[1, 4], [9, 16]])  # not m * m
    m[0, 0] = 10.0
    assert t[0, 0].item() == 10.0  # still shares memory, as from_numpy promises
    with pytest.raises(TypeError, match="masked"):
        mg.from_numpy(np.ma.masked_array([1.0, 2.0], mask=[True, False]))
