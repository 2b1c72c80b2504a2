"""Tensor transform ops (NNVM transform.cc / matrix_op.cc)."""
from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from ..ir.symbolic import is_symbolic, may_equal, slice_indices, slice_length, taken_as_equal
from . import numpy_ref as ref
from .common import DTYPES, ROUND_MODES, broadcast_shapes, known, norm_axis, prod
from .registry import Attr, register


def _flatten_shape(a, shapes):
    if not known(shapes):
        return [None]
    d = shapes[0]
    if not d:
        return [(1, 1)]
    return [(d[0], prod(d[1:]))]


def _concat_shape(a, shapes):
    if not known(shapes):
        return [None]
    base = list(shapes[0])
    ax = norm_axis(a.axis, len(base))
    total = 0
    for s in shapes:
        if len(s) != len(base) or any(not may_equal(x, y) for i, (x, y) in enumerate(zip(s, base)) if i != ax):
            raise ShapeError(f"cannot concatenate shapes {shapes} along axis {a.axis}")
        # symbolic dims that differ: the model implies them equal (run time checks it)
        base = [y if i == ax else taken_as_equal(x, y) for i, (x, y) in enumerate(zip(s, base))]
        total += s[ax]
    base[ax] = total
    return [tuple(base)]


def _expand_dims_shape(a, shapes):
    if not known(shapes):
        return [None]
    d = list(shapes[0])
    ax = norm_axis(a.axis, len(d), extra=1)
    return [tuple(d[:ax] + [1] * a.num_newaxis + d[ax:])]


def _squeeze_shape(a, shapes):
    if not known(shapes):
        return [None]
    d = shapes[0]
    if not a.axis:
        return [tuple(x for x in d if x != 1)]
    axes = {norm_axis(x, len(d)) for x in a.axis}
    for ax in axes:
        if d[ax] != 1:
            raise ShapeError(f"cannot squeeze axis {ax} of size {d[ax]}")
    return [tuple(x for i, x in enumerate(d) if i not in axes)]


def split_points(a, dim):
    """Cumulative split indices for the split op (sections int or explicit indices)."""
    ios = a.indices_or_sections
    if isinstance(ios, int):
        if ios <= 0 or (dim % ios and not is_symbolic(dim)):
            raise ShapeError(f"cannot split a dim of {dim} into {ios} equal sections")
        step = dim // ios
        return [step * i for i in range(1, ios)]
    return list(ios)


def _split_outputs(a):
    ios = a.indices_or_sections
    return ios if isinstance(ios, int) else len(ios) + 1


def _split_shape(a, shapes):
    n = _split_outputs(a)
    if not known(shapes):
        return [None] * n
    d = list(shapes[0])
    ax = norm_axis(a.axis, len(d))
    pts = [0] + split_points(a, d[ax]) + [d[ax]]
    out = []
    for b, e in zip(pts[:-1], pts[1:]):
        if e < b:
            raise ShapeError(f"split indices {a.indices_or_sections} are not increasing")
        s = list(d)
        s[ax] = e - b
        out.append(tuple(s))
    return out


def _split_compute(a, xs):
    x = xs[0]
    ax = norm_axis(a.axis, x.ndim)
    return list(np.split(x, split_points(a, x.shape[ax]), axis=ax))


def reshape_output_shape(src, spec, op="reshape"):
    """The output shape of reshaping a known input shape ``src`` by an NNVM/MXNet ``spec``, whose
    special values (0, -1, -2, -3, -4) are resolved against ``src``."""
    src = list(src)
    out, i, j, infer = [], 0, 0, None
    spec = list(spec)
    while j < len(spec):
        v = spec[j]
        if v > 0:
            out.append(v)
            i += 1
        elif v == 0:
            if i >= len(src):
                raise ShapeError(f"reshape {tuple(spec)}: 0 copies a dim that {tuple(src)} does not have", op=op)
            out.append(src[i])
            i += 1
        elif v == -1:
            if infer is not None:
                raise ShapeError(f"reshape {tuple(spec)}: more than one -1", op=op)
            infer = len(out)
            out.append(1)
            i += 1
        elif v == -2:
            out.extend(src[i:])
            i = len(src)
        elif v == -3:
            if i + 1 >= len(src):
                raise ShapeError(f"reshape {tuple(spec)}: -3 needs two dims of {tuple(src)}", op=op)
            out.append(src[i] * src[i + 1])
            i += 2
        elif v == -4:
            if j + 2 >= len(spec) or i >= len(src):
                raise ShapeError(f"reshape {tuple(spec)}: -4 needs two following values", op=op)
            d0, d1 = spec[j + 1], spec[j + 2]
            whole = src[i]
            if d0 == -1 and d1 == -1:
                raise ShapeError(f"reshape {tuple(spec)}: -4 with two -1", op=op)
            if d0 == -1:
                d0 = whole // d1 if d1 else 0
            if d1 == -1:
                d1 = whole // d0 if d0 else 0
            if d0 * d1 != whole:
                raise ShapeError(f"reshape {tuple(spec)}: cannot split {whole} into {d0}x{d1}", op=op)
            out.extend([d0, d1])
            i += 1
            j += 2
        else:
            raise ShapeError(f"reshape {tuple(spec)}: invalid value {v}", op=op)
        j += 1
    total = prod(src)
    if infer is not None:
        rest = prod(out)
        if rest == 0 or total % rest:
            raise ShapeError(f"cannot reshape {tuple(src)} to {tuple(spec)}", op=op)
        out[infer] = total // rest
    if prod(out) != total:
        raise ShapeError(f"cannot reshape {tuple(src)} ({total} elements) to {tuple(spec)} -> {tuple(out)}", op=op)
    return tuple(out)


