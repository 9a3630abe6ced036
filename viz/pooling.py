"""How a pool after the conv routes the gradient back to the conv outputs, read off the graph.

    max pool   p = max(o11, o12, o21, o22)        dp/do = 1 for the winner (the first, on ties), 0 otherwise
    avg pool   p = (o11 + o12 + o21 + o22) / 4    dp/do = 1/4 = 1/k^2 for each

so dL/do = dL/dp * dp/do: the whole gradient to the winner, or an equal share to each.
"""
from dataclasses import dataclass

import numpy as np

from tinygrad_conv.value import Value
from tinygrad_conv.grid import element_name


@dataclass(frozen=True)
class Route:
    pooled: Value
    output: Value
    kind: str        # "max" or "avg"
    fraction: float  # dp/do: 1 or 0 for max, 1/k^2 for avg

    @property
    def gradient(self):
        """What this route sends back: dL/dp * dp/do."""
        return self.fraction * self.pooled.grad


def _grid(x, what):
    if isinstance(x, Value):
        return np.array(x, dtype=object)
    grid = np.asarray(x, dtype=object)
    for v in grid.flat:
        if type(v) is not Value:
            raise TypeError(f"{what} must hold only Values, found {v!r}")
    return grid


def read_pool(pooled, outputs):
    """Every Route from a pooled Value back to a conv output, with names for both ends."""
    pooled_grid, out_grid = _grid(pooled, "pooled"), _grid(outputs, "outputs")
    is_output = {o for o in out_grid.flat}
    names = {}
    for index, o in np.ndenumerate(out_grid):
        names.setdefault(o, o.name or element_name("o", index, out_grid.shape))
    for index, p in np.ndenumerate(pooled_grid):
        names.setdefault(p, p.name or element_name("p", index, pooled_grid.shape))
    routes = []
    for p in pooled_grid.flat:
        if p._op == "max":
            kind, pairs = "max", zip(p._prev, p._local)
        elif p._op == "/" and p._prev[0]._op == "+":
            # mean = sum / n: d(mean)/do = 1 * (1/n), the "/" node's local derivative
            kind, pairs = "avg", ((o, p._local[0]) for o in p._prev[0]._prev)
        else:
            raise ValueError(f"{names[p]} is a {p._op or 'leaf'!r} node, not a pool: expected a 'max' node "
                             "(max_pool2d) or a '/' over a '+' (avg_pool2d, global_avg_pool2d)")
        found = False
        for o, fraction in pairs:
            if o in is_output:  # padding ("0", "-inf") takes part in the pool but is no conv output
                routes.append(Route(p, o, kind, float(fraction)))
                found = True
        if not found:
            raise ValueError(f"pool output {names[p]} takes none of the given conv outputs; pass the grid it pooled")
    return routes, names


def pool_routing(pooled, outputs):
    """(pooled_name, output_name, fraction) for every conv output each pooled Value reads.

    fraction = dp/do, the share of dL/dp that flows back to o: 1 for the max's
    winner and 0 for the others, 1/k^2 for each input of a k x k average.
    `outputs` is the grid conv2d returned, `pooled` what the pool returned
    (a Value for a global pool).
    """
    routes, names = read_pool(pooled, outputs)
    return [(names[r.pooled], names[r.output], r.fraction) for r in routes]


def ties(routes):
    """Max pools whose window had a tie: pooled Value -> the conv outputs equal to its max, in window order.

    Value.max sends the whole gradient to the FIRST of them (PyTorch's rule), so the
    first gets dp/do = 1 and the others 0, though each was as large.
    """
    by_pool = {}
    for r in routes:
        if r.kind == "max":
            by_pool.setdefault(r.pooled, []).append(r.output)
    found = {}
    for p, outs in by_pool.items():
        equal = [o for o in outs if o.data == p.data]
        if len(equal) > 1:
            found[p] = equal
    return found
