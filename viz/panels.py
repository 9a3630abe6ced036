"""The default wiring picture: small multiples, one input grid per filter value.

    filter W        outputs o, dL/do            W11 = 1               W12 = -1
    W11 W12         o11 o12                     [1] [2]  3            1  [2] [3]
    W21 W22         o21 o22                     [4] [5]  6            4  [5] [6]
                                                 7   8   9            7   8   9
                                                dL/dW11 = 1·6.75 + 2·6.75 + 4·6.75 + 5·6.75 = 81

All W -> o edges at once cross each other past the seed's size (81 of them at
5x5 with a 3x3 filter). Here each weight W_ab gets its own copy of the
(padded) input grid, and the cells W_ab multiplied are coloured: one per
output o_ij, at padded position (s*i + d*a, s*j + d*b). Those cells form an
OH x OW lattice in the same arrangement as dL/do, which is why

    dL/dW_ab = sum_ij x[s*i + d*a, s*j + d*b] * dL/do_ij

is "the marked cells times dL/do, added up": each marked cell shows its
dL/do beside its value, and the panel's caption writes the sum and its total.

Every cell is drawn from the recorded graph (viz.wiring / viz.geometry), so
the picture shows what the products really were. Each panel is one node with
an HTML-like table of fixed-size cells, laid out by `dot` in rows (the
filter's rows), so no two cells or panels can land on the same spot.
"""
import html

import graphviz
import numpy as np

from .geometry import place_inputs, known_inputs, input_cells
from .palette import weight_colour, check_scale
from .pooling import read_pool, ties
from .text import number as _number, signed as _signed
from .wiring import read_conv, input_name

MAX_TERMS = 6   # a caption writes the sum's terms out up to this many; past it, their count and total
SPACING = 2     # points between grid cells
CHAR = 0.62     # a character's width, in units of the font size (Helvetica digits, roughly)


def _pick(name, value, size):
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < size:
        raise ValueError(f"{name} must be an int in 0..{size - 1}, got {value!r}")
    return value


def _font(text, points, colour=None, bold=False):
    text = html.escape(text, quote=False)
    text = f"<B>{text}</B>" if bold else text
    colour = f' COLOR="{colour}"' if colour else ""
    return f'<FONT POINT-SIZE="{points:.3g}"{colour}>{text}</FONT>'


class _Sizes:
    """Font sizes and cell sizes in points, all multiplied by the scale."""

    def __init__(self, scale, names, gradients, cells):
        self.scale = scale
        self.title, self.value, self.small, self.caption = 13 * scale, 12 * scale, 8.5 * scale, 11 * scale
        self.names = names
        self.lines = 1 + names + gradients
        self.cell_w = max(28 * scale, max(CHAR * self.value * len(v) for v in cells) + 8 * scale,
                          max((CHAR * self.small * len(s) for s in cells.values()), default=0) + 8 * scale)
        self.cell_h = 4 * scale + self.value * 1.2 + (self.lines - 1) * self.small * 1.25


