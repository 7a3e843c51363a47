"""The `train:` section -> a frozen TrainConfig, checked against the plan; its data as NumPy arrays.

No TensorFlow here (specc/emit/train.py adds the loss and runs the steps), so
`specc validate` checks a training section without importing it: the output the
loss reads, the labels input, the shapes the loss needs, the data file.

    train:
      loss: softmax_cross_entropy   # sigmoid_cross_entropy, mse, contrastive
      output: logits                # which model output the loss reads (default: the only one)
      labels: y                     # the input that holds the labels
      optimizer: adam               # sgd, momentum; learning_rate, momentum
      steps: 100
      batch_size: 32
      seed: 0                       # data and batch order (default: the spec's seed)
      data: synthetic               # or an .npz file of arrays named like the inputs
"""

from __future__ import annotations

import difflib
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from ..spec import TRAINING_FLAG

if TYPE_CHECKING:
    import numpy as np

    from ..plans import Plan, PlannedInput
    from ..spec import Spec

LOSSES = ("softmax_cross_entropy", "sigmoid_cross_entropy", "mse", "contrastive")
OPTIMIZERS = ("sgd", "momentum", "adam")
SYNTHETIC = "synthetic"
SYNTHETIC_EXAMPLES = 1024  # rows of a synthetic data set (at least 4 batches)
_FLOATS = ("float16", "bfloat16", "float32", "float64")


@dataclass(frozen=True)
class TrainConfig:
    """A `train:` section checked against the plan (spec.TrainSpec holds it as written, and its defaults).

    Attributes:
        output: the model output the loss reads.
        seed: the data's seed.
        data: "synthetic", or the absolute path of an .npz file (a relative path in the
            spec is relative to the file that writes it).
        feed: inputs fed a constant every step (`{is_training: true}`); the model's training flag
            (an input `training`, scalar bool) is fed true unless the section says otherwise.
    """

    loss: str
    output: str
    labels: str
    optimizer: str
    learning_rate: float
    momentum: float
    steps: int
    batch_size: int
    seed: int
    data: str
    margin: float
    feed: tuple[tuple[str, Any], ...]

    def to_json(self) -> dict:
        return {"loss": self.loss, "output": self.output, "labels": self.labels, "optimizer": self.optimizer,
                "learning_rate": self.learning_rate, "momentum": self.momentum, "steps": self.steps,
                "batch_size": self.batch_size, "seed": self.seed, "data": self.data, "margin": self.margin,
                "feed": dict(self.feed)}


def has_train(spec: "Spec") -> bool:
    return spec.train is not None


def check_train(spec: "Spec", plan: "Plan") -> None:
    """Check the spec's `train:` section, if it has one, against the plan (raises located SpecErrors)."""
    if has_train(spec):
        config(spec, plan)


def config(spec: "Spec", plan: "Plan") -> TrainConfig:
    """The spec's `train:` section, checked against the plan.

    Raises:
        SpecError: no `train:` section; an unknown output or labels input (with a did-you-mean);
            labels whose shape or dtype the loss cannot use; a data file that does not exist;
            inputs that synthetic data cannot fill.
    """
    doc, train = spec.document, spec.train
    if train is None:
        raise doc.error("the spec has no `train:` section; add one with at least `loss` and `labels` "
                        "(see docs/experiments.md#training)", ())
    at = ("train",)
    outputs = {o.name: o for o in plan.outputs}
    inputs = {i.name: i for i in plan.inputs}
    if train.output is not None:
        output = train.output
        if output not in outputs:
            raise doc.error(f"the model has no output '{output}'; {_hint(output, list(outputs))}", at + ("output",))
    elif len(outputs) == 1:
        output = next(iter(outputs))
    else:
        raise doc.error(f"the model has {len(outputs)} outputs ({', '.join(outputs)}); say which one the loss reads "
                        "with `output:`", at)
    labels = train.labels
    if labels not in inputs:
        raise doc.error(f"no input '{labels}' to read labels from; {_hint(labels, list(inputs))}", at + ("labels",))
    for name, _ in train.feed:
        if name not in inputs:
            raise doc.error(f"no input '{name}' to feed; {_hint(name, list(inputs))}", at + ("feed", name), at_key=True)
    loss = train.loss
    _check_shapes(doc, loss, output, outputs[output].info, inputs[labels], at)
    data = train.data
    if data != SYNTHETIC:
        data = data_path(doc, data)
        if not Path(data).is_file():
            raise doc.error(f"no such data file: {data} (a relative `data:` path is relative to the spec file "
                            "that writes it)", at + ("data",))
    feed = train.feed
    flag = inputs.get(TRAINING_FLAG)
    if flag is not None and flag.dtype == "bool" and flag.shape == () and TRAINING_FLAG not in dict(feed):
        feed += ((TRAINING_FLAG, True),)  # the model's training flag: dropout drops, batch norm uses the batch
    result = TrainConfig(
        loss=loss, output=output, labels=labels, optimizer=train.optimizer, learning_rate=train.learning_rate,
        momentum=train.momentum, steps=train.steps, batch_size=train.batch_size,
        seed=plan.seed if train.seed is None else train.seed, data=data, margin=train.margin, feed=feed)
    for inp in _fed(plan, result):
        if inp.shape and inp.shape[0] is not None and inp.shape[0] != result.batch_size:
            raise doc.error(f"input '{inp.name}' has a fixed batch of {inp.shape[0]}, so `batch_size` must be "
                            f"{inp.shape[0]}", at + ("batch_size",) if "batch_size" in train.keys else at)
        if data == SYNTHETIC and any(d is None for d in inp.shape[1:]):
            raise doc.error(f"synthetic data needs every dimension of input '{inp.name}' but the first "
                            f"(got {list(inp.shape)}); give the sizes, or train on an .npz file",
                            ("inputs", inp.name), at_key=True)
    return result


