"""The conv's wiring as a picture: input, filter and output grids, and an edge per product.

    input I          filter W           output o
    I11 I12 I13      W11 W12            o11 o12
    I21 I22 I23      W21 W22            o21 o22
    I31 I32 I33

Every product x * W_ab inside output o_ij becomes an edge W_ab -> o_ij that
lands on a box naming x, the input it multiplied. After backward() the box
also says x * dL/do_ij, the share of dL/dW_ab that came back along the edge,
and W_ab shows the total: the sum of its boxes. One colour per weight
(viz.palette) makes the sliding window visible.

    W11 ----> [I11  1*6.75 = 6.75 ]
    W12 ----> [I12  2*6.75 = 13.5 ]  o11
    W21 ----> [I21  4*6.75 = 27   ]  9.5
    W22 ----> [I22  5*6.75 = 33.75]

All edges at once are a tangle past the seed's 16, so by default the picture
is viz.panels' small multiples (one input grid per weight), and the edges are
drawn for one focus:

    weight="W12"   W12's fan-out: every output it feeds, with the input it met there;
    output="o22"   o22's window: its inputs and weights;
    input="I23"    I23's reach: edges I23 -> o_ij with the weight W_ab it met there,
                   whose shares W_ab * dL/do_ij add up to dL/dI23 (the flipped filter).

Every product is written in a box beside a node, never on its edge: without
a focus each output has a stack of kh*kw boxes, one per weight in the
filter's order, and W_ab's edge leaves its east side and lands on its own box
(a port of the output's node, entered from the west); a fan (weight, input focus) writes it at the
front of the output the edge lands on ([I12 2*6.75 = 13.5 | o11 ...]), an
output focus after the weight the edge leaves ([W11 ... | I22 5*6.75 = 33.75]).
neato routes the edges around the nodes, so they bunch and cross, and a label
at an edge's midpoint would lie on its neighbours (the seed's 16 labelled
edges had 31 such clashes); a node's text is an obstacle every edge avoids.
(A max pool's routes go unlabelled for the same reason, except in an output
focus's one window; the pool's title says solid = the winner.)

Positions are pinned (neato, pos="x,y!"), so grids are drawn as grids. Node
ids are the Values' names where those are plain and unique, and otherwise
made-up ids with a "_" (which no plain name has), so the two can never collide.
"""
import html

import graphviz
import numpy as np

from .geometry import place_inputs, known_inputs, input_cells
from .palette import PALETTE, check_scale  # noqa: F401  (PALETTE re-exported for callers of the old place)
from .pooling import read_pool, ties
from .text import escape, label, number, signed
from .wiring import read_conv, input_name

INPUT_STEP = 0.8          # inches between input cells, at least (wider numbers widen it)
CHAR_WIDTH = 0.09         # inches per character of an 11-point label, roughly
FILTER_STEP = 1.5         # inches between filter cells; outputs are kh, kw filter steps apart
GAP = 1.6                 # inches between the grids
SHARE_GAP = 0.08          # inches between a fan's product box and its output's box (x scale)
FAN_EDGES = 36            # a weight focus with more outputs is drawn as that weight's panel, not as edges
SPLINE_NODES = 200        # nodes past which edges are drawn straight (curved routing is too slow)
FONT = {"title": 14, "node": 11, "edge": 9}  # points at scale 1
STACK_ROW = 0.24          # inches per box in an output's stack (one line of node-sized text), x scale


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
        raise ValueError(f"no {what} named {focus!r}; the {what}s drawn are {name_range(grid)}")
    index = tuple(focus) if isinstance(focus, (tuple, list)) else None
    if index is None or len(index) != 2 or not all(isinstance(i, int) for i in index) \
            or not (0 <= index[0] < grid.shape[0] and 0 <= index[1] < grid.shape[1]):
        raise ValueError(f"{what} focus must be a name or a 0-based (row, col) inside {grid.shape}, got {focus!r}")
    return index


def name_range(grid):
    """The names of a grid's Values in one short phrase: all of them when few, else "I11 .. I55"."""
    names = [v.name or "?" for v in np.asarray(grid, dtype=object).flat]
    return ", ".join(names) if len(names) <= 9 else f"{names[0]} .. {names[-1]}"


