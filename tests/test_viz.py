"""mg.viz: DOT text checked structurally (parsed, not string-matched), and render() with and
without Graphviz's `dot`."""

import re
import shutil
from collections import Counter

import numpy as np
import pytest

import minigrad as mg
from minigrad import viz

# ----------------------------------------------------------------------------- a DOT parser

_NODE = re.compile(r"^\s*(\w+) \[(.*)\];$")
_EDGE = re.compile(r"^\s*(\w+) -> (\w+)(?: \[(.*)\])?;$")
_ATTR = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|[^,\s\]]+)')


def _unquote(value):
    if not value.startswith('"'):
        return value
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), value[1:-1])


def _attrs(text):
    return {k: _unquote(v) for k, v in _ATTR.findall(text or "")}


def parse_dot(source):
    """-> (nodes: id -> attrs, edges: [(src, dst, attrs)]); fails on any line it can't read."""
    lines = source.strip().splitlines()
    assert lines[0] == "digraph minigrad {" and lines[-1] == "}"
    nodes, edges = {}, []
    for line in lines[1:-1]:
        s = line.strip()
        if not s or s.startswith("//") or s.startswith(("rankdir", "node [", "edge [")):
            continue
        m = _EDGE.match(line)
        if m:
            edges.append((m.group(1), m.group(2), _attrs(m.group(3))))
            continue
        m = _NODE.match(line)
        assert m, f"unparsable DOT line: {line!r}"
        assert m.group(1) not in nodes, f"node {m.group(1)} declared twice"
        nodes[m.group(1)] = _attrs(m.group(2))
    return nodes, edges


def check_structure(nodes, edges):
    """Every edge joins declared nodes; the graph is a DAG whose sinks are the outputs."""
    for src, dst, _ in edges:
        assert src in nodes, f"edge from undeclared node {src}"
        assert dst in nodes, f"edge to undeclared node {dst}"
    indeg = Counter(dst for _, dst, _ in edges)
    outdeg = Counter(src for src, _, _ in edges)
    for nid, attrs in nodes.items():
        if nid.startswith("leaf"):
            assert indeg[nid] == 0, "a leaf has an incoming edge"
        if nid.startswith("out"):
            assert outdeg[nid] == 0 and indeg[nid] == 1
        if nid.startswith("op"):
            assert outdeg[nid] >= 1, f"op {attrs['label']!r} feeds nothing"
    # Kahn's algorithm: acyclic.
    remaining = dict(indeg)
    ready = [n for n in nodes if remaining.get(n, 0) == 0]
    succ = {}
    for src, dst, _ in edges:
        succ.setdefault(src, []).append(dst)
    done = 0
    while ready:
        n = ready.pop()
        done += 1
        for d in succ.get(n, ()):
            remaining[d] -= 1
            if remaining[d] == 0:
                ready.append(d)
    assert done == len(nodes), "the graph has a cycle"


def op_names(nodes):
    return Counter(a["label"].split("\n")[0] for n, a in nodes.items() if n.startswith("op"))


# ----------------------------------------------------------------------------- models


def _mlp_params():
    mg.manual_seed(0)
    return {
        "fc1.weight": mg.randn(4, 5, requires_grad=True),
        "fc1.bias": mg.zeros(5, requires_grad=True),
        "fc2.weight": mg.randn(5, 3, requires_grad=True),
        "fc2.bias": mg.zeros(3, requires_grad=True),
    }


def _mlp_loss(p):
    x, y = mg.randn(8, 4), mg.randn(8, 3)
    h = (x @ p["fc1.weight"] + p["fc1.bias"]).relu()
    d = h @ p["fc2.weight"] + p["fc2.bias"] - y
    return (d * d).sum()  # 8 op applications: 2 matmul, 2 add, relu, sub, mul, sum