def _reshape_shape(a, shapes):
    if not known(shapes):
        return [None]
    return [reshape_output_shape(shapes[0], a.shape)]


def transpose_axes(a, ndim):
    """The permutation a transpose node applies: its axes, or all axes reversed when it gives none."""
    if not a.axes:
        return tuple(reversed(range(ndim)))
    axes = tuple(norm_axis(x, ndim) for x in a.axes)
    if sorted(axes) != list(range(ndim)):
        raise ShapeError(f"axes {a.axes} are not a permutation of {ndim} dims")
    return axes


def _transpose_shape(a, shapes):
    if not known(shapes):
        return [None]
    d = shapes[0]
    return [tuple(d[i] for i in transpose_axes(a, len(d)))]


def slice_bounds(a, shape):
    """Normalised (begin, end, step) per axis for strided_slice, numpy semantics."""
    out = []
    nb = len(a.begin)
    if len(a.end) != nb or (a.stride and len(a.stride) != nb) or nb > len(shape):
        raise ShapeError(f"strided_slice begin {a.begin}, end {a.end}, stride {a.stride} do not fit shape {shape}")
    for i, dim in enumerate(shape):
        if i < nb:
            st = a.stride[i] if a.stride else 1
            if st == 0:
                raise ShapeError("strided_slice stride 0")
            b, e = a.begin[i], a.end[i]
            out.append(slice_indices(dim, b, e, st))
        else:
            out.append((0, dim, 1))
    return out


def _strided_slice_shape(a, shapes):
    if not known(shapes):
        return [None]
    return [tuple(slice_length(*t, extent=d) for t, d in zip(slice_bounds(a, shapes[0]), shapes[0]))]


def _as_slice(b, e, s):
    """A python slice for normalised bounds: stop -1 means "before index 0", not "last"."""
    if not len(range(b, e, s)):
        return slice(0, 0)
    return slice(b, None if e < 0 else e, s)


def _strided_slice_compute(a, xs):
    x = xs[0]
    return [x[tuple(_as_slice(*t) for t in slice_bounds(a, x.shape))].copy()]


def _slice_like_shape(a, shapes):
    if not known(shapes):
        return [None]
    d, like = list(shapes[0]), shapes[1]
    axes = a.axis if a.axis else range(min(len(d), len(like)))
    for ax in axes:
        ax = norm_axis(ax, len(d))
        d[ax] = like[ax]
    return [tuple(d)]


def _take_shape(a, shapes):
    if not known(shapes):
        return [None]
    d, idx = shapes
    if a.axis is None:
        return [tuple(idx)]
    ax = norm_axis(a.axis, len(d))
    return [tuple(d[:ax]) + tuple(idx) + tuple(d[ax + 1:])]


def _take_compute(a, xs):
    data, idx = xs
    idx = idx.astype(np.int64)
    if a.axis is None:
        return [np.take(data.reshape(-1), idx, mode="clip")]
    return [np.take(data, idx, axis=a.axis, mode="clip")]


def _gather_nd_shape(a, shapes):
    if not known(shapes):
        return [None]
    d, idx = shapes
    return [tuple(idx[1:]) + tuple(d[idx[0]:])]


def _where_shape(a, shapes):
    if not known(shapes):
        return [None]
    c, x, y = shapes
    if tuple(x) != tuple(y):
        raise ShapeError(f"where: x {x} and y {y} must have the same shape")
    if tuple(c) != tuple(x) and not (len(c) == 1 and c[0] == x[0]):
        raise ShapeError(f"where: condition {c} must match {x} or be 1-d over axis 0")
    return [x]


def _where_compute(a, xs):
    c, x, y = xs
    if c.shape != x.shape:
        c = c.reshape((-1,) + (1,) * (x.ndim - 1))
    return [np.where(c != 0, x, y)]


def _expand_like_shape(a, shapes):
    return [shapes[1]]


def _broadcast_to_shape(a, shapes):
    if not known(shapes):
        return [None]
    d = shapes[0]
    target = tuple(t if t != 0 else d[i - (len(a.shape) - len(d))] for i, t in enumerate(a.shape))
    out = broadcast_shapes(d, target)
    if out != target:
        raise ShapeError(f"cannot broadcast {d} to {a.shape}")
    return [out]