class _Ids:
    """Node ids: the Value's name when it is plain and unused, else a made-up "prefix_n".

    A name is plain when it is letters, digits, brackets and commas (what grid.element_name
    makes). Made-up ids contain "_", which a plain name never does, so a padding zero's id can
    never be a pixel's name (an input grid named "x" has a pixel "x21"). (Not ":", which DOT
    reads as a port in an edge.)
    """

    def __init__(self):
        self.used = set()

    def __call__(self, name, prefix):
        plain = name and name.replace("[", "").replace("]", "").replace(",", "").isalnum()
        ident = name if plain and name not in self.used else f"{prefix}_{len(self.used)}"
        self.used.add(ident)
        return ident


def draw_conv_wiring(outputs, weights, inputs=None, *, batch=0, out_channel=0, in_channel=0,
                     weight=None, output=None, input=None, pooled=None, gradients=None, layout=None, scale=1.0,
                     digits=6):
    """A graphviz.Digraph of which weight feeds which output through which input.

    outputs: the grid conv2d returned; weights: its filter grid.
    inputs: the conv's input grid, optional; with it, inputs no window reaches
        are drawn too (dashed), so a stride's gaps show.
    batch, out_channel, in_channel: which slice of a multi-channel conv to draw (0-based,
        as numpy indexes; the names and the footer count from 1):
        the outputs o[batch, out_channel] and the filter W[out_channel, in_channel]
        (in_channel counts within the filter's C/groups channels).
    weight: focus on one weight's fan-out, as (a, b) or a name ("W12").
    output: focus on one output's window, as (i, j) or a name ("o11").
    input: focus on one input pixel, as a name ("I23") or, with `inputs`, its (row, col):
        the outputs it reached and the weights it met (dL/dI23 = sum of W_ab * dL/do_ij).
    pooled: a max or average pool's output, drawn to the right with how it routes dL/dp back.
    gradients: label the gradients; by default when backward() has run.
    layout: "edges" (every product W_ab -> o_ij as an edge landing on a box that names the input it
        multiplied; the default with a focus, and without one while there are at most 36 such edges, as in the seed)
        or "panels" (one input grid per weight, viz.panels; the default past 36 edges, and for a
        weight focus feeding more than 36 outputs, when it draws that weight's panel alone).
    scale: multiplies fonts and boxes (1.5 for a projector); the gaps between grids stay.
    digits: significant digits of the panels' numbers (6, as the equations; 3 keeps random floats short).
    """
    scale = check_scale(scale)
    focus_input = input
    if sum(f is not None for f in (weight, output, focus_input)) > 1:
        raise ValueError("give at most one focus: weight=, output= or input=")
    focused = weight is not None or output is not None or focus_input is not None
    if layout not in (None, "panels", "edges"):
        raise ValueError(f"layout must be 'panels' or 'edges', got {layout!r}")
    only = None
    if weight is not None and layout != "edges":
        # a weight feeds every output: past FAN_EDGES the fan is a tangle, and its panel reads better
        reading = read_conv(outputs, weights)
        ws = reading.weights[_pick("out_channel", out_channel, reading.weights.shape[0]),
                             _pick("in_channel", in_channel, reading.weights.shape[1])]
        if layout == "panels" or reading.outputs[0, 0].size > FAN_EDGES:
            only = _focus_index(weight, ws, "weight")
    elif focused and layout == "panels":
        raise ValueError("an output or input focus is drawn as edges (layout='edges')")
    if layout is None and not focused:
        # every W_ab -> o_ij edge, as the seed draws it, while they stay few enough to follow; past that a
        # tangle, and one input grid per weight reads better
        reading = read_conv(outputs, weights)
        products = reading.outputs[0, 0].size * reading.weights[0, 0].size
        layout = "edges" if products <= FAN_EDGES else "panels"
    layout = layout or ("panels" if only is not None else "edges")
    if layout == "panels":
        from .panels import draw_weight_panels
        return draw_weight_panels(outputs, weights, inputs, batch=batch, out_channel=out_channel,
                                  in_channel=in_channel, pooled=pooled, gradients=gradients, scale=scale,
                                  digits=digits, only=only)
    return _draw_edges(outputs, weights, inputs, batch, out_channel, in_channel, weight, output, focus_input,
                       pooled, gradients, scale)


