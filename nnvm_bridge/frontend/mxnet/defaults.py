"""MXNet 1.9.1 operator attributes: the specs (kinds and defaults) and a typed reader over raw strings.

MXNet symbol JSON stores only the attributes a user set explicitly, so every handler reads
through :class:`MxAttrs`, which applies *MXNet's* defaults (taken from the 1.9.1 op docs and
``src/operator/**``) -- e.g. BatchNorm ``eps=1e-3, fix_gamma=True``, Deconvolution
``no_bias=True``, Pooling ``count_include_pad=True`` -- never NNVM's.

Specs use the op table's :class:`~nnvm_bridge.ops.registry.Attr` (``optional``: None allowed,
``min``: smallest value of every element, ``choices``) and are handed to the registry with
``attrs=``.  One kind is MXNet's own: ``"tuple_opt_int"``, an int tuple whose elements may be None
(slice begin/end/step).
"""
from __future__ import annotations

from ...errors import AttributeParseError
from ...ir import attrs as _attrs
from ...ops.registry import Attr

_CONV_LIKE = dict(kernel=Attr("shape", min=1), stride=Attr("shape", (), min=1), dilate=Attr("shape", (), min=1),
                  pad=Attr("shape", (), min=0), num_filter=Attr("int", min=1), num_group=Attr("int", 1, min=1),
                  layout=Attr("str", None, optional=True))
CONVOLUTION = dict(_CONV_LIKE, no_bias=Attr("bool", False))
DECONVOLUTION = dict(_CONV_LIKE, no_bias=Attr("bool", True), adj=Attr("shape", (), min=0),
                     target_shape=Attr("shape", (), min=0))
POOLING = dict(kernel=Attr("shape", (), min=1), pool_type=Attr("str", "max", choices=("max", "avg", "sum", "lp")),
               global_pool=Attr("bool", False),
               pooling_convention=Attr("str", "valid", choices=("valid", "full", "same")),
               stride=Attr("shape", (), min=1), pad=Attr("shape", (), min=0), p_value=Attr("int", None, optional=True),
               count_include_pad=Attr("bool", None, optional=True), layout=Attr("str", None, optional=True))
ADAPTIVE_AVG_POOLING = dict(output_size=Attr("shape", ()))
BATCH_NORM = dict(eps=Attr("float", 1e-3), momentum=Attr("float", 0.9), fix_gamma=Attr("bool", True),
                  use_global_stats=Attr("bool", False), output_mean_var=Attr("bool", False), axis=Attr("int", 1))
INSTANCE_NORM = dict(eps=Attr("float", 1e-3))
LAYER_NORM = dict(axis=Attr("int", -1), eps=Attr("float", 1e-5), output_mean_var=Attr("bool", False))
GROUP_NORM = dict(num_groups=Attr("int", 1, min=1), eps=Attr("float", 1e-5), output_mean_var=Attr("bool", False))
LRN = dict(alpha=Attr("float", 1e-4), beta=Attr("float", 0.75), knorm=Attr("float", 2.0), nsize=Attr("int", min=1))
L2_NORMALIZATION = dict(eps=Attr("float", 1e-10),
                        mode=Attr("str", "instance", choices=("instance", "channel", "spatial")))
FULLY_CONNECTED = dict(num_hidden=Attr("int", min=1), no_bias=Attr("bool", False), flatten=Attr("bool", True))
EMBEDDING = dict(input_dim=Attr("int", min=1), output_dim=Attr("int", min=1), dtype=Attr("str", "float32"))
ACTIVATION = dict(act_type=Attr("str", choices=("relu", "sigmoid", "tanh", "softrelu", "softsign", "log_sigmoid",
                                                "mish")))
LEAKY_RELU = dict(act_type=Attr("str", "leaky", choices=("leaky", "prelu", "elu", "selu", "gelu", "rrelu")),
                  slope=Attr("float", 0.25), lower_bound=Attr("float", 0.125), upper_bound=Attr("float", 0.334))
HARD_SIGMOID = dict(alpha=Attr("float", 0.2), beta=Attr("float", 0.5))
SOFTMAX = dict(axis=Attr("int", -1), temperature=Attr("float", None, optional=True),
               dtype=Attr("str", None, optional=True), use_length=Attr("bool", False, optional=True))
SOFTMAX_OUTPUT = dict(multi_output=Attr("bool", False), preserve_shape=Attr("bool", False))
SOFTMAX_ACTIVATION = dict(mode=Attr("str", "instance", choices=("instance", "channel")))
DROPOUT = dict(p=Attr("float", 0.5), mode=Attr("str", "training"))
UPSAMPLING = dict(scale=Attr("int", min=1), num_filter=Attr("int", 0),
                  sample_type=Attr("str", choices=("nearest", "bilinear")),
                  multi_input_mode=Attr("str", "concat", choices=("concat", "sum")), num_args=Attr("int", 1))
PAD = dict(mode=Attr("str", choices=("constant", "edge", "reflect")), pad_width=Attr("shape", min=0),
           constant_value=Attr("float", 0.0))

RESHAPE = dict(shape=Attr("shape", ()), reverse=Attr("bool", False), target_shape=Attr("shape", ()),
               keep_highest=Attr("bool", False))
