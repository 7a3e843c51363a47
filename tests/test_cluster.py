"""A real TF1 cluster on loopback: 2 parameter servers and 2 workers, each `python -m specc train` in a
process of its own, on ports chosen free at run time. Every process is ended by its PID (its process
group) when the test ends, however it ends."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import specc
from specc.cli import app
from specc.errors import SpecError
from specc.experiments.cluster import load_cluster

from .conftest import ROOT

SPEC = ROOT / "specs" / "experiments" / "siamese_cluster.yaml"
SECONDS = 150  # the whole cluster's budget; it takes about 30 s on 2 cores
TOWER = ["tower/fc1/kernel", "tower/fc1/bias", "tower/fc2/kernel", "tower/fc2/bias"]


def free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


class Processes:
    """Started processes, each in a session of its own, all killed (by process group) on the way out."""

    def __init__(self):
        self.started: list[subprocess.Popen] = []

    def start(self, command: list[str], log: Path, env: dict | None = None) -> subprocess.Popen:
        env = env or {**os.environ, "PYTHONPATH": str(ROOT)}
        with open(log, "w") as out, open(log.with_suffix(".err"), "w") as err:
            process = subprocess.Popen(command, stdout=out, stderr=err, cwd=ROOT, env=env, start_new_session=True)
        self.started.append(process)
        return process

    def end(self, first: int = signal.SIGKILL) -> None:
        """Each process group gets `first` (SIGTERM lets `ray start --block` stop its own), SIGKILL after 15 s."""
        for process in reversed(self.started):
            if process.poll() is None:
                os.killpg(process.pid, first)
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    pass
            try:
                os.killpg(process.pid, signal.SIGKILL)  # what it started in its group, if anything is left
            except ProcessLookupError:
                pass
            process.wait(timeout=30)


@pytest.fixture
def processes():
    started = Processes()
    try:
        yield started
    finally:
        started.end()


@pytest.mark.parametrize("mode", ["async", "sync"])
def test_two_ps_and_two_workers_train_a_shared_tower(tmp_path, processes, tf, mode):
    ps, workers = free_ports(2), free_ports(2)
    cluster = tmp_path / "cluster.yaml"
    cluster.write_text(json.dumps({"ps": [f"127.0.0.1:{p}" for p in ps],
                                   "worker": [f"127.0.0.1:{p}" for p in workers]}))
    run = tmp_path / "run"
    tasks = [("ps", 0), ("ps", 1), ("worker", 0), ("worker", 1)]
    started = {task: processes.start(
        [sys.executable, "-m", "specc", "train", str(SPEC), "--cluster", str(cluster), "--job", task[0],
         "--task", str(task[1]), "-o", str(run), "-f", "json", "--timeout", str(SECONDS),
         *(["--sync-replicas"] if mode == "sync" else [])],
        tmp_path / f"{task[0]}{task[1]}.log") for task in tasks}
    deadline = time.monotonic() + SECONDS
    for task, process in started.items():
        try:
            process.wait(timeout=max(1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pytest.fail(f"{task} still running after {SECONDS} s: {(tmp_path / f'{task[0]}{task[1]}.log').read_text()}")
    logs = {task: (tmp_path / f"{task[0]}{task[1]}.log").read_text() for task in tasks}
    errors = {task: (tmp_path / f"{task[0]}{task[1]}.err").read_text() for task in tasks}
    assert {task: p.returncode for task, p in started.items()} == dict.fromkeys(tasks, 0), errors
    assert not any(errors.values()), errors  # nothing on stderr: no stray thread's traceback either

    # Each ps task served until both workers said they were done.
    for i in (0, 1):
        assert json.loads(logs[("ps", i)].strip().splitlines()[-1]) == {
            "ok": True, "ps_task": i, "workers_done": 2, "workers": 2}

    # The variables live on the parameter servers, round-robin; the ops on each worker.
    graph = tf.compat.v1.GraphDef()
    from google.protobuf import text_format

    text_format.Parse((run / "graph.pbtxt").read_text(), graph)
    handles = {n.name: n.device for n in graph.node if n.op == "VarHandleOp"}
    assert handles == dict(zip(TOWER, ["/job:ps/task:0", "/job:ps/task:1"] * 2))
    nodes = {n.name: n.device for n in graph.node}
    assert nodes["tower/fc1/MatMul"] == nodes["tower_1/fc1/MatMul"] == "/job:worker/task:0"

    # The chief wrote the run; both workers counted steps toward the one global step.
    chief = json.loads(logs[("worker", 0)])["run"]
    other = json.loads(logs[("worker", 1)])["run"]
    steps = (chief["steps"], other["steps"])
    if mode == "async":  # each step of either worker is one global step; each may take one past the last
        assert 40 <= sum(steps) <= 42, steps
    else:  # each global step averages a gradient from each worker: both took at least as many
        assert steps[0] >= 20 and sum(steps) >= 40, steps
    metrics = json.loads((run / "metrics.json").read_text())
    losses = metrics["losses"]
    assert np.mean(losses[-5:]) < np.mean(losses[:5]), losses

    # The chief's checkpoint restores into the graph `specc build` makes of the same spec.
    saved = dict(tf.train.list_variables(str(run / "model.ckpt")))
    assert saved == {"tower/fc1/kernel": [10, 64], "tower/fc1/bias": [64], "tower/fc2/kernel": [64, 16],
                     "tower/fc2/bias": [16]}
    model = specc.build(specc.plan(ROOT / "specs" / "siamese.yaml"), init_from=run / "model.ckpt")
    with tf.compat.v1.Session(graph=model.graph) as sess:
        sess.run(tf.compat.v1.global_variables_initializer())
        for name in TOWER:
            np.testing.assert_array_equal(sess.run(model.variables[name]),
                                          tf.train.load_variable(str(run / "model.ckpt"), name))


@pytest.mark.parametrize("text,message,line", [
    ("ps: ['127.0.0.1:1']\n", "the cluster has no 'worker' job", 1),
    ("ps: ['127.0.0.1:1']\nworker: []\n", "'worker' needs a non-empty list", 2),
    ("ps: ['127.0.0.1:1']\nworker: ['localhost']\n", "'localhost' is not an address: write \"host:port\"", 2),
    ("ps: ['127.0.0.1:1']\nworker: ['127.0.0.1:1']\n", "127.0.0.1:1 is given twice (also ps[0])", 2),
    ("ps: ['127.0.0.1:1']\nworker: ['127.0.0.1:2']\nchief: ['127.0.0.1:3']\n", "unknown job 'chief'", 3),
])
def test_a_bad_cluster_file_is_located(tmp_path, text, message, line):
    path = tmp_path / "cluster.yaml"
    path.write_text(text)
    with pytest.raises(SpecError) as e:
        load_cluster(path)
    assert message in e.value.message and e.value.where.line == line


@pytest.mark.parametrize("args,message", [
    (["--job", "ps", "--task", "0"], "give --cluster CLUSTER.yaml too"),
    (["--cluster", "{c}", "--job", "chief", "--task", "0"], "give --job ps or --job worker"),
    (["--cluster", "{c}", "--job", "worker"], "give --task N"),
    (["--cluster", "{c}", "--job", "worker", "--task", "2"], "the cluster's 'worker' job has 1 tasks (0 to 0), not 2"),
    (["--cluster", "{c}", "--job", "worker", "--task", "0", "--ps-tasks", "3"], "leave out --ps-tasks"),
])
def test_cluster_options_are_checked_before_anything_starts(tmp_path, args, message):
    cluster = tmp_path / "c.yaml"
    cluster.write_text("ps: ['127.0.0.1:1']\nworker: ['127.0.0.1:2']\n")
    result = CliRunner().invoke(app, ["train", str(SPEC), *[a.format(c=cluster) for a in args]])
    assert result.exit_code == 2 and message in " ".join(result.output.split()), result.output
