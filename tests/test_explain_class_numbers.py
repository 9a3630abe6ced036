"""`explain` with the class's own numbers (--image-values, --filter-values, --target), as API.md's "For teachers" shows.

Every expected number below is worked by hand from the numbers on the command line.
"""
import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
needs_dot = pytest.mark.skipif(shutil.which("dot") is None or shutil.which("neato") is None,
                               reason="the Graphviz programs are not installed")


def explain(*args, out):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "tinygrad_conv", "explain", *args, "--out", str(out)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=300)


@needs_dot
def test_the_contracts_example_works_the_class_numbers(tmp_path):
    r = explain("--image", "3x3", "--image-values", "4,-4,-3,-2,-3,4,4,1,-4", "--filter", "2x2",
                "--filter-values=-1.5,-0.5,0,0.5", out=tmp_path)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert out.startswith("I = 4, -4, -3, -2, -3, 4, 4, 1, -4 (3x3 image, row by row)\n"
                          "W = -1.5, -0.5, 0, 0.5 (2x2 filter, row by row)\n")
    # o11 = 4*(-1.5) + (-4)*(-0.5) + (-2)*0 + (-3)*0.5 = -6 + 2 + 0 - 1.5
    assert "    = 4*(-1.5) + (-4)*(-0.5) + (-2)*0 + (-3)*0.5 = -5.5" in out
    # o12 = -4*(-1.5) + (-3)*(-0.5) + (-3)*0 + 4*0.5 = 6 + 1.5 + 2 = 9.5; o21 = 3 + 1.5 + 0.5 = 5; o22 = 4.5 - 2 - 2 = 0.5
    # p = (-5.5 + 9.5 + 5 + 0.5) / 4 = 2.375, dL/dp = 2 * (2.375 - 1) = 2.75, each output 0.6875
    assert "dL/dp = 2*(p - 1) = 2*(2.375 - 1) = 2.75" in out
    # dL/dW11 = 0.6875 * (4 - 4 - 2 - 3) = -3.4375
    assert "= 0.6875*4 + 0.6875*(-4) + 0.6875*(-2) + 0.6875*(-3) = -3.4375" in out
    assert out.count("check: holds") == 2 and "DOES NOT HOLD" not in out


@needs_dot
def test_the_target_is_the_one_given(tmp_path):
    r = explain("--target", "3", "--pool", "avg", out=tmp_path)
    assert r.returncode == 0, r.stderr
    # the seed: p = 14.5; dL/dp = 2 * (14.5 - 3) = 23; each output 23/4 = 5.75; dL/dW11 = 5.75 * (1 + 2 + 4 + 5)
    assert "L = mean((p - 3)^2) = 132.25" in r.stdout
    assert "dL/dp = 2*(p - 3) = 2*(14.5 - 3) = 23" in r.stdout
    assert "= 5.75*1 + 5.75*2 + 5.75*4 + 5.75*5 = 69" in r.stdout


@needs_dot
def test_a_global_max_pool_still_reads_as_before(tmp_path):
    # explain's max over the whole output is F.global_max_pool2d now: one Value, the same printed lines
    r = explain("--pool", "max", out=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "p11 = max(o11, o12, o21, o22)\n    = max(9.5, 12, 17, 19.5) = 19.5" in r.stdout
    assert "dL/dp = 2*(p - 1) = 2*(19.5 - 1) = 37" in r.stdout
    assert "= 0*1 + 0*2 + 0*4 + 37*5 = 185" in r.stdout


def test_a_negative_first_value_without_equals_is_one_line(tmp_path):
    r = explain("--filter-values", "-1,2,3,4", out=tmp_path)
    assert r.returncode == 2 and r.stdout == "" and "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "--filter-values" in lines[0], r.stderr
