"""GluonCV and GluonNLP models through nnvm_bridge: export_model (onnxruntime) and compile_model (TVM) vs MXNet.

    python tools/gluon_model_sweep.py [--models NAME ...] [--tasks detection ...] [--no-tvm]
                                      [--timeout 1200] [--out benchmarks/results/gluon_models.jsonl] [--update]
                                      [--table docs/gluon_models.md] [--table-only [--table-command TEXT]]

Each model is built from its library's classes with random weights and calibrated BatchNorm statistics
(tests/gluon_fixtures.py; nothing is downloaded), saved with ``net.export`` and converted from those files,
in its own process with a timeout (a crash or a hang is recorded, the sweep goes on). MXNet runs the exported
files for the reference, in float32 and, for the judgement, in float64: an output matches when its max abs
error against float64 MXNet is within 1e-4 x max(1, max|ref|) or within 2x MXNet float32's own error on that
model (the issue's rule for deep random-weight nets); detectors are judged row by row (a detection's id, score,
box and mask), detections whose scores tie within that error may swap places, and where MXNet float32 itself
keeps other detections than float64 the output is judged against float32 MXNet ("vs MXNet float32"). Rows go
to the JSONL file, the table to ``--table``.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))

DET, SEG, POSE, ACT, CLS, NLP = "detection", "segmentation", "pose", "action", "classification", "NLP"
IMG = (1, 3, 320, 320)


def _zoo(name, shape, **kw):
    return ("gluoncv", name, kw, [shape])


# name -> (task, (source, constructor name, kwargs, input shapes))
MODELS = {
    "ssd_300_vgg16_atrous_voc": (DET, _zoo("ssd_300_vgg16_atrous_voc", (1, 3, 300, 300))),
    "ssd_512_mobilenet1.0_voc": (DET, _zoo("ssd_512_mobilenet1.0_voc", IMG)),
    "ssd_512_resnet50_v1_coco": (DET, _zoo("ssd_512_resnet50_v1_coco", IMG)),
    "yolo3_mobilenet1.0_coco": (DET, _zoo("yolo3_mobilenet1.0_coco", IMG)),
    "yolo3_darknet53_voc": (DET, _zoo("yolo3_darknet53_voc", IMG)),
    "faster_rcnn_resnet50_v1b_voc": (DET, _zoo("faster_rcnn_resnet50_v1b_voc", IMG)),
    "mask_rcnn_resnet18_v1b_coco": (DET, _zoo("mask_rcnn_resnet18_v1b_coco", IMG)),
    "faster_rcnn_fpn_resnet50_v1b_coco": (DET, _zoo("faster_rcnn_fpn_resnet50_v1b_coco", IMG)),
    "mask_rcnn_fpn_resnet18_v1b_coco": (DET, _zoo("mask_rcnn_fpn_resnet18_v1b_coco", IMG)),
    "center_net_resnet18_v1b_voc": (DET, _zoo("center_net_resnet18_v1b_voc", IMG)),
    "center_net_mobilenetv3_small_duc_voc": (DET, _zoo("center_net_mobilenetv3_small_duc_voc", IMG)),
    "fcn_resnet101_voc": (SEG, _zoo("fcn_resnet101_voc", IMG, crop_size=320, base_size=320)),
    "fcn_resnet50_voc": (SEG, _zoo("fcn_resnet50_voc", IMG, crop_size=320, base_size=320)),
    "psp_resnet101_coco": (SEG, _zoo("psp_resnet101_coco", IMG, crop_size=320, base_size=320)),
    "deeplab_resnet50_ade": (SEG, _zoo("deeplab_resnet50_ade", IMG, crop_size=320, base_size=320)),
    "icnet_resnet50_mhpv1": (SEG, _zoo("icnet_resnet50_mhpv1", IMG, crop_size=320, base_size=320)),
    "danet_resnet50_citys": (SEG, _zoo("danet_resnet50_citys", IMG, crop_size=320, base_size=320)),
    "deeplab_resnest50_ade": (SEG, _zoo("deeplab_resnest50_ade", IMG, crop_size=320, base_size=320)),
    "fastscnn_citys": (SEG, _zoo("fastscnn_citys", IMG, crop_size=320, base_size=320)),
    "simple_pose_resnet50_v1d": (POSE, _zoo("simple_pose_resnet50_v1d", (1, 3, 256, 192))),
    "alpha_pose_resnet101_v1b_coco": (POSE, _zoo("alpha_pose_resnet101_v1b_coco", (1, 3, 256, 192))),
    "mobile_pose_mobilenetv3_large": (POSE, _zoo("mobile_pose_mobilenetv3_large", (1, 3, 256, 192))),
    "simple_pose_resnet18_v1b": (POSE, _zoo("simple_pose_resnet18_v1b", (1, 3, 256, 192))),
    "i3d_resnet50_v1_ucf101": (ACT, _zoo("i3d_resnet50_v1_ucf101", (1, 3, 8, 112, 112),
                                         use_kinetics_pretrain=False)),  # else it downloads Kinetics weights
    "slowfast_4x16_resnet50_kinetics400": (ACT, _zoo("slowfast_4x16_resnet50_kinetics400", (1, 3, 36, 112, 112))),
    "r2plus1d_resnet18_kinetics400": (ACT, _zoo("r2plus1d_resnet18_kinetics400", (1, 3, 8, 112, 112))),
    "p3d_resnet50_kinetics400": (ACT, _zoo("p3d_resnet50_kinetics400", (1, 3, 16, 112, 112))),
    "c3d_kinetics400": (ACT, _zoo("c3d_kinetics400", (1, 3, 16, 112, 112))),
    "i3d_inceptionv1_kinetics400": (ACT, _zoo("i3d_inceptionv1_kinetics400", (1, 3, 8, 112, 112))),
    "nasnet_5_1538": (CLS, _zoo("nasnet_5_1538", (1, 3, 224, 224))),
    "residualattentionnet92": (CLS, _zoo("residualattentionnet92", (1, 3, 224, 224))),
    "mobilenetv3_small": (CLS, _zoo("mobilenetv3_small", (1, 3, 224, 224))),
    "mobilenetv3_large": (CLS, _zoo("mobilenetv3_large", (1, 3, 224, 224))),
    "resnest50": (CLS, _zoo("resnest50", (1, 3, 224, 224))),
    "resnest14": (CLS, _zoo("resnest14", (1, 3, 224, 224))),
    "se_resnext50_32x4d": (CLS, _zoo("se_resnext50_32x4d", (1, 3, 224, 224))),
    "se_resnet18_v2": (CLS, _zoo("se_resnet18_v2", (1, 3, 224, 224))),
    "xception": (CLS, _zoo("xception", (1, 3, 299, 299))),
    "hrnet_w18_small_v1_c": (CLS, _zoo("hrnet_w18_small_v1_c", (1, 3, 224, 224))),
    "inceptionv3": (CLS, _zoo("inceptionv3", (1, 3, 299, 299))),
    "densenet121": (CLS, _zoo("densenet121", (1, 3, 224, 224))),
    "darknet53": (CLS, _zoo("darknet53", (1, 3, 224, 224))),
    "squeezenet1.1": (CLS, _zoo("squeezenet1.1", (1, 3, 224, 224))),
    "bert_4_128": (NLP, ("gluonnlp", "BERTModel", dict(layers=4, units=128), None)),
    "bert_12_768": (NLP, ("gluonnlp", "BERTModel", dict(layers=12, units=768), None)),
    "roberta_4_128": (NLP, ("gluonnlp", "RoBERTaModel", dict(layers=4, units=128), None)),
    "distilbert_3_128": (NLP, ("gluonnlp", "DistilBERTModel", dict(layers=3, units=128), None)),
    "standard_lstm_2x200": (NLP, ("gluonnlp", "StandardRNN", dict(layers=2, units=200), None)),
    "awd_lstm_3x400": (NLP, ("gluonnlp", "AWDRNN", dict(layers=3, units=400), None)),
}
BATCH, SEQ, VOCAB = 2, 16, 100


# ---- one model, in a worker process --------------------------------------------------------------------------
def _rng():
    return np.random.default_rng(0)


def _nlp_model(cls_name, layers, units):
    """A GluonNLP model from its class with these sizes; returns (block, inputs, calibrate?)."""
    import gluonnlp as nlp

    rng = _rng()
    tokens = rng.integers(0, VOCAB, (BATCH, SEQ)).astype(np.float32)
    valid = np.array([SEQ - 5, SEQ], np.float32)
    if cls_name in ("StandardRNN", "AWDRNN"):
        kw = dict(mode="lstm", vocab_size=VOCAB, embed_size=units, hidden_size=units, num_layers=layers)
        net = (nlp.model.StandardRNN(dropout=0.0, tie_weights=False, **kw) if cls_name == "StandardRNN" else
               nlp.model.AWDRNN(tie_weights=True, dropout=0, weight_drop=0, drop_h=0, drop_i=0, drop_e=0, **kw))
        return net, [tokens.T.copy()], False  # language models read (sequence, batch)
    heads = max(2, units // 64)
    if cls_name == "DistilBERTModel":
        enc = nlp.model.BERTEncoder(num_layers=layers, units=units, hidden_size=4 * units, max_length=64,
                                    num_heads=heads, dropout=0.0, output_attention=False, output_all_encodings=False)
        return nlp.model.DistilBERTModel(enc, vocab_size=VOCAB, units=units, embed_size=units), [tokens, valid], False
    enc = nlp.model.BERTEncoder(num_layers=layers, units=units, hidden_size=4 * units, max_length=64, num_heads=heads,
                                dropout=0.0, output_attention=False, output_all_encodings=False)
    if cls_name == "RoBERTaModel":
        return (nlp.model.RoBERTaModel(enc, vocab_size=VOCAB, units=units, embed_size=units, use_decoder=False),
                [tokens, valid], False)
    types = rng.integers(0, 2, (BATCH, SEQ)).astype(np.float32)
    net = nlp.model.BERTModel(enc, vocab_size=VOCAB, token_type_vocab_size=2, units=units, embed_size=units,
                              use_pooler=True, use_decoder=False, use_classifier=True)
    return net, [tokens, types, valid], False


def make_net(name):
    """(uninitialised block, example inputs, calibrate BatchNorm?) of model ``name``."""
    import gluon_fixtures as gf

    task, (source, ctor, kw, shapes) = MODELS[name]
    if source == "gluoncv":
        gcv = gf.import_gluoncv()
        try:
            net = gcv.model_zoo.get_model(ctor, pretrained=False, pretrained_base=False, **kw)
        except (TypeError, Warning):  # classifiers have no pretrained base (darknet raises Warning on it)
            net = gcv.model_zoo.get_model(ctor, pretrained=False, **kw)
        inputs = [_rng().uniform(-1, 1, s).astype(np.float32) for s in shapes]
        calibrate = True
    else:
        net, inputs, calibrate = _nlp_model(ctor, **kw)
    if name.startswith(("faster_rcnn", "mask_rcnn")):  # test proposals cut to 100 to bound CPU time, as
        net.rpn._test_post_nms = net._rpn_test_post_nms = 100  # REAL_MODELS.md's sweep did (both hold the count)
    return net, inputs, calibrate


def _build(name, folder):
    import gluon_fixtures as gf

    net, inputs, calibrate = make_net(name)
    sym_file, params_file = gf.export_block(net, inputs, folder, calibrate=calibrate)
    if name.startswith("ssd"):  # its feature expanders are symbols, their BatchNorms no Gluon block: calibrated here
        gf.calibrate_exported(sym_file, params_file, inputs[0])
    names = [f"data{i}" for i in range(len(inputs))] if len(inputs) > 1 else ["data"]
    return sym_file, params_file, dict(zip(names, inputs))


def _judge(got, ref32, ref64):
    """{"match": bool, "err": ..., "tol": ...} over the outputs (judged against float64 MXNet)."""
    if len(got) != len(ref64):
        return {"match": False, "reason": f"{len(got)} outputs, MXNet has {len(ref64)}"}
    worst = None
    for i, (g, r32, r64) in enumerate(zip(got, ref32, ref64)):
        g = np.asarray(g)
        if g.shape != r64.shape:
            return {"match": False, "reason": f"output {i}: shape {g.shape} != MXNet's {r64.shape}"}
        err = float(np.max(np.abs(g.astype(np.float64) - r64))) if r64.size else 0.0
        noise = float(np.max(np.abs(r32.astype(np.float64) - r64))) if r64.size else 0.0
        tol = max(1e-4 * max(1.0, float(np.max(np.abs(r64))) if r64.size else 1.0), 2 * noise)
        row = {"output": i, "err": err, "tol": tol, "float32_noise": noise,
               "ref_max": float(np.max(np.abs(r64))) if r64.size else 0.0}
        if worst is None or err / tol > worst["err"] / worst["tol"]:
            worst = row
    return {"match": worst is None or worst["err"] <= worst["tol"], **(worst or {})}


def _judge_detections(got, ref32, ref64):
    """The same rule on detection rows (ids, scores, boxes, masks: one row across the outputs), float32's own
    error taken on the rows float32 and float64 agree on; rows whose scores tie within it may swap places
    (tests/gluon_fixtures.match_detections)."""
    import gluon_fixtures as gf

    noise = gf.float32_noise(ref32, ref64)
    tols = [max(1e-4 * max(1.0, float(np.max(np.abs(r))) if r.size else 1.0), 2 * n) for r, n in zip(ref64, noise)]
    problem, errors = gf.match_detections(got, ref64, tols)
    against = {}
    if problem is not None:
        own, _ = gf.match_detections(ref32, ref64, tols)
        if own is None:
            return {"match": False, "differs": problem}
        # MXNet float32 itself keeps other detections than float64 (near-tied scores near a threshold): its own
        # error includes whole detections, so the output is judged against MXNet float32 within 1e-4
        tols = [1e-4 * max(1.0, float(np.max(np.abs(r))) if r.size else 1.0) for r in ref32]
        problem, errors = gf.match_detections(got, ref32, tols)
        if problem is not None:
            return {"match": False, "differs": problem}
        against = {"against": "float32", "float32_differs": own}
    worst = max(range(len(tols)), key=lambda i: errors[i] / tols[i])
    return {"match": True, "output": worst, "err": errors[worst], "tol": tols[worst], "float32_noise": noise[worst],
            "ref_max": float(np.max(np.abs(ref64[worst]))), **against}


def _failure(exc):
    return {"match": False, "reason": f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:300]}"}


def worker(name, tvm):
    import gluon_fixtures as gf

    import nnvm_bridge as nb

    row = {"model": name, "task": MODELS[name][0]}
    judge = _judge_detections if row["task"] == DET else _judge
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="gluon_sweep_") as tmp:
        sym_file, params_file, feeds = _build(name, tmp)
        ref32 = gf.run_exported(sym_file, params_file, feeds)
        try:
            ref64 = gf.run_exported(sym_file, params_file, feeds, "float64")
            row["float64_reference"] = True
        except Exception:  # e.g. MXNet's fused attention ops run in float32 only: judged against float32
            ref64, row["float64_reference"] = ref32, False
        row["build_s"] = round(time.perf_counter() - t0, 1)
        shapes = {k: v.shape for k, v in feeds.items()}
        dtypes = {k: str(v.dtype) for k, v in feeds.items()}
        try:
            import onnxruntime as ort

            t1 = time.perf_counter()
            model = nb.export_model(sym_file, params_file, shapes, input_type=dtypes)
            row["export_s"] = round(time.perf_counter() - t1, 2)
            sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
            got = sess.run(None, {i.name: feeds[i.name] for i in sess.get_inputs()})
            row["onnx"] = judge(got, ref32, ref64)
        except Exception as exc:  # a sweep records every failure and goes on
            row["onnx"] = _failure(exc)
        if tvm:
            try:
                t1 = time.perf_counter()
                cm = nb.compile_model(sym_file, shape=shapes, params=params_file, dtype=dtypes)
                row["compile_s"] = round(time.perf_counter() - t1, 1)
                row["tvm"] = judge(cm.run({k: feeds[k] for k in cm.input_names}), ref32, ref64)
            except Exception as exc:
                row["tvm"] = _failure(exc)
    row["seconds"] = round(time.perf_counter() - t0, 1)
    return row


# ---- the sweep ---------------------------------------------------------------------------------------------
def _run_one(name, tvm, timeout):
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", name] + ([] if tvm else ["--no-tvm"])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH")) if p))
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"model": name, "task": MODELS[name][0], "error": f"timed out after {timeout} s"}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode == 0 and lines:
        return json.loads(lines[-1])
    tail = [ln for ln in proc.stderr.splitlines() if ln.strip()][-3:]
    return {"model": name, "task": MODELS[name][0], "error": f"exit status {proc.returncode}: " + " | ".join(tail)}


def _cell(res):
    if res is None:
        return "not run"
    if res.get("match"):
        if "err" not in res:
            return "match"
        return f"match ({res['err']:.1e} <= {res['tol']:.1e}{', vs MXNet float32' if 'against' in res else ''})"
    if "differs" in res:
        return f"**differs** ({res['differs']})"
    if "err" in res:
        return f"**differs** ({res['err']:.2e} > {res['tol']:.2e}, output {res['output']})"
    return f"fails: {res['reason']}"


def format_table(rows, command):
    order = [DET, SEG, POSE, ACT, CLS, NLP]
    out = ["| task | model | ONNX (onnxruntime) vs MXNet | TVM vs MXNet | export s | compile s |",
           "|---|---|---|---|---:|---:|"]
    for row in sorted(rows, key=lambda r: (order.index(r["task"]), r["model"])):
        if "error" in row:
            out.append(f"| {row['task']} | {row['model']} | fails: {row['error']} | | | |")
            continue
        out.append(f"| {row['task']} | {row['model']} | {_cell(row.get('onnx'))} | {_cell(row.get('tvm'))} "
                   f"| {row.get('export_s', '')} | {row.get('compile_s', '')} |")
    onnx_ok = sum(bool(r.get("onnx", {}).get("match")) for r in rows)
    tvm_ok = sum(bool(r.get("tvm", {}).get("match")) for r in rows)
    out += ["", f"ONNX matches MXNet on **{onnx_ok} of {len(rows)}** models, TVM on **{tvm_ok} of {len(rows)}**.",
            "", f"Command: `{command}`; load average {os.getloadavg()[0]:.2f} at the end."]
    return "\n".join(out) + "\n"


def _kept_rows(path, names):
    """The rows of an earlier sweep's JSONL file for models other than ``names``."""
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [row for row in map(json.loads, filter(str.strip, f)) if row["model"] not in names]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="*", help="model names (default: all of MODELS)")
    ap.add_argument("--tasks", nargs="*", choices=[DET, SEG, POSE, ACT, CLS, NLP])
    ap.add_argument("--no-tvm", action="store_true", help="ONNX only")
    ap.add_argument("--timeout", type=int, default=1200, help="seconds per model (default 1200)")
    ap.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "results", "gluon_models.jsonl"))
    ap.add_argument("--table", default=os.path.join(ROOT, "docs", "gluon_models.md"))
    ap.add_argument("--update", action="store_true",
                    help="keep --out's rows of the models not run now; the table shows them all")
    ap.add_argument("--table-only", action="store_true",
                    help="run nothing: write --table from the rows in --out (e.g. JSONL files concatenated)")
    ap.add_argument("--table-command", default="see the JSONL file",
                    help="with --table-only: the command(s) that measured the rows, for the table's last line")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, tvm=not args.no_tvm)))
        return 0
    if args.table_only:
        with open(args.out) as f:
            _write_table(args.table, [json.loads(line) for line in f if line.strip()], args.table_command)
        return 0
    names = args.models or [n for n, (task, _) in MODELS.items() if not args.tasks or task in args.tasks]
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        ap.error(f"unknown models: {', '.join(unknown)} (known: {', '.join(MODELS)})")
    rows = _kept_rows(args.out, names) if args.update else []
    with open(args.out, "w") as f:  # row by row: a sweep stopped halfway keeps what it measured
        for row in rows:
            f.write(json.dumps(row) + "\n")
        for i, name in enumerate(names):
            row = _run_one(name, not args.no_tvm, args.timeout)
            rows.append(row)
            f.write(json.dumps(row) + "\n")
            f.flush()
            print(f"[{i + 1}/{len(names)}] {name}: onnx "
                  f"{_cell(row.get('onnx')) if 'error' not in row else row['error']}; tvm {_cell(row.get('tvm'))}",
                  flush=True)
    command = "python tools/gluon_model_sweep.py" + (" " + " ".join(argv if argv is not None else sys.argv[1:])).rstrip()
    _write_table(args.table, rows, command)
    return 0


def _write_table(path, rows, command):
    with open(path, "w") as f:
        f.write("# GluonCV and GluonNLP models through nnvm_bridge\n\n"
                "Generated by `tools/gluon_model_sweep.py` (random weights, calibrated BatchNorm, `net.export`; "
                "judged against MXNet in float64 within 1e-4 x max(1, max|ref|) or 2x MXNet float32's own "
                "error; detectors row by row, near-tied detections may swap, \"vs MXNet float32\" where MXNet "
                "float32 itself keeps other detections than float64).\n\n")
        f.write(format_table(rows, command))


if __name__ == "__main__":
    sys.exit(main())
