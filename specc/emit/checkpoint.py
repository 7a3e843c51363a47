"""Checkpoints, TensorFlow's side: read a checkpoint's variables, restore a built model from one.

Reading uses `tf.train.load_checkpoint` (the reader behind `tf.train.list_variables`,
which also knows each variable's dtype). Restoring uses
`tf.compat.v1.train.init_from_checkpoint`, which rewires each variable's initializer
to a RestoreV2 op: whatever initialises the variables afterwards (model.meta's
`init` op, `global_variables_initializer()` on the graph) loads the saved values.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from ..checkpoints.restore import CheckpointMatch, Comparison, VarInfo, compare, plan_variables, problems
from ..errors import CheckpointError, IncompatibleCheckpoint
from ..checkpoints.mapping import Rule
from .tfimport import tensorflow

# Bookkeeping entries of object-based (TF2) checkpoints, not variables.
_NOT_VARIABLES = ("_CHECKPOINTABLE_OBJECT_GRAPH",)


def resolve(path: str | os.PathLike) -> str:
    """A checkpoint prefix (`dir/model.ckpt-1000`) from a prefix or a directory (its latest checkpoint).

    Raises:
        CheckpointError: nothing readable there (exit code 2).
    """
    tf = tensorflow()
    text = os.fspath(path)
    if Path(text).is_dir():
        prefix = tf.train.latest_checkpoint(text)
        if prefix is None:
            raise CheckpointError(f"{text}: a directory without a `checkpoint` file naming a checkpoint; "
                                  "give the checkpoint's prefix (e.g. dir/model.ckpt-1000)")
        text = prefix
    if not (Path(text + ".index").is_file() or Path(text).is_file()):
        raise CheckpointError(f"{text}: no checkpoint here (no {Path(text).name}.index); give a checkpoint "
                              "prefix such as dir/model.ckpt-1000, or its directory")
    return str(Path(text).absolute())


def read(path: str | os.PathLike) -> tuple[str, tuple[VarInfo, ...]]:
    """The checkpoint's resolved prefix and its variables (name, shape, dtype), sorted by name.

    Raises:
        CheckpointError: no checkpoint, or not one TensorFlow can read.
    """
    tf = tensorflow()
    prefix = resolve(path)
    try:
        reader = tf.train.load_checkpoint(prefix)
        shapes, dtypes = reader.get_variable_to_shape_map(), reader.get_variable_to_dtype_map()
    except Exception as e:  # TensorFlow says DataLossError, NotFoundError, ValueError... all mean "unreadable"
        raise CheckpointError(f"{prefix}: not a readable checkpoint: {type(e).__name__}: "
                              f"{str(e).splitlines()[0] if str(e) else ''}") from None
    return prefix, tuple(VarInfo(name, tuple(shapes[name]), dtypes[name].base_dtype.name)
                         for name in sorted(shapes) if name not in _NOT_VARIABLES)


def restore_at_init(model, prefix: str, comparison: Comparison) -> None:
    """Make the model's variables initialise from the checkpoint, as the comparison says.

    Every restored variable's initializer becomes a RestoreV2 from `prefix` (ops under
    the root name scope `init_from_checkpoint/`); the others keep their own initializers.

    Raises:
        IncompatibleCheckpoint: a shape or dtype differs, or rules conflict (exit code 4).
    """
    if not comparison.restorable:
        raise _does_not_fit(prefix, model.plan.name, problems(comparison), comparison)
    pairs = [(source, model.variables[variable]) for source, variable in comparison.assignment_map()]
    if not pairs:
        return
    v1 = tensorflow().compat.v1
    with model.graph.as_default(), v1.name_scope("init_from_checkpoint"):
        # A list of pairs, not a dict: one saved variable may fill several (untied) variables.
        v1.train.init_from_checkpoint(prefix, pairs)


def init_from(model, checkpoint: str | os.PathLike, rules: Sequence[Rule] = ()) -> CheckpointMatch:
    """Restore a built model's variables from a checkpoint at initialisation.

    Args:
        model: a Model fresh from `emit` (its variables' initializers are rewired).
        checkpoint: a checkpoint prefix or directory.
        rules: parsed `--map` rules, renaming the checkpoint's names to the model's.

    Returns:
        CheckpointMatch: which variables restore (and from what), which are fresh.

    Raises:
        CheckpointError: no readable checkpoint; IncompatibleCheckpoint: shapes or dtypes differ.
    """
    found = match(model.plan, checkpoint, rules)
    restore_at_init(model, found.checkpoint, found.comparison)
    return found


def match(plan, checkpoint: str | os.PathLike, rules: Sequence[Rule] = ()) -> CheckpointMatch:
    """Compare a plan's variables with a checkpoint's (`specc check`).

    Raises:
        CheckpointError: no readable checkpoint.
    """
    prefix, saved = read(checkpoint)
    return CheckpointMatch(prefix, tuple(rules), compare(saved, plan_variables(plan), rules))


def complete_match(plan, checkpoint: str | os.PathLike, rules: Sequence[Rule] = (), hint: str = "") -> CheckpointMatch:
    """A checkpoint that restores every one of the plan's variables (an export leaves none fresh).

    Raises:
        CheckpointError: no readable checkpoint; IncompatibleCheckpoint: a variable is missing from it,
            or its shape or dtype differs (`hint` ends the message).
    """
    found = match(plan, checkpoint, rules)
    c = found.comparison
    if not c.compatible:
        lines = problems(c) + [f"{v.name}: not in the checkpoint (the model has {v.describe()})" for v in c.missing]
        if len(lines) > _SHOWN:
            lines = lines[:_SHOWN] + [f"... and {len(lines) - _SHOWN} more"]
        raise _does_not_fit(found.checkpoint, plan.name, lines, c, hint)
    return found


_SHOWN = 10  # problems listed in a message; `specc check` lists them all


def _does_not_fit(prefix: str, model: str, lines: list[str], comparison: Comparison,
                  hint: str = "") -> IncompatibleCheckpoint:
    return IncompatibleCheckpoint(
        f"{prefix} does not fit {model}:\n  " + "\n  ".join(lines)
        + (f"\n{hint}" if hint else "") + "\n(`specc check` lists every variable; `--map OLD=NEW` renames)",
        comparison)
