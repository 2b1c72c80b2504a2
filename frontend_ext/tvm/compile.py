"""compile_graph / CompiledModel / load_compiled: NNVM graph -> TVM library -> run.

``compile_graph`` takes the IR (the facade's ``nnvm_bridge.compile_model`` loads any model form into it),
emits Relax with ``to_relax`` and builds it for ``llvm`` or ``cuda``. A small JSON file next to an exported library
(``<lib>.meta.json``) records the input/output names, shapes and dtypes and the target kind, so
``load_compiled`` needs only TVM's runtime and the library.

Shapes with symbolic dims (a dynamic batch or sequence) build into one library for every size: the signature
reports them as text ("N", "2*S") and ``run`` checks the given arrays against them with ``match_dims``.
"""
from __future__ import annotations

import json
import os
import time

import numpy as np

from nnvm_bridge.errors import (BridgeError, CompileError, DTypeError, InvalidModelError, MissingDependencyError,
                                 ShapeError)
from nnvm_bridge.ir import dtypes as _dt
from nnvm_bridge.ir import structure
from nnvm_bridge.ir.symbolic import evaluate, match_dims, parse_dim

from . import compat
from .relax_emitters.narrow_floats import from_storage, to_storage
from .to_relax import to_relax

META_SUFFIX = ".meta.json"


# ---- building -----------------------------------------------------------------------------------
def _cpu_pipeline(mod, target, database=None, int8="auto"):
    """The CPU build recipe (``cpu/``): NCHWc layouts, blocked conv2d, fixed TIR schedules with a bounded
    timed pick, no search; with a database, MetaSchedule records where they are faster."""
    from .cpu import cpu_pipeline

    return cpu_pipeline(mod, target, database=database, int8=int8)


def build(mod, target, tuning=None, int8="auto"):
    """Relax IRModule -> relax.VMExecutable for ``target`` (a tvm.target.Target)."""
    tvm = compat.tvm()
    kind = target.kind.name
    try:
        if kind == "llvm":
            database = None
            if tuning:
                from .tuning import tune_or_load

                database = tune_or_load(mod, target, tuning, int8)
            mod = _cpu_pipeline(mod, target, database, int8)
            return tvm.compile(mod, target=target)
        # GPU targets: tvm.compile applies the target's default pipeline (dlight schedules) itself
        return tvm.compile(mod, target=target)
    except BridgeError:
        raise
    except Exception as exc:
        msg = str(exc).strip().splitlines()
        raise CompileError(f"TVM failed to build for {kind}: {type(exc).__name__}: "
                           f"{(msg[-1] if msg else '')[:500]}") from exc


def compile_graph(graph, params=None, target="llvm", shape=None, tuning=None, *, dtype=None, bind_params=True,
                  offload="auto", int8="auto"):
    """Compile an IR graph and its params (numpy arrays) with TVM; returns a CompiledModel.

    ``tuning``: None (no search), or ``{"trials": N, "database": DIR}`` to run MetaSchedule for N
    trials in total and store the records in DIR; ``trials`` 0 re-applies DIR's records without
    searching (see ``tuning.py``).
    ``offload``: "auto" (default: pure TVM, a library that loads with TVM alone), True or False -- True
    runs conv2d/dense chains through PyTorch's kernels (oneDNN on CPU, cuDNN on CUDA; see ``offload.py``),
    an opt-in that needs torch wherever the library is loaded and static input shapes (True refuses a
    model with symbolic dims).
    ``int8``: "auto" (default), True or False -- quantized models' conv2d / matmul on dequantized int8 data
    as uint8 x int8 -> int32 kernels (llvm only; ``cpu/qdq.py``). "auto" does it where that was measured
    faster than the float path: conv2d on x86 targets with AVX-512 VNNI (matmul only with True).
    """
    t0 = time.perf_counter()
    params = dict(params or {})
    tgt = compat.make_target(target)
    use_offload = _want_offload(offload, tgt, bind_params)
    mod, info = to_relax(graph, params, shape=shape if isinstance(shape, dict) else None, dtype=dtype,
                         bind_params=bind_params, offload=use_offload)
    offloaded = info.pop("offloaded")
    if int8 not in ("auto", True, False):
        raise CompileError(f"int8 must be 'auto', True or False, not {int8!r}")
    ex = build(mod, tgt, tuning=tuning, int8=int8)
    kept = {name: params[name] for name, _, _ in info["params"]}
    cm = CompiledModel(ex, tgt.kind.name, info, kept_params=kept, layout=structure.of(graph))
    cm.compile_seconds = time.perf_counter() - t0
    cm.offloaded = offloaded  # {"segments", "conv2d", "dense"}: counts of what runs in PyTorch
    return cm


