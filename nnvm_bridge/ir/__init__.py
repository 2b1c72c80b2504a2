"""The NNVM graph IR: graph, JSON I/O, attribute encoding, dtype codes, params, passes."""
from .graph import Entry, Graph, Node, topo_order, variable
from .json_io import load_json, parse_json, save_json

__all__ = ["Entry", "Graph", "Node", "topo_order", "variable", "load_json", "parse_json", "save_json"]
