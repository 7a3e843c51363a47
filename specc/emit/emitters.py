"""The emitters by name: `python` (specc.emit.tf1, layer by layer, the reference) and `stamp`
(specc.emit.stamp, cached per-layer stencils imported at once: the same graph)."""

from __future__ import annotations

EMITTERS = ("python", "stamp")
DEFAULT_EMITTER = "stamp"  # `python` stays the reference the stamped graph is proven equal to


def emitter(emit: str):
    """The emit function (plan, verbose) -> Model of an emitter's name.

    Raises:
        ValueError: a name not in EMITTERS.
    """
    if emit not in EMITTERS:
        raise ValueError(f"emit must be one of {', '.join(EMITTERS)}, not {emit!r}")
    if emit == "stamp":
        from .stamp import emit as _emit
    else:
        from .tf1 import emit as _emit
    return _emit
