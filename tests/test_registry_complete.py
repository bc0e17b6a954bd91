"""The op catalogue is complete and consistent: every public op function of minigrad/ops and
of mg.nn.functional has an entry, every entry is exercised by cases that match its order of
differentiability, and every exposure it declares exists. Nothing here is kept by hand:
adding an op means its Op module and one catalogue entry (docs/adding-an-op.md).
"""

import importlib
import inspect
import pkgutil

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn.functional as F
from minigrad import nn, ops
from minigrad.testing import catalogue
from minigrad.testing.opspecs import ALL_SPECS, SPECS_BY_NAME

ENTRIES = catalogue.ENTRIES
OP_MODULES = [importlib.import_module(f"minigrad.ops.{m.name}") for m in pkgutil.iter_modules(ops.__path__)
              if m.name != "common"]
# Public helpers of the op modules that are not ops (argument checks, key normalisation).
NOT_OPS = {"normalize_key"}


def _entry_functions():
    return {id(catalogue.resolve(e.impl)) for e in ENTRIES if not e.impl.startswith("minigrad.tensor.")}


def test_names_are_unique():
    names = [e.name for e in ENTRIES]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)
    specs = [s.name for s in ALL_SPECS]
    assert len(specs) == len(set(specs)) == len(SPECS_BY_NAME)


@pytest.mark.parametrize("module", OP_MODULES, ids=lambda m: m.__name__)
def test_every_public_op_function_has_an_entry(module):
    known = _entry_functions()
    missing = [name for name, obj in vars(module).items()
               if inspect.isfunction(obj) and obj.__module__ == module.__name__
               and not name.startswith("_") and name not in NOT_OPS and id(obj) not in known]
    assert not missing, f"{module.__name__}: public functions without a catalogue entry: {missing}"


def test_every_name_of_F_has_an_entry():
    ours = set(catalogue.public_names("F"))
    public = {n for n, obj in vars(F).items() if callable(obj) and not n.startswith("_")
              and getattr(obj, "__module__", "").startswith("minigrad.")
              and not inspect.isclass(obj) and not inspect.ismodule(obj)
              and getattr(obj, "__module__", "") == "minigrad.nn.functional"}
    assert public <= ours, f"F functions without a catalogue entry: {sorted(public - ours)}"
    assert sorted(F.__all__) == sorted(ours)


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.name)
def test_entry_is_well_formed(entry):
    assert entry.order in (0, 1, 2)
    assert set(entry.expose) <= set(catalogue.EXPOSURES)
    assert entry.expose or entry.operator, f"{entry.name} is exposed nowhere"
    assert entry.cases or entry.note, f"{entry.name}: no cases and no note saying where it is tested"
    specs = entry.specs()
    assert all(s.differentiable == (entry.order > 0) for s in specs)
    if entry.order >= 2 and entry.cases:
        assert any(s.second_order for s in specs), f"{entry.name}: order 2 but no second-order case"
    rng = np.random.default_rng(0)
    for s in specs:
        assert s.shape_cases(rng), f"{s.name} has no shape cases"


@pytest.mark.parametrize("entry", [e for e in ENTRIES if e.cases], ids=lambda e: e.name)
def test_cases_run_and_match_the_order(entry):
    """Each case's fn runs on its first sample; differentiable entries give a graph, order-0
    ones give no gradient (their outputs are bool/int or detached)."""
    rng = np.random.default_rng(1)
    for spec in entry.specs():
        arrays = spec.sample(rng, spec.shape_cases(rng)[0])
        out = spec.fn(*[mg.tensor(a, requires_grad=entry.order > 0) for a in arrays])
        assert isinstance(out, mg.Tensor)
        assert out.requires_grad == (entry.order > 0 and out.dtype.kind == "f"), spec.name


def _exposures():
    for e in ENTRIES:
        for where in e.expose:
            for name in (e.name,) + tuple(e.aliases):
                yield e, where, name
        if e.operator:
            yield e, "operator", e.operator
        for path in catalogue.nn_paths(e):
            yield e, "nn", path.rsplit(".", 1)[1]


@pytest.mark.parametrize("entry,where,name", list(_exposures()),
                         ids=lambda v: v if isinstance(v, str) else getattr(v, "name", ""))
def test_exposure_exists(entry, where, name):
    owner = {"mg": mg, "Tensor": mg.Tensor, "F": F, "operator": mg.Tensor, "nn": nn}[where]
    obj = getattr(owner, name, None)
    assert obj is not None, f"{where}.{name} is missing"
    if where == "nn":
        assert issubclass(obj, nn.Module)
        return
    if where == "mg" or (where == "F" and not entry.F_impl):
        assert obj is catalogue.resolve(entry.impl), f"{where}.{name} is not {entry.impl}"
    if where == "F" and entry.F_impl:
        assert obj is catalogue.resolve(entry.F_impl)
    if where == "Tensor" and name not in vars(mg.Tensor):
        pytest.fail(f"Tensor.{name} is not defined on the class")


def test_exports_are_only_the_catalogue():
    """mg's op functions are exactly the entries exposed at "mg" (nothing left hand-written
    beside them that the catalogue does not know)."""
    op_functions = {n for n, obj in vars(mg).items() if inspect.isfunction(obj)
                    and obj.__module__.startswith("minigrad.ops.")}
    assert op_functions == set(catalogue.public_names("mg"))


UNARY_ENTRY_POINTS = [e.name for e in catalogue.entries("mg") if "Tensor" in e.expose
                      and e.order > 0 and len(inspect.signature(catalogue.resolve(e.impl)).parameters) >= 1
                      and e.name in ("exp", "log", "sqrt", "abs", "sin", "cos", "relu", "sigmoid",
                                     "tanh", "leaky_relu", "neg", "clone", "sum", "mean", "max",
                                     "min", "var", "std", "logsumexp", "flatten", "squeeze")]


@pytest.mark.parametrize("name", UNARY_ENTRY_POINTS)
def test_module_function_equals_method(name):
    x = mg.tensor(np.linspace(0.3, 2.0, 12).reshape(3, 4))
    np.testing.assert_array_equal(getattr(mg, name)(x).numpy(), getattr(x, name)().numpy())


def test_operators_equal_functions():
    a = mg.tensor(np.linspace(0.5, 2.0, 6).reshape(2, 3))
    b = mg.tensor(np.linspace(1.0, 3.0, 3))
    pairs = [(a + b, mg.add(a, b)), (a - b, mg.sub(a, b)), (a * b, mg.mul(a, b)),
             (a / b, mg.div(a, b)), (a ** b, mg.pow(a, b)), (-a, mg.neg(a)),
             (a @ b, mg.matmul(a, b)), (a.T, mg.transpose(a, 0, 1))]
    for op_result, fn_result in pairs:
        np.testing.assert_array_equal(op_result.numpy(), fn_result.numpy())


def test_a_broken_entry_is_caught():
    """The completeness checks can fail: an entry pointing at a missing function, and one with
    no cases and no note, are both reported."""
    bad = catalogue.Entry("nonexistent_op", "minigrad.ops.elementwise.nonexistent_op")
    with pytest.raises(AttributeError, match="nonexistent_op"):
        catalogue.resolve(bad.impl)
    with pytest.raises(AssertionError, match="no cases"):
        test_entry_is_well_formed(bad)
