"""demos/seed_example.py: the README's main job says what it claims, and draws what it says."""
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest

DEMOS = os.path.join(os.path.dirname(__file__), os.pardir, "demos")
sys.path.insert(0, DEMOS)
import seed_example  # noqa: E402


def test_backward_and_nudging_agree_on_the_seed(capsys):
    result = seed_example.main(["--no-pictures"])
    # by hand: o = [[9.5, 12], [17, 19.5]], p = 14.5, dL/dp = 2*(14.5 - 1) = 27, dL/do_ij = 27/4,
    # dL/dW_ab = 27/4 * (sum of the four inputs W_ab multiplied)
    np.testing.assert_array_equal(result["backward"], 6.75 * np.array([[12.0, 16.0], [24.0, 28.0]]))
    np.testing.assert_allclose(result["nudged"], result["backward"], rtol=1e-8)
    assert result["loss"] == 13.5 ** 2 and result["passes"] == 8
    out = capsys.readouterr().out
    assert "o11 = I11*W11 + I12*W12 + I21*W21 + I22*W22" in out
    assert "dL/dW11 = dL/do11*I11 + dL/do12*I12 + dL/do21*I21 + dL/do22*I22" in out
    assert out.count("check: holds") == 2


def test_pictures_show_every_weight_feeding_every_output(tmp_path):
    if not shutil_which("dot"):
        pytest.skip("graphviz's dot is not installed")
    seed_example.main(["--out", str(tmp_path)])
    for stem in ("seed_graph", "seed_wiring", "seed_wiring_W11"):
        assert ET.parse(tmp_path / f"{stem}.svg").getroot().tag.endswith("svg")
    # the whole wiring: every weight feeds every output (16 edges), every output feeds the pool
    svg = "{http://www.w3.org/2000/svg}"
    edges = {e.find(svg + "title").text for e in ET.parse(tmp_path / "seed_wiring.svg").getroot().iter()
             if e.get("class") == "edge"}
    weights, outputs = ["W11", "W12", "W21", "W22"], ["o11", "o12", "o21", "o22"]
    assert edges == {f"{w}->{o}" for w in weights for o in outputs} | {f"{o}->p" for o in outputs}


def test_runs_as_a_script_from_a_clone(tmp_path):
    run = subprocess.run([sys.executable, os.path.join(DEMOS, "seed_example.py"), "--no-pictures"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "backward() took one pass for all of them" in run.stdout


def shutil_which(name):
    import shutil
    return shutil.which(name)
