"""Shared shape and dtype rules used by the op definitions."""
from __future__ import annotations


from ..errors import ShapeError
from ..ir.symbolic import as_dim, dim_max, dim_min, is_symbolic


def known(shapes) -> bool:
    return all(s is not None for s in shapes)


def norm_axis(axis: int, ndim: int, op: str = "", extra: int = 0) -> int:
    """Normalise a possibly negative axis; ``extra`` widens the range (expand_dims)."""
    n = ndim + extra
    if not -n <= axis < n:
        raise ShapeError(f"axis {axis} out of range for a {ndim}-d tensor", op=op or None)
    return axis % n if n else 0


def broadcast_shapes(a, b, op: str = ""):
    a, b = tuple(a), tuple(b)
    n = max(len(a), len(b))
    a = (1,) * (n - len(a)) + a
    b = (1,) * (n - len(b)) + b
    out = []
    for x, y in zip(a, b):
        if x == y or y == 1:
            out.append(x)
        elif x == 1:
            out.append(y)
        elif is_symbolic(x) or is_symbolic(y):
            # a valid pair is equal or has a 1, so the result is the larger; the compiled code checks it
            out.append(y if is_symbolic(x) and not is_symbolic(y) else x if not is_symbolic(x) else dim_max(x, y))
        else:
            raise ShapeError(f"cannot broadcast shapes {a} and {b}", op=op or None)
    return tuple(out)


# dtype names an attribute of kind "dtype" may take.
DTYPES = ("float32", "float64", "float16", "uint8", "int32", "int8", "int64", "int16", "uint16", "uint32",
          "uint64", "bool", "bfloat16", "float8_e4m3fn", "float8_e4m3fnuz", "float8_e5m2", "float8_e5m2fnuz",
          "float8_e8m0fnu")
ROUND_MODES = ("up", "down", "nearest")  # casts to float8_e8m0fnu


def same_shape(attrs, shapes):
    return [shapes[0]]


def broadcast_shape(attrs, shapes):
    """Shape rule of a numpy-broadcasting binary op."""
    if not known(shapes):
        return [None]
    return [broadcast_shapes(shapes[0], shapes[1])]


def pad_shape(attrs, shapes):
    """Shape rule of pad and mirror_pad: ``pad_width`` holds (before, after) per axis."""
    if not known(shapes):
        return [None]
    d = shapes[0]
    if len(attrs.pad_width) != len(d):
        raise ShapeError(f"pad_width has {len(attrs.pad_width)} entries for a {len(d)}-d tensor")
    return [tuple(x + p[0] + p[1] for x, p in zip(d, attrs.pad_width))]


def reduce_axes(attrs, ndim):
    """The axes a reduction runs over, honouring NNVM's ``exclude`` flag (empty = all)."""
    if not attrs.axis:
        axes = set(range(ndim))
        return tuple(sorted(axes)) if not attrs.exclude else ()
    axes = {norm_axis(x, ndim) for x in attrs.axis}
    if attrs.exclude:
        axes = set(range(ndim)) - axes
    return tuple(sorted(axes))


def reduce_shape(attrs, shapes):
    """Shape rule of a reduction over ``reduce_axes`` (a full reduction gives shape (1,))."""
    if not known(shapes):
        return [None]
    d = shapes[0]
    axes = reduce_axes(attrs, len(d))
    if attrs.keepdims:
        return [tuple(1 if i in axes else x for i, x in enumerate(d))]
    out = tuple(x for i, x in enumerate(d) if i not in axes)
    return [out if out else (1,)]


# Layout names of channel-first data and kernels, by number of spatial dims.
DATA_LAYOUTS = {1: "NCW", 2: "NCHW", 3: "NCDHW"}
KERNEL_LAYOUTS = {1: "OIW", 2: "OIHW", 3: "OIDHW"}


def pool_out(size, k, s, pb, pe, ceil_mode, dilation=1):
    """The IR's pooling length (MXNet's "full" convention in ceil mode: a last window that starts
    in the end padding is kept)."""
    eff = dilation * (k - 1) + 1
    span = size + pb + pe - eff
    if span < 0:
        raise ShapeError(f"window {eff} larger than padded input {size + pb + pe}")
    if ceil_mode:
        return (span + s - 1) // s + 1
    return span // s + 1


def ceil_may_drop_last(k, s, pe):
    """Whether some input length makes the two ceil-mode conventions differ (the IR keeps a last window that
    starts in the end padding, ONNX and Relax drop it): the last window starts at ceil(span/s)*s <= span + s - 1,
    which reaches the end padding only if pe >= k - s + 1. When False, they agree at every length (symbolic too)."""
    return pe > k - s


def pool_out_dropping_last(size, k, s, pb, pe):
    """Ceil-mode length as ONNX, onnxruntime, PyTorch and Relax give it: a last window that would
    start inside the end padding is dropped."""
    # the ceil-mode count, capped by the number of window starts before the end padding (exact for symbolic sizes)
    return dim_min((size + pb + pe - k + s - 1) // s + 1, (size + pb + s - 1) // s)


def floor_mode_tails(sizes, kernel, strides, begins, ends, lengths):
    """Per spatial dim, the extra end padding that makes floor-mode pooling give ``lengths`` windows."""
    return [max(0, (n_out - 1) * s + k - (n + b + e))
            for n, k, s, b, e, n_out in zip(sizes, kernel, strides, begins, ends, lengths)]


def prod(xs):
    """The product of dims (an int, or a symbolic Dim when a dim is symbolic)."""
    p = 1
    for x in xs:
        p *= as_dim(x)
    return p


def per_dim(value, nsp):
    """A spatial attribute as one value per spatial dim (a 1-tuple applies to all)."""
    v = tuple(value)
    return v * nsp if len(v) == 1 else v


def expand_pads(padding, nsp):
    """NNVM padding -> (begins, ends): n ints are symmetric per spatial dim; 2n ints are all begins then all ends."""
    p = tuple(padding)
    if len(p) == 1:
        p = p * nsp
    if len(p) == nsp:
        return p, p
    if len(p) == 2 * nsp:
        return p[:nsp], p[nsp:]
    raise ShapeError(f"padding {padding} does not fit {nsp} spatial dims")
