"""The README's Python examples run as written, and its seed numbers are the engine's."""
import os
import re

import numpy as np
import pytest

README = os.path.join(os.path.dirname(__file__), os.pardir, "README.md")


def python_blocks():
    with open(README, encoding="utf-8") as f:
        return re.findall(r"```python\n(.*?)```", f.read(), flags=re.S)


def test_every_python_example_runs(tmp_path, monkeypatch):
    pytest.importorskip("tinygrad_conv.tensor")
    monkeypatch.chdir(tmp_path)
    blocks = python_blocks()
    assert len(blocks) >= 2
    namespaces = []
    for block in blocks:
        namespace = {}
        exec(compile(block, "README.md", "exec"), namespace)
        namespaces.append(namespace)
    seed = namespaces[0]
    import tinygrad_conv as tc
    np.testing.assert_array_equal(tc.grads(seed["W"]), [[81.0, 108.0], [162.0, 189.0]])
    tour = namespaces[1]
    assert tour["viz"].conv_wiring(tour["o"], tour["W"])[0] == ("W11", "o11", "I11")
    assert tour["w"].grad.shape == (4, 1, 3, 3)


def test_the_seed_excerpt_is_what_the_demo_prints(tmp_path):
    """Every line of the README's excerpt of `make demo` (between its "..." cuts) is printed, in order."""
    import subprocess
    import sys
    with open(README, encoding="utf-8") as f:
        text = f.read()
    excerpt = re.search(r"`make demo` \(or `python demos/seed_example.py`\).*?```\n(.*?)```", text, flags=re.S)
    lines = [line for line in excerpt.group(1).splitlines() if line.strip() != "..."]
    assert len(lines) >= 12
    demo = os.path.join(os.path.dirname(README), "demos", "seed_example.py")
    printed = subprocess.run([sys.executable, demo, "--out", str(tmp_path)], capture_output=True, text=True,
                             check=True).stdout.splitlines()
    at = 0
    for line in lines:
        assert line in printed[at:], f"README line not printed (after line {at}): {line!r}"
        at = printed.index(line, at) + 1
