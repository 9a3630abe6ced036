"""demos/tutorial.ipynb is a lesson committed with its outputs; it runs top to bottom, and what it shows is right.

The main check needs no Jupyter: the notebook's JSON is read with the json module and each code
cell is exec'd in order in one namespace, in a temporary working directory. Where nbclient and
ipykernel are installed, the notebook also runs in a real kernel and its printed outputs must be
the ones committed.
"""
import json
import os
import re
import sys

import numpy as np
import pytest

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir)
NOTEBOOK = os.path.join(ROOT, "demos", "tutorial.ipynb")
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "demos"))


def load():
    with open(NOTEBOOK, encoding="utf-8") as f:
        return json.load(f)


def code_cells(nb):
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def text_of(output):
    text = output.get("text", "")
    return "".join(text) if isinstance(text, list) else text


def test_notebook_is_valid_nbformat_4_and_committed_with_its_outputs():
    nb = load()
    assert nb["nbformat"] == 4 and nb["nbformat_minor"] >= 4
    assert nb["metadata"]["kernelspec"]["language"] == "python"
    kinds = [c["cell_type"] for c in nb["cells"]]
    assert set(kinds) == {"markdown", "code"} and kinds.count("code") >= 8
    ids = [c["id"] for c in nb["cells"]]
    assert len(ids) == len(set(ids))
    for c in nb["cells"]:
        assert isinstance(c["source"], list) and all(isinstance(line, str) for line in c["source"])
        source = "".join(c["source"])
        if c["cell_type"] == "code":
            assert not any(line.lstrip().startswith(("%", "!")) for line in c["source"])  # no IPython magics
            assert not re.search(r"\._[a-z]", source), "public API only: no ._prev, ._op, ..."
    # executed, in order, with what a learner should see on GitHub: text and pictures, no error
    cells = code_cells(nb)
    assert [c["execution_count"] for c in cells] == list(range(1, len(cells) + 1))
    for c in cells:
        assert c["outputs"], "a code cell without its output: run `python demos/make_tutorial.py`"
        assert all(o["output_type"] in ("stream", "execute_result", "display_data") for o in c["outputs"])
        assert all(o.get("name") != "stderr" for o in c["outputs"])
    pictures = [o for c in cells for o in c["outputs"] if {"image/svg+xml", "image/png"} & set(o.get("data", {}))]
    assert len(pictures) >= 2
    printed = "".join(text_of(o) for c in cells for o in c["outputs"])
    assert "dL/do11 = dL/dp * 1/4 = 27 * 1/4 = 6.75" in printed  # the pooling step, with its numbers
    assert "= 6.75*1 + 6.75*2 + 6.75*4 + 6.75*5 = 81" in printed
    assert "dL/do = [[2.5, 0.0], [9.5, 0.0]]" in printed       # a dL/do that differs from output to output


def test_notebook_follows_the_lesson_order():
    titles = [line for c in load()["cells"] if c["cell_type"] == "markdown" for line in c["source"]
              if line.startswith("#")]
    words = ["nudge every filter value", "One output is one equation", "One filter value is used at every",
             "Where dL/do comes from", "not the same everywhere", "nudge each filter value and rerun",
             "dense layer", "Learning a filter", "The answer"]
    positions = [next(i for i, t in enumerate(titles) if w in t) for w in words]
    assert positions == sorted(positions), titles


def test_notebook_matches_its_generator():
    import make_tutorial
    built, committed = make_tutorial.build(), load()
    assert [(c["cell_type"], c["id"], "".join(c["source"])) for c in committed["cells"]] == \
        [(c["cell_type"], c["id"], "".join(c["source"])) for c in built["cells"]], \
        "run `python demos/make_tutorial.py` after editing the cells"
    assert committed["metadata"] == built["metadata"]


def test_the_committed_outputs_are_what_running_it_prints_now(tmp_path):
    """Run the notebook in a real kernel (nbclient) and compare its printed text with the committed outputs."""
    pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    import make_tutorial
    executed = make_tutorial.execute(make_tutorial.build())
    fresh = ["".join(text_of(o) for o in c["outputs"] if o["output_type"] == "stream") for c in code_cells(executed)]
    committed = ["".join(text_of(o) for o in c["outputs"] if o["output_type"] == "stream") for c in code_cells(load())]
    assert fresh == committed, "the committed outputs are stale: run `python demos/make_tutorial.py`"


def test_every_code_cell_runs_and_the_numbers_are_right(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__main__"}
    for number, c in enumerate(load()["cells"]):
        if c["cell_type"] == "code":
            exec(compile("".join(c["source"]), f"tutorial.ipynb cell {number}", "exec"), namespace)
    out = capsys.readouterr().out
    ns = namespace

    # the seed, worked by hand: o = [[9.5, 12], [17, 19.5]], p = 14.5, L = 13.5^2, dL/do = 2*13.5/4 each
    tc = ns["tc"]
    np.testing.assert_allclose(tc.data(ns["o"]), [[9.5, 12.0], [17.0, 19.5]], rtol=1e-15)
    assert ns["L"].data == pytest.approx(182.25, rel=1e-15)
    dL_do = 2 * 13.5 / 4
    expected = dL_do * np.array([[1 + 2 + 4 + 5, 2 + 3 + 5 + 6], [4 + 5 + 7 + 8, 5 + 6 + 8 + 9]])
    np.testing.assert_allclose(ns["backprop"], expected, rtol=1e-12)
    assert "o11 = I11*W11 + I12*W12 + I21*W21 + I22*W22" in out
    assert "    = 1*1 + 2*(-1) + 4*2 + 5*0.5 = 9.5" in out
    assert "dL/do22 = dL/dp * 1/4 = 27 * 1/4 = 6.75" in out

    # a global max: all of dL/dp = 2*(19.5 - 1) = 37 to o22, the largest output
    assert ns["p_max"].data == 19.5 and tc.grads(ns["o_max"]).tolist() == [[0.0, 0.0], [0.0, 37.0]]
    np.testing.assert_allclose(tc.grads(ns["W_max"]), 37 * np.array([[5.0, 6.0], [8.0, 9.0]]), rtol=1e-12)

    # max over each row of o, loss mean(p^2): dL/dp = p goes to each row's winner only
    o2, I2 = tc.data(ns["o2"]), tc.data(ns["I2"])
    winners = (o2 == o2.max(axis=1, keepdims=True))
    np.testing.assert_allclose(tc.grads(ns["o2"]), winners * o2.max(axis=1, keepdims=True), rtol=1e-12)
    g = tc.grads(ns["o2"])
    by_hand = np.array([[np.sum(g * I2[a:a + 2, b:b + 2]) for b in range(2)] for a in range(2)])
    np.testing.assert_allclose(tc.grads(ns["W2"]), by_hand, rtol=1e-12)
    assert len(set(g.ravel())) >= 3  # not one share for all

    # nudging agrees with backward(), at two passes per filter value
    np.testing.assert_allclose(ns["nudged"], ns["backprop"], rtol=1e-8)
    assert ns["passes"] == 2 * 4

    # the conv is the dense layer M x, and summing the dense rule over tied entries gives dL/dW
    np.testing.assert_allclose(ns["M"] @ np.arange(1.0, 10.0), [9.5, 12.0, 17.0, 19.5], rtol=1e-15)
    assert np.count_nonzero(ns["M"]) == 16
    np.testing.assert_allclose([ns["tied"][w] for w in ("W11", "W12", "W21", "W22")], expected.ravel(), rtol=1e-12)

    # the trained filter is the Sobel filter
    np.testing.assert_allclose(ns["W_learned"], ns["SOBEL"], atol=1e-3)
