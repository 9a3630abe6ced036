"""The whole recorded graph, drawn as micrograd's draw_dot does: a record per Value, a small node per op.

    [ name | data 3.5 | grad 0.25 ]  <--  (sum)  <--  [ | data 0.5 | grad 0.25 ] ...

Left to right, inputs first. The walk is iterative (an explicit stack), so a
graph of any depth can be drawn, and it stops early once the graph is known to
be too big to be readable.

A Tensor's graph is drawn the same way, one record per Tensor: its shape, its
numbers (or their range, when there are more than a few), its gradient where
one was kept. A Tensor conv then shows as what it is: pad, window_rows, the
filters' reshape and transpose, @ and rows_to_images, with no conv node anywhere.
"""
import numpy as np
import graphviz

from .text import escape, number


def _walk(root, max_nodes):
    """Every Value root depends on, each after its inputs (iterative post-order DFS, inputs in argument
    order, so I11 is drawn above I12), or None as soon as there are more than max_nodes."""
    order, seen = [], {root}
    stack = [(root, iter(root._prev))]
    while stack:
        node, inputs = stack[-1]
        for child in inputs:
            if child not in seen:
                seen.add(child)
                if len(seen) > max_nodes:
                    return None
                stack.append((child, iter(child._prev)))
                break
        else:
            stack.pop()
            order.append(node)
    return order


def _count(root):
    seen, stack = {root}, [root]
    while stack:
        for child in stack.pop()._prev:
            if child not in seen:
                seen.add(child)
                stack.append(child)
    return len(seen)


def _numbers(array):
    """A few numbers in full, more as their range: 'data 1 2 3' or 'data -0.5..2.25'."""
    array = np.asarray(array)
    if array.size <= 4:
        return " ".join(number(x) for x in array.flat)
    return f"{number(array.min())}..{number(array.max())}" if array.size else "(empty)"


def _factors(v):
    """An unnamed product of two named Values is called by its factors ("I11*W11"), as the equations write it."""
    if v._op == "*" and len(v._prev) == 2 and all(u.name for u in v._prev):
        return "*".join(u.name for u in v._prev)
    return ""


def _record(v):
    """What v's record shows: its name (an unnamed product: its factors; a Tensor: its shape), data, grad."""
    if type(v).__name__ == "Value":
        return v.name or _factors(v), number(v.data), number(v.grad)
    shape = "x".join(str(n) for n in v.shape) or "scalar"
    return shape, _numbers(v.data), "-" if v.grad is None else _numbers(v.grad)


def draw_graph(root, max_nodes=2000, scale=1.0):
    """A graphviz.Digraph of every Value (or Tensor) `root` depends on: name | data | grad, and the op
    that made each.

    More than `max_nodes` Values raise a ValueError that says how big the graph
    is and how to draw a smaller piece. scale multiplies the font (1.5 for a projector).
    """
    from .palette import check_scale
    scale = check_scale(scale)
    if type(root).__name__ not in ("Value", "Tensor") or not hasattr(root, "_prev"):
        raise TypeError(f"draw_graph needs a Value (e.g. the loss or one conv output) or a Tensor, "
                        f"got {type(root).__name__}")
    order = _walk(root, max_nodes)
    if order is None:
        size = _count(root)
        raise ValueError(
            f"the graph has {size} Values, more than max_nodes={max_nodes} can show readably; focus on a piece: "
            f"draw one output's graph (viz.draw_graph(o[0, 0]) for o11), or draw the conv's wiring with a focus "
            f"(viz.draw_conv_wiring(o, W, weight=(0, 0)) or output=(0, 0)), or pass a larger max_nodes")
    dot = graphviz.Digraph(graph_attr={"rankdir": "LR"},
                           node_attr={"fontname": "Helvetica", "fontsize": f"{11 * scale:.3g}"},
                           edge_attr={"color": "#555555"})
    ids = {v: f"v{i}" for i, v in enumerate(order)}
    for v in order:
        fill = "#e8f0fe" if not v._prev else "#ffffff"
        name, data, grad = _record(v)
        dot.node(ids[v], graphviz.nohtml("{ " + escape(name) + " | data " + escape(data) + " | grad " + escape(grad)
                                         + " }"), shape="record", style="filled", fillcolor=fill)
        if v._prev:
            op = ids[v] + "_op"
            dot.node(op, escape(v._op), shape="circle", width="0.3", fixedsize="false", margin="0.02")
            dot.edge(op, ids[v])
            for child in v._prev:
                dot.edge(ids[child], op)
    return dot
