"""Control-flow ops (extensions): nodes with subgraphs.

Their semantics, and the shape, dtype and numpy rules that need the subgraphs, are in
``nnvm_bridge/ir/control.py``; the table holds what every other op has (inputs, attributes, output counts).
"""
from __future__ import annotations

from .registry import Attr, register

register("if", inputs=(), variadic=True, attrs={"num_outputs": Attr("int", min=1)},
         num_outputs=lambda a: a.num_outputs, subgraphs=("then_branch", "else_branch"), level=6, ext=True,
         doc="ONNX If: inputs (cond, *args); both branches take args (outer values captured as inputs) and "
             "give num_outputs values")
register("loop", inputs=(), variadic=True,
         attrs={"num_carried": Attr("int", 0, min=0), "num_scan": Attr("int", 0, min=0),
                "trip_count": Attr("str", None, optional=True,
                                   doc="the number of iterations when the importer knows it (a dim's text)")},
         num_outputs=lambda a: a.num_carried + a.num_scan, subgraphs=("body",), level=6, ext=True,
         doc="ONNX Loop: inputs (max_trip_count, cond, *carried, *captured); the body takes (iteration, cond, "
             "*carried, *captured) and gives (cond, *carried, *scan elements); outputs the final carried "
             "values and the scan elements stacked on a new axis 0")
