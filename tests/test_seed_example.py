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
    for stem in ("seed_graph", "seed_wiring", "seed_wiring_W11", "seed_summary"):
        assert ET.parse(tmp_path / f"{stem}.svg").getroot().tag.endswith("svg")
    svg = "{http://www.w3.org/2000/svg}"

    def edges(stem):
        return {e.find(svg + "title").text.replace("&#45;", "-") for e in ET.parse(tmp_path / f"{stem}.svg").getroot()
                .iter() if e.get("class") == "edge"}
    outputs = ["o11", "o12", "o21", "o22"]
    # W11 feeds every output, every output feeds the pool
    assert edges("seed_wiring_W11") == {f"W11->{o}" for o in outputs} | {f"{o}->p" for o in outputs}
    assert edges("seed_summary") == edges("seed_wiring_W11")
    # the summary's footer: W11's equation in names and numbers, and its sum 6.75 * (1 + 2 + 4 + 5) = 81
    def words(stem):
        return " ".join(" ".join((t.text or "").split()) for t in ET.parse(tmp_path / f"{stem}.svg").iter(svg + "text"))
    text = words("seed_summary")
    assert "dL/dW11 = I11\u00b7dL/do11 + I12\u00b7dL/do12 + I21\u00b7dL/do21 + I22\u00b7dL/do22" in text
    assert "= 1\u00b76.75 + 2\u00b76.75 + 4\u00b76.75 + 5\u00b76.75" in text and "= 81" in text
    # the whole wiring: one panel per weight, each with its sum
    text = words("seed_wiring")
    for total in ("= 81", "= 108", "= 162", "= 189"):
        assert total in text


def test_runs_as_a_script_from_a_clone(tmp_path):
    run = subprocess.run([sys.executable, os.path.join(DEMOS, "seed_example.py"), "--no-pictures"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "backward() took one pass for all of them" in run.stdout


def shutil_which(name):
    import shutil
    return shutil.which(name)
