"""Constants: a fixed tensor in the graph (a forget-gate bias, a zero state, a mask of ones)."""

from __future__ import annotations

from typing import Any

from .base import Inferred, LayerContext, TensorInfo, value_problem
from .declare import DTYPE, INT32_MAX, layer, param

FAMILY = "Constants"
ORDER = 15

SCALAR = {"type": ["number", "boolean"]}
_DIMS = {"type": "array", "items": {"anyOf": [{"type": "integer", "minimum": 1, "maximum": INT32_MAX},
                                              {"type": "null"}]}}
# A constant's values are written into the graph: keep them to what a spec should hold.
MAX_VALUES = 1_000_000


@layer("constant", arity="source", float_only=False,
       doc="A fixed tensor: `value` as written (`tf.constant`), or `shape` filled with `fill` (`tf.fill`). A "
           "`null` first dimension of `shape` is the batch size of `input`, read at run time: a zero initial "
           "state for an `rnn`, say.",
       example={"id": "h0", "type": "constant", "fill": 0, "shape": [None, 128], "input": "tokens"},
       ops="`Const` (`value`); `Fill` (`fill`), after `Shape`, `strided_slice`, `stack` for a batch from `input`")
class Constant:
    value: Any = param({"anyOf": [SCALAR, {"type": "array"}]},
                       "The tensor, as a number, true/false, or a nested list; its shape is the lists' nesting.",
                       default=None, example=[[1, 0], [0, 1]])
    fill: Any = param(SCALAR, "The value every entry of `shape` takes.", default=None, example=0)
    shape: tuple[int | None, ...] | None = param(
        _DIMS, "With `fill`: the tensor's shape; a `null` first dimension is the batch size of `input`. With a "
               "single `value`: the shape that value is broadcast to.",
        default=None, example=[None, 128], convert=tuple)
    dtype: str = param(DTYPE, "The tensor's dtype.", default="float32", example="int32")

    def infer(self, inputs: list[TensorInfo], dtype: str, ctx: LayerContext) -> Inferred:
        if (self.value is None) == (self.fill is None):
            raise ctx.error("a constant takes `value` (the tensor as written) or `fill` with `shape`, not both "
                            "or neither", "fill" if self.fill is not None else None)
        if self.value is not None:
            shape = self._value_shape(ctx)
            ops: tuple[str, ...] = ("Const",)
        else:
            shape = self._fill_shape(inputs, ctx)
            ops = ("Fill",) if None not in shape else ("Shape", "strided_slice", "stack", "Fill")
        known = 1
        for d in shape:
            known *= d or 1
        if known > MAX_VALUES:
            raise ctx.error(f"a constant of shape {list(shape)} holds {known:,} values, more than the limit of "
                            f"{MAX_VALUES:,} (they are written into the graph); feed such data as an input",
                            "shape" if self.shape is not None else "value")
        return Inferred(TensorInfo(shape, self.dtype), (), ops)

    def _value_shape(self, ctx: LayerContext) -> tuple[int, ...]:
        shape = _nesting(self.value)
        problem = value_problem(self.value, shape, self.dtype, "constant")
        if problem:
            raise ctx.error(f"`value` {problem}", "value")
        if self.shape is None:
            return shape
        if shape:
            raise ctx.error("`shape` broadcasts a single `value`; a list `value` has its own shape, so remove "
                            "`shape`", "shape")
        if None in self.shape:
            raise ctx.error("a `value` constant needs every dimension of `shape`; use `fill` for a batch "
                            "dimension read from `input`", "shape")
        return self.shape  # type: ignore[return-value]

    def _fill_shape(self, inputs: list[TensorInfo], ctx: LayerContext) -> tuple[int | None, ...]:
        if self.shape is None:
            raise ctx.error("`fill` needs the `shape` to fill", "fill")
        problem = value_problem(self.fill, (), self.dtype, "constant")
        if problem:
            raise ctx.error(f"`fill` {problem}", "fill")
        if None in self.shape[1:]:
            raise ctx.error("only the first dimension of `shape` may be null (the batch size of `input`)", "shape")
        if self.shape and self.shape[0] is None:
            if not inputs:
                raise ctx.error("a null first dimension is the batch size of `input`; say which input or layer "
                                "to take it from with `input:`", "shape")
            if not inputs[0].shape:
                raise ctx.error(f"the batch size comes from the first dimension of `input`, but it is a scalar "
                                f"{inputs[0]}", "input")
            return (inputs[0].shape[0],) + self.shape[1:]
        if inputs:
            raise ctx.error("`input` gives a constant its batch size, and `shape` has no null first dimension; "
                            "remove `input`", "input")
        return self.shape

    def emit(self, tf, layer, xs, variables):
        dtype = tf.as_dtype(self.dtype)
        if self.value is not None:
            return tf.constant(self.value, dtype=dtype, shape=list(self.shape) if self.shape else None)
        fill = dtype.as_numpy_dtype(self.fill)
        if self.shape and self.shape[0] is None:
            # Read at run time even when the input's batch is static, as the plan's ops say.
            return tf.fill(tf.stack([tf.shape(xs[0])[0], *self.shape[1:]]), fill)
        return tf.fill(list(self.shape), fill)


def _nesting(value: Any) -> tuple[int, ...]:
    """The shape a nested list spells (its first entries' nesting; value_problem checks the rest)."""
    shape = []
    while isinstance(value, list):
        shape.append(len(value))
        value = value[0] if value else None
    return tuple(shape)

