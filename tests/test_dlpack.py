"""DLPack both ways (minigrad/interop.py): values, shared memory, dtypes, strides, devices, and
the refusals (requires grad, unsupported dtypes, objects that are not arrays).

numpy is the partner where torch is not needed; the torch tests skip without it. On "cuda" the
device fixture runs on a GPU (CuPy, and torch when it has CUDA) or the emulated device.
"""

import numpy as np
import pytest

import minigrad as mg

DTYPES = ["float32", "float64", "int64", "bool", "float16", "int32", "uint8"]


def _values(dtype):
    return (np.arange(6).reshape(2, 3) % 2).astype(dtype) if dtype == "bool" else \
        np.arange(6).reshape(2, 3).astype(dtype)


# ---------------------------------------------------------------------------- numpy


def test_dlpack_device_on_cpu():
    assert mg.zeros(2).__dlpack_device__() == (1, 0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_numpy_from_tensor_shares_memory(dtype):
    t = mg.from_numpy(_values(dtype))
    a = np.from_dlpack(t)
    assert a.dtype == np.dtype(dtype) and a.shape == (2, 3)
    np.testing.assert_array_equal(a, _values(dtype))
    a[0, 0] = 1
    assert t[0, 0].item() == 1  # the same memory
    assert np.shares_memory(a, t.numpy())


@pytest.mark.parametrize("dtype", DTYPES)
def test_tensor_from_numpy_shares_memory(dtype):
    a = _values(dtype)
    t = mg.from_dlpack(a)
    assert isinstance(t, mg.Tensor) and t.dtype == a.dtype and t.shape == a.shape
    assert t.device == "cpu" and not t.requires_grad
    a[1, 2] = 0
    assert t[1, 2].item() == 0
    assert np.shares_memory(t.numpy(), a)


def test_strided_view_keeps_its_strides_and_memory():
    base = np.arange(24, dtype=np.float64).reshape(4, 6)
    view = base[::2, 1::2].T  # non-contiguous, transposed
    t = mg.from_dlpack(view)
    assert t.shape == (3, 2)
    np.testing.assert_array_equal(t.numpy(), view)
    base[2, 3] = -1.0
    assert t[1, 1].item() == -1.0
    # and ops on it give the right values
    np.testing.assert_array_equal((t * 2).numpy(), view * 2)


def test_asarray_shares_memory_and_0d_works():
    t = mg.tensor([[1.0, 2.0], [3.0, 4.0]])
    a = np.asarray(t)
    a[0, 0] = 9.0
    assert t[0, 0].item() == 9.0
    assert np.asarray(mg.tensor(2.5)).shape == ()
    assert float(np.asarray(mg.tensor(2.5))) == 2.5


def test_requires_grad_refuses_export_and_detach_shares():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(BufferError, match="require gradient.*detach"):
        x.__dlpack__()
    with pytest.raises(BufferError, match="detach"):
        mg.from_dlpack(x)
    with pytest.raises(BufferError, match="detach"):
        np.from_dlpack(x)
    (x * x).sum().backward()  # still usable by autograd afterwards
    a = np.from_dlpack(x.detach())
    a[0] = 5.0
    assert x.detach()[0].item() == 5.0


def test_from_dlpack_of_a_tensor_shares_memory():
    t = mg.tensor([1.0, 2.0])
    u = mg.from_dlpack(t)
    u.numpy()[1] = 7.0
    assert t.tolist() == [1.0, 7.0]


def test_from_dlpack_refuses_non_arrays():
    with pytest.raises(TypeError, match="from_dlpack: expected an object with __dlpack__.*list"):
        mg.from_dlpack([1.0, 2.0])
    with pytest.raises(TypeError, match="from_dlpack: .*complex128.*no minigrad counterpart"):
        mg.from_dlpack(np.ones(2, dtype=np.complex128))


def test_cpu_export_refuses_a_stream():
    with pytest.raises(BufferError, match="stream must be None"):
        mg.ones(2).__dlpack__(stream=1)


def test_shared_tensor_takes_part_in_autograd():
    a = np.array([1.0, 2.0, 3.0])
    x = mg.from_dlpack(a).requires_grad_()
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), 2 * a)


# ---------------------------------------------------------------------------- torch

TORCH_DTYPES = ["float32", "float64", "int64", "bool", "float16", "int32", "uint8"]


@pytest.mark.parametrize("dtype", TORCH_DTYPES)
def test_torch_from_tensor_shares_memory(dtype):
    torch = pytest.importorskip("torch")
    t = mg.from_numpy(_values(dtype))
    tt = torch.from_dlpack(t)
    assert tt.dtype == getattr(torch, dtype) and tuple(tt.shape) == (2, 3)
    np.testing.assert_array_equal(tt.numpy(), _values(dtype))
    tt[0, 1] = 0
    assert t[0, 1].item() == 0
    assert tt.data_ptr() == t.numpy().ctypes.data


@pytest.mark.parametrize("dtype", TORCH_DTYPES)
def test_tensor_from_torch_shares_memory(dtype):
    torch = pytest.importorskip("torch")
    src = torch.from_numpy(_values(dtype).copy())
    t = mg.from_dlpack(src)
    assert t.dtype == np.dtype(dtype) and t.shape == (2, 3) and t.device == "cpu"
    np.testing.assert_array_equal(t.numpy(), src.numpy())
    src[1, 1] = 1
    assert t[1, 1].item() == 1
    assert t.numpy().ctypes.data == src.data_ptr()


