"""Instructions per layer, counted by valgrind (callgrind): figures that do not move with the machine's load.

    python bench/instructions.py                 # `specc validate` and `specc explain`, whole processes
    python bench/instructions.py --stages        # each stage in one process (read, convert, plan, lint, report)
    python bench/instructions.py --imports       # importing what `specc validate` needs

A figure per layer is the count for a chain of --large layers less that for --small layers (the chains of
bench/scale.py), divided by the difference: start-up and imports cancel out. A stage's count is that of a
process running the stages up to it less that of one stopping before it. Needs valgrind on the PATH.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPECC = str(Path(sys.executable).with_name("specc"))
STAGES = ("read", "convert", "plan", "lint", "report")

# Runs the stages up to argv[1] (0: none) on the spec argv[2], as `specc validate` and `explain` run them.
STAGE_SCRIPT = """
import gc, os, sys
gc.disable()
from dataclasses import replace
from specc import api, compose, lint, report
from specc.limits import DEFAULT_LIMITS, PlanLimits
limits = replace(DEFAULT_LIMITS, max_layers=100_000)
upto, path = int(sys.argv[1]), sys.argv[2]
if upto >= 1: doc = compose.load(path, limits, ())
if upto >= 2: spec = api.parse(doc, limits)
if upto >= 3: plan = api.plan(spec, PlanLimits(max_layers=100_000))
if upto >= 4: lint.check(spec, plan)
if upto >= 5: report.report(plan)
os._exit(0)
"""


def count(command: list[str]) -> int:
    """The instructions a process executes, by callgrind."""
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp}/out", *command],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        sys.exit(f"valgrind did not count {' '.join(command)}:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--large", type=int, default=3000)
    parser.add_argument("--stages", action="store_true", help="each stage in one process instead")
    parser.add_argument("--imports", action="store_true", help="importing what `specc validate` needs")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed; this harness counts instructions with it")
    sys.path.insert(0, str(ROOT / "bench"))
    from scale import chain

    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "specc")], check=True,
                   stdout=subprocess.DEVNULL)
    if args.imports:
        modules = "specc.cli.app, specc.validate, specc.planner, specc.lint, specc.spec, specc.api, specc.compose"
        print(f"import {modules}: {count([sys.executable, '-c', f'import {modules}']):,} instructions")
        return
    with tempfile.TemporaryDirectory() as tmp:
        files = {}
        for n in (args.small, args.large):
            files[n] = Path(tmp) / f"chain_{n}.yaml"
            files[n].write_text(chain(n), encoding="utf-8")
        layers = args.large - args.small
        if args.stages:
            script = Path(tmp) / "stages.py"
            script.write_text(STAGE_SCRIPT, encoding="utf-8")
            before = {n: count([sys.executable, str(script), "0", str(files[n])]) for n in files}
            for i, stage in enumerate(STAGES, 1):
                after = {n: count([sys.executable, str(script), str(i), str(files[n])]) for n in files}
                per_layer = ((after[args.large] - before[args.large]) - (after[args.small] - before[args.small]))
                print(f"{stage:<8} {per_layer / layers:>10,.0f} instructions a layer")
                before = after
            return
        for command in ("validate", "explain"):
            small, large = (count([SPECC, command, str(files[n])]) for n in (args.small, args.large))
            print(f"specc {command}: {(large - small) / layers:,.0f} instructions a layer; "
                  f"{small:,} for {args.small:,} layers")


if __name__ == "__main__":
    main()
