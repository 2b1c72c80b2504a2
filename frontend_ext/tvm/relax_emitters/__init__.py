"""One small Relax emitter per NNVM op, by op family; importing this package fills EMITTERS."""
from . import elementwise, nn, rnn, transform  # noqa: F401  (registration side effects)
from .base import EMITTERS, Ctx, emitter

__all__ = ["EMITTERS", "Ctx", "emitter"]