def _find_input(focus, cells, input_grid, channel):
    """The input Value a focus names: a name ("I23", or "0" is refused as ambiguous) or a (row, col) in inputs."""
    if isinstance(focus, str):
        found = [x for x in cells if x.name == focus and x._prev == ()]
        found = found or [x for x in cells if x.name == focus]
        if len(found) == 1 and focus not in ("0", "-inf"):
            return found[0]
        names = name_range(input_grid[channel]) if input_grid is not None and channel is not None \
            else ", ".join(sorted({input_name(x) for x in cells}))
        raise ValueError(f"no input named {focus!r}; the inputs drawn are {names}")
    if input_grid is None or channel is None:
        raise ValueError("an input focus given as (row, col) needs the input grid (inputs=)")
    index = _focus_index(focus, input_grid[channel], "input")
    return input_grid[channel][index]


def _draw_edges(outputs, weights, inputs, batch, out_channel, in_channel, weight, output, focus_input,
                pooled, gradients, scale, caption=None):
    """The edge layout (see draw_conv_wiring); `caption(reading, terms)`, if given, writes the footer lines
    instead of the legend, in a larger font, and leaves out a max pool's losing routes (viz.summary)."""
    reading = read_conv(outputs, weights)
    N, K, OH, OW = reading.outputs.shape
    _, Cg, kh, kw = reading.weights.shape
    n, k, c = _pick("batch", batch, N), _pick("out_channel", out_channel, K), _pick("in_channel", in_channel, Cg)
    outs, ws = reading.outputs[n, k], reading.weights[k, c]
    focus_w, focus_o = _focus_index(weight, ws, "weight"), _focus_index(output, outs, "output")
    terms = reading.terms_of(n, k, c)
    known, input_grid = known_inputs(inputs, n) if inputs is not None else (None, None)
    place = place_inputs(terms, known, None if input_grid is None else input_grid.shape[-2:])
    cells = input_cells(place, input_grid)  # Value -> (row, col) in the padded input
    focus_x = _find_input(focus_input, cells, input_grid, place.channel) if focus_input is not None else None
    if focus_x is not None and focus_x not in cells:
        raise ValueError(f"input {focus_input!r} is not in the slice drawn (batch {n + 1}, channel "
                         f"{place.channel + 1 if place.channel is not None else '?'})")
    if gradients is None:
        gradients = any(o.grad != 0.0 for o in reading.outputs.flat) or any(w.grad != 0.0 for w in ws.flat)

    def keep(t):  # the products a focus draws
        return (focus_w is None or t.weight is ws[focus_w]) and (focus_o is None or t.out is outs[focus_o]) \
            and (focus_x is None or t.x is focus_x)
    shown = [t for t in terms if keep(t)]

    size = {key: f"{points * scale:.3g}" for key, points in FONT.items()}
    dot = graphviz.Digraph("wiring", engine="neato")
    # curved edges are routed around every node, which takes neato minutes past a few hundred nodes;
    # straight lines then
    many = len(cells) + ws.size + outs.size > SPLINE_NODES
    dot.attr("graph", splines="line" if many else "true", outputorder="edgesfirst", fontname="Helvetica",
             fontsize=size["title"], labelloc="t", pad="0.3")
    dot.attr("node", fontname="Helvetica", fontsize=size["node"], shape="box", style="rounded,filled",
             fillcolor="white", width=f"{0.6 * scale:.3g}", height=f"{0.5 * scale:.3g}",
             margin=f"{0.04 * scale:.3g}", penwidth=f"{scale:.3g}")
    dot.attr("edge", fontname="Helvetica", fontsize=size["edge"], arrowsize=f"{0.6 * scale:.3g}",
             penwidth=f"{1.3 * scale:.3g}")
    ids = _Ids()
    colour = {w: PALETTE[i % len(PALETTE)] for i, w in enumerate(ws.flat)}
    weight_index = {w: i for i, w in enumerate(ws.flat)}
    tall = f"{(0.8 if gradients else 0.5) * scale:.3g}"

    # --- the input grid (padded coordinates, rows going down) ---
    rows = 1 + max(r for r, _ in cells.values())
    cols = 1 + max(col for _, col in cells.values())

    def at(x, y):
        return f"{x:.3f},{y:.3f}!"

    # cells far enough apart that their boxes do not touch (neato then draws straight edges)
    widest = max(max(len(input_name(x)), len(number(x.data)), 8 if x is focus_x and gradients else 0)
                 for x in cells)
    step = max(INPUT_STEP * scale, scale * (CHAR_WIDTH * widest + 0.25))
    filter_step = FILTER_STEP * scale
    in_h = (rows - 1) * step
    w_h = (kh - 1) * filter_step
    # all edges at once need outputs kh (kw) filter steps apart for their labels to miss each other;
    # a focus draws one edge per output (or per weight), so closer outputs suffice
    fan = focus_w is not None or focus_x is not None  # one weight (pixel) -> many outputs
    gather = focus_o is not None                       # many weights -> one output
    # A focus writes each product into a node, not on its edge: a fan's into the output the edge lands
    # on, an output focus's into the weight it leaves (see _with_product). Edge labels sat where the
    # edges bunch, on the other edges; a node's text is an obstacle every edge is routed around. Those
    # nodes widen by the product's box and stand far enough apart for the edges to pass between.
    # (one product per node: a weight, or a pixel, meets each output at most once)
    products = {(t.weight if gather else t.out): (_product_lines(t, reading, focus_x is not None, gradients),
                                                   colour[t.weight][0]) for t in shown} if fan or gather else {}
    share_w = scale * (CHAR_WIDTH * max((len(line) for lines, _ in products.values() for line in lines), default=0)
                       + 0.2)
    # an edge ends where its last straight leg, aimed at the node's centre, meets the node's outline: with
    # the product box at least as wide as the rest, that centre lies in the box, so every edge lands on
    # (leaves from) the box (a port would name it, but would change the edges' names in SVG titles)
    share_w = max(share_w, scale * (0.6 + SHARE_GAP + 0.1))
    boxed_w = share_w + SHARE_GAP * scale + 0.6 * scale  # a node with a product box: its width
    # Without a focus every product is drawn, kh*kw edges into each output: each output gets a stack of
    # boxes, one per weight in the filter's order, and W_ab's edge lands on its own box, which names the
    # input it multiplied (see _with_stack). An edge label sat where the fans cross, on the other edges.
    stack = not (fan or gather)
    window = {o: {} for o in outs.flat}
    for t in shown:
        window[t.out][t.weight] = _stack_line(t, gradients)
    stack_w = scale * (CHAR_WIDTH * max((len(line) for boxes in window.values() for line in boxes.values()),
                                        default=0) + 0.2)
    stack_h = ws.size * scale * STACK_ROW + scale * 0.04  # (the stack's spacing around it)
    out_h = max(float(tall), stack_h) if stack else float(tall)
    out_w = boxed_w if fan else stack_w + scale * 0.6 if stack else 0.6 * scale
    w_node = boxed_w if gather else 0.6 * scale
    w_cols = max(filter_step, w_node + 0.9 * scale)      # the filter's columns, apart enough for edges
    # (a stack's edges come in from the left: the outputs stand apart enough for them to pass between)
    o_rows = out_h + 0.9 * scale if stack else filter_step * 1.2
    o_cols = out_w + 1.2 * scale if stack else max(filter_step * 1.6, out_w + 0.9 * scale)
    o_h = (OH - 1) * o_rows
    top = max(in_h, w_h, o_h + out_h - float(tall)) / 2  # every grid centred on y = 0
    gap = 1.3 * GAP
    x_w = (cols - 1) * step + GAP + 0.2 * scale + w_node / 2
    x_o = x_w + (kw - 1) * w_cols + w_node / 2 + gap + 0.2 * scale + out_w / 2 - 0.3 * scale
    x_end = x_o + (OW - 1) * o_cols + out_w / 2 - 0.3 * scale  # (the pool is placed from a 0.6-wide output)

    highlight = {t.x: colour[t.weight][1] for t in shown if focused(weight, output)}
    met = {t.weight for t in shown}      # the weights drawn in colour
    reached = {t.out for t in shown}     # the outputs drawn in colour
    if focus_x is not None:
        highlight = {focus_x: "#fff1a8"}

    node_id = {}
    used = set(place.positions)
    for x, (r, col) in sorted(cells.items(), key=lambda item: item[1]):
        node_id[x] = ids(x.name, "x")
        padding = not x._prev and x.name in ("0", "-inf")
        style = "rounded,filled" + (",dashed" if x not in used else "")
        fill = highlight.get(x, "#eeeeee" if padding else "white")
        lines = [input_name(x), number(x.data)]
        if x is focus_x and gradients:
            lines += ["dL/dI", "= " + number(x.grad)]
        dot.node(node_id[x], label(*lines), pos=at(col * step, in_h / 2 - r * step),
                 style=style, fillcolor=fill, fontcolor="#999999" if x not in used else "black",
                 **({"height": tall, "penwidth": f"{2.5 * scale:.3g}"} if x is focus_x else {}))

    for index, w in np.ndenumerate(ws):
        a, b = index
        strong, light = colour[w]
        lines = [reading.weight_names[w], number(w.data)]
        if gradients:
            lines += ["dL/dW", "= " + number(w.grad)]
        node_id[w] = ids(reading.weight_names[w], "w")
        dim = (focus_w is not None or focus_x is not None) and w not in met
        where = at(x_w + b * w_cols, w_h / 2 - a * filter_step)
        if gather:  # [weight | product]: the edge leaves from the product's box
            dot.node(node_id[w], _with_product(lines, products.get(w), share_w, float(tall), scale, fill=light,
                                               ink="black", edge=strong, width=2, product_first=False),
                     pos=where, shape="none", style="", margin="0", width="0", height="0")
        else:
            dot.node(node_id[w], label(*lines), pos=where, fillcolor="#f4f4f4" if dim else light, color=strong,
                     penwidth=f"{2 * scale:.3g}", fontcolor="#aaaaaa" if dim else "black", height=tall)

    for index, o in np.ndenumerate(outs):
        i, j = index
        lines = [reading.out_names[o], number(o.data)]
        if gradients:
            lines += ["dL/do", "= " + number(o.grad)]
        node_id[o] = ids(reading.out_names[o], "o")
        dim = (focus_o is not None or focus_x is not None) and o not in reached
        fill, ink = ("#f4f4f4", "#aaaaaa") if dim else ("#fff8dc", "black")
        where = at(x_o + j * o_cols, o_h / 2 - i * o_rows)
        if fan:  # [product | output]: the edge lands on the product's box
            dot.node(node_id[o], _with_product(lines, products.get(o), share_w, float(tall), scale, fill=fill,
                                               ink=ink),
                     pos=where, shape="none", style="", margin="0", width="0", height="0")
        elif stack:  # [a box per weight | output]: W_ab's edge lands on its box
            dot.node(node_id[o], _with_stack(lines, [(window[o].get(w), colour[w][0]) for w in ws.flat],
                                             stack_w, out_h, scale),
                     pos=where, shape="none", style="", margin="0", width="0", height="0")
        else:
            dot.node(node_id[o], label(*lines), pos=where, fillcolor=fill, fontcolor=ink, height=tall)

    # --- headers and a legend ---
    header_y = top + 0.9 * scale
    in_title = "input" + (" (grey: padding)" if any(not x._prev and x.name == "0" for x in cells) else "")
    for text, x in ((in_title, (cols - 1) * step / 2), ("filter", x_w + (kw - 1) * w_cols / 2),
                    ("output", x_o + (OW - 1) * o_cols / 2)):
        dot.node(ids(None, "title"), escape(text), pos=at(x, header_y), shape="plaintext", style="",
                 fontsize=size["title"])
    slice_note = f" (batch {n + 1}, out channel {k + 1}, filter channel {c + 1})" if (N, K, Cg) != (1, 1, 1) else ""
    boxes = "lands on" if fan else "stack" if stack else "leaves" if gather else None
    legend = _legend(focus_x, shown, gradients, slice_note, place, boxes) if caption is None \
        else caption(reading, shown)
    points = FONT["node"] * scale * (1.25 if caption else 1)
    text = label(*legend) if caption is None else graphviz.nohtml("".join(escape(line) + "\\l" for line in legend))
    dot.node(ids(None, "legend"), text, pos=at(x_o / 2, -top - 0.7 * scale - points / 90 * len(legend)),
             shape="plaintext", style="", fontsize=f"{points:.3g}", **({"fontname": "Courier"} if caption else {}))

    # --- the edges, one per product shown ---
    for t in shown:
        strong, _ = colour[t.weight]
        # each edge also carries its product as its tooltip (what hovering over it shows, and the edge's own
        # record of the input it multiplied in the source), though the picture writes it in a box
        if fan or gather:  # the product is in the box the edge lands on (leaves from)
            tip = " ".join(_product_lines(t, reading, focus_x is not None, gradients))
            dot.edge(node_id[t.x if focus_x is not None else t.weight], node_id[t.out], color=strong, tooltip=tip)
            continue
        # from the weight's east side to its own box in the output's stack, entered from the west (the sides
        # facing each other)
        dot.edge(node_id[t.weight], node_id[t.out], tailport="e", headport=f"{_port(weight_index[t.weight])}:w",
                 color=strong, tooltip=window[t.out][t.weight])

    if pooled is not None:
        _draw_pool(dot, pooled, outputs, outs, node_id, ids, gradients, x_end, at, header_y, scale, size,
                   gap, losers=caption is None,
                   routes_from=reached if focus_o is not None or focus_x is not None else None, labels=gather)
    return dot


