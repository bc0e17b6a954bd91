"""Every name API.md lists is importable under that exact spelling (no typos in public names).

The ops' names (mg.exp, F.gelu, nn.Softplus, ...) come from the op catalogue; the lists here
hold the rest (factories, autograd, modules that are not ops, ...).
"""

import importlib

import numpy as np
import pytest

import minigrad as mg
from minigrad.testing import catalogue

TOP_LEVEL = [
    "tensor", "Tensor", "from_numpy", "Device", "device",
    # factories
    "zeros", "ones", "full", "empty", "arange", "eye", "rand", "randn", "randint", "zeros_like",
    "ones_like", "full_like", "randn_like",
    # dtypes
    "float32", "float64", "int64", "bool",
    # autograd
    "Function", "no_grad", "enable_grad", "grad", "gradcheck", "gradgradcheck", "GradcheckError",
    "manual_seed", "detect_anomaly", "backend_info",
    # saving, interop
    "save", "load", "from_dlpack",
] + catalogue.public_names("mg")

SUBMODULE_NAMES = {
    "cuda": ["is_available", "device_count"],
    "nn": ["Module", "Parameter", "ModuleList", "Sequential", "ModuleDict", "ParameterList",
           "Identity", "Unflatten", "init", "functional"] + catalogue.public_names("nn"),
    "nn.init": ["kaiming_uniform_", "kaiming_normal_", "xavier_uniform_", "xavier_normal_",
                "zeros_", "ones_", "normal_", "uniform_"],
    "nn.functional": catalogue.public_names("F"),
    "optim": ["SGD", "Adam", "AdamW", "RMSprop", "lr_scheduler"],
    "optim.lr_scheduler": ["StepLR", "CosineAnnealingLR"],
    "data": ["Dataset", "TensorDataset", "DataLoader", "load_digits", "load_mnist"],
    "viz": ["to_dot", "render"],
}

TENSOR_ATTRIBUTES = [
    "shape", "ndim", "dtype", "device", "grad", "requires_grad", "is_leaf", "grad_fn", "T",
    "numpy", "item", "tolist", "__array__", "to", "cpu", "cuda", "float", "double", "detach",
    "clone", "requires_grad_", "size", "numel", "__len__", "__repr__", "backward",
    "__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__", "__truediv__",
    "__rtruediv__", "__pow__", "__rpow__", "__matmul__", "__neg__", "__eq__", "__ne__", "__lt__",
    "__le__", "__gt__", "__ge__", "__iadd__", "__isub__", "__imul__", "__itruediv__",
    "__getitem__", "__setitem__", "__dlpack__", "__dlpack_device__",
    "add_", "sub_", "mul_", "div_", "zero_", "fill_", "copy_", "uniform_", "normal_",
] + catalogue.public_names("Tensor")


@pytest.mark.parametrize("name", TOP_LEVEL)
def test_top_level_name(name):
    assert hasattr(mg, name), f"mg.{name} is missing"


@pytest.mark.parametrize("module,name", [(m, n) for m, names in SUBMODULE_NAMES.items() for n in names])
def test_submodule_name(module, name):
    mod = importlib.import_module(f"minigrad.{module}")
    assert hasattr(mod, name), f"mg.{module}.{name} is missing"
    # Reachable as an attribute chain from the package too (mg.nn.functional.conv2d, ...).
    obj = mg
    for part in module.split("."):
        obj = getattr(obj, part)
    assert getattr(obj, name) is getattr(mod, name)


@pytest.mark.parametrize("name", TENSOR_ATTRIBUTES)
def test_tensor_attribute(name):
    x = mg.tensor([1.0, 2.0])  # grad / grad_fn are per-instance attributes
    assert hasattr(x, name), f"Tensor.{name} is missing"


def test_gradcheck_error_is_a_runtime_error():
    assert issubclass(mg.GradcheckError, RuntimeError)


def test_dtypes_are_numpy_compatible():
    assert np.dtype(mg.float32) == np.float32
    assert np.dtype(mg.float64) == np.float64
    assert np.dtype(mg.int64) == np.int64
    assert np.dtype(mg.bool) == np.bool_


def test_cuda_queries_do_not_raise():
    assert isinstance(mg.cuda.is_available(), bool)
    assert isinstance(mg.cuda.device_count(), int)
    assert isinstance(mg.backend_info(), dict)


def test_no_grad_and_enable_grad_work_as_decorators():
    x = mg.tensor([1.0, 2.0], requires_grad=True)

    @mg.no_grad()
    def f(t):
        return t * 2

    @mg.enable_grad()
    def g(t):
        return t * 2

    assert not f(x).requires_grad
    with mg.no_grad():
        assert g(x).requires_grad


def test_help_gives_the_map():
    """help(minigrad) names the subpackages and entry points a newcomer needs."""
    import pydoc

    text = pydoc.render_doc(mg, renderer=pydoc.plaintext)
    for name in ("mg.nn", "mg.optim", "mg.data", "mg.viz", "mg.gradcheck", "mg.save", "mg.load",
                 "mg.from_dlpack", "mg.testing", "python -m minigrad"):
        assert name in text, name
    for module in ("nn", "optim", "data", "viz", "gradcheck", "serialization", "interop"):
        doc = importlib.import_module(f"minigrad.{module}").__doc__ or ""
        assert len(doc.strip().splitlines()) >= 3, f"minigrad.{module} has no docstring map"
