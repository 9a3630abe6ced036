"""draw_graph: micrograd-style pictures of the recorded graph, rendered by the real `dot`."""
import shutil
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import tinygrad_conv as tc
from tinygrad_conv import Value, functional as F
import viz

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="the Graphviz `dot` program is not installed")
SVG = "{http://www.w3.org/2000/svg}"


def svg_groups(svg, kind):
    """title -> the texts of each <g class=kind> of a Graphviz SVG."""
    root = ET.fromstring(svg)
    out = {}
    for g in root.iter(f"{SVG}g"):
        if g.get("class") == kind:
            title = g.find(f"{SVG}title").text
            out[title] = [" ".join((t.text or "").split()) for t in g.iter(f"{SVG}text")]
    return out


def test_structure_of_a_small_graph():
    """c = relu(a*b + a) at a = 2, b = 3, a live relu: every node's data and grad, and every edge."""
    import re
    a, b = Value(2.0, name="a"), Value(3.0, name="b")
    c = (a * b + a).relu()
    c.name = "c"
    c.backward()
    assert (a.grad, b.grad) == (4.0, 2.0)  # dc/da = b + 1, dc/db = a
    g = viz.draw_graph(c)
    assert g.graph_attr["rankdir"] == "LR"
    values = {}  # node id -> (data, grad), read off each record's label "{ name | data x | grad y }"
    ops = {}  # op node id -> its symbol
    for line in g.body:
        record = re.search(r'(\w+) \[label="\{ *(.*?) *\| data (\S+) \| grad (\S+) \}"', line)
        if record and "shape=record" in line:
            values[record.group(1)] = (float(record.group(3)), float(record.group(4)))
        op = re.search(r'(\w+) \[label="?([^" ]+)"? .*shape=circle', line)
        if op:
            ops[op.group(1)] = op.group(2)
    # a, b, a*b, a*b + a, c with their numbers (the unnamed ones found by theirs)
    assert sorted(values.values()) == [(2.0, 4.0), (3.0, 2.0), (6.0, 1.0), (8.0, 1.0), (8.0, 1.0)]
    assert sorted(ops.values()) == ["*", "+", "relu"]
    edges = {tuple(re.findall(r"(\w+)", line.split("[")[0])) for line in g.body if "->" in line}
    node = {numbers: key for key, numbers in values.items() if numbers != (8.0, 1.0)}
    op_of = {symbol: key for key, symbol in ops.items()}
    a_id, b_id, product = node[(2.0, 4.0)], node[(3.0, 2.0)], node[(6.0, 1.0)]
    assert {(a_id, op_of["*"]), (b_id, op_of["*"]), (op_of["*"], product), (product, op_of["+"]),
            (a_id, op_of["+"])} <= edges
    total = next(out for op, out in edges if op == op_of["+"])  # a*b + a, fed to the relu
    assert (total, op_of["relu"]) in edges and values[total] == (8.0, 1.0)
    assert len(edges) == 8  # into * twice, into + twice, into relu once, and each of the 3 ops to its output
    assert any(re.search(r"\{ c \| data 8 \| grad 1 \}", line) for line in g.body)


@needs_dot
def test_seed_graph_renders_with_every_value():
    I = tc.values(np.arange(1.0, 10.0).reshape(3, 3), name="I")
    W = tc.values([[0.5, -1.0], [0.25, 2.0]], name="W")
    o = F.conv2d(I, W)
    loss = F.mse_loss(F.global_avg_pool2d(o), 10.0)
    loss.backward()
    svg = viz.draw_graph(loss).pipe(format="svg")
    nodes = svg_groups(svg, "node")
    texts = [" ".join(t) for t in nodes.values()]
    for v in list(I.flat) + list(W.flat) + list(o.flat):
        assert any(t.startswith(f"{v.name} data {v.data:.6g} grad {v.grad:.6g}") for t in texts), v
    assert sum(t == ["*"] for t in nodes.values()) == 16 and sum(t == ["+"] for t in nodes.values()) >= 4
    edges = svg_groups(svg, "edge")
    assert len(edges) > 16 * 3


@needs_dot
def test_any_name_renders_escaped():
    name = 'a|b{c}<d>"e\\f g\\N:x'
    v = Value(1.5, name=name) * 2.0
    v.name = "<b>html?</b>"
    svg = viz.draw_graph(v).pipe(format="svg")
    texts = [" ".join(t) for t in svg_groups(svg, "node").values()]
    assert any(name in t for t in texts)
    assert any("<b>html?</b>" in t for t in texts)


def test_size_guard_says_how_big_and_how_to_focus():
    I = tc.values(np.zeros((20, 20)), name="I")
    W = tc.values(np.ones((3, 3)), name="W")
    o = F.conv2d(I, W)
    loss = F.global_avg_pool2d(o)
    with pytest.raises(ValueError) as err:
        viz.draw_graph(loss)
    message = str(err.value)
    seen, stack = {loss}, [loss]
    while stack:
        for child in stack.pop()._prev:
            if child not in seen:
                seen.add(child)
                stack.append(child)
    total = len(seen)
    assert f"{total} Values" in message and "max_nodes=2000" in message
    assert "draw_conv_wiring" in message and "o11" in message
    assert viz.draw_graph(o[0, 0]) is not None  # one output's graph is small


def test_deep_graph_needs_no_recursion():
    x = Value(0.0, name="x")
    for _ in range(5000):
        x = x + 1.0
    g = viz.draw_graph(x, max_nodes=20_000)
    assert sum("shape=record" in line for line in g.body) == 10_001


def test_draw_graph_rejects_non_values():
    with pytest.raises(TypeError, match="Value"):
        viz.draw_graph(np.zeros(3))


@needs_dot
def test_a_tensor_graph_shows_a_conv_as_movement_ops_and_a_matmul():
    x = tc.Tensor(np.arange(16.0).reshape(1, 1, 4, 4), requires_grad=True)
    w = tc.Tensor(np.ones((1, 1, 2, 2)), requires_grad=True)
    loss = F.conv2d(x, w, padding=1).sum()
    loss.backward()
    svg = viz.draw_graph(loss).pipe(format="svg")
    nodes = svg_groups(svg, "node")
    ops = {t[0] for t in nodes.values() if len(t) == 1}
    # (the filters' transpose happens inside the product op: rows @ filters^T)
    assert {"pad", "window_rows", "reshape", "@", "rows_to_images", "sum"} <= ops \
        and not any("conv" in op for op in ops)
    records = [" ".join(t) for t in nodes.values() if len(t) > 1]
    # the leaves show their shapes, their numbers (a range when there are many) and their gradients
    assert "1x1x4x4 data 0..15 grad 4..4" in records
    assert f"1x1x2x2 data 1 1 1 1 grad {' '.join(str(int(g)) for g in w.grad.flat)}" in records
    assert "1x1x6x6 data 0..15 grad -" in records  # an inner Tensor keeps no gradient
