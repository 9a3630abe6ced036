"""`python -m tinygrad_conv worksheet`: problems a student can work by hand, and answers that are the engine's.

The JSON answers are checked against the closed forms

    dL/dW[a,b] = sum_ij dL/do[i,j] * x[i*s + a, j*s + b]          (x: the image with its padding)
    dL/dI      = the full correlation of dL/do (spread out by the stride) with the filter rotated 180 degrees

and against the Tensor engine; the worked sums in answers.md must add up to the answers.
"""
import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import example, given, strategies as st

from tinygrad_conv import Tensor
from tinygrad_conv import functional as F
from strategies import examples
from viz import worksheet

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FILES = ("worksheet.md", "worksheet.tex", "answers.md", "answers.tex", "worksheet.json")


def run(*args, cwd=ROOT):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "tinygrad_conv", "worksheet", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def closed_form_dW(x, dL_do, filter_shape, s, p):
    xp = np.pad(x, p)
    kh, kw = filter_shape
    OH, OW = dL_do.shape
    return np.array([[sum(dL_do[i, j] * xp[i * s + a, j * s + b] for i in range(OH) for j in range(OW))
                      for b in range(kw)] for a in range(kh)])


def closed_form_dI(x_shape, dL_do, w, s, p):
    """Full correlation of dL/do, holes of s - 1 zeros between its entries, with the filter rotated 180 degrees."""
    kh, kw = w.shape
    OH, OW = dL_do.shape
    spread = np.zeros(((OH - 1) * s + 1, (OW - 1) * s + 1))
    spread[::s, ::s] = dL_do
    full = np.pad(spread, ((kh - 1, kh - 1), (kw - 1, kw - 1)))
    flipped = w[::-1, ::-1]
    rows, cols = full.shape[0] - kh + 1, full.shape[1] - kw + 1   # = (OH - 1) * s + k: the padded rows reached
    reached = np.array([[np.sum(full[r:r + kh, q:q + kw] * flipped) for q in range(cols)] for r in range(rows)])
    H, W = x_shape
    padded = np.zeros((H + 2 * p, W + 2 * p))  # rows and columns no window reached (stride) keep 0
    padded[:rows, :cols] = reached
    return padded[p:p + H, p:p + W]


def tensor_dL_do(problem, image, w):
    """dL/do on the Tensor engine: the conv output taken as a leaf, pooled, weighted by c."""
    o = F.conv2d(Tensor(image.astype(float)), Tensor(w.astype(float)), stride=problem.stride,
                 padding=problem.padding)
    leaf = Tensor(o.data.copy(), requires_grad=True)
    pooled = leaf if problem.pool == "none" else \
        (F.max_pool2d if problem.pool == "max" else F.avg_pool2d)(leaf, problem.window, problem.pool_stride)
    (pooled * Tensor(problem.weights.astype(float))).sum().backward()
    return leaf.grad


def check_problem(problem, answer):
    """One problem's JSON against the closed forms and the Tensor engine."""
    image, w = np.array(answer["image"]), np.array(answer["filter"])
    dL_do, dL_dW, dL_dI = (np.array(answer[k], dtype=float) for k in ("dL_do", "dL_dW", "dL_dI"))
    s, p = answer["stride"], answer["padding"]
    assert image.dtype.kind == "i" and w.dtype.kind == "i"  # whole numbers, written as such
    assert np.isin(image, worksheet.IMAGE_NUMBERS).all() and np.isin(w, worksheet.FILTER_NUMBERS).all()
    np.testing.assert_allclose(dL_dW, closed_form_dW(image, dL_do, w.shape, s, p), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dL_dI, closed_form_dI(image.shape, dL_do, w, s, p), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dL_do, tensor_dL_do(problem, image, w), rtol=1e-12, atol=1e-12)
    I, W = Tensor(image.astype(float), requires_grad=True), Tensor(w.astype(float), requires_grad=True)
    (F.conv2d(I, W, stride=s, padding=p) * Tensor(dL_do)).sum().backward()
    np.testing.assert_allclose(dL_dW, W.grad, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dL_dI, I.grad, rtol=1e-12, atol=1e-12)


@examples(25)
@given(image=st.tuples(st.integers(2, 5), st.integers(2, 5)), filter=st.tuples(st.integers(1, 3), st.integers(1, 3)),
       stride=st.integers(1, 3), padding=st.integers(0, 2), pool=st.sampled_from(["none", "max", "avg"]),
       seed=st.integers(0, 10_000))
