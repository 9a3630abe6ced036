"""viz.explore(loss): a page to click through a recorded graph and watch each gradient form.

    page = viz.explore(loss)      # after loss.backward()
    page.save("explorer.html")    # one self-contained file: open it in a browser
    page                          # in Jupyter it shows inline

Everything the page shows is read off the recorded graph here, in Python:

- the grids: every named Value, grouped by `grid.parse_name` (I11 ... -> the
  grid I, W[1,1,2,3] -> the 4-D grid W), each laid out as its grid;
- the conv wiring: for every conv layer, which weight multiplied which input
  inside which output (`wiring.read_conv`, by identity in the graph);
- the backward pass as its list of `+=` steps (`replay.backward_events`), and
  for every Value its ledger:  dL/dv = sum over its uses u of (du/dv) * dL/du,
  one term per step that added to v.grad;
- a central-difference nudge for every drawn Value (`nudge.Rerun`).

explore_html.render writes them into the page; its script (explore_page/page.js)
only shows, highlights and replays those numbers: it computes no gradient.
"""
import html
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from tinygrad_conv.grid import parse_name
from tinygrad_conv.value import NO_PATH, Value

from .explore_html import render
from .nudge import Rerun
from .replay import backward_events, final_gradients
from .text import number, signed
from .wiring import read_conv

MAX_NODES = 120_000   # past this the page would pass 40 MB (400 bytes a Value): explore a smaller example


@dataclass
class Grid:
    """The named Values that spell one grid: I11 ... I33, or W[1,1,1,1] ... ."""
    name: str             # as its elements spell it: "I", "W2", or the whole name of a lone Value ("L")
    shape: tuple
    cells: dict           # 0-based index -> Value
    role: str = ""        # "image", "filter", "conv output", "pool", "dense output", "loss", ...
    title: str = ""       # name and role, as shown

    @property
    def computed(self):
        return any(v._edges for v in self.cells.values())


@dataclass(frozen=True)
class Term:
    """One use of a Value v in the ledger: (du/dv) * dL/du, after the step that added it."""
    step: int        # index into Page.events
    symbols: str     # "I11 × dL/do11"
    numbers: str     # "1 × 6.75"
    value: float     # this term: du/dv * dL/du
    total: float     # v's gradient after this term


@dataclass
class Page:
    """The explorer page and the numbers it was made from (for tests and for looking in Python)."""
    html: str
    root: Value
    grids: list
    events: list                                  # replay.Accumulation, in backward()'s order
    names: dict                                   # drawn Value -> its name on the page
    nudges: dict                                  # drawn Value -> central-difference dL/dv
    _lit: dict = field(repr=False, default_factory=dict)      # drawn Value -> set of Values lit with it
    _ledgers: dict = field(repr=False, default_factory=dict)  # drawn Value -> [Term]

    def value(self, name):
        """The drawn Value called `name` (KeyError naming the drawn ones if there is none)."""
        for v, n in self.names.items():
            if n == name:
                return v
        shown = ", ".join(list(self.names.values())[:20])
        raise KeyError(f"no Value named {name!r} on the page; it shows {shown}" + (" ..." if len(self.names) > 20 else ""))

    def lit(self, name):
        """Names of the Values lit when `name` is clicked: wired to it through a conv."""
        return {self.names[v] for v in self._lit.get(self.value(name), ())}

    def ledger(self, name):
        """dL/d(name) as its terms, one per use, in backward()'s order."""
        return list(self._ledgers.get(self.value(name), ()))

    def nudge(self, name):
        return self.nudges[self.value(name)]

    def save(self, path):
        """Write the page (one self-contained HTML file); returns the path."""
        with open(path, "w", encoding="utf-8") as f:
            f.write(self.html)
        return path

    def _repr_html_(self):
        # an iframe keeps the page's script and style to itself inside a notebook
        return (f'<iframe srcdoc="{html.escape(self.html, quote=True)}" style="width:100%;height:720px;'
                'border:1px solid #ccc" sandbox="allow-scripts"></iframe>')

    def __repr__(self):
        return (f"<explorer page: {len(self.names)} Values in {len(self.grids)} grids, "
                f"{len(self.events)} backward steps; .save(path) writes it>")


# ---- reading the graph ---------------------------------------------------------------------------

def _as_root(loss):
    if isinstance(loss, Value):
        return loss
    if isinstance(loss, np.ndarray) and loss.dtype == object and loss.size == 1 and isinstance(loss.flat[0], Value):
        return loss.flat[0]
    if type(loss).__name__ == "Tensor":
        raise TypeError("explore reads the scalar engine's graph: pass a Value (build the model with grids of "
                        "Values, e.g. model.to('scalar')), not a Tensor")
    raise TypeError(f"explore needs the loss as a Value, got {type(loss).__name__}"
                    + (f" of shape {loss.shape}" if hasattr(loss, "shape") else ""))


