"""MXNet 1.9.1 operator attributes: kinds and defaults, and a typed reader over raw strings.

MXNet symbol JSON stores only the attributes a user set explicitly, so every handler reads
through :class:`MxAttrs`, which applies *MXNet's* defaults (taken from the 1.9.1 op docs and
``src/operator/**``) -- e.g. BatchNorm ``eps=1e-3, fix_gamma=True``, Deconvolution
``no_bias=True``, Pooling ``count_include_pad=True`` -- never NNVM's.
"""
from __future__ import annotations

from ...errors import AttributeParseError
from ...ir import attrs as _attrs

REQUIRED = object()

# kind names: int, float, bool, str, shape, opt_<kind> (None allowed), pos_<kind> (values > 0),
# nonneg_<kind> (values >= 0), opt_int_tuple (None allowed per element)
_CONV = dict(kernel=("pos_shape", REQUIRED), stride=("pos_shape", ()), dilate=("pos_shape", ()),
             pad=("nonneg_shape", ()), num_filter=("pos_int", REQUIRED), num_group=("pos_int", 1),
             no_bias=("bool", False), layout=("opt_str", None))
_SOFTMAX = dict(axis=("int", -1), temperature=("opt_float", None), dtype=("opt_str", None),
                use_length=("opt_bool", False))
_REDUCE = dict(axis=("opt_shape", None), keepdims=("bool", False), exclude=("bool", False))
_SCALAR = dict(scalar=("float", 1.0))

TABLE = {
    "Convolution": _CONV,
    "Deconvolution": dict(_CONV, no_bias=("bool", True), adj=("nonneg_shape", ()),
                          target_shape=("nonneg_shape", ())),
    "Pooling": dict(kernel=("pos_shape", ()), pool_type=("str", "max"), global_pool=("bool", False),
                    pooling_convention=("str", "valid"), stride=("pos_shape", ()), pad=("nonneg_shape", ()),
                    p_value=("opt_int", None), count_include_pad=("opt_bool", None), layout=("opt_str", None)),
    "BatchNorm": dict(eps=("float", 1e-3), momentum=("float", 0.9), fix_gamma=("bool", True),
                      use_global_stats=("bool", False), output_mean_var=("bool", False), axis=("int", 1)),
    "FullyConnected": dict(num_hidden=("pos_int", REQUIRED), no_bias=("bool", False), flatten=("bool", True)),
    "Activation": dict(act_type=("str", REQUIRED)),
    "LeakyReLU": dict(act_type=("str", "leaky"), slope=("float", 0.25), lower_bound=("float", 0.125),
                      upper_bound=("float", 0.334)),
    "softmax": _SOFTMAX, "log_softmax": _SOFTMAX, "softmin": _SOFTMAX,
    "SoftmaxOutput": dict(multi_output=("bool", False), preserve_shape=("bool", False)),
    "SoftmaxActivation": dict(mode=("str", "instance")),
    "Dropout": dict(p=("float", 0.5), mode=("str", "training")),
    "Reshape": dict(shape=("shape", ()), reverse=("bool", False), target_shape=("shape", ()),
                    keep_highest=("bool", False)),
    "transpose": dict(axes=("shape", ())),
    "SwapAxis": dict(dim1=("int", 0), dim2=("int", 0)),
    "expand_dims": dict(axis=("int", REQUIRED)),
    "squeeze": dict(axis=("opt_shape", None)),
    "Concat": dict(dim=("int", 1), num_args=("int", 0)),
    "SliceChannel": dict(num_outputs=("pos_int", REQUIRED), axis=("int", 1), squeeze_axis=("bool", False)),
    "_split_v2": dict(indices=("shape", ()), axis=("int", 1), squeeze_axis=("bool", False), sections=("int", 0)),
    "slice": dict(begin=("opt_int_tuple", REQUIRED), end=("opt_int_tuple", REQUIRED), step=("opt_int_tuple", ())),
    "slice_axis": dict(axis=("int", REQUIRED), begin=("int", REQUIRED), end=("opt_int", REQUIRED)),
    "slice_like": dict(axes=("shape", ())),
    "Crop": dict(num_args=("int", 1), offset=("nonneg_shape", (0, 0)), h_w=("nonneg_shape", (0, 0)),
                 center_crop=("bool", False)),
    "clip": dict(a_min=("float", REQUIRED), a_max=("float", REQUIRED)),
    "Cast": dict(dtype=("str", REQUIRED)),
    "dot": dict(transpose_a=("bool", False), transpose_b=("bool", False)),
    "Embedding": dict(input_dim=("pos_int", REQUIRED), output_dim=("pos_int", REQUIRED), dtype=("str", "float32")),
    "take": dict(axis=("int", 0), mode=("str", "clip")),
    "UpSampling": dict(scale=("pos_int", REQUIRED), num_filter=("int", 0), sample_type=("str", REQUIRED),
                       multi_input_mode=("str", "concat"), num_args=("int", 1)),
    "Pad": dict(mode=("str", REQUIRED), pad_width=("nonneg_shape", REQUIRED), constant_value=("float", 0.0)),
    "sum": _REDUCE,
    "argmax": dict(axis=("opt_int", None), keepdims=("bool", False)),
    "norm": dict(ord=("int", 2), axis=("opt_shape", None), keepdims=("bool", False)),
    "tile": dict(reps=("nonneg_shape", REQUIRED)),
    "repeat": dict(repeats=("nonneg_int", REQUIRED), axis=("opt_int", None)),
    "stack": dict(axis=("int", 0), num_args=("int", 0)),
    "InstanceNorm": dict(eps=("float", 1e-3)),
    "LayerNorm": dict(axis=("int", -1), eps=("float", 1e-5), output_mean_var=("bool", False)),
    "GroupNorm": dict(num_groups=("pos_int", 1), eps=("float", 1e-5), output_mean_var=("bool", False)),
    "LRN": dict(alpha=("float", 1e-4), beta=("float", 0.75), knorm=("float", 2.0), nsize=("pos_int", REQUIRED)),
    "L2Normalization": dict(eps=("float", 1e-10), mode=("str", "instance")),
    "hard_sigmoid": dict(alpha=("float", 0.2), beta=("float", 0.5)),
    "broadcast_to": dict(shape=("shape", ())),
    "broadcast_axis": dict(axis=("shape", ()), size=("shape", ())),
    "broadcast_like": dict(lhs_axes=("opt_shape", None), rhs_axes=("opt_shape", None)),
    "reverse": dict(axis=("shape", REQUIRED)),
    "topk": dict(axis=("opt_int", -1), k=("int", 1), ret_typ=("str", "indices"), is_ascend=("bool", False),
                 dtype=("str", "float32")),
    "one_hot": dict(depth=("pos_int", REQUIRED), on_value=("float", 1.0), off_value=("float", 0.0),
                    dtype=("str", "float32")),
    "_zeros": dict(shape=("nonneg_shape", ()), dtype=("str", "float32")),
    "_full": dict(shape=("nonneg_shape", ()), dtype=("str", "float32"), value=("float", REQUIRED)),
    "_arange": dict(start=("float", 0.0), stop=("opt_float", None), step=("float", 1.0), repeat=("int", 1),
                    dtype=("str", "float32")),
    "_contrib_AdaptiveAvgPooling2D": dict(output_size=("shape", ())),
    "add_n": dict(num_args=("int", 0)),
    "scalar": _SCALAR,
}
# ops sharing a table
for _alias, _base in {"Convolution_v1": "Convolution", "Pooling_v1": "Pooling", "concat": "Concat",
                      "split": "SliceChannel", "crop": "slice", "mean": "sum", "max": "sum", "min": "sum",
                      "prod": "sum", "nansum": "sum", "nanprod": "sum", "argmin": "argmax", "swapaxes": "SwapAxis",
                      "cast": "Cast", "amp_cast": "Cast", "ElementWiseSum": "add_n", "_ones": "_zeros",
                      "flip": "reverse", "broadcast_axes": "broadcast_axis"}.items():
    TABLE[_alias] = TABLE[_base]