NPX_RESHAPE = dict(newshape=Attr("shape", ()), reverse=Attr("bool", False), order=Attr("str", "C"))
TRANSPOSE = dict(axes=Attr("shape", ()))
SWAP_AXIS = dict(dim1=Attr("int", 0), dim2=Attr("int", 0))
EXPAND_DIMS = dict(axis=Attr("int"))
SQUEEZE = dict(axis=Attr("shape", None, optional=True))
CONCAT = dict(dim=Attr("int", 1), num_args=Attr("int", 0))
STACK = dict(axis=Attr("int", 0), num_args=Attr("int", 0))
SLICE_CHANNEL = dict(num_outputs=Attr("int", min=1), axis=Attr("int", 1), squeeze_axis=Attr("bool", False))
SPLIT_V2 = dict(indices=Attr("shape", ()), axis=Attr("int", 1), squeeze_axis=Attr("bool", False),
                sections=Attr("int", 0))
SLICE = dict(begin=Attr("tuple_opt_int"), end=Attr("tuple_opt_int"), step=Attr("tuple_opt_int", ()))
SLICE_AXIS = dict(axis=Attr("int"), begin=Attr("int"), end=Attr("int", optional=True))
SLICE_LIKE = dict(axes=Attr("shape", ()))
CROP = dict(num_args=Attr("int", 1), offset=Attr("shape", (0, 0), min=0), h_w=Attr("shape", (0, 0), min=0),
            center_crop=Attr("bool", False))
CLIP = dict(a_min=Attr("float"), a_max=Attr("float"))
CAST = dict(dtype=Attr("str"))
DOT = dict(transpose_a=Attr("bool", False), transpose_b=Attr("bool", False))
TAKE = dict(axis=Attr("int", 0), mode=Attr("str", "clip", choices=("clip", "wrap", "raise")))
ONE_HOT = dict(depth=Attr("int", min=1), on_value=Attr("float", 1.0), off_value=Attr("float", 0.0),
               dtype=Attr("str", "float32"))
TOPK = dict(axis=Attr("int", -1, optional=True), k=Attr("int", 1),
            ret_typ=Attr("str", "indices", choices=("value", "indices", "both", "mask")), is_ascend=Attr("bool", False),
            dtype=Attr("str", "float32"))
REDUCE = dict(axis=Attr("shape", None, optional=True), keepdims=Attr("bool", False), exclude=Attr("bool", False))
ARG_REDUCE = dict(axis=Attr("int", None, optional=True), keepdims=Attr("bool", False))
NORM = dict(ord=Attr("int", 2), axis=Attr("shape", None, optional=True), keepdims=Attr("bool", False))
BROADCAST_TO = dict(shape=Attr("shape", ()))
BROADCAST_AXIS = dict(axis=Attr("shape", ()), size=Attr("shape", ()))
BROADCAST_LIKE = dict(lhs_axes=Attr("shape", None, optional=True), rhs_axes=Attr("shape", None, optional=True))
TILE = dict(reps=Attr("shape", min=0))
CUMSUM = dict(axis=Attr("int", None, optional=True), dtype=Attr("str", None, optional=True))
REPEAT = dict(repeats=Attr("int", min=0), axis=Attr("int", None, optional=True))
REVERSE = dict(axis=Attr("shape"))
ZEROS = dict(shape=Attr("shape", (), min=0), dtype=Attr("str", "float32"))
FULL = dict(shape=Attr("shape", (), min=0), dtype=Attr("str", "float32"), value=Attr("float"))
ARANGE = dict(start=Attr("float", 0.0), stop=Attr("float", None, optional=True), step=Attr("float", 1.0),
              repeat=Attr("int", 1), dtype=Attr("str", "float32"))
ADD_N = dict(num_args=Attr("int", 0))
SCALAR = dict(scalar=Attr("float", 1.0))


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


def _parse(spec: Attr, text):
    if spec.kind == "tuple_opt_int":
        return _parse_opt_int_tuple(text)
    val = _attrs.parse_value(spec.kind, text, optional=spec.optional)
    if spec.min is not None and val is not None:
        items = val if isinstance(val, tuple) else (val,)
        if any(v < spec.min for v in items):
            raise _attrs.BadValue({0: "must not be negative", 1: "must be positive"}.get(
                spec.min, f"must be >= {spec.min}"))
    return val


class MxAttrs:
    """Typed read access to one MXNet node's string attributes, with MXNet's defaults.

    Values are parsed leniently when a handler reads them, so an attribute the handler never
    reads cannot fail the conversion.
    """

    def __init__(self, op: str, node: str, raw: dict, spec: dict | None = None, file=None):
        self.op, self.node, self.raw, self.file = op, node, dict(raw), file
        self.spec = spec or {}
        self._cache = {}

    def __contains__(self, key):
        return key in self.raw

    def __getitem__(self, key):
        if key in self._cache:
            return self._cache[key]
        spec = self.spec.get(key)
        if spec is None:
            raise KeyError(f"no MXNet attribute spec for {self.op}.{key}")  # programming error
        if key not in self.raw:
            if spec.required:
                raise self.error(f"missing required attribute {key!r}")
            val = spec.default
        else:
            try:
                val = _parse(spec, self.raw[key])
            except (_attrs.BadValue, ValueError, TypeError, OverflowError) as exc:
                raise self.error(f"attribute {key!r}={self.raw[key]!r}: {exc}") from None
        if spec.choices is not None and val not in spec.choices:
            raise self.error(f"attribute {key!r}={val!r} must be one of {list(spec.choices)}")
        self._cache[key] = val
        return val

    def error(self, message: str, cls=AttributeParseError):
        return cls(message, node=self.node, op=self.op, file=self.file)
