"""The conv's wiring as a picture: input, filter and output grids, and an edge W_ab -> o_ij per product.

    input I          filter W           output o
    I11 I12 I13      W11 W12            o11 o12
    I21 I22 I23      W21 W22            o21 o22
    I31 I32 I33

Every product x * W_ab inside output o_ij becomes an edge W_ab -> o_ij
labelled with x, the input it multiplied. After backward() the edge also
carries x * dL/do_ij, the share of dL/dW_ab that came back along it, and
W_ab shows the total: the sum of its edges. One colour per weight makes the
sliding window visible.

Positions are pinned (neato, pos="x,y!"), so grids are drawn as grids. The
filter's cells are spaced so that no two edge labels land on the same spot:
outputs are kh (kw) filter-cells apart, so the midpoints of all the edges
fall on distinct points of a lattice.
"""
import html

import graphviz
import numpy as np

from .geometry import place_inputs, known_inputs
from .pooling import read_pool
from .text import escape, label, number
from .wiring import read_conv, input_name

# one colour per weight: (edge and text colour, light fill)
PALETTE = [("#1f77b4", "#d6e6f5"), ("#d62728", "#f8d7d7"), ("#2ca02c", "#d5efd5"), ("#9467bd", "#e6dcf0"),
           ("#ff7f0e", "#ffe3c8"), ("#8c564b", "#eadbd7"), ("#e377c2", "#f9def0"), ("#17becf", "#d1f2f5"),
           ("#7f7f00", "#ededc4"), ("#393b79", "#d9dae9"), ("#ad494a", "#f0d7d7"), ("#637939", "#e0e8d3")]

INPUT_STEP = 0.8          # inches between input cells, at least (wider numbers widen it)
CHAR_WIDTH = 0.09         # inches per character of an 11-point label, roughly
FILTER_STEP = 1.5        # inches between filter cells; outputs are kh, kw filter steps apart
GAP = 1.6                 # inches between the grids


def _pick(name, value, size):
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < size:
        raise ValueError(f"{name} must be an int in 0..{size - 1}, got {value!r}")
    return value


def _focus_index(focus, grid, what):
    """A focus given as a 0-based (row, col) pair or as a Value's name (e.g. "W12")."""
    if focus is None:
        return None
    if isinstance(focus, str):
        for index, v in np.ndenumerate(grid):
            if v.name == focus:
                return index
        names = ", ".join(v.name or "?" for v in grid.flat)
        raise ValueError(f"no {what} named {focus!r}; the {what}s drawn are {names}")
    index = tuple(focus) if isinstance(focus, (tuple, list)) else None
    if index is None or len(index) != 2 or not all(isinstance(i, int) for i in index) \
            or not (0 <= index[0] < grid.shape[0] and 0 <= index[1] < grid.shape[1]):
        raise ValueError(f"{what} focus must be a name or a 0-based (row, col) inside {grid.shape}, got {focus!r}")
    return index


class _Ids:
    """Node ids: the Value's name when it is plain and unused, else a made-up one (names may repeat, e.g. "0")."""

    def __init__(self):
        self.used = set()

    def __call__(self, name, prefix):
        if name and name.replace("[", "").replace("]", "").replace(",", "").replace("_", "").isalnum() \
                and name not in self.used:
            ident = name
        else:
            ident = f"{prefix}{len(self.used)}"
        self.used.add(ident)
        return ident


