"""Training a built model: the loss and train op added to its graph, the steps run in a Session.

The model's graph is built by emit/tf1.py exactly as planned; this module adds,
under the name scope `train/`, the loss (reading one model output and a labels
input), the optimizer's update (after the UPDATE_OPS, so batch norm's moving
statistics move), then runs `steps` steps and saves a TF1 checkpoint whose
variable names are exactly the planned ones (optimizer slots are not saved).
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..experiments.training import TrainConfig, batches
from .tfimport import tensorflow

CHECKPOINT = "model.ckpt"
EVENTS_SUFFIX = ".train"  # the loss scalars' event file, beside the build's graph events


def _softmax_cross_entropy(tf, output, labels, cfg: TrainConfig):
    if labels.dtype.is_integer:
        return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=output)
    return tf.nn.softmax_cross_entropy_with_logits(labels=tf.cast(labels, output.dtype), logits=output)


def _sigmoid_cross_entropy(tf, output, labels, cfg: TrainConfig):
    return tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.cast(labels, output.dtype), logits=output)


def _mse(tf, output, labels, cfg: TrainConfig):
    return tf.square(output - tf.cast(labels, output.dtype))


def _contrastive(tf, output, labels, cfg: TrainConfig):
    # Hadsell, Chopra & LeCun (2006): the output is a squared distance per pair (summed over
    # the axes after the batch, as a siamese model's `gap * gap`); labels are 1 for similar pairs.
    squared = tf.reduce_sum(output, axis=list(range(1, output.shape.rank))) if output.shape.rank > 1 else output
    distance = tf.sqrt(squared + 1e-12)
    similar = tf.reshape(tf.cast(labels, output.dtype), [-1])
    apart = tf.square(tf.maximum(tf.cast(cfg.margin, output.dtype) - distance, 0))
    return similar * squared + (1 - similar) * apart


LOSSES: dict[str, Callable] = {
    "softmax_cross_entropy": _softmax_cross_entropy,
    "sigmoid_cross_entropy": _sigmoid_cross_entropy,
    "mse": _mse,
    "contrastive": _contrastive,
}

OPTIMIZERS: dict[str, Callable] = {
    "sgd": lambda v1, cfg: v1.train.GradientDescentOptimizer(cfg.learning_rate),
    "momentum": lambda v1, cfg: v1.train.MomentumOptimizer(cfg.learning_rate, cfg.momentum),
    "adam": lambda v1, cfg: v1.train.AdamOptimizer(cfg.learning_rate),
}


def train(model, cfg: TrainConfig, data: dict[str, np.ndarray], directory: Path,
          on_step: Callable[[int, float], None] | None = None) -> dict[str, Any]:
    """Train `model` in place for `cfg.steps` steps; write the checkpoint and loss scalars into `directory`.

    Args:
        model: a Model from specc.build (its graph gains the `train/` ops and is finalized).
        cfg: the checked `train:` section (specc.training.config).
        data: input name -> examples along the first axis (specc.training.load_data).
        directory: where the checkpoint (`model.ckpt.*`, `checkpoint`) and the event file go.
        on_step: called after each step with (step, loss), for a progress bar.

    Returns:
        The metrics: the loss at every step, the first and final loss, seconds, the checkpoint's name.
    """
    tf = tensorflow()
    v1 = tf.compat.v1
    graph = model.graph
    with graph.as_default():
        loss, train_op = training_ops(tf, model, cfg)
        init = v1.global_variables_initializer()
        saver = checkpoint_saver(v1, model)
        writer = v1.summary.FileWriter(str(directory), filename_suffix=EVENTS_SUFFIX)
    graph.finalize()
    losses: list[float] = []
    start = time.perf_counter()
    try:
        with v1.Session(graph=graph) as sess:
            sess.run(init)
            for step, feed in enumerate(feeds(model, cfg, data), 1):
                _, value = sess.run([train_op, loss], feed_dict=feed)
                record_loss(v1, writer, losses, step, float(value), on_step)
            saver.save(sess, str(directory / CHECKPOINT), write_meta_graph=False)
    finally:
        writer.flush()
        writer.close()
    return metrics(cfg, data, losses, time.perf_counter() - start)


def training_ops(tf, model, cfg: TrainConfig, wrap: Callable | None = None, global_step=None):
    """The loss and the train op, under the name scope `train/`.

    Args:
        wrap: turns the optimizer into another (SyncReplicasOptimizer around it).
        global_step: incremented by each step (a cluster's workers count steps together).
    """
    v1 = tf.compat.v1
    planned = {v.name for v in model.plan.variables if v.trainable}
    with v1.name_scope("train"):
        per_example = LOSSES[cfg.loss](tf, model.outputs[cfg.output], model.inputs[cfg.labels], cfg)
        loss = tf.reduce_mean(per_example, name="loss")
        optimizer = OPTIMIZERS[cfg.optimizer](v1, cfg)
        if wrap is not None:
            optimizer = wrap(optimizer)
        # Batch norm's moving averages are updated by the ops in UPDATE_OPS: run them every step.
        with tf.control_dependencies(v1.get_collection(v1.GraphKeys.UPDATE_OPS)):
            train_op = optimizer.minimize(loss, global_step=global_step,
                                          var_list=[v for n, v in model.variables.items() if n in planned])
    return loss, train_op


def checkpoint_saver(v1, model):
    # Keyed by the planned names, so the checkpoint holds exactly the model's variables under
    # those names; the optimizer's slots (Adam's m and v) stay out of it.
    return v1.train.Saver(var_list=dict(model.variables), sharded=False, save_relative_paths=True)


def feeds(model, cfg: TrainConfig, data: dict[str, np.ndarray]):
    """Each step's feed dict: a batch, and the inputs `feed:` fixes."""
    fixed = {model.inputs[name]: np.asarray(value, dtype=model.inputs[name].dtype.as_numpy_dtype)
             for name, value in cfg.feed}
    for batch in batches(data, cfg):
        yield {**{model.inputs[name]: array for name, array in batch.items()}, **fixed}


def record_loss(v1, writer, losses: list[float], step: int, value: float,
                on_step: Callable[[int, float], None] | None) -> None:
    losses.append(value)
    writer.add_summary(v1.Summary(value=[v1.Summary.Value(tag="loss", simple_value=value)]), step)
    if on_step is not None:
        on_step(step, value)


def metrics(cfg: TrainConfig, data: dict[str, np.ndarray], losses: list[float], seconds: float) -> dict[str, Any]:
    """metrics.json: the loss at every step, the first and final loss, seconds, the checkpoint's name."""
    finite = [_finite(x) for x in losses]
    return {
        "loss": cfg.loss, "steps": len(losses), "batch_size": cfg.batch_size, "examples": len(next(iter(data.values()))),
        "first_loss": finite[0] if finite else None, "final_loss": finite[-1] if finite else None,
        "seconds": round(seconds, 3), "checkpoint": CHECKPOINT, "config": cfg.to_json(), "losses": finite,
    }


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None  # JSON has no NaN