def _want_offload(choice, target, bind_params):
    """Offload is an opt-in: "auto" and False give pure TVM (cpu/ schedules on llvm, dlight on GPU)."""
    if choice not in ("auto", True, False):
        raise CompileError(f"offload must be 'auto', True or False, not {choice!r}")
    if choice is not True or target.kind.name not in ("llvm", "cuda") or not bind_params:
        return False
    from . import offload

    if not offload.available():
        raise CompileError("offload=True needs PyTorch installed (pip install torch)")
    return True


_PLAIN_INFO = ("offload", "equal_dims")  # info keys that are no (name, shape, dtype) signature lists

# ---- running ------------------------------------------------------------------------------------
class CompiledModel:
    """A built model: ``run({name: array}) -> [np.ndarray]`` plus its input/output signature.

    ``info["inputs"]``/``["outputs"]`` hold ``(name, shape, dtype)`` with ints and symbolic dims as text
    ("N"); an input that the graph does not use (folded away) has shape and dtype None: any array is
    accepted for it and ignored.

    A model with ONNX sequences or optionals at its edge (``layout``, ir/structure.py) runs on the model's own
    values: ``run`` takes a list of arrays for a sequence input and None for an empty optional, and gives
    them back the same way; ``input_names`` are the model's, the signature (``input_shapes``, ``output_names``,
    ...) the flat tensors', a sequence ``x``'s named ``x_0``, ``x_1``, ..."""

    def __init__(self, module, target_kind, info, kept_params=None, library_path=None, layout=None):
        self._module = module  # relax.VMExecutable, or a loaded runtime.Module
        self.target_kind = target_kind
        self.info = {k: [_signature_entry(x) for x in v] if k not in _PLAIN_INFO else list(v)
                     for k, v in info.items()}
        self.info.setdefault("offload", [])
        self.info.setdefault("equal_dims", [])
        self._kept = dict(kept_params or {})
        self.library_path = library_path
        self.compile_seconds = None
        self.offloaded = None  # set by compile_model
        self._vm = None
        self.layout = layout

    # signature
    @property
    def input_names(self):
        if self.layout is not None:
            return [n for n, _ in self.layout["inputs"]]
        return self._flat_input_names()

    def _flat_input_names(self):
        return [n for n, _, _ in self.info["inputs"]]

    @property
    def input_shapes(self):
        return {n: s for n, s, _ in self.info["inputs"]}

    @property
    def input_dtypes(self):
        return {n: d for n, _, d in self.info["inputs"]}

    @property
    def output_names(self):
        return [n for n, _, _ in self.info["outputs"]]

    @property
    def output_shapes(self):
        return [s for _, s, _ in self.info["outputs"]]

    @property
    def output_dtypes(self):
        return [d for _, _, d in self.info["outputs"]]

    def __repr__(self):
        return (f"CompiledModel(target={self.target_kind!r}, inputs={self.input_shapes}, "
                f"outputs={dict(zip(self.output_names, self.output_shapes))})")

    # execution
    @property
    def device(self):
        return compat.device_for(self.target_kind)

    def _get_vm(self):
        if self._vm is None:
            from tvm import relax

            if self.info["offload"]:
                from . import offload

                try:
                    offload.register()
                except ImportError as exc:
                    where = f" ({self.library_path})" if self.library_path else ""
                    raise MissingDependencyError(
                        f"this model{where} was built with its conv/dense layers offloaded to PyTorch, which "
                        f"cannot be imported here ({exc}): pip install torch, or rebuild it with "
                        "offload=False (CLI: --offload off) for a library that needs TVM only") from None

            self._vm = relax.VirtualMachine(self._module, self.device)
            self._param_tensors = [compat.to_device_tensor(to_storage(self._kept[n]), self.device)
                                   for n, _, _ in self.info["params"]]
        return self._vm

    def _prepare(self, inputs):
        if not isinstance(inputs, dict):
            if len(self.input_names) == 1:
                inputs = {self.input_names[0]: inputs}
            else:
                raise BridgeError(f"run() needs a dict of inputs named {self.input_names}")
        unknown = sorted(set(inputs) - set(self.input_names))
        missing = [n for n in self.input_names if n not in inputs]
        if unknown or missing:
            raise BridgeError(f"inputs must be exactly {self.input_names}: missing {missing}, unknown {unknown}")
        inputs = structure.flat_inputs(self.layout, inputs)  # sequences and optionals -> their tensors
        dev = self.device
        args, sizes = [], {}  # sizes: symbol -> value, bound by the first input that has it as a dim
        for name, shape, dtype in self.info["inputs"]:
            arr = np.asarray(inputs[name].asnumpy() if hasattr(inputs[name], "asnumpy") else inputs[name])
            if shape is None:  # unused by the graph: any array, passed on and ignored
                args.append(compat.to_device_tensor(arr, dev))
                continue
            try:
                match_dims([parse_dim(d) for d in shape], arr.shape, sizes, what=f"input {name!r}")
            except ShapeError as exc:
                raise ShapeError(f"{exc.bare_message}; the model takes {_show_shape(shape)}, got "
                                 f"{tuple(arr.shape)}") from None
            if str(arr.dtype) != dtype:
                want = _dt.to_numpy(dtype)
                kinds = arr.dtype.kind + want.kind
                if "V" in kinds or (kinds[0] != kinds[1] and not set(kinds) <= set("iu")):
                    # (bfloat16 and the float8 types, numpy kind "V", only as themselves)
                    raise DTypeError(f"input {name!r} has dtype {arr.dtype}, the model expects {dtype}")
                arr = arr.astype(want)
            args.append(compat.to_device_tensor(to_storage(arr), dev))
        for a, b in self.info["equal_dims"]:  # lengths the compiled code took as one (Ctx.assume_equal)
            va, vb = (evaluate(parse_dim(d), sizes) for d in (a, b))
            if va != vb:
                raise ShapeError(f"this model needs {a} == {b}, but with these inputs they are {va} and {vb}")
        return args

    def run(self, inputs):
        vm = self._get_vm()
        args = self._prepare(inputs)
        out = vm["main"](*args, *self._param_tensors)
        flat = [from_storage(arr, dtype) for arr, dtype in zip(_flatten_outputs(out), self.output_dtypes)]
        return structure.model_outputs(self.layout, flat)

    def benchmark(self, inputs, number=10, repeat=5):
        """Median seconds per run (VM time_evaluator; inputs already on the device)."""
        vm = self._get_vm()
        args = self._prepare(inputs) + self._param_tensors
        vm.set_input("main", *args)
        timer = vm.time_evaluator("invoke_stateful", self.device, number=number, repeat=repeat, min_repeat_ms=0)
        res = timer("main")
        return float(np.median(res.results))

    # deployment
    def export_library(self, path):
        path = os.fspath(path)
        if self._kept:
            raise CompileError("export_library needs the parameters bound as constants (bind_params=True)")
        if not hasattr(self._module, "export_library"):
            raise CompileError("this model was loaded from a library; copy that file instead")
        os.makedirs(os.path.dirname(os.path.abspath(path)) or ".", exist_ok=True)
        try:
            self._module.export_library(path)
        except Exception as exc:
            raise CompileError(f"could not write the library: {type(exc).__name__}: {exc}", file=path) from exc
        meta = {"format": "nnvm_bridge.tvm/1", "target": self.target_kind, "offload": self.info["offload"],
                "equal_dims": [list(p) for p in self.info["equal_dims"]],
                "inputs": [[n, None if s is None else list(s), d] for n, s, d in self.info["inputs"]],
                "outputs": [[n, list(s), d] for n, s, d in self.info["outputs"]]}
        if self.layout is not None:
            meta["structure"] = self.layout
        with open(path + META_SUFFIX, "w") as f:
            json.dump(meta, f, indent=1)
        self.library_path = path
        return path


