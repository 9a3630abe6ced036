"""demos/tutorial.ipynb runs top to bottom, and what it shows the learner is right.

No Jupyter needed: the notebook's JSON is read with the json module and each code cell is
exec'd in order in one namespace, in a temporary working directory.
"""
import json
import os
import sys
import types

import numpy as np
import pytest

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir)
NOTEBOOK = os.path.join(ROOT, "demos", "tutorial.ipynb")
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "demos"))


def load():
    with open(NOTEBOOK, encoding="utf-8") as f:
        return json.load(f)


def test_notebook_is_valid_nbformat_4_with_empty_outputs():
    nb = load()
    assert nb["nbformat"] == 4 and nb["nbformat_minor"] >= 4
    assert nb["metadata"]["kernelspec"]["language"] == "python"
    kinds = [c["cell_type"] for c in nb["cells"]]
    assert set(kinds) == {"markdown", "code"} and kinds.count("code") >= 8
    ids = [c["id"] for c in nb["cells"]]
    assert len(ids) == len(set(ids))
    for c in nb["cells"]:
        assert isinstance(c["source"], list) and all(isinstance(line, str) for line in c["source"])
        if c["cell_type"] == "code":
            assert c["outputs"] == [] and c["execution_count"] is None
            assert not any(line.lstrip().startswith(("%", "!")) for line in c["source"])  # no IPython magics


def test_notebook_matches_its_generator():
    import make_tutorial
    with open(NOTEBOOK, encoding="utf-8") as f:
        assert f.read() == make_tutorial.render(), "run `python demos/make_tutorial.py` after editing the cells"


@pytest.fixture
def ipython_display(monkeypatch):
    """IPython.display.Math, or a stand-in where IPython is not installed (Jupyter always has it)."""
    try:
        import IPython.display  # noqa: F401
    except ImportError:
        display = types.ModuleType("IPython.display")
        display.Math = lambda latex: latex
        package = types.ModuleType("IPython")
        package.display = display
        monkeypatch.setitem(sys.modules, "IPython", package)
        monkeypatch.setitem(sys.modules, "IPython.display", display)


def test_every_code_cell_runs_and_the_numbers_are_right(tmp_path, monkeypatch, capsys, ipython_display):
    viz = pytest.importorskip("viz")
    for name in ("draw_graph", "conv_wiring", "draw_conv_wiring", "conv_equations"):
        if not hasattr(viz, name):
            pytest.skip(f"viz.{name} is not there yet")
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__main__"}
    for number, c in enumerate(load()["cells"]):
        if c["cell_type"] == "code":
            exec(compile("".join(c["source"]), f"tutorial.ipynb cell {number}", "exec"), namespace)
    out = capsys.readouterr().out
    ns = namespace

    # the seed, worked by hand: o = [[9.5, 12], [17, 19.5]], p = 14.5, L = 13.5^2, dL/do = 2*13.5/4 each
    np.testing.assert_allclose(ns["tc"].data(ns["o"]), [[9.5, 12.0], [17.0, 19.5]], rtol=1e-15)
    assert ns["L"].data == pytest.approx(182.25, rel=1e-15)
    dL_do = 2 * 13.5 / 4
    expected = dL_do * np.array([[1 + 2 + 4 + 5, 2 + 3 + 5 + 6], [4 + 5 + 7 + 8, 5 + 6 + 8 + 9]])
    np.testing.assert_allclose(ns["backprop"], expected, rtol=1e-12)
    np.testing.assert_allclose(ns["by_hand"], expected, rtol=1e-12)
    assert "equal to backward(): True" in out
    assert "o11 = I11*W11 + I12*W12 + I21*W21 + I22*W22" in out

    # nudging agrees with backward(), at two passes per filter value
    np.testing.assert_allclose(ns["nudged"], ns["backprop"], rtol=1e-8)
    assert ns["passes"] == 2 * 4

    # the wiring: W11 fed all four outputs, multiplying I11, I12, I21, I22
    w11 = sorted((o, i) for w, o, i in ns["wiring"] if w == "W11")
    assert w11 == [("o11", "I11"), ("o12", "I12"), ("o21", "I21"), ("o22", "I22")]
    assert "W11" in viz.conv_equations(ns["o"], ns["W"])

    # the trained filter is the Sobel filter
    np.testing.assert_allclose(ns["W_learned"], ns["SOBEL"], atol=1e-3)
