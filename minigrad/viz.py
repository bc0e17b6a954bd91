"""Draw the computation graph behind a tensor (Graphviz DOT).

Every op you call on tensors that require grad is recorded as a node of a graph; `backward`
walks that graph from the loss back to the leaves. This module lets you *see* it:

>>> import minigrad as mg
>>> w = mg.randn(3, 2, requires_grad=True)
>>> x = mg.randn(4, 3)
>>> loss = (x @ w).relu().sum()
>>> print(mg.viz.to_dot(loss, params={"w": w}))         # DOT text, no dependency  # doctest: +SKIP
>>> mg.viz.render(loss, "graph", params={"w": w})       # -> "graph.svg"  # doctest: +SKIP

With a model, name the parameters: `mg.viz.render(loss, "graph",
params=dict(model.named_parameters()))`.

How to read the picture (arrows follow the data, input -> op -> output):

- **Boxes** are op applications ("Matmul", "Relu", ...) with the shape and dtype of what
  they produced. An op used twice is two boxes: the graph records each *call*, because each
  call saved its own inputs for backward.
- **Green ellipses** are leaves that require grad (parameters): backward fills their `.grad`.
  Their name is shown when you pass `params`.
- **Grey dashed ellipses** are constants (tensors that do not require grad). Ops record no
  edge to them (there is no gradient to send there), so they only appear when the tensor
  you draw is itself a constant.
- **The yellow octagon** is the tensor you asked to draw.
- **Orange boxes** were recorded *during a backward pass* run with `create_graph=True`:
  they are the graph of the gradient itself, which is what makes a second derivative (or a
  gradient penalty) possible.

`render` needs Graphviz's `dot` program (`apt-get install graphviz`, `brew install
graphviz`, `conda install graphviz`); without it, it writes the `.dot` file and tells you
the command to run, or paste the text into an online Graphviz viewer.
"""

import os
import re
import shlex
import shutil
import subprocess

from .tensor import Tensor

__all__ = ["to_dot", "render"]

_OP_STYLE = 'shape=box, style="rounded,filled", fillcolor="#dbe9f6"'
_BACKWARD_OP_STYLE = 'shape=box, style="rounded,filled", fillcolor="#fdd0a2", color="#d94801"'
_PARAM_STYLE = 'shape=ellipse, style=filled, fillcolor="#c7e9c0"'
_CONST_STYLE = 'shape=ellipse, style=dashed, color="#888888", fontcolor="#555555"'
_OUTPUT_STYLE = 'shape=doubleoctagon, style=filled, fillcolor="#fff3b0"'


def _quote(text):
    """A DOT double-quoted string; newlines become DOT's centred line breaks."""
    text = str(text).replace("\\", "\\\\").replace('"', '\\"')
    return '"' + text.replace("\r", "").replace("\n", "\\n") + '"'


def _shape_str(shape):
    return str(tuple(int(d) for d in shape))


def _meta(shape, dtype):
    return f"{_shape_str(shape)} {dtype}"


def _param_names(params):
    """id(tensor) -> name, from a dict or an iterable of (name, tensor) pairs."""
    if params is None:
        return {}
    items = params.items() if hasattr(params, "items") else params
    names = {}
    for name, t in items:
        if isinstance(t, Tensor):
            names.setdefault(id(t), str(name))
    return names


