"""Read a convolution's wiring off the recorded graph: which input each weight multiplied for each output.

A scalar `conv2d` leaves, for every output, one `+` node (Value.sum) whose inputs are
`input * weight` products (plus the bias):

    o[n,k,i,j] = sum_{c,a,b} x_pad[n, g*Cg + c, s*i + d*a, s*j + d*b] * W[k,c,a,b]  (+ b[k])

Nothing here uses that formula. We walk back one step from each output,
recognise each product's weight factor by identity with the given weights,
and call the other factor the input. The formula is what the tests check the
result against.
"""
from dataclasses import dataclass, field

import numpy as np

from tinygrad_conv.value import Value
from tinygrad_conv.grid import element_name


@dataclass(frozen=True)
class Term:
    """One product `x * w` inside the sum that makes output `out`."""
    out: Value
    out_index: tuple      # (n, k, i, j) in the outputs grid, batch and channel axes added if absent
    weight: Value
    weight_index: tuple   # (k, c, a, b) in the weights grid
    x: Value              # the input this weight multiplied: an image pixel, a padding "0", ...
    product: Value        # the "*" node itself


@dataclass
class ConvReading:
    """Everything conv_wiring found: the terms in graph order, and non-product terms (the bias)."""
    outputs: np.ndarray   # (N, K, OH, OW) object array
    weights: np.ndarray   # (K, Cg, kh, kw) object array
    terms: list
    extras: dict = field(default_factory=dict)  # out_index -> [Values added to the sum that are not products]
    out_names: dict = field(default_factory=dict)
    weight_names: dict = field(default_factory=dict)

    def out_name(self, v):
        return self.out_names[v]

    def weight_name(self, v):
        return self.weight_names[v]

    def terms_of(self, n=None, k=None, c=None):
        """The terms of one batch element / output channel / weight channel (None: all)."""
        return [t for t in self.terms
                if (n is None or t.out_index[0] == n) and (k is None or t.out_index[1] == k)
                and (c is None or t.weight_index[1] == c)]


def _as_4d(grid, what):
    """A grid of Values as a 4-D object array: (H, W) -> (1, 1, H, W), (C, H, W) -> (1, C, H, W)."""
    if isinstance(grid, Value):
        grid = np.array([[grid]], dtype=object)
    grid = np.asarray(grid, dtype=object) if isinstance(grid, (list, tuple)) else grid
    if not isinstance(grid, np.ndarray) or grid.dtype != object:
        raise TypeError(f"{what} must be a grid of Values (numpy array of dtype=object), got {type(grid).__name__}")
    for v in grid.flat:
        if type(v) is not Value:
            raise TypeError(f"{what} must hold only Values, found {v!r}")
    if grid.ndim == 2:
        return grid.reshape(1, 1, *grid.shape)
    if grid.ndim == 3 and what == "outputs":
        return grid.reshape(1, *grid.shape)
    if grid.ndim == 4:
        return grid
    expected = "(H, W), (K, H, W) or (N, K, H, W)" if what == "outputs" else "(kh, kw) or (K, C/groups, kh, kw)"
    raise ValueError(f"{what} must have shape {expected}, got {grid.shape}")


def name_of(v, fallback):
    """A Value's own name, or `fallback` when it has none."""
    return v.name if v.name else fallback


def read_conv(outputs, weights):
    """Walk back one step from every output and sort its sum's terms into `Term`s.

    outputs: the grid conv2d returned (after the conv, before any pool or relu);
    weights: the filter grid passed to conv2d.
    """
    shape = getattr(outputs, "shape", ())
    out4, w4 = _as_4d(outputs, "outputs"), _as_4d(weights, "weights")
    weight_index = {}
    for index, w in np.ndenumerate(w4):
        weight_index.setdefault(w, index)  # Values hash by identity
    reading = ConvReading(out4, w4, [])
    for index, w in np.ndenumerate(w4):
        wshape = np.shape(weights)
        reading.weight_names.setdefault(w, name_of(w, element_name("W", _orig_index(index, wshape), wshape)))
    for index, o in np.ndenumerate(out4):
        reading.out_names.setdefault(o, name_of(o, element_name("o", _orig_index(index, shape), shape)))
        found_weight = False
        if o._op != "+":
            raise ValueError(
                f"output {reading.out_names[o]} is a {o._op or 'leaf'!r} node, not a conv output (a '+' of "
                f"input * weight products); pass the grid conv2d returned (before any pool or relu), "
                f"and give a following pool as pooled=")
        for term in o._prev:
            w = None
            if term._op == "*" and len(term._prev) == 2:
                x, w = term._prev
                if w not in weight_index and x in weight_index:
                    x, w = w, x  # written weight * input
                elif w not in weight_index:
                    w = None
            if w is None:
                reading.extras.setdefault(index, []).append(term)
                continue
            found_weight = True
            reading.terms.append(Term(o, index, w, weight_index[w], x, term))
        if not found_weight:
            raise ValueError(f"none of the given weights appears in a product of output {reading.out_names[o]}; "
                             f"pass the filter grid that this conv2d used")
    return reading


def _orig_index(index4, shape):
    """A 4-D index back in the caller's grid shape (drop the axes _as_4d added)."""
    return tuple(index4[4 - len(shape):]) if len(shape) else ()


def conv_wiring(outputs, weights):
    """(weight_name, output_name, input_name) for every product in every conv output, read off the graph.

    For output o[n,k,i,j] and weight W[k,c,a,b] the input is the Value they were
    multiplied with, x_pad[n, g*Cg + c, s*i + d*a, s*j + d*b]; a zero brought in
    by padding is a Value of its own, named "0". The triples come output by
    output (grid order), each output's in the order its sum holds them ((c, a, b)).

    `outputs` are the conv's outputs themselves (what conv2d returned), even if a
    pool follows; the pool's routing is `viz.pool_routing(pooled, outputs)`.
    Unnamed Values are called by their grid position (o11, W11) or, for inputs,
    by their number.
    """
    reading = read_conv(outputs, weights)
    return [(reading.weight_names[t.weight], reading.out_names[t.out], input_name(t.x)) for t in reading.terms]


def input_name(x):
    """An input's name; an unnamed one is shown by its number, as padding zeros are ("0")."""
    if x.name:
        return x.name
    from .text import number
    return number(x.data)
