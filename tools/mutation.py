"""Mutation testing of the engine core and viz's geometry with mutmut: do the tests notice a one-token bug?

    python tools/mutation.py                             # the engine core and viz/geometry.py on their fast tests
    python tools/mutation.py tinygrad_conv/optim.py      # one file (its tests are picked below)
    python tools/mutation.py --children 1 --keep /tmp/m  # fewer processes; keep the copy to inspect

mutmut (PyPI, 3.x) changes one token at a time (`<=` to `<`, `+=` to `=`, a
constant, a string) and runs the tests that reach the changed function; a
mutant the tests let through ("survived") is a bug they would miss. This
script runs it in a throwaway copy of the repository, so no mutmut setting or
`mutants/` folder lands here, then prints the score per file and the
surviving mutants. In the copy, `mutmut show <name>` shows one and
`mutmut browse` walks them.

notes/MUTATION.md records the last score and which survivors were killed by
new tests and which are equivalent (no test can tell them apart). Two traps it
describes: mutmut reruns tests by node id, so keep parametrize ids plain
(letters, digits, dashes), or their mutants read as killed; and a forked test
run that hangs would also read as killed (hence OMP_NUM_THREADS=1 below).
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# each core file, and the fast tests that exercise it. (Kept to the quick files: every mutant reruns
# the listed tests that reach its function. A new fast path needs a listed test that reaches it.)
CORE = {
    "tinygrad_conv/value.py": ["test_value.py", "test_value_edges.py", "test_hand_worked.py",
                               "test_audit_defects.py", "test_errors.py"],
    "tinygrad_conv/windows.py": ["test_windows_adjoint.py", "test_windows_edges.py", "test_errors.py",
                                "test_fused_ops.py"],
    "tinygrad_conv/grid_ops.py": ["test_grid_ops_backend.py", "test_functional_torch.py", "test_errors.py",
                                 "test_audit_defects.py"],
    "tinygrad_conv/functional.py": ["test_functional_messages.py", "test_functional_grid.py", "test_tensor_parity.py",
                                   "test_errors.py", "test_audit_defects.py", "test_fused_ops.py"],
    "tinygrad_conv/optim.py": ["test_hand_worked.py", "test_nn_optim.py"],
    # where the wiring picture and the equations put each input (the draw test needs Graphviz's programs)
    "viz/geometry.py": ["test_geometry.py", "test_viz_equations.py", "test_viz_draw_wiring.py"],
}
SOURCES = sorted({f.split("/")[0] for f in CORE})  # the packages mutmut copies and may mutate


def copy_repository(to):
    """The files git tracks (and the bundled data, stored with them), copied to `to`."""
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    for name in files:
        source = ROOT / name
        if source.is_file():
            target = to / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def configure(copy, files):
    tests = sorted({f"tests/{t}" for f in files for t in CORE.get(f, [])})
    settings = ["", "[mutmut]", "source_paths ="] + [f"    {p}" for p in SOURCES] + ["also_copy =", "    demos",
                "only_mutate ="] + [f"    {f}" for f in files] + ["pytest_add_cli_args_test_selection ="] \
        + [f"    {t}" for t in tests]
    with open(copy / "setup.cfg", "a") as f:
        f.write("\n".join(settings) + "\n")
    return tests


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", default=list(CORE), help="files to mutate (default: all of CORE)")
    parser.add_argument("--children", type=int, default=2, help="test processes at once (default 2)")
    parser.add_argument("--keep", help="make the copy here and keep it (default: a temporary folder, removed)")
    args = parser.parse_args(argv)
    unknown = [f for f in args.files if f not in CORE]
    if unknown:
        parser.error(f"no tests are listed for {unknown}; add them to CORE in {Path(__file__).name}")
    if shutil.which("mutmut") is None:
        parser.error("mutmut is not installed: pip install mutmut")

    copy = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="mutation-"))
    if args.keep and copy.exists():
        shutil.rmtree(copy)
    copy.mkdir(parents=True, exist_ok=True)
    try:
        copy_repository(copy)
        tests = configure(copy, args.files)
        print(f"mutating {', '.join(args.files)}\ntests: {', '.join(tests)}\nin {copy}", flush=True)
        # mutmut forks each mutant's test run from a process that already ran the suite; a child forked
        # after PyTorch started its OpenMP threads hangs in its first parallel op, and the hang would be
        # counted as a timeout, that is as a kill. One OpenMP thread has no pool to inherit.
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", HYPOTHESIS_PROFILE="mutation", OMP_NUM_THREADS="1")
        subprocess.run(["mutmut", "run", "--max-children", str(args.children)], cwd=copy, env=env,
                       stdout=subprocess.DEVNULL, check=False)
        results = subprocess.run(["mutmut", "results", "--all", "true"], cwd=copy, env=env, capture_output=True,
                                 text=True).stdout
        report(results)
    finally:
        if not args.keep:
            shutil.rmtree(copy, ignore_errors=True)


def report(results):
    """Killed / total per file, then every survivor by name."""
    outcomes = re.findall(r"^\s*((?:%s)\.\w+)\.(\S+): (.+)$" % "|".join(SOURCES), results, flags=re.M)
    by_file = Counter()
    killed = Counter()
    survivors = []
    for module, mutant, outcome in outcomes:
        by_file[module] += 1
        # a mutant that hangs the tests or crashes their process (as_strided on garbage) is caught too
        if outcome.strip() in ("killed", "timeout", "segfault"):
            killed[module] += 1
        else:  # survived, no tests, or a run mutmut could not judge (suspicious, not checked): look at it
            survivors.append(f"{module}.{mutant}: {outcome.strip()}")
    for module in sorted(by_file):
        print(f"{module}: {killed[module]} of {by_file[module]} mutants killed "
              f"({100 * killed[module] / by_file[module]:.0f}%)")
    total, dead = sum(by_file.values()), sum(killed.values())
    if total:
        print(f"all: {dead} of {total} killed ({100 * dead / total:.1f}%)")
    print("\n".join(["survivors:"] + survivors) if survivors else "no survivors")


if __name__ == "__main__":
    sys.exit(main())
