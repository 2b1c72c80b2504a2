"""Converters for quantized ONNX ops: QuantizeLinear / DequantizeLinear, the integer and QLinear ops of the
default domain, and the ``com.microsoft`` QLinear* ops that onnxruntime's quantizer writes.

Every quantized op imports as dequantize -> the float op (through the float op's own converter) ->
quantize: exact for the integer ops (float32 holds their int32 sums exactly at these sizes) and
within one quantization step of onnxruntime for the requantizing ones.  Constant weights fold to
float parameters at import.  ``com.microsoft`` ops are filed as "com.microsoft.<op>" at that domain's
opset (the importer looks nodes up by (domain, op type)).
"""
from __future__ import annotations

import numpy as np

from ...ir import dtypes as _dt
from ...ir.graph import Entry
from ...ops.quantize import QUANT_DTYPES
from .context import OnnxInputs
from .registry import ONNX_IMPORT

_Q_VERSIONS = (10, 13, 19, 21, 23, 24, 25, 28)


def _float_op(ctx, node, op_type, attrs, operands):
    """Convert ``op_type`` on IR entries with its own float converter (at the model's opset); its first output."""
    result = ONNX_IMPORT.get(op_type, ctx.opset, node.name)(ctx, node, attrs, OnnxInputs(operands))
    if isinstance(result, (list, tuple)) and not isinstance(result, Entry):
        return result[0]  # MaxPool / AveragePool also return their (unused) Indices output
    return result


def _qparam(ctx, value, what):
    """A scale or zero point: a constant, or computed by the model (DynamicQuantizeLinear); a graph input
    is refused (static backends need it known, and so do its per-axis layout and the integer range)."""
    if isinstance(value, str) and ctx.const(value) is None:
        v = ctx.vals.get(value)
        if isinstance(v, Entry) and v.node.is_variable:
            ctx.require_const(value, what)
    return value


def _zero_point(ctx, zp, dtype="uint8"):
    return _qparam(ctx, zp, "the zero point") if zp is not None else np.zeros((), _dt.to_numpy(dtype))


def _check_dtype(ctx, dtype, what):
    if dtype not in QUANT_DTYPES:
        # float4 / int4 / int2 tensors reach the importer widened to a float type
        found = "float4, int4 or int2" if _dt.is_float(dtype) else dtype
        raise ctx.unsupported(f"{what} {found}; supported: {', '.join(QUANT_DTYPES)}")


def dequantize(ctx, x, scale, zp, axis=1):
    _check_dtype(ctx, ctx.dtype(x), "input type")
    zp = _zero_point(ctx, zp, ctx.dtype(x))
    return ctx.emit1("dequantize_linear", [x, _qparam(ctx, scale, "the scale"), zp], {"axis": int(axis)})


def quantize(ctx, y, scale, zp, axis=1, dtype=None, saturate=True):
    dtype = dtype or (ctx.dtype(zp) if zp is not None else "uint8")
    _check_dtype(ctx, dtype, "quantized type")
    attrs = {"axis": int(axis), "out_dtype": dtype}
    if not saturate and _dt.is_float8(dtype):  # saturate (QuantizeLinear-19) matters for float8 only
        attrs["saturate"] = False
    return ctx.emit1("quantize_linear", [y, _qparam(ctx, scale, "the scale"), _zero_point(ctx, zp, dtype)], attrs)


def _to_int32(ctx, y):
    """A float result of integer operands (exact) back to int32."""
    return quantize(ctx, y, np.float32(1), np.zeros((), np.int32), dtype="int32")


def _exact_float(ctx, x, zp, axis):
    """Integer operand minus its zero point, as float32 (exact)."""
    return dequantize(ctx, x, np.float32(1), zp, axis)


def _check_blocked(ctx, attrs):
    if int(attrs.get("block_size", 0)):
        raise ctx.unsupported("blocked quantization (block_size > 0)")


