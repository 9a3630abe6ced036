"""viz.explore without a browser: the page's numbers (steps, ledgers, nudges, lit sets) against the engine and
the conv formula. tests/test_explore_browser.py checks that the page shows them."""
import json
import math
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, strategies as st

import tinygrad_conv as tc
import viz
from tinygrad_conv import functional as F
from tinygrad_conv.value import NO_PATH, Value
from viz.nudge import Rerun, forward
from viz.replay import backward_events

from explore_cases import build, closed_form_lit, closed_form_shares
from strategies import conv_configs, examples, seeds

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
small_convs = conv_configs(max_batch=2, max_groups=2, max_channels_per_group=2, max_out_per_group=2,
                           max_kernel=3, max_stride=2, max_padding=1, max_dilation=2, max_extra=2)


def seed_page(backward=True):
    I = tc.values(np.arange(1.0, 10.0).reshape(3, 3), name="I")
    W = tc.values([[1.0, -1.0], [2.0, 0.5]], name="W")
    o = F.conv2d(I, W)
    p = F.global_avg_pool2d(o)
    L = (p - 1.0) ** 2
    L.name = "L"
    if backward:
        L.backward()
    return viz.explore(L), L


def page_data(page):
    blob = re.search(r'<script type="application/json" id="page-data">(.*?)</script>', page.html, re.S).group(1)
    return json.loads(blob.replace("<\\/", "</"))


# ---- the seed, by hand ---------------------------------------------------------------------------

def test_seed_grids_and_roles():
    page, _ = seed_page()
    assert [(g.name, g.shape, g.role) for g in page.grids] == [
        ("I", (3, 3), "image"), ("W", (2, 2), "filter"), ("o", (2, 2), "conv output"), ("p", (), "pool"),
        ("L", (), "loss")]


def test_seed_ledger_of_W11_reads_as_the_textbook_sum():
    page, _ = seed_page()
    terms = page.ledger("W11")
    # backward() reaches o22 first: the engine's order
    assert [t.symbols for t in terms] == ["I22 × dL/do22", "I21 × dL/do21", "I12 × dL/do12", "I11 × dL/do11"]
    assert [t.numbers for t in terms] == ["5 × 6.75", "4 × 6.75", "2 × 6.75", "1 × 6.75"]
    assert [t.total for t in terms] == [33.75, 60.75, 74.25, 81.0]
    assert page.value("W11").grad == 81.0
    # the pool's quarter shows as its factor, not as a sum node
    assert [(t.symbols, t.numbers) for t in page.ledger("o11")] == [("0.25 × dL/dp", "0.25 × 27")]
    assert [t.symbols for t in page.ledger("I12")] == ["W11 × dL/do12", "W12 × dL/do11"]


def test_seed_lit_sets():
    page, _ = seed_page()
    assert page.lit("W11") == {"o11", "o12", "o21", "o22", "I11", "I12", "I21", "I22"}
    assert page.lit("o22") == {"I22", "I23", "I32", "I33", "W11", "W12", "W21", "W22"}
    assert page.lit("I11") == {"o11", "W11"}
    assert page.lit("p") == set() and page.lit("L") == set()


def test_seed_nudges_agree_with_backward():
    page, _ = seed_page()
    for v, nudged in page.nudges.items():
        assert nudged == pytest.approx(v.grad, rel=1e-7, abs=1e-7), page.names[v]


def test_page_is_one_self_contained_file(tmp_path):
    page, _ = seed_page()
    path = page.save(str(tmp_path / "explorer.html"))
    text = open(path, encoding="utf-8").read()
    assert text == page.html
    assert "<script src" not in text and "<link" not in text and "@import" not in text
    assert re.findall(r"https?://[^\s\"']+", text) == ["http://www.w3.org/2000/svg"] * text.count("www.w3.org")
    assert len(page.events) == 57 and 'id="step" type="button" data-total="57"' in text
    for name in ("I11", "W11", "o11", "p", "L"):
        assert f'data-name="{name}"' in text
    assert page._repr_html_().startswith("<iframe srcdoc=")


