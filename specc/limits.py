"""Every bound specc keeps, in one place (documented in docs/spec-language.md#limits).

Reading a file is bounded by `Limits`, planning by `PlanLimits`; `--max-params` and
`--max-layers` lift the second, `--max-variants` a sweep's grid. Imported by the command line
before anything else, so it imports only specc.record.
"""

from __future__ import annotations

from .record import record


@record
class Limits:
    """Input bounds."""

    max_file_bytes: int = 8 * 1024 * 1024
    max_alias_nodes: int = 200_000  # the nodes that aliases add, expanding their anchors
    max_depth: int = 100  # YAML levels, nested blocks after expansion, vars and expressions, bases
    max_files: int = 1_000  # files a spec reads through `base:` and `include:`, counting repeats
    max_layers: int = 100_000  # after templates and repeats are expanded (the planner's budget too)
    # Counted from the lengths of `sweep:`'s lists before a single variant is made: a grid
    # of 10 keys x 10 values must be refused at once, not expanded into 10**10 names.
    max_variants: int = 10_000


@record
class PlanLimits:
    """Bounds a plan must stay within."""

    # A typo in `units` should fail here, not as an out-of-memory at session start.
    max_params: int = 10_000_000_000
    max_layers: int = 100_000


DEFAULT_LIMITS = Limits()
DEFAULT_PLAN_LIMITS = PlanLimits()
