"""demos/train_digits.py: the digits CNN reaches its accuracy, and both engines train it identically."""
import os
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir, "demos"))
pytest.importorskip("tinygrad_conv.tensor")
import train_digits  # noqa: E402


def test_tensor_engine_reaches_97_percent_and_draws_its_filters(tmp_path):
    result = train_digits.main(["--out", str(tmp_path)])
    assert result["test_accuracy"] >= 0.97
    history = result["history"]
    assert np.mean(history["loss"][-10:]) < np.mean(history["loss"][:10]) / 5
    for path in result["pictures"]:
        root = ET.parse(path).getroot()
        assert root.tag.endswith("svg")
    filters = ET.parse(result["pictures"][0]).getroot()
    assert sum(1 for e in filters.iter() if e.tag.endswith("rect")) >= 16 * 9


def test_scalar_engine_trains_the_same_model_to_the_same_weights(tmp_path):
    result = train_digits.main(["--engine", "scalar", "--subset", "8", "--batch", "4", "--out", str(tmp_path)])
    assert result["engine_difference"] < 1e-12
    assert len(result["history"]["loss"]) == 2


def test_bad_arguments_exit_with_status_2(capsys):
    with pytest.raises(SystemExit) as stop:
        train_digits.main(["--epochs", "0"])
    assert stop.value.code == 2
    assert "--epochs must be at least 1" in capsys.readouterr().err
