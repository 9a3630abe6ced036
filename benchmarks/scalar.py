"""The scalar engine next to micrograd 0.1.0, same workloads, each timed in fresh processes of its own.

    python benchmarks/scalar.py [--processes 3] [--repeat 7] [--deep 1000000 2000000]

(a) conv:  a 28x28 image, four 3x3 filters, valid cross-correlation, relu, sum; forward + backward
(b) mlp:   micrograd's demo training step: MLP 2-16-16-1 on 100 two-moons points, SVM max-margin
           loss + 1e-4 L2, forward + backward + SGD update (ours: tinygrad_conv.nn on the scalar engine)
(c) depth: the longest chain x = x + 1 whose backward() survives (default recursion limit)
(d) bytes per node: tracemalloc of building graph (a), divided by its node count

Each timed workload runs in a fresh Python process of its own (--processes per library,
micrograd's and ours taking turns), --repeat times there; a figure is the median over the
processes of each process's median, with the min-max over the processes beside it. Default
interpreter settings, garbage collector on. Both engines get identical numbers, and the script
checks they compute the same loss and gradients before timing them.
"""
import argparse
import gc
import json
import math
import os
import statistics
import subprocess
import sys
import time
import tracemalloc

import numpy as np

from machine import cpu_name  # (benchmarks/machine.py: the script's own folder is on sys.path)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from micrograd.engine import Value as MValue  # noqa: E402
from micrograd.nn import MLP as MMLP  # noqa: E402

import tinygrad_conv as tc  # noqa: E402
from tinygrad_conv import Value, functional as F  # noqa: E402

TARGETS = {"a": 10.0, "b": 10.0, "c": 1_000_000, "d": 200}


# ---- (a) conv ------------------------------------------------------------------------------

