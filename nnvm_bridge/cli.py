"""The ``nnvm-bridge`` command line (also ``python -m nnvm_bridge``).

Every subcommand reads models through the IR (``model_files``), reports progress on stderr,
and turns a BridgeError into one line ``nnvm-bridge: error: ...`` with exit status 2.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

from .errors import BridgeError, InvalidModelError, ShapeError

PROG = "nnvm-bridge"

EXAMPLES = """\
examples:
  # MXNet -> ONNX (the .params beside the symbol file is found: prefix-0000.params or prefix.params)
  nnvm-bridge convert resnet18-symbol.json -o resnet18.onnx --input-shape data:1,3,224,224
  # ONNX -> MXNet (writes resnet18_mx-symbol.json and resnet18_mx-0000.params)
  nnvm-bridge convert resnet18.onnx -o resnet18_mx
  # what is inside a model (add --json for a machine-readable report)
  nnvm-bridge inspect resnet18.onnx
  # compile with TVM and run the library
  nnvm-bridge compile resnet18.onnx --target llvm -o resnet18.so
  nnvm-bridge run resnet18.so --input data=x.npy -o y.npy
  nnvm-bridge bench resnet18.onnx
"""


# ---- argument types -------------------------------------------------------------------
OFFLOAD_CHOICES = {"auto": "auto", "on": True, "off": False}  # --offload -> compile_model(offload=...)


def _parse_dims(text: str):
    text = text.strip().strip("()[]")
    if not text:
        return ()
    try:
        dims = tuple(int(d) for d in text.replace("x", ",").split(",") if d.strip() != "")
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad shape {text!r}: expected integers such as 1,3,224,224") from None
    if any(d < 0 for d in dims):
        raise argparse.ArgumentTypeError(f"bad shape {text!r}: dimensions must be >= 0")
    return dims


def input_shape_arg(text: str):
    """``NAME:1,3,224,224`` -> (NAME, dims); ``1,3,224,224`` -> (None, dims) (inputs in order)."""
    name, sep, dims = text.rpartition(":")
    if not sep:
        return None, _parse_dims(text)
    if not name:
        raise argparse.ArgumentTypeError(f"bad --input-shape {text!r}: expected NAME:1,3,224,224")
    return name, _parse_dims(dims)


def input_type_arg(text: str):
    """``float32`` (every input) or ``NAME:float32``."""
    from .errors import DTypeError
    from .ir import dtypes

    name, sep, dtype = text.rpartition(":")
    try:
        return (name if sep else None), dtypes.canonical(dtype if sep else text)
    except DTypeError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def input_file_arg(text: str):
    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"bad --input {text!r}: expected NAME=file.npy")
    return name, path


def _shapes(items):
    """Repeated --input-shape values -> dict (all named) or list (all positional) or None."""
    if not items:
        return None
    named = [n is not None for n, _ in items]
    if all(named):
        return {n: d for n, d in items}
    if not any(named):
        return [d for _, d in items]
    raise ShapeError("--input-shape: give every shape a NAME: or none of them")


def _dynamic_axes(items):
    """Repeated --dynamic-axes NAME:AXIS[=SYMBOL],... -> {name: {axis: symbol or None}}."""
    out = {}
    for item in items or ():
        name, sep, spec = item.rpartition(":")
        if not sep or not name or not spec:
            raise ShapeError(f"--dynamic-axes {item!r}: expected NAME:AXIS[=SYMBOL],...")
        axes = out.setdefault(name, {})
        for part in spec.split(","):
            axis, _, symbol = part.partition("=")
            try:
                axes[int(axis)] = symbol.strip() or None
            except ValueError:
                raise ShapeError(f"--dynamic-axes {item!r}: {axis!r} is not an axis number") from None
    return out or None


def _dtypes(items):
    if not items:
        return None
    if len(items) == 1 and items[0][0] is None:
        return items[0][1]
    if any(n is None for n, _ in items):
        raise ShapeError("--input-type: give one dtype for all inputs, or NAME:dtype for each")
    return {n: t for n, t in items}


# ---- output helpers -------------------------------------------------------------------
class _Reporter:
    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.t0 = time.perf_counter()

    def say(self, msg: str):
        if not self.quiet:
            print(f"[{time.perf_counter() - self.t0:6.2f}s] {msg}", file=sys.stderr, flush=True)


def _human_bytes(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


# ---- subcommands ----------------------------------------------------------------------
def cmd_convert(args, rep):
    from . import model_files as mf

    src_fmt = mf.detect_format(args.src)
    dst = args.output or (mf.mxnet_prefix(args.src) + ".onnx" if src_fmt == mf.MXNET
                          else os.path.splitext(args.src)[0])
    dst_fmt = mf.ONNX if dst.lower().endswith(".onnx") else mf.MXNET
    rep.say(f"reading {args.src} ({src_fmt})")
    graph, params, _, params_path = mf.load_model(args.src, args.params, _shapes(args.input_shape),
                                                  _dtypes(args.input_type))
    if params_path:
        rep.say(f"parameters from {params_path}")
    rep.say(f"IR: {len(graph.op_nodes())} ops, {len(params)} parameters")
    if dst_fmt == mf.ONNX:
        model = mf.write_onnx(graph, params, dst, opset=args.opset, dynamic_batch=args.dynamic_batch,
                              dynamic_axes=_dynamic_axes(args.dynamic_axes))
        opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
        rep.say(f"wrote {dst} (ONNX opset {opset})")
    else:
        if args.opset is not None or args.dynamic_batch or args.dynamic_axes:
            raise BridgeError("--opset, --dynamic-batch and --dynamic-axes apply to ONNX output only")
        json_path, params_out = mf.write_mxnet(graph, params, dst)
        rep.say(f"wrote {json_path} and {params_out}")
    return 0


def _unsupported_for_onnx(graph, params=None, opset=None):
    """{op: [node names]} that the ONNX exporter cannot convert at ``opset`` (default 17)."""
    from frontend_ext.onnx.exporter import unsupported_ops

    return {k: list(v) for k, v in unsupported_ops(graph, opset=opset, params=params).items()}


def describe(graph, params) -> dict:
    """A JSON-able summary of a model in the IR: inputs, outputs, op counts, params, export gaps."""
    from .ir.passes import infer_shape, infer_type

    try:
        typed = infer_type(infer_shape(graph, params=params), params=params)
    except BridgeError:
        typed = graph  # shapes unknown (e.g. no input shape given): still report the rest
    inputs = []
    for node in typed.variables:
        if node.name in params:
            continue
        shape, dtype = typed.shape_of(node[0]), typed.dtype_of(node[0])
        inputs.append({"name": node.name, "shape": None if shape is None else list(shape), "dtype": dtype})
    outputs = []
    for name, entry in zip(typed.output_names(), typed.outputs):
        shape, dtype = typed.shape_of(entry), typed.dtype_of(entry)
        outputs.append({"name": name, "shape": None if shape is None else list(shape), "dtype": dtype})
    n_values = sum(int(getattr(a, "size", 0)) for a in params.values())
    n_bytes = sum(int(getattr(a, "nbytes", 0)) for a in params.values())
    unsupported = _unsupported_for_onnx(graph, params)
    return {"inputs": inputs, "outputs": outputs, "num_ops": len(graph.op_nodes()), "op_counts": graph.op_counts(),
            "num_params": len(params), "param_values": n_values, "param_bytes": n_bytes,
            "unsupported_for_onnx_export": unsupported}


def _fmt_shape(shape):
    return "?" if shape is None else "(" + ", ".join(str(d) for d in shape) + ")"


def cmd_inspect(args, rep):
    from . import model_files as mf

    rep.say(f"reading {args.src}")
    graph, params, fmt, params_path = mf.load_model(args.src, args.params, _shapes(args.input_shape),
                                                    _dtypes(args.input_type))
    info = {"file": args.src, "format": fmt, "params_file": params_path, **describe(graph, params)}
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"{args.src} ({fmt}{', params ' + params_path if params_path else ''})")
    print("inputs:")
    for i in info["inputs"]:
        print(f"  {i['name']}: {_fmt_shape(i['shape'])} {i['dtype'] or '?'}")
    print("outputs:")
    for o in info["outputs"]:
        print(f"  {o['name']}: {_fmt_shape(o['shape'])} {o['dtype'] or '?'}")
    print(f"parameters: {info['num_params']} tensors, {info['param_values']:,} values, "
          f"{_human_bytes(info['param_bytes'])}")
    print(f"ops ({info['num_ops']}):")
    for op, n in sorted(info["op_counts"].items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"  {op:<28} {n}")
    gaps = info["unsupported_for_onnx_export"]
    if gaps:
        print("not exportable to ONNX: " + "; ".join(f"{op} x{len(nodes)}" for op, nodes in sorted(gaps.items())))
    else:
        print("ONNX export: all ops supported")
    return 0


def _tuning(args):
    if args.tune_trials is None and args.tuning_db is None:
        return None
    if not args.tuning_db:
        raise BridgeError("--tune-trials needs --tuning-db DIR (where the tuning records are kept)")
    return {"trials": int(args.tune_trials or 0), "database": args.tuning_db}


def cmd_compile(args, rep):
    from . import api
    from . import model_files as mf

    rep.say(f"reading {args.src} ({mf.detect_format(args.src)})")
    graph, params, _, _ = mf.load_model(args.src, args.params, _shapes(args.input_shape), _dtypes(args.input_type))
    rep.say(f"compiling for {args.target}" + (" with tuning" if _tuning(args) else ""))
    cm = api.compile_model(graph, target=args.target, params=params, tuning=_tuning(args),
                           offload=OFFLOAD_CHOICES[args.offload])
    done = cm.offloaded or {}
    if done.get("segments"):
        concats = f" (and {done['concat']} concats)" if done.get("concat") else ""
        rep.say(f"{done['conv2d']} conv2d and {done['dense']} dense chains{concats} run in PyTorch "
                f"({done['segments']} packed calls): the library needs torch where it is loaded (--offload off: "
                "pure TVM)")
    cm.export_library(args.output)
    rep.say(f"wrote {args.output}")
    if not done.get("segments"):
        rep.say("it runs with TVM alone (Python or C++, no nnvm_bridge): see docs/deploy.md")
    return 0


def _load_npy(name, path):
    import numpy as np

    try:
        return np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise InvalidModelError(f"input file for {name!r} does not exist", file=path) from None
    except (OSError, ValueError) as exc:
        raise InvalidModelError(f"cannot read input {name!r} as a .npy array: {exc}", file=path) from None


def cmd_run(args, rep):
    import numpy as np

    from . import api

    inputs = {name: _load_npy(name, path) for name, path in args.input}
    rep.say(f"loading {args.library}")
    cm = api.load_compiled(args.library)
    t0 = time.perf_counter()
    outputs = cm.run(inputs)
    rep.say(f"ran in {(time.perf_counter() - t0) * 1e3:.2f} ms")
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    outputs = [np.asarray(o) for o in outputs]
    if args.output:
        if args.output.lower().endswith(".npz"):
            np.savez(args.output, *outputs)
            rep.say(f"wrote {len(outputs)} outputs to {args.output}")
        elif len(outputs) == 1:
            np.save(args.output, outputs[0])
            rep.say(f"wrote {args.output}")
        else:
            stem = args.output[:-4] if args.output.lower().endswith(".npy") else args.output
            for i, o in enumerate(outputs):
                np.save(f"{stem}_{i}.npy", o)
            rep.say(f"wrote {stem}_0.npy .. {stem}_{len(outputs) - 1}.npy")
    for i, o in enumerate(outputs):
        flat = o.reshape(-1)
        head = ", ".join(f"{v:.6g}" if o.dtype.kind == "f" else str(v) for v in flat[:5])
        print(f"output {i}: shape {tuple(o.shape)} {o.dtype} [{head}{', ...' if flat.size > 5 else ''}]")
    return 0


def cmd_bench(args, rep):
    from . import bench as bench_mod

    kwargs = dict(params=args.params, shape=_shapes(args.input_shape), dtype=_dtypes(args.input_type),
                  target=args.target, repeat=args.repeat, tuning=_tuning(args), offload=OFFLOAD_CHOICES[args.offload],
                  threads=args.threads, mxnet=not args.no_mxnet, rounds=args.rounds, warmup=args.warmup,
                  quiet=rep.quiet)
    if len(args.src) == 1:
        res = bench_mod.bench(args.src[0], plot=args.plot, save_dir=args.save_dir, **kwargs)
        if args.table:
            with open(args.table, "w") as f:
                f.write(bench_mod.format_table([res]))
        if args.json:
            print(json.dumps(res))
        else:
            for key, value in res.items():
                print(f"{key:>24}: {value}")
        return 0
    if args.params or args.save_dir:
        raise BridgeError("bench: --params and --save-dir take one model; give the models one at a time")
    results = bench_mod.bench_many(args.src, plot=args.plot, table=args.table, **kwargs)
    if args.json:
        print(json.dumps(results))
    else:
        print(bench_mod.format_table(results), end="")
    return 1 if any("error" in r for r in results) else 0


# ---- parser ---------------------------------------------------------------------------
def _common():
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                   help="show tracebacks on errors")
    p.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                   help="no progress messages on stderr")
    return p


def _model_args(p):
    p.add_argument("--params", help="MXNet .params file (default: found beside the symbol file)")
    p.add_argument("--input-shape", action="append", type=input_shape_arg, metavar="NAME:1,3,224,224",
                   help="shape of a data input (repeat for several inputs; without NAME: inputs in order)")
    p.add_argument("--input-type", action="append", type=input_type_arg, metavar="[NAME:]float32",
                   help="dtype of the data inputs (default float32)")


def _build_args(p, several=False):
    """The model and TVM build arguments of `compile` and `bench` (``several``: one or more models)."""
    if several:
        p.add_argument("src", nargs="+", help="model files (.onnx, prefix-symbol.json), timed one after another")
    else:
        p.add_argument("src", help="model file (.onnx, prefix-symbol.json)")
    p.add_argument("--target", default="llvm", choices=("llvm", "cuda"), help="llvm (CPU) or cuda (GPU)")
    _model_args(p)
    p.add_argument("--tune-trials", type=int, metavar="N", help="MetaSchedule trials in total (with --tuning-db)")
    p.add_argument("--tuning-db", metavar="DIR", help="tuning database folder (reused when it has records)")
    p.add_argument("--offload", choices=tuple(OFFLOAD_CHOICES), default="auto",
                   help="on: run conv/dense chains in PyTorch (oneDNN/cuDNN) through packed calls, a library "
                        "that needs torch where it loads; auto/off: pure TVM, a library that loads with TVM "
                        "alone (default: auto)")


def build_parser() -> argparse.ArgumentParser:
    from .version import __version__

    common = _common()
    parser = argparse.ArgumentParser(
        prog=PROG, parents=[common], formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Convert neural networks between MXNet and ONNX through the NNVM graph IR, "
                    "and compile them with Apache TVM.", epilog=EXAMPLES)
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    fmt = argparse.RawDescriptionHelpFormatter

    p = sub.add_parser("convert", parents=[common], formatter_class=fmt, help="convert MXNet <-> ONNX",
                       description="Convert a model; formats come from the file names (.onnx is ONNX; "
                                   "-symbol.json/.json is MXNet).",
                       epilog="examples:\n  nnvm-bridge convert net-symbol.json -o net.onnx "
                              "--input-shape data:1,3,224,224\n  nnvm-bridge convert net.onnx -o net_mx   "
                              "# net_mx-symbol.json + net_mx-0000.params\n")
    p.add_argument("src", help="model file (.onnx, prefix-symbol.json)")
    p.add_argument("-o", "--output", metavar="DST", help="output: .onnx file, or MXNet prefix / -symbol.json")
    _model_args(p)
    p.add_argument("--opset", type=int, help="ONNX opset to target (default: the exporter's)")
    p.add_argument("--dynamic-batch", action="store_true", help="make dimension 0 of inputs/outputs symbolic")
    p.add_argument("--dynamic-axes", action="append", metavar="NAME:AXIS[=SYMBOL],...",
                   help="make these axes of input NAME symbolic in the ONNX file (repeatable), e.g. data:0=N,2=H,3=W")
    p.set_defaults(func=cmd_convert)

    p = sub.add_parser("inspect", parents=[common], help="show inputs, outputs, ops and parameters",
                       formatter_class=fmt, epilog="example:\n  nnvm-bridge inspect net.onnx --json\n")
    p.add_argument("src", help="model file (.onnx, prefix-symbol.json)")
    _model_args(p)
    p.add_argument("--json", action="store_true", help="print a JSON report")
    p.set_defaults(func=cmd_inspect)

    p = sub.add_parser("compile", parents=[common], help="compile with TVM into a shared library",
                       formatter_class=fmt,
                       epilog="examples:\n  nnvm-bridge compile net.onnx --target llvm -o net.so\n"
                              "  nnvm-bridge compile net.onnx -o net.so --tune-trials 64 --tuning-db tune_db/\n"
                              "  nnvm-bridge compile net.onnx -o net.so --offload off      # loads without torch\n")
    _build_args(p)
    p.add_argument("-o", "--output", required=True, metavar="model.so", help="library to write")
    p.set_defaults(func=cmd_compile)

    p = sub.add_parser("run", parents=[common], help="run a compiled library on .npy inputs",
                       formatter_class=fmt, epilog="example:\n  nnvm-bridge run net.so --input data=x.npy -o y.npy\n")
    p.add_argument("library", help="library written by 'compile'")
    p.add_argument("--input", action="append", type=input_file_arg, default=[], metavar="NAME=x.npy",
                   help="an input array (repeat per input)")
    p.add_argument("-o", "--output", help="write outputs: .npy (one output; several get _0, _1, ...) or .npz")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("bench", parents=[common], formatter_class=fmt,
                       help="time a model with TVM against onnxruntime (and MXNet for MXNet models)",
                       description="Compile the model once, then time TVM, onnxruntime (and MXNet) each in its own\n"
                                   "fresh process, one at a time, rounds alternating; the outputs are compared.",
                       epilog="examples:\n  nnvm-bridge bench net.onnx --json\n"
                              "  nnvm-bridge bench net-symbol.json --input-shape data:1,3,224,224 --rounds 5\n"
                              "  nnvm-bridge bench a.onnx b.onnx c-symbol.json --table bench.md --plot bench.png\n")
    _build_args(p, several=True)
    p.add_argument("--repeat", type=int, default=30, help="timed runs per process (default 30)")
    p.add_argument("--rounds", type=int, default=3, help="fresh processes per engine, alternating (default 3)")
    p.add_argument("--warmup", type=int, default=3, help="untimed runs per process before timing (default 3)")
    p.add_argument("--threads", type=int, help="threads for every engine (default: onnxruntime gets one per core, "
                   "the others their own defaults)")
    p.add_argument("--no-mxnet", action="store_true", help="do not time MXNet for an MXNet model")
    p.add_argument("--save-dir", metavar="DIR", help="keep the inputs and each engine's outputs (.npz) here")
    p.add_argument("--plot", metavar="PNG", help="write a bar chart here (needs matplotlib); several models: "
                   "each engine's latency relative to onnxruntime's")
    p.add_argument("--table", metavar="MD", help="write a Markdown table of the results here")
    p.add_argument("--json", action="store_true", help="print JSON only (one object; a list for several models)")
    p.set_defaults(func=cmd_bench)
    return parser


def _one_line(text: str) -> str:
    return " ".join(part.strip() for part in str(text).splitlines() if part.strip())


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)  # usage errors exit 2 (argparse)
    verbose = getattr(args, "verbose", False)
    rep = _Reporter(getattr(args, "quiet", False))
    try:
        return args.func(args, rep)
    except BridgeError as exc:
        if verbose:
            import traceback

            traceback.print_exc()
        print(f"{PROG}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `nnvm-bridge inspect m.onnx | head`: the reader left; not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:  # unwritable output, missing folder, ...
        if verbose:
            import traceback

            traceback.print_exc()
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        print(f"{PROG}: error: {_one_line(exc.strerror or exc)}{where}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
