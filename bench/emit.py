"""Benchmark: the two emitters against a hand-written tf.compat.v1 script, whole processes, one run.

    python bench/emit.py [--layers 1000] [--repeat 1]

Each round runs, in fresh processes and in rotating order: `specc build --emit python`,
`specc build --emit stamp` with an empty stencil cache (cold: TensorFlow builds the stencils and
learns what the files need) and with the cache the cold run left (warm: no `import tensorflow`,
checked), the same warm build through a tf.Graph as the Python API makes it (`specc.build(...,
emit="stamp")`, the stamped graph imported into TensorFlow, and its files written), and a script
that builds the same MLP (dense 64 units, relu) by hand and writes nothing. `specc build` also loads,
plans and writes graph.pbtxt, model.meta, plan.json and the event file, which the script does not.
Prints medians and ratios to the hand-written script, and how long TensorFlow's own importers take
on the graph `--emit python` wrote.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import mlp_spec  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

HAND = """
import sys
sys.path.insert(0, {bench!r})
from bench import mlp_by_hand
import tensorflow as tf
g = mlp_by_hand(tf, {layers}, 64)
assert len(g.get_operations()) > {layers}
"""

# The warm stamped build as it was before builds skipped TensorFlow: the graph imported into a
# tf.Graph, the files written from it (no plan.json, resolved.yaml).
THROUGH_TF = """
import sys
from pathlib import Path
import specc
from specc.emit.files import write_graph_files
model = specc.build(sys.argv[1], emit="stamp")
assert model.emitter == "stamp", model.fallback
Path(sys.argv[2]).mkdir(exist_ok=True)
write_graph_files(model, Path(sys.argv[2]))
"""

# TensorFlow's importers on what `--emit python` wrote, timed inside a fresh process (the floor under
# any emitter that imports: (b) import_meta_graph, (c) import_graph_def).
IMPORT = """
import sys, time
import tensorflow as tf
from google.protobuf import text_format
v1 = tf.compat.v1
with tf.Graph().as_default():
    if sys.argv[1] == "meta":
        start = time.perf_counter()
        v1.train.import_meta_graph(sys.argv[2])
    else:
        graph_def = text_format.Parse(open(sys.argv[2]).read(), v1.GraphDef())
        start = time.perf_counter()
        tf.graph_util.import_graph_def(graph_def, name="")
    print(time.perf_counter() - start)
"""


def in_process(cmd: list[str], env: dict) -> float:
    return float(subprocess.run(cmd, check=True, capture_output=True, env=env, text=True).stdout.split()[-1])


def seconds(cmd: list[str], env: dict) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, env=env)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layers", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="specc-bench-emit-"))
    try:
        spec = work / "mlp.yaml"
        spec.write_text(yaml.safe_dump(mlp_spec(args.layers, 64), sort_keys=False))
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "SPECC_CACHE_DIR": str(work / "cache")}

        def build(emitter: str) -> list[str]:
            # --no-cache: a build the output directory already holds would be reused, not built.
            return [sys.executable, "-m", "specc.cli", "build", str(spec), "-o", str(work / emitter), "--force",
                    "--no-cache", "-f", "json", "--emit", emitter]

        def cold() -> float:
            shutil.rmtree(work / "cache", ignore_errors=True)
            return seconds(build("stamp"), env)

        def warm() -> float:
            start = time.perf_counter()
            done = subprocess.run(build("stamp"), check=True, capture_output=True, env=env, text=True)
            took = time.perf_counter() - start
            if json.loads(done.stdout)["tensorflow_imported"]:
                raise SystemExit("the warm stamped build imported TensorFlow")
            return took

        runs = {
            "hand-written": lambda: seconds([sys.executable, "-c", HAND.format(
                bench=str(ROOT / "bench"), layers=args.layers)], env),
            "--emit python": lambda: seconds(build("python"), env),
            "--emit stamp, cold": cold,
            # Right after cold in every order, on the cache it left.
            "--emit stamp, warm (no TF)": warm,
            "stamp via a tf.Graph, warm": lambda: seconds(
                [sys.executable, "-c", THROUGH_TF, str(spec), str(work / "through_tf")], env),
        }
        times: dict[str, list[float]] = {name: [] for name in runs}
        first = ["hand-written", "--emit python", "--emit stamp, cold"]
        after_cold = ["--emit stamp, warm (no TF)", "stamp via a tf.Graph, warm"]
        for i in range(args.repeat):
            for name in first[i % 3:] + first[:i % 3]:  # rotate, so no side always runs on a calmer machine
                times[name].append(runs[name]())
                if name == "--emit stamp, cold":
                    for other in after_cold[i % 2:] + after_cold[:i % 2]:
                        times[other].append(runs[other]())
        imports = {"import_meta_graph(model.meta)": [], "import_graph_def(graph.pbtxt)": []}
        for _ in range(args.repeat):
            imports["import_meta_graph(model.meta)"].append(
                in_process([sys.executable, "-c", IMPORT, "meta", str(work / "python" / "model.meta")], env))
            imports["import_graph_def(graph.pbtxt)"].append(
                in_process([sys.executable, "-c", IMPORT, "graph", str(work / "python" / "graph.pbtxt")], env))
        hand = statistics.median(times["hand-written"])
        print(f"{args.layers}-layer MLP (dense 64, relu), whole processes, median of {args.repeat}:")
        for name, values in times.items():
            median = statistics.median(values)
            print(f"  {name:<28}{median:>8.2f} s{median / hand:>8.2f}x hand-written")
        print("TensorFlow's importers on the --emit python output, the call alone in a fresh process:")
        for name, values in imports.items():
            print(f"  {name:<32}{statistics.median(values):>8.2f} s")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
