"""Training on a TF1 cluster: parameter servers serve, workers train (between-graph replication).

Every worker builds the whole graph under the plan's replica_device_setter: the variables
live on `/job:ps/task:i`, the ops on its own `/job:worker/task:N`. Updates are asynchronous
(each worker applies its gradients as it computes them), or synchronous with
`SyncReplicasOptimizer` (each step averages one gradient from every worker). Worker 0 is
the chief: it initialises the variables, and saves the checkpoint at the end (under the
planned names, like a local run); the others wait for it. `global_step` (on ps task 0)
counts every worker's steps; the run stops when it reaches `train.steps`.

A ps task serves until it is told to stop: each worker, when it is done (or failed), puts a
token in a queue on every ps task (`shared_name` specc_done_ps<i>, on that task), and a ps
task stops once it holds one token from each worker, or after `timeout` seconds, so a
worker that died without a word cannot keep it forever.
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

from ..experiments.cluster import Cluster
from ..experiments.training import TrainConfig
from .tfimport import tensorflow
from .train import CHECKPOINT, EVENTS_SUFFIX, checkpoint_saver, feeds, metrics, record_loss, training_ops

GLOBAL_STEP_DEVICE = "/job:ps/task:0"
JOIN_SECONDS = 30 * 60  # how long a worker waits for the chief to initialise the variables (TF's default)
POLL_MS = 1000  # how long a ps task waits for a token before it looks at its deadline again


def _spec(tf, cluster: Cluster):
    return tf.train.ClusterSpec(cluster.as_dict())


def _done_queue(v1, ps_task: int, workers: int):
    with v1.device(f"/job:ps/task:{ps_task}"):
        return v1.FIFOQueue(workers, v1.int32, shapes=[[]], shared_name=f"specc_done_ps{ps_task}",
                            name=f"specc_done_ps{ps_task}")


def serve(cluster: Cluster, task: int, timeout: float, on_event: Callable[[str], None] | None = None) -> int:
    """Run parameter server `task` until every worker has said it is done, or `timeout` seconds.

    Returns:
        How many workers said they were done.
    """
    tf = tensorflow()
    v1 = tf.compat.v1
    v1.disable_eager_execution()
    server = v1.train.Server(_spec(tf, cluster), job_name="ps", task_index=task)
    if on_event:
        on_event(f"ps task {task} serving on {cluster.ps[task]}")
    workers = len(cluster.worker)
    graph = tf.Graph()
    with graph.as_default():
        queue = _done_queue(v1, task, workers)
        take = queue.dequeue()
    deadline = time.monotonic() + timeout
    done = 0
    config = v1.ConfigProto(device_filters=[f"/job:ps/task:{task}"])
    with v1.Session(server.target, graph=graph, config=config) as sess:
        while done < workers and time.monotonic() < deadline:
            try:
                sess.run(take, options=v1.RunOptions(timeout_in_ms=POLL_MS))
                done += 1
            except tf.errors.DeadlineExceededError:
                continue
    return done


def train(model, cfg: TrainConfig, data: dict, directory: Path | None, cluster: Cluster, task: int,
          sync: bool = False, on_step: Callable[[int, float], None] | None = None) -> dict[str, Any]:
    """Train `model` (built with the cluster's placement) as worker `task`; the chief writes `directory`.

    Returns:
        The metrics of this worker's steps (the chief's are the run's).
    """
    tf = tensorflow()
    v1 = tf.compat.v1
    server = v1.train.Server(_spec(tf, cluster), job_name="worker", task_index=task)
    chief = task == 0
    workers = len(cluster.worker)
    graph = model.graph
    hooks: list = []
    with graph.as_default():
        with v1.device(GLOBAL_STEP_DEVICE):
            global_step = v1.train.get_or_create_global_step()
        synced: list = []

        def wrap(optimizer):
            synced.append(v1.train.SyncReplicasOptimizer(optimizer, replicas_to_aggregate=workers,
                                                         total_num_replicas=workers))
            return synced[-1]

        from .tf1 import device_function

        # The optimizer's variables (Adam's beta powers, slots) go where the setter puts them,
        # on the parameter servers, so every worker updates the same ones.
        with v1.device(device_function(tf, model.plan.placement.spec)):
            loss, train_op = training_ops(tf, model, cfg, wrap if sync else None, global_step)
        hooks += [s.make_session_run_hook(chief) for s in synced]
        # At the end the chief stops aggregating; a worker already waiting for its next token would
        # wait forever. The chief hands out one token per worker as it leaves: each then takes its
        # step, sees global_step at the end, and stops.
        release = synced[0].get_init_tokens_op(num_tokens=workers) if synced and chief else None
        hooks.append(v1.train.StopAtStepHook(last_step=cfg.steps))
        done = [_done_queue(v1, i, workers).enqueue(task) for i in range(len(cluster.ps))]
        saver = checkpoint_saver(v1, model) if chief else None
        writer = v1.summary.FileWriter(str(directory), filename_suffix=EVENTS_SUFFIX) if chief else None
    if chief:
        hooks.append(_at_end(v1, saver, str(directory / CHECKPOINT), release))
    # A worker talks to the parameter servers and to itself, never to the other workers:
    # without the filter, a worker would wait for every other one to start.
    config = v1.ConfigProto(device_filters=["/job:ps", f"/job:worker/task:{task}"])
    losses: list[float] = []
    start = time.perf_counter()
    quiet = _quiet_cancelled_queue_runners(tf)
    try:
        # Closing waits this long for the queue runners: the sync chief's one waits for gradients that
        # no worker sends any more once the last step is done, until the session's close cancels it.
        with graph.as_default(), v1.train.MonitoredSession(_session_creator(v1, server.target, chief, config),
                                                           hooks, stop_grace_period_secs=2) as sess:
            # global_step (every worker's steps, or every aggregated step) ends the run, not this
            # worker's own count; each worker draws its batches in an order of its own.
            endless = replace(cfg, steps=sys.maxsize, seed=cfg.seed + task)
            for step, feed in enumerate(feeds(model, endless, data), 1):
                if sess.should_stop():
                    break
                _, value = sess.run([train_op, loss], feed_dict=feed)
                if writer is not None:
                    record_loss(v1, writer, losses, step, float(value), on_step)
                else:
                    losses.append(float(value))
    finally:
        if writer is not None:
            writer.flush()
            writer.close()
        _signal_done(v1, server, done, graph)
        threading.excepthook = quiet
    return metrics(cfg, data, losses, time.perf_counter() - start)


def _quiet_cancelled_queue_runners(tf):
    """Let a queue runner's thread end quietly when closing the session cancels its step (the sync
    chief's, waiting for gradients after the last step); returns the hook to put back."""
    previous = threading.excepthook

    def hook(args):
        if not (issubclass(args.exc_type, tf.errors.CancelledError)
                and args.thread is not None and args.thread.name.startswith("QueueRunnerThread")):
            previous(args)

    threading.excepthook = hook
    return previous


def _session_creator(v1, master: str, chief: bool, config):
    """The chief initialises the variables; another worker waits until they are, looking every half
    second (TF's WorkerSessionCreator looks every 30 s, longer than a small run lasts)."""
    scaffold = v1.train.Scaffold()
    if chief:
        return v1.train.ChiefSessionCreator(scaffold, master=master, config=config)

    class Joiner(v1.train.SessionCreator):
        def create_session(self):
            scaffold.finalize()
            manager = v1.train.SessionManager(local_init_op=scaffold.local_init_op, ready_op=scaffold.ready_op,
                                              ready_for_local_init_op=scaffold.ready_for_local_init_op,
                                              graph=v1.get_default_graph(), recovery_wait_secs=0.5)
            return manager.wait_for_session(master, config=config, max_wait_secs=JOIN_SECONDS)

    return Joiner()


def _signal_done(v1, server, done: list, graph) -> None:
    with v1.Session(server.target, graph=graph,
                    config=v1.ConfigProto(device_filters=["/job:ps"], operation_timeout_in_ms=10_000)) as sess:
        for enqueue in done:
            sess.run(enqueue)


def _at_end(v1, saver, path: str, release):
    """The chief's last hook: save the checkpoint after the last step, then release waiting workers."""

    class AtEnd(v1.train.SessionRunHook):
        def end(self, session):
            saver.save(session, path, write_meta_graph=False)
            if release is not None:
                session.run(release)

    return AtEnd()
