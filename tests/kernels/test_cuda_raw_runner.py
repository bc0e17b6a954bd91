"""The GPU launch path (RawModuleRunner) without a GPU: a stand-in `cupy` module records what
the runner hands to cupy.RawModule and to the kernel call, and executes each kernel call
through the host emulation, so the whole real path (compile options, name expressions, one
module per device, device context, tuple grid/block, typed arguments, block-size limit) is
exercised end to end with numbers checked against the reference."""

import shutil
import sys
import types

import numpy as np
import pytest

from minigrad.backend import cuda, cuda_runners, cuda_sources, reference

pytestmark = pytest.mark.skipif(shutil.which(cuda_runners.CXX) is None,
                                reason="the kernel calls run through the CUDA emulation")


class FakeGpuArray:
    """A device array as CuPy has it: no `_host` (so the RawModule runner is chosen)."""

    def __init__(self, data, device_id=0):
        self.data, self.device = np.ascontiguousarray(data), types.SimpleNamespace(id=device_id)

    shape = property(lambda self: self.data.shape)
    dtype = property(lambda self: self.data.dtype)
    ndim = property(lambda self: self.data.ndim)
    size = property(lambda self: self.data.size)
    flags = property(lambda self: self.data.flags)

    def reshape(self, *shape):
        view = FakeGpuArray.__new__(FakeGpuArray)
        view.data, view.device = self.data.reshape(*shape), self.device
        return view

    def __getitem__(self, key):
        return FakeGpuArray(self.data[key], self.device.id)

    def item(self):
        return self.data.item()

    def sum(self, axis=None):
        return FakeGpuArray(self.data.sum(axis=axis), self.device.id)


class FakeCupy(types.ModuleType):
    def __init__(self):
        super().__init__("cupy")
        self.modules, self.calls, self.current = [], [], [0]
        outer = self

        class Device:
            def __init__(self, index):
                self.index = index

            def __enter__(self):
                outer.current.append(self.index)

            def __exit__(self, *exc):
                outer.current.pop()

        class Kernel:
            max_threads_per_block = 1024

            def __init__(self, module, name):
                self.module, self.name = module, name

            def __call__(self, grid, block, args, shared_mem=0):
                assert type(grid) is tuple and type(block) is tuple and type(args) is tuple
                outer.calls.append((self.name, grid, block, args, shared_mem, outer.current[-1]))
                host = tuple(a.data if isinstance(a, FakeGpuArray) else a for a in args)
                cuda.emulated_runner().launch(self.module.family, self.name, grid, block, host,
                                              shared_mem=shared_mem)

        class RawModule:
            def __init__(self, code, options, name_expressions):
                self.code, self.options, self.names = code, options, name_expressions
                self.family = next(m for m in cuda_sources.MODULES
                                   if cuda_sources.module_source(m) == code)
                self.device = outer.current[-1]
                outer.modules.append(self)

            def get_function(self, name):
                assert name in self.names
                return Kernel(self, name)

        self.cuda = types.SimpleNamespace(Device=Device)
        self.RawModule = RawModule
        self.Device = Device

    def empty(self, shape, dtype):
        return FakeGpuArray(np.empty(shape, dtype), self.current[-1])

    def zeros(self, shape, dtype):
        return FakeGpuArray(np.zeros(shape, dtype), self.current[-1])

    def ascontiguousarray(self, a):
        return FakeGpuArray(a.data, a.device.id)

    def broadcast_to(self, a, shape):
        return FakeGpuArray(np.broadcast_to(a.data, shape), a.device.id)


@pytest.fixture
def fake_cupy(monkeypatch):
    module = FakeCupy()
    monkeypatch.setitem(sys.modules, "cupy", module)
    monkeypatch.setattr(cuda, "_array_module", lambda device_id: module)
    cuda._raw_runner.cache_clear()
    yield module
    cuda._raw_runner.cache_clear()


def test_matmul_through_the_raw_module_path(fake_cupy):
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((3, 40, 9)), rng.standard_normal((9, 33))
    out = cuda.matmul(FakeGpuArray(a), FakeGpuArray(b))
    np.testing.assert_allclose(out.data, reference.matmul(a, b), rtol=1e-12, atol=1e-12)
    (module,) = fake_cupy.modules
    assert module.code == cuda_sources.module_source("gemm")
    assert module.options == cuda_sources.COMPILE_OPTIONS == ("-std=c++17",)  # no -arch
    assert module.names == cuda_sources.name_expressions("gemm")
    (name, grid, block, args, shared_mem, device), = fake_cupy.calls
    assert name.startswith("mg_gemm<double,") and shared_mem == 0 and device == 0
    scalars = [a for a in args if not isinstance(a, FakeGpuArray)]
    assert scalars and all(type(s) is np.int64 for s in scalars)


def test_one_module_per_device_compiled_once(fake_cupy):
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((2, 3, 6, 6)), rng.standard_normal((4, 3, 3, 3))
    for device in (0, 1, 1, 0):
        y = cuda.conv2d_forward(FakeGpuArray(x, device), FakeGpuArray(w, device), None,
                                (1, 1), (1, 1))
        assert y.device.id == device
        np.testing.assert_allclose(y.data, reference.conv2d_forward(x, w, None, (1, 1), (1, 1)),
                                   rtol=1e-12, atol=1e-12)
    built = sorted((m.family, m.device) for m in fake_cupy.modules)
    assert built == [("conv", 0), ("conv", 1), ("gemm", 0), ("gemm", 1)]
    assert {call[5] for call in fake_cupy.calls} == {0, 1}  # launched on the arrays' device


def test_pooling_through_the_raw_module_path(fake_cupy):
    x = np.random.default_rng(2).standard_normal((2, 2, 5, 7)).astype(np.float32)
    y, argmax = cuda.max_pool2d_forward(FakeGpuArray(x), (3, 2), (2, 2), (1, 1))
    ref_y, ref_argmax = reference.max_pool2d_forward(x, (3, 2), (2, 2), (1, 1))
    np.testing.assert_array_equal(y.data, ref_y)
    np.testing.assert_array_equal(argmax.data, ref_argmax)
    gx = cuda.max_pool2d_backward(y, argmax, x.shape, (3, 2), (2, 2), (1, 1))
    np.testing.assert_allclose(gx.data, reference.max_pool2d_backward(
        ref_y, ref_argmax, x.shape, (3, 2), (2, 2), (1, 1)), rtol=1e-6)


def test_block_larger_than_the_kernel_allows_is_refused(fake_cupy):
    runner = cuda_runners.RawModuleRunner()
    a = FakeGpuArray(np.zeros(4, np.float32))
    with pytest.raises(RuntimeError, match="block of 2048 threads exceeds"):
        runner.launch("conv", "mg_swap01<float>", (1,), (2048,),
                      (a, a, np.int64(1), np.int64(1), np.int64(4)), device_id=0)
