"""The scalar conv's recorded graph, node for node, against one built by hand from the definition.

functional.conv2d is written once for both engines, and the Tensor engine's layout choices live
in its backend. This pins down that none of that reaches the scalar engine's graph: every output
is one Value.sum ("+") of input * weight products in (c, a, b) order, then the bias; every
padding position is its own leaf Value named "0", shared by the windows that read it; outputs are
named as a grid is. The two graphs are compared as a whole: the same ops, names, numbers and
inputs in the same order, and the same sharing.
"""
import numpy as np
from hypothesis import given

import tinygrad_conv as tc
from tinygrad_conv import Value
from tinygrad_conv import functional as F
from strategies import conv_configs, examples, seeds


def conv_by_hand(cfg, X, W, B):
    """The conv's graph from its definition: loops, `*` and one Value.sum per output."""
    x, w = X, W
    if cfg.flat:
        x, w = X[None, None], W[None, None]
    elif cfg.batch is None:
        x = X[None]
    N, C, H, Wd = x.shape
    K, Cg, kh, kw = w.shape
    (s, t), (p, q), (d, e) = cfg.stride, cfg.padding, cfg.dilation
    padded = np.empty((N, C, H + 2 * p, Wd + 2 * q), dtype=object)
    for index in np.ndindex(*padded.shape):
        padded[index] = Value(0.0, "0")  # each padding position its own leaf
    padded[:, :, p:p + H, q:q + Wd] = x
    OH, OW = cfg.output_hw
    out = np.empty((N, K, OH, OW), dtype=object)
    per_group = K // cfg.groups
    for n, k, i, j in np.ndindex(N, K, OH, OW):
        first = (k // per_group) * Cg
        terms = [padded[n, first + c, s * i + d * a, t * j + e * b] * w[k, c, a, b]
                 for c in range(Cg) for a in range(kh) for b in range(kw)]
        if B is not None:
            terms.append(B[k])
        out[n, k, i, j] = Value.sum(terms)
    out = out.reshape(cfg.output_shape)
    tc.grid.name_grid(out, "o")
    return out


def structure(outputs, leaves):
    """The graph below `outputs` as a list of (op, name, data, inputs), each node numbered by first
    visit (depth first, inputs in order); a given leaf is shown by its position in `leaves`."""
    known = {id(v): f"leaf {i}" for i, v in enumerate(leaves)}
    number, rows = {}, []

    def visit(root):
        stack = [(root, False)]
        while stack:
            v, expanded = stack.pop()
            if id(v) in number:
                continue
            if expanded or not v._prev:
                inputs = tuple(number.get(id(u), known.get(id(u))) for u in v._prev)
                number[id(v)] = known.get(id(v), len(rows))
                rows.append((v._op, v.name, v.data, tuple(v._local), inputs))
            else:
                stack.append((v, True))
                stack.extend((u, False) for u in reversed(v._prev))
    for o in outputs:
        visit(o)
    return rows


@examples(30)
@given(cfg=conv_configs(), seed=seeds)
def test_the_scalar_conv_graph_is_the_hand_built_one_node_for_node(cfg, seed):
    x, w, b = cfg.arrays(seed)
    X, W = tc.values(x, name="I"), tc.values(w, name="W")
    B = None if b is None else tc.values(b, name="b")
    leaves = list(X.flat) + list(W.flat) + ([] if B is None else list(B.flat))

    ours = F.conv2d(X, W, B, **cfg.kwargs())
    theirs = conv_by_hand(cfg, X, W, B)

    assert ours.shape == theirs.shape == cfg.output_shape
    assert [o.name for o in ours.flat] == [o.name for o in theirs.flat]
    assert structure(list(ours.flat), leaves) == structure(list(theirs.flat), leaves)


def test_structure_tells_apart_two_graphs_that_differ_only_in_product_order():
    # the comparison itself: I*W and W*I are different graphs, and so are shared and separate zeros
    I, W = Value(1.0, "I11"), Value(2.0, "W11")
    assert structure([Value.sum([I * W])], [I, W]) != structure([Value.sum([W * I])], [I, W])
    z = Value(0.0, "0")
    shared = [Value.sum([z * W]), Value.sum([z * I])]
    separate = [Value.sum([Value(0.0, "0") * W]), Value.sum([Value(0.0, "0") * I])]
    assert structure(shared, [I, W]) != structure(separate, [I, W])
