"""Writes demos/tutorial.ipynb (nbformat 4, outputs empty) from the cells below: edit here, then run

    python demos/make_tutorial.py

tests/test_tutorial.py runs every code cell in order and checks the notebook matches this script.
"""
import json
import os

CELLS = [
    ("markdown", """
# How does a conv filter learn? Do I have to nudge every filter value?

The question this notebook answers:

> *How can you decide that increasing or decreasing a filter value gives a better result?
> Must I nudge each filter value and rerun the whole dataset?*

We build the smallest conv there is out of multiplies and adds, run `backward()`, look at the graph and the
wiring it followed, read the equations, check them against nudging, and finally train a filter.
(Install the package first, from the repository root: `pip install -e .`)
"""),
    ("code", """
import numpy as np
import tinygrad_conv as tc
from tinygrad_conv import functional as F
from tinygrad_conv.gradcheck import numerical_grad
"""),
    ("markdown", """
## 1. A 3x3 image, a 2x2 filter, one loss

Every number is a `Value` that remembers how it was computed. The conv slides W over I; each output is
one sum of four products, e.g. `o11 = I11*W11 + I12*W12 + I21*W21 + I22*W22`. Global average pooling
gives `p = (o11 + o12 + o21 + o22) / 4`, and the loss is `L = (p - 1)^2`.
"""),
    ("code", """
I = tc.values(np.arange(1.0, 10.0).reshape(3, 3), name="I")   # I11 = 1 ... I33 = 9
W = tc.values(np.array([[1.0, -1.0], [2.0, 0.5]]), name="W")  # W11 W12 / W21 W22
target = 1.0

o = F.conv2d(I, W)            # o11 o12 / o21 o22
p = F.global_avg_pool2d(o)    # one number
L = (p - target) ** 2
L.backward()                  # reverse mode: fills .grad of every Value L depends on

print("o =\\n", tc.data(o))
print("p =", p.data, "  L =", L.data)
print("dL/dW =\\n", tc.grads(W))
"""),
    ("markdown", """
`o11` really is one sum of four products; each product remembers its two factors:
"""),
    ("code", """
o11 = o[0, 0]
print(o11.name, "=", " + ".join(f"{x.name}*{w.name}" for x, w in (term._prev for term in o11._prev)))
"""),
    ("markdown", """
## 2. The recorded graph

`viz.draw_graph` draws every Value (name, data, grad) and every operation. Read it right to left: the
gradient starts at `L` with 1 and flows back along the arrows. (In Jupyter the cell shows the picture;
`graph.render("graph", format="svg")` writes it to a file.)
"""),
    ("code", """
import viz

graph = viz.draw_graph(L)
graph
"""),
    ("markdown", """
## 3. The wiring: one filter value feeds every output

W11 is used at all four output positions, each time multiplying a different pixel. So its gradient has
four contributions, one from each output it fed: `dL/do_ij * (the pixel W11 multiplied there)`.
"""),
    ("code", """
wiring = viz.conv_wiring(o, W)        # (weight, output, input) triples read off the graph
for weight, output, pixel in wiring:
    if weight == "W11":
        print(f"{weight} -> {output}   (multiplied {pixel})")

viz.draw_conv_wiring(o, W)
"""),
    ("markdown", """
## 4. The equations, with their numbers

The forward equations and the gradient equations, read off the same graph:
"""),
    ("code", """
print(viz.conv_equations(o, W))
"""),
    ("code", """
from IPython.display import Math

Math(viz.conv_equations(o, W, form="latex"))   # the same, typeset
"""),
    ("markdown", """
Check one by hand: `dL/dW_ab = sum over i, j of dL/do_ij * I[i + a, j + b]`. That is the whole "formula"
for a filter gradient: the dense-layer rule `dL/dw = dL/dy * x`, added up over every place w was used.
"""),
    ("code", """
dL_do, pixels = tc.grads(o), tc.data(I)
by_hand = np.array([[sum(dL_do[i, j] * pixels[i + a, j + b] for i in range(2) for j in range(2))
                     for b in range(2)] for a in range(2)])
print(by_hand)
print("equal to backward():", np.allclose(by_hand, tc.grads(W), rtol=1e-12, atol=0))
"""),
    ("markdown", """
## 5. The learner's idea: nudge each filter value and rerun

Nudging is a fine way to *check* a gradient: move one W_ab by +h and -h, rerun everything, and take
`(L(+h) - L(-h)) / 2h`. It agrees with `backward()`. But it costs two full runs per filter value,
where `backward()` gives all of them from one run.
"""),
    ("code", """
passes = 0

def loss_fn():
    global passes
    passes += 1
    return (F.global_avg_pool2d(F.conv2d(I, W)) - target) ** 2

nudged = numerical_grad(loss_fn, W, h=1e-4)
backprop = tc.grads(W)
for name, b, n in zip(["W11", "W12", "W21", "W22"], backprop.flat, nudged.flat):
    print(f"dL/d{name}:  backward() {b:14.8f}   nudge and rerun {n:14.8f}")
print(f"largest difference {np.abs(backprop - nudged).max():.1e}, forward passes used by nudging: {passes}")
"""),
    ("markdown", """
For a 7x7 filter that is 98 passes over the whole dataset per step, for a real network tens of
thousands. `python demos/nudge_vs_backprop.py` times it.

## 6. Train a filter by gradient descent

Pairs (image, Sobel-filtered image); the filter starts at zero. Each step: one forward pass over the
data, one `backward()`, and `W <- W - lr * dL/dW` for all nine values at once.
"""),
    ("code", """
from tinygrad_conv.optim import SGD

SOBEL = np.array([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
rng = np.random.default_rng(0)
images = [rng.standard_normal((8, 8)) for _ in range(4)]
targets = np.stack([tc.data(F.conv2d(tc.values(x), tc.values(SOBEL))) for x in images])
grids = [tc.values(x) for x in images]

W_learn = tc.values(np.zeros((3, 3)), name="W")
optimizer = SGD([W_learn], lr=0.15)
for step in range(1, 61):
    optimizer.zero_grad()
    loss = F.mse_loss(np.stack([F.conv2d(x, W_learn) for x in grids]), targets)
    loss.backward()
    optimizer.step()
    if step % 10 == 0:
        print(f"step {step:3d}  loss {loss.data:.2e}")

W_learned = tc.data(W_learn)
print(np.round(W_learned, 4) + 0.0)   # + 0.0 turns -0.0 into 0.0
"""),
    ("markdown", """
## The answer

No, you do not nudge and rerun. A filter value is a weight that is used at many places. Reverse mode
gives each use its share `dL/do_ij * pixel` (exactly the dense-layer rule) and adds the shares up, for
every filter value at once, from one forward pass and one backward pass. The sign of `dL/dW_ab` says
whether increasing W_ab raises or lowers the loss, its size by how much. Nudging gives the same numbers at
two passes per value, which is why it is only used as a check.
"""),
]


def cell(kind, source, number):
    lines = source.strip("\n").splitlines(keepends=True)
    c = {"cell_type": kind, "id": f"cell-{number:02d}", "metadata": {}, "source": lines}
    if kind == "code":
        c.update(execution_count=None, outputs=[])
    return c


def build():
    """The notebook as a dict in nbformat 4.5."""
    return {
        "cells": [cell(kind, source, n) for n, (kind, source) in enumerate(CELLS)],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                     "language_info": {"name": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def render():
    return json.dumps(build(), indent=1, ensure_ascii=False) + "\n"


PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tutorial.ipynb")

if __name__ == "__main__":
    import argparse
    argparse.ArgumentParser(description="Write demos/tutorial.ipynb (outputs empty) from the cells in this "
                                        "script.").parse_args()
    with open(PATH, "w", encoding="utf-8") as f:
        f.write(render())
    print(f"wrote {PATH}")