def draw_weight_panels(outputs, weights, inputs=None, *, batch=0, out_channel=0, in_channel=0, pooled=None,
                       gradients=None, scale=1.0, digits=6, only=None):
    """A graphviz.Digraph (dot): the filter, the outputs with dL/do, and one input panel per weight.

    Arguments as viz.draw_conv_wiring (batch, out_channel, in_channel are 0-based indexes;
    the picture's names and footer count from 1). scale multiplies fonts and cells; digits is how
    many significant digits the numbers keep (6, as the equations; 3 keeps random floats readable).
    only: a 0-based (a, b): draw that weight's panel alone (a weight focus too large for edges).
    """
    scale = check_scale(scale)
    if not isinstance(digits, int) or isinstance(digits, bool) or not 1 <= digits <= 17:
        raise ValueError(f"digits must be an int from 1 to 17, got {digits!r}")
    reading = read_conv(outputs, weights)
    N, K, OH, OW = reading.outputs.shape
    _, Cg, kh, kw = reading.weights.shape
    n, k, c = _pick("batch", batch, N), _pick("out_channel", out_channel, K), _pick("in_channel", in_channel, Cg)
    outs, ws = reading.outputs[n, k], reading.weights[k, c]
    fmt = _Format(digits, _letter(reading.weight_names[ws.flat[0]], "W"),
                  _letter(reading.out_names[outs.flat[0]], "o"))
    terms = reading.terms_of(n, k, c)
    known, input_grid = known_inputs(inputs, n) if inputs is not None else (None, None)
    place = place_inputs(terms, known, None if input_grid is None else input_grid.shape[-2:])
    cells = input_cells(place, input_grid)
    if gradients is None:
        gradients = any(o.grad != 0.0 for o in reading.outputs.flat) or any(w.grad != 0.0 for w in ws.flat)
    rows = 1 + max(r for r, _ in cells.values())
    cols = 1 + max(col for _, col in cells.values())
    at = {cell: x for x, cell in cells.items()}
    show_names = rows * cols <= 36  # names fit in the cells of small grids only
    texts = {fmt.number(x.data): "" for x in cells}
    texts.update({input_name(x): "" for x in cells} if show_names else {})
    shares = {f"\u00b7{fmt.signed(t.out.grad)}": "" for t in terms} if gradients else {}
    sizes = _Sizes(scale, show_names, gradients, {**texts, **{"": s for s in shares}})
    colour = {w: weight_colour(i) for i, w in enumerate(ws.flat)}

    dot = graphviz.Digraph("wiring", engine="dot")
    dot.attr("graph", rankdir="TB", nodesep=f"{0.35 * scale:.3g}", ranksep=f"{0.35 * scale:.3g}", pad="0.25",
             fontname="Helvetica", newrank="true")
    dot.attr("node", shape="plain", fontname="Helvetica")
    dot.attr("edge", style="invis")

    rows_of_nodes = [["filter", "outputs"]]
    dot.node("filter", _panel(f"filter {fmt.w}" + _slice_name(N, K, Cg, n, k, c), None,
                              _filter_grid(ws, reading, colour, gradients, sizes, fmt), [], sizes))
    dot.node("outputs", _panel(f"outputs {fmt.o}" + (f" and dL/d{fmt.o}" if gradients else ""), None,
                               _output_grid(outs, reading, gradients, sizes, fmt),
                               _pool_caption(pooled, outputs, outs, gradients, fmt), sizes))
    for a in range(kh):
        row = []
        for b in range(kw):
            if only is not None and (a, b) != tuple(only):
                continue
            w = ws[a, b]
            ident = f"panel_{a + 1}_{b + 1}"
            mine = {t.x: t for t in terms if t.weight is w}
            dot.node(ident, _panel(f"{reading.weight_names[w]} = {fmt.number(w.data)}", colour[w][0],
                                   _input_grid(at, rows, cols, mine, set(place.positions), colour[w], sizes,
                                               gradients, fmt),
                                   _weight_caption(reading.weight_names[w], w, list(mine.values()), gradients, fmt),
                                   sizes))
            row.append(ident)
        if row:
            rows_of_nodes.append(row)
    legend = _legend(place, gradients, N, K, Cg, n, k, c, fmt)
    dot.node("legend", "<" + "<BR/>".join(_font(line, sizes.caption) for line in legend) + ">")
    rows_of_nodes.append(["legend"])

    for row in rows_of_nodes:  # each row one rank, its panels left to right
        with dot.subgraph() as same:
            same.attr(rank="same")
            for tail, head in zip(row, row[1:]):
                same.edge(tail, head)
    for upper, lower in zip(rows_of_nodes, rows_of_nodes[1:]):
        dot.edge(upper[0], lower[0])
    return dot


class _Format:
    """How the numbers of one picture are written: `digits` significant digits, negatives bracketed as factors;
    and the grids' letters (W and o for a first conv; U and q for a second one), so the text says dL/dq."""

    def __init__(self, digits, w="W", o="o"):
        self.digits, self.w, self.o = digits, w, o

    def number(self, x):
        return _number(x, self.digits)

    def signed(self, x):
        return _signed(x, self.digits)


def _letter(name, default):
    """The grid's own letter(s) from an element's name: W11 -> W, U[1,1] -> U, q12 -> q."""
    from tinygrad_conv.grid import parse_name
    parsed = parse_name(name)
    return parsed[0] if parsed else default


def _slice_name(N, K, Cg, n, k, c):
    return f" (batch {n + 1}, out channel {k + 1}, filter channel {c + 1})" if (N, K, Cg) != (1, 1, 1) else ""


def _panel(title, colour, grid, caption, sizes):
    """One panel: a title, a grid (an HTML table), caption lines; as an HTML-like label."""
    rows = [f'<TR><TD>{_font(title, sizes.title, colour, bold=True)}</TD></TR>', f"<TR><TD>{grid}</TD></TR>"]
    rows += [f'<TR><TD ALIGN="LEFT">{_font(line, sizes.caption, colour)}</TD></TR>' for line in caption]
    return f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="1" CELLPADDING="1">{"".join(rows)}</TABLE>>'