def _forward_sequence(root, order):
    """Every Value of the graph, each after the Values it was computed from (leaves just before first use)."""
    if not order:
        return [root]
    seen, sequence = set(), []
    for node in order:
        for child in node._prev:
            if not child._edges and child not in seen:
                seen.add(child)
                sequence.append(child)
        sequence.append(node)
    return sequence


def _is_number(name):
    try:
        float(name)
        return True
    except ValueError:
        return False


def _group(named, first_user):
    """(Value, name) pairs (forward order) -> grids, by grid.parse_name.

    A grid with single-digit names (b1 ... b9) is 1-D, so its two-digit names (b11) are read as 1-D too.
    When two grids spell their names alike (a conv's bias b1 b2 and a dense layer's b1 b2 b3), their Values
    are told apart by how they sit in the graph (op, inputs, first user): Values alike in that way are one
    grid, and groups of them that share no position are merged; the second grid of a name is "b (2)".
    """
    spelled = {}
    for v, name in named:
        parsed = parse_name(name)
        grid, index = parsed if parsed else (name, ())
        spelled.setdefault(grid, []).append((v, name, index))
    grids = []
    for name, members in spelled.items():
        if any(len(index) == 1 for _, _, index in members):
            members = [(v, n, parse_name(n, ndim=1)[1] if index else ()) for v, n, index in members]
        alike = {}
        for v, _, index in members:
            user = first_user.get(v)
            kind = (len(index), v._op, len(v._edges), user and user._op, user and len(user._edges))
            alike.setdefault(kind, {}).setdefault(index, v)
        instances = []
        for kind, cells in alike.items():
            for inst in instances:
                if inst["ndim"] == kind[0] and not inst["cells"].keys() & cells.keys():
                    inst["cells"].update(cells)
                    break
            else:
                instances.append({"ndim": kind[0], "cells": dict(cells)})
        for k, inst in enumerate(instances):
            cells = inst["cells"]
            shape = tuple(max(index[d] for index in cells) + 1 for d in range(inst["ndim"]))
            grids.append(Grid(name if k == 0 else f"{name} ({k + 1})", shape, cells))
    return grids


def _array(grid):
    """The grid as an object array, or None when some of its positions have no Value."""
    if len(grid.cells) != int(np.prod(grid.shape, dtype=np.int64)):
        return None
    a = np.empty(grid.shape, dtype=object)
    for index, v in grid.cells.items():
        a[index] = v
    return a


def _shown(x, drawn):
    """The drawn Value standing for conv input x: x itself, or what a relu (or other one-input op) was taken of."""
    while x not in drawn and len(x._edges) == 2:
        x = x._edges[0]
    return x if x in drawn else None


def _find_layers(grids, grid_of, drawn):
    """Conv layers among the grids: (outputs, weights, [(weight, input or None, output)]); roles set on the way.

    A layer is a grid of "+" nodes whose terms are products `input * weight` (functional's order: the weight is
    the right factor). It is a conv when its weights are 4-D, or 2-D and used whole by every output; a 2-D
    weight used a row per output is a dense layer (no conv wiring to light).
    """
    layers = []
    for g in grids:
        if not g.cells or any(v._op != "+" for v in g.cells.values()):
            continue
        counts = Counter()
        for o in g.cells.values():
            for term in o._prev:
                if term._op == "*" and len(term._prev) == 2 and term._prev[1] in grid_of:
                    counts[id(grid_of[term._prev[1]])] += 1
        if not counts:
            continue
        weights = next(w for w in grids if id(w) == counts.most_common(1)[0][0])
        if weights is g:
            continue
        out_array, w_array = _array(g), _array(weights)
        first = next(iter(g.cells.values()))
        used = {t._prev[1] for t in first._prev if t._op == "*" and len(t._prev) == 2}
        conv = out_array is not None and w_array is not None and out_array.ndim in (2, 3, 4) and (
            w_array.ndim == 4 or (w_array.ndim == 2 and out_array.ndim == 2 and len(used) == w_array.size))
        if not conv:
            g.role = g.role or "dense output"
            weights.role = weights.role or "dense weights"
            continue
        reading = read_conv(out_array, w_array)
        wiring = [(t.weight, _shown(t.x, drawn), t.out) for t in reading.terms]
        g.role = "conv output"
        weights.role = "filter"
        for extra in (v for values in reading.extras.values() for v in values if v in grid_of):
            bias = grid_of[extra]
            bias.role = bias.role or ("bias" if not bias.computed else "")
        inputs = {id(grid_of[x]) for _, x, _ in wiring if x is not None}
        for other in grids:
            if id(other) in inputs and not other.role:
                other.role = "image" if not other.computed else "conv input"
        layers.append((g, weights, wiring))
    return layers


