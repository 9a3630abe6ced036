"""conv_wiring reads (weight, output, input) off the graph; checked against the conv formula

    o[n,k,i,j] uses x_pad[n, g*Cg + c, s*i + d*a, s*j + d*b] with W[k,c,a,b].
"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import tinygrad_conv as tc
from tinygrad_conv import functional as F
from tinygrad_conv.grid import element_name
import viz


def seed():
    I = tc.values(np.arange(1.0, 10.0).reshape(3, 3), name="I")
    W = tc.values(np.array([[0.5, -1.0], [0.25, 2.0]]), name="W")
    return I, W, F.conv2d(I, W)


def test_seed_wiring_has_16_products_four_per_weight_and_output():
    I, W, o = seed()
    triples = viz.conv_wiring(o, W)
    assert len(triples) == 16
    assert ("W11", "o11", "I11") in triples and ("W22", "o22", "I33") in triples and ("W12", "o21", "I22") in triples
    for w in ("W11", "W12", "W21", "W22"):
        assert sorted(o_ for w_, o_, _ in triples if w_ == w) == ["o11", "o12", "o21", "o22"]
    for out in ("o11", "o12", "o21", "o22"):
        assert sorted(w_ for w_, o_, _ in triples if o_ == out) == ["W11", "W12", "W21", "W22"]


def expected_input(I_shape, n, ch, r, c, padding):
    H, W = I_shape[-2:]
    rr, cc = r - padding[0], c - padding[1]
    if not (0 <= rr < H and 0 <= cc < W):
        return "0"
    index = {2: (rr, cc), 3: (ch, rr, cc), 4: (n, ch, rr, cc)}[len(I_shape)]
    return element_name("I", index, I_shape)


@st.composite
def configs(draw):
    layout = draw(st.sampled_from(["2d", "chw", "nchw"]))
    groups = 1 if layout == "2d" else draw(st.sampled_from([1, 2]))
    Cg = 1 if layout == "2d" else draw(st.integers(1, 2))
    Kg = 1 if layout == "2d" else draw(st.integers(1, 2))
    N = 1 if layout != "nchw" else draw(st.integers(1, 2))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    H = draw(st.integers(max(1, dilation[0] * (kh - 1) + 1 - 2 * padding[0]), 6))
    W = draw(st.integers(max(1, dilation[1] * (kw - 1) + 1 - 2 * padding[1]), 6))
    return layout, groups, Cg, Kg, N, (kh, kw), stride, dilation, padding, H, W


@settings(max_examples=40, deadline=None)
@given(configs(), st.booleans())
def test_wiring_matches_the_formula(config, rename):
    layout, groups, Cg, Kg, N, (kh, kw), stride, dilation, padding, H, W = config
    C, K = Cg * groups, Kg * groups
    shape = {"2d": (H, W), "chw": (C, H, W), "nchw": (N, C, H, W)}[layout]
    wshape = (kh, kw) if layout == "2d" else (K, Cg, kh, kw)
    rng = np.random.default_rng(0)
    I = tc.values(rng.normal(size=shape), name="I")
    Wt = tc.values(rng.normal(size=wshape), name="W")
    o = F.conv2d(I, Wt, stride=stride, padding=padding, dilation=dilation, groups=groups)
    o4 = o.reshape((1,) * (4 - o.ndim) + o.shape)
    if rename:  # the caller's own names must not matter: outputs are found by identity
        for idx, v in np.ndenumerate(o4):
            v.name = "y" + "_".join(map(str, idx))
    out_index = {v.name: idx for idx, v in np.ndenumerate(o4)}
    w4 = Wt.reshape((1, 1) * (Wt.ndim == 2) + Wt.shape)
    w_index = {v.name: idx for idx, v in np.ndenumerate(w4)}
    triples = viz.conv_wiring(o, Wt)
    assert len(triples) == o4.size * Cg * kh * kw
    seen = set()
    for wname, oname, xname in triples:
        n, k, i, j = out_index[oname]
        k2, c, a, b = w_index[wname]
        assert k2 == k
        g = k // Kg
        r, col = stride[0] * i + dilation[0] * a, stride[1] * j + dilation[1] * b
        assert xname == expected_input(shape, n, g * Cg + c, r, col, padding)
        seen.add((wname, oname))
    assert len(seen) == len(triples)  # every (weight, output) pair exactly once


def test_outputs_after_a_pool_are_refused_with_a_hint():
    I, W, o = seed()
    p = F.global_avg_pool2d(o)
    with pytest.raises(ValueError, match="conv2d returned"):
        viz.conv_wiring(np.array([[p]], dtype=object), W)


def test_wrong_weights_are_refused():
    I, W, o = seed()
    other = tc.values(np.ones((2, 2)), name="V")
    with pytest.raises(ValueError, match="none of the given weights"):
        viz.conv_wiring(o, other)


def test_unnamed_values_get_grid_names_and_inputs_their_numbers():
    I = tc.values(np.arange(1.0, 10.0).reshape(3, 3))
    W = tc.values(np.ones((2, 2)))
    o = F.conv2d(I, W, name=None)
    triples = viz.conv_wiring(o, W)
    assert triples[0] == ("W11", "o11", "1")
    assert triples[-1] == ("W22", "o22", "9")


def test_pool_routing_avg_and_max():
    I, W, o = seed()
    p = F.global_avg_pool2d(o)
    assert viz.pool_routing(p, o) == [("p", name, 0.25) for name in ("o11", "o12", "o21", "o22")]
    m = F.max_pool2d(o, 2)
    routes = viz.pool_routing(m, o)
    winner = max(o.flat, key=lambda v: v.data).name
    assert [(r[1], r[2]) for r in routes] == [(n, 1.0 if n == winner else 0.0) for n in ("o11", "o12", "o21", "o22")]
    m[0, 0].backward()
    for _, name, fraction in routes:  # what the route says is what the engine sent back
        assert next(v for v in o.flat if v.name == name).grad == fraction * m[0, 0].grad


def test_pool_routing_windows():
    I = tc.values(np.arange(16.0).reshape(4, 4), name="I")
    W = tc.values(np.ones((1, 1)), name="W")
    o = F.conv2d(I, W)
    p = F.avg_pool2d(o, 2)
    routes = viz.pool_routing(p, o)
    assert len(routes) == 16 and all(f == 0.25 for _, _, f in routes)
    assert sorted(n for q, n, _ in routes if q == "p22") == ["o33", "o34", "o43", "o44"]
    with pytest.raises(ValueError, match="not a pool"):
        viz.pool_routing(o, o)