def _product_lines(t, reading, by_input, gradients):
    """What an edge of a focus carries: the factor met in its output (the input a weight multiplied,
    or the weight a pixel met), and after backward() the share x . dL/do it sends back."""
    other = t.weight if by_input else t.x
    lines = [reading.weight_names[t.weight] if by_input else input_name(t.x)]
    if gradients:
        lines += [f"{signed(other.data)}\u00b7{signed(t.out.grad)}", f"= {number(other.data * t.out.grad)}"]
    return lines


def _with_product(lines, product, share_w, height, scale, *, fill, ink, edge="black", width=1,
                  product_first=True):
    """A node with a product's box beside its own: [product | node] (an output) or [node | product] (a weight).

    lines: the node's own text, in a rounded box filled `fill`, text `ink`, outlined `edge` `width`
    points wide (x scale). product: (lines, colour) or None: the box, in its edge's colour, says what
    the edge carried; a node without one keeps an empty cell as wide, so the nodes' own boxes stay a grid.
    """
    border = max(1, round(scale))
    inner = f'cellborder="0" cellspacing="0" cellpadding="{max(1, round(2 * scale))}"'
    box_h = round(72 * height)

    def text(rows, colour):
        return f'<font color="{colour}">' + "<br/>".join(html.escape(r, quote=True) for r in rows) + "</font>"
    if product is None:
        side = f'<td width="{round(72 * share_w)}" height="{box_h}"></td>'
    else:
        rows, colour = product
        side = (f'<td><table style="rounded" border="{border}" {inner} color="{colour}" bgcolor="white">'
                f'<tr><td width="{round(72 * share_w) - 2 * border}" height="{box_h - 2 * border}">'
                f'{text(rows, colour)}</td></tr></table></td>')
    own_border = max(1, round(width * scale))
    own = (f'<td><table style="rounded" border="{own_border}" {inner} color="{edge}" bgcolor="{fill}"><tr>'
           f'<td width="{round(72 * 0.6 * scale) - 2 * own_border}" height="{box_h - 2 * own_border}">'
           f'{text(lines, ink)}</td></tr></table></td>')
    cells = [side, f'<td width="{round(72 * SHARE_GAP * scale)}"></td>', own]
    return ('<<table border="0" cellborder="0" cellspacing="0" cellpadding="0"><tr>'
            + "".join(cells if product_first else cells[::-1]) + "</tr></table>>")