def _cell(lines, fill, border, sizes):
    """A fixed-size grid cell: lines of (text, points, colour, bold)."""
    body = "<BR/>".join(_font(*line) for line in lines) if lines else " "
    return (f'<TD FIXEDSIZE="TRUE" WIDTH="{sizes.cell_w:.0f}" HEIGHT="{sizes.cell_h:.0f}" BGCOLOR="{fill}" '
            f'COLOR="{border}">{body}</TD>')


def _table(cells, sizes):
    """Rows of cells as a table of fixed size, so that a wide caption under it cannot spread its cells."""
    rows = "".join("<TR>" + "".join(row) + "</TR>" for row in cells)
    width = len(cells[0]) * (sizes.cell_w + 2 * SPACING + 2) + SPACING
    height = len(cells) * (sizes.cell_h + SPACING + 2) + SPACING
    return (f'<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="{SPACING}" CELLPADDING="0" FIXEDSIZE="TRUE" '
            f'WIDTH="{width:.0f}" HEIGHT="{height:.0f}">{rows}</TABLE>')


def _input_grid(at, rows, cols, mine, used, colours, sizes, gradients, fmt):
    """The padded input grid with the cells one weight multiplied coloured, each with its output's dL/do."""
    strong, light = colours
    grid = []
    for r in range(rows):
        row = []
        for col in range(cols):
            x = at.get((r, col))
            if x is None:  # a place no window reached and no input grid told us about
                row.append(_cell([], "white", "#ffffff", sizes))
                continue
            padding = not x._prev and x.name in ("0", "-inf")
            marked = x in mine
            grey = padding or x not in used
            lines = [(input_name(x), sizes.small, "#777777", False)] if sizes.names else []
            lines.append((fmt.number(x.data), sizes.value, "#999999" if grey and not marked else "black", marked))
            if marked and gradients:
                lines.append((f"\u00b7{fmt.signed(mine[x].out.grad)}", sizes.small, strong, False))
            elif gradients:
                lines.append((" ", sizes.small, None, False))
            fill = light if marked else ("#eeeeee" if padding else "white")
            row.append(_cell(lines, fill, strong if marked else "#bbbbbb", sizes))
        grid.append(row)
    return _table(grid, sizes)


def _filter_grid(ws, reading, colour, gradients, sizes, fmt):
    wide = _wide(sizes, [(f"dL/d{fmt.w} {fmt.number(w.grad)}" if gradients else reading.weight_names[w], sizes.small,
                          0, 0) for w in ws.flat] + [(fmt.number(w.data), sizes.value, 0, 0) for w in ws.flat],
                 2 + gradients)
    grid = []
    for a in range(ws.shape[0]):
        row = []
        for b in range(ws.shape[1]):
            w = ws[a, b]
            lines = [(reading.weight_names[w], sizes.small, colour[w][0], True),
                     (fmt.number(w.data), sizes.value, "black", False)]
            if gradients:
                lines.append((f"dL/d{fmt.w} {fmt.number(w.grad)}", sizes.small, colour[w][0], False))
            row.append(_cell(lines, colour[w][1], colour[w][0], wide))
        grid.append(row)
    return _table(grid, wide)


def _output_grid(outs, reading, gradients, sizes, fmt):
    wide = _wide(sizes, [(f"dL/d{fmt.o} {fmt.number(o.grad)}" if gradients else reading.out_names[o], sizes.small,
                          0, 0) for o in outs.flat] + [(fmt.number(o.data), sizes.value, 0, 0) for o in outs.flat],
                 2 + gradients)
    grid = []
    for i in range(outs.shape[0]):
        row = []
        for j in range(outs.shape[1]):
            o = outs[i, j]
            lines = [(reading.out_names[o], sizes.small, "#777777", False),
                     (fmt.number(o.data), sizes.value, "black", False)]
            if gradients:
                lines.append((f"dL/d{fmt.o} {fmt.number(o.grad)}", sizes.small, "#1b5e20", True))
            row.append(_cell(lines, "#fff8dc", "#bbbbbb", wide))
        grid.append(row)
    return _table(grid, wide)


def _wide(sizes, texts, lines):
    """Sizes whose cells fit these texts in `lines` lines (the filter and output grids carry longer text)."""
    wider = _Sizes.__new__(_Sizes)
    wider.__dict__.update(sizes.__dict__)
    wider.cell_w = max(28 * sizes.scale, max(CHAR * points * len(text) for text, points, _, _ in texts)
                       + 8 * sizes.scale)
    wider.cell_h = 4 * sizes.scale + sizes.value * 1.2 + (lines - 1) * sizes.small * 1.25
    return wider


