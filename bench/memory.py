"""How much memory `specc build` holds beyond TensorFlow's own, against the final GraphDef's size.

    python bench/memory.py [--layers 4000] [--trace]

One process builds the MLP of bench.py (dense 64, relu; --layers layers) with the stamping
emitter, stencils warm (a first, smaller build fills an in-memory cache directory), and
reports:
  - the plan: Python memory that planning leaves allocated (tracemalloc), before TensorFlow;
  - stamping: how much the process grew (resident memory) from the start of the build to the
    moment the stamped MetaGraphDef goes to TensorFlow's importer: everything specc holds then
    (NodeDefs in protobuf's C memory, which tracemalloc does not see, and Python objects),
    when TensorFlow has built nothing of this graph yet;
  - the final GraphDef's serialized size, and the ratio of the two;
  - the process's peak resident memory, and `import tensorflow`'s alone.
With --trace, also the Python objects held at that moment, by specc's source line (tracemalloc;
slower, and its own bookkeeping inflates the resident figures, so they are measured without it).
"""

from __future__ import annotations

import argparse
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


def heap() -> int:
    """Bytes of glibc's heap in use: protobuf's C memory included (tracemalloc sees only Python's)."""
    import ctypes

    class Info(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in
                    "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()]

    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = Info
    info = libc.mallinfo2()
    return info.uordblks + info.hblkhd


def peak() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layers", type=int, default=4000)
    parser.add_argument("--trace", action="store_true", help="Also list specc's Python objects by source line.")
    args = parser.parse_args()
    import specc
    from specc.emit import stamp

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
    with tempfile.TemporaryDirectory() as directory:
        cache = Path(directory)
        # The stencils, warm: a dense layer reading the placeholder, and one reading another dense layer.
        stamp.emit(specc.plan(specc.loads(yaml.safe_dump(mlp_spec(2, 64)), "small.yaml")), cache_dir=cache)
        seen = {}
        imported = stamp._Stamper.imported

        def measured(self):
            seen["resident"] = resident()
            data = self.meta.SerializeToString()
            seen["meta"] = len(data)
            before_copy = heap()
            copy = type(self.meta).FromString(data)  # as much C memory as the stamped one takes
            seen["meta_memory"] = heap() - before_copy
            del copy, data
            if args.trace:
                seen["snapshot"] = tracemalloc.take_snapshot()
            return imported(self)

        stamp._Stamper.imported = measured
        if args.trace:
            tracemalloc.start()
        try:
            before = resident()
            start = time.perf_counter()
            model = stamp.emit(plan, cache_dir=cache)
            seconds = time.perf_counter() - start
        finally:
            stamp._Stamper.imported = imported
    assert model.emitter == "stamp", model.fallback
    graph_def = len(model.graph.as_graph_def().SerializeToString())
    held = seen["resident"] - before
    print(f"{args.layers}-layer MLP, {len(model.graph.get_operations()):,} ops, stamped in {seconds:.1f} s")
    print(f"  final GraphDef, serialized:               {graph_def / MIB:8.1f} MiB")
    print(f"  the plan (Python objects, before TF):     {plan_bytes / MIB:8.1f} MiB  {plan_bytes / graph_def:5.2f}x")
    print(f"  stamping, held when the import starts:    {held / MIB:8.1f} MiB  {held / graph_def:5.2f}x")
    print(f"    of which the stamped MetaGraphDef:      {seen['meta_memory'] / MIB:8.1f} MiB  "
          f"{seen['meta_memory'] / graph_def:5.2f}x (protobuf messages; serialized, {seen['meta'] / MIB:.1f} MiB)")
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
