"""Under CI=true a test that needs PyTorch fails when torch is missing; elsewhere it skips.

Runs pytest in a child process on two small test files, with this suite's conftest, in a
folder where `import torch` is made to fail (sys.modules["torch"] = None)."""
import os
import shutil
import subprocess
import sys

import pytest

NEEDS_TORCH_IN_A_TEST = '''
import sys
sys.modules["torch"] = None  # as if torch were not installed
import pytest

def test_needs_torch():
    torch = pytest.importorskip("torch")

def test_other():
    assert True
'''

NEEDS_TORCH_AT_IMPORT = '''
import sys
sys.modules["torch"] = None
import pytest
torch = pytest.importorskip("torch")

def test_never_runs():
    pass
'''

NEEDS_SOMETHING_ELSE = '''
import pytest

def test_optional():
    pytest.importorskip("a_module_that_does_not_exist")
'''


def run(tmp_path, ci, files):
    shutil.copy(os.path.join(os.path.dirname(__file__), "conftest.py"), tmp_path / "conftest.py")
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci is not None:
        env["CI"] = ci
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rfs", "-p", "no:cacheprovider", str(tmp_path)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


IN_TESTS = {"test_a.py": NEEDS_TORCH_IN_A_TEST, "test_c.py": NEEDS_SOMETHING_ELSE}
AT_IMPORT = {"test_b.py": NEEDS_TORCH_AT_IMPORT, "test_c.py": NEEDS_SOMETHING_ELSE}


@pytest.mark.parametrize("ci", ["true", "True"])
def test_under_ci_a_test_that_skips_for_torch_fails(tmp_path, ci):
    result = run(tmp_path, ci, IN_TESTS)
    assert result.returncode == 1, result.stdout
    assert "FAILED test_a.py::test_needs_torch" in result.stdout
    assert "CI=true, and this test needs PyTorch" in result.stdout
    # the test that passes still passes, and a skip for another missing module stays a skip
    assert "1 failed, 1 passed, 1 skipped" in result.stdout


def test_under_ci_a_module_that_skips_for_torch_fails(tmp_path):
    result = run(tmp_path, "true", AT_IMPORT)
    assert result.returncode != 0, result.stdout
    assert "ERROR collecting test_b.py" in result.stdout
    assert "CI=true, and this test needs PyTorch" in result.stdout


@pytest.mark.parametrize("ci", [None, "false", ""])
@pytest.mark.parametrize("files", [IN_TESTS, AT_IMPORT], ids=["in-tests", "at-import"])
def test_elsewhere_a_missing_torch_skips(tmp_path, ci, files):
    result = run(tmp_path, ci, files)
    assert result.returncode == 0, result.stdout
    assert "failed" not in result.stdout and "error" not in result.stdout
    assert ("1 passed, 2 skipped" if files is IN_TESTS else "2 skipped") in result.stdout