def _weight_caption(name, w, terms, gradients, fmt):
    """dL/dW_ab as the sum over its marked cells, term by term when there are few, then backward()'s total.

    When W_ab is used outside this picture too (other images of a batch, another conv), the marked
    cells give only this picture's share of dL/dW_ab; the caption then says so and gives both.
    """
    if not gradients:
        return [f"{name} multiplies the {len(terms)} marked inputs, one per output"]
    here = sum(t.x.data * t.out.grad for t in terms)
    if abs(here - w.grad) > 1e-9 * max(1.0, abs(w.grad)):
        return _share_caption(name, w, terms, here, fmt)
    live = [t for t in terms if t.out.grad != 0.0]
    if len(terms) > MAX_TERMS and 0 < len(live) <= MAX_TERMS:  # e.g. a max pool: most dL/do are 0
        shares = [f"{fmt.signed(t.x.data)}\u00b7{fmt.signed(t.out.grad)}" for t in live]
        return [f"dL/d{name} = " + " + ".join(shares),
                f"(its other {len(terms) - len(live)} cells meet dL/d{fmt.o} = 0)", f"= {fmt.number(w.grad)}"]
    if len(terms) > MAX_TERMS:
        return [f"dL/d{name} = sum over its {len(terms)} marked cells",
                f"of input \u00b7 dL/d{fmt.o} = {fmt.number(w.grad)}"]
    shares = [f"{fmt.signed(t.x.data)}\u00b7{fmt.signed(t.out.grad)}" for t in terms]
    lines = [f"dL/d{name} = " + " + ".join(shares[:3])]
    if len(shares) > 3:
        lines.append("  + " + " + ".join(shares[3:]))
    lines.append(f"= {fmt.number(w.grad)}")
    return lines


def _share_caption(name, w, terms, here, fmt):
    shares = [f"{fmt.signed(t.x.data)}\u00b7{fmt.signed(t.out.grad)}" for t in terms]
    head = (f"this picture's share of dL/d{name} = " + " + ".join(shares) if len(shares) <= 3
            else f"this picture's share of dL/d{name}: {len(terms)} marked cells of input \u00b7 dL/d{fmt.o}")
    return [head, f"= {fmt.number(here)}; with {name}'s other uses, dL/d{name} = {fmt.number(w.grad)}"]


def _pool_caption(pooled, outputs, outs, gradients, fmt):
    """Where dL/do came from: the pool's rule, with a tie said to be a tie."""
    if pooled is None:
        return []
    routes, names = read_pool(pooled, outputs)
    drawn = set(outs.flat)
    routes = [r for r in routes if r.output in drawn]
    if not routes:
        return []
    pools = list(dict.fromkeys(r.pooled for r in routes))
    if routes[0].kind == "avg":
        share = routes[0].fraction
        if len(pools) == 1 and gradients:
            p = pools[0]
            lines = [f"from the pool {names[p]} (mean): dL/d{fmt.o} = dL/d{names[p]} \u00b7 {_fraction(share)}",
                     f"= {fmt.number(p.grad)} \u00b7 {_fraction(share)} = {fmt.number(p.grad * share)}"]
        else:
            lines = [f"from the pool (mean): each o gets {_fraction(share)} of its window's dL/dp"]
    else:
        lines = ["from the pool (max): each window's largest o gets all of dL/dp, the rest 0"]
        for p, equal in ties(routes).items():
            lines.append(f"tie in {names[p]}: " + " = ".join(names[o] for o in equal)
                         + f"; the first, {names[equal[0]]}, gets it")
    return lines


def _fraction(f):
    from .equations import _fraction as fraction
    return fraction(f)


def _legend(place, gradients, N, K, Cg, n, k, c, fmt):
    s, d = place.stride, place.dilation
    settings = f"stride {_pair(s)}, dilation {_pair(d)}" + (f", padding {_pair(place.padding)}"
                                                            if place.padding else "")
    padded = place.padding is not None and any(place.padding)
    lines = [f"Each panel is the input grid{' (grey: padding)' if padded else ''}. Coloured: the inputs that "
             "weight multiplied,",
             "one for each output o_ij, in the same arrangement as the outputs."]
    if gradients:
        lines.append(f"Beside each coloured input: dL/d{fmt.o} of that output. dL/d{fmt.w} = the sum of input "
                     f"\u00b7 dL/d{fmt.o} "
                     "over the coloured cells.")
    lines.append(settings + _slice_name(N, K, Cg, n, k, c))
    return lines


def _pair(p):
    return str(p[0]) if p[0] == p[1] else f"{p[0]}x{p[1]}"