def test_torch_non_contiguous_both_ways():
    torch = pytest.importorskip("torch")
    src = torch.arange(12.0).reshape(3, 4).t()[1:]  # (3, 3), strides (1, 4)
    t = mg.from_dlpack(src)
    np.testing.assert_array_equal(t.numpy(), src.numpy())
    src[0, 0] = -5.0
    assert t[0, 0].item() == -5.0
    back = torch.from_dlpack(mg.from_numpy(np.arange(12.0).reshape(3, 4)[:, ::2]))
    np.testing.assert_array_equal(back.numpy(), np.arange(12.0).reshape(3, 4)[:, ::2])


def test_torch_tensor_and_as_tensor_work():
    torch = pytest.importorskip("torch")
    t = mg.tensor([[1.0, 2.0], [3.0, 4.0]])
    copied = torch.tensor(t)  # a copy, as torch.tensor always makes
    shared = torch.as_tensor(t)  # shares
    assert copied.dtype == torch.float32 and copied.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    shared[0, 0] = 10.0
    copied[1, 1] = -1.0
    assert t.tolist() == [[10.0, 2.0], [3.0, 4.0]]
    for scalar in (mg.tensor(3.5), mg.tensor(7), mg.tensor(True)):  # 0-d: "len() of a 0-d" before
        assert torch.tensor(scalar).item() == scalar.item()
        assert torch.as_tensor(scalar).shape == ()
    assert torch.tensor(mg.arange(5)).dtype == torch.int64


def test_torch_requires_grad_both_ways():
    torch = pytest.importorskip("torch")
    x = mg.tensor([1.0], requires_grad=True)
    with pytest.raises(BufferError, match="detach"):
        torch.from_dlpack(x)
    with pytest.raises(BufferError, match="detach"):
        torch.as_tensor(x)
    with pytest.raises(BufferError):  # torch's own refusal, passed on
        mg.from_dlpack(torch.ones(2, requires_grad=True))
    assert mg.from_dlpack(torch.ones(2, requires_grad=True).detach()).tolist() == [1.0, 1.0]


def test_torch_unsupported_dtype_and_capsule():
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match="from_dlpack: cannot share Tensor of dtype torch.bfloat16"):
        mg.from_dlpack(torch.ones(2, dtype=torch.bfloat16))
    with pytest.raises(TypeError, match="bare DLPack capsule"):
        mg.from_dlpack(torch.utils.dlpack.to_dlpack(torch.ones(2)))


def test_round_trip_through_torch_keeps_values():
    torch = pytest.importorskip("torch")
    mg.manual_seed(0)
    x = mg.randn(3, 4, dtype=mg.float64)
    back = mg.from_dlpack(torch.from_dlpack(x) * 2)  # torch computes, minigrad reads
    np.testing.assert_array_equal(back.numpy(), x.numpy() * 2)


# ---------------------------------------------------------------------------- cuda


@pytest.mark.parametrize("device", ["cuda"], indirect=True)
def test_cuda_tensor_dlpack(device):
    t = mg.tensor([1.0, 2.0, 3.0], device=device)
    assert t.__dlpack_device__() == (2, 0)
    u = mg.from_dlpack(t)  # minigrad to minigrad: shared, stays on the device
    assert u.device == t.device
    xp = t.device.xp
    u._data[1] = 20.0
    assert t.tolist() == [1.0, 20.0, 3.0]
    a = xp.asarray(np.arange(4.0))
    v = mg.from_dlpack(a)
    assert v.device == device and v.tolist() == [0.0, 1.0, 2.0, 3.0]
    a[2] = -2.0
    assert v.tolist()[2] == -2.0
    with pytest.raises(BufferError, match="detach"):
        mg.tensor([1.0], device=device, requires_grad=True).__dlpack__()
    if mg.cuda.is_emulated():
        with pytest.raises(BufferError, match="MINIGRAD_FAKE_CUDA"):
            t.__dlpack__()
        with pytest.raises(TypeError, match="can't convert a cuda:0 tensor to numpy"):
            np.asarray(t)
    else:
        shared = xp.from_dlpack(t)
        shared[2] = 30.0
        assert t.tolist() == [1.0, 20.0, 30.0]


@pytest.mark.parametrize("device", ["cuda"], indirect=True)
def test_cuda_with_torch(device):
    torch = pytest.importorskip("torch")
    if mg.cuda.is_emulated() or not torch.cuda.is_available():
        pytest.skip("needs a GPU and a CUDA build of torch")
    t = mg.tensor([1.0, 2.0], device=device)
    tt = torch.from_dlpack(t)
    assert tt.is_cuda
    tt[0] = 4.0
    torch.cuda.synchronize()
    assert t.tolist() == [4.0, 2.0]
    src = torch.arange(3.0, device="cuda")
    v = mg.from_dlpack(src)
    assert v.device == "cuda:0"
    src[1] = 9.0
    torch.cuda.synchronize()
    assert v.tolist() == [0.0, 9.0, 2.0]
