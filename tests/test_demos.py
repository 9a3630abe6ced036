"""The demos, run in-process with small settings, make the claims they print: gradients equal, filter recovered."""
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

DEMOS = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "demos")
sys.path.insert(0, DEMOS)
import conv_as_dense  # noqa: E402
import learn_a_filter  # noqa: E402
import nudge_vs_backprop  # noqa: E402

SVG = "{http://www.w3.org/2000/svg}"


def svg_root(path):
    """The parsed picture; fails unless it is a well-formed SVG document."""
    root = ET.parse(path).getroot()
    assert root.tag == SVG + "svg"
    return root


@pytest.mark.parametrize("demo", [nudge_vs_backprop, learn_a_filter, conv_as_dense])
def test_help_describes_the_demo(demo, capsys):
    with pytest.raises(SystemExit) as exit:
        demo.main(["--help"])
    assert exit.value.code == 0
    text = capsys.readouterr().out
    assert "--out" in text and "--quick" in text


# ---- nudge_vs_backprop ------------------------------------------------------------------------

def test_nudging_gives_backprops_gradient_at_two_passes_per_value(tmp_path, capsys):
    result = nudge_vs_backprop.main(["--quick", "--out", str(tmp_path)])
    assert result["sizes"] == [1, 2, 3]
    for r in result["results"]:
        k = r["k"]
        assert r["backprop"].shape == r["nudge"].shape == (k, k)
        np.testing.assert_allclose(r["nudge"], r["backprop"], rtol=1e-7, atol=1e-8)
        assert r["max_diff"] < 1e-6
        assert r["nudge_passes"] == 2 * k * k
    root = svg_root(result["plot"])
    assert len(root.findall(f".//{SVG}polyline")) == 2  # nudge and backprop
    out = capsys.readouterr().out
    assert "backward()" in out and "nudge and rerun" in out and "Conclusion" in out


def test_the_gradient_is_the_closed_form_sum_over_output_positions():
    """backward()'s dL/dW equals sum over n, i, j of dL/do * the input W_ab multiplied there."""
    rng = np.random.default_rng(3)
    images, targets = nudge_vs_backprop.make_dataset(3, 6, 2, rng)
    loss_fn, W = nudge_vs_backprop.loss_function("scalar", images, targets, rng.standard_normal((2, 2)))
    g = nudge_vs_backprop.gradient_by_backprop(loss_fn, W)
    windows = np.lib.stride_tricks.sliding_window_view(images, (2, 2), axis=(1, 2))  # (n, i, j, a, b)
    out = np.einsum("nijab,ab->nij", windows, nudge_vs_backprop.tc.data(W))
    dL_do = 2 * (out - targets) / out.size
    np.testing.assert_allclose(g, np.einsum("nij,nijab->ab", dL_do, windows), rtol=1e-12, atol=1e-12)


def test_nudge_demo_on_the_tensor_engine(tmp_path):
    if not learn_a_filter.tensor_engine_available():
        pytest.skip("the Tensor engine is not available")
    result = nudge_vs_backprop.main(["--quick", "--engine", "tensor", "--out", str(tmp_path)])
    assert result["max_diff"] < 1e-6


def test_explicit_settings_win_over_quick(tmp_path):
    result = nudge_vs_backprop.main(["--quick", "--filters", "2", "--images", "2", "--out", str(tmp_path)])
    assert result["sizes"] == [2] and result["results"][0]["nudge_passes"] == 8
    result = learn_a_filter.main(["--quick", "--engine", "scalar", "--steps", "3", "--out", str(tmp_path)])
    assert len(result["losses"]) == 3 and result["max_error"] > 1e-3  # three steps are not enough


def test_nudge_demo_rejects_a_filter_larger_than_the_image(tmp_path):
    with pytest.raises(SystemExit) as exit:
        nudge_vs_backprop.main(["--size", "4", "--filters", "5", "--out", str(tmp_path)])
    assert exit.value.code == 2


# ---- learn_a_filter ------------------------------------------------------------------------