def _pool_windows(grids, drawn):
    """Pool output <-> the drawn Values its window read (a max's inputs, or the sum inside an average)."""
    windows = {}
    for g in grids:
        if g.role != "pool":
            continue
        for p in g.cells.values():
            inputs = p._prev if p._op == "max" else p._prev[0]._prev
            for x in inputs:
                shown = _shown(x, drawn)
                if shown is not None and shown is not p:
                    windows.setdefault(p, set()).add(shown)
                    windows.setdefault(shown, set()).add(p)
    return windows


def _roles(grids, root, uses):
    """What each grid not yet placed in a conv or dense layer is: its op, or for numbers, how they are used."""
    for g in grids:
        if g.role:
            continue
        ops = {v._op for v in g.cells.values()}
        if root in g.cells.values():
            g.role = "loss"
        elif ops == {"max"} or (ops == {"/"} and all(v._prev[0]._op == "+" for v in g.cells.values())):
            g.role = "pool"
        elif ops == {""}:
            users = [(u, v) for v in g.cells.values() for u, _ in uses.get(v, ())]
            if any(u._op == "*" and len(u._prev) == 2 and u._prev[1] is v for u, v in users):
                g.role = "weights"  # the right factor of products (functional's input * weight)
            elif any(u._op == "+" and any(t._op == "*" for t in u._prev) for u, _ in users):
                g.role = "bias"
            else:
                g.role = "numbers"
        elif len(ops) == 1:
            g.role = ops.pop()
        else:
            g.role = "values"


_ROLE_ORDER = {"image": 0, "conv input": 0, "filter": 1, "dense weights": 1, "weights": 1, "bias": 2}


def _reading_order(sequence, drawn, order):
    """A sort key putting grids in the order a forward pass reads them: image, filter, bias, conv output, ...

    A computed grid sits where its first element was computed; a leaf grid (image, weights) just before the
    first drawn Value it helps make (so W and I come before o, V before z), the image first.
    """
    position = {v: i for i, v in enumerate(sequence)}
    first_user = {}
    for node in order:
        for child in node._prev:
            first_user.setdefault(child, node)

    def anchor(v):
        if v._edges or v not in first_user:
            return position[v]
        u = first_user[v]
        if u not in drawn and u in first_user:  # a product inside an output: that output
            u = first_user[u]
        return position[u]

    return lambda g: (min(anchor(v) for v in g.cells.values()), _ROLE_ORDER.get(g.role, 5))


class _Labels:
    """What the page calls each Value: its name, the loss "L", a number, or a short expression."""

    def __init__(self, names, root):
        self.names, self.root, self.cache = names, root, {}

    def __call__(self, v, depth=0):
        if v in self.names:
            return self.names[v]
        if v is self.root:
            return "L"
        if not v._edges:
            return number(v.data)
        if depth >= 2:
            return "…"
        key = (id(v), depth)
        if key not in self.cache:
            self.cache[key] = self._expression(v, depth)
        return self.cache[key]

    def _expression(self, v, depth):
        parts = [self.wrapped(c, depth + 1) for c in v._prev]
        op = v._op
        if op == "*" and len(parts) == 2:
            return f"{parts[0]}·{parts[1]}"
        if op == "+":
            return " + ".join(parts) if len(parts) <= 4 else f"{parts[0]} + … + {parts[-1]} ({len(parts)} terms)"
        if op in ("-", "/") and len(parts) == 2:
            return f"{parts[0]} {'−' if op == '-' else '/'} {parts[1]}"
        if op == "neg":
            return f"−{parts[0]}"
        if op.startswith("**"):
            return f"{parts[0]}^{op[2:] or parts[1]}"
        if op == "max":
            return f"max({', '.join(parts)})" if len(parts) <= 4 else f"max({parts[0]}, …, {parts[-1]})"
        return f"{op}({', '.join(parts)})"

    def wrapped(self, v, depth=0):
        """The label, in brackets when it is an expression of more than one part."""
        text = self(v, depth)
        plain = v in self.names or v is self.root or not v._edges or text == "…" or v._op in ("relu", "tanh",
                                                                                                 "exp", "log",
                                                                                                 "sigmoid", "max")
        return text if plain else f"({text})"


def _uses(order):
    """Value -> [(user, d(user)/d(value))], one entry per edge (a Value squared is used twice)."""
    uses = {}
    for node in order:
        edges = iter(node._edges)
        for child, local in zip(edges, edges):
            uses.setdefault(child, []).append((node, local))
    return uses