def conv_inputs(seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((28, 28)), rng.standard_normal((4, 3, 3))


def tree_sum(values):
    """Pairwise sum: micrograd's recursive backward() cannot take sum() of 2,704 terms (a chain that deep)."""
    while len(values) > 1:
        values = [values[i] + values[i + 1] if i + 1 < len(values) else values[i] for i in range(0, len(values), 2)]
    return values[0]


def conv_micrograd(image, filters):
    """The conv as plain loops of products and Python's sum(), the way micrograd is used.

    The 2,704 outputs are added pairwise (tree_sum), as micrograd's recursion limit requires.
    """
    I = [[MValue(float(v)) for v in row] for row in image]
    W = [[[MValue(float(v)) for v in row] for row in f] for f in filters]
    outs = []
    for w in W:
        for i in range(26):
            for j in range(26):
                o = sum(I[i + a][j + b] * w[a][b] for a in range(3) for b in range(3))
                outs.append(o.relu())
    total = tree_sum(outs)
    total.backward()
    return total, I, W


def conv_ours(image, filters):
    """functional.conv2d on grids: each output one Value.sum of nine I*W products."""
    I = tc.values(image, "I")
    W = tc.values(filters.reshape(4, 1, 3, 3), "W")
    out = F.relu(F.conv2d(I.reshape(1, 28, 28), W))
    total = Value.sum(out.flat)
    total.backward()
    return total, I, W


def conv_ours_loops(image, filters):
    """The same conv written as micrograd's loops, with Value.sum for each output."""
    I = tc.values(image, "I")
    W = tc.values(filters, "W")
    rows = I.tolist()
    outs = []
    for w in W.tolist():
        for i in range(26):
            for j in range(26):
                o = Value.sum([rows[i + a][j + b] * w[a][b] for a in range(3) for b in range(3)])
                outs.append(o.relu())
    total = Value.sum(outs)
    total.backward()
    return total, I, W


def check_conv(image, filters):
    tm, Im, Wm = conv_micrograd(image, filters)
    for fn in (conv_ours, conv_ours_loops):
        to, Io, Wo = fn(image, filters)
        assert math.isclose(tm.data, to.data, rel_tol=1e-12), (fn.__name__, tm.data, to.data)
        gm = np.array([[[v.grad for v in row] for row in f] for f in Wm])
        assert np.allclose(gm, tc.grads(Wo).reshape(4, 3, 3), rtol=1e-12, atol=1e-12), fn.__name__
        gim = np.array([[v.grad for v in row] for row in Im])
        assert np.allclose(gim, tc.grads(Io), rtol=1e-12, atol=1e-12), fn.__name__


# ---- (b) micrograd's demo training step ----------------------------------------------------

def make_moons(n=100, noise=0.1, seed=1):
    """Two interleaving half circles (as sklearn's make_moons), labels -1 / +1 as in the demo."""
    rng = np.random.default_rng(seed)
    n_out = n // 2
    n_in = n - n_out
    t_out, t_in = np.linspace(0, np.pi, n_out), np.linspace(0, np.pi, n_in)
    X = np.concatenate([np.stack([np.cos(t_out), np.sin(t_out)], 1),
                        np.stack([1 - np.cos(t_in), 1 - np.sin(t_in) - 0.5], 1)])
    X += rng.normal(scale=noise, size=X.shape)
    y = np.concatenate([np.zeros(n_out), np.ones(n_in)]) * 2 - 1
    return X, y


def micrograd_model(seed=1337):
    import random
    random.seed(seed)
    return MMLP(2, [16, 16, 1])


def ours_model(mmodel):
    """The same MLP, from tinygrad_conv.nn on the scalar engine, holding micrograd's initial numbers."""
    from tinygrad_conv import nn
    model = nn.Sequential(nn.Linear(2, 16, engine="scalar"), nn.ReLU(),
                          nn.Linear(16, 16, engine="scalar"), nn.ReLU(),
                          nn.Linear(16, 1, engine="scalar"))
    for linear, layer in zip(model.layers[::2], mmodel.layers):
        linear.weight = tc.values([[w.data for w in n.w] for n in layer.neurons], "W")
        linear.bias = tc.values([n.b.data for n in layer.neurons], "b")
    return model


def step_micrograd(model, X, y, k=0):
    inputs = [list(map(MValue, xrow)) for xrow in X.tolist()]
    scores = list(map(model, inputs))
    losses = [(1 + -yi * si).relu() for yi, si in zip(y.tolist(), scores)]
    data_loss = sum(losses) * (1.0 / len(losses))
    reg_loss = 1e-4 * sum((p * p for p in model.parameters()))
    total = data_loss + reg_loss
    model.zero_grad()
    total.backward()
    lr = 1.0 - 0.9 * k / 100
    for p in model.parameters():
        p.data -= lr * p.grad
    return total


def step_ours(model, X, y, k=0):
    params = [v for p in model.parameters() for v in p.flat]
    scores = model(tc.values(X))[:, 0].tolist()
    losses = [(1 + -yi * si).relu() for yi, si in zip(y.tolist(), scores)]
    data_loss = Value.sum(losses) * (1.0 / len(losses))
    reg_loss = 1e-4 * Value.sum([p * p for p in params])
    total = data_loss + reg_loss
    for p in params:
        p.grad = 0.0
    total.backward()
    lr = 1.0 - 0.9 * k / 100
    for p in params:
        p.data -= lr * p.grad
    return total


def check_mlp(X, y):
    mm = micrograd_model()
    ours = ours_model(mm)
    for k in range(3):  # three steps: the updates must agree too
        lm, lo = step_micrograd(mm, X, y, k), step_ours(ours, X, y, k)
        assert math.isclose(lm.data, lo.data, rel_tol=1e-9), (k, lm.data, lo.data)
    mw = np.array([[w.data for w in n.w] for n in mm.layers[0].neurons])
    assert np.allclose(mw, tc.data(ours[0].weight), rtol=1e-9, atol=1e-12)


# ---- (c) depth ----------------------------------------------------------------------------

def chain(V, n):
    x = V(1.0)
    for _ in range(n):
        x = x + 1.0
    return x


def survives(V, n):
    x = chain(V, n)
    try:
        x.backward()
    except RecursionError:
        return False
    return True


def deepest_micrograd(limit=100_000):
    """Largest n such that backward() on an n-step chain survives (binary search)."""
    lo, hi = 1, 2
    while survives(MValue, hi):
        lo, hi = hi, hi * 2
        if hi > limit:
            return lo
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if survives(MValue, mid) else (lo, mid)
    return lo


def ours_depth(n):
    """Build and backprop an n-step chain in a fresh interpreter; returns (ok, seconds, peak MB)."""
    code = (
        "import sys, time, resource\n"
        f"sys.path.insert(0, {os.path.dirname(os.path.dirname(os.path.abspath(__file__)))!r})\n"
        "from tinygrad_conv import Value\n"
        f"n = {n}\n"
        "t = time.perf_counter()\n"
        "x = Value(1.0)\n"
        "leaf = x\n"
        "for _ in range(n):\n"
        "    x = x + 1.0\n"
        "x.backward()\n"
        "assert leaf.grad == 1.0 and x.data == 1.0 + n\n"
        "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if run.returncode != 0:
        return False, float("nan"), float("nan")
    seconds, mb = map(float, run.stdout.split())
    return True, seconds, mb


# ---- (d) bytes per node --------------------------------------------------------------------

def count_nodes(root):
    seen = {id(root)}
    stack = [root]
    while stack:
        for child in stack.pop()._prev:
            if id(child) not in seen:
                seen.add(id(child))
                stack.append(child)
    return len(seen)


def bytes_per_node(build, image, filters):
    """Bytes held by graph (a) (root plus leaves; scratch arrays freed) per node, before and after backward."""
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    root, leaves = build(image, filters)
    built = tracemalloc.get_traced_memory()[0] - base
    root.backward()
    gc.collect()
    after = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    n = count_nodes(root)
    del root, leaves
    return built / n, after / n, n


def graph_micrograd(image, filters):
    I = [[MValue(float(v)) for v in row] for row in image]
    W = [[[MValue(float(v)) for v in row] for row in f] for f in filters]
    outs = [sum(I[i + a][j + b] * w[a][b] for a in range(3) for b in range(3)).relu()
            for w in W for i in range(26) for j in range(26)]
    return tree_sum(outs), (I, W)


def graph_ours(image, filters):
    I = tc.values(image, "I")
    W = tc.values(filters.reshape(4, 1, 3, 3), "W")
    total = Value.sum(F.relu(F.conv2d(I.reshape(1, 28, 28), W)).flat)
    return total, (I, W)


# ---- timing and the table --------------------------------------------------------------------

def workload(label):
    """The function timed for `label`, with its inputs built first (so they are not timed)."""
    image, filters = conv_inputs()
    if label.startswith("(a)"):
        return {"(a) micrograd": lambda: conv_micrograd(image, filters),
                "(a) ours conv2d": lambda: conv_ours(image, filters),
                "(a) ours loops": lambda: conv_ours_loops(image, filters)}[label]
    X, y = make_moons()
    mm = micrograd_model()
    if label == "(b) micrograd":
        return lambda: step_micrograd(mm, X, y)
    ours = ours_model(mm)
    return lambda: step_ours(ours, X, y)


LABELS = ("(a) micrograd", "(a) ours conv2d", "(a) ours loops", "(b) micrograd", "(b) ours")


def worker(label, repeat):
    """In a fresh process: `repeat` timed runs of one workload, printed as JSON seconds."""
    fn = workload(label)
    times = []
    for _ in range(repeat):
        gc.collect()  # start each run from a clean heap: micrograd's closures leave cyclic garbage behind
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    print(json.dumps(times))


def per_process(processes, repeat):
    """{label: (median, min, max) seconds over the processes' medians}; micrograd and ours take turns."""
    medians = {label: [] for label in LABELS}
    for _ in range(processes):
        for label in LABELS:
            done = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", label,
                                   "--repeat", str(repeat)], capture_output=True, text=True)
            if done.returncode != 0:
                sys.exit(f"the worker for {label} failed:\n{done.stderr}")
            medians[label].append(statistics.median(json.loads(done.stdout.strip().splitlines()[-1])))
    return {label: (statistics.median(m), min(m), max(m)) for label, m in medians.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="timed runs per workload in each process")
    parser.add_argument("--processes", type=int, default=3, help="fresh processes per workload (default 3)")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--deep", type=int, nargs="+", default=[1_000_000, 2_000_000],
                        help="chain depths to run our backward() on (each in a fresh interpreter)")
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker, args.repeat)
    load = os.getloadavg()[0]
    print(f"CPU: {cpu_name()}, {os.cpu_count()} cpus; Python {sys.version.split()[0]}, recursion limit "
          f"{sys.getrecursionlimit()}, gc {'on' if gc.isenabled() else 'off'}")
    print(f"each timing: {args.processes} fresh processes per workload, alternated, {args.repeat} runs in each; "
          f"the median over the processes (min-max over the processes below)\n")

    image, filters = conv_inputs()
    X, y = make_moons()
    check_conv(image, filters)
    check_mlp(X, y)
    print("checked: both engines give the same conv loss and gradients, and the same three MLP steps\n")

    timing = per_process(args.processes, args.repeat)
    spreads = [f"{label} {low * 1e3:.1f}-{high * 1e3:.1f} ms" for label, (_, low, high) in timing.items()]
    am, ao, al, bm, bo = (timing[label][0] for label in LABELS)
    rows = [
        ("(a) conv 28x28, 4 3x3, relu, sum: fwd+bwd (ms)", am * 1e3, ao * 1e3, am / ao, "a"),
        ("(a') same, ours as plain loops (ms)", am * 1e3, al * 1e3, am / al, "a"),
        ("(b) MLP 2-16-16-1 x100 SVM step (ms)", bm * 1e3, bo * 1e3, bm / bo, "b"),
    ]

    deepest = deepest_micrograd()
    deep_runs = [(n, *ours_depth(n)) for n in args.deep]
    ok_depths = [n for n, ok, _, _ in deep_runs if ok]
    ours_deep = max(ok_depths) if ok_depths else 0
    rows.append(("(c) deepest chain backward() survives", deepest, ours_deep, ours_deep / deepest, "c"))

    dm_before, dm_after, nm = bytes_per_node(graph_micrograd, image, filters)
    do_before, do_after, no = bytes_per_node(graph_ours, image, filters)
    rows.append(("(d) bytes/node, graph (a) built", dm_before, do_before, dm_before / do_before, "d"))
    rows.append(("(d) bytes/node, after backward", dm_after, do_after, dm_after / do_after, "d"))

    header = f"{'workload':48} {'micrograd':>11} {'ours':>11} {'ratio':>8} {'target':>12}  met?"
    print(header)
    print("-" * len(header))
    for label, m, o, ratio, key in rows:
        if key in "ab":
            target, met = f">= {TARGETS[key]:g}x", ratio >= TARGETS[key]
        elif key == "c":
            target, met = f">= {TARGETS[key]:,}", o >= TARGETS[key]
        else:
            target, met = f"<= {TARGETS[key]}", o <= TARGETS[key]
        fmt = (lambda v: f"{v:,.0f}") if key in "cd" else (lambda v: f"{v:.1f}")
        print(f"{label:48} {fmt(m):>11} {fmt(o):>11} {ratio:>7.1f}x {target:>12}  {'yes' if met else 'NO'}")
    print()
    print("timing, min-max over the processes: " + "; ".join(spreads))
    print(f"load average {load:.2f} at the start, {os.getloadavg()[0]:.2f} at the end")
    print("(c) ours: " + "; ".join(f"{n:,} steps {'ok' if ok else 'FAILED'} in {s:.1f} s, peak {mb:,.0f} MB"
                                    for n, ok, s, mb in deep_runs))
    print(f"(d) graph (a): micrograd {nm:,} nodes, {dm_before * nm / 1e6:.1f} MB; ours {no:,} nodes, "
          f"{do_before * no / 1e6:.1f} MB ({dm_before * nm / (do_before * no):.1f}x less). Micrograd has more "
          "nodes: its sum() is a chain of binary adds starting from 0.")


if __name__ == "__main__":
    main()
