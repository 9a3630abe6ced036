"""`explain --head N`, `--conv2 HxW` and `--follow NAME`: the dense head's equations against V^T dL/dz,
the second conv, the chain down to a filter value, the pictures, and one-line errors."""
import os
import re
import shutil
import xml.etree.ElementTree as ET

import pytest

import tinygrad_conv as tc
from viz.explain import build_seed
from viz.text import number

from test_cli import run

needs_dot = pytest.mark.skipif(shutil.which("dot") is None or shutil.which("neato") is None,
                               reason="the Graphviz programs are not installed")


def test_build_seed_keeps_its_dict_without_the_new_options():
    assert sorted(build_seed()) == ["I", "L", "W", "o", "p"]
    seed = build_seed(pool="none", head=3, conv2=(1, 1))
    assert sorted(seed) == ["I", "L", "U", "V", "W", "f", "o", "p", "q", "z"]
    assert [v.name for v in seed["f"]] == ["q11", "q12", "q21", "q22"] and seed["V"].shape == (3, 4)


@needs_dot
def test_head_prints_how_the_dense_layer_sends_dl_do_back(tmp_path):
    r = run("explain", "--head", "3", "--pool", "none", "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    seed = build_seed(pool="none", head=3)
    closed = (tc.data(seed["V"]).T @ tc.grads(seed["z"])).reshape(2, 2)
    for index, name in (((0, 0), "o11"), ((0, 1), "o12"), ((1, 0), "o21"), ((1, 1), "o22")):
        i = 2 * index[0] + index[1] + 1
        line = f"dL/d{name} = V1{i}*dL/dz1 + V2{i}*dL/dz2 + V3{i}*dL/dz3"
        assert line in r.stdout
        block = r.stdout[r.stdout.index(line):].splitlines()
        assert block[2].strip() == "= " + number(closed[index])
    assert "check: dL/df = V^T dL/dz (numpy on the numbers alone) holds" in r.stdout
    assert "Following W11's gradient from the loss down" in r.stdout
    assert r.stdout.rstrip().splitlines()[-1].endswith("path.svg")
    for name in ("graph.svg", "wiring.svg", "path.svg"):
        ET.parse(tmp_path / name)


@needs_dot
def test_conv2_stacks_a_second_conv_whose_inputs_are_the_first_convs_outputs(tmp_path):
    r = run("explain", "--image", "4x4", "--conv2", "2x2", "--head", "2", "--follow", "W12", "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert "q = conv2d(o, U)  -> 2x2" in r.stdout
    assert "q11 = o11*U11 + o12*U12 + o21*U21 + o22*U22" in r.stdout
    seed = build_seed(image=(4, 4), conv2=(2, 2), head=2)
    follow = r.stdout[r.stdout.index("Following W12's gradient"):]
    last = [line for line in follow.splitlines() if line.strip().startswith("= ")][-1]
    assert last.strip() == "= " + number(seed["W"][0, 1].grad)
    for name in ("graph.svg", "wiring.svg", "wiring2.svg", "path.svg"):
        assert os.path.exists(tmp_path / name), name


def test_the_default_output_is_unchanged_by_the_new_flags(tmp_path):
    plain = run("explain", "--out", str(tmp_path))
    assert "Following" not in plain.stdout and "dense head" not in plain.stdout
    assert "V11" not in plain.stdout and "wrote" in plain.stdout and "path.svg" not in plain.stdout


@pytest.mark.parametrize("args, words", [
    (["--conv2", "3x3"], "does not fit the first conv's 2x2 output"),
    (["--image", "4x4", "--conv2", "2x2", "--pool", "avg", "--pool-size", "3"], "second conv's 2x2 output"),
    (["--follow", "Q9"], "names no Value"),
    (["--head", "0"], "at least 1"),
    (["--conv2", "2"], "expected HxW"),
])
def test_bad_network_flags_end_with_one_line_and_status_2(tmp_path, args, words):
    r = run("explain", *args, "--out", str(tmp_path))
    assert r.returncode == 2 and r.stdout == ""
    assert len(r.stderr.strip().splitlines()) == 1 and words in r.stderr


def test_help_lists_the_network_flags():
    text = run("explain", "--help").stdout
    for flag in ("--conv2", "--head", "--follow"):
        assert flag in text
    assert re.search(r"--head N\s", text)
