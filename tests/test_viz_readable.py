"""Pictures that stay readable (API.md): checked on what Graphviz really drew (`-Tjson` positions).

No two nodes overlap, node ids never collide whatever the grids are named, every
input sits at its padded (row, col) with non-square padding, the panels' captions
and the focus pictures carry the right numbers, and `scale` grows the text.
"""
import json
import re
import shutil

import numpy as np
import pytest
from hypothesis import example, given, settings, strategies as st

import tinygrad_conv as tc
from tinygrad_conv import Value, functional as F
import viz

needs_dot = pytest.mark.skipif(shutil.which("neato") is None or shutil.which("dot") is None,
                               reason="the Graphviz programs are not installed")


def drawn(digraph):
    """name -> (box (x0, y0, x1, y1) in points, texts drawn in it as (x, y, size, text)) for every node drawn."""
    layout = json.loads(digraph.pipe(format="json"))
    nodes = {}
    for obj in layout.get("objects", []):
        if "pos" not in obj or "nodes" in obj:
            continue
        assert obj["name"] not in nodes, f"node {obj['name']} drawn twice"
        x, y = map(float, obj["pos"].split(","))
        w, h = 72 * float(obj["width"]), 72 * float(obj["height"])
        texts, size = [], None
        for op in obj.get("_ldraw_", []):
            if op["op"] == "F":
                size = op["size"]
            elif op["op"] == "T":
                texts.append((op["pt"][0], op["pt"][1], size, op["text"]))
        nodes[obj["name"]] = ((x - w / 2, y - h / 2, x + w / 2, y + h / 2), texts, obj.get("label", ""))
    return nodes


def assert_no_overlap(nodes):
    boxes = [(name, box) for name, (box, _, _) in nodes.items()]
    for k, (a, (ax0, ay0, ax1, ay1)) in enumerate(boxes):
        for b, (bx0, by0, bx1, by1) in boxes[k + 1:]:
            overlap = min(ax1, bx1) - max(ax0, bx0) > 0.5 and min(ay1, by1) - max(ay0, by0) > 0.5
            assert not overlap, f"{a} and {b} are drawn on top of each other"


def conv(size, kernel, stride, padding, dilation, name="I", pool=None, values=None):
    H, Wd = size
    data = np.arange(1.0, H * Wd + 1).reshape(H, Wd) if values is None else values
    I = tc.values(data, name=name)
    W = tc.values(np.resize([1.0, -1.0, 2.0, 0.5, -0.5, 1.5], kernel[0] * kernel[1]).reshape(kernel), name="W")
    o = F.conv2d(I, W, stride=stride, padding=padding, dilation=dilation)
    p = None
    if pool == "global":
        p = F.global_avg_pool2d(o)
    elif pool is not None:
        kind, k = pool
        p = (F.max_pool2d if kind == "max" else F.avg_pool2d)(o, k)
    scored = p if p is not None else o
    F.mse_loss(scored, np.full(np.shape(scored), -7.25)).backward()  # a target no drawn mean hits: grads != 0
    return I, W, o, p


def inputs_of(o, W, I):
    """Every input Value the picture must show: each product's input, and every pixel."""
    from viz.wiring import read_conv
    return {t.x for t in read_conv(o, W).terms} | set(I.flat)


shapes = st.tuples(st.integers(2, 6), st.integers(2, 6))
kernels = st.tuples(st.integers(1, 3), st.integers(1, 3))
pairs = st.tuples(st.integers(1, 2), st.integers(1, 2))
paddings = st.tuples(st.integers(0, 2), st.integers(0, 2))
pools = st.sampled_from([None, "global", ("max", 1), ("max", 2), ("avg", 2)])
names = st.sampled_from(["I", "x", "o", "p"])