@example(image=(2, 2), filter=(1, 2), stride=3, padding=1, pool="max", seed=0)  # an output of padding only
def test_answers_are_the_closed_forms_and_the_tensor_engines(image, filter, stride, padding, pool, seed):
    if worksheet.why_not(image, filter, stride, padding):
        with pytest.raises(ValueError):  # the command refuses these with one line (tested below)
            worksheet.make_problems(1, image, filter, stride, padding, pool, seed)
        return
    problems = worksheet.make_problems(2, image, filter, stride, padding, pool, seed)
    for problem in problems:
        answer = worksheet.as_json(problem, worksheet.solve(problem))
        assert answer["pool"] == pool and answer["stride"] == stride and answer["padding"] == padding
        check_problem(problem, answer)
        if pool == "max":  # one clear winner per window: a student never has to know the tie rule
            o = np.array(answer["dL_do"])
            assert np.count_nonzero(o) <= problem.weights.size


@pytest.fixture(scope="module")
def default_files(tmp_path_factory):
    out = tmp_path_factory.mktemp("worksheet")
    r = run("--out", str(out))
    assert r.returncode == 0, r.stderr
    return out, {name: (out / name).read_text(encoding="utf-8") for name in FILES}


def test_json_has_exactly_the_contracts_shape_and_a_dL_do_that_is_not_uniform(default_files):
    _, files = default_files
    data = json.loads(files["worksheet.json"])
    assert list(data) == ["problems"] and len(data["problems"]) == 3
    problems = worksheet.make_problems(3, seed=0)
    for problem, answer in zip(problems, data["problems"]):
        assert set(answer) == {"image", "filter", "stride", "padding", "pool", "dL_do", "dL_dW", "dL_dI"}
        assert np.shape(answer["image"]) == (3, 3) and np.shape(answer["filter"]) == (2, 2)
        assert answer["image"] == problem.image.tolist() and answer["pool"] == "none"
        assert len(set(np.ravel(answer["dL_do"]))) > 1  # each output weights its inputs differently
        check_problem(problem, answer)


def worked_sums(markdown):
    """[(problem number, name, numbers, value)] for every `name = symbols` / `= numbers = value` pair of lines."""
    found = []
    for number, part in enumerate(markdown.split("\n## Problem ")[1:], 1):
        lines = part.splitlines()
        for first, second in zip(lines, lines[1:]):
            m = re.match(r"^(dL/d[A-Za-z]+\d+|[op]\d+|L) = ", first)
            if m and re.match(r"^\S+ = 0    \(no window covers this pixel\)$", first):
                found.append((number, m.group(1), "0", 0.0))
                continue
            if m and second.lstrip().startswith("= "):
                numbers = re.sub(r"\s{4}\(.*\)$", "", second).strip()[2:]  # drop a note: "    (the max of ...)"
                terms, value = numbers.rsplit(" = ", 1)
                found.append((number, m.group(1), terms, float(value)))
    return found


def evaluate(terms):
    assert re.fullmatch(r"(max|[\d\s.,+*()/-])+", terms), terms  # numbers, operators and max only
    return eval(terms, {"__builtins__": {}, "max": max})


@pytest.mark.parametrize("args", [[], ["--pool", "max", "--image", "4x4", "--padding", "1", "--stride", "2"],
                                  ["--pool", "avg", "--image", "4x5", "--filter", "3x2"],
                                  ["--stride", "2", "--image", "5x4"]])  # the last row meets no window
