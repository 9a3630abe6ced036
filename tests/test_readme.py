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
