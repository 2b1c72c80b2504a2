"""Passes over the NNVM graph IR; each is a function Graph -> Graph (plus params where needed)."""
from .batch_norm import fold_batch_norm
from .control_flow import has_control_flow, lower_control_flow
from .dead_code import eliminate_dead_nodes
from .proposal import expand_proposal
from .fold import fold_constants
from .infer import infer_shape, infer_type
from .loop_scan import carried_concat_as_scan
from .pipeline import run_passes
from .resolve import resolve_reshape
from .simplify import simplify_inference
from .unify import unify_broadcast_dims

__all__ = ["infer_shape", "infer_type", "simplify_inference", "eliminate_dead_nodes", "fold_constants",
           "fold_batch_norm", "resolve_reshape", "run_passes", "has_control_flow", "lower_control_flow",
           "unify_broadcast_dims", "expand_proposal", "carried_concat_as_scan"]