def test_page_before_backward_shows_no_gradient():
    page, L = seed_page(backward=False)
    data = page_data(page)
    assert data["ran"] is False
    assert 'class="g"></span>' in page.html  # empty grad spans
    # the replay still ends in what backward() will give; the quiz answers with it
    L.backward()
    assert page.ledger("W11")[-1].total == page.value("W11").grad == 81.0


# ---- the replay is backward(), bit for bit ---------------------------------------------------------

def _all_values(root):
    seen, todo = {root}, [root]
    while todo:
        for c in todo.pop()._prev:
            if c not in seen:
                seen.add(c)
                todo.append(c)
    return seen


@examples(20)
@given(cfg=small_convs, seed=seeds, pool=st.sampled_from([None, "avg", "max"]), head=st.sampled_from([0, 3]))
def test_replay_totals_are_the_engine_grads_exactly(cfg, seed, pool, head):
    L, _ = build(cfg, seed, pool, head)
    events = backward_events(L)
    last = {}
    for e in events:
        last[e.target] = e.total
    for v in _all_values(L):
        if v is not L:
            assert last.get(v, 0.0) == v.grad or (math.isnan(v.grad) and math.isnan(last[v]))
    # one step per edge that backward() follows
    edges = sum(1 for node in L._topological_order() for local in node._local if local is not NO_PATH)
    assert len(events) == edges


def test_replay_keeps_the_engines_order_and_numbers():
    a, b = Value(2.0, "a"), Value(-3.0, "b")
    c = a * b + a.relu()
    c.name = "c"
    c.backward()
    events = backward_events(c)
    assert [(e.target.name, e.user is c, e.local, e.total) for e in events[:2]] == [
        (None, True, 1.0, 1.0), (None, True, 1.0, 1.0)]
    assert [(e.target.name, e.total) for e in events[2:]] == [("a", 1.0), ("a", -2.0), ("b", 2.0)]


# ---- ledgers, lit sets and nudges against the conv formula ------------------------------------------

@examples(20)
@given(cfg=small_convs, seed=seeds, pool=st.sampled_from([None, "avg", "max"]), head=st.sampled_from([0, 2]))
def test_lit_sets_are_the_conv_formulas(cfg, seed, pool, head):
    L, grids = build(cfg, seed, pool, head)
    page = viz.explore(L)
    shown = set(page.names.values())
    for name, expected in closed_form_lit(cfg, shown).items():
        if name in shown:  # (an input no window reaches, an output a pool leaves out, is not in L's graph)
            assert page.lit(name) == expected & shown, name
    if head:  # a dense layer is no conv: nothing lights through it
        assert page.lit(grids["V"][0, 0].name) == set() and page.lit(grids["z"][0].name) == set()
        assert {g.name: g.role for g in page.grids}["V"] == "dense weights"


@examples(20)
@given(cfg=small_convs, seed=seeds, pool=st.sampled_from([None, "avg"]))
def test_ledger_terms_are_the_shares_and_end_in_the_grad(cfg, seed, pool):
    L, grids = build(cfg, seed, pool)
    page = viz.explore(L)
    for name, shares in closed_form_shares(cfg, grids, set(page.names.values())).items():
        terms = page.ledger(name)
        assert sorted(t.value for t in terms) == pytest.approx(shares, rel=1e-12, abs=1e-300)
        assert terms[-1].total == page.value(name).grad
        # each term is one step of the replay, in order
        assert [page.events[t.step].target for t in terms] == [page.value(name)] * len(terms)
        assert [t.step for t in terms] == sorted(t.step for t in terms)


@examples(15)
@given(cfg=small_convs, seed=seeds, pool=st.sampled_from([None, "avg"]), head=st.sampled_from([0, 2]))
def test_nudges_agree_with_backward(cfg, seed, pool, head):
    L, grids = build(cfg, seed, pool, head)
    page = viz.explore(L)
    if any(u._op == "relu" and abs(u._prev[0].data) < 1e-3 for u in _all_values(L)):
        return  # a relu this close to its kink bends inside the nudge
    for v, nudged in page.nudges.items():
        assert nudged == pytest.approx(v.grad, rel=1e-5, abs=1e-6 * max(1.0, abs(L.data))), page.names[v]


