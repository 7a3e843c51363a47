"""Benchmark: the two emitters against a hand-written tf.compat.v1 script, whole processes, one run.

    python bench/emit.py [--model mlp|bert|albert] [--layers 1000] [--repeat 1]
    python bench/emit.py --model bert --layers 24 --repeat 3          # the 24-block encoders
    python bench/emit.py --layers 250,500,1000,2000,4000               # growth, exponent printed

Each round runs, in fresh processes and in rotating order: `specc build --emit python`,
`specc build --emit stamp` with an empty stencil cache (cold: TensorFlow builds the stencils and
learns what the files need) and with the cache the cold run left (warm: no `import tensorflow`,
checked), the same warm build through a tf.Graph as the Python API makes it (`specc.build(...,
emit="stamp")`, the stamped graph imported into TensorFlow, and its files written), and a script
that builds the same graph by hand and writes nothing.
The models:
  mlp     dense layers of 64 units, relu (bench.py's mlp_spec and mlp_by_hand);
  bert    specs/bert_base.yaml, unshared, with hidden 256, 4 heads, intermediate 1024, vocab
          512, seq_length 128 and --layers encoder blocks, against tests/bert_reference.py's
          build_bert (a line-by-line port of Google's modeling.py) with the same config;
  albert  specs/albert_base.yaml the same way (one block applied --layers times, embedding
          size 128), against build_albert.
The script must create the variables the spec plans (names and shapes), or the run stops.
`specc build` also loads, plans and writes graph.pbtxt, model.meta and the event file, which the
script does not. Prints medians, ratios to the hand-written script and each process's peak
resident memory (the largest of the rounds). With one size, also how long TensorFlow's own
importers take on the graph `--emit python` wrote; with several, the growth exponent of each
command: the slope of log(time - start-up) over log(layers), start-up being the same command
on a one-layer model.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
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

# The transformer encoders: BERT-Base's and ALBERT-Base's specs with these vars (and --layers blocks).
ENCODER_VARS = {"vocab_size": 512, "hidden_size": 256, "num_attention_heads": 4, "intermediate_size": 1024,
                "max_position_embeddings": 128, "seq_length": 128}

HAND = {
    "mlp": """
import sys
sys.path.insert(0, {bench!r})
from bench import mlp_by_hand
import tensorflow as tf
g = mlp_by_hand(tf, {layers}, 64)
""",
    "bert": """
import sys
sys.path.insert(0, {root!r})
from tests.bert_reference import Config, build_bert
import tensorflow as tf
g = build_bert(tf, Config.from_vars({vars!r})).graph
""",
    "albert": """
import sys
sys.path.insert(0, {root!r})
from tests.bert_reference import Config, build_albert
import tensorflow as tf
g = build_albert(tf, Config.from_vars({vars!r})).graph
""",
}
# Printed by every hand-written script: a digest of its variables, to compare with the plan's.
DIGEST = """
import hashlib
with g.as_default():
    found = sorted((v.name[:-2], tuple(v.shape.as_list())) for v in tf.compat.v1.global_variables())
print(hashlib.sha256(repr(found).encode()).hexdigest())
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

NAMES = ("hand-written", "--emit python", "--emit stamp, cold", "--emit stamp, warm (no TF)",
         "stamp via a tf.Graph, warm")
AFTER_COLD = NAMES[3:]  # right after cold in every order, on the cache it left


def spec_data(model: str, layers: int) -> dict:
    if model == "mlp":
        return mlp_spec(layers, 64)
    data = yaml.safe_load((ROOT / "specs" / f"{model}_base.yaml").read_text())
    data["name"] = f"{model}_{layers}"
    data["vars"].update(ENCODER_VARS, num_hidden_layers=layers)
    return data


def planned_digest(spec: Path) -> str:
    """The digest DIGEST prints for a graph holding exactly the plan's variables."""
    import specc

    plan = specc.plan(specc.load(spec))
    found = sorted((v.name, tuple(v.shape)) for v in plan.variables)
    return hashlib.sha256(repr(found).encode()).hexdigest()


