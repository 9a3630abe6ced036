"""Writes demos/tutorial.ipynb (nbformat 4) from the cells below and runs it, so it is committed with its
outputs (GitHub shows them): edit the cells here, then run

    python demos/make_tutorial.py            # needs nbclient and ipykernel (pip install nbclient ipykernel)

from the repository root. The cells follow a lesson's order: the question, one output's equation, one weight's
picture, dL/do with its pooling step, a dL/do that differs from output to output, nudging against backward(),
the conv as a dense layer, and learning a filter. tests/test_tutorial.py checks that the notebook's cells are
these, that every code cell has its outputs, and runs the cells again.
"""
import json
import os

CELLS = [
    ("markdown", """
# How does a conv filter learn? Do I have to nudge every filter value?

The question this lesson answers, as learners ask it:

> *How can you decide that increasing or decreasing a filter value gives a better result?
> Must I nudge each filter value and rerun the whole dataset?*

The plan: build the smallest conv there is out of multiplies and adds, read one output's equation, follow
one filter value to every place it is used, see where each output's gradient dL/do comes from (a pool
and a loss), then check backward() against nudging, see the conv as a dense layer with tied weights, and
train a filter. (Run it from the repository root after `pip install -e .`.)
"""),
    ("code", """
import numpy as np
import tinygrad_conv as tc
from tinygrad_conv import functional as F
import viz

def num(x):
    \"\"\"A number as a factor: 2, 0.5, (-1).\"\"\"
    return f"({x:g})" if x < 0 else f"{x:g}"

def weight_gradient(name, o, W, I):
    \"\"\"dL/d(name) as the sum of its terms: one per output the weight fed, read off the recorded graph.\"\"\"
    value = {v.name: v.data for grid in (I, W) for v in grid.flat}
    dL_do = {v.name: v.grad for v in o.flat}
    grad = {v.name: v.grad for v in W.flat}[name]
    uses = [(out, x) for w, out, x in viz.conv_wiring(o, W) if w == name]
    pad = " " * len(f"dL/d{name}")
    print(f"dL/d{name} = " + " + ".join(f"dL/d{out}*{x}" for out, x in uses))
    print(f"{pad} = " + " + ".join(f"{num(dL_do[out])}*{num(value[x])}" for out, x in uses) + f" = {grad:g}")

I = tc.values(np.arange(1.0, 10.0).reshape(3, 3), name="I")   # I11 = 1 ... I33 = 9
W = tc.values(np.array([[1.0, -1.0], [2.0, 0.5]]), name="W")  # W11 W12 / W21 W22
o = F.conv2d(I, W)            # o11 o12 / o21 o22
p = F.global_avg_pool2d(o)    # p = (o11 + o12 + o21 + o22) / 4, one Value
L = (p - 1.0) ** 2            # the target is 1
L.backward()                  # reverse mode: fills .grad of every Value L depends on
print("I =", tc.data(I).tolist())
print("W =", tc.data(W).tolist())
print("o =", tc.data(o).tolist(), "  p =", p.data, "  L =", L.data)
"""),
    ("markdown", """
## 1. One output is one equation

Every number is a `Value` that remembers how it was computed. The filter slides over the image; each output
is one sum of four products. `viz.conv_wiring(o, W)` reads off the recorded graph which input each weight
multiplied for each output:
"""),
    ("code", """
value = {v.name: v.data for grid in (I, W) for v in grid.flat}     # name -> number
o11 = [(x, w) for w, out, x in viz.conv_wiring(o, W) if out == "o11"]
print("o11 = " + " + ".join(f"{x}*{w}" for x, w in o11))
print("    = " + " + ".join(f"{num(value[x])}*{num(value[w])}" for x, w in o11) + f" = {o[0, 0].data:g}")
"""),
    ("markdown", """
## 2. One filter value is used at every output

Follow W11: it feeds all four outputs, each time multiplying a different pixel (named in the box each
edge lands on, with the term it sends back). The pool on the right takes the average, so each output
passes on 1/4 of dL/dp. By the chain rule, W11's gradient has one term per output it fed:
`dL/do_ij * (the pixel W11 multiplied there)`.
"""),
    ("code", """
viz.draw_conv_wiring(o, W, I, weight="W11", pooled=p)
"""),
    ("markdown", """
## 3. Where dL/do comes from: the loss, then the pool

`L = (p - 1)^2`, so `dL/dp = 2(p - 1)`. The average pool gives each of its four outputs 1/4 of that
(`viz.pool_routing` reads the share off the graph). Then W11 adds up its four terms:
"""),
    ("code", """
print(f"dL/dp = 2*(p - 1) = 2*({p.data:g} - 1) = {p.grad:g}")
for pooled, out, share in viz.pool_routing(p, o):   # share = dp/do = 1/4
    print(f"dL/d{out} = dL/dp * 1/{1 / share:g} = {p.grad:g} * 1/{1 / share:g} = {p.grad * share:g}")
print()
weight_gradient("W11", o, W, I)
print("\\nbackward() gives every dL/dW at once:", tc.grads(W).tolist())
"""),
    ("markdown", """
## 4. When dL/do is not the same everywhere

With a global average every output gets the same 6.75, so W11's gradient is just 6.75 times the sum of its
pixels: the weighting hides. A max pool sends all of dL/dp to the output that won. Over the whole output
(`F.global_max_pool2d`) that is one output:
"""),
    ("code", """
I_max, W_max = tc.values(tc.data(I), name="I"), tc.values(tc.data(W), name="W")
o_max = F.conv2d(I_max, W_max)
p_max = F.global_max_pool2d(o_max)     # one Value: the largest output
((p_max - 1.0) ** 2).backward()
print(f"p = max of o = {p_max.data:g},  dL/dp = 2*(p - 1) = {p_max.grad:g}")
print("dL/do =", tc.grads(o_max).tolist())
weight_gradient("W11", o_max, W_max, I_max)
"""),
    ("markdown", """
Now a class's own numbers with the same filter, a max pool over each row of o (1x2 windows), and the loss
`mean(p^2)`, which wants both row maxima to be 0. Each window has its own dL/dp = p, and only its winner
receives it. W11's four terms now carry different weights: 2.5, 0, 9.5 and 0.
"""),
    ("code", """
I2 = tc.values(np.array([[4, -4, -3], [-2, -3, 4], [4, 1, -4]], dtype=float), name="I")
W2 = tc.values(tc.data(W), name="W")
o2 = F.conv2d(I2, W2)
p2 = F.max_pool2d(o2, (1, 2))          # p11 = max(o11, o12), p21 = max(o21, o22)
L2 = F.mse_loss(p2, np.zeros((2, 1)))  # mean(p^2) over two numbers: dL/dp = 2p/2 = p
L2.backward()
print("o =", tc.data(o2).tolist())
print("p =", tc.data(p2).tolist(), "  dL/dp =", tc.grads(p2).tolist())
print("dL/do =", tc.grads(o2).tolist())
weight_gradient("W11", o2, W2, I2)
viz.draw_conv_wiring(o2, W2, I2, weight="W11", pooled=p2)
"""),
    ("markdown", """
## 5. The learner's idea: nudge each filter value and rerun

Nudging is a fine way to *check* a gradient: move one W_ab by +h and -h, rerun everything, and take
`(L(+h) - L(-h)) / 2h`. It agrees with `backward()`, but costs two full runs per filter value, where
`backward()` gave all of them from one.
"""),
    ("code", """
from tinygrad_conv.gradcheck import numerical_grad

passes = 0

def loss_fn():
    global passes
    passes += 1
    return (F.global_avg_pool2d(F.conv2d(I, W)) - 1.0) ** 2

nudged = numerical_grad(loss_fn, W, h=1e-4)
backprop = tc.grads(W)
for name, b, n in zip(["W11", "W12", "W21", "W22"], backprop.flat, nudged.flat):
    print(f"dL/d{name}:  backward() {b:14.8f}   nudge and rerun {n:14.8f}")
print(f"largest difference {np.abs(backprop - nudged).max():.1e}; forward passes used by nudging: {passes}")
"""),
    ("markdown", """
For a 7x7 filter that is 98 passes over the whole dataset per step, for a real network tens of
thousands. `python demos/nudge_vs_backprop.py` times it.

## 6. A conv is a dense layer with tied weights

Flatten the image x (9 numbers) and the output y (4 numbers): y = M x, where row (i, j) of M holds W_ab in
the column of the pixel W_ab multiplied, and 0 elsewhere. A dense layer's weight gradient is
`dL/dM[r, c] = dL/dy_r * x_c`; W_ab sits in several entries, so its gradient is the sum over them.
"""),
    ("code", """
pixels = [v.name for v in I.flat]
outputs = [v.name for v in o.flat]
M = np.zeros((len(outputs), len(pixels)))
holds = {}                                      # W_ab -> the entries of M it sits in
for w, out, x in viz.conv_wiring(o, W):
    r, c = outputs.index(out), pixels.index(x)
    M[r, c] = value[w]
    holds.setdefault(w, []).append((r, c))
print("M =\\n", M)
print("M x == conv output:", np.allclose(M @ tc.data(I).ravel(), tc.data(o).ravel(), rtol=1e-12))
dL_dM = np.outer(tc.grads(o).ravel(), tc.data(I).ravel())   # the dense rule dL/dy x^T
tied = {w: float(sum(dL_dM[r, c] for r, c in entries)) for w, entries in holds.items()}
print("summed over the tied entries:", tied)
print("backward() on the conv:      ", {v.name: v.grad for v in W.flat})
"""),
    ("markdown", """
## 7. Learning a filter by gradient descent

Pairs (image, Sobel-filtered image); the filter starts at zero. Each step: one forward pass over the data,
one `backward()`, and `W <- W - lr * dL/dW` for all nine values at once.
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
## 8. Through a whole network: a dense head sends each o_ij its gradient

The seed goes on: "the output is flattened and fed into a dense layer". A dense layer z = V o hands each
o_ij its gradient from every z it feeds, `dL/do11 = V11*dL/dz1 + V21*dL/dz2 + V31*dL/dz3`: the rule the class
already knows for dense layers. `viz.gradient_equation(loss, v)` writes any Value's gradient this way, one
term per use (the local derivative times the gradient of the Value it made), names first, then the numbers.
"""),
    ("code", """
I_net = tc.values(np.arange(1.0, 10.0).reshape(3, 3), name="I")
W_net = tc.values(np.array([[1.0, -1.0], [2.0, 0.5]]), name="W")
o_net = F.conv2d(I_net, W_net)                                   # o11 o12 o21 o22, as before
V = tc.values(np.array([[0.5, -1.0, 1.0, 0.25], [1.5, -0.5, 2.0, -0.25], [0.75, -1.5, 0.5, 0.5]]), name="V")
z = F.linear(o_net.reshape(4), V, name="z")                       # flatten, then a dense layer: z = V o
L_net = F.mse_loss(z, np.ones(3))
L_net.backward()
print(viz.gradient_equation(L_net, o_net[0, 0]))
print("the closed form dL/do = V^T dL/dz holds:",
      np.allclose((tc.data(V).T @ tc.grads(z)).reshape(2, 2), tc.grads(o_net), rtol=1e-12))
"""),
    ("markdown", """
Follow one filter value from the loss down, one equation per hop, each using the number found one hop
above: the path a learner would trace by hand.
"""),
    ("code", """
print(viz.gradient_path(L_net, W_net[0, 0]))
viz.draw_gradient_path(L_net, W_net[0, 0])
"""),
    ("markdown", """
## 9. Click it yourself: the explorer

`viz.explore(loss)` makes one page of every named grid of the recorded graph. Click a filter value: the
outputs it fed and the inputs it multiplied there light up, and the ledger adds its terms to the gradient
backward() found. Step replays backward() one `+=` at a time; Quiz hides every gradient so the class can
predict first. (`page.save("explorer.html")` keeps it as one file that opens in any browser, offline;
`python -m tinygrad_conv explain --html` writes the seed's.)
"""),
    ("code", """
page = viz.explore(L)   # the seed's loss from section 3
page
"""),
    ("markdown", """
## The answer

No, you do not nudge and rerun. A filter value is a weight used at many places. Reverse mode gives each use
its share `dL/do_ij * pixel` (the dense-layer rule), weighted by what the rest of the network sends back to
that output, and adds the shares up, for every filter value at once, from one forward and one backward pass.
The sign of `dL/dW_ab` says whether increasing W_ab raises or lowers the loss, its size by how much. Nudging
gives the same numbers at two passes per value, which is why it is only used as a check.

For the class: `python -m tinygrad_conv explain --image-values ... --filter-values ...` works any numbers
the class picks, and `python -m tinygrad_conv worksheet` writes problems to work by hand with their answers.
"""),
]