def _signature_entry(entry):
    """(name, shape, dtype) with the shape a tuple of ints and dim texts, or None (an unused input)."""
    name, shape, dtype = entry
    return name, None if shape is None else tuple(d if isinstance(d, str) else int(d) for d in shape), dtype


def _show_shape(shape):
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


def _flatten_outputs(out):
    if hasattr(out, "numpy"):
        return [out.numpy()]
    res = []
    for item in out:
        res.extend(_flatten_outputs(item))
    return res


def load_compiled(path):
    """Load a library written by ``CompiledModel.export_library`` (needs only TVM's runtime)."""
    if not isinstance(path, (str, os.PathLike)):
        raise InvalidModelError(f"load_compiled expects the path of a compiled library, got {type(path).__name__}")
    path = os.fspath(path)
    if not os.path.exists(path):
        raise InvalidModelError("compiled library does not exist", file=path)
    meta_path = path + META_SUFFIX
    if not os.path.exists(meta_path):
        raise InvalidModelError(f"missing {os.path.basename(meta_path)} next to the library (written by "
                                "export_library)", file=path)
    try:
        with open(meta_path) as f:
            meta = json.load(f)
        info = {"inputs": [_signature_entry(x) for x in meta["inputs"]], "params": [],
                "outputs": [_signature_entry(x) for x in meta["outputs"]], "offload": list(meta.get("offload", [])),
                "equal_dims": [tuple(p) for p in meta.get("equal_dims", [])]}
        kind = meta["target"]
        layout = structure.parse(meta["structure"]) if meta.get("structure") else None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InvalidModelError(f"unreadable library metadata: {exc}", file=meta_path) from None
    tvm = compat.tvm()
    compat.device_for(kind)  # fail early and clearly when e.g. a CUDA library meets a machine without a GPU
    try:
        lib = tvm.runtime.load_module(path)
    except Exception as exc:
        raise CompileError(f"TVM could not load the library: {type(exc).__name__}: {exc}", file=path) from None
    return CompiledModel(lib, kind, info, library_path=path, layout=layout)