def run(cmd: list[str], env: dict) -> tuple[float, int, str]:
    """Seconds, peak resident memory (KiB) and standard output of one process."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        process = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, text=True)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        out.seek(0), err.seek(0)
        if os.waitstatus_to_exitcode(status):
            raise SystemExit(f"{' '.join(cmd[:5])} ...: exit code {os.waitstatus_to_exitcode(status)}\n"
                             f"{err.read()[-3000:]}")
        return seconds, usage.ru_maxrss, out.read()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=sorted(HAND), default="mlp")
    parser.add_argument("--layers", default="1000", help="One size, or several separated by commas (growth).")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    sizes = [int(s) for s in args.layers.split(",")]
    growth = len(sizes) > 1
    work = Path(tempfile.mkdtemp(prefix="specc-bench-emit-"))
    # As pip compiles TensorFlow's modules: with PYTHONDONTWRITEBYTECODE set, an editable install
    # would compile specc's in every process.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "specc")], check=True,
                   stdout=subprocess.DEVNULL)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "SPECC_CACHE_DIR": str(work / "cache")}
    try:
        results = {}
        for n in ([1] if growth else []) + sizes:
            results[n] = measure(args.model, n, args.repeat, work, env)
        print(f"{args.model}, whole processes, median of {args.repeat} (peak RSS: the largest):")
        for n in sizes:
            times, memory = results[n]
            hand = statistics.median(times["hand-written"])
            print(f"  {n} layers")
            for name in NAMES:
                median = statistics.median(times[name])
                print(f"    {name:<28}{median:>8.2f} s{median / hand:>8.2f}x hand-written{memory[name] / 1024:>8.0f} MiB")
        if growth:
            print(f"growth exponents from {sizes[0]} to {sizes[-1]} layers (time minus the one-layer model's):")
            for name in NAMES:
                start = statistics.median(results[1][0][name])
                fit = [(math.log(n), math.log(max(statistics.median(results[n][0][name]) - start, 1e-3)))
                       for n in sizes]
                mx, my = statistics.fmean(x for x, _ in fit), statistics.fmean(y for _, y in fit)
                slope = sum((x - mx) * (y - my) for x, y in fit) / sum((x - mx) ** 2 for x, _ in fit)
                print(f"    {name:<28}{slope:>6.2f}   (one layer: {start:.2f} s)")
        else:
            importers(work / "python", args.repeat, env)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def measure(model: str, layers: int, repeat: int, work: Path, env: dict):
    """Every command `repeat` times at one size: seconds and peak RSS (KiB) per command."""
    spec = work / f"{model}_{layers}.yaml"
    spec.write_text(yaml.safe_dump(spec_data(model, layers), sort_keys=False))
    expected = planned_digest(spec)
    hand_script = HAND[model].format(bench=str(ROOT / "bench"), root=str(ROOT), layers=layers,
                                     vars=spec_data(model, layers).get("vars")) + DIGEST

    def build(emitter: str) -> list[str]:
        return [sys.executable, "-m", "specc.cli", "build", str(spec), "-o", str(work / emitter), "--force",
                "--no-cache", "-f", "json", "--emit", emitter]

    def hand() -> tuple[float, int]:
        seconds, memory, out = run([sys.executable, "-c", hand_script], env)
        if out.split()[-1] != expected:
            raise SystemExit(f"{model}, {layers} layers: the hand-written script's variables are not the plan's")
        return seconds, memory

    def cold() -> tuple[float, int]:
        shutil.rmtree(work / "cache", ignore_errors=True)
        return run(build("stamp"), env)[:2]

    def warm() -> tuple[float, int]:
        seconds, memory, out = run(build("stamp"), env)
        if json.loads(out)["tensorflow_imported"]:
            raise SystemExit("the warm stamped build imported TensorFlow")
        return seconds, memory

    runs = {"hand-written": hand, "--emit python": lambda: run(build("python"), env)[:2], "--emit stamp, cold": cold,
            "--emit stamp, warm (no TF)": warm,
            "stamp via a tf.Graph, warm": lambda: run(
                [sys.executable, "-c", THROUGH_TF, str(spec), str(work / "through_tf")], env)[:2]}
    times: dict[str, list[float]] = {name: [] for name in NAMES}
    memory = dict.fromkeys(NAMES, 0)
    first = list(NAMES[:3])
    for i in range(repeat):
        for name in first[i % 3:] + first[:i % 3]:  # rotate, so no side always runs on a calmer machine
            after = list(AFTER_COLD[i % 2:] + AFTER_COLD[:i % 2]) if name == "--emit stamp, cold" else []
            for each in [name] + after:
                seconds, peak = runs[each]()
                times[each].append(seconds)
                memory[each] = max(memory[each], peak)
    return times, memory


def importers(built: Path, repeat: int, env: dict) -> None:
    found = {"import_meta_graph(model.meta)": [], "import_graph_def(graph.pbtxt)": []}
    for _ in range(repeat):
        found["import_meta_graph(model.meta)"].append(
            float(run([sys.executable, "-c", IMPORT, "meta", str(built / "model.meta")], env)[2].split()[-1]))
        found["import_graph_def(graph.pbtxt)"].append(
            float(run([sys.executable, "-c", IMPORT, "graph", str(built / "graph.pbtxt")], env)[2].split()[-1]))
    print("TensorFlow's importers on the --emit python output, the call alone in a fresh process:")
    for name, values in found.items():
        print(f"  {name:<32}{statistics.median(values):>8.2f} s")


if __name__ == "__main__":
    main()