def draw_conv_wiring(outputs, weights, inputs=None, *, batch=0, out_channel=0, in_channel=0,
                     weight=None, output=None, pooled=None, gradients=None):
    """A graphviz.Digraph of which weight feeds which output through which input (neato, pinned grids).

    outputs: the grid conv2d returned; weights: its filter grid.
    inputs: the conv's input grid, optional; with it, inputs no window reaches
        are drawn too (dashed), so a stride's gaps show.
    batch, out_channel, in_channel: which slice of a multi-channel conv to draw:
        the outputs o[batch, out_channel] and the filter W[out_channel, in_channel]
        (in_channel counts within the filter's C/groups channels).
    weight: focus on one weight's fan-out, as (a, b) or a name ("W12").
    output: focus on one output's receptive field, as (i, j) or a name ("o11").
    pooled: a max or average pool's output, drawn to the right with how it routes dL/dp back.
    gradients: label the gradients; by default when backward() has run.
    """
    reading = read_conv(outputs, weights)
    N, K, OH, OW = reading.outputs.shape
    _, Cg, kh, kw = reading.weights.shape
    n, k, c = _pick("batch", batch, N), _pick("out_channel", out_channel, K), _pick("in_channel", in_channel, Cg)
    outs, ws = reading.outputs[n, k], reading.weights[k, c]
    focus_w, focus_o = _focus_index(weight, ws, "weight"), _focus_index(output, outs, "output")
    terms = reading.terms_of(n, k, c)
    known, input_grid = known_inputs(inputs, n) if inputs is not None else (None, None)
    place = place_inputs(terms, known)
    if gradients is None:
        gradients = any(o.grad != 0.0 for o in reading.outputs.flat) or any(w.grad != 0.0 for w in ws.flat)

    dot = graphviz.Digraph("wiring", engine="neato")
    dot.attr("graph", splines="true", outputorder="edgesfirst", fontname="Helvetica", fontsize="14",
             labelloc="t", pad="0.3")
    dot.attr("node", fontname="Helvetica", fontsize="11", shape="box", style="rounded,filled",
             fillcolor="white", width="0.6", height="0.5", margin="0.04")
    dot.attr("edge", fontname="Helvetica", fontsize="9", arrowsize="0.6", penwidth="1.3")
    ids = _Ids()
    colour = {w: PALETTE[i % len(PALETTE)] for i, w in enumerate(ws.flat)}

    # --- the input grid (padded coordinates, rows going down) ---
    cells = dict(place.positions)  # Value -> (row, col)
    channel = place.channel
    if input_grid is not None and place.padding is not None and channel is not None:
        ph, pw = place.padding
        for (r, col), x in np.ndenumerate(input_grid[channel]):
            cells.setdefault(x, (r + ph, col + pw))
    rows = 1 + max(r for r, _ in cells.values())
    cols = 1 + max(col for _, col in cells.values())

    def at(x, y):
        return f"{x:.3f},{y:.3f}!"

    # input cells far enough apart that their boxes do not touch (neato then draws straight edges)
    widest = max(max(len(input_name(x)), len(number(x.data))) for x in cells)
    step = max(INPUT_STEP, CHAR_WIDTH * widest + 0.25)
    in_h = (rows - 1) * step
    w_h = (kh - 1) * FILTER_STEP
    o_h = (OH - 1) * kh * FILTER_STEP
    top = max(in_h, w_h, o_h) / 2  # every grid centred on y = 0
    x_w = (cols - 1) * step + GAP
    x_o = x_w + (kw - 1) * FILTER_STEP + 2 * GAP
    x_end = x_o + (OW - 1) * kw * FILTER_STEP

    highlight = {}  # input Value -> fill colour (focus views tint the inputs taking part)
    for t in terms:
        if focus_w is not None and t.weight is ws[focus_w]:
            highlight[t.x] = colour[t.weight][1]
        if focus_o is not None and t.out is outs[focus_o]:
            highlight[t.x] = colour[t.weight][1]

    node_id = {}
    used = set(place.positions)
    for x, (r, col) in sorted(cells.items(), key=lambda item: item[1]):
        node_id[x] = ids(x.name, "x")
        padding = not x._prev and x.name in ("0", "-inf")
        style = "rounded,filled" + (",dashed" if x not in used else "")
        fill = highlight.get(x, "#eeeeee" if padding else "white")
        dot.node(node_id[x], label(input_name(x), number(x.data)), pos=at(col * step, in_h / 2 - r * step),
                 style=style, fillcolor=fill, fontcolor="#999999" if x not in used else "black")

    for index, w in np.ndenumerate(ws):
        a, b = index
        strong, light = colour[w]
        lines = [reading.weight_names[w], number(w.data)]
        if gradients:
            lines += ["dL/dW", "= " + number(w.grad)]
        node_id[w] = ids(reading.weight_names[w], "w")
        dim = focus_w is not None and index != focus_w
        dot.node(node_id[w], label(*lines), pos=at(x_w + b * FILTER_STEP, w_h / 2 - a * FILTER_STEP),
                 fillcolor="#f4f4f4" if dim else light, color=strong, penwidth="2",
                 fontcolor="#aaaaaa" if dim else "black", height="0.8" if gradients else "0.5")

    for index, o in np.ndenumerate(outs):
        i, j = index
        lines = [reading.out_names[o], number(o.data)]
        if gradients:
            lines += ["dL/do", "= " + number(o.grad)]
        node_id[o] = ids(reading.out_names[o], "o")
        dim = focus_o is not None and index != focus_o
        dot.node(node_id[o], label(*lines), pos=at(x_o + j * kw * FILTER_STEP, o_h / 2 - i * kh * FILTER_STEP),
                 fillcolor="#f4f4f4" if dim else "#fff8dc", fontcolor="#aaaaaa" if dim else "black",
                 height="0.8" if gradients else "0.5")

    # --- headers and a legend ---
    header_y = top + 0.9
    in_title = "input" + (" (grey: padding)" if any(not x._prev and x.name == "0" for x in cells) else "")
    for text, x in ((in_title, (cols - 1) * step / 2), ("filter", x_w + (kw - 1) * FILTER_STEP / 2),
                    ("output", x_o + (OW - 1) * kw * FILTER_STEP / 2)):
        dot.node(ids(None, "title"), escape(text), pos=at(x, header_y), shape="plaintext", style="",
                 fontsize="14")
    slice_note = f" (batch {n}, out channel {k}, filter channel {c})" if (N, K, Cg) != (1, 1, 1) else ""
    legend = ["edge W -> o: W multiplied the input named on the edge, inside o" + slice_note]
    if gradients:
        legend.append("after backward: edge = that input's value x dL/do (its share); "
                      "dL/dW = the sum of W's edges")
    legend.append(f"stride {_pair(place.stride)}, dilation {_pair(place.dilation)}"
                  + (f", padding {_pair(place.padding)}" if place.padding else ""))
    dot.node(ids(None, "legend"), label(*legend), pos=at(x_o / 2, -top - 1.0), shape="plaintext", style="",
             fontsize="11")

    # --- the edges, one per product ---
    for t in terms:
        if focus_w is not None and t.weight is not ws[focus_w]:
            continue
        if focus_o is not None and t.out is not outs[focus_o]:
            continue
        strong, _ = colour[t.weight]
        lines = [input_name(t.x)]
        if gradients:
            lines += [f"{number(t.x.data)}\u00b7{number(t.out.grad)}", f"= {number(t.x.data * t.out.grad)}"]
        dot.edge(node_id[t.weight], node_id[t.out], label=boxed(lines, strong), color=strong)

    if pooled is not None:
        _draw_pool(dot, pooled, outputs, outs, node_id, ids, gradients, x_end, at, header_y)
    return dot