def _stack_line(t, gradients):
    """A product's line in its output's stack: the input the weight multiplied, and after backward()
    its share of dL/dW: "I12  2\u00b76.75 = 13.5"."""
    line = input_name(t.x)
    if gradients:
        line += f"  {signed(t.x.data)}\u00b7{signed(t.out.grad)} = {number(t.x.data * t.out.grad)}"
    return line


def _port(k):
    """The port of the k-th weight's box in an output's stack (k counted row by row from 0)."""
    return f"w{k}"


def _with_stack(lines, boxes, stack_w, height, scale):
    """An output with a stack of boxes on its left, one per weight: [box W11 / box W12 / ... | output].

    lines: the output's own text. boxes: (line, colour) per weight in the filter's row-by-row order; the
    k-th box has port _port(k), where W_ab's edge lands, and says in W_ab's colour which input it
    multiplied (line None: the weight met no input here; an empty box as tall keeps the stack aligned).
    """
    border = max(1, round(scale))
    spacing = max(1, round(2 * scale))
    row_h = round(72 * STACK_ROW * scale) - spacing
    own_h = round(72 * height) - 2 * spacing
    cells = []
    for k, (line, colour) in enumerate(boxes):
        if line is None:
            box = ""
        else:
            box = (f'<table style="rounded" border="{border}" cellborder="0" cellspacing="0" cellpadding="0" '
                   f'color="{colour}" bgcolor="white"><tr><td width="{round(72 * stack_w) - 2 * border}" '
                   f'height="{row_h - 2 * border}"><font color="{colour}">{html.escape(line, quote=True)}'
                   f'</font></td></tr></table>')
        cells.append(f'<td port="{_port(k)}" width="{round(72 * stack_w)}" height="{row_h}">{box}</td>')
    own_border = max(1, round(scale))
    text = "<br/>".join(html.escape(r, quote=True) for r in lines)
    own = (f'<td rowspan="{len(boxes) + 1}"><table style="rounded" border="{own_border}" cellborder="0" '
           f'cellspacing="0" cellpadding="{spacing}" bgcolor="#fff8dc"><tr>'
           f'<td width="{round(72 * 0.6 * scale) - 2 * own_border}" height="{own_h - 2 * own_border - 2 * spacing}">'
           f'{text}</td></tr></table></td>')
    # the output's own cell first (beside an empty sliver of a row), so its name is the node's first text,
    # as in every other node (readers of the SVG take a node's first line for its name)
    rows = [f'<tr><td width="{round(72 * stack_w)}" height="1"></td>{own}</tr>'] \
        + [f"<tr>{cell}</tr>" for cell in cells]
    return (f'<<table border="0" cellborder="0" cellspacing="{spacing}" cellpadding="0">'
            + "".join(rows) + "</table>>")