def _matmul_shape(a, shapes):
    if not known(shapes):
        return [None]
    x, y = shapes
    if len(x) != 2 or len(y) != 2:
        raise ShapeError(f"matmul takes 2-d operands, got {x} and {y}")
    m, k = (x[1], x[0]) if a.transpose_a else x
    k2, n = (y[1], y[0]) if a.transpose_b else y
    if k != k2:
        raise ShapeError(f"matmul inner dims differ: {x} x {y}")
    return [(m, n)]


def _matmul_compute(a, xs):
    x, y = xs
    x = x.T if a.transpose_a else x
    y = y.T if a.transpose_b else y
    return [x @ y]


def _cast_type(a, dtypes):
    return [a.dtype]


register("flatten", infer_shape=_flatten_shape,
         compute=lambda a, xs: [xs[0].reshape(xs[0].shape[0] if xs[0].ndim else 1, -1)])
register("concatenate", inputs=(), variadic=True, attrs={"axis": Attr("int", 1)}, infer_shape=_concat_shape,
         compute=lambda a, xs: [np.concatenate(xs, axis=a.axis)])
register("expand_dims", attrs={"axis": Attr("int"), "num_newaxis": Attr("int", 1)}, infer_shape=_expand_dims_shape,
         compute=lambda a, xs: [xs[0].reshape(_expand_dims_shape(a, [xs[0].shape])[0])])
register("squeeze", attrs={"axis": Attr("shape", ())}, infer_shape=_squeeze_shape,
         compute=lambda a, xs: [xs[0].reshape(_squeeze_shape(a, [xs[0].shape])[0])])
register("split", attrs={"indices_or_sections": Attr("split"), "axis": Attr("int", 1)}, num_outputs=_split_outputs,
         infer_shape=_split_shape, compute=_split_compute, level=3,
         doc='indices_or_sections "2" = 2 equal sections; "(2,)" = split at index 2')
register("cast", attrs={"dtype": Attr("dtype", choices=DTYPES), "saturate": Attr("bool", True),
                        "round_mode": Attr("str", "up", choices=ROUND_MODES)},
         infer_shape=lambda a, s: [s[0]], infer_type=_cast_type, compute=ref.cast,
         doc="saturate: to a float8 type, out-of-range values become +-max (else NaN, or inf for float8_e5m2); "
             "round_mode: to float8_e8m0fnu, which power of two")
register("reshape", attrs={"shape": Attr("shape")}, infer_shape=_reshape_shape, level=3,
         compute=lambda a, xs: [xs[0].reshape(reshape_output_shape(xs[0].shape, a.shape))],
         doc="special values 0 copy, -1 infer, -2 copy rest, -3 merge two, -4 split one")
register("reshape_like", inputs=("data", "shape_like"), infer_shape=lambda a, s: [s[1]], level=4,
         compute=lambda a, xs: [xs[0].reshape(xs[1].shape)])
register("transpose", attrs={"axes": Attr("shape", ())}, infer_shape=_transpose_shape, level=4,
         compute=lambda a, xs: [np.ascontiguousarray(np.transpose(xs[0], transpose_axes(a, xs[0].ndim)))])
register("strided_slice", attrs={"begin": Attr("shape"), "end": Attr("shape"), "stride": Attr("shape", ())},
         infer_shape=_strided_slice_shape, compute=_strided_slice_compute)
register("slice_like", inputs=("data", "slice_like"), attrs={"axis": Attr("shape", ())},
         infer_shape=_slice_like_shape, compute=ref.slice_like, level=4)
register("flip", attrs={"axis": Attr("int", 0)}, infer_shape=lambda a, s: [s[0]], level=4,
         compute=lambda a, xs: [np.flip(xs[0], a.axis).copy()])
register("take", inputs=("data", "indices"), attrs={"axis": Attr("int", None, optional=True)},
         infer_shape=_take_shape, compute=_take_compute, level=3)
register("gather_nd", inputs=("data", "indices"), infer_shape=_gather_nd_shape, compute=ref.gather_nd, level=3,
         doc="MXNet convention: indices' first dim indexes data dims")
register("where", inputs=("condition", "x", "y"), infer_shape=_where_shape, compute=_where_compute, level=4,
         infer_type=lambda a, d: [d[1]])
register("expand_like", inputs=("input", "shape_like"), attrs={"axis": Attr("shape", ()),
                                                              "exclude": Attr("bool", False)},
         infer_shape=_expand_like_shape, compute=ref.expand_like, level=4)
register("broadcast_to", attrs={"shape": Attr("shape", ())}, infer_shape=_broadcast_to_shape, level=4,
         compute=lambda a, xs: [np.broadcast_to(xs[0], _broadcast_to_shape(a, [xs[0].shape])[0]).copy()])
register("matmul", inputs=("lhs", "rhs"), attrs={"transpose_a": Attr("bool", False),
                                                "transpose_b": Attr("bool", False)},
         infer_shape=_matmul_shape, compute=_matmul_compute)
