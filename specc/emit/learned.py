"""What the files of a stamped build need of TensorFlow besides the stencils, learned once per version.

To write graph.pbtxt, model.meta and the event file as TensorFlow writes them, a build needs, besides
each layer's stencil (specc.emit.stencils): the GraphDef's `versions`; TensorFlow's version and git
version and the OpDef of every op the graph uses (the MetaGraphDef's `meta_info_def`); the DataType
of each dtype name; the nodes each kind of input makes (a placeholder, or a constant and a
placeholder_with_default); and the nodes `variables_initializer(..., name="init")` and a
`tf.compat.v1.train.Saver` add for a list of resource variables. `learn` records them from
TensorFlow, the Saver and init op built over two variables, `a` and `b` (specc.emit.notf stamps
them for any number), into `tensorflow.json` beside the stencils, so that a later build with
warm stencils writes its files without importing TensorFlow at all.
"""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

from ..plans import PlannedInput
from ..record import record
from .stencils import write_json

FILE = "tensorflow.json"
INPUT = "specc_input"  # an input's nodes are learned under this name, then stamped under the input's
SAVED = ("a", "b")  # the template Saver's variables, in the order it sorts them
FORMAT = 1


@record
class Learned:
    """What `learn` recorded (see the module's docstring).

    Attributes:
        versions: the GraphDef's VersionDef, serialized; library_versions: a GraphDef's that holds
            functions (TensorFlow raises its `min_consumer` when a graph gets a function library).
        op_defs: op type -> its OpDef as meta_graph.stripped_op_list_for_graph takes it, serialized.
        dtypes: dtype name (`float32`) -> DataType enum value.
        inputs: an input's key (`input_key`) -> a GraphDef of its nodes under the name INPUT, as
            `as_graph_def(add_shapes=True)` gives them.
        saver: a GraphDef of the `init` and `save/...` nodes over the variables SAVED, with shapes.
        saver_def: the Saver's SaverDef, serialized.
        marks: what making them adds to the variables' own nodes: node name -> attribute -> AttrValue,
            serialized (`a/Assign` -> `_has_manual_control_dependencies`: `init` waits for it).
    """

    tensorflow_version: str
    git_version: str
    versions: bytes
    library_versions: bytes
    op_defs: dict
    dtypes: dict
    inputs: dict
    saver: bytes
    saver_def: bytes
    marks: dict


def tensorflow_version() -> str | None:
    """The installed TensorFlow's version, read from its distribution's metadata (no import); None if none.
    A version string that differs from `tf.__version__` (a nightly's) only finds nothing learned."""
    from ..buildcache import installed_tensorflow

    installed = installed_tensorflow()
    return installed[1] if installed else None


def input_key(inp: PlannedInput) -> str:
    """What an input's nodes depend on besides its name."""
    return json.dumps([inp.dtype, list(inp.shape), inp.has_default, inp.default if inp.has_default else None])


def path(directory: Path, version: str) -> Path:
    return directory / f"tf-{version}" / FILE


def read(directory: Path, version: str) -> Learned | None:
    """What was learned for this TensorFlow version, or None (nothing yet, or a damaged file)."""
    try:
        data = json.loads(path(directory, version).read_text("utf-8"))
        if data["format"] != FORMAT:
            return None
        return Learned(
            tensorflow_version=data["tensorflow_version"], git_version=data["git_version"],
            versions=_bytes(data["versions"]), library_versions=_bytes(data["library_versions"]),
            op_defs={k: _bytes(v) for k, v in data["op_defs"].items()},
            dtypes=data["dtypes"], inputs={k: _bytes(v) for k, v in data["inputs"].items()},
            saver=_bytes(data["saver"]), saver_def=_bytes(data["saver_def"]),
            marks={n: {k: _bytes(v) for k, v in attrs.items()} for n, attrs in data["marks"].items()})
    except (OSError, ValueError, KeyError, TypeError):
        return None


