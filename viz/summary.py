"""One screen for the seed's question: how does one filter value get its gradient?

    the image, the filter, the outputs (and the pool), the edges of ONE weight W_ab,
    and under them its equation, with names and then numbers, ending in backward()'s value:

    dL/dW11 = I11·dL/do11 + I12·dL/do12 + I21·dL/do21 + I22·dL/do22
            = 1·6.75 + 2·6.75 + 4·6.75 + 5·6.75
            = 81

Made for a projector: drawn at scale 1.5 by default, so it still reads when
shrunk to 1024 px wide.
"""
from .draw_wiring import _draw_edges
from .palette import check_scale
from .pooling import read_pool
from .text import number, signed
from .wiring import input_name

MAX_TERMS = 6  # terms written out; past it the sum is written by its first terms and its count


def draw_summary(outputs, weights, inputs=None, *, weight="W11", pooled=None, scale=1.5, batch=0, out_channel=0,
                 in_channel=0):
    """A graphviz.Digraph: the focused wiring of `weight` with its gradient's equation as the footer.

    Arguments as viz.draw_conv_wiring; `weight` a name ("W11") or a 0-based (a, b). Needs backward() to
    have run (the equation is about gradients).
    """
    scale = check_scale(scale)

    def caption(reading, shown):
        w = shown[0].weight
        name = reading.weight_names[w]
        terms, tail = shown, ""
        live = [t for t in shown if t.out.grad != 0.0]
        if len(shown) > MAX_TERMS and 0 < len(live) <= MAX_TERMS:  # e.g. a max pool: most dL/do are 0
            terms, tail = live, f"   (its other {len(shown) - len(live)} terms meet dL/do = 0)"
        elif len(shown) > MAX_TERMS:
            terms, tail = shown[:MAX_TERMS], f" + ... ({len(shown)} terms)"
        symbols = [f"{input_name(t.x)}\u00b7dL/d{reading.out_names[t.out]}" for t in terms]
        numbers = [f"{signed(t.x.data)}\u00b7{signed(t.out.grad)}" for t in terms]
        head = f"dL/d{name} = "
        pad = " " * len(head)
        lines = [f"How does {name} = {number(w.data)} get its gradient?",
                 f"{name} multiplied one input in each output it fed; each brings back input \u00b7 dL/do:",
                 "",
                 head + " + ".join(symbols) + tail,
                 pad[:-2] + "= " + " + ".join(numbers),
                 pad[:-2] + f"= {number(w.grad)}   (backward() gives {number(w.grad)})"]
        if pooled is not None:
            lines.append("")
            lines.append(_pool_line(pooled, outputs, reading, shown))
        return lines

    return _draw_edges(outputs, weights, inputs, batch, out_channel, in_channel, weight, None, None, pooled,
                       True, scale, caption=caption)


def _pool_line(pooled, outputs, reading, shown):
    """Where the dL/do in the equation came from, in one line."""
    routes, names = read_pool(pooled, outputs)
    pools = list(dict.fromkeys(r.pooled for r in routes))
    if routes[0].kind == "avg" and len(pools) == 1:
        p, share = pools[0], routes[0].fraction
        from .equations import _fraction
        return (f"each dL/do comes from the pool: dL/d{names[p]} \u00b7 {_fraction(share)} = {number(p.grad)} "
                f"\u00b7 {_fraction(share)} = {number(p.grad * share)}")
    if routes[0].kind == "avg":
        return "each dL/do comes from its pool window: dL/dp times the window's share"
    return "each dL/do comes from its pool window: dL/dp for the window's max (the first, on a tie), 0 for the rest"
