"""`specc sweep --executor ray`: each variant a Ray task, anywhere on a Ray cluster.

Only the running differs from the local executor (specc.experiments.sweep._pool): the same
jobs, the same `run_variant` in the task, the same rows handed back one by one as they
finish, so resuming, failures and the summaries are the sweep's own. Each task writes its
variant's directory itself: on a cluster of several machines the output directory must
be on storage every node sees. Needs `pip install 'specc[ray]'` on every node.
"""

from __future__ import annotations

from typing import Callable

from .sweep import Job, run_variant

MISSING = "the Ray executor needs Ray: pip install 'specc[ray]'"


def _run_on_node(job: Job) -> dict:
    """run_variant, with the Ray node that ran it (summary.json shows where each variant went)."""
    import ray

    return {**run_variant(job), "node": ray.get_runtime_context().get_node_id()}


def executor(address: str | None = None, cpus_per_variant: float = 1) -> Callable[[list[Job], Callable], None]:
    """A sweep executor on the Ray cluster at `address`, or on a Ray instance started here (None).

    Raises:
        ImportError: Ray is not installed (the message says how to install it).
    """
    try:
        import ray  # noqa: F401
    except ImportError:
        raise ImportError(MISSING) from None

    def execute(pending: list[Job], done: Callable[[dict], None]) -> None:
        import ray

        if not pending:
            return
        started_here = not ray.is_initialized()
        if started_here:
            ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False)
        try:
            # No retries: a variant that kills its worker fails alone, as with the local executor.
            task = ray.remote(num_cpus=cpus_per_variant, max_retries=0)(_run_on_node)
            running = {task.remote(job): job for job in pending}
            while running:
                ready, _ = ray.wait(list(running), num_returns=1)
                for ref in ready:
                    job = running.pop(ref)
                    try:
                        row = ray.get(ref)
                    except ray.exceptions.RayError as e:
                        row = {"variant": job.variant.name, "directory": job.directory, "status": "failed",
                               "error": f"the Ray task died while building this variant: {type(e).__name__}"}
                    done(row)
        finally:
            if started_here:
                ray.shutdown()

    return execute