def test_nudge_reruns_only_downstream_and_matches_ops():
    x = Value(0.3, "x")
    ops = [x + 1, x - 2, x * 3, x / 4, -x, x ** 3, 2.0 ** x, x.relu(), x.tanh(), x.sigmoid(), x.exp(),
           (x + 1).log(), Value.max([x, Value(0.1)]), Value.sum([x, x, Value(1.0)])]
    for v in ops:
        assert forward(v._op, [c.data for c in v._prev]) == pytest.approx(v.data, rel=1e-15), v._op
    L = Value.sum(ops)
    L.backward()
    rerun = Rerun(L)
    assert rerun.gradient(x) == pytest.approx(x.grad, rel=1e-7)
    other = Value(5.0, "other")
    assert rerun.gradient(other) == 0.0
    assert rerun.downstream(x)[-1] is L


def test_grouping_of_names():
    # a 1-D grid of 12 (b11 is b's 11th, not row 1 col 1), a 4-D grid, and a clash of names
    b = tc.values(np.arange(12.0), name="b")
    W = tc.values(np.ones((2, 1, 2, 2)), name="W")
    x = tc.values(np.ones((1, 3, 3)), name="I")
    o = F.conv2d(x, W)
    clash = Value(2.0, "b3")
    L = Value.sum(list(b.flat) + list(o.flat) + [clash * 1.0])
    L.backward()
    page = viz.explore(L)
    shapes = {g.name: g.shape for g in page.grids}
    # the lone b3 (used in a product) comes first in the forward pass; the 12 b's are used in the sum
    assert shapes["b"] == (3,) and shapes["b (2)"] == (12,)
    assert [v.data for v in next(g for g in page.grids if g.name == "b (2)").cells.values()] == list(range(12))
    assert shapes["W"] == (2, 1, 2, 2) and shapes["o"] == (2, 2, 2) and shapes["I"] == (1, 3, 3)
    assert shapes["L"] == ()
    assert page.lit("W[2,1,2,2]") == {"o[2,1,1]", "o[2,1,2]", "o[2,2,1]", "o[2,2,2]",
                                      "I[1,2,2]", "I[1,2,3]", "I[1,3,2]", "I[1,3,3]"}
    assert '>W[2,1,:,:]<' in page.html  # a 4-D grid is a row of 2-D panels, counted from 1


def test_an_unnamed_loss_is_called_L_and_the_quiz_answers_are_the_grads():
    I = tc.values(np.arange(1.0, 10.0).reshape(3, 3), name="I")
    W = tc.values([[1.0, -1.0], [2.0, 0.5]], name="W")
    L = F.mse_loss(F.max_pool2d(F.conv2d(I, W), 2), np.ones((1, 1)))
    L.backward()
    page = viz.explore(L)
    assert page.names[L] == "L"
    data = page_data(page)
    for i, name in enumerate(data["labels"][:data["drawn"]]):
        assert data["answer"][i] == page.value(name).grad
    # the max pool's losers pass nothing back, and the ledger says why
    loser = data["labels"].index("o11")
    assert page.ledger("o11") == [] and "not the max" in data["notes"][loser][0]


def test_bad_input():
    with pytest.raises(TypeError, match="Value"):
        viz.explore(3.0)
    with pytest.raises(TypeError, match="Tensor"):
        viz.explore(tc.Tensor(np.ones(1)).sum())
    I = tc.values(np.ones((6, 6)), name="I")
    L = Value.sum(list(F.conv2d(I, tc.values(np.ones((3, 3)), name="W")).flat))
    with pytest.raises(ValueError, match="max_nodes"):
        viz.explore(L, max_nodes=50)