def _term(event, step, label, uses, drawn, root, grads):
    """The ledger's line for one `+=`: symbols and numbers, the user followed up to a drawn Value.

    An unnamed Value used once (the product I11*W11 inside o11) passes its gradient on unchanged but for
    its one local factor, so dL/d(I11*W11) = 1 * dL/do11 is written dL/do11 (the factor 1 left out).
    """
    user, v = event.user, event.target
    if user._op == "*" and len(user._prev) == 2:
        a, b = user._prev
        symbol = label(b if a is v else a)  # d(a*b)/da = b: name the other factor
    else:
        symbol = number(event.local)
    symbols, numbers = [symbol], [signed(event.local)]
    node = user
    while node not in drawn and node is not root and len(uses.get(node, ())) == 1:
        nxt, local = uses[node][0]
        if local is NO_PATH:
            break
        if local != 1.0:
            symbols.append(number(local))
            numbers.append(signed(local))
        node = nxt
    if len(symbols) > 1 and symbols[0] == "1":  # 1 × 0.25 × dL/dp reads 0.25 × dL/dp
        symbols, numbers = symbols[1:], numbers[1:]
    target = label.wrapped(node)
    symbols.append(f"dL/d{target}")
    numbers.append(signed(grads.get(node, 0.0)))
    return Term(step, " × ".join(symbols), " × ".join(numbers), event.local * event.user_grad, event.total)


def _dead_uses(v, uses, label):
    """Uses of v that pass nothing back (NO_PATH): a losing max input, a dead relu."""
    notes = []
    for user, local in uses.get(v, ()):
        if local is NO_PATH:
            why = {"max": "is not the max", "relu": "is not above 0 (the relu is off)"}.get(
                user._op, "has no path to the result")
            notes.append(f"in {label.wrapped(user)}: {label(v)} {why}, so no gradient comes back that way")
    return notes


# ---- the page ------------------------------------------------------------------------------------

def explore(loss, max_nodes=MAX_NODES):
    """The explorer page for a scalar graph: every named grid, its conv wiring, and backward() step by step.

    `loss` is the Value backward() was (or will be) called on. The page shows each Value's data, and
    its grad once backward() has run; Step replays backward() one `+=` at a time from zero.
    """
    root = _as_root(loss)
    order = root._topological_order()
    sequence = _forward_sequence(root, order)
    if len(sequence) > max_nodes:
        raise ValueError(f"the graph has {len(sequence)} Values, more than max_nodes={max_nodes}: the page would "
                         "be too big to load; explore a smaller image, fewer channels or one example of the batch "
                         "(or pass a larger max_nodes)")
    names = {v: v.name for v in sequence if v.name and not _is_number(v.name)}
    if root not in names:  # the loss is always drawn; unnamed, it is L (or "loss" if a Value is called L)
        names[root] = "loss" if "L" in names.values() else "L"
    first_user = {}
    for node in order:
        for child in node._prev:
            first_user.setdefault(child, node)
    grids = _group(list(names.items()), first_user)
    grid_of = {v: g for g in grids for v in g.cells.values()}
    drawn = set(names)
    layers = _find_layers(grids, grid_of, drawn)
    uses = _uses(order)
    _roles(grids, root, uses)
    grids.sort(key=_reading_order(sequence, names, order))
    for g in grids:
        size = "x".join(map(str, g.shape)) if g.shape else "one number"
        g.title = f"{g.name}: {g.role}, {size}"

    events = backward_events(root)
    grads = final_gradients(events, root)
    ran = bool(order) and root.grad == 1.0
    label = _Labels(names, root)

    lit, lines = {}, {}
    for _, _, wiring in layers:
        for w, x, o in wiring:
            for a, others in ((w, (o, x)), (o, (x, w)), (x, (o, w))):
                if a is not None:
                    lit.setdefault(a, set()).update(b for b in others if b is not None)
            if x is not None:
                for a in (w, o, x):
                    lines.setdefault(a, []).append((x, o))
            lines.setdefault(o, []).append((w, o))

    windows = _pool_windows(grids, drawn)

    ledgers = {}
    for step, event in enumerate(events):
        if event.target in drawn:
            ledgers.setdefault(event.target, []).append(_term(event, step, label, uses, drawn, root, grads))

    rerun = Rerun(root, order)
    nudges = {v: rerun.gradient(v) for v in names}

    page = Page("", root, grids, events, names, nudges, lit, ledgers)
    notes = {v: _dead_uses(v, uses, label) for v in names}
    page.html = render(page, ran, grads, label, lines, notes, windows)
    return page
