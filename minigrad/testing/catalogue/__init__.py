"""The op catalogue: every public op declared once (see docs/adding-an-op.md).

Each `Entry` (entry.py) names the op's public function, where it is exposed (mg., Tensor.,
F., an nn module), its torch counterpart as a dotted path, its order of differentiability
and its `Case`s (samplers, numpy reference, arguments). Everything else is derived here:

- `exports(where)`: the names of mg / F / nn / the ops package (minigrad/__init__.py,
  nn/functional.py, nn/__init__.py and ops/__init__.py bind them);
- `install_methods(Tensor)`: the Tensor methods;
- `specs()`: one `OpSpec` per case, which the gradcheck, gradgradcheck (second-order cases),
  numpy-forward, torch-oracle, completeness and public-API tests and `minigrad gradcheck`
  iterate.

Entries live in one file per family, beside the ops they describe: catalogue/elementwise.py
for minigrad/ops/elementwise.py, and so on. This module imports numpy only (`import minigrad`
runs it); torch is resolved from the dotted paths when a test calls it.
"""

import dataclasses

from . import (
    conv, elementwise, factories, indexing, intdiv, linalg, linalg_extra, nn, predicates, reduce,
    reduce_extra, reorder, scatter, shape, sorting, special,
)
from .entry import DERIVED, EXPOSURES, Case, Entry, resolve  # noqa: F401

_FAMILIES = (elementwise, special, intdiv, predicates, reduce, reduce_extra, linalg, linalg_extra,
             shape, reorder, indexing, scatter, sorting, factories, conv, nn)


def _entries():
    out = []
    for family in _FAMILIES:
        for entry in family.ENTRIES:
            extra = nn.F_CASES.get(entry.name, ())
            out.append(dataclasses.replace(entry, cases=entry.cases + extra) if extra else entry)
    return tuple(out)


ENTRIES = _entries()
BY_NAME = {entry.name: entry for entry in ENTRIES}


def entries(where=None):
    """All entries, or those exposed at `where` ("mg", "Tensor", "F" or "nn")."""
    if where is None:
        return ENTRIES
    if where == "nn":
        return tuple(e for e in ENTRIES if e.nn)
    if where not in EXPOSURES:
        raise ValueError(f"unknown exposure {where!r}; one of {EXPOSURES + ('nn',)}")
    return tuple(e for e in ENTRIES if where in e.expose)


def nn_paths(entry):
    """The nn module classes of an entry as paths under minigrad.nn (a tuple)."""
    if not entry.nn:
        return ()
    return (entry.nn,) if isinstance(entry.nn, str) else tuple(entry.nn)


def public_names(where):
    """The public names exposed at `where`, aliases included, in catalogue order."""
    if where == "nn":
        return [p.rsplit(".", 1)[1] for e in entries("nn") for p in nn_paths(e)]
    return [n for e in entries(where) for n in (e.name,) + tuple(e.aliases)]


def exports(where, skip=()):
    """{public name: object} for `where`: "mg", "F", "nn" or "ops" (the ops package: every
    entry whose function lives in minigrad/ops). Names in `skip` are left out (a module
    that defines its own version, e.g. F.relu with inplace=)."""
    out = {}
    if where == "nn":
        for e in entries("nn"):
            for p in nn_paths(e):
                out[p.rsplit(".", 1)[1]] = resolve("minigrad.nn." + p)
    else:
        chosen = ([e for e in ENTRIES if e.impl.startswith("minigrad.ops.")] if where == "ops"
                  else entries(where))
        for e in chosen:
            path = e.F_impl if where == "F" and e.F_impl else e.impl
            if path.startswith("minigrad.nn.functional."):
                continue  # defined in nn/functional.py itself
            obj = None
            for name in (e.name,) + tuple(e.aliases):
                if name not in skip:
                    obj = obj or resolve(path)
                    out[name] = obj
    return out


def install_methods(tensor_class):
    """Make each op exposed at "Tensor" a method: Tensor.<name> is the op's public function
    itself (so `x.exp()` is `mg.exp(x)`), unless the class defines its own."""
    for e in entries("Tensor"):
        fn = None
        for name in (e.name,) + tuple(e.aliases):
            if name not in tensor_class.__dict__:
                fn = fn or resolve(e.impl)
                setattr(tensor_class, name, fn)


def specs():
    """One OpSpec per case of every entry, in catalogue order."""
    return [spec for e in ENTRIES for spec in e.specs()]