def cell(kind, source, number):
    lines = source.strip("\n").splitlines(keepends=True)
    c = {"cell_type": kind, "id": f"cell-{number:02d}", "metadata": {}, "source": lines}
    if kind == "code":
        c.update(execution_count=None, outputs=[])
    return c


def build():
    """The notebook as a dict in nbformat 4.5, outputs empty."""
    return {
        "cells": [cell(kind, source, n) for n, (kind, source) in enumerate(CELLS)],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                     "language_info": {"name": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PATH = os.path.join(ROOT, "demos", "tutorial.ipynb")


def execute(notebook, timeout=120):
    """The notebook run top to bottom in a fresh Python kernel from the repository root, outputs filled in."""
    import nbclient
    import nbformat
    nb = nbformat.reads(json.dumps(notebook), as_version=4)
    nbclient.NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": ROOT}}).execute()
    for c in nb.cells:  # timings, kernel details and object addresses would change the file on every run
        c.metadata.pop("execution", None)
        for output in c.get("outputs", []):
            data = output.get("data", {})
            if "image/svg+xml" in data or "image/png" in data:
                data.pop("text/plain", None)  # "<graphviz.graphs.Digraph at 0x7f...>": the picture says it all
    nb.metadata = notebook["metadata"]
    return nb


def render(notebook):
    """nbformat's own JSON (sources as lists of lines, one-space indent), as Jupyter writes it."""
    import nbformat
    return nbformat.writes(nbformat.from_dict(notebook)) + "\n"


if __name__ == "__main__":
    import argparse
    argparse.ArgumentParser(description="Write demos/tutorial.ipynb from the cells in this script and run it "
                                        "(nbclient), so it is saved with its outputs.").parse_args()
    try:
        executed = execute(build())
    except ImportError as e:
        raise SystemExit(f"running the notebook needs nbclient and ipykernel ({e}); pip install nbclient ipykernel")
    with open(PATH, "w", encoding="utf-8") as f:
        f.write(render(executed))
    print(f"wrote {PATH}")
