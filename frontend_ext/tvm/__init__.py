"""TVM emitter: NNVM graph -> Relax (``to_relax`` module), build and run (``compile``), MetaSchedule
(``tuning``), offload of conv/dense chains to PyTorch (``offload``/``fusion``), and the worker process
that ``nnvm-bridge bench`` times each engine in (``bench_worker``).

Names load lazily so that importing this package does not import TVM.
"""


def compile_graph(*args, **kwargs):
    from .compile import compile_graph as impl

    return impl(*args, **kwargs)


def load_compiled(path):
    from .compile import load_compiled as impl

    return impl(path)


def register_relax_emitter(op, fn, *, override=False):
    """Register ``fn(ctx, node, attrs, inputs) -> relax expr (or a list, one per output)`` for the NNVM
    op ``op``; an op that already has an emitter raises ValueError unless ``override=True``."""
    from .to_relax import RELAX_EXPORT  # the driver: the built-in emitters are registered before this one

    RELAX_EXPORT.add(op, fn, override=override)


__all__ = ["compile_graph", "load_compiled", "register_relax_emitter"]
