"""Vision ops of NNVM v0.6 (level 5).  Registered so such graphs load and validate;
converters for them are not provided yet (they are reported as unsupported)."""
from __future__ import annotations

from .common import known
from .registry import Attr, register


def _reorg_shape(a, shapes):
    if not known(shapes):
        return [None]
    n, c, h, w = shapes[0]
    s = a.stride
    return [(n, c * s * s, h // s, w // s)]


register("multibox_prior", attrs={"sizes": Attr("tuple_float", (1.0,)), "ratios": Attr("tuple_float", (1.0,)),
                                  "steps": Attr("tuple_float", (-1.0, -1.0)),
                                  "offsets": Attr("tuple_float", (0.5, 0.5)), "clip": Attr("bool", False)}, level=5)
register("multibox_transform_loc", inputs=("cls_prob", "loc_pred", "anchor"), num_outputs=2,
         attrs={"clip": Attr("bool", True), "threshold": Attr("float", 0.01),
                "variances": Attr("tuple_float", (0.1, 0.1, 0.2, 0.2))}, level=5)
register("non_max_suppression", inputs=("data", "valid_count"),
         attrs={"max_output_size": Attr("int", -1), "iou_threshold": Attr("float", 0.5),
                "force_suppress": Attr("bool", False), "top_k": Attr("int", -1), "coord_start": Attr("int", 2),
                "score_index": Attr("int", 1), "id_index": Attr("int", 0), "return_indices": Attr("bool", True),
                "invalid_to_bottom": Attr("bool", False)}, level=5)
register("yolo_reorg", attrs={"stride": Attr("int", 1)}, infer_shape=_reorg_shape, level=5)