# ---- QuantizeLinear / DequantizeLinear / DynamicQuantizeLinear --------------------------------------
@ONNX_IMPORT.register("QuantizeLinear", since=_Q_VERSIONS)
def quantize_linear(ctx, node, attrs, inputs):
    _check_blocked(ctx, attrs)
    dtype = None
    if inputs[2] is None and "output_dtype" in attrs:
        dtype = _dt.from_onnx(int(attrs["output_dtype"]))
    x = inputs[0]
    if ctx.dtype(x) != "float32":
        x = ctx.cast(x, "float32")
    return quantize(ctx, x, inputs[1], inputs[2], attrs.get("axis", 1), dtype, bool(attrs.get("saturate", 1)))


@ONNX_IMPORT.register("DequantizeLinear", since=_Q_VERSIONS)
def dequantize_linear(ctx, node, attrs, inputs):
    _check_blocked(ctx, attrs)
    y = dequantize(ctx, inputs[0], inputs[1], inputs[2], attrs.get("axis", 1))
    out = attrs.get("output_dtype")
    return ctx.cast(y, _dt.from_onnx(int(out))) if out else y


@ONNX_IMPORT.register("DynamicQuantizeLinear", since=11)
def dynamic_quantize_linear(ctx, node, attrs, inputs):
    """uint8 with the range [min(0, min x), max(0, max x)] mapped onto 0..255."""
    x = inputs[0]
    low = ctx.emit1("__min_scalar__", [ctx.emit1("min", [x])], {"scalar": 0.0})
    high = ctx.emit1("__max_scalar__", [ctx.emit1("max", [x])], {"scalar": 0.0})
    scale = ctx.emit1("__div_scalar__", [ctx.emit1("elemwise_sub", [high, low])], {"scalar": 255.0})
    zp = quantize(ctx, ctx.emit1("negative", [low]), scale, None)
    return [quantize(ctx, x, scale, zp), scale, zp]


# ---- integer ops (int32 results) -----------------------------------------------------------------
@ONNX_IMPORT.register("MatMulInteger", since=10)
def matmul_integer(ctx, node, attrs, inputs):
    a = _exact_float(ctx, inputs[0], inputs[2], -2)  # a's zero point: per tensor or per row
    b = _exact_float(ctx, inputs[1], inputs[3], -1)  # b's: per tensor or per column
    return _to_int32(ctx, _float_op(ctx, node, "MatMul", {}, [a, b]))


@ONNX_IMPORT.register("ConvInteger", since=10)
def conv_integer(ctx, node, attrs, inputs):
    x = _exact_float(ctx, inputs[0], inputs[2], 1)
    w = _exact_float(ctx, inputs[1], inputs[3], 0)
    return _to_int32(ctx, _float_op(ctx, node, "Conv", attrs, [x, w]))


# ---- requantizing ops of the default domain ---------------------------------------------------------
def _bias(ctx, bias, x_scale, w_scale):
    """The int32 bias as float: scale x_scale * w_scale (per output channel), zero point 0."""
    if bias is None:
        return None
    xs, ws = ctx.const(x_scale), ctx.const(w_scale)
    if xs is not None and ws is not None:
        scale = (np.asarray(xs, np.float32).reshape(-1) * np.asarray(ws, np.float32).reshape(-1))
    else:
        scale = ctx.emit1("broadcast_mul", [ctx.reshape(x_scale, (-1,)), ctx.reshape(w_scale, (-1,))])
    return dequantize(ctx, bias, scale, None, 0)


@ONNX_IMPORT.register("QLinearConv", since=10)
def qlinear_conv(ctx, node, attrs, inputs):
    x = dequantize(ctx, inputs[0], inputs[1], inputs[2])
    w = dequantize(ctx, inputs[3], inputs[4], inputs[5], 0)
    b = _bias(ctx, inputs[8], inputs[1], inputs[4])
    y = _float_op(ctx, node, "Conv", attrs, [x, w] + ([b] if b is not None else []))
    return quantize(ctx, y, inputs[6], inputs[7])