def focused(weight, output):
    """Whether a weight or output focus tints the inputs that take part."""
    return weight is not None or output is not None


def _legend(focus_x, shown, gradients, slice_note, place, boxes):
    """The picture's footer: what an edge means, and the conv's settings (everything counted from 1).

    boxes: where each product is written instead of on its edge: "lands on" (a weight or input focus:
    the output's box), "stack" (no focus: the weight's box in the output's stack) or "leaves" (an output
    focus: the weight's box); None: on the edge."""
    where = "in the box the edge lands on" if boxes == "stack" else f"in the box the edge {boxes}" if boxes \
        else "on the edge"
    if focus_x is not None:
        name = input_name(focus_x)
        legend = [f"edge {name} -> o: {name} was multiplied by the weight named {where}, inside o" + slice_note]
        if gradients:
            total = " + ".join(f"{signed(t.weight.data)}\u00b7{signed(t.out.grad)}" for t in shown[:6])
            more = " + ..." if len(shown) > 6 else ""
            legend.append(f"dL/d{name} = sum of W x dL/do over its edges = {total}{more} = {number(focus_x.grad)}")
            legend.append("(the filter flipped, slid over dL/do)")
    else:
        legend = [f"edge W -> o: W multiplied the input named {where}, inside o" + slice_note]
        if gradients and boxes == "lands on":
            legend.append("after backward: box = that input's value x dL/do (its share); dL/dW = the sum of the boxes")
        elif gradients and boxes == "stack":
            legend.append("after backward: box = that input's value x dL/do (its share); "
                          "dL/dW = the sum of the boxes in W's colour")
        elif gradients and boxes:
            legend.append("after backward: box = that input's value x dL/do, this output's share of dL/dW")
        elif gradients:
            legend.append("after backward: edge = that input's value x dL/do (its share); "
                          "dL/dW = the sum of W's edges")
    legend.append(f"stride {_pair(place.stride)}, dilation {_pair(place.dilation)}"
                  + (f", padding {_pair(place.padding)}" if place.padding else ""))
    return legend


