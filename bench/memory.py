"""How much memory `specc build` holds beyond TensorFlow's own, against the final GraphDef's size.

    python bench/memory.py [--layers 4000] [--trace]

One process builds the MLP of bench.py (dense 64, relu; --layers layers) with warm stencils (a
first, smaller build fills a temporary cache directory), both ways the stamping emitter builds:
  - without TensorFlow, as `specc build` does: stamped, checked and its files written
    (graph.pbtxt, model.meta, the event file);
  - into a tf.Graph, as `specc.build` and `--emit stamp` with placed devices do: stamped and
    checked, up to the moment TensorFlow's importer gets the stamped graph, when TensorFlow has
    built nothing of it yet.
For each, the peak growth of the process's resident memory from the start of the build: the
high-water mark is reset (/proc/self/clear_refs) when the build starts, after a garbage
collection and malloc_trim, so that protobuf's C memory, which tracemalloc does not see, counts
too. Also printed: the final GraphDef's serialized size and each figure's ratio to it, the plan's
Python memory (tracemalloc), the process's peak, and `import tensorflow`'s.
With --trace, also the Python objects specc holds when the import starts, by source line
(tracemalloc; its bookkeeping inflates the resident figures, so they are measured without it).
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import mlp_spec  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
MIB = 1024 * 1024


def resident() -> int:
    """The process's resident memory now, in bytes."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def high_water() -> int:
    """The process's peak resident memory since the last reset_high_water(), in bytes."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def reset_high_water() -> int:
    """Free what can be freed, make the current resident memory the peak; returns it."""
    import ctypes

    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    return resident()


def peak() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layers", type=int, default=4000)
    parser.add_argument("--trace", action="store_true", help="Also list specc's Python objects by source line.")
    args = parser.parse_args()
    import specc
    from specc.emit import notf, stamp
    from specc.emit.files import write_graph_files

    text = yaml.safe_dump(mlp_spec(args.layers, 64), sort_keys=False)
    specc.plan(specc.loads(text, "mlp.yaml"))  # once before, so that the modules it imports are not counted
    tracemalloc.start()
    plan = specc.plan(specc.loads(text, "mlp.yaml"))
    plan_bytes = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    start = time.perf_counter()
    from specc.emit.tfimport import tensorflow

    tensorflow()
    after_import = resident()
    print(f"import tensorflow: {time.perf_counter() - start:.1f} s, resident {after_import / MIB:.0f} MiB")
    seen = {}
    with tempfile.TemporaryDirectory() as directory:
        cache = Path(directory) / "stencils"
        # The stencils, warm: a dense layer reading the placeholder, and one reading another dense layer.
        assert notf.build(specc.plan(specc.loads(yaml.safe_dump(mlp_spec(2, 64)), "small.yaml")),
                          directory=cache) is not None
        out = Path(directory) / "out"
        out.mkdir()
        before = reset_high_water()
        start = time.perf_counter()
        write_graph_files(notf.stamp(plan, cache), out)
        seen["notf"] = (time.perf_counter() - start, high_water() - before)
        files = {p.name: p.stat().st_size for p in out.iterdir()}
        imported = stamp._Stamper.imported

        def measured(self):
            seen["graph"] = high_water() - before
            seen["held"] = resident() - before
            if args.trace:
                seen["snapshot"] = tracemalloc.take_snapshot()
            return imported(self)

        stamp._Stamper.imported = measured
        if args.trace:
            tracemalloc.start()
        try:
            before = reset_high_water()
            start = time.perf_counter()
            model = stamp.emit(plan, cache_dir=cache)
            seconds = time.perf_counter() - start
        finally:
            stamp._Stamper.imported = imported
    assert model.emitter == "stamp", model.fallback
    graph_def = len(model.graph.as_graph_def().SerializeToString())

    def row(label: str, size: int) -> str:
        return f"  {label:<58}{size / MIB:8.1f} MiB  {size / graph_def:5.2f}x"

    print(f"{args.layers}-layer MLP, {len(model.graph.get_operations()):,} ops")
    print(row("final GraphDef, serialized:", graph_def))
    print(row("the plan (Python objects, before TF):", plan_bytes))
    notf_seconds, notf_peak = seen["notf"]
    print(f"  without TensorFlow (specc build): stamped, checked and written in {notf_seconds:.1f} s "
          f"(graph.pbtxt {files['graph.pbtxt'] / MIB:.1f} MiB, model.meta {files['model.meta'] / MIB:.1f} MiB)")
    print(row("  peak growth of resident memory:", notf_peak))
    print(f"  into a tf.Graph (specc.build): stamped, imported and checked in {seconds:.1f} s")
    print(row("  peak growth until TensorFlow's importer starts:", seen["graph"]))
    print(row("  held when it starts:", seen["held"]))
    print(f"  peak resident memory of the process:      {peak() / MIB:8.0f} MiB "
          f"(after import tensorflow: {after_import / MIB:.0f} MiB)")
    if args.trace:
        stats = seen["snapshot"].filter_traces([tracemalloc.Filter(True, str(ROOT / "specc") + "/*")])
        top = stats.statistics("lineno")
        total = sum(s.size for s in top)
        print(f"  Python objects allocated by specc's code and alive then: {total / MIB:.1f} MiB; the largest:")
        for s in top[:8]:
            frame = s.traceback[0]
            print(f"    {s.size / MIB:7.2f} MiB  {Path(frame.filename).relative_to(ROOT)}:{frame.lineno}")


if __name__ == "__main__":
    main()
