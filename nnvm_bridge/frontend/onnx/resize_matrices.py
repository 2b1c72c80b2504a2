"""Resize with antialias or tf_crop_and_resize as one constant matrix product per resized axis.

Resize is separable, so each axis' interpolation is a (n, m) matrix: its rows are what ONNX's reference
implementation makes of the n unit vectors. Those are taken from ``onnx.reference`` itself (exact for
every mode, coefficient and region of interest); tf_crop_and_resize's outside positions are zero rows,
and a constant mask adds ``extrapolation_value`` where any axis falls outside. The reference runs in
Python, so this path is for the modes the fast gathers (convert_resize.py) do not cover.
"""
from __future__ import annotations

import numpy as np

from ...errors import ShapeError
from ...ir.symbolic import is_static

_OPSET = 19


def _axis_matrix(n, attrs, scale=None, size=None, roi=None, probe=None):
    """The (n, m) matrix of one axis (or, with ``probe``, the resized 1-d ``probe``)."""
    from onnx import TensorProto, helper, numpy_helper
    from onnx.reference import ReferenceEvaluator

    keys = ("mode", "coordinate_transformation_mode", "cubic_coeff_a", "exclude_outside", "antialias",
            "nearest_mode")
    node_attrs = {k: attrs[k] for k in keys if k in attrs}
    node_attrs["extrapolation_value"] = 0.0
    data = np.eye(n, dtype=np.float32) if probe is None else probe.reshape(1, n).astype(np.float32)
    inits = [numpy_helper.from_array(np.array([0.0, roi[0], 1.0, roi[1]] if roi is not None else [],
                                              np.float32), "roi")]
    if size is not None:
        inits += [numpy_helper.from_array(np.array([data.shape[0], size], np.int64), "sizes")]
        names = ["x", "roi", "", "sizes"]
    else:
        inits += [numpy_helper.from_array(np.array([1.0, scale], np.float32), "scales")]
        names = ["x", "roi", "scales"]
    graph = helper.make_graph([helper.make_node("Resize", names, ["y"], **node_attrs)], "axis",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, data.shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", _OPSET)])
    return ReferenceEvaluator(model).run(None, {"x": data})[0]


def _along_axis(ctx, x, shape, axis, mat):
    """``x`` with axis ``axis`` (length n) replaced by ``x`` . ``mat`` (n, m)."""
    rank = len(shape)
    order = [d for d in range(rank) if d != axis] + [axis]
    moved = x if axis == rank - 1 else ctx.emit1("transpose", [x], {"axes": tuple(order)})
    rows = ctx.reshape(moved, (-1, mat.shape[0]))
    y = ctx.reshape(ctx.emit1("matmul", [rows, mat.astype(ctx.dtype(x))]), [shape[d] for d in order[:-1]] +
                    [mat.shape[1]])
    if axis == rank - 1:
        return y
    return ctx.emit1("transpose", [y], {"axes": tuple(int(v) for v in np.argsort(order))})


def resize_by_matrices(ctx, node, attrs, x, roi, scales, sizes):
    xs = ctx.shape(x)
    if xs is None or not is_static(xs):
        raise ctx.error(ShapeError, f"{node.op_type} with antialias or tf_crop_and_resize needs the static input "
                                    f"shape; give it with shape=")
    if attrs.get("keep_aspect_ratio_policy", "stretch") != "stretch":
        raise ctx.unsupported("keep_aspect_ratio_policy with antialias or tf_crop_and_resize")
    rank = len(xs)
    axes = [a % rank for a in attrs.get("axes", range(rank))]
    crop = attrs.get("coordinate_transformation_mode") == "tf_crop_and_resize"
    if crop and (roi is None or roi.size != 2 * len(axes)):
        raise ctx.error(ShapeError, "tf_crop_and_resize needs an roi of two values per resized axis")
    y, valid = ctx.entry(x), np.ones((), np.float32)
    for i, a in enumerate(axes):
        n = int(xs[a])
        box = (float(roi[i]), float(roi[len(axes) + i])) if crop else None
        scale = None if sizes is not None else float(scales[i])
        size = int(sizes[i]) if sizes is not None else None
        if (size == n or scale == 1.0) and box in (None, (0.0, 1.0)):  # this axis stays as it is
            continue
        mat = _axis_matrix(n, attrs, scale, size, box)
        y = _along_axis(ctx, y, [int(d) for d in ctx.shape(y)], a, mat)
        if crop:
            inside = _axis_matrix(n, dict(attrs, mode="nearest"), scale, size, box, probe=np.ones(n))[0] != 0
            valid = valid * inside.reshape((-1,) + (1,) * (rank - a - 1)).astype(np.float32)
    extrapolation = float(attrs.get("extrapolation_value", 0.0))
    if crop and extrapolation != 0.0 and not np.all(valid):
        y = ctx.emit1("broadcast_add", [y, (extrapolation * (1.0 - valid)).astype(ctx.dtype(x))])
    return y
