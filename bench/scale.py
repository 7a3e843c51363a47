"""How `specc validate` and `specc explain` scale: whole processes on generated dense chains, against
`python -c "import tensorflow"` measured in the same run.

    python bench/scale.py [--sizes 1000,10000,50000,100000] [--repeat 3]
    python bench/scale.py --stages 10000 [--repeat 3]      # in one process: each stage's cost per layer
    python bench/scale.py --stages 10000 --ballast 300     # the same behind 300 MiB of other objects

Each spec is a chain of `{id: layer_i, type: dense, units: 8, activation: relu}`. Every figure
is the median of fresh processes, as a user waits for them (interpreter start-up and imports
included), run in --repeat rounds of one run of each command (--short-repeat runs of those that
take about a second or less, whose time moves more from run to run), so that a machine whose speed
drifts moves them all alike; peak memory is the process's maximum resident set. The growth
exponent is the slope of log(time - start-up) over log(layers) from the second size on, start-up
being `specc validate specs/siamese.yaml`, for the medians and for each round. Bombs (aliases,
expressions, repeats) must be refused, exit code 1, and the time to refuse them is printed.

specc's modules are compiled to bytecode first, as `pip install` does for TensorFlow's: an
editable install run with PYTHONDONTWRITEBYTECODE set would otherwise compile specc's source
in every process (about 0.13 s here) and the comparison would not be like for like.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPECC = str(Path(sys.executable).with_name("specc"))


def chain(n: int) -> str:
    lines = ["specc: 1", "name: chain", "inputs:", "  x: {shape: [null, 8]}", "layers:"]
    lines += [f"  - {{id: layer_{i}, type: dense, units: 8, activation: relu}}" for i in range(n)]
    return "\n".join(lines) + "\n"


BOMBS = {
    "billion laughs (aliases)": "\n".join(
        ["specc: 1", "a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
        + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]) + "\n",
    "string repeat (expression)": "specc: 1\nvars: {s: \"${'x' * 10 ** 9}\"}\ninputs: {x: {shape: [1]}}\n"
                                  "layers: [{id: a, type: identity}]\n",
    "nested repeat (10,000 x 10,000)": "specc: 1\ninputs: {x: {shape: [null, 4]}}\nlayers:\n"
                                       "  - {id: outer, type: block, repeat: 10000, layers: "
                                       "[{id: inner, type: dense, units: 4, repeat: 10000}]}\n",
}


def run(command: list[str], expect: int = 0) -> tuple[float, int]:
    """Seconds and peak resident memory (KiB) of one process."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               env={**os.environ, "NO_COLOR": "1"})
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code != expect:
        raise SystemExit(f"{' '.join(command)}: exit code {code}, expected {expect}:\n"
                         f"{process.stderr.read().decode()[-2000:]}")
    return seconds, usage.ru_maxrss


def median(command: list[str], repeat: int, expect: int = 0) -> tuple[float, int]:
    runs = [run(command, expect) for _ in range(repeat)]
    return statistics.median(s for s, _ in runs), max(m for _, m in runs)


def interleaved(commands: dict[str, list[str]], repeat: int, times: dict[str, int]
                ) -> dict[str, list[list[tuple[float, int]]]]:
    """The seconds and peak memory of each run of each command, by round: in each round every command runs
    `times[name]` times (1 if not given), spread over the round. A machine that slows down or speeds up
    during the measurement moves every command alike, and the ratios between them, within a round and
    between the medians, stay."""
    runs: dict[str, list[list[tuple[float, int]]]] = {name: [] for name in commands}
    for _ in range(repeat):
        for name in commands:
            runs[name].append([])
        for turn in range(max(times.values(), default=1)):
            for name, command in commands.items():
                if turn < times.get(name, 1):
                    runs[name][-1].append(run(command))
    return runs


def growth(points: list[tuple[int, float]], start: float) -> float:
    """The slope of log(seconds - start-up) over log(layers), least squares."""
    fit = [(math.log(n), math.log(max(s - start, 1e-3))) for n, s in points]
    mx = statistics.fmean(x for x, _ in fit)
    my = statistics.fmean(y for _, y in fit)
    return sum((x - mx) * (y - my) for x, y in fit) / sum((x - mx) ** 2 for x, _ in fit)