def boxed(lines, colour):
    """An edge label on a white box (an HTML-like label), so the lines crossing behind it do not hide it."""
    rows = "<br/>".join(html.escape(line, quote=True) for line in lines)
    return (f'<<table border="0" cellborder="0" cellspacing="0" cellpadding="1" bgcolor="white">'
            f'<tr><td><font color="{colour}">{rows}</font></td></tr></table>>')


def _pair(p):
    return str(p[0]) if p[0] == p[1] else f"{p[0]}x{p[1]}"


def _draw_pool(dot, pooled, outputs, outs, node_id, ids, gradients, x_end, at, header_y, scale, size, gap,
               losers=True, routes_from=None, labels=True):
    """Pooled Values as their own grid right of the outputs, each edge o -> p saying how much of dL/dp comes back.

    routes_from: draw only the routes from these outputs (an output or pixel focus), so the pool
    step shown is the one the focus's gradient came through.
    labels: False leaves a max's routes unlabelled (a fan: its routes converge where a label would lie
    on the others); the line says it (solid green: the winner, x1; dashed grey: x0), the pool's title
    says so once, and names any tie. Column j of the pooled grid is its
    own column; row i sits at the mean height of its window's outputs (pool windows of different
    rows never share their mean height), so no two pooled Values share a spot.
    """
    routes, names = read_pool(pooled, outputs)
    tied = ties(routes)
    drawn = set(outs.flat) if routes_from is None else set(routes_from)  # a focus: only its outputs' routes
    by_pool = {}
    for r in routes:
        if r.output in drawn:
            by_pool.setdefault(r.pooled, []).append(r)
    index_of = {p: idx for idx, p in np.ndenumerate(np.asarray(pooled, dtype=object))}
    pos = {o: tuple(float(v) for v in dot_pos.split(",")[:2])
           for o, dot_pos in _positions(dot, node_id, drawn).items()}
    widest = max((len(names[p]) for p in by_pool), default=1)
    widest = max([widest] + [len(number(p.data)) + 2 for p in by_pool] + [len(number(p.grad)) + 2 for p in by_pool])
    column_step = scale * (CHAR_WIDTH * widest + 0.6)
    x_pool = x_end + gap + 0.5 * scale
    for p, rs in by_pool.items():
        col = index_of[p][-1] if index_of[p] else 0
        lines = [names[p], number(p.data)]
        if gradients:
            lines += ["dL/dp", "= " + number(p.grad)]
        node_id[p] = ids(names[p], "p")
        y = float(np.mean([pos[r.output][1] for r in rs]))
        dot.node(node_id[p], label(*lines), pos=at(x_pool + col * column_step, y), fillcolor="#e0f0e0",
                 height=f"{(0.8 if gradients else 0.5) * scale:.3g}")
        for r in rs:
            if not losers and r.kind == "max" and r.fraction == 0.0:
                continue
            lost = r.kind == "max" and r.fraction == 0.0
            edge_label = {}
            if r.kind == "max" and labels:
                lines = [_route_text(r, tied.get(p), names)]
                if gradients:
                    lines.append(f"dL/do += {number(r.gradient)}")
                edge_label = {"label": boxed(lines, "#888888" if lost else "#2e7d32")}
            dot.edge(node_id[r.output], node_id[p], color="#aaaaaa" if lost else "#2e7d32",
                     style="dashed" if lost else "solid", penwidth=f"{(1 if lost else 2) * scale:.3g}",
                     **edge_label)
    title = [escape("pool")]
    means = [r for rs in by_pool.values() for r in rs if r.kind != "max"]
    if means:  # a mean routes the same share to every output: said once, under the title, not on each edge
        share = "1" if means[0].fraction == 1.0 else _fraction_text(means[0].fraction)
        one = len(by_pool) == 1 and gradients
        note = f"dL/dp x {share}" + (f" = {number(means[0].gradient)}" if one else "")
        title.append(f'<font point-size="{size["edge"]}" color="#2e7d32">mean: each o gets<br/>{html.escape(note)}</font>')
    notes = []
    if not labels and any(r.kind == "max" for rs in by_pool.values() for r in rs):
        notes = ["max: the winner (solid) gets dL/dp, x1"] + (["the others (dashed) get 0"] if losers else [])
        for p, equal in tied.items():
            if p in by_pool:
                notes.append(f"tie in {names[p]}: {' = '.join(names[o] for o in equal)}; "
                             f"the first, {names[equal[0]]}, gets it")
        title.append(f'<font point-size="{size["edge"]}" color="#2e7d32">'
                     + "<br/>".join(html.escape(line) for line in notes) + "</font>")
    lift = 0.25 * scale if means else 0.14 * scale * len(notes)  # the notes grow up, away from the pooled grid
    dot.node(ids(None, "title"), "<" + "<br/>".join(title) + ">", pos=at(x_pool, header_y + lift),
             shape="plaintext", style="", fontsize=size["title"])


def _route_text(r, tie, names):
    """What an o -> p edge says: the mean's share, or the max's winner and loser (ties named as ties)."""
    if r.kind != "max":
        share = "1" if r.fraction == 1.0 else _fraction_text(r.fraction)
        return f"mean: x{share}"
    if tie and r.output in tie:
        others = ", ".join(names[o] for o in tie if o is not r.output)
        return (f"max: tie with {others}, the first gets it, x1" if r.fraction == 1.0
                else f"max: tie with {others}, not the first, x0")
    return "max: winner, x1" if r.fraction == 1.0 else "max: not the winner, x0"


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