def to_dot(tensor, params=None):
    """Graphviz DOT source of the graph that produced `tensor` (or a list of tensors).

    One node per op application (op name, output shape and dtype), one per leaf tensor
    requiring grad (shape, dtype, and its name when `params` maps names to tensors, e.g.
    `dict(model.named_parameters())`), one for the output; edges go input -> op -> output.
    Nodes recorded by a `create_graph=True` backward are marked "(backward)" and drawn in
    orange. The walk is iterative, so very deep graphs are fine (Graphviz may be slow to
    lay them out, though).
    """
    roots = [tensor] if isinstance(tensor, Tensor) else list(tensor)
    for r in roots:
        if not isinstance(r, Tensor):
            raise TypeError(f"to_dot expects a Tensor or a list of Tensors, got {type(r).__name__}")
    names = _param_names(params)

    lines = []
    edges = []
    declared_leaves = set()
    seen_nodes = set()
    stack = []
    n_ops = 0

    def leaf_id(t):
        return f"leaf{id(t)}"

    def declare_leaf(t, extra=""):
        if id(t) in declared_leaves:
            return
        declared_leaves.add(id(t))
        label = _meta(t.shape, t.dtype)
        if id(t) in names:
            label = f"{names[id(t)]}\n{label}"
        if extra:
            label = f"{extra}\n{label}"
        style = _PARAM_STYLE if t.requires_grad else _CONST_STYLE
        if extra:
            style = _OUTPUT_STYLE
        lines.append(f"  {leaf_id(t)} [label={_quote(label)}, {style}];")

    def visit(node):
        if id(node) not in seen_nodes:
            seen_nodes.add(id(node))
            stack.append(node)

    # The requested tensors: an output node fed by its op, or the leaf itself.
    for i, r in enumerate(roots):
        title = "output" if len(roots) == 1 else f"output {i}"
        if r.grad_fn is None:
            declare_leaf(r, extra=title)
            continue
        label = f"{title}\n{_meta(r.shape, r.dtype)}"
        if id(r) in names:
            label = f"{title}: {names[id(r)]}\n{_meta(r.shape, r.dtype)}"
        out_id = f"out{id(r)}"
        lines.append(f"  {out_id} [label={_quote(label)}, {_OUTPUT_STYLE}];")
        edges.append(_edge(r.grad_fn, r._output_nr, out_id))
        visit(r.grad_fn)

    while stack:
        node = stack.pop()
        n_ops += 1
        outs = node.out_meta
        meta = "\n".join(
            (f"[{k}] " if len(outs) > 1 else "") + _meta(shape, dtype)
            for k, (shape, dtype) in enumerate(outs)
        )
        op_name = getattr(node.fn, "__name__", type(node.fn).__name__)
        in_backward = getattr(node, "in_backward", False)
        label = f"{op_name}\n{meta}" + ("\n(backward)" if in_backward else "")
        style = _BACKWARD_OP_STYLE if in_backward else _OP_STYLE
        lines.append(f"  op{id(node)} [label={_quote(label)}, {style}];")
        for edge in node.edges:
            if edge is None:
                continue
            source, output_nr = edge
            if output_nr is None:  # a leaf tensor that requires grad
                declare_leaf(source)
                edges.append(f"  {leaf_id(source)} -> op{id(node)};")
            else:
                edges.append(_edge(source, output_nr, f"op{id(node)}"))
                visit(source)

    header = [
        "digraph minigrad {",
        f"  // {n_ops} op applications, {len(declared_leaves)} leaves; edges follow the data",
        "  rankdir=TB;",
        '  node [fontname="Helvetica", fontsize=11];',
        '  edge [color="#555555"];',
    ]
    return "\n".join(header + lines + edges + ["}"]) + "\n"


def _edge(node, output_nr, target_id):
    """node's output `output_nr` -> target; labelled with the output index if several."""
    if len(node.out_meta) > 1:
        return f"  op{id(node)} -> {target_id} [label={_quote(output_nr)}];"
    return f"  op{id(node)} -> {target_id};"


def _output_paths(path, format):
    path = os.fspath(path)
    root, ext = os.path.splitext(path)
    suffix = format.split(":")[0]  # "png:cairo" -> .png
    base = root if ext.lower() in (f".{suffix.lower()}", ".dot") else path
    return base + "." + suffix, base + ".dot"


def render(tensor, path, format="svg", params=None):
    """Draw the graph of `tensor` to `path` with Graphviz's `dot` and return the file's path.

    The extension `.<format>` is added when `path` lacks it ("graph" -> "graph.svg"). Without
    `dot` on the PATH, writes `<path>.dot` instead, prints the command that renders it, and
    returns the `.dot` path.
    """
    if not isinstance(format, str) or not re.fullmatch(r"[A-Za-z0-9_:]+", format):
        raise ValueError(
            f"render: format must be a Graphviz output format like 'svg' or 'png', got {format!r}"
        )
    source = to_dot(tensor, params=params)
    out_path, dot_path = _output_paths(path, format)
    exe = shutil.which("dot")
    if exe is None:
        with open(dot_path, "w", encoding="utf-8") as f:
            f.write(source)
        print(
            f"Graphviz's `dot` was not found, so the graph was saved as DOT source: {dot_path}\n"
            f"Render it with:\n"
            f"    dot -T{format} {shlex.quote(dot_path)} -o {shlex.quote(out_path)}\n"
            f"(install Graphviz with e.g. `apt-get install graphviz`, `brew install graphviz` "
            f"or `conda install graphviz`, or paste the file into an online Graphviz viewer)"
        )
        return dot_path
    proc = subprocess.run(
        [exe, f"-T{format}", "-o", out_path], input=source.encode("utf-8"), capture_output=True
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"render: `dot -T{format}` failed (exit {proc.returncode}): "
            f"{proc.stderr.decode('utf-8', 'replace').strip()}"
        )
    return out_path