def stages(n: int, repeat: int, ballast: int = 0) -> None:
    """What `specc validate` and `specc explain` do, stage by stage, in this process: the best of `repeat`
    runs, in microseconds per layer, with the collector off as the commands run; then the Python objects
    reading the file allocates (tracemalloc: at the peak, and the document it leaves). `ballast`: MiB of
    other small objects made first and kept alive, to see what a big process's memory alone costs."""
    import gc
    import tracemalloc
    from dataclasses import replace

    sys.path.insert(0, str(ROOT))
    from specc import api, compose
    from specc.limits import DEFAULT_LIMITS, PlanLimits
    from specc.lint import check
    from specc.report import report

    limits = replace(DEFAULT_LIMITS, max_layers=max(n, DEFAULT_LIMITS.max_layers))
    gc.disable()
    held = [bytearray(200) for _ in range(ballast * 2**20 // 256)]  # about 256 bytes each, with its header
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"chain_{n}.yaml"
        path.write_text(chain(n), encoding="utf-8")
        best: dict[str, float] = {}
        for _ in range(repeat):
            marks = [time.perf_counter()]
            doc = compose.load(path, limits, ())
            marks.append(time.perf_counter())
            spec = api.parse(doc, limits)
            marks.append(time.perf_counter())
            plan = api.plan(spec, PlanLimits(max_layers=limits.max_layers))
            marks.append(time.perf_counter())
            check(spec, plan)
            marks.append(time.perf_counter())
            report(plan)
            marks.append(time.perf_counter())
            names = ("read", "validate, expand, records", "plan", "lint (validate)", "report (explain)")
            for name, start, end in zip(names, marks, marks[1:]):
                best[name] = min(best.get(name, math.inf), end - start)
            del doc, spec, plan
        print(f"{n:,}-layer chain, best of {repeat}, microseconds per layer"
              + (f", behind {ballast} MiB of other objects:" if held else ":"))
        for name, seconds in best.items():
            print(f"  {name:<28} {seconds * 1e6 / n:6.1f}")
        print(f"  {'all':<28} {sum(best.values()) * 1e6 / n:6.1f}")
        tracemalloc.start()
        doc = compose.load(path, limits, ())
        current, peak = tracemalloc.get_traced_memory()  # `doc` alive: `current` is what it holds
        tracemalloc.stop()
        del doc
        print(f"reading: Python objects {peak / 2**20:.0f} MiB at the peak, the document {current / 2**20:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000,50000,100000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--stages", type=int, metavar="LAYERS", help="time each stage in one process instead")
    parser.add_argument("--ballast", type=int, default=0, metavar="MIB",
                        help="with --stages: MiB of other objects to hold while the stages run")
    parser.add_argument("--short-repeat", type=int, default=3,
                        help="runs a round of each command that takes about a second or less")
    args = parser.parse_args()
    if args.stages:
        return stages(args.stages, args.repeat, args.ballast)
    sizes = [int(s) for s in args.sizes.split(",")]

    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "specc")], check=True,
                   stdout=subprocess.DEVNULL)
    with tempfile.TemporaryDirectory() as tmp:
        files = {}
        for n in sizes:
            files[n] = Path(tmp) / f"chain_{n}.yaml"
            files[n].write_text(chain(n), encoding="utf-8")
        commands = {"tf": [sys.executable, "-c", "import tensorflow"], "help": [SPECC, "--help"],
                    "small": [SPECC, "validate", str(ROOT / "specs" / "siamese.yaml")]}
        commands.update({(command, n): [SPECC, command, str(files[n])]
                         for n in sizes for command in ("validate", "explain")})
        # A short process's time moves more, relatively, from run to run (start-up jitter); its median
        # is taken over more runs. The chains up to 10,000 layers and the small commands are short.
        short = {name: args.short_repeat for name in commands
                 if name in ("help", "small") or (isinstance(name, tuple) and name[1] <= 10_000)}
        runs = interleaved(commands, args.repeat, short)
        measured = {name: (statistics.median(s for got in rounds for s, _ in got),
                           max(m for got in rounds for _, m in got)) for name, rounds in runs.items()}
        in_round = {name: [statistics.median(s for s, _ in got) for got in rounds] for name, rounds in runs.items()}
        (tf_s, tf_mem), (help_s, _), (small_s, _) = measured["tf"], measured["help"], measured["small"]
        print(f"python -c 'import tensorflow': {tf_s:.2f} s, {tf_mem / 1024:.0f} MiB")
        print(f"specc --help: {help_s:.3f} s ({help_s / tf_s:.2f}x)")
        print(f"specc validate specs/siamese.yaml: {small_s:.3f} s ({small_s / tf_s:.2f}x)")
        print()
        print(f"{'layers':>8} {'command':>9} {'seconds':>8} {'x import tf':>11} {'peak MiB':>9}")
        results: dict[str, list[tuple[int, float]]] = {"validate": [], "explain": []}
        for n in sizes:
            for command in ("validate", "explain"):
                seconds, memory = measured[command, n]
                results[command].append((n, seconds))
                print(f"{n:>8,} {command:>9} {seconds:>8.2f} {seconds / tf_s:>11.2f} {memory / 1024:>9.0f}")
        print()
        for command, points in results.items():
            if len(points) >= 3:
                # Also each round's own, from the runs made within a minute of each other: how far the
                # machine's drift moves the figure.
                rounds = [growth([(n, in_round[command, n][i]) for n, _ in points[1:]], in_round["small"][i])
                          for i in range(args.repeat)]
                print(f"growth exponent of `specc {command}` from {points[1][0]:,} layers: "
                      f"{growth(points[1:], small_s):.2f} (each round's: {min(rounds):.2f} to {max(rounds):.2f})")
        print()
        for name, text in BOMBS.items():
            bomb = Path(tmp) / "bomb.yaml"
            bomb.write_text(text, encoding="utf-8")
            seconds, memory = median([SPECC, "validate", str(bomb)], args.repeat, expect=1)
            print(f"refused {name}: {seconds:.2f} s, {memory / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