def test_each_worked_sum_adds_up_to_the_engines_answer(tmp_path, args):
    r = run(*args, "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    sums = worked_sums((tmp_path / "answers.md").read_text())
    data = json.loads((tmp_path / "worksheet.json").read_text())["problems"]
    for number, name, terms, value in sums:
        assert evaluate(terms) == pytest.approx(value, rel=1e-12, abs=1e-12), (number, name, terms)
    for number, problem in enumerate(data, 1):
        for prefix, key in (("dL/dW", "dL_dW"), ("dL/dI", "dL_dI"), ("dL/do", "dL_do")):
            values = [value for n, name, _, value in sums if n == number and name.startswith(prefix)]
            if prefix == "dL/do" and problem["pool"] == "none":
                assert values == []  # dL/do is c itself, shown as a grid
                continue
            np.testing.assert_allclose(values, np.ravel(problem[key]), rtol=1e-12, atol=0)


def test_the_worksheet_holds_the_problems_and_no_answers(default_files):
    _, files = default_files
    sheet, answers = files["worksheet.md"], files["answers.md"]
    data = json.loads(files["worksheet.json"])["problems"]
    for text in (sheet, files["worksheet.tex"]):
        assert "dL/dW11 =" not in text and r"\partial W_{11}} &=" not in text
        assert "dL/do" in text or r"dL/do" in text  # the text says what dL/do is
    assert sheet.count("## Problem ") == 3 and answers.count("## Problem ") == 3
    first = data[0]["image"]
    assert "| **1** | " + " | ".join(str(x) for x in first[0]) + " |" in sheet
    assert "What dL/do is here" in sheet and "stand in for the rest of the network" in sheet
    assert "dL/dW11 = dL/do11*I11 + dL/do12*I12 + dL/do21*I21 + dL/do22*I22" in answers


def test_the_same_seed_gives_the_same_files_and_another_seed_others(tmp_path, default_files):
    out, files = default_files
    r = run("--out", str(tmp_path / "again"))
    assert r.returncode == 0
    for name in FILES:
        assert (tmp_path / "again" / name).read_bytes() == (out / name).read_bytes(), name
    r = run("--seed", "1", "--out", str(tmp_path / "other"))
    assert r.returncode == 0
    for name in FILES:
        assert (tmp_path / "other" / name).read_text() != files[name], name
    r = run("--seed", "1", "--problems", "5", "--out", str(tmp_path / "more"))
    more = json.loads((tmp_path / "more" / "worksheet.json").read_text())["problems"]
    fewer = json.loads((tmp_path / "other" / "worksheet.json").read_text())["problems"]
    assert len(more) == 5 and more[:3] == fewer  # more problems extend the sheet, they do not change it


def test_tex_files_are_complete_documents(default_files):
    _, files = default_files
    for name in ("worksheet.tex", "answers.tex"):
        text = files[name]
        assert text.startswith(r"\documentclass") and text.rstrip().endswith(r"\end{document}")
        assert text.count(r"\begin{document}") == 1
        assert text.count("{") == text.count("}")


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed (optional)")
@pytest.mark.parametrize("args", [[], ["--pool", "max", "--image", "4x4", "--filter", "3x3", "--padding", "1"],
                                  ["--pool", "avg", "--stride", "2", "--image", "5x5"]])
def test_tex_files_compile_with_pdflatex(tmp_path, args):
    r = run(*args, "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    for name in ("worksheet", "answers"):
        done = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", f"{name}.tex"],
                              cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout[-2000:]
        assert (tmp_path / f"{name}.pdf").read_bytes()[:5] == b"%PDF-"
        log = (tmp_path / f"{name}.log").read_text(errors="replace")
        assert "Overfull \\hbox" not in log, "a line runs off the page"


@pytest.mark.parametrize("args, words", [
    (["--image", "7x7"], "at most 6x6"),
    (["--image", "3"], "HxW"),
    (["--filter", "4x4"], "does not fit"),
    (["--padding", "2"], "at most 1"),
    (["--image", "2x2", "--filter", "1x2", "--padding", "1", "--stride", "3"], "output row 1 reads only padding"),
    (["--stride", "0"], "at least 1"),
    (["--problems", "0"], "at least 1"),
    (["--problems", "21"], "at most 20"),
    (["--pool", "sum"], "invalid choice"),
    (["--seed", "-1"], "at least 0"),
    (["--seed", "x"], "integer"),
])
def test_bad_flags_end_with_one_line_and_status_2(tmp_path, args, words):
    r = run(*args, "--out", str(tmp_path))
    assert r.returncode == 2 and r.stdout == "" and "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "error" in lines[0] and words in lines[0], r.stderr
    assert not any((tmp_path / name).exists() for name in FILES)


def test_an_out_that_is_a_file_ends_with_one_line(tmp_path):
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    r = run("--out", str(a_file))
    assert r.returncode == 2 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert "--out" in r.stderr


def test_help_lists_the_command_and_its_flags():
    env = dict(os.environ, PYTHONPATH=ROOT)
    r = subprocess.run([sys.executable, "-m", "tinygrad_conv", "--help"], cwd=ROOT, env=env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0 and "worksheet" in r.stdout
    r = run("--help")
    for flag in ("--image", "--filter", "--stride", "--padding", "--pool", "--problems", "--seed", "--out"):
        assert flag in r.stdout
