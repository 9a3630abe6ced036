"""draw_conv_wiring: rendered with the real Graphviz, the picture holds the right nodes, edges and grids."""
import re
import shutil
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import tinygrad_conv as tc
from tinygrad_conv import functional as F
import viz

needs_dot = pytest.mark.skipif(shutil.which("neato") is None or shutil.which("dot") is None,
                               reason="the Graphviz programs are not installed")
SVG = "{http://www.w3.org/2000/svg}"


def render(digraph):
    """(nodes: title -> (x, y, texts), edges: (tail, head) -> texts) from the SVG Graphviz draws."""
    root = ET.fromstring(digraph.pipe(format="svg"))
    nodes, edges = {}, {}
    for g in root.iter(f"{SVG}g"):
        title = g.find(f"{SVG}title")
        texts = [" ".join((t.text or "").split()) for t in g.iter(f"{SVG}text")]
        if g.get("class") == "node":
            first = next(g.iter(f"{SVG}text"), None)
            nodes[title.text] = (float(first.get("x")), float(first.get("y")), texts) if first is not None else None
        elif g.get("class") == "edge":
            tail, head = (end.split(":")[0] for end in title.text.split("->"))  # (a port, "o11:w", is dropped)
            edges[(tail, head)] = texts
    return nodes, edges


