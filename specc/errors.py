"""Errors: one located type for every mistake in a spec."""

from __future__ import annotations

from dataclasses import field

from .record import record

SpecPath = tuple  # ("layers", 3, "share"): keys and list indices from the document root


def format_path(path: SpecPath) -> str:
    """Render a spec path the way users write it: `layers[3].share`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "<root>"


@record
class Location:
    """Where in a spec file something is: file, 1-based line and column, spec path.

    `via` says how a node made by expansion came to be, outermost first
    ("copy 7 of 12 ('layer_6') of 'layer' at line 30", "template 'mlp' used by
    'layer_6' at line 30"): the line and column are those of the source it was
    copied from, the path is its place in the expanded spec (`specc resolve` prints it).
    """

    file: str
    line: int
    col: int
    path: SpecPath = ()
    via: tuple[str, ...] = field(default=(), compare=False)

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}: {format_path(self.path)}"


class SpecError(Exception):
    """A mistake in a spec: the one error type users see, always with a location.

    Args:
        message: what is wrong and how to fix it.
        where: the location of the offending node.
        source_line: the text of that line, for a caret excerpt (optional).
    """

    def __init__(self, message: str, where: Location, source_line: str | None = None):
        super().__init__(f"{where}: {message}")
        self.message = message
        self.where = where
        self.source_line = source_line

    def render(self) -> str:
        """`file:line:col: path: message`, then the source line with a caret under the column."""
        text = f"{self.where}: {self.message}"
        if self.source_line is not None:
            line = self.source_line.rstrip("\n")
            text += f"\n    {line}\n    {' ' * (self.where.col - 1)}^"
        if self.where.via:
            text += f"\n    expanded from: {'; '.join(self.where.via)}"
        return text


class SpecErrors(SpecError):
    """Several independent mistakes found in one pass (schema validation reports all)."""

    def __init__(self, errors: list[SpecError]):
        first = errors[0]
        super().__init__(first.message, first.where, first.source_line)
        self.errors = errors

    def render(self) -> str:
        return "\n".join(e.render() for e in self.errors)


class OverrideSyntaxError(ValueError):
    """A `--set` that cannot be parsed (no `=`, a malformed path, a value that is not YAML): a usage error."""


class UnknownPath(Exception):
    """A `--set` or sweep path that names no node: `message` says why, `at` is the deepest node it
    reached. Raised while a path is followed; turned into a located SpecError by its caller."""

    def __init__(self, message: str, at: SpecPath):
        super().__init__(message)
        self.message, self.at = message, tuple(at)


class UsageError(Exception):
    """A request the command line (or the same API call) cannot carry out as given: exit code 2.
    `kind` names it in JSON."""

    kind = "usage"


class OutputRefused(UsageError):
    """An output that must not be clobbered (a directory specc did not write, without --force; the spec
    itself): a usage error."""

    kind = "output"


class SignatureError(UsageError, ValueError):
    """A `--signature NAME=OUT,...` that cannot be read or names no output of the model: a usage error."""

    kind = "signature"


class GraphvizMissing(RuntimeError):
    """SVG was asked for and Graphviz's `dot` is not installed."""


class BuildError(Exception):
    """The graph TensorFlow built differs from the plan: a bug in specc, never the user's."""


class Unstampable(Exception):
    """A layer whose nodes the stamping emitter cannot rename exactly (specc.emit.stencils); the
    message says why. Never reaches the user: the model is built by the Python emitter instead."""


class NotCached(Exception):
    """What writing a build without TensorFlow needs was never learned from this TensorFlow (a layer's
    stencil, an input's nodes, an OpDef; specc.emit.notf); the message says what. Never reaches the
    user: TensorFlow is imported and fills the cache."""


class CheckpointError(Exception):
    """A checkpoint that cannot be used as asked, or a `--map` rule that cannot be read.

    `exit_code` is the CLI's: 2 for a usage mistake (a bad rule, no checkpoint at a
    path), 4 for a checkpoint that does not fit the model. `kind` names it in JSON.
    """

    exit_code = 2
    kind = "checkpoint"


class MappingError(CheckpointError, ValueError):
    """A `--map` rule that cannot be parsed (no `=`, a bad regular expression)."""

    kind = "mapping"


class IncompatibleCheckpoint(CheckpointError):
    """`--init-from` a checkpoint whose variables do not fit: a shape or dtype differs,
    or two rules map two checkpoint variables onto one. `comparison` holds the details."""

    exit_code = 4
    kind = "incompatible"

    def __init__(self, message: str, comparison=None):
        super().__init__(message)
        self.comparison = comparison
