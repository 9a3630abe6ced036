"""conv_equations: every number it prints is the engine's data or grad, and its pattern checks hold."""
import re

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import tinygrad_conv as tc
from tinygrad_conv import functional as F
import viz
from viz import patterns

def num(text):
    return float(text.strip("()"))


def build(image, filt, target=10.0, pool="avg", **conv):
    I = tc.values(image, name="I")
    W = tc.values(filt, name="W")
    o = F.conv2d(I, W, **conv)
    p = F.global_avg_pool2d(o) if pool == "avg" else F.max_pool2d(o, o.shape)
    loss = F.mse_loss(p, np.full(np.shape(p), target))
    return I, W, o, p, loss


def values_by_name(*grids):
    out = {}
    for g in grids:
        for v in np.asarray(g, dtype=object).flat:
            out[v.name] = v
    return out


def check_numbers(text, named, rel):
    """Each two-line equation: symbols on the first line, the same terms' numbers and the result on the second."""
    lines = text.splitlines()
    checked = 0
    for first, second in zip(lines, lines[1:]):
        m = re.match(r"^(\S+) = (.*)$", first)
        if not m or not second.strip().startswith("= ") or "max(" in first or "/ " in first:
            continue
        lhs, symbols = m.groups()
        *numbers, result = [s.strip() for s in second.strip()[2:].split(" = ")]
        terms = symbols.split(" + ")
        parts = numbers[0].split(" + ")
        assert len(terms) == len(parts), (first, second)
        for term, part in zip(terms, parts):
            factors = term.split("*")
            vals = part.split("*")
            assert len(vals) == len(factors)
            for sym, val in zip(factors, vals):
                if sym.startswith("dL/d"):
                    expected = named[sym[4:]].grad
                elif re.fullmatch(r"1/\d+", sym):
                    expected = 1 / int(sym[2:])
                    assert val == sym
                    continue
                elif re.fullmatch(r"-?[\d.]+", sym):  # a padding zero, or max's 0/1 routing
                    expected = float(sym)
                else:
                    expected = named[sym].data
                assert num(val) == pytest.approx(expected, rel=rel, abs=1e-12), (sym, val, first)
        target = named[lhs[4:]].grad if lhs.startswith("dL/d") else named[lhs].data
        assert num(result) == pytest.approx(target, rel=rel, abs=1e-12), (lhs, result)
        checked += 1
    return checked


def test_seed_equations_are_exact():
    I, W, o, p, loss = build(np.arange(1.0, 10.0).reshape(3, 3), [[0.5, -1.0], [0.25, 2.0]])
    before = viz.conv_equations(o, W, pooled=p)
    assert "o11 = I11*W11 + I12*W12 + I21*W21 + I22*W22" in before
    assert "= 1*0.5 + 2*(-1) + 4*0.25 + 5*2 = 9.5" in before
    assert "dL/dW11" not in before and "backward()" in before
    loss.backward()
    text = viz.conv_equations(o, W, pooled=p)
    assert "dL/dW11 = dL/do11*I11 + dL/do12*I12 + dL/do21*I21 + dL/do22*I22" in text
    assert "= 1.5*1 + 1.5*2 + 1.5*4 + 1.5*5 = 18" in text
    assert "dL/do11 = dL/dp*1/4" in text
    named = values_by_name(I, W, o, p)
    assert check_numbers(text, named, rel=0) == 4 + 4 + 4 + 9  # outputs, routes, weights, inputs
    assert text.count("check: holds") == 2 and "DOES NOT HOLD" not in text


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 2), st.integers(0, 1), st.integers(1, 2), st.sampled_from(["avg", "max"]))
def test_numbers_equal_engine_and_patterns_hold(seed, stride, padding, dilation, pool):
    rng = np.random.default_rng(seed)
    H = rng.integers(dilation + 1, 6)
    I, W, o, p, loss = build(rng.normal(size=(H, H + 1)), rng.normal(size=(2, 2)), target=rng.normal(),
                             pool=pool, stride=stride, padding=padding, dilation=dilation)
    loss.backward()
    text = viz.conv_equations(o, W, pooled=p, inputs=I)
    named = values_by_name(I, W, o, p)
    assert check_numbers(text, named, rel=1e-5) >= o.size + W.size
    assert text.count("check: holds") == 2, text
    if stride > 1 and max(o.shape) > 1:  # with one output along both axes a stride leaves no trace
        assert "holes" in text


def test_multichannel_groups_batch_patterns_hold():
    rng = np.random.default_rng(1)
    I = tc.values(rng.normal(size=(2, 4, 5, 5)), name="I")
    W = tc.values(rng.normal(size=(4, 2, 2, 3)), name="W")
    b = tc.values(rng.normal(size=4), name="b")
    o = F.conv2d(I, W, bias=b, stride=(2, 1), padding=1, dilation=(1, 2), groups=2)
    F.mse_loss(o, np.zeros(o.shape)).backward()
    text = viz.conv_equations(o, W)
    assert text.count("check: holds") == 2
    assert "dL/db1 = dL/do[1,1,1,1] + " in text


def test_latex_form_and_notebook_display():
    I, W, o, p, loss = build(np.arange(1.0, 10.0).reshape(3, 3), [[0.5, -1.0], [0.25, 2.0]])
    loss.backward()
    eq = viz.conv_equations(o, W, form="latex", pooled=p)
    assert eq.startswith(r"\begin{aligned}") and r"o_{11} &= I_{11} \cdot W_{11}" in eq
    assert r"\frac{\partial L}{\partial W_{11}}" in eq
    text = viz.conv_equations(o, W)
    assert isinstance(text, str) and text._repr_latex_().startswith("$$") and text.latex == \
        viz.conv_equations(o, W, form="latex")
    with pytest.raises(ValueError, match="form"):
        viz.conv_equations(o, W, form="html")


def test_check_reports_a_weight_used_elsewhere():
    I, W, o, p, loss = build(np.arange(1.0, 10.0).reshape(3, 3), [[0.5, -1.0], [0.25, 2.0]])
    (loss + W[0, 0] * 3.0).backward()
    text = viz.conv_equations(o, W)
    assert "DOES NOT HOLD" in text and "elsewhere" in text


def test_patterns_against_a_direct_sum():
    rng = np.random.default_rng(3)
    for s, d in [((1, 1), (1, 1)), ((2, 3), (1, 2)), ((3, 1), (2, 1))]:
        k = (2, 3)
        g = rng.normal(size=(3, 2))
        extent = (s[0] * 2 + d[0] * 1 + 1, s[1] * 1 + d[1] * 2 + 1)
        x = rng.normal(size=extent)
        w = rng.normal(size=k)
        dW = np.zeros(k)
        dx = np.zeros(extent)
        for i in range(3):
            for j in range(2):
                for a in range(2):
                    for b in range(3):
                        dW[a, b] += g[i, j] * x[s[0] * i + d[0] * a, s[1] * j + d[1] * b]
                        dx[s[0] * i + d[0] * a, s[1] * j + d[1] * b] += g[i, j] * w[a, b]
        np.testing.assert_allclose(patterns.weight_gradient(x, g, s, d, k), dW, rtol=1e-12)
        np.testing.assert_allclose(patterns.input_gradient(g, w, s, d), dx, rtol=1e-12, atol=1e-15)