@pytest.mark.parametrize("engine", ["scalar", "auto"])
def test_gradient_descent_recovers_the_sobel_filter(engine, tmp_path):
    result = learn_a_filter.main(["--quick", "--engine", engine, "--out", str(tmp_path)])
    assert result["max_error"] < 1e-3
    np.testing.assert_allclose(result["final"], learn_a_filter.SOBEL, atol=1e-3)
    assert result["losses"][-1] < 1e-6 * result["losses"][0]
    frames = svg_root(result["frames"])
    cells = [r for r in frames.iter(SVG + "rect") if r.find(SVG + "title") is not None]
    assert len(cells) == 9 * 9  # steps 0 1 2 5 10 20 40 60, and Sobel
    assert len(svg_root(result["loss_plot"]).findall(f".//{SVG}polyline")) == 2


def test_both_engines_take_the_same_steps(tmp_path):
    if not learn_a_filter.tensor_engine_available():
        pytest.skip("the Tensor engine is not available")
    scalar = learn_a_filter.main(["--quick", "--engine", "scalar", "--out", str(tmp_path)])
    tensor = learn_a_filter.main(["--quick", "--engine", "tensor", "--out", str(tmp_path)])
    np.testing.assert_allclose(tensor["losses"], scalar["losses"], rtol=1e-9, atol=1e-15)


def test_learn_from_a_random_start(tmp_path):
    result = learn_a_filter.main(["--quick", "--engine", "scalar", "--init", "random", "--seed", "1",
                                  "--out", str(tmp_path)])
    assert result["max_error"] < 1e-3


def test_first_step_equations_are_that_steps_real_gradient(tmp_path):
    result = learn_a_filter.main(["--quick", "--engine", "scalar", "--out", str(tmp_path)])
    # the printed gradient is the one the first training step used, on the whole training set
    assert result["step_difference"] <= 1e-12
    text = result["equations"]
    lines = text.splitlines()
    assert lines[0].startswith("dL/dW11 = ") and len(lines) == 2 * 9
    for (a, b), g in np.ndenumerate(result["first_gradient"]):
        k = 2 * (3 * a + b)
        shares = [float(v.strip("()")) for v in lines[k].split(" = ", 1)[1].split(" + ")]
        assert len(shares) == 4  # one share per image (--quick: 4 images)
        assert sum(shares) == pytest.approx(g, rel=1e-3, abs=1e-9)
        assert lines[k + 1].strip() == f"= {g:.6g}"
    assert result["wiring"] and os.path.basename(result["wiring"][0]).startswith("learn_a_filter_wiring.")
    for path in result["wiring"]:
        if path.endswith(".svg"):
            svg_root(path)
    assert (tmp_path / "learn_a_filter_equations.txt").read_text().strip() == text


# ---- conv_as_dense ------------------------------------------------------------------------

def test_seed_matrix_holds_the_filter_values_in_the_right_places(tmp_path, capsys):
    result = conv_as_dense.main(["--out", str(tmp_path)])
    W11, W12, W21, W22 = 0, 1, 2, 3
    _ = -1
    expected = [[W11, W12, _, W21, W22, _, _, _, _],
                [_, W11, W12, _, W21, W22, _, _, _],
                [_, _, _, W11, W12, _, W21, W22, _],
                [_, _, _, _, W11, W12, _, W21, W22]]
    np.testing.assert_array_equal(result["index"], expected)
    assert "W11   W12     0   W21   W22     0     0     0     0" in capsys.readouterr().out
    assert result["forward_diff"] <= 1e-12
    assert result["dense_diff"] <= 1e-12
    assert result["grad_diff"] <= 1e-12
    # the seed's numbers: L = (mean(o) - 1)^2 with mean(o) = 14.5, so dL/do = 6.75 and dL/dW11 = 6.75 * 12
    np.testing.assert_allclose(result["conv_grad"], 6.75 * np.array([[12.0, 16.0], [24.0, 28.0]]), rtol=1e-15)
    svg_root(result["picture"])
    # the picture: labelled rows and columns, 33.75 written in full, W12 in the wiring picture's red,
    # and each weight's sum
    svg = open(result["picture"]).read()
    for label in ("o11", "o22", "I11", "I33", ">33.75<", "dL/dW11 = 6.75 + 13.5 + 27 + 33.75 = 81"):
        assert label in svg
    assert ">34<" not in svg
    import viz
    red = viz.palette.weight_colour(1)
    assert re.search(rf'fill="{red[1]}"[^>]*/>\s*<text[^>]*fill="{red[0]}"[^>]*>W12<', svg)


@settings(max_examples=20, deadline=None)
@given(H=st.integers(2, 6), W=st.integers(2, 6), kh=st.integers(1, 3), kw=st.integers(1, 3),
       stride=st.integers(1, 3), padding=st.integers(0, 2), seed=st.integers(0, 99),
       loss=st.sampled_from(["pool", "mse"]))