def _numbers(text):
    return [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?(?:e-?\d+)?", text)]


def landings(digraph):
    """(tail, head) -> (text, colour) of the box each edge's arrowhead touches in its head node, from the SVG
    Graphviz draws: a box is a node's outline drawn in a colour (not black), its text the line drawn inside it.

    An edge's tip is its arrowhead's corner farthest from where its path ends. (Only edges that touch a
    coloured box are listed.)"""
    root = ET.fromstring(digraph.pipe(format="svg"))
    boxes = {}  # node title -> [(x0, y0, x1, y1, colour, text)]
    tips = {}
    for g in root.iter(f"{SVG}g"):
        title = g.find(f"{SVG}title")
        if g.get("class") == "node":
            found = []
            for path in g.iter(f"{SVG}path"):
                colour = path.get("stroke")
                if colour in (None, "transparent", "black", "none"):
                    continue
                xy = np.array(_numbers(path.get("d"))).reshape(-1, 2)
                found.append([*xy.min(axis=0), *xy.max(axis=0), colour, None])
            for t in g.iter(f"{SVG}text"):
                x, y = float(t.get("x")), float(t.get("y"))
                for box in found:
                    if box[0] <= x <= box[2] and box[1] <= y <= box[3]:
                        box[5] = " ".join((t.text or "").split())
            boxes[title.text] = found
        elif g.get("class") == "edge":
            tail, head = (end.split(":")[0] for end in title.text.split("->"))
            end = np.array(_numbers(g.find(f".//{SVG}path").get("d"))[-2:])
            arrow = np.array(_numbers(g.find(f".//{SVG}polygon").get("points"))).reshape(-1, 2)
            tips[(tail, head)] = arrow[np.argmax(np.linalg.norm(arrow - end, axis=1))]
    landed = {}
    for (tail, head), (x, y) in tips.items():
        touched = [(text, colour) for x0, y0, x1, y1, colour, text in boxes.get(head, [])
                   if x0 - 2 <= x <= x1 + 2 and y0 - 0.5 <= y <= y1 + 0.5]
        assert len(touched) <= 1, f"{tail}->{head} touches {touched}"
        if touched:
            landed[(tail, head)] = touched[0]
    return landed


def seed(backward=True, pool=None):
    I = tc.values(np.arange(1.0, 10.0).reshape(3, 3), name="I")
    W = tc.values([[0.5, -1.0], [0.25, 2.0]], name="W")
    o = F.conv2d(I, W)
    p = F.global_avg_pool2d(o) if pool == "avg" else (F.max_pool2d(o, 2) if pool == "max" else None)
    if backward:
        F.mse_loss(p if p is not None else o, np.full(np.shape(p if p is not None else o), 10.0)).backward()
    return I, W, o, p


@needs_dot
def test_seed_picture_has_16_edges_each_landing_on_its_input_and_square_grids():
    I, W, o, _ = seed()
    picture = viz.draw_conv_wiring(o, W, I, layout="edges")
    nodes, edges = render(picture)
    w_to_o = {k: v for k, v in edges.items() if k[0].startswith("W") and k[1].startswith("o")}
    assert len(w_to_o) == 16 == len(edges)
    assert all(texts == [] for texts in w_to_o.values())  # the products are in boxes, not on the edges
    for w in ("W11", "W12", "W21", "W22"):
        assert sum(t == w for t, _ in w_to_o) == 4
    for out in ("o11", "o12", "o21", "o22"):
        assert sum(h == out for _, h in w_to_o) == 4
    landed = landings(picture)
    assert set(landed) == set(w_to_o)
    triples = viz.conv_wiring(o, W)
    colours = {w.name: viz.palette.weight_colour(k)[0] for k, w in enumerate(W.flat)}
    for w, out, x in triples:  # each edge lands on a box in W's colour naming the input it multiplied, then
        xv = next(v for v in I.flat if v.name == x)  # its share x * dL/do
        ov = next(v for v in o.flat if v.name == out)
        text, colour = landed[(w, out)]
        assert text == f"{x} {xv.data:.6g}\u00b7{bracketed(ov.grad)} = {xv.data * ov.grad:.6g}"
        assert colour == colours[w]
    # the edge itself records the input it multiplied too: its tooltip, in the source and on hovering
    tips = dict(re.findall(r'\t(W\d\d -> o\d\d) \[.*?tooltip="([^"]*)"', picture.source))
    assert {k: tip.split()[0] for k, tip in tips.items()} == {f"{w} -> {out}": x for w, out, x in triples}
    for w in W.flat:  # each weight shows its total, the sum of its edges
        assert nodes[w.name][2][-1] == f"= {w.grad:.6g}"
    # the 3x3 input is drawn as a square grid: 3 columns, 3 rows, equal steps
    xs = sorted({round(nodes[v.name][0], 1) for v in I.flat})
    ys = sorted({round(nodes[v.name][1], 1) for v in I.flat})
    assert len(xs) == len(ys) == 3
    assert np.allclose(np.diff(xs), np.diff(xs)[0]) and np.allclose(np.diff(ys), np.diff(xs)[0], atol=0.2)
    for (r, c), v in np.ndenumerate(I):
        assert nodes[v.name][0] == pytest.approx(xs[c], abs=0.2) and nodes[v.name][1] == pytest.approx(ys[r], abs=0.2)


@needs_dot
def test_before_backward_edges_carry_only_the_input():
    I, W, o, _ = seed(backward=False)
    picture = viz.draw_conv_wiring(o, W, I, layout="edges")
    nodes, edges = render(picture)
    landed = landings(picture)  # each edge lands on a box that names the input alone
    assert {k: text for k, (text, _) in landed.items()} == {(w, out): x for w, out, x in viz.conv_wiring(o, W)}
    assert not any("dL/dW" in " ".join(n[2]) for n in nodes.values() if n)
    nodes, _ = render(viz.draw_conv_wiring(o, W, I, weight="W12"))  # a fan's box: the input alone
    assert [nodes[h][2] for h in ("o11", "o22")] == [["I12", "o11", "9.5"], ["I23", "o22", f"{o[1, 1].data:.6g}"]]


def bracketed(x):
    """A factor as the pictures write it: a negative one in brackets."""
    return f"({x:.6g})" if x < 0 else f"{x:.6g}"


@needs_dot
def test_focus_on_one_weight_and_one_output():
    I, W, o, _ = seed()
    nodes, edges = render(viz.draw_conv_wiring(o, W, I, weight="W12"))
    assert sorted(edges) == [("W12", h) for h in ("o11", "o12", "o21", "o22")]
    # a fan writes each product into the output its edge lands on (a box before the output's own text):
    # the input W12 multiplied there, then its share input * dL/do
    outs = {v.name: v for v in o.flat}
    for h, x in zip(("o11", "o12", "o21", "o22"), (I[0, 1], I[0, 2], I[1, 1], I[1, 2])):
        assert edges[("W12", h)] == []
        g = outs[h].grad
        assert nodes[h][2][:4] == [x.name, f"{x.data:.6g}\u00b7{bracketed(g)}", f"= {x.data * g:.6g}", h]
    nodes, edges = render(viz.draw_conv_wiring(o, W, I, output=(1, 0)))
    # an output focus writes each product into the weight its edge leaves (a box after the weight's own text)
    assert sorted(edges) == [(w, "o21") for w in ("W11", "W12", "W21", "W22")]
    g = o[1, 0].grad
    for w, x in zip(W.flat, (I[1, 0], I[1, 1], I[2, 0], I[2, 1])):
        assert nodes[w.name][2] == [w.name, f"{w.data:.6g}", "dL/dW", f"= {w.grad:.6g}",
                                    x.name, f"{x.data:.6g}\u00b7{bracketed(g)}", f"= {x.data * g:.6g}"]
    with pytest.raises(ValueError, match="no weight named"):
        viz.draw_conv_wiring(o, W, weight="W33")


@needs_dot
def test_pool_routes_are_drawn():
    I, W, o, p = seed(pool="avg")
    nodes, edges = render(viz.draw_conv_wiring(o, W, I, pooled=p, layout="edges"))
    routes = {k: v for k, v in edges.items() if k[1] == "p"}
    assert len(routes) == 4 and all(v == [] for v in routes.values())  # the mean's share is said once, by p
    notes = [v[2] for v in nodes.values() if v and "mean: each o gets" in v[2]]
    assert notes == [["pool", "mean: each o gets", f"dL/dp x 1/4 = {p.grad / 4:.6g}"]]
    I, W, o, p = seed(pool="max")
    picture = viz.draw_conv_wiring(o, W, I, pooled=p, layout="edges")
    nodes, edges = render(picture)
    # the max's routes converge on p11 unlabelled (a label would lie on the others): the winner's is solid
    # green, the others dashed grey, and the pool's title says so
    root = ET.fromstring(picture.pipe(format="svg"))
    solid = [g.find(f"{SVG}title").text.replace("&#45;&gt;", "->") for g in root.iter(f"{SVG}g")
             if g.get("class") == "edge" and g.find(f"{SVG}title").text.endswith("p11")
             and g.find(f"{SVG}path").get("stroke-dasharray") is None]
    assert solid == ["o22->p11"] and all(v == [] for k, v in edges.items() if k[1] == "p11")
    assert [v[2] for v in nodes.values() if v and v[2][0] == "pool"] == \
        [["pool", "max: the winner (solid) gets dL/dp, x1", "the others (dashed) get 0"]]


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 3), st.integers(0, 2), st.integers(1, 2), st.integers(3, 5))
@needs_dot
def test_strided_padded_dilated_pictures_follow_the_formula(stride, padding, dilation, size):
    if dilation + 1 > size + 2 * padding:
        return
    I = tc.values(np.arange(size * size, dtype=float).reshape(size, size), name="I")
    W = tc.values(np.ones((2, 2)), name="W")
    o = F.conv2d(I, W, stride=stride, padding=padding, dilation=dilation)
    picture = viz.draw_conv_wiring(o, W, I, layout="edges")
    nodes, edges = render(picture)
    landed = landings(picture)
    OH, OW = o.shape
    assert len(edges) == OH * OW * 4 == len(landed)
    # input cells sit on a grid; padding cells read "0"; every real input keeps its (row, col) place
    step = None
    for (r, c), v in np.ndenumerate(I):
        if v.name in nodes:
            x, y, _ = nodes[v.name]
            ref = nodes[I[0, 0].name] if I[0, 0].name in nodes else None
            if ref is not None and (r, c) != (0, 0):
                step = (x - ref[0]) / c if c else (y - ref[1]) / r
                assert step > 0
    for (i, j), out in np.ndenumerate(o):
        for a in range(2):
            for b in range(2):
                rr, cc = stride * i + dilation * a - padding, stride * j + dilation * b - padding
                expected = I[rr, cc].name if 0 <= rr < size and 0 <= cc < size else "0"
                assert landed[(f"W{a + 1}{b + 1}", out.name)][0].split()[0] == expected


@needs_dot
def test_multichannel_picture_one_pair_at_a_time():
    rng = np.random.default_rng(0)
    I = tc.values(rng.normal(size=(2, 2, 3, 3)), name="I")
    W = tc.values(rng.normal(size=(3, 2, 2, 2)), name="W")
    o = F.conv2d(I, W)
    picture = viz.draw_conv_wiring(o, W, I, batch=1, out_channel=2, in_channel=1, layout="edges")
    nodes, edges = render(picture)
    assert len(edges) == 16
    assert all(t.startswith("W[3,2,") and h.startswith("o[2,3,") for t, h in edges)
    landed = landings(picture)
    assert set(landed) == set(edges) and all(text.startswith("I[2,2,") for text, _ in landed.values())
    with pytest.raises(ValueError, match="out_channel"):
        viz.draw_conv_wiring(o, W, out_channel=3)