def test_explain_html_writes_the_page(tmp_path):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    r = subprocess.run([sys.executable, "-m", "tinygrad_conv", "explain", "--html", "--pool", "max", "--stride", "2",
                        "--image", "5x5", "--filter", "3x3", "--padding", "1", "--out", str(tmp_path)],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    text = (tmp_path / "explorer.html").read_text(encoding="utf-8")
    assert "explorer.html" in r.stdout
    for name in ("I11", "I55", "W33", "o33", "L"):
        assert f'data-name="{name}"' in text
    r = subprocess.run([sys.executable, "-m", "tinygrad_conv", "explain", "--html", "--image", "5x5", "--conv2", "2x2",
                        "--head", "3", "--out", str(tmp_path)], cwd=ROOT, env=env, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    text = (tmp_path / "explorer.html").read_text(encoding="utf-8")
    for grid in ('"I"', '"W"', '"o"', '"U"', '"q"', '"V"', '"z"'):  # both convs and the dense head
        assert f"data-grid={grid}" in text


def test_under_ci_a_missing_browser_fails_and_elsewhere_skips(tmp_path):
    from conftest import BROWSER_MISSING
    (tmp_path / "conftest.py").write_text(open(os.path.join(ROOT, "tests", "conftest.py")).read())
    (tmp_path / "test_page.py").write_text(
        "import pytest\n\n"
        "@pytest.fixture\ndef browser():\n"
        f"    pytest.skip({BROWSER_MISSING + ' no chromium on PATH'!r})\n\n"
        "def test_in_a_browser(browser):\n    pass\n")
    outcomes = {}
    for ci in ("true", None):
        env = {k: v for k, v in os.environ.items() if k != "CI"}
        if ci:
            env["CI"] = ci
        r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rfs", "-p", "no:cacheprovider", str(tmp_path)],
                           cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
        outcomes[ci] = (r.returncode, r.stdout)
    assert outcomes["true"][0] == 1 and "install playwright and chromium" in outcomes["true"][1]
    assert outcomes[None][0] == 0 and "1 skipped" in outcomes[None][1] and "no chromium" in outcomes[None][1]


def test_nudges_through_wide_sums_agree_with_backward():
    """A global pool over 36 outputs and a dense layer over them: sums the nudge moves rather than re-adds."""
    rng = np.random.default_rng(3)
    I = tc.values(rng.standard_normal((7, 7)), name="I")
    W = tc.values(rng.standard_normal((2, 2)), name="W")
    o = F.conv2d(I, W)
    V = tc.values(rng.standard_normal((2, 36)), name="V")
    z = F.linear(o.reshape(-1), V, name="z")
    L = F.mse_loss(z, [1.0, -1.0]) + (F.global_avg_pool2d(o) - 2.0) ** 2
    L.backward()
    page = viz.explore(L)
    assert len(o[0, 0]._prev) == 4 and len(z[0]._prev) == 36  # wide: more than viz.nudge.WIDE inputs
    for v, nudged in page.nudges.items():
        assert nudged == pytest.approx(v.grad, rel=1e-6, abs=1e-7), page.names[v]


def test_a_second_backward_without_zeroing_is_flagged():
    page, L = seed_page()
    L.backward()  # the leaves now hold two passes' worth
    data = page_data(viz.explore(L))
    assert set(data["mismatch"]) == {"I11", "I13", "I21", "I22", "I23", "I31", "I32", "I33", "W11", "W12", "W21",
                                     "W22"}  # (I12's gradient is 0 either way)
    assert "backward() run more than once" in page.html


def test_two_grids_spelled_alike_stay_apart():
    """A conv and a dense layer that both call their bias b and their weights W: four grids, not two."""
    rng = np.random.default_rng(0)
    I = tc.values(rng.standard_normal((1, 8, 8)), name="I")
    o = F.conv2d(I, tc.values(rng.standard_normal((2, 1, 3, 3)), name="W"), tc.values(rng.standard_normal(2), name="b"))
    flat = F.relu(F.max_pool2d(o, 2)).reshape(-1)
    z = F.linear(flat, tc.values(rng.standard_normal((3, 18)), name="W"), tc.values(rng.standard_normal(3), name="b"))
    L = F.cross_entropy(z, 1)
    L.backward()
    page = viz.explore(L)
    grids = {g.name: (g.shape, g.role) for g in page.grids}
    assert grids["W"] == ((2, 1, 3, 3), "filter") and grids["b"] == ((2,), "bias")
    assert grids["W (2)"] == ((3, 18), "weights") and grids["b (2)"] == ((3,), "bias")
    assert len(page.lit("W[1,1,2,2]")) == 36 + 36  # every output of its channel, and an input for each