def test_dense_gradients_summed_over_tied_entries_equal_the_conv_gradient(tmp_path_factory, H, W, kh, kw, stride,
                                                                          padding, seed, loss):
    if kh > H + 2 * padding or kw > W + 2 * padding:
        return
    out = tmp_path_factory.mktemp("dense")
    result = conv_as_dense.main([f"--image={H}x{W}", f"--filter={kh}x{kw}", f"--stride={stride}",
                                 f"--padding={padding}", f"--seed={seed}", f"--loss={loss}", "--out", str(out)])
    assert result["forward_diff"] <= 1e-12
    np.testing.assert_allclose(result["dL_dM"], result["outer"], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(result["tied_grad"], result["conv_grad"], rtol=1e-12, atol=1e-12)
    # every filter value that meets a real pixel sits once in each output row that uses it, never twice
    for row in result["index"]:
        used = row[row >= 0]
        assert len(used) == len(set(used))


def test_dense_demo_rejects_a_filter_that_does_not_fit(tmp_path):
    with pytest.raises(SystemExit) as exit:
        conv_as_dense.main(["--image", "2x2", "--filter", "3x3", "--out", str(tmp_path)])
    assert exit.value.code == 2


def test_demo_runs_as_a_script_from_a_clone(tmp_path):
    """`python demos/conv_as_dense.py` works without installing the package."""
    done = subprocess.run([sys.executable, os.path.join(DEMOS, "conv_as_dense.py"), "--out", str(tmp_path)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "largest difference: 0.0e+00" in done.stdout
    assert (tmp_path / "conv_as_dense.svg").exists()


def test_demo_pictures_take_a_scale(tmp_path):
    import re
    sizes = {}
    for scale in ("1", "2"):
        result = conv_as_dense.main(["--scale", scale, "--out", str(tmp_path / scale)])
        svg = open(result["picture"]).read()
        sizes[scale] = sorted({float(x) for x in re.findall(r'font-size="([\d.]+)"', svg)})
    assert [2 * s for s in sizes["1"]] == sizes["2"]
    with pytest.raises(SystemExit) as exit:
        conv_as_dense.main(["--scale", "0", "--out", str(tmp_path)])
    assert exit.value.code == 2


# ---- through_the_network ---------------------------------------------------------------------

def test_through_the_network_follows_a_filter_value_from_the_loss_down(tmp_path, capsys):
    import through_the_network
    import viz
    from tinygrad_conv.grid import parse_name
    result = through_the_network.main(["--quick", "--out", str(tmp_path)])
    value, loss = result["value"], result["loss"]
    assert value.name == "W[1,1,2,2]"
    # backward(), the nudge and the Tensor engine agree on the same number
    assert np.isclose(result["nudge"], result["backward"], rtol=1e-5, atol=1e-9)
    assert np.isclose(result["tensor_grad"], result["backward"], rtol=1e-9, atol=1e-15)
    assert result["softmax_difference"] < 1e-12
    # the path runs from the loss through every layer down to the filter value, each hop's equation
    # adding up to that Value's gradient
    path = result["path"]
    assert path.path[0] is loss and path.path[-1] is value
    assert [parse_name(v.name)[0] for v in path.path[1:]] == ["z", "p", "r2", "o2", "r", "o", "W"]
    for above, equation in zip(path.path, path.equations):
        assert any(t.target is above for t in equation.terms)
        assert np.isclose(equation.total, equation.value.grad, rtol=1e-9, atol=1e-15)
    out = capsys.readouterr().out
    assert "step 7 of 7, from o[" in out and f"backward() says dL/d{value.name}" in out
    root = svg_root(result["picture"])
    texts = " ".join(t.text or "" for t in root.iter(SVG + "text"))
    assert value.name in texts and "other uses add" in texts
    # the scalar model's names are the layers' own
    assert result["model"][2].weight.flat[0].name == "W2[1,1,1,1]"
    assert str(viz.gradient_equation(loss, value)).rstrip().endswith(viz.text.number(value.grad))


def test_through_the_network_rejects_a_value_that_is_not_a_first_layer_filter_value(tmp_path):
    import through_the_network
    with pytest.raises(SystemExit) as exit:
        through_the_network.main(["--quick", "--follow", "V11", "--out", str(tmp_path)])
    assert exit.value.code == 2
