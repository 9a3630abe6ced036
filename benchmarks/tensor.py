"""The Tensor engine next to PyTorch CPU, float32, in one run: `python benchmarks/tensor.py`.

Workloads (issue 3); each is timed as the median of several repeats after a warm-up:
  (a) conv2d forward + backward (input and weight gradients), x (64,1,28,28), w (8,1,3,3)
  (b) the same for x (32,16,16,16), w (32,16,3,3), padding 1
  (c) 2x2 max pooling and 2x2 average pooling, forward + backward, on (64,8,26,26)
  (d) one epoch of the digits CNN (conv 1->8 3x3, relu, max-pool 2, linear 72->10, cross entropy),
      batch 64, SGD, on the 1,797 8x8 digits (random images of that shape if the dataset is missing)
The ratio is ours / PyTorch: below 1.0 we are faster.
"""
import argparse
import ctypes
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from tinygrad_conv import Tensor, functional as F  # noqa: E402


def median_times(ours, theirs, repeats, rounds=3, warmup_seconds=0.5, pause=0.3):
    """Median wall times (seconds) of ours() and theirs() over `repeats` runs each.

    The runs come in blocks, ours then theirs, `rounds` times over, so that slow and busy spells
    of this shared machine fall on both. Between blocks a pause lets the other library's idle
    worker threads stop spinning (OpenMP and OpenBLAS threads busy-wait for a while after work,
    and on 2 cores that steals the core the next block's second thread needs). Each block warms
    up for about warmup_seconds first: until then the C allocator is still settling on how to
    serve the same large arrays each call, which alone can change a conv's time by half.
    """
    times = ([], [])
    per_block = max(1, -(-repeats // rounds))
    for _ in range(rounds):
        for fn, record in ((ours, times[0]), (theirs, times[1])):
            time.sleep(pause)
            start = time.perf_counter()
            for i in range(10_000):
                fn()
                if i >= 1 and time.perf_counter() - start > warmup_seconds:
                    break
            for _ in range(per_block):
                t0 = time.perf_counter()
                fn()
                record.append(time.perf_counter() - t0)
    return statistics.median(times[0]), statistics.median(times[1])


def steady_allocator():
    """Ask glibc to keep freed large arrays for reuse instead of handing them back to the OS.

    By default an array over 128 KB comes fresh from the OS on every call, and touching its new
    pages costs as much as the arithmetic in these small workloads; glibc raises that threshold
    by itself after a while, so timings drift. Fixing it up front gives both libraries the steady
    state of a long training run. Returns a note for the header.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3
        ok = libc.mallopt(m_mmap_threshold, 32 << 20) == 1 and libc.mallopt(m_trim_threshold, 256 << 20) == 1
    except (OSError, AttributeError):
        ok = False
    return ("glibc mallopt M_MMAP_THRESHOLD=32MB M_TRIM_THRESHOLD=256MB (both libraries; --default-malloc "
            "to leave it)" if ok else "default allocator (mallopt unavailable)")


# ---- (a), (b): conv2d forward + backward -------------------------------------------------

def conv_case(torch, x_shape, w_shape, padding):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(x_shape).astype(np.float32)
    w = rng.standard_normal(w_shape).astype(np.float32)
    X, W = Tensor(x, requires_grad=True), Tensor(w, requires_grad=True)
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)

    def ours():
        X.grad = W.grad = None
        F.conv2d(X, W, padding=padding).sum().backward()

    def theirs():
        tx.grad = tw.grad = None
        torch.nn.functional.conv2d(tx, tw, padding=padding).sum().backward()
    return ours, theirs


# ---- (c): pooling forward + backward ------------------------------------------------------

def pool_case(torch, shape):
    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    X = Tensor(x, requires_grad=True)
    tx = torch.tensor(x, requires_grad=True)

    def ours():
        X.grad = None
        F.max_pool2d(X, 2).sum().backward()
        X.grad = None
        F.avg_pool2d(X, 2).sum().backward()

    def theirs():
        tx.grad = None
        torch.nn.functional.max_pool2d(tx, 2).sum().backward()
        tx.grad = None
        torch.nn.functional.avg_pool2d(tx, 2).sum().backward()
    return ours, theirs


# ---- (d): one epoch of the digits CNN ------------------------------------------------------

def digits():
    try:
        from tinygrad_conv import datasets
        images, labels = datasets.load_digits()
        return images.astype(np.float32)[:, None], labels.astype(np.int64), "digits"
    except Exception:  # the dataset is bundled separately; the shapes are what matters here
        rng = np.random.default_rng(2)
        return (rng.random((1797, 1, 8, 8)).astype(np.float32), rng.integers(0, 10, 1797).astype(np.int64),
                "random 8x8")


def epoch_case(torch, batch=64, lr=0.1):
    from tinygrad_conv import nn, optim
    images, labels, source = digits()
    order = np.random.default_rng(3).permutation(len(images))
    batches = [(images[order[i:i + batch]], labels[order[i:i + batch]]) for i in range(0, len(images), batch)]

    model = nn.Sequential(nn.Conv2d(1, 8, 3, seed=0), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(8 * 3 * 3, 10, seed=1))
    for p in model.parameters():
        p.data = p.data.astype(np.float32)
    opt = optim.SGD(model.parameters(), lr=lr)

    tmodel = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                                 torch.nn.Flatten(), torch.nn.Linear(8 * 3 * 3, 10))
    with torch.no_grad():
        for p, q in zip(tmodel.parameters(), model.parameters()):
            p.copy_(torch.from_numpy(q.data))
    topt = torch.optim.SGD(tmodel.parameters(), lr=lr)
    tbatches = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in batches]

    def ours():
        for x, y in batches:
            opt.zero_grad()
            F.cross_entropy(model(Tensor(x)), y).backward()
            opt.step()

    def theirs():
        for x, y in tbatches:
            topt.zero_grad()
            torch.nn.functional.cross_entropy(tmodel(x), y).backward()
            topt.step()
    return ours, theirs, source


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=21, help="timed runs per workload (median)")
    parser.add_argument("--default-malloc", action="store_true",
                        help="leave glibc's allocator thresholds alone (timings drift until it adapts)")
    args = parser.parse_args(argv)
    allocator = "default allocator" if args.default_malloc else steady_allocator()
    try:
        import torch
    except ImportError:
        sys.exit("benchmarks/tensor.py compares with PyTorch; install torch (CPU) to run it")
    print(f"numpy {np.__version__}, torch {torch.__version__}, torch threads {torch.get_num_threads()} "
          f"(interop {torch.get_num_interop_threads()}), {os.cpu_count()} cpus, float32, "
          f"median of {args.repeats}, {allocator}")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    if load > 0.5:  # other processes on these 2 cores: PyTorch's 2 threads suffer most, ratios drift
        print(f"note: load average {load:.2f} before starting; rerun on an idle machine for stable figures")

    ours_d, theirs_d, source = epoch_case(torch)
    cases = [
        ("(a) conv2d fwd+bwd x(64,1,28,28) w(8,1,3,3)", conv_case(torch, (64, 1, 28, 28), (8, 1, 3, 3), 0), 1.0),
        ("(b) conv2d fwd+bwd x(32,16,16,16) w(32,16,3,3) p1",
         conv_case(torch, (32, 16, 16, 16), (32, 16, 3, 3), 1), 2.5),
        ("(c) max+avg pool 2x2 fwd+bwd (64,8,26,26)", pool_case(torch, (64, 8, 26, 26)), 1.0),
        (f"(d) digits CNN epoch, batch 64 ({source})", (ours_d, theirs_d), 1.0),
    ]
    rows = []
    for label, (ours, theirs), target in cases:
        repeats = max(3, args.repeats // 3) if label.startswith("(d)") else args.repeats
        t_ours, t_theirs = median_times(ours, theirs, repeats)
        rows.append((label, t_ours * 1e3, t_theirs * 1e3, t_ours / t_theirs, target))

    width = max(len(r[0]) for r in rows)
    print(f"{'workload':<{width}}  {'ours ms':>9}  {'torch ms':>9}  {'ratio':>6}  {'target':>6}  met?")
    for label, ours_ms, torch_ms, ratio, target in rows:
        print(f"{label:<{width}}  {ours_ms:9.2f}  {torch_ms:9.2f}  {ratio:6.2f}  {target:6.1f}  "
              f"{'yes' if ratio <= target else 'NO'}")
    return rows


if __name__ == "__main__":
    main()