@ONNX_IMPORT.register("QLinearMatMul", since=(10, 21))
def qlinear_matmul(ctx, node, attrs, inputs):
    a = dequantize(ctx, inputs[0], inputs[1], inputs[2], -2)
    b = dequantize(ctx, inputs[3], inputs[4], inputs[5], -1)
    y = _float_op(ctx, node, "MatMul", {}, [a, b])
    return quantize(ctx, y, inputs[6], inputs[7], -1)


# ---- com.microsoft ------------------------------------------------------------------------------------
def _qlinear_binary(op_type):
    """QLinearAdd / QLinearMul: (A, A_scale, A_zp, B, B_scale, B_zp, C_scale, C_zp)."""
    def convert(ctx, node, attrs, inputs):
        a = dequantize(ctx, inputs[0], inputs[1], inputs[2])
        b = dequantize(ctx, inputs[3], inputs[4], inputs[5])
        return quantize(ctx, _float_op(ctx, node, op_type, {}, [a, b]), inputs[6], inputs[7])
    return convert


def _qlinear_unary(op_type, channels_last_ok=False):
    """(X, X_scale, X_zp, Y_scale, Y_zp) around the float ``op_type`` with the node's attributes."""
    def convert(ctx, node, attrs, inputs):
        attrs = dict(attrs)
        if int(attrs.pop("channels_last", 0)):
            raise ctx.unsupported("channels_last=1")
        x = dequantize(ctx, inputs[0], inputs[1], inputs[2])
        return quantize(ctx, _float_op(ctx, node, op_type, attrs, [x]), inputs[3], inputs[4])
    return convert


ONNX_IMPORT.add("com.microsoft.QLinearAdd", _qlinear_binary("Add"), since=1)
ONNX_IMPORT.add("com.microsoft.QLinearMul", _qlinear_binary("Mul"), since=1)
ONNX_IMPORT.add("com.microsoft.QLinearSigmoid", _qlinear_unary("Sigmoid"), since=1)
ONNX_IMPORT.add("com.microsoft.QLinearLeakyRelu", _qlinear_unary("LeakyRelu"), since=1)
ONNX_IMPORT.add("com.microsoft.QLinearGlobalAveragePool", _qlinear_unary("GlobalAveragePool"), since=1)
ONNX_IMPORT.add("com.microsoft.QLinearAveragePool", _qlinear_unary("AveragePool"), since=1)


@ONNX_IMPORT.register("com.microsoft.QLinearConcat", since=1)
def qlinear_concat(ctx, node, attrs, inputs):
    """(Y_scale, Y_zp, then (X, X_scale, X_zp) per operand)."""
    parts = [dequantize(ctx, inputs[i], inputs[i + 1], inputs[i + 2]) for i in range(2, len(inputs), 3)]
    y = _float_op(ctx, node, "Concat", {"axis": int(attrs.get("axis", 1))}, parts)
    return quantize(ctx, y, inputs[0], inputs[1])


@ONNX_IMPORT.register("com.microsoft.QGemm", since=1)
def qgemm(ctx, node, attrs, inputs):
    """(A, A_scale, A_zp, B, B_scale, B_zp, C, Y_scale, Y_zp): int32 bias C with scale A_scale * B_scale
    (per column of the output); without Y_scale the output stays float."""
    trans_b = int(attrs.get("transB", 0))
    a = dequantize(ctx, inputs[0], inputs[1], inputs[2])
    b = dequantize(ctx, inputs[3], inputs[4], inputs[5], 0 if trans_b else 1)
    alpha = float(attrs.get("alpha", 1.0))
    c = _bias(ctx, inputs[6], inputs[1], inputs[4])
    gemm_attrs = {"transA": int(attrs.get("transA", 0)), "transB": trans_b, "alpha": alpha}
    y = _float_op(ctx, node, "Gemm", gemm_attrs, [a, b] + ([c] if c is not None else []))
    if inputs[7] is None:
        return y
    return quantize(ctx, y, inputs[7], inputs[8])
