"""`python -m tinygrad_conv explain`: equations on stdout, two SVGs, and one-line errors with exit status 2."""
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
needs_dot = pytest.mark.skipif(shutil.which("dot") is None or shutil.which("neato") is None,
                               reason="the Graphviz programs are not installed")


def run(*args, cwd=ROOT):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "tinygrad_conv", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


@needs_dot
def test_seed_explain_prints_equations_and_writes_svgs(tmp_path):
    r = run("explain", "--image", "3x3", "--filter", "2x2", "--pool", "avg", "--out", str(tmp_path / "pics"))
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "o11 = I11*W11 + I12*W12 + I21*W21 + I22*W22" in out
    assert "= 1*1 + 2*(-1) + 4*2 + 5*0.5 = 9.5" in out
    assert "p = (o11 + o12 + o21 + o22) / 4" in out
    assert "dL/dW11 = dL/do11*I11 + dL/do12*I12 + dL/do21*I21 + dL/do22*I22" in out
    assert "= 6.75*1 + 6.75*2 + 6.75*4 + 6.75*5 = 81" in out  # dL/dp = 2*(14.5 - 1) = 27, a quarter to each o
    assert out.count("check: holds") == 2
    for name in ("graph.svg", "wiring.svg"):
        root = ET.parse(tmp_path / "pics" / name).getroot()
        assert root.tag.endswith("svg")
    wiring = (tmp_path / "pics" / "wiring.svg").read_text()
    # the seed's wiring: all 16 W_ab -> o_ij edges, each titled by its ends (a W -> o edge with the sides it
    # leaves and enters, "W11:e->o11:w", as it lands on W11's box in o11's stack), then o -> p
    titles = {re.sub(r":[a-z]+\b", "", t.split("</title>")[0].replace("&#45;&gt;", "->"))
              for t in wiring.split('class="edge">\n<title>')[1:]}
    assert titles == {f"W{a}{b}->o{i}{j}" for a in "12" for b in "12" for i in "12" for j in "12"} | \
        {f"o{i}{j}->p" for i in "12" for j in "12"}
    # I22 sits in all four windows: a box naming it and its share 5 * 6.75 in each output's stack
    assert wiring.count(">I22 &#160;5\u00b76.75 = 33.75<") == 4
    r = run("explain", "--image", "5x5", "--filter", "3x3", "--padding", "1", "--out", str(tmp_path / "big"))
    big = (tmp_path / "big" / "wiring.svg").read_text()
    # 5x5 with a 3x3 filter and padding 1 has 225 products: one input panel per weight, each ending in its sum
    for a in "123":
        for b in "123":
            assert f"<title>panel_{a}_{b}</title>" in big


@needs_dot
@pytest.mark.parametrize("extra", [["--stride", "2", "--padding", "1", "--pool", "max"],
                                   ["--dilation", "2", "--image", "5x5", "--pool", "none"],
                                   ["--image", "4x4", "--pool", "avg", "--pool-size", "2", "--filter", "1x1"]])
def test_other_configurations(tmp_path, extra):
    r = run("explain", *extra, "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("check: holds") == 2
    assert (tmp_path / "graph.svg").stat().st_size > 0 and (tmp_path / "wiring.svg").stat().st_size > 0


def test_default_out_dir_is_out(tmp_path):
    if shutil.which("dot") is None:
        pytest.skip("needs dot")
    r = run("explain", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "out" / "graph.svg").exists() and (tmp_path / "out" / "wiring.svg").exists()


@pytest.mark.parametrize("args, words", [
    (["--image", "0x3"], "positive"),
    (["--image", "3"], "HxW"),
    (["--filter", "5x5"], "does not fit"),
    (["--stride", "0"], "at least 1"),
    (["--padding", "-1"], "at least 0"),
    (["--dilation", "3"], "does not fit"),
    (["--pool", "sum"], "invalid choice"),
    (["--pool-size", "3"], "larger than"),
    (["--pool", "none", "--pool-size", "1"], "needs --pool"),
    (["--image", "40x40"], "at most"),
    (["--padding", "200"], "larger than 12"),
    (["--padding", "99999999999999999999"], "larger than 12"),
    (["--target", "inf"], "finite"),
    (["--target", "nan"], "finite"),
    (["--target", "1e308"], "overflow"),  # finite, but its square is not
    (["--image-values", "1,2,3"], "a 3x3 image needs 9"),
    (["--image-values", "1,2,x,4,5,6,7,8,9"], "'x'"),
    (["--filter-values", "1,inf,2,3"], "finite"),
    (["--filter-values", "1,2,3,4,5"], "a 2x2 filter needs 4"),
    (["--image-values=1e200,1,1,1,1,1,1,1,1"], "overflow"),
    (["--format", "gif"], "invalid choice"),
    (["--max-nodes", "0"], "at least 1"),
])
def test_bad_sizes_end_with_one_line_and_status_2(tmp_path, args, words):
    r = run("explain", *args, "--out", str(tmp_path))
    assert r.returncode == 2
    assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "error" in lines[0] and words in lines[0], r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "graph.svg").exists()


def test_an_out_that_cannot_be_a_directory_ends_with_one_line_and_status_2(tmp_path):
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    for out, words in ((a_file, "File exists"), (a_file / "sub", "Not a directory")):
        r = run("explain", "--out", str(out))
        assert r.returncode == 2 and r.stdout == "" and "Traceback" not in r.stderr
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and "--out" in lines[0] and words in lines[0], r.stderr