def fits(size, kernel, stride, padding, dilation, pool):
    spans = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
    if any(s > n + 2 * p for s, n, p in zip(spans, size, padding)):
        return False
    out = [(n + 2 * p - s) // st_ + 1 for n, p, s, st_ in zip(size, padding, spans, stride)]
    return not (isinstance(pool, tuple) and pool[1] > min(out))


@needs_dot
@settings(max_examples=25, deadline=None)
@given(shapes, kernels, pairs, paddings, pairs, pools, names)
@example((6, 6), (3, 3), (1, 1), (0, 0), (1, 1), ("max", 2), "I")    # p11 was drawn on top of p12
@example((3, 3), (2, 2), (1, 1), (1, 1), (1, 1), None, "x")          # x21 was a padding zero's id
@example((3, 3), (2, 2), (2, 2), (1, 1), (2, 2), None, "I")          # one pixel reached: stride 2 looked like 1
@example((4, 5), (2, 2), (2, 2), (2, 0), (1, 1), None, "I")          # non-square padding, unreached pixels
def test_edges_never_overlap_ids_never_collide_and_inputs_keep_their_places(size, kernel, stride, padding,
                                                                            dilation, pool, name):
    if not fits(size, kernel, stride, padding, dilation, pool):
        return
    I, W, o, p = conv(size, kernel, stride, padding, dilation, name, pool)
    nodes = drawn(viz.draw_conv_wiring(o, W, I, pooled=p, layout="edges"))
    assert_no_overlap(nodes)
    # every Value is its own node: inputs (pixels and padding zeros), weights, outputs, pooled
    xs = inputs_of(o, W, I)
    pooled = np.asarray(p, dtype=object).size if p is not None else 0
    values = [n for n, (_, _, lab) in nodes.items() if not n.startswith(("title_", "legend_"))]
    assert len(values) == len(xs) + W.size + o.size + pooled
    # each pixel's node is labelled with its own name and number
    by_label = {}  # an input's node has two lines, name and number (weights and outputs also show a gradient)
    two_lines = {n: texts for n, (_, texts, _) in nodes.items() if len(texts) == 2}
    for n, texts in two_lines.items():
        by_label.setdefault(tuple(t[3] for t in texts), []).append(nodes[n][0])
    for v in I.flat:
        assert len(by_label[(v.name, f"{v.data:.6g}")]) == 1
    # the input grid: pixel (r, c) at padded column c + pw and row r + ph (non-square padding too)
    cells = [nodes[n][0] for n, texts in two_lines.items() if texts[0][3] in {x.name for x in xs} | {"0"}]
    centres = [((b[0] + b[2]) / 2, (b[1] + b[3]) / 2) for b in cells]
    left, top = min(c[0] for c in centres), max(c[1] for c in centres)
    xs_sorted = sorted({round(c[0], 1) for c in centres})
    step = min(np.diff(xs_sorted)) if len(xs_sorted) > 1 else None
    for (r, c), v in np.ndenumerate(I):
        box = by_label[(v.name, f"{v.data:.6g}")][0]
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        if step:
            assert (cx - left) / step == pytest.approx(c + padding[1], abs=0.05)
            assert (top - cy) / step == pytest.approx(r + padding[0], abs=0.05)


@needs_dot
@settings(max_examples=20, deadline=None)
@given(shapes, kernels, pairs, paddings, pairs, pools, names)
@example((6, 6), (3, 3), (1, 1), (0, 0), (1, 1), ("max", 2), "I")
@example((4, 5), (2, 2), (2, 2), (2, 0), (1, 1), None, "I")
def test_panels_never_overlap_and_mark_each_weights_inputs(size, kernel, stride, padding, dilation, pool, name):
    if not fits(size, kernel, stride, padding, dilation, pool):
        return
    I, W, o, p = conv(size, kernel, stride, padding, dilation, name, pool)
    nodes = drawn(viz.draw_conv_wiring(o, W, I, pooled=p, layout="panels"))
    assert_no_overlap(nodes)
    kh, kw = kernel
    assert sorted(n for n in nodes if n.startswith("panel_")) == \
        sorted(f"panel_{a}_{b}" for a in range(1, kh + 1) for b in range(1, kw + 1))
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    rows, cols = size[0] + 2 * ph, size[1] + 2 * pw
    for a in range(kh):
        for b in range(kw):
            label = nodes[f"panel_{a + 1}_{b + 1}"][2]
            w = W[a, b]
            # the panel's caption ends in backward()'s value
            assert f"= {w.grad:.6g}<" in label or f"of input \u00b7 dL/do = {w.grad:.6g}" in label
            # the marked cells are the padded positions (s*i + d*a, s*j + d*b), in the weight's colour
            grid = [row for row in re.findall(r"<TR>(.*?)</TR>", label) if "TD FIXEDSIZE" in row]
            marked = {(r, c) for r, row in enumerate(grid)
                      for c, cell in enumerate(re.findall(r"<TD FIXEDSIZE.*?</TD>", row))
                      if viz.palette.weight_colour(a * kw + b)[1] in cell}
            expected = {(sh * i + dh * a, sw * j + dw * b) for i in range(o.shape[0]) for j in range(o.shape[1])}
            assert marked == expected
            # every pixel's value sits at its padded place (pw for columns, ph for rows)
            for (r, c), v in np.ndenumerate(I):
                if r + ph < len(grid):  # (a last padded row no window reaches is not drawn)
                    cells = re.findall(r"<TD FIXEDSIZE.*?</TD>", grid[r + ph])
                    assert f">{v.data:.6g}<" in cells[c + pw].replace("<B>", "").replace("</B>", "")
            assert len(grid) <= rows and all(len(re.findall(r"<TD FIXEDSIZE", row)) <= cols for row in grid)
            assert len(grid) >= size[0] + ph  # every pixel row is drawn


@needs_dot
@settings(max_examples=12, deadline=None)
@given(shapes, kernels, pairs, paddings, pools, names, st.sampled_from(["weight", "output", "input"]),
       st.sampled_from([1.0, 1.5]), st.data())
@example((6, 6), (3, 3), (1, 1), (0, 0), ("max", 2), "x", "input", 1.5, None)
@example((6, 6), (1, 1), (1, 1), (1, 1), ("max", 2), "I", "weight", 1.0, None)  # 64 outputs: a panel
def test_focus_pictures_never_overlap_and_draw_exactly_the_focus_edges(size, kernel, stride, padding, pool, name,
                                                                        kind, scale, data):
    if not fits(size, kernel, stride, padding, (1, 1), pool):
        return
    I, W, o, p = conv(size, kernel, stride, padding, (1, 1), name, pool)
    from viz.wiring import read_conv
    terms = read_conv(o, W).terms
    grid = {"weight": W, "output": o, "input": I}[kind]
    pick = data.draw(st.sampled_from(list(grid.flat))) if data is not None else grid.flat[-1]
    graph = json.loads(viz.draw_conv_wiring(o, W, I, pooled=p, scale=scale, **{kind: pick.name})
                       .pipe(format="json"))
    names_of = {obj["_gvid"]: obj["name"] for obj in graph["objects"]}
    assert len(set(names_of.values())) == len(names_of)
    nodes = drawn(viz.draw_conv_wiring(o, W, I, pooled=p, scale=scale, **{kind: pick.name}))
    assert_no_overlap(nodes)
    if kind == "weight" and o.size > 36:  # a fan past 36 outputs is drawn as that weight's panel alone
        (a, b), = [index for index, w in np.ndenumerate(W) if w is pick]
        assert [n for n in nodes if n.startswith("panel_")] == [f"panel_{a + 1}_{b + 1}"]
        return
    # the focus's edges are the products it takes part in; the rest are the pool's routes (a max's say
    # "max:"; a mean's carry no label, its share is said once by the pool's title). Each product is written
    # into a node with a box beside its own (HTML, shape none): a fan's (weight, input) into the output the
    # edge lands on, [product | output], an output focus's into the weight it leaves, [weight | product].
    boxed_end = "tail" if kind == "output" else "head"
    shapes = {obj["_gvid"]: obj.get("shape") for obj in graph["objects"]}
    conv_edges = [e for e in graph.get("edges", []) if shapes[e[boxed_end]] == "none"]
    mine = [t for t in terms if {"weight": t.weight, "output": t.out, "input": t.x}[kind] is pick]
    assert len(conv_edges) == len(mine)
    if name in ("I", "x"):  # names then never clash, so node ids are the names: the focus is at one end
        end = "head" if kind == "output" else "tail"
        assert {names_of[e[end]] for e in conv_edges} == ({pick.name} if mine else set())
    # the box names the product's other factor and the share it sent back; its node is the output (weight)
    texts = [[text for _, _, _, text in nodes[names_of[e[boxed_end]]][1]] for e in conv_edges]
    boxes = sorted(tuple(t[4:7] + t[:1] if kind == "output" else t[:4]) for t in texts)
    products = sorted((other.name, f"{factor(other.data)}\u00b7{factor(t.out.grad)}",
                       f"= {written(other.data * t.out.grad)}", (t.weight if kind == "output" else t.out).name)
                      for t in mine for other in [t.weight if kind == "input" else t.x])
    assert boxes == products


def written(x):
    """A number as the pictures write it: 6 significant digits, and -0 as 0."""
    text = f"{x:.6g}"
    return "0" if text == "-0" else text


def factor(x):
    """A factor of a product as the pictures write it: a negative one in brackets."""
    return f"({written(x)})" if x < 0 else written(x)


@needs_dot
def test_seed_panels_write_each_sum_term_by_term():
    I, W, o, p = conv((3, 3), (2, 2), (1, 1), (0, 0), (1, 1), pool="global")
    nodes = drawn(viz.draw_conv_wiring(o, W, I, pooled=p, layout="panels"))
    texts = {n: [t[3] for t in nodes[n][1]] for n in nodes}
    g = o[0, 0].grad
    assert np.allclose(tc.grads(o), g)  # a global average: every dL/do is dL/dp / 4
    for (a, b), w in np.ndenumerate(W):
        xs = [I[a + i, b + j].data for i in range(2) for j in range(2)]
        shares = [f"{x:.6g}\u00b7{g:.6g}" for x in xs]
        words = " ".join(texts[f"panel_{a + 1}_{b + 1}"])
        assert f"dL/d{w.name} = " + " + ".join(shares[:3]) in words
        assert f"= {w.grad:.6g}" in words and w.grad == pytest.approx(sum(xs) * g, rel=1e-12)
    assert f"= {p.grad:.6g} \u00b7 1/4 = {g:.6g}" in " ".join(texts["outputs"])


@needs_dot
def test_focus_on_an_input_pixel_draws_its_reach_and_its_gradient():
    I, W, o, p = conv((3, 3), (2, 2), (1, 1), (0, 0), (1, 1), pool="global")
    nodes = drawn(viz.draw_conv_wiring(o, W, I, input="I23", pooled=p))
    edges = json.loads(viz.draw_conv_wiring(o, W, I, input="I23").pipe(format="json"))["edges"]
    ids = {obj["_gvid"]: obj["name"] for obj in json.loads(viz.draw_conv_wiring(o, W, I, input="I23")
                                                          .pipe(format="json"))["objects"]}
    reach = {(ids[e["tail"]], ids[e["head"]]): e.get("label") for e in edges}
    assert set(reach) == {("I23", "o12"), ("I23", "o22")}     # I23 sits in the windows of o12 and o22
    # each edge lands on its output's box, which names the weight I23 met there and its share W * dL/do
    met = {out: [t[3] for t in nodes[out][1][:3]] for out in ("o12", "o22")}
    assert met["o12"] == ["W22", f"0.5\u00b7{factor(o[0, 1].grad)}", f"= {0.5 * o[0, 1].grad:.6g}"]
    assert met["o22"][:2] == ["W12", f"(-1)\u00b7{factor(o[1, 1].grad)}"]  # a negative factor keeps its brackets
    expected = W[1, 1].data * o[0, 1].grad + W[0, 1].data * o[1, 1].grad
    assert I[1, 2].grad == pytest.approx(expected, rel=1e-12)
    assert f"= {I[1, 2].grad:.6g}" in " ".join(t[3] for t in nodes["I23"][1])
    with pytest.raises(ValueError, match="no input named 'I99'"):
        viz.draw_conv_wiring(o, W, I, input="I99")
    with pytest.raises(ValueError, match="at most one focus"):
        viz.draw_conv_wiring(o, W, I, input="I23", weight="W11")


@needs_dot
def test_max_pool_tie_is_said_to_be_a_tie_and_the_first_gets_the_gradient():
    I, W, o, p = conv((3, 3), (2, 2), (1, 1), (0, 0), (1, 1), pool=("max", 2), values=np.ones((3, 3)))
    assert [v.grad != 0 for v in o.flat] == [True, False, False, False]  # the engine's rule: the first wins
    picture = viz.draw_conv_wiring(o, W, I, pooled=p, layout="edges")
    graph = json.loads(picture.pipe(format="json"))
    ids = {obj["_gvid"]: obj["name"] for obj in graph["objects"]}
    # the routes converge on p11 unlabelled (a label would lie on the others): the first of the tie's is the
    # solid one, and the pool's title names the tie
    routes = {ids[e["tail"]]: e.get("style") for e in graph["edges"] if ids[e["head"]] == "p11"}
    assert routes == {"o11": "solid", "o12": "dashed", "o21": "dashed", "o22": "dashed"}
    title = [t[3] for _, (_, texts, _) in drawn(picture).items() for t in texts if texts[0][3] == "pool"]
    assert "tie in p11: o11 = o12 = o21 = o22; the first, o11, gets it" in title
    assert label_clashes(picture) == []
    text = viz.conv_equations(o, W, pooled=p)
    assert "a tie: o11, o12, o21, o22 are all the max; all of dL/dp11 goes to the first, o11" in text
    label = drawn(viz.draw_conv_wiring(o, W, I, pooled=p, layout="panels"))["outputs"][2]
    assert "tie in p11: o11 = o12 = o21 = o22; the first, o11, gets it" in label


@needs_dot
def test_negative_factors_keep_their_brackets_in_the_boxes_edges_land_on():
    I = tc.values([[4.0, 1.0], [1.0, 1.0]], name="I")
    W = tc.values([[1.0]], name="W")
    o = F.conv2d(I, W)
    (o[0, 0] * -0.25 + o[0, 1]).backward()  # dL/do11 = -0.25
    from test_viz_draw_wiring import landings  # the box each edge lands on, as drawn
    text, _ = landings(viz.draw_conv_wiring(o, W, I, layout="edges"))[("W11", "o11")]
    assert text == "I11 4\u00b7(-0.25) = -1"


@needs_dot
def test_footer_counts_batch_and_channels_from_1():
    rng = np.random.default_rng(0)
    I = tc.values(rng.normal(size=(2, 2, 3, 3)), name="I")
    W = tc.values(rng.normal(size=(3, 2, 2, 2)), name="W")
    o = F.conv2d(I, W)
    sum(v for v in o.flat).backward()
    for layout in ("edges", "panels"):
        nodes = drawn(viz.draw_conv_wiring(o, W, I, batch=1, out_channel=2, in_channel=0, layout=layout))
        words = " ".join(t[3] for n in nodes for t in nodes[n][1])
        assert "batch 2, out channel 3, filter channel 1" in words
        assert "batch 1," not in words and "channel 0" not in words


@needs_dot
def test_scale_grows_the_text_and_the_boxes():
    I, W, o, p = conv((3, 3), (2, 2), (1, 1), (0, 0), (1, 1), pool="global")
    for layout in ("edges", "panels"):
        small = drawn(viz.draw_conv_wiring(o, W, I, pooled=p, layout=layout))
        large = drawn(viz.draw_conv_wiring(o, W, I, pooled=p, layout=layout, scale=2))
        name = "W11" if layout == "edges" else "filter"
        sizes = {t[2] for t in small[name][1]}, {t[2] for t in large[name][1]}
        assert np.allclose(sorted(2 * s for s in sizes[0]), sorted(sizes[1]), atol=1.01)  # (8.5 points shows as 8)
        width = [b[name][0][2] - b[name][0][0] for b in (small, large)]
        assert width[1] > 1.8 * width[0]
        assert_no_overlap(large)
    with pytest.raises(ValueError, match="scale must be a positive number"):
        viz.draw_conv_wiring(o, W, I, scale=0)


@needs_dot
def test_summary_shows_one_weight_its_equation_and_its_sum():
    I, W, o, p = conv((3, 3), (2, 2), (1, 1), (0, 0), (1, 1), pool="global")
    nodes = drawn(viz.draw_summary(o, W, I, weight="W11", pooled=p))
    assert_no_overlap(nodes)
    legend = next(texts for name, (_, texts, _) in nodes.items() if name.startswith("legend_"))
    lines = [t[3].strip() for t in legend]
    g = o[0, 0].grad
    assert "dL/dW11 = I11\u00b7dL/do11 + I12\u00b7dL/do12 + I21\u00b7dL/do21 + I22\u00b7dL/do22" in lines
    assert f"= 1\u00b7{g:.6g} + 2\u00b7{g:.6g} + 4\u00b7{g:.6g} + 5\u00b7{g:.6g}" in lines
    assert any(line.startswith(f"= {W[0, 0].grad:.6g}") for line in lines)
    assert any(f"dL/dp \u00b7 1/4 = {p.grad:.6g} \u00b7 1/4 = {g:.6g}" in line for line in lines)


def test_draw_graph_names_a_product_by_its_factors():
    a, b = Value(2.0, name="I11"), Value(-3.0, name="W11")
    c = a * b + Value(1.0)
    c.backward()
    body = "".join(viz.draw_graph(c).body)
    assert re.search(r"\{ I11\\\*W11 \| data -6 \| grad 1 \}", body) or "{ I11*W11 | data -6 | grad 1 }" in body
    d = (a * 2.0)  # a product with an unnamed factor keeps an empty name
    assert "I11*" not in "".join(viz.draw_graph(d).body).replace("I11*W11", "")


@needs_dot
def test_summary_past_six_terms_keeps_the_live_ones_and_drops_losing_routes():
    I, W, o, p = conv((5, 5), (3, 3), (1, 1), (1, 1), (1, 1), pool=("max", 5))
    winner = next(v for v in o.flat if v.grad != 0.0)
    graph = viz.draw_summary(o, W, I, weight="W12", pooled=p)
    nodes = drawn(graph)
    assert_no_overlap(nodes)
    lines = [t[3].strip() for name, (_, texts, _) in nodes.items() if name.startswith("legend_") for t in texts]
    from viz.wiring import read_conv
    term = next(t for t in read_conv(o, W).terms if t.out is winner and t.weight is W[0, 1])
    assert f"dL/dW12 = {term.x.name}\u00b7dL/d{winner.name}   (its other 24 terms meet dL/do = 0)" in lines
    assert W[0, 1].grad == pytest.approx(term.x.data * winner.grad, rel=1e-12)
    # a fan leaves the max's routes unlabelled (they converge): the winner's solid line is the one route
    # drawn, from the winner, and the pool's title says what a solid line means
    layout = json.loads(graph.pipe(format="json"))
    names_of = {obj["_gvid"]: obj["name"] for obj in layout["objects"]}
    routes = [e for e in layout["edges"] if names_of[e["head"]] == "p11"]
    assert [(names_of[e["tail"]], e.get("style"), e.get("label")) for e in routes] == [(winner.name, "solid", None)]
    title = next(texts for name, (_, texts, _) in nodes.items() if any(t[3] == "pool" for t in texts))
    assert "max: the winner (solid) gets dL/dp, x1" in [t[3] for t in title]
    assert label_clashes(graph) == []


@needs_dot
def test_input_focus_by_row_and_col():
    I, W, o, p = conv((3, 3), (2, 2), (1, 1), (0, 0), (1, 1))
    by_name = viz.draw_conv_wiring(o, W, I, input="I23").source
    assert viz.draw_conv_wiring(o, W, I, input=(1, 2)).source == by_name
    with pytest.raises(ValueError, match="needs the input grid"):
        viz.draw_conv_wiring(o, W, input=(1, 2))


@needs_dot
def test_panels_speak_of_the_grids_own_letters():
    I, W, o, _ = conv((4, 4), (2, 2), (1, 1), (0, 0), (1, 1))
    U = tc.values([[0.5, -1.0], [1.0, 0.25]], name="U")
    q = F.conv2d(o, U, name="q")
    F.mse_loss(F.global_avg_pool2d(q), np.array(-7.25)).backward()
    words = " ".join(t[3] for n, (_, texts, _) in drawn(viz.draw_conv_wiring(q, U, o, layout="panels")).items() for t in texts)
    assert "filter U" in words and "outputs q and dL/dq" in words and f"dL/dU {U[0, 0].grad:.6g}" in words
    assert "dL/dW" not in words and "dL/do" not in words


# --- where a focus's edges bunch, no label may sit on another edge (the README's lead picture) ---

def _bezier_points(points, step=1.0):
    """Points along a piecewise cubic Bezier (graphviz's "b" op), no two more than about `step` points apart."""
    pts = np.asarray(points, dtype=float)
    out = [pts[0]]
    for k in range(0, len(pts) - 3, 3):
        p0, p1, p2, p3 = pts[k:k + 4]
        n = max(2, int(np.ceil((np.linalg.norm(p1 - p0) + np.linalg.norm(p2 - p1) + np.linalg.norm(p3 - p2)) / step)))
        t = np.linspace(0.0, 1.0, n + 1)[1:, None]
        out.extend((1 - t) ** 3 * p0 + 3 * (1 - t) ** 2 * t * p1 + 3 * (1 - t) * t ** 2 * p2 + t ** 3 * p3)
    return np.array(out)


def _text_boxes(ops):
    """The boxes (x0, y0, x1, y1) an xdot op list paints: its filled polygons and its lines of text."""
    boxes, size = [], 14.0
    for op in ops:
        if op["op"] == "P":  # a filled polygon: the white box behind a label
            xs, ys = zip(*op["points"])
            boxes.append((min(xs), min(ys), max(xs), max(ys)))
        elif op["op"] == "F":
            size = op["size"]
        elif op["op"] == "T":
            x, y = op["pt"]
            x0 = {"l": x, "c": x - op["width"] / 2, "r": x - op["width"]}[op["align"]]
            boxes.append((x0, y - 0.25 * size, x0 + op["width"], y + 0.8 * size))
    return boxes


def _inside(points, box, margin=0.5):
    x0, y0, x1, y1 = box
    return bool(np.any((points[:, 0] > x0 + margin) & (points[:, 0] < x1 - margin)
                       & (points[:, 1] > y0 + margin) & (points[:, 1] < y1 - margin)))


def _overlap(a, b, margin=0.5):
    return min(a[2], b[2]) - max(a[0], b[0]) > margin and min(a[3], b[3]) - max(a[1], b[1]) > margin


def label_clashes(digraph):
    """Every way a label is hard to read in what Graphviz drew: [] when none.

    A label is an edge's label (its painted box and text) or a node's text. Clashes: an edge's path
    crossing another edge's label, or any node other than the two it joins (a product written into
    a node is that node's text), and two edge labels, or an edge label and a node, overlapping.
    """
    layout = json.loads(digraph.pipe(format="json"))
    names = {obj["_gvid"]: obj["name"] for obj in layout["objects"]}
    nodes = {}
    for obj in layout["objects"]:
        if "pos" in obj and "nodes" not in obj:
            x, y = map(float, obj["pos"].split(","))
            w, h = 72 * float(obj["width"]), 72 * float(obj["height"])
            nodes[obj["name"]] = (x - w / 2, y - h / 2, x + w / 2, y + h / 2)
    edges = []
    for e in layout.get("edges", []):
        path = np.concatenate([_bezier_points(op["points"]) for op in e["_draw_"] if op["op"] == "b"])
        boxes = _text_boxes(e.get("_ldraw_", []))
        label = tuple(np.r_[np.min([b[:2] for b in boxes], axis=0), np.max([b[2:] for b in boxes], axis=0)]) \
            if boxes else None
        edges.append((f"{names[e['tail']]}->{names[e['head']]}", names[e["tail"]], names[e["head"]], path, label))
    clashes = []
    for k, (name, tail, head, path, label) in enumerate(edges):
        for node, box in nodes.items():
            if node not in (tail, head) and _inside(path, box):
                clashes.append(f"edge {name} crosses node {node}")
            if label is not None and _overlap(label, box):
                clashes.append(f"the label of {name} lies on node {node}")
        for other, _, _, other_path, other_label in edges[:k] + edges[k + 1:]:
            if label is not None and _inside(other_path, label):
                clashes.append(f"edge {other} crosses the label of {name}")
            if label is not None and other_label is not None and other < name and _overlap(label, other_label):
                clashes.append(f"the labels of {name} and {other} overlap")
    return clashes


FANS = [  # (image, filter, stride, padding, dilation, pool): the seed, then larger cases
    ((3, 3), (2, 2), (1, 1), (0, 0), (1, 1), "global"),
    ((5, 5), (3, 3), (1, 1), (0, 0), (1, 1), None),
    ((6, 6), (2, 2), (1, 1), (0, 0), (1, 1), "global"),
    ((5, 5), (3, 3), (1, 1), (1, 1), (1, 1), "global"),   # 25 outputs
    ((6, 6), (3, 3), (2, 2), (0, 0), (1, 1), None),
    ((5, 5), (2, 2), (2, 2), (1, 1), (1, 1), None),
    ((6, 6), (3, 3), (1, 1), (0, 0), (2, 2), "global"),
    ((5, 5), (2, 2), (1, 1), (1, 1), (2, 2), None),
    ((3, 3), (2, 2), (1, 1), (0, 0), (1, 1), ("max", 2)),  # a max's routes converge on p11
    ((5, 5), (2, 2), (1, 1), (0, 0), (1, 1), ("max", 2)),
]


@needs_dot
@pytest.mark.parametrize("case", FANS, ids=lambda c: "{}x{} k{}x{} s{} p{} d{} {}".format(
    *c[0], *c[1], c[2][0], c[3][0], c[4][0], "".join(map(str, c[5])) if isinstance(c[5], tuple) else c[5]))
@pytest.mark.parametrize("kind", ["weight", "input", "output"])
def test_focus_labels_touch_no_other_edge_and_no_other_label(case, kind):
    size, kernel, stride, padding, dilation, pool = case
    I, W, o, p = conv(size, kernel, stride, padding, dilation, pool=pool)
    focus = {"weight": W[0, 0].name, "input": I[size[0] // 2, size[1] // 2].name, "output": o[-1, -1].name}[kind]
    scales = (1.5,) if case is not FANS[0] else (1.0, 1.5)
    for scale in scales:
        assert label_clashes(viz.draw_conv_wiring(o, W, I, pooled=p, scale=scale, **{kind: focus})) == []
    if case is FANS[0] and kind == "weight":  # the README's summary: the same fan over its equation
        assert label_clashes(viz.draw_summary(o, W, I, weight=focus, pooled=p)) == []


EDGES = [  # (image, filter, stride, padding, dilation, pool): every W -> o edge at once (layout="edges")
    ((3, 3), (2, 2), (1, 1), (0, 0), (1, 1), "global"),    # the seed, explain's default: 16 edges
    ((3, 3), (2, 2), (1, 1), (0, 0), (1, 1), ("max", 2)),  # a max's routes converge on p11
    ((4, 4), (2, 2), (1, 1), (0, 0), (1, 1), "global"),    # explain --image 4x4: 36 edges, still the default
    ((3, 3), (2, 2), (2, 2), (1, 1), (1, 1), ("max", 2)),  # stride 2, padding 1: boxes naming padding zeros
    ((5, 5), (3, 3), (1, 1), (0, 0), (1, 1), None),        # 81 edges: panels by default, edges when asked
]


@needs_dot
@pytest.mark.parametrize("case", EDGES, ids=lambda c: "{}x{} k{}x{} s{} p{} d{} {}".format(
    *c[0], *c[1], c[2][0], c[3][0], c[4][0], "".join(map(str, c[5])) if isinstance(c[5], tuple) else c[5]))
def test_all_edges_labels_touch_no_other_edge_and_no_other_label(case):
    """Without a focus every product is drawn: each edge lands on its own box in its output's stack, which
    names the input it multiplied (the seed's 16 edge labels had 31 clashes)."""
    from test_viz_draw_wiring import landings
    size, kernel, stride, padding, dilation, pool = case
    I, W, o, p = conv(size, kernel, stride, padding, dilation, pool=pool)
    from viz.wiring import read_conv
    terms = read_conv(o, W).terms
    for scale in ((1.0, 1.5) if case is EDGES[0] else (1.0,)):
        picture = viz.draw_conv_wiring(o, W, I, pooled=p, layout="edges", scale=scale)
        assert label_clashes(picture) == []
        if case[0] == (3, 3):  # the box each of the 16 edges lands on names its input, in the weight's colour
            landed = landings(picture)
            assert len(landed) == len(terms) == 16
            for t in terms:
                (a, b), = [index for index, w in np.ndenumerate(W) if w is t.weight]
                text, colour = landed[(t.weight.name, t.out.name)]
                assert text.split()[0] == t.x.name  # (a padding zero's name is "0")
                assert text.endswith(f"= {written(t.x.data * t.out.grad)}")
                assert colour == viz.palette.weight_colour(a * kernel[1] + b)[0]