def learn(tf, directory: Path, inputs: tuple[PlannedInput, ...], graph_defs: list[bytes]) -> None:
    """Record (add to) what the files of a build need of this TensorFlow: the plan's inputs' nodes, the
    OpDefs of the ops in `graph_defs` (the stencils' serialized GraphDefs) and everything else once."""
    from tensorflow.core.framework import types_pb2
    from tensorflow.python.framework import op_def_registry

    v1 = tf.compat.v1
    known = read(directory, tf.__version__)
    saver, saver_def, marks = (known.saver, known.saver_def, known.marks) if known else _saver(tf)
    found = dict(known.inputs) if known else {}
    for inp in inputs:
        key = input_key(inp)
        if key not in found:
            found[key] = _input(tf, inp)
    op_defs = dict(known.op_defs) if known else {}
    for data in [saver, *found.values(), *graph_defs]:
        graph_def = v1.GraphDef.FromString(data)
        for op in {n.op for n in graph_def.node} | {n.op for f in graph_def.library.function for n in f.node_def}:
            if op not in op_defs and (op_def := op_def_registry.get(op)) is not None:
                op_defs[op] = op_def.SerializeToString()
    dtypes = {}
    for value in types_pb2.DataType.values():
        try:
            dtype = tf.as_dtype(value)
        except TypeError:  # DT_INVALID and the like
            continue
        if not dtype._is_ref_dtype:
            dtypes[dtype.name] = value
    write_json(path(directory, tf.__version__), {
        "format": FORMAT, "tensorflow_version": tf.__version__, "git_version": tf.version.GIT_VERSION,
        "versions": _text(tf.Graph().as_graph_def().versions.SerializeToString()),
        "library_versions": _text(_library_versions(tf)),
        "op_defs": {k: _text(v) for k, v in sorted(op_defs.items())}, "dtypes": dtypes,
        "inputs": {k: _text(v) for k, v in found.items()}, "saver": _text(saver), "saver_def": _text(saver_def),
        "marks": {n: {k: _text(v) for k, v in attrs.items()} for n, attrs in marks.items()}})


def _library_versions(tf) -> bytes:
    """The versions of a graph with a function library: a tf.cond's branches, as batch_norm's and dropout's."""
    v1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        flag = v1.placeholder(tf.bool, [])
        tf.cond(flag, lambda: tf.constant(1.0), lambda: tf.constant(0.0))
    graph_def = graph.as_graph_def()
    assert graph_def.library.function, "tf.cond made no functions"
    return graph_def.versions.SerializeToString()


def _input(tf, inp: PlannedInput) -> bytes:
    from .tf1 import _Builder

    graph = tf.Graph()
    with graph.as_default():
        alone = SimpleNamespace(inputs=(replace(inp, name=INPUT),), variables=(), placement=None)
        _Builder(tf, graph, alone).inputs({})
    return graph.as_graph_def(add_shapes=True).SerializeToString()


def _saver(tf) -> tuple[bytes, bytes, dict]:
    """What specc.emit.files adds to model.meta for the variables SAVED: `init`, the Saver's nodes, its
    SaverDef, and the attributes that adds to the variables' nodes."""
    v1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        variables = [v1.get_variable(name, shape=[i + 1]) for i, name in enumerate(SAVED)]
        before = {n.name: n for n in graph.as_graph_def().node}
        v1.variables_initializer(variables, name="init")
        saver_def = v1.train.Saver(var_list=variables, sharded=False).as_saver_def()
        meta = v1.train.export_meta_graph(graph=graph, saver_def=saver_def)
    kept = v1.GraphDef()
    kept.node.extend(n for n in meta.graph_def.node if n.name == "init" or n.name.startswith("save/"))
    marks = {}
    for node in meta.graph_def.node:
        if node.name in before:
            old = before[node.name].attr
            added = {k: v.SerializeToString() for k, v in node.attr.items()
                     if k != "_output_shapes" and (k not in old or old[k] != v)}
            if added:
                marks[node.name] = added
    return kept.SerializeToString(), saver_def.SerializeToString(), marks


def _text(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _bytes(text: str) -> bytes:
    return base64.b64decode(text)

