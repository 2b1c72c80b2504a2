"""TVM emitter: NNVM graph -> Relax (``to_relax`` module), build and run (``compile``), MetaSchedule
(``tuning``), CPU offload of heavy ops (``offload``/``fusion``), benchmark (``bench``).

Names load lazily so that importing this package does not import TVM.
"""


def compile_graph(*args, **kwargs):
    from .compile import compile_graph as impl

    return impl(*args, **kwargs)


def load_compiled(path):
    from .compile import load_compiled as impl

    return impl(path)


__all__ = ["compile_graph", "load_compiled"]
