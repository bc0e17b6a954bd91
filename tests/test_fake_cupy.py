"""The emulated CUDA device's stand-in for CuPy (backend/fake_cupy.py) behaves like CuPy where
that catches bugs: device memory is separate, implicit conversion to numpy is refused, numpy
arrays don't mix in. The module imports without MINIGRAD_FAKE_CUDA, so this runs everywhere."""

import pickle

import numpy as np
import pytest

from minigrad.backend import fake_cupy as cp
from minigrad.backend import reference

IMPLICIT = "Implicit conversion to a NumPy array is not allowed"


def test_asarray_copies_to_the_device_and_get_copies_back():
    host = np.arange(6.0).reshape(2, 3)
    dev = cp.asarray(host)
    assert isinstance(dev, cp.ndarray) and dev.shape == (2, 3) and dev.dtype == np.float64
    host[0, 0] = 100.0
    assert dev[0, 0].item() == 0.0  # separate memory
    back = dev.get()
    assert isinstance(back, np.ndarray)
    back[0, 1] = -1.0
    assert dev[0, 1].item() == 1.0
    assert cp.asarray(dev) is dev and cp.array(dev) is not dev
    assert cp.asnumpy(dev).tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]


@pytest.mark.parametrize("convert", [np.asarray, np.array, lambda a: np.add(a, np.ones(2)),
                                     lambda a: a.__array__()],
                         ids=["np.asarray", "np.array", "ufunc-with-ndarray", "__array__"])
def test_implicit_conversion_to_numpy_is_refused(convert):
    dev = cp.asarray(np.ones(2))
    with pytest.raises(TypeError):
        convert(dev)


def test_implicit_conversion_message_is_cupys():
    with pytest.raises(TypeError, match=IMPLICIT):
        np.asarray(cp.ones(3))


@pytest.mark.parametrize("mix", [lambda d, h: d + h, lambda d, h: h + d, lambda d, h: d * h,
                                 lambda d, h: cp.add(d, h), lambda d, h: np.concatenate([d, h]),
                                 lambda d, h: np.where(d > 0, d, h), lambda d, h: cp.matmul(h, d)],
                         ids=["add", "radd", "mul", "cp.add", "np.concatenate", "np.where",
                              "cp.matmul"])
def test_mixing_in_numpy_arrays_is_refused(mix):
    with pytest.raises(TypeError):
        mix(cp.ones(2), np.ones(2))


def test_numpy_functions_on_device_arrays_stay_on_the_device():
    d = cp.asarray(np.array([[1.0, -2.0], [3.0, 4.0]]))
    for result in (np.exp(d), np.sum(d, axis=0), np.concatenate([d, d]), np.abs(d) + 1,
                   np.where(d > 0, d, 0.0), d.T @ d, -d, d.sum(), d.max(), d[0, 1]):
        assert isinstance(result, cp.ndarray)
    assert d.sum().ndim == 0 and float(d.sum()) == 6.0  # reductions give 0-d device arrays
    np.testing.assert_allclose(np.exp(d).get(), np.exp(d.get()))


def test_views_and_in_place_writes_share_device_memory():
    d = cp.zeros((3, 4))
    row = d[1]
    row += 1.0
    d[2, ::2] = 5.0
    assert cp.may_share_memory(row, d)
    assert d.get().tolist() == [[0] * 4, [1] * 4, [5, 0, 5, 0]]
    d[0] = np.arange(4.0)  # host data may be written into device memory explicitly (as CuPy)
    assert d.get()[0].tolist() == [0, 1, 2, 3]


def test_ufunc_at_accumulates_and_index_arrays_work():
    y = cp.zeros(3)
    cp.add.at(y, cp.asarray(np.array([0, 0, 2])), cp.asarray(np.array([1.0, 2.0, 3.0])))
    assert y.get().tolist() == [3.0, 0.0, 3.0]
    assert y[cp.asarray(np.array([2, 0]))].get().tolist() == [3.0, 3.0]


def test_only_cupys_methods_exist():
    d = cp.ones(2)
    assert d.astype(np.float32).dtype == np.float32 and d.reshape(2, 1).shape == (2, 1)
    with pytest.raises(AttributeError, match="not part of the emulated CuPy API"):
        d.tofile  # noqa: B018  (numpy-only)
    with pytest.raises(AttributeError):
        d.__array_interface__  # noqa: B018  (would let numpy read the buffer)


def test_reference_kernels_run_on_device_arrays():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 5, 5))
    w = rng.standard_normal((4, 3, 3, 3))
    y = reference.conv2d_forward(cp.asarray(x), cp.asarray(w), None, (1, 1), (1, 1))
    assert isinstance(y, cp.ndarray)
    np.testing.assert_allclose(y.get(), reference.conv2d_forward(x, w, None, (1, 1), (1, 1)))
    assert reference.array_module(y) is cp


def test_pickle_round_trip_and_dlpack_refusal():
    d = cp.asarray(np.arange(3.0))
    e = pickle.loads(pickle.dumps(d))
    assert isinstance(e, cp.ndarray) and e.get().tolist() == [0.0, 1.0, 2.0]
    assert d.__dlpack_device__()[0] == 2  # kDLCUDA, as a CuPy array reports
    with pytest.raises(BufferError, match="emulated CUDA device"):
        d.__dlpack__()


def test_devices_and_runtime(monkeypatch):
    monkeypatch.setenv("MINIGRAD_FAKE_CUDA", "2")
    assert cp.runtime.getDeviceCount() == 2
    with cp.cuda.Device(1):
        assert cp.ones(1).device.id == 1
    assert cp.ones(1).device.id == 0
    with pytest.raises(RuntimeError, match="invalid device ordinal"):
        cp.cuda.Device(2)