def data_path(doc, text: str) -> str:
    """`train.data` as an absolute path: a relative one is relative to the file that writes it (a base, or
    the spec; for a `--set`, the file of the value it replaced), never to the working directory."""
    if text == SYNTHETIC or Path(text).is_absolute():
        return text
    return os.path.abspath(Path(doc.where(("train", "data")).file).parent / text)


def _check_shapes(doc, loss: str, name: str, out, labels: "PlannedInput", at: tuple) -> None:
    where = at + ("labels",)
    if out.dtype not in _FLOATS:
        raise doc.error(f"a loss reads a float output, and output '{name}' is {out}", at + ("loss",))
    got = f"{labels.dtype}{list(labels.shape)}"
    if loss == "contrastive":
        if labels.shape[1:] not in ((), (1,)):
            raise doc.error(f"contrastive labels are one 0/1 flag per pair, [batch] or [batch, 1]; input "
                            f"'{labels.name}' is {got}", where)
        return
    if loss == "softmax_cross_entropy" and labels.dtype not in _FLOATS:
        if labels.dtype not in ("int32", "int64"):
            raise doc.error(f"class labels are int32 or int64 class ids (or float one-hot rows); input "
                            f"'{labels.name}' is {got}", where)
        if not _compatible(labels.shape, out.shape[:-1]):
            raise doc.error(f"class ids for logits of shape {list(out.shape)} have shape {list(out.shape[:-1])}; "
                            f"input '{labels.name}' is {got}", where)
        return
    if labels.dtype not in _FLOATS:
        raise doc.error(f"{loss} labels are floats; input '{labels.name}' is {got}", where)
    if not _compatible(labels.shape, out.shape):
        raise doc.error(f"{loss} labels have the output's shape {list(out.shape)}; input '{labels.name}' is {got}",
                        where)


def _compatible(a: tuple, b: tuple) -> bool:
    return len(a) == len(b) and all(x is None or y is None or x == y for x, y in zip(a, b))


def _hint(name: str, known: list[str], what: str = "the model's") -> str:
    close = difflib.get_close_matches(name, known, n=1)
    return f"did you mean '{close[0]}'?" if close else f"{what}: {', '.join(known) or 'none'}"


def _fed(plan: "Plan", cfg: TrainConfig, defaults: bool = False) -> list["PlannedInput"]:
    """The inputs each step feeds from the data: those without a default (`defaults`: and those with one)."""
    fixed = dict(cfg.feed)
    return [i for i in plan.inputs if i.name not in fixed and (defaults or not i.has_default or i.name == cfg.labels)]


# -- data ----------------------------------------------------------------------------------

