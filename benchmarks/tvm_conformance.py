"""ONNX node conformance through TVM: from_onnx -> to_relax -> TVM (llvm), next to TVM's own Relax ONNX frontend.

    python benchmarks/tvm_conformance.py [--runner nnvm|tvm-onnx] [--cases installed|1.14.1] [--limit N] [-k TEXT]
                                         [--out FILE]

Cases come from the installed onnx package (``collect_testcases``) or, with ``--cases 1.14.1``, from onnx
1.14.1's stored cases (tests/onnx_stored_cases.py; the result file then ends in ``_onnx1.14.1.json``); each data set is compared with
the case's expected outputs (rtol/atol from the case, at least 1e-4/1e-6). Inputs that an op needs
as constants (shapes, axes, ...) are bound as initializers and the case retried, for both runners
alike. Each case runs in a worker process so that a crash in TVM costs one case, not the run. The
result file lists every case with pass/fail and a short reason: the expected-failure list.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))


def _inputs(case):
    import onnx_conformance as oc

    model = case.model
    inits = {t.name for t in model.graph.initializer}
    names = [i.name for i in model.graph.input if i.name not in inits]
    for inputs, expected in case.data_sets:
        yield dict(zip(names, [oc._as_value(v) for v in inputs])), [oc._as_value(v) for v in expected]


def _tensors_only(feeds, expected):
    import onnx_conformance as oc

    if any(not isinstance(v, np.ndarray) for v in list(feeds.values()) + list(expected)):
        raise oc.Mismatch("sequence/optional values are not tensors")


def run_nnvm(case):
    import onnx_conformance as oc

    from nnvm_bridge import compile_model

    for feeds, expected in _inputs(case):
        model = case.model
        graph, params, feeds = oc.import_case(model, feeds)
        # a sequence's shape is the list of its tensors' shapes (the compiled model runs on lists too)
        cm = compile_model((graph, params), shape={k: oc._shape_of(v) for k, v in feeds.items()}, offload=False)
        outs = cm.run({k: feeds[k] for k in cm.input_names})
        _check(oc, case, outs, expected)


def run_tvm_onnx(case):
    """TVM's own Relax ONNX frontend, with the compile recipe of its tests (check_correctness)."""
    import onnx_conformance as oc
    import tvm
    from tvm import relax
    from tvm.relax.frontend.onnx import from_onnx

    for feeds, expected in _inputs(case):
        _tensors_only(feeds, expected)
        model = case.model
        try:
            mod = from_onnx(model, shape_dict={k: v.shape for k, v in feeds.items()}, keep_params_in_input=False)
        except Exception:
            # like the nnvm runner: bind operator arguments as constants and retry
            frozen = dict(list(feeds.items())[1:])
            model = oc.freeze_inputs(model, frozen)
            feeds = {k: v for k, v in feeds.items() if k not in frozen}
            mod = from_onnx(model, shape_dict={k: v.shape for k, v in feeds.items()}, keep_params_in_input=False)
        mod = relax.transform.DecomposeOpsForInference()(mod)
        mod = relax.transform.LegalizeOps()(mod)
        ex = tvm.compile(mod, target="llvm")
        vm = relax.VirtualMachine(ex, tvm.cpu())
        order = [p.name for p in mod["main"].params]
        args = [tvm.runtime.tensor(np.ascontiguousarray(feeds[n])) for n in order]
        out = vm["main"](*args)
        outs = []

        def flat(o):
            if hasattr(o, "numpy"):
                outs.append(o.numpy())
            else:
                for item in o:
                    flat(item)
        flat(out)
        _check(oc, case, outs, expected)


def _check(oc, case, outs, expected):
    if len(outs) != len(expected):
        raise oc.Mismatch(f"{len(outs)} outputs, expected {len(expected)}")
    for got, want in zip(outs, expected):
        oc.compare_values(got, want, case.rtol, case.atol)


RUNNERS = {"nnvm": run_nnvm, "tvm-onnx": run_tvm_onnx}


def worker(runner, names, out_path):
    """Run cases in order, one JSON line each (flushed, so a crash loses only the case in progress)."""
    import onnx_conformance as oc

    warnings.simplefilter("ignore")
    cases = oc.cases()
    fn = RUNNERS[runner]
    with open(out_path, "a") as f:
        for name in names:
            f.write(json.dumps({"case": name, "status": "start"}) + "\n")
            f.flush()
            try:
                fn(cases[name])
                row = {"case": name, "status": "pass"}
            except Exception as exc:  # every failure becomes a reason in the list
                row = {"case": name, "status": "fail", "reason": oc.failure_reason(exc)}
            f.write(json.dumps(row) + "\n")
            f.flush()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runner", choices=sorted(RUNNERS), default="nnvm")
    p.add_argument("--cases", choices=("installed", "1.14.1"), default="installed",
                   help="the case set: the installed onnx's, or onnx 1.14.1's stored cases")
    p.add_argument("--limit", type=int)
    p.add_argument("-k", dest="contains", help="only the cases whose name contains this text")
    p.add_argument("--out")
    p.add_argument("--_worker", nargs=2, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    import onnx_conformance as oc

    oc.use_case_set(args.cases)
    if args._worker:
        names = json.load(open(args._worker[0]))
        worker(args.runner, names, args._worker[1])
        return 0
    names = [n for n in oc.case_names() if args.contains is None or args.contains in n]
    names = names[:args.limit] if args.limit else names
    out = args.out or os.path.join(HERE, "results", f"tvm_conformance_{args.runner}{oc.case_set_suffix()}.json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    log = out + ".log"
    if os.path.exists(log):
        os.remove(log)
    done, t0 = {}, time.time()
    todo = list(names)
    while todo:
        lst = out + ".todo"
        json.dump(todo, open(lst, "w"))
        subprocess.run([sys.executable, os.path.abspath(__file__), "--runner", args.runner, "--cases", args.cases,
                        "--_worker", lst, log],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        started = None
        for line in open(log):
            row = json.loads(line)
            if row["status"] == "start":
                started = row["case"]
            else:
                done[row["case"]] = row
                started = None
        if started and started not in done:
            done[started] = {"case": started, "status": "fail", "reason": "crashed the process"}
        todo = [n for n in names if n not in done]
    passed = sum(1 for r in done.values() if r["status"] == "pass")
    summary = {"runner": args.runner, "case_set": oc.case_set(), "cases": len(names), "passed": passed, "seconds": round(time.time() - t0),
               "failures": {n: done[n]["reason"] for n in names if done[n]["status"] != "pass"}}
    json.dump(summary, open(out, "w"), indent=1, sort_keys=True)
    os.remove(out + ".todo")
    os.remove(log)
    print(f"{args.runner}: {passed} / {len(names)} ONNX node cases pass ({summary['seconds']} s); details in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
