"""The Tensor engine next to PyTorch CPU, float32: `python benchmarks/tensor.py`.

Workloads, each forward + backward:
  (a) conv2d, x (64,1,28,28), w (8,1,3,3)
  (b) conv2d, x (32,16,16,16), w (32,16,3,3), padding 1
  (c) 2x2 max pooling and 2x2 average pooling on (64,8,26,26)
  (d) one epoch of the digits CNN (conv 1->8 3x3, relu, max-pool 2, linear 72->10, cross entropy),
      batch 64, SGD, on the 1,797 bundled 8x8 digits
  (e) one LeNet-5 training step: conv 6 5x5 pad 2, relu, max-pool 2, conv 16 5x5, relu, max-pool 2,
      linear 400-120-84-10 (relu between), cross entropy, SGD; batch 64 of 28x28

How it is timed, so that the figures mean what a user would see:
  - each library runs each workload in its own fresh process (PyTorch with
    torch.set_num_threads(2), set inside its own process only), so neither's threads, allocator
    or caches touch the other's, and no earlier workload shapes the C allocator's state (PyTorch's
    (a) measured 2.9 ms alone but 6.2 ms after the other workloads were built in the same process);
  - the processes alternate (ours, PyTorch, PyTorch, ours, ...), so a busy spell of a shared
    machine falls on both, and there are --processes of them per side and workload (3 or more);
  - everything runs with default settings: no allocator tuning, no environment variables.
    --tuned-malloc raises glibc's mmap and trim thresholds inside both workers instead; the
    header then says so, and those figures are not what a user's process gets.
  - --threads 1 (opt-in, reported in the header) runs both libraries on one thread each (numpy's
    BLAS through threadpoolctl, PyTorch through set_num_threads): on a machine busy with other
    work, two-thread pools that wait for each other make both libraries' times swing wildly.
Each process warms up, then takes the median of its timed runs. The table shows, per library,
the median over the processes and their spread (min-max), and the ratio of the two medians:
ours / PyTorch, below 1.0 we are faster. Another CPU (or BLAS) gives other ratios.
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import numpy as np

from machine import cpu_name  # (benchmarks/machine.py: the script's own folder is on sys.path)

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")

WORKLOADS = {
    "a": ("(a) conv2d fwd+bwd x(64,1,28,28) w(8,1,3,3)", 1.0),
    "b": ("(b) conv2d fwd+bwd x(32,16,16,16) w(32,16,3,3) p1", 2.0),
    "c": ("(c) max+avg pool 2x2 fwd+bwd (64,8,26,26)", 1.0),
    "d": ("(d) digits CNN epoch, batch 64", 0.6),
    "e": ("(e) LeNet-5 training step, batch 64, 28x28", 1.5),
}


# ---- the workloads, one function per library ------------------------------------------------
# Each returns a function that runs the workload once. Both libraries get the same numbers.

def conv_case(lib, x_shape, w_shape, padding):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(x_shape).astype(np.float32)
    w = rng.standard_normal(w_shape).astype(np.float32)
    if lib == "ours":
        from tinygrad_conv import Tensor, functional as F
        X, W = Tensor(x, requires_grad=True), Tensor(w, requires_grad=True)

        def run():
            X.grad = W.grad = None
            F.conv2d(X, W, padding=padding).sum().backward()
        return run
    import torch
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)

    def run():
        tx.grad = tw.grad = None
        torch.nn.functional.conv2d(tx, tw, padding=padding).sum().backward()
    return run


def pool_case(lib, shape):
    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    if lib == "ours":
        from tinygrad_conv import Tensor, functional as F
        X = Tensor(x, requires_grad=True)

        def run():
            X.grad = None
            F.max_pool2d(X, 2).sum().backward()
            X.grad = None
            F.avg_pool2d(X, 2).sum().backward()
        return run
    import torch
    tx = torch.tensor(x, requires_grad=True)

    def run():
        tx.grad = None
        torch.nn.functional.max_pool2d(tx, 2).sum().backward()
        tx.grad = None
        torch.nn.functional.avg_pool2d(tx, 2).sum().backward()
    return run


def training_case(lib, layers, batches, lr=0.1):
    """One SGD pass over `batches` ((images, labels) pairs) of the model `layers` describes.

    layers: ("conv", in, out, k, padding) | ("relu",) | ("pool", k) | ("flatten",) | ("linear", in, out).
    Both libraries start from the same parameters (ours, seeded, copied into PyTorch's).
    """
    from tinygrad_conv import nn
    ours = []
    for i, (kind, *args) in enumerate(layers):
        ours.append(nn.Conv2d(*args[:3], padding=args[3], seed=i) if kind == "conv" else
                    nn.Linear(*args, seed=i) if kind == "linear" else
                    nn.ReLU() if kind == "relu" else nn.MaxPool2d(*args) if kind == "pool" else nn.Flatten())
    model = nn.Sequential(*ours)
    for p in model.parameters():
        p.data = p.data.astype(np.float32)
    if lib == "ours":
        from tinygrad_conv import Tensor, functional as F, optim
        opt = optim.SGD(model.parameters(), lr=lr)

        def run():
            for x, y in batches:
                opt.zero_grad()
                F.cross_entropy(model(Tensor(x)), y).backward()
                opt.step()
        return run
    import torch
    theirs = []
    for kind, *args in layers:
        theirs.append(torch.nn.Conv2d(*args[:3], padding=args[3]) if kind == "conv" else
                      torch.nn.Linear(*args) if kind == "linear" else
                      torch.nn.ReLU() if kind == "relu" else torch.nn.MaxPool2d(*args) if kind == "pool"
                      else torch.nn.Flatten())
    tmodel = torch.nn.Sequential(*theirs)
    with torch.no_grad():
        for p, q in zip(tmodel.parameters(), model.parameters()):
            p.copy_(torch.from_numpy(q.data))
    topt = torch.optim.SGD(tmodel.parameters(), lr=lr)
    tbatches = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in batches]

    def run():
        for x, y in tbatches:
            topt.zero_grad()
            torch.nn.functional.cross_entropy(tmodel(x), y).backward()
            topt.step()
    return run


def digits_epoch_case(lib, batch=64):
    from tinygrad_conv import datasets
    images, labels = datasets.load_digits()
    images, labels = images.astype(np.float32)[:, None], labels.astype(np.int64)
    order = np.random.default_rng(3).permutation(len(images))
    batches = [(images[order[i:i + batch]], labels[order[i:i + batch]]) for i in range(0, len(images), batch)]
    layers = [("conv", 1, 8, 3, 0), ("relu",), ("pool", 2), ("flatten",), ("linear", 72, 10)]
    return training_case(lib, layers, batches)


def lenet_step_case(lib, batch=64):
    rng = np.random.default_rng(4)
    batches = [(rng.random((batch, 1, 28, 28)).astype(np.float32), rng.integers(0, 10, batch).astype(np.int64))]
    layers = [("conv", 1, 6, 5, 2), ("relu",), ("pool", 2), ("conv", 6, 16, 5, 0), ("relu",), ("pool", 2),
              ("flatten",), ("linear", 400, 120), ("relu",), ("linear", 120, 84), ("relu",), ("linear", 84, 10)]
    return training_case(lib, layers, batches)


CASES = {
    "a": lambda lib: conv_case(lib, (64, 1, 28, 28), (8, 1, 3, 3), 0),
    "b": lambda lib: conv_case(lib, (32, 16, 16, 16), (32, 16, 3, 3), 1),
    "c": lambda lib: pool_case(lib, (64, 8, 26, 26)),
    "d": digits_epoch_case,
    "e": lenet_step_case,
}


# ---- one worker process: one library, the chosen workloads -----------------------------------

def tune_malloc():
    """Opt-in only (--tuned-malloc): glibc keeps large freed arrays instead of returning them to the OS."""
    import ctypes
    libc = ctypes.CDLL("libc.so.6")
    m_trim_threshold, m_mmap_threshold = -1, -3
    return libc.mallopt(m_mmap_threshold, 32 << 20) == 1 and libc.mallopt(m_trim_threshold, 256 << 20) == 1


def time_one(run, seconds, warmup_seconds=0.3):
    """The median wall time of run() over about `seconds` of timed calls (at least 5), after a warm-up."""
    start = time.perf_counter()
    calls = 0
    while calls < 2 or time.perf_counter() - start < warmup_seconds:
        run()
        calls += 1
    times = []
    start = time.perf_counter()
    while len(times) < 5 or time.perf_counter() - start < seconds:
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def worker(lib, keys, seconds, tuned, threads):
    meta = {"tuned_malloc": tune_malloc() if tuned else False}
    sys.path.insert(0, ROOT)
    if lib == "torch":
        import torch
        torch.set_num_threads(threads or 2)
        meta.update(torch=torch.__version__, threads=torch.get_num_threads(),
                    blas=torch.backends.mkl.is_available() and "MKL / oneDNN" or "see torch.__config__")
    else:
        import tinygrad_conv
        meta.update(numpy=np.__version__, engine=os.path.dirname(tinygrad_conv.__file__))
    if lib == "ours" and threads:
        from threadpoolctl import threadpool_limits
        limit = threadpool_limits(threads, user_api="blas")  # noqa: F841  (held for the whole run)
    cases = {key: CASES[key](lib) for key in keys}  # built before any timing
    times = {key: time_one(cases[key], seconds) for key in keys}
    print(json.dumps({"meta": meta, "times": times}))


# ---- the parent: alternate fresh worker processes, summarise ---------------------------------

def numpy_blas():
    """numpy's BLAS library and the kernel it picked for this CPU, read by threadpoolctl."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "numpy's BLAS: unknown (pip install threadpoolctl to name it)"
    for pool in threadpool_info():
        if pool.get("user_api") == "blas":
            return (f"numpy's BLAS: {pool.get('internal_api')} {pool.get('version')}, kernel "
                    f"{pool.get('architecture')}, {pool.get('num_threads')} threads")
    return "numpy's BLAS: none found by threadpoolctl"


def run_worker(lib, keys, seconds, tuned, threads):
    command = [sys.executable, os.path.abspath(__file__), "--worker", lib, "--only", ",".join(keys),
               "--seconds", str(seconds)] + (["--tuned-malloc"] if tuned else []) + \
        (["--threads", str(threads)] if threads else [])
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        sys.exit(f"the {lib} worker failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="abcde", help="the workloads to run, e.g. 'ab' or 'a,e' (default all)")
    parser.add_argument("--processes", type=int, default=3, help="fresh processes per library (default 3)")
    parser.add_argument("--seconds", type=float, default=1.0, help="timed seconds per workload per process")
    parser.add_argument("--tuned-malloc", action="store_true",
                        help="OPT-IN: raise glibc's mmap/trim thresholds in both workers (not a user's default)")
    parser.add_argument("--threads", type=int, default=0,
                        help="OPT-IN: threads for both libraries (default: numpy's BLAS default, PyTorch 2)")
    parser.add_argument("--worker", choices=("ours", "torch"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    keys = [k for k in args.only.replace(",", "") if k in WORKLOADS]
    if not keys:
        parser.error(f"--only takes letters from {''.join(WORKLOADS)}, got {args.only!r}")
    if args.worker:
        return worker(args.worker, keys, args.seconds, args.tuned_malloc, args.threads)
    try:
        import torch  # noqa: F401  (only to fail early; the workers import it for themselves)
    except ImportError:
        sys.exit("benchmarks/tensor.py compares with PyTorch; install torch (CPU) to run it")
    del sys.modules["torch"]

    if args.threads:
        try:
            import threadpoolctl  # noqa: F401  (the workers use it to limit numpy's BLAS)
        except ImportError:
            sys.exit("--threads needs threadpoolctl (pip install threadpoolctl)")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    results = {"ours": [], "torch": []}
    for round_ in range(args.processes):
        for key in keys:  # one fresh process per workload: what ran before cannot shape its allocator
            for lib in (("ours", "torch") if round_ % 2 == 0 else ("torch", "ours")):
                results[lib].append(run_worker(lib, [key], args.seconds, args.tuned_malloc, args.threads))

    theirs_meta, ours_meta = results["torch"][0]["meta"], results["ours"][0]["meta"]
    allocator = ("TUNED allocator (opt-in --tuned-malloc: glibc M_MMAP_THRESHOLD=32MB, M_TRIM_THRESHOLD=256MB in "
                 "both workers; NOT a user's default)" if args.tuned_malloc else
                 "default settings (no allocator tuning, no environment changes)")
    print(f"CPU: {cpu_name()}, {os.cpu_count()} cpus, {platform.python_implementation()} {platform.python_version()}")
    print(f"ours: numpy {ours_meta['numpy']}, {numpy_blas()}")
    print(f"PyTorch {theirs_meta['torch']} CPU, {theirs_meta['threads']} threads, BLAS {theirs_meta['blas']}")
    print(f"float32; {args.processes} fresh processes per library, alternated; {allocator}")
    if args.threads:
        print(f"THREADS SET (opt-in --threads {args.threads}): numpy's BLAS and PyTorch both limited to "
              f"{args.threads} thread(s); NOT the default comparison")
    print(f"each figure: the median over the processes of each process's median, and (min-max) over the processes")
    end_load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    if max(load, end_load) > 0.5:
        print(f"note: load average {load:.2f} at the start, {end_load:.2f} at the end: other work shared these "
              f"cores, so rerun to confirm (two-thread pools suffer most)")

    rows = []
    for key in keys:
        label, target = WORKLOADS[key]
        ours = [r["times"][key] * 1e3 for r in results["ours"] if key in r["times"]]
        theirs = [r["times"][key] * 1e3 for r in results["torch"] if key in r["times"]]
        ratio = statistics.median(ours) / statistics.median(theirs)
        rows.append((label, ours, theirs, ratio, target))
    width = max(len(r[0]) for r in rows)
    print(f"\n{'workload':<{width}}  {'ours ms (spread)':>22}  {'PyTorch ms (spread)':>22}  {'ratio':>5}  "
          f"{'target':>6}  met?")
    for label, ours, theirs, ratio, target in rows:
        def cell(ms):
            return f"{statistics.median(ms):7.2f} ({min(ms):.2f}-{max(ms):.2f})"
        print(f"{label:<{width}}  {cell(ours):>22}  {cell(theirs):>22}  {ratio:5.2f}  {target:6.1f}  "
              f"{'yes' if ratio <= target else 'NO'}")
    return rows


if __name__ == "__main__":
    main()