def test_mlp_graph_structure_and_names():
    p = _mlp_params()
    loss = _mlp_loss(p)
    nodes, edges = parse_dot(viz.to_dot(loss, params=p))
    check_structure(nodes, edges)

    names = op_names(nodes)
    assert sum(names.values()) == 8
    assert names["MatMul"] == 2 and names["Add"] == 2  # one box per application
    leaves = {n: a for n, a in nodes.items() if n.startswith("leaf")}
    assert len(leaves) == 4
    labels = [a["label"] for a in leaves.values()]
    for name, t in p.items():
        (label,) = [lab for lab in labels if lab.split("\n")[0] == name]
        assert str(t.shape) in label and "float32" in label
    # Each parameter feeds exactly one op; the output is fed by the Sum.
    outdeg = Counter(src for src, _, _ in edges)
    assert all(outdeg[n] == 1 for n in leaves)
    (out,) = [n for n in nodes if n.startswith("out")]
    (src,) = [s for s, d, _ in edges if d == out]
    assert nodes[src]["label"].startswith("Sum\n()")
    # Parameters are styled apart from ops and the output.
    assert len({nodes[n]["fillcolor"] for n in leaves}) == 1
    assert nodes[next(iter(leaves))]["fillcolor"] != nodes[src]["fillcolor"]
    assert nodes[out]["shape"] == "doubleoctagon"


def test_params_as_named_pairs_and_unnamed():
    p = _mlp_params()
    loss = _mlp_loss(p)
    by_pairs = viz.to_dot(loss, params=list(p.items()))
    for name in p:
        assert name in by_pairs
    plain = viz.to_dot(loss)
    nodes, edges = parse_dot(plain)
    check_structure(nodes, edges)
    assert not any(name in plain for name in p)


def test_op_used_twice_appears_twice_and_reused_value_once():
    x = mg.tensor([0.5, -1.0], requires_grad=True)
    y = mg.tanh(mg.tanh(x))  # tanh applied twice: two nodes
    z = y * y  # y used twice by one Mul: one Tanh node feeding the Mul twice
    nodes, edges = parse_dot(viz.to_dot(z.sum()))
    check_structure(nodes, edges)
    assert op_names(nodes) == Counter({"Tanh": 2, "Mul": 1, "Sum": 1})
    (mul,) = [n for n, a in nodes.items() if a["label"].startswith("Mul")]
    assert len([s for s, d, _ in edges if d == mul]) == 2


def test_labels_are_escaped():
    w = mg.ones(2, requires_grad=True)
    weird = 'a "quoted"\\name\nline2 {x} -> <y>;'
    src = viz.to_dot((w * 2).sum(), params={weird: w})
    nodes, _ = parse_dot(src)
    (leaf,) = [a for n, a in nodes.items() if n.startswith("leaf")]
    assert leaf["label"].startswith(weird + "\n")


def test_deep_chain_is_walked_iteratively():
    x = mg.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0
    nodes, edges = parse_dot(viz.to_dot(y))
    assert op_names(nodes) == Counter({"Mul": 10_000})
    assert len(edges) == 10_001  # leaf -> first Mul, 9,999 between Muls, last Mul -> output


def test_create_graph_nodes_are_marked():
    p = _mlp_params()
    loss = _mlp_loss(p)
    assert "(backward)" not in viz.to_dot(loss)
    (g,) = mg.grad(loss, p["fc1.weight"], create_graph=True)
    assert g.grad_fn is not None and g.grad_fn.in_backward
    assert not loss.grad_fn.in_backward
    penalty = (g * g).sum()  # recorded after backward: not a gradient node
    assert not penalty.grad_fn.in_backward

    nodes, edges = parse_dot(viz.to_dot(penalty, params=p))
    check_structure(nodes, edges)
    ops = {n: a for n, a in nodes.items() if n.startswith("op")}
    marked = {n for n, a in ops.items() if a["label"].endswith("\n(backward)")}
    assert marked and len(marked) < len(ops)
    colors_marked = {ops[n]["fillcolor"] for n in marked}
    colors_plain = {a["fillcolor"] for n, a in ops.items() if n not in marked}
    assert len(colors_marked) == 1 and not colors_marked & colors_plain
    # The forward ops (e.g. the relu) the gradient graph reaches back into are not marked.
    assert any(not ops[n]["label"].endswith("(backward)") and ops[n]["label"].startswith(
        ("LeakyRelu", "Relu")) for n in ops)


def test_backward_flag_is_off_after_backward_and_off_without_create_graph():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward(create_graph=True)
    assert x.grad.grad_fn.in_backward
    assert not (x * 3).grad_fn.in_backward
    x.grad = None
    (x * x).sum().backward()
    assert x.grad.grad_fn is None