def _parse_opt_int_tuple(text):
    """'(None, 2)' -> (None, 2): MXNet slice begin/end allow None per axis."""
    if isinstance(text, (list, tuple)):
        items = list(text)
    else:
        item = _attrs._scan_nested(str(text))
        items = [item] if isinstance(item, str) else item
    out = []
    for x in items:
        if isinstance(x, list):
            raise _attrs.BadValue("expected a flat tuple")
        s = str(x).strip()
        out.append(None if s.lower() == "none" else _attrs.parse_int(s))
    return tuple(out)


def _parse(kind: str, text):
    if kind == "opt_int_tuple":
        return _parse_opt_int_tuple(text)
    optional = kind.startswith("opt_")
    base = kind[4:] if optional else kind
    low = None
    if base.startswith("pos_"):
        base, low = base[4:], 1
    elif base.startswith("nonneg_"):
        base, low = base[7:], 0
    val = _attrs.parse_value(base, text, optional=optional)
    if low is not None and val is not None:
        items = val if isinstance(val, tuple) else (val,)
        if any(v < low for v in items):
            raise _attrs.BadValue("must be positive" if low else "must not be negative")
    return val


class MxAttrs:
    """Typed read access to one MXNet node's string attributes, with MXNet's defaults."""

    def __init__(self, op: str, node: str, raw: dict, table: dict | None = None, file=None):
        self.op, self.node, self.raw, self.file = op, node, dict(raw), file
        self.table = TABLE.get(op, {}) if table is None else table
        self._cache = {}

    def __contains__(self, key):
        return key in self.raw

    def __getitem__(self, key):
        if key in self._cache:
            return self._cache[key]
        kind, default = self.table.get(key, (None, REQUIRED))
        if kind is None:
            raise KeyError(f"no MXNet attribute table entry for {self.op}.{key}")  # programming error
        if key not in self.raw:
            if default is REQUIRED:
                raise AttributeParseError(f"missing required attribute {key!r}", node=self.node, op=self.op,
                                          file=self.file)
            val = default
        else:
            try:
                val = _parse(kind, self.raw[key])
            except (_attrs.BadValue, ValueError, TypeError, OverflowError) as exc:
                raise AttributeParseError(f"attribute {key!r}={self.raw[key]!r}: {exc}", node=self.node,
                                          op=self.op, file=self.file) from None
        self._cache[key] = val
        return val

    def get(self, key, kind: str, default=None):
        """Read an attribute outside the table (generic handlers)."""
        if key not in self.raw:
            return default
        try:
            return _parse(kind, self.raw[key])
        except (_attrs.BadValue, ValueError, TypeError, OverflowError) as exc:
            raise AttributeParseError(f"attribute {key!r}={self.raw[key]!r}: {exc}", node=self.node, op=self.op,
                                      file=self.file) from None

    def error(self, message: str, cls=AttributeParseError):
        return cls(message, node=self.node, op=self.op, file=self.file)

    def choice(self, key, choices):
        val = self[key]
        if val not in choices:
            raise self.error(f"attribute {key!r}={val!r} must be one of {list(choices)}")
        return val
