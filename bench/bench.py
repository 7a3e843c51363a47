"""Benchmarks: specc against hand-written tf.compat.v1 code for the same models, side by side.

    python bench/bench.py [--repeat 5] [--layers 200] [--only-bert]

Each round builds every model both ways in a fresh tf.Graph, alternating the
order, and prints medians and the ratio specc / hand-written, of wall-clock
and of CPU time (steadier when other work shares the cores). Planning (pure
Python, no TensorFlow) is timed on its own, and so are the `explain` and
`validate` commands in fresh processes (their cost is Python start-up plus
planning: they never import TensorFlow).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml

import specc
from specc.emit.tfimport import tensorflow

ROOT = Path(__file__).resolve().parent.parent


# -- the models, as specs and as hand-written programs -------------------------------------

def mlp_spec(layers: int, width: int) -> dict:
    return {"specc": 1, "name": "mlp", "inputs": {"x": {"shape": [None, width]}},
            "layers": [{"id": f"layer_{i}", "type": "dense", "units": width, "activation": "relu"}
                       for i in range(layers)]}


def mlp_by_hand(tf, layers: int, width: int):
    v1 = tf.compat.v1
    g = tf.Graph()
    with g.as_default():
        v1.set_random_seed(0)
        h = v1.placeholder(tf.float32, [None, width], name="x")
        for i in range(layers):
            with v1.variable_scope(f"layer_{i}"):
                k = v1.get_variable("kernel", [width, width], initializer=v1.glorot_uniform_initializer())
                b = v1.get_variable("bias", [width], initializer=v1.zeros_initializer())
                h = tf.nn.relu(tf.nn.bias_add(tf.matmul(h, k), b))
    return g


def shared_encoder_spec(applications: int, width: int) -> dict:
    """ALBERT-style: one block of dense layers applied `applications` times."""
    block = [{"id": "attention", "type": "dense", "units": width},
             {"id": "intermediate", "type": "dense", "units": width * 4, "activation": "gelu"},
             {"id": "output", "type": "dense", "units": width},
             {"id": "residual", "type": "add", "inputs": ["output", "input"]}]
    layers = [{"id": "layer_0", "type": "block", "scope": "shared", "layers": block}]
    layers += [{"id": f"layer_{i}", "type": "block", "scope": "shared", "share": True}
               for i in range(1, applications)]
    return {"specc": 1, "name": "albert_like", "inputs": {"x": {"shape": [None, width]}}, "layers": layers}


def shared_encoder_by_hand(tf, applications: int, width: int):
    v1 = tf.compat.v1
    g = tf.Graph()
    with g.as_default():
        v1.set_random_seed(0)
        h = v1.placeholder(tf.float32, [None, width], name="x")

        def dense(x, name, units, act=None):
            with v1.variable_scope(name):
                k = v1.get_variable("kernel", [x.shape[-1], units], initializer=v1.glorot_uniform_initializer())
                b = v1.get_variable("bias", [units], initializer=v1.zeros_initializer())
                y = tf.nn.bias_add(tf.matmul(x, k), b)
                return act(y) if act else y

        for i in range(applications):
            with v1.variable_scope("shared", reuse=True if i else None):
                a = dense(h, "attention", width)
                m = dense(a, "intermediate", width * 4, lambda t: tf.nn.gelu(t, approximate=False))
                o = dense(m, "output", width)
                with v1.name_scope("residual"):
                    h = tf.add(o, h)
    return g


# -- timing ------------------------------------------------------------------------------

def timed(fn) -> float:
    return timed_both(fn)[0]


def timed_both(fn) -> tuple[float, float]:
    """Wall-clock and CPU seconds of fn(): on a busy machine the CPU time is the steadier of the two."""
    gc.collect()  # the previous round's graphs are garbage; don't bill their collection to this one
    start, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - start, time.process_time() - cpu


def compare(name: str, spec_data: dict, by_hand, tf, repeat: int) -> dict:
    spec = specc.loads(yaml.safe_dump(spec_data, sort_keys=False), f"{name}.yaml")
    plan = specc.plan(spec)
    ours, theirs, planning = [], [], []
    for i in range(repeat):
        # Alternate the order so neither side always runs on a warmer process.
        pair = [("specc", lambda: specc.build(plan)), ("hand", by_hand)]
        for label, fn in (pair if i % 2 == 0 else pair[::-1]):
            (ours if label == "specc" else theirs).append(timed_both(fn))
        planning.append(timed(lambda: specc.plan(spec)))
    # Same model both ways: the variable sets must agree, or the comparison is meaningless.
    a, b = specc.build(plan).graph, by_hand()
    with a.as_default():
        va = sorted((v.name, tuple(v.shape.as_list())) for v in tf.compat.v1.global_variables())
    with b.as_default():
        vb = sorted((v.name, tuple(v.shape.as_list())) for v in tf.compat.v1.global_variables())
    assert va == vb, f"{name}: specc and the hand-written program disagree"
    return {"model": name, "variables": len(plan.variables), "ops": len(a.get_operations()),
            "hand_ops": len(b.get_operations()),
            "specc": statistics.median(t for t, _ in ours), "hand": statistics.median(t for t, _ in theirs),
            "cpu_ratio": statistics.median(c for _, c in ours) / statistics.median(c for _, c in theirs),
            "plan": statistics.median(planning)}


def command_seconds(args: list[str], repeat: int) -> float:
    cmd = [sys.executable, "-m", "specc.cli", *args]
    return statistics.median(timed(lambda: subprocess.run(cmd, check=True, capture_output=True))
                             for _ in range(repeat))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--layers", type=int, default=200)
    parser.add_argument("--skip-bert", action="store_true", help="Leave out BERT-Base and ALBERT-Base.")
    parser.add_argument("--only-bert", action="store_true",
                        help="Only BERT-Base and ALBERT-Base, and no fresh-process timings.")
    args = parser.parse_args()
    tf = tensorflow()
    rows = [] if args.only_bert else [
        compare("siamese", yaml.safe_load((ROOT / "specs/siamese.yaml").read_text()),
                lambda: _siamese_by_hand(tf), tf, args.repeat),
        compare(f"mlp_{args.layers}", mlp_spec(args.layers, 64), lambda: mlp_by_hand(tf, args.layers, 64), tf, args.repeat),
        compare("albert_like_24", shared_encoder_spec(24, 128), lambda: shared_encoder_by_hand(tf, 24, 128), tf,
                args.repeat),
    ]
    if not args.skip_bert:
        # The published models against a line-by-line tf.compat.v1 port of Google's modeling.py.
        sys.path.insert(0, str(ROOT))
        from tests.bert_reference import Config, build_albert, build_bert

        for name, port in (("bert_base", build_bert), ("albert_base", build_albert)):
            data = yaml.safe_load((ROOT / "specs" / f"{name}.yaml").read_text())
            config = Config.from_vars(data["vars"])
            rows.append(compare(name, data, lambda port=port, config=config: port(tf, config).graph, tf, args.repeat))
    # The ratio of CPU times too: on a busy machine, waiting for a core inflates wall-clock time.
    print(f"{'model':<16}{'vars':>6}{'ops':>7}{'hand ops':>9}{'plan s':>9}{'specc s':>9}{'hand s':>9}{'ratio':>8}"
          f"{'cpu ratio':>10}")
    for r in rows:
        print(f"{r['model']:<16}{r['variables']:>6}{r['ops']:>7}{r['hand_ops']:>9}{r['plan']:>9.4f}{r['specc']:>9.3f}"
              f"{r['hand']:>9.3f}{r['specc'] / r['hand']:>8.2f}{r['cpu_ratio']:>10.2f}")
    if args.only_bert:
        return
    spec = str(ROOT / "specs/siamese.yaml")
    explain = command_seconds(["explain", spec], args.repeat)
    validate = command_seconds(["validate", spec], args.repeat)
    tf_import = statistics.median(
        timed(lambda: subprocess.run([sys.executable, "-c", "import tensorflow"], check=True, capture_output=True))
        for _ in range(args.repeat))
    print(f"\nfresh processes (median of {args.repeat}): specc explain {explain:.2f} s, specc validate "
          f"{validate:.2f} s, python -c 'import tensorflow' {tf_import:.2f} s "
          f"(explain / import ratio {explain / tf_import:.2f})")


def _siamese_by_hand(tf):
    v1 = tf.compat.v1
    g = tf.Graph()
    with g.as_default():
        v1.set_random_seed(0)
        left = v1.placeholder(tf.float32, [None, 10], name="left")
        right = v1.placeholder(tf.float32, [None, 10], name="right")

        def tower(x, reuse):
            with v1.variable_scope("tower", reuse=reuse):
                with v1.variable_scope("fc1"):
                    k = v1.get_variable("kernel", [10, 64])
                    b = v1.get_variable("bias", [64], initializer=v1.zeros_initializer())
                    h = tf.nn.relu(tf.nn.bias_add(tf.matmul(x, k), b))
                with v1.variable_scope("fc2"):
                    k = v1.get_variable("kernel", [64, 16])
                    b = v1.get_variable("bias", [16], initializer=v1.zeros_initializer())
                    return tf.nn.bias_add(tf.matmul(h, k), b)

        a, c = tower(left, None), tower(right, True)
        with v1.name_scope("gap"):
            gap = tf.subtract(a, c)
        with v1.name_scope("distance"):
            tf.multiply(gap, gap)
    return g


if __name__ == "__main__":
    main()