def boxed(lines, colour):
    """An edge label on a white box (an HTML-like label), so the lines crossing behind it do not hide it."""
    rows = "<br/>".join(html.escape(line, quote=True) for line in lines)
    return (f'<<table border="0" cellborder="0" cellspacing="0" cellpadding="1" bgcolor="white">'
            f'<tr><td><font color="{colour}">{rows}</font></td></tr></table>>')


def _pair(p):
    return str(p[0]) if p[0] == p[1] else f"{p[0]}x{p[1]}"


def _draw_pool(dot, pooled, outputs, outs, node_id, ids, gradients, x_end, at, header_y):
    """Pooled Values to the right of the outputs they read, each edge o -> p saying how much of dL/dp comes back."""
    routes, names = read_pool(pooled, outputs)
    drawn = set(outs.flat)
    by_pool = {}
    for r in routes:
        if r.output in drawn:
            by_pool.setdefault(r.pooled, []).append(r)
    pos = {o: tuple(float(v) for v in dot_pos.split(",")[:2])
           for o, dot_pos in _positions(dot, node_id, drawn).items()}
    for p, rs in by_pool.items():
        xs = [pos[r.output][0] for r in rs]
        ys = [pos[r.output][1] for r in rs]
        lines = [names[p], number(p.data)]
        if gradients:
            lines += ["dL/dp", "= " + number(p.grad)]
        node_id[p] = ids(names[p], "p")
        x = x_end + 2 * GAP + (float(np.mean(xs)) - min(xs)) * 0.5
        dot.node(node_id[p], label(*lines), pos=at(x, float(np.mean(ys))), fillcolor="#e0f0e0",
                 height="0.8" if gradients else "0.5")
        for r in rs:
            share = "1" if r.fraction == 1.0 else ("0" if r.fraction == 0.0 else _fraction_text(r.fraction))
            lines = ["max: winner, x1" if r.kind == "max" and r.fraction == 1.0 else
                     "max: not the winner, x0" if r.kind == "max" else f"mean: x{share}"]
            if gradients:
                lines.append(f"dL/do += {number(r.gradient)}")
            lost = r.kind == "max" and r.fraction == 0.0
            dot.edge(node_id[r.output], node_id[p], label=boxed(lines, "#888888" if lost else "#2e7d32"),
                     color="#aaaaaa" if lost else "#2e7d32", style="dashed" if lost else "solid",
                     penwidth="1" if lost else "2")
    dot.node(ids(None, "title"), escape("pool"), pos=at(x_end + 2 * GAP, header_y), shape="plaintext", style="",
             fontsize="14")


def _fraction_text(f):
    from .equations import _fraction
    return _fraction(f)


def _positions(dot, node_id, values):
    """The pinned pos of each drawn Value, read back from the Digraph we are building."""
    wanted = {node_id[v]: v for v in values}
    found = {}
    for line in dot.body:
        line = line.strip()
        ident = line.split(" ", 1)[0].strip('"')
        if ident in wanted and "pos=" in line:
            found[wanted[ident]] = line.split('pos="', 1)[1].split("!", 1)[0]
    return found