def test_multi_output_function_labels_edges():
    class Split(mg.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1.0, x * 2.0

        @staticmethod
        def backward(ctx, ga, gb):
            return ga + 2.0 * gb

    x = mg.tensor([1.0, 2.0], requires_grad=True)
    a, b = Split.apply(x)
    nodes, edges = parse_dot(viz.to_dot([a.sum(), b.sum()]))
    check_structure(nodes, edges)
    (split,) = [n for n, a_ in nodes.items() if a_["label"].startswith("Split")]
    assert "[0] (2,) float32" in nodes[split]["label"]
    assert sorted(e["label"] for s, _, e in edges if s == split) == ["0", "1"]
    assert len([n for n in nodes if n.startswith("out")]) == 2


def test_leaf_and_constant_roots():
    w = mg.ones(3, requires_grad=True)
    nodes, edges = parse_dot(viz.to_dot(w, params={"w": w}))
    assert edges == [] and len(nodes) == 1
    (attrs,) = nodes.values()
    assert attrs["label"].split("\n")[:2] == ["output", "w"]
    nodes, _ = parse_dot(viz.to_dot(mg.ones(2, 2) * 3))  # nothing requires grad
    (attrs,) = nodes.values()
    assert "(2, 2)" in attrs["label"]
    with pytest.raises(TypeError):
        viz.to_dot(np.ones(3))


# ----------------------------------------------------------------------------- render


def _small_loss():
    w = mg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    return (w @ w).relu().sum(), {"w": w}


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz `dot` is not installed")
def test_render_svg_with_graphviz(tmp_path):
    loss, params = _small_loss()
    out = viz.render(loss, tmp_path / "graph", params=params)
    assert out == str(tmp_path / "graph.svg")
    text = (tmp_path / "graph.svg").read_text()
    assert "<svg" in text and ">w<" in text and "MatMul" in text
    # An extension that is already there is not doubled.
    assert viz.render(loss, tmp_path / "again.svg") == str(tmp_path / "again.svg")
    assert (tmp_path / "again.svg").stat().st_size > 0


def test_render_without_graphviz_writes_dot_and_instructions(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None)

    def no_subprocess(*a, **k):
        raise AssertionError("render must not run a program when dot is missing")

    monkeypatch.setattr(viz.subprocess, "run", no_subprocess)
    loss, params = _small_loss()
    out = viz.render(loss, tmp_path / "graph.svg", params=params)
    assert out == str(tmp_path / "graph.dot")
    assert (tmp_path / "graph.dot").read_text() == viz.to_dot(loss, params=params)
    printed = capsys.readouterr().out
    assert f"dot -Tsvg {tmp_path / 'graph.dot'} -o {tmp_path / 'graph.svg'}" in printed
    assert not (tmp_path / "graph.svg").exists()


def test_render_reports_dot_failure(tmp_path, monkeypatch):
    false = shutil.which("false")
    if false is None:
        pytest.skip("no `false` program")
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: false)
    loss, _ = _small_loss()
    with pytest.raises(RuntimeError, match="failed"):
        viz.render(loss, tmp_path / "graph")
    with pytest.raises(ValueError):
        viz.render(loss, tmp_path / "graph", format="svg; rm -rf /")


# ----------------------------------------------------------------------------- with mg.nn


def test_with_nn_linear_named_parameters():
    try:
        Linear = mg.nn.Linear
    except (AttributeError, ImportError):
        pytest.skip("mg.nn.Linear is not available yet")
    mg.manual_seed(0)

    class MLP(mg.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = Linear(4, 6)
            self.fc2 = Linear(6, 2)

        def forward(self, x):
            return self.fc2(self.fc1(x).relu())

    model = MLP()
    loss = (model(mg.randn(5, 4)) ** 2).sum()
    params = dict(model.named_parameters())
    nodes, edges = parse_dot(viz.to_dot(loss, params=params))
    check_structure(nodes, edges)
    leaf_names = {a["label"].split("\n")[0] for n, a in nodes.items() if n.startswith("leaf")}
    assert leaf_names == set(params) == {"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"}
