"""demos/plots.py: the SVG it writes is well-formed XML with the elements each picture needs."""
import os
import sys
import xml.etree.ElementTree as ET

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "demos"))
import plots  # noqa: E402

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg):
    root = ET.fromstring(svg)
    assert root.tag == SVG + "svg"
    assert float(root.get("width")) > 0 and float(root.get("height")) > 0
    return root


def texts(root):
    return [t.text for t in root.iter(SVG + "text")]


def test_line_chart_has_axes_labels_legend_and_one_line_per_series(tmp_path):
    path = tmp_path / "sub" / "chart.svg"
    svg = plots.line_chart([("nudge", [1, 4, 9], [0.1, 0.4, 0.9]), ("backprop", [1, 4, 9], [0.05, 0.05, 0.06])],
                           str(path), title="cost", xlabel="values", ylabel="seconds")
    assert path.read_text() == svg
    root = parse(svg)
    assert len(root.findall(f".//{SVG}polyline")) == 2
    assert len(root.findall(f".//{SVG}circle")) == 6
    labels = texts(root)
    for expected in ("cost", "values", "seconds", "nudge", "backprop"):
        assert expected in labels
    assert "0" in labels and "10" in labels  # x ticks span the data on a linear axis


def test_line_chart_points_lie_inside_the_axes():
    root = parse(plots.line_chart([("a", [2, 3, 50], [1e-3, 0.5, 7.0])], logy=True))
    frame = root.find(f"{SVG}rect[@fill='none']")
    x0, y0 = float(frame.get("x")), float(frame.get("y"))
    x1, y1 = x0 + float(frame.get("width")), y0 + float(frame.get("height"))
    for c in root.iter(SVG + "circle"):
        assert x0 <= float(c.get("cx")) <= x1 and y0 <= float(c.get("cy")) <= y1
    assert {"0.001", "0.01", "0.1", "1", "10"} <= set(texts(root))  # log ticks are powers of ten


def test_log_axis_rejects_non_positive_numbers():
    with pytest.raises(ValueError, match="log axis"):
        plots.line_chart([("a", [1, 2], [0.0, 1.0])], logy=True)
    with pytest.raises(ValueError):
        plots.line_chart([])


def test_strip_draws_every_cell_of_every_frame_on_one_scale():
    frames = [[[0.0, 1.0], [-1.0, 0.5]], [[2.0, -2.0, 0.0]]]
    root = parse(plots.strip(frames, titles=["step 0", "step 9"], title="filter"))
    cells = [r for r in root.iter(SVG + "rect") if r.find(SVG + "title") is not None]
    assert len(cells) == 4 + 3
    colours = {float(r.find(SVG + "title").text): r.get("fill") for r in cells}
    assert colours[2.0] == "rgb(255,0,0)" and colours[-2.0] == "rgb(0,0,255)"  # shared vmax = 2
    assert colours[0.0] == "rgb(255,255,255)" and colours[1.0] == "rgb(255,128,128)"
    assert {"step 0", "step 9", "filter", "-2", "2"} <= set(texts(root))


def test_heatmap_labels_replace_numbers_and_text_is_escaped():
    svg = plots.heatmap([[1.0, 0.0]], title="<W & M>", labels=[[["W11", ""]]])
    root = parse(svg)
    assert "<W & M>" in texts(root)
    cell_texts = [t.text for t in root.iter(SVG + "text") if t.get("font-size") == "9"]
    assert cell_texts == ["W11"]  # the label is shown instead of the number; an empty label shows nothing


def test_colour_is_white_at_zero_and_saturates():
    assert plots.colour(0.0, 1.0) == "rgb(255,255,255)"
    assert plots.colour(5.0, 1.0) == "rgb(255,0,0)"
    assert plots.colour(-5.0, 1.0) == "rgb(0,0,255)"
    assert plots.colour(3.0, 0.0) == "rgb(255,255,255)"  # an all-zero picture has no scale


def test_strip_rejects_empty_frames():
    with pytest.raises(ValueError):
        plots.strip([])
    with pytest.raises(ValueError):
        plots.strip([[]])


def test_strip_with_one_scale_per_frame_draws_a_bar_under_each():
    root = parse(plots.strip([[[1.0, -1.0]], [[100.0, 50.0]]], vmax=[1.0, 100.0]))
    fills = {float(r.find(SVG + "title").text): r.get("fill") for r in root.iter(SVG + "rect")
             if r.find(SVG + "title") is not None}
    assert fills[1.0] == fills[100.0] == "rgb(255,0,0)"  # each frame saturates at its own scale
    assert fills[50.0] == "rgb(255,128,128)"
    assert {"-1", "1", "-100", "100"} <= set(texts(root))
    with pytest.raises(ValueError, match="one scale per frame"):
        plots.strip([[[1.0]]], vmax=[1.0, 2.0])


def test_short_numbers_fit_a_cell():
    assert [plots.short_number(v) for v in (0.0004, -0.0123, 0.97, -1.94, 56.25, 101.25)] == \
        ["0", "-0.012", "0.97", "-1.9", "56", "101"]