def test_a_stride_past_the_image_gives_one_output(tmp_path):
    r = run("explain", "--image", "3x3", "--filter", "2x2", "--stride", "99999999999999999999", "--pool", "none",
            "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert "o11 = I11*W11 + I12*W12 + I21*W21 + I22*W22" in r.stdout and "o12" not in r.stdout


def test_help():
    r = run("--help")
    assert r.returncode == 0 and "explain" in r.stdout
    r = run("explain", "--help")
    assert r.returncode == 0
    for flag in ("--image", "--filter", "--stride", "--padding", "--dilation", "--pool", "--pool-size", "--out"):
        assert flag in r.stdout


def test_the_engine_package_does_not_import_viz():
    code = "import sys, tinygrad_conv, tinygrad_conv.nn, tinygrad_conv.functional; " \
           "print(sorted(m for m in sys.modules if m == 'viz' or m.startswith('viz.')))"
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "[]", r.stdout + r.stderr


@needs_dot
def test_the_class_numbers_are_used_and_checked(tmp_path):
    # a 3x3 image and 2x2 filter of the class's choosing: o11 = 2*1 + 0*(-1) + 1*3 + 3*0 = 5
    r = run("explain", "--image-values", "2,0,1,1,3,0,2,2,1", "--filter-values=1,-1,3,0", "--pool", "max",
            "--target", "0", "--out", str(tmp_path), "--format", "png")
    assert r.returncode == 0, r.stderr
    assert "= 2*1 + 0*(-1) + 1*3 + 3*0 = 5" in r.stdout
    assert r.stdout.count("check: holds") == 2
    for name in ("graph.png", "wiring.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@needs_dot
def test_a_picture_too_big_is_skipped_with_a_note_and_the_equations_still_print(tmp_path):
    r = run("explain", "--image", "12x12", "--filter", "5x5", "--padding", "2", "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("check: holds") == 2 and "o1212 = " not in r.stdout and "o[12,12] = " in r.stdout
    assert "graph.svg skipped" in r.stdout and "--max-nodes" in r.stdout
    assert "wiring.svg skipped" not in r.stdout  # the panels draw every weight at this size
    assert not (tmp_path / "graph.svg").exists() and (tmp_path / "wiring.svg").exists()
    # the option the note names really draws it (a small graph and a small N, so dot stays quick)
    small = ("explain", "--image", "3x3", "--filter", "1x1", "--pool", "none")
    r = run(*small, "--max-nodes", "10", "--out", str(tmp_path / "small"))
    assert r.returncode == 0 and "graph.svg skipped: the graph has 58 Values" in r.stdout
    assert not (tmp_path / "small" / "graph.svg").exists()
    r = run(*small, "--max-nodes", "58", "--out", str(tmp_path / "small"))
    assert r.returncode == 0 and (tmp_path / "small" / "graph.svg").exists() and "skipped" not in r.stdout


@needs_dot
def test_focus_draws_one_weight_output_or_pixel_as_wiring(tmp_path):
    import json
    expected = {"W12": {("W12", o) for o in ("o11", "o12", "o21", "o22")},
                "o21": {(w, "o21") for w in ("W11", "W12", "W21", "W22")},
                "I23": {("I23", "o12"), ("I23", "o22")}}
    for focus, edges in expected.items():
        out = tmp_path / focus
        r = run("explain", "--focus", focus, "--pool", "none", "--format", "svg", "--out", str(out))
        assert r.returncode == 0, r.stderr
        svg = (out / "wiring.svg").read_text()
        drawn = set()
        for title in svg.split('class="edge"')[1:]:
            tail, head = title.split("<title>", 1)[1].split("</title>", 1)[0].replace("&#45;&gt;", "->").split("->")
            drawn.add((tail, head))
        assert drawn == edges, focus
    r = run("explain", "--focus", "I23", "--out", str(tmp_path))
    assert "dL/dI23 = sum of W x dL/do over its edges = 0.5·6.75 + (-1)·6.75 = -3.375" in \
        (tmp_path / "wiring.svg").read_text().replace("&#183;", "·").replace("&#45;", "-")


@pytest.mark.parametrize("args, words", [
    (["--focus", "W33"], "valid names are W11 .. W22; o11 .. o22; I11 .. I33"),
    (["--focus", "0"], "valid names are"),
    (["--scale", "0"], "between 0.25 and 4"),
    (["--scale", "big"], "expected a number"),
])
def test_a_bad_focus_or_scale_is_one_line_and_status_2(tmp_path, args, words):
    r = run("explain", *args, "--out", str(tmp_path))
    assert r.returncode == 2 and r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], r.stderr


@needs_dot
def test_scale_grows_the_pictures_text(tmp_path):
    import re
    sizes = {}
    for scale in ("1", "2"):
        r = run("explain", "--scale", scale, "--out", str(tmp_path / scale))
        assert r.returncode == 0, r.stderr
        svg = (tmp_path / scale / "wiring.svg").read_text()
        sizes[scale] = max(float(x) for x in re.findall(r'font-size="([\d.]+)"', svg))
    assert sizes["2"] == pytest.approx(2 * sizes["1"])


@needs_dot
def test_every_accepted_size_draws_the_wiring_or_names_focus(tmp_path):
    r = run("explain", "--image", "12x12", "--filter", "12x12", "--padding", "12", "--pool", "none",
            "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    note = next(line for line in r.stdout.splitlines() if line.startswith("wiring.svg skipped"))
    assert "pass --focus o[1,1]" in note
    for focus in ("o[1,1]", "W[1,1]"):  # the option the note names really draws (a weight: its own panel)
        r = run("explain", "--image", "12x12", "--filter", "12x12", "--padding", "12", "--pool", "none",
                "--focus", focus, "--out", str(tmp_path / "focus"))
        assert r.returncode == 0 and "wiring.svg skipped" not in r.stdout, r.stdout + r.stderr
        assert (tmp_path / "focus" / "wiring.svg").stat().st_size > 0
    r = run("explain", "--help")
    assert "--focus" in r.stdout and "--scale" in r.stdout
