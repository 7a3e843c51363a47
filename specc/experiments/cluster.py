"""A cluster file: each job's `host:port` list, as tf.train.ClusterSpec takes it. No TensorFlow.

    ps: ["127.0.0.1:2222", "127.0.0.1:2223"]
    worker: ["127.0.0.1:2224", "127.0.0.1:2225"]

`specc train SPEC --cluster CLUSTER.yaml --job ps|worker --task N` starts one task of it:
parameter servers hold the variables, workers build the graph and train (worker 0 is the chief).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..read import load

JOBS = ("ps", "worker")
_ADDRESS = re.compile(r"^[A-Za-z0-9_.\-\[\]:]+:\d{1,5}$")


@dataclass(frozen=True)
class Cluster:
    """Jobs and their task addresses, task 0 first."""

    file: str
    ps: tuple[str, ...]
    worker: tuple[str, ...]

    def as_dict(self) -> dict[str, list[str]]:
        """What tf.train.ClusterSpec takes."""
        return {"ps": list(self.ps), "worker": list(self.worker)}

    def tasks(self, job: str) -> tuple[str, ...]:
        return self.ps if job == "ps" else self.worker

    def worker_device(self, task: int) -> str:
        return f"/job:worker/task:{task}"


def load_cluster(path: str | Path) -> Cluster:
    """Read and check a cluster file.

    Raises:
        SpecError: not a mapping of `ps` and `worker` to non-empty lists of `host:port`, located.
    """
    doc = load(path)
    data = doc.data
    if not isinstance(data, dict):
        raise doc.error("a cluster file maps each job to its tasks' addresses: "
                        "{ps: [\"host:port\", ...], worker: [\"host:port\", ...]}", ())
    for job in data:
        if job not in JOBS:
            raise doc.error(f"unknown job '{job}': a cluster has the jobs 'ps' (parameter servers) and 'worker'",
                            (job,), at_key=True)
    for job in JOBS:
        if job not in data:
            raise doc.error(f"the cluster has no '{job}' job; give it a list of \"host:port\" addresses", ())
        tasks = data[job]
        if not isinstance(tasks, list) or not tasks:
            raise doc.error(f"'{job}' needs a non-empty list of \"host:port\" addresses", (job,))
        for i, address in enumerate(tasks):
            if not isinstance(address, str) or not _ADDRESS.match(address):
                raise doc.error(f"{address!r} is not an address: write \"host:port\", e.g. \"127.0.0.1:2222\"",
                                (job, i))
    seen: dict[str, tuple] = {}
    for job in JOBS:
        for i, address in enumerate(data[job]):
            if address in seen:
                raise doc.error(f"{address} is given twice (also {seen[address][0]}[{seen[address][1]}]); each "
                                "task needs its own port", (job, i))
            seen[address] = (job, i)
    return Cluster(str(path), tuple(data["ps"]), tuple(data["worker"]))
