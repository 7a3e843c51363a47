"""`specc sweep --executor ray` on a real Ray cluster on loopback: a head and a second node, each a
`ray start --block` process of its own (ports chosen free at run time, a temp dir of its own), ended by
its process group when the test ends, however it ends. `ray stop` is never called: it would stop every
Ray instance of the user, not only these."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from .conftest import ROOT
from .test_cluster import Processes, free_ports

pytest.importorskip("ray", reason="Ray is not installed (pip install 'specc[ray]')")
RAY = Path(sys.executable).with_name("ray")
EXPERIMENT = ROOT / "specs" / "experiments" / "width_and_sharing.yaml"
SECONDS = 240
NAMES = ["hidden=16,encoder.share=true", "hidden=16,encoder.share=false",
         "hidden=32,encoder.share=true", "hidden=32,encoder.share=false"]


def node_ports() -> list[str]:
    names = ("--node-manager-port", "--object-manager-port", "--dashboard-agent-listen-port",
             "--dashboard-agent-grpc-port", "--metrics-export-port", "--runtime-env-agent-port",
             "--ray-client-server-port")
    ports = free_ports(len(names) + 1)
    workers = ports.pop()  # worker ports from here up: a narrow range, above one that was free
    return [*(f"{n}={p}" for n, p in zip(names, ports)),
            f"--min-worker-port={workers}", f"--max-worker-port={workers + 20}"]


@pytest.fixture
def ray_cluster():
    """A Ray head and a second node on 127.0.0.1, one CPU each; yields the head's address."""
    processes = Processes()
    temp = Path(tempfile.mkdtemp(prefix="specc-ray-", dir="/tmp"))  # short: Ray's socket paths must fit in 107
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
    common = ["--block", "--node-ip-address=127.0.0.1", "--num-cpus=1", f"--temp-dir={temp}",
              "--object-store-memory=100000000", "--disable-usage-stats"]
    try:
        (port,) = free_ports(1)
        address = f"127.0.0.1:{port}"
        processes.start([str(RAY), "start", "--head", f"--port={port}", "--include-dashboard=false", *common,
                         *node_ports()], temp / "head.log", env)
        _wait_for_nodes(address, 1, env)
        processes.start([str(RAY), "start", f"--address={address}", *common, *node_ports()], temp / "node.log", env)
        _wait_for_nodes(address, 2, env)
        yield address, env
    finally:
        processes.end(signal.SIGTERM)
        shutil.rmtree(temp, ignore_errors=True)


def _wait_for_nodes(address: str, n: int, env: dict) -> None:
    code = ("import ray, sys\nray.init(address=sys.argv[1], log_to_driver=False)\n"
            "print(sum(1 for x in ray.nodes() if x['Alive']))\n")
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        done = subprocess.run([sys.executable, "-c", code, address], capture_output=True, text=True, env=env,
                              timeout=60)
        if done.returncode == 0 and done.stdout.strip().splitlines()[-1:] == [str(n)]:
            return
        time.sleep(1)
    pytest.fail(f"the Ray cluster at {address} did not reach {n} nodes in 90 s")


def test_a_four_variant_sweep_across_two_ray_nodes(tmp_path, ray_cluster):
    address, env = ray_cluster
    command = [sys.executable, "-m", "specc", "sweep", str(EXPERIMENT), "-o", str(tmp_path), "-f", "json",
               "--set", "train.steps=5", "--executor", "ray", "--address", address, "--cpus-per-variant", "1"]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=SECONDS, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert [v["variant"] for v in summary["variants"]] == NAMES
    assert (summary["ok"], summary["failed"]) == (4, 0)
    assert len({v["node"] for v in summary["variants"]}) == 2  # one CPU a node: both took variants
    out = tmp_path / "width_and_sharing"
    assert json.loads((out / "summary.json").read_text())["ok"] == 4
    assert (out / "summary.csv").read_text().splitlines()[0].startswith("variant,vars.hidden,layers.encoder.share,status")
    for name in NAMES:
        assert (out / name / ".specc-build.json").is_file() and (out / name / "model.ckpt.index").is_file()

    # Resumed as the local executor resumes: every variant is complete, nothing runs (nor does Ray start).
    again = subprocess.run(command, capture_output=True, text=True, env=env, timeout=SECONDS, cwd=ROOT)
    assert again.returncode == 0, again.stderr
    assert [v.get("reused") for v in json.loads(again.stdout)["variants"]] == [True] * 4