def load_data(cfg: TrainConfig, plan: "Plan", spec: "Spec") -> dict[str, "np.ndarray"]:
    """The training set: input name -> array with the examples along the first axis.

    `synthetic`: random inputs (normal floats; ints below the smallest vocabulary of
    an embedding that reads them, else 0/1), and labels that are a fixed random
    linear function of the inputs, so the task is learnable.

    Raises:
        SpecError: an .npz file without an array for an input, or with the wrong shape (at `train.data`).
    """
    import numpy as np

    if cfg.data == SYNTHETIC:
        return _synthetic(cfg, plan, _fed(plan, cfg))
    fed = _fed(plan, cfg, defaults=True)  # an input with a default is fed when the file has it
    doc, at = spec.document, ("train", "data")
    with np.load(cfg.data, allow_pickle=False) as archive:
        names = list(archive.files)
        out = {}
        for inp in fed:
            if inp.name not in archive.files:
                if inp.has_default and inp.name != cfg.labels:
                    continue
                raise doc.error(f"{cfg.data} has no array '{inp.name}' for input '{inp.name}'; "
                                f"{_hint(inp.name, names, 'it holds') if names else 'it holds no arrays'}", at)
            array = np.asarray(archive[inp.name])
            if not _compatible(tuple(array.shape), (None,) + tuple(inp.shape[1:])):
                raise doc.error(f"array '{inp.name}' in {cfg.data} has shape {list(array.shape)}; input "
                                f"'{inp.name}' takes {list(inp.shape)} (examples along the first axis)", at)
            out[inp.name] = array.astype(_numpy_dtype(inp.dtype))
    sizes = {name: len(a) for name, a in out.items()}
    if len(set(sizes.values())) > 1:
        raise doc.error(f"the arrays in {cfg.data} hold different numbers of examples: "
                        f"{', '.join(f'{k} {v}' for k, v in sizes.items())}", at)
    if not sizes or not next(iter(sizes.values())):
        raise doc.error(f"{cfg.data} holds no examples", at)
    return out


def _numpy_dtype(name: str):
    import numpy as np

    return np.float32 if name == "bfloat16" else np.dtype(name)


def _synthetic(cfg: TrainConfig, plan: "Plan", fed: list["PlannedInput"]) -> dict[str, "np.ndarray"]:
    import numpy as np

    rng = np.random.default_rng(cfg.seed)
    n = max(SYNTHETIC_EXAMPLES, 4 * cfg.batch_size)
    vocab = _vocabularies(plan)
    out: dict[str, np.ndarray] = {}
    for inp in fed:
        if inp.name == cfg.labels:
            continue
        shape = (n,) + tuple(inp.shape[1:])
        if inp.dtype in _FLOATS:
            value = rng.standard_normal(shape)
        elif inp.dtype == "bool":
            value = rng.random(shape) < 0.5
        else:
            value = rng.integers(0, vocab.get(inp.name, 2), shape)
        out[inp.name] = value.astype(_numpy_dtype(inp.dtype))
    features = np.concatenate([a.reshape(n, -1).astype(np.float64) for a in out.values()] or [np.ones((n, 1))], 1)
    features = (features - features.mean(0)) / (features.std(0) + 1e-6)
    labels = next(i for i in plan.inputs if i.name == cfg.labels)
    output = next(o for o in plan.outputs if o.name == cfg.output).info
    dims = tuple(labels.shape[1:])
    if cfg.loss == "softmax_cross_entropy":
        classes = output.shape[-1]
        width = math.prod(output.shape[1:-1] or (1,)) * classes
        scores = (features @ rng.standard_normal((features.shape[1], width))).reshape((n,) + tuple(output.shape[1:]))
        ids = scores.argmax(-1)
        value = np.eye(classes)[ids] if labels.dtype in _FLOATS else ids
    else:
        width = math.prod(dims) if dims else 1
        scores = features @ rng.standard_normal((features.shape[1], width)) / math.sqrt(features.shape[1])
        scores = scores.reshape((n,) + dims)
        value = scores if cfg.loss == "mse" else (scores > 0).astype(np.float64)
    out[cfg.labels] = np.asarray(value).astype(_numpy_dtype(labels.dtype))
    return out


def _vocabularies(plan: "Plan") -> dict[str, int]:
    """Input name -> the smallest vocabulary among the embeddings that read it directly."""
    out: dict[str, int] = {}
    for layer in plan.walk():
        vocab = getattr(layer.params, "vocab", None)
        if layer.type == "embedding" and isinstance(vocab, int):
            for name in layer.inputs:
                out[name] = min(out.get(name, vocab), vocab)
    return out


def batches(data: dict[str, "np.ndarray"], cfg: TrainConfig) -> Iterator[dict[str, "np.ndarray"]]:
    """`cfg.steps` batches of `cfg.batch_size` examples, each epoch in a fresh order seeded by `cfg.seed`."""
    import numpy as np

    rng = np.random.default_rng([cfg.seed, 1])
    n = len(next(iter(data.values())))
    order = np.empty(0, dtype=np.int64)
    for _ in range(cfg.steps):
        while len(order) < cfg.batch_size:
            order = np.concatenate([order, rng.permutation(n)])
        take, order = order[: cfg.batch_size], order[cfg.batch_size:]
        yield {name: array[take] for name, array in data.items()}

