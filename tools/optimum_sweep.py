"""Files that Hugging Face optimum's ONNX exporter writes, through nnvm_bridge, vs onnxruntime (issue 10).

optimum is how many users get ONNX files of transformers models, and its files differ from a plain
``torch.onnx.export``: every axis it can make dynamic is (an image model's ``num_channels``, ``height``,
``width``), dims are labelled with expressions that need not hold (a GPT-2 mask of ``past_sequence_length + 1``),
and encoder-decoder models come as an encoder plus a *merged* decoder, one If over a use-the-cache branch and a
first-step branch whose cache outputs are empty constants. Each tiny random-weight model is exported with
``optimum.exporters.onnx.main_export`` into a cache folder; each file then goes WITHOUT ``shape=`` through
``compile_model`` (TVM) and ``import_to_gluon`` (MXNet), each check in its own subprocess, and is run at three
input sizes (batch, sequence, past and encoder lengths; the cache branch taken and not) against onnxruntime
(tolerance as tools/real_model_sweep.py).

    pip install --no-deps optimum==1.23.3      # not a project dependency: this check only
    nice python tools/optimum_sweep.py [--only gpt2 t5 ...] [--cache DIR]

optimum 1.23 calls ``torch.onnx.export`` without ``dynamo=``, which torch 2.9 and later read as the dynamo
exporter; it is run here with ``dynamo=False``, the exporter optimum was written for.
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import real_model_sweep as sweep  # noqa: E402

DEFAULT_CACHE = os.path.join(os.path.expanduser("~"), ".cache", "nnvm_bridge_optimum")
DEFAULT_TABLE = os.path.join(os.path.dirname(HERE), "docs", "optimum_models.md")
_TEXT = dict(vocab_size=100, max_position_embeddings=64)
_SEQ2SEQ = dict(encoder_layers=2, decoder_layers=2, encoder_attention_heads=2, decoder_attention_heads=2,
                d_model=32, encoder_ffn_dim=64, decoder_ffn_dim=64)
# name: (config class, model class, optimum task, config)
MODELS = {
    "gpt2": ("GPT2Config", "GPT2LMHeadModel", "text-generation-with-past",
             dict(n_layer=2, n_head=2, n_embd=32, vocab_size=100, n_positions=64)),
    "llama": ("LlamaConfig", "LlamaForCausalLM", "text-generation-with-past",
              dict(num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, hidden_size=32,
                   intermediate_size=64, **_TEXT)),
    "t5": ("T5Config", "T5ForConditionalGeneration", "text2text-generation-with-past",
           dict(num_layers=2, num_decoder_layers=2, num_heads=2, d_model=32, d_kv=16, d_ff=64, vocab_size=100,
                decoder_start_token_id=0)),
    "bart": ("BartConfig", "BartForConditionalGeneration", "text2text-generation-with-past",
             dict(**_SEQ2SEQ, **_TEXT)),
    "whisper": ("WhisperConfig", "WhisperForConditionalGeneration", "automatic-speech-recognition-with-past",
                dict(**_SEQ2SEQ, vocab_size=100, num_mel_bins=16, max_source_positions=1500,
                     max_target_positions=32, pad_token_id=1, bos_token_id=2, eos_token_id=3,
                     decoder_start_token_id=2)),
    "bert": ("BertConfig", "BertForSequenceClassification", "text-classification",
             dict(num_hidden_layers=2, num_attention_heads=2, hidden_size=32, intermediate_size=64, **_TEXT)),
    "distilbert": ("DistilBertConfig", "DistilBertForSequenceClassification", "text-classification",
                   dict(n_layers=2, n_heads=2, dim=32, hidden_dim=64, **_TEXT)),
    "vit": ("ViTConfig", "ViTForImageClassification", "image-classification",
            dict(num_hidden_layers=2, num_attention_heads=2, hidden_size=32, intermediate_size=64, image_size=32,
                 patch_size=8)),
    "swin": ("SwinConfig", "SwinForImageClassification", "image-classification",
             dict(image_size=32, patch_size=4, embed_dim=16, depths=[1, 1], num_heads=[2, 2], window_size=2)),
}
# (batch, new tokens, encoder length, past length, cache branch); image models: 32 x 32 (their position
# embeddings are for that size) at each batch
SIZES = [(2, 1, 5, 4, True), (1, 3, 7, 1, False), (3, 1, 2, 6, True)]


def export(name, cache):
    """Export ``name`` with optimum into ``cache/name`` (once); returns the ONNX files."""
    out = os.path.join(cache, name)
    if not (os.path.isdir(out) and any(f.endswith(".onnx") for f in os.listdir(out))):
        sweep.torchvision_without_cxx_ops()
        import torch
        import transformers

        torch.onnx.export = functools.partial(torch.onnx.export, dynamo=False)
        from optimum.exporters.onnx import main_export

        config_cls, model_cls, task, config = MODELS[name]
        torch.manual_seed(0)
        model = getattr(transformers, model_cls)(getattr(transformers, config_cls)(**config)).eval()
        src = os.path.join(cache, f"{name}_src")
        model.save_pretrained(src)
        main_export(src, output=out, task=task, do_validation=False)
    return sorted(os.path.join(out, f) for f in os.listdir(out) if f.endswith(".onnx"))


def feeds(sess, size, seed):
    """Inputs for the file's declared inputs, the lengths of one ``SIZES`` entry given to its dim names."""
    import numpy as np

    batch, new, enc, past, cache = size
    dims = {"batch_size": batch, "decoder_sequence_length": new, "sequence_length": new,
            "encoder_sequence_length": enc, "encoder_sequence_length_out": enc, "encoder_sequence_length / 2": enc,
            "past_decoder_sequence_length": past, "past_sequence_length": past,
            "past_sequence_length + 1": past + new, "num_channels": 3, "height": 32, "width": 32}
    rng = np.random.default_rng(seed)
    out = {}
    for i in sess.get_inputs():
        shape = [dims[d] if isinstance(d, str) else d for d in i.shape]
        if i.name == "use_cache_branch":
            out[i.name] = np.array([cache])
        elif i.name == "position_ids":
            out[i.name] = np.broadcast_to(np.arange(past, past + new), shape).astype(np.int64).copy()
        elif "mask" in i.name:
            out[i.name] = np.ones(shape, np.int64)
            out[i.name][0, 0] = 0
        elif i.name == "token_type_ids":
            out[i.name] = np.zeros(shape, np.int64)
        elif i.type == "tensor(int64)":
            out[i.name] = rng.integers(0, 30, shape).astype(np.int64)
        else:
            out[i.name] = rng.standard_normal(shape).astype(np.float32)
    return out


def check(path, engine):
    """One file through ``engine`` at every size onnxruntime runs: a result dict as the sweep's."""
    import onnxruntime as ort

    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    cases = []
    for k, size in enumerate(SIZES):
        f = feeds(sess, size, k)
        try:
            cases.append((f, sess.run(None, f)))
        except Exception:  # noqa: BLE001 - a size this file does not take (an encoder of fixed length)
            continue
    if not cases:
        return {"result": "error", "reason": "onnxruntime runs the file at none of the sizes"}
    run = sweep.engine_runner(path, engine)
    errs = []
    for f, ref in cases:
        err, why = sweep._compare(run(f), ref)
        if why:
            return {"result": "wrong", "reason": why}
        errs.append(err)
    worst = max(errs)
    return {"result": "ok" if worst <= sweep.TOL else "wrong", "max_rel_err": worst, "sizes": len(cases),
            "reason": "" if worst <= sweep.TOL else f"max error {worst:.2e} of the output's scale"}


def _check_in_child(path, engine):
    proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--check-one", path, engine],
                          capture_output=True, text=True, timeout=900)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode == 0 and lines:
        return json.loads(lines[-1])
    tail = (proc.stderr.strip().splitlines() or [""])[-1][:300]
    return {"result": "error" if proc.returncode == 1 else "crash", "reason": tail}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", nargs="*", help="models to run (default: all)")
    ap.add_argument("--cache", default=DEFAULT_CACHE)
    ap.add_argument("--table", default=DEFAULT_TABLE, help="markdown file for the results (default: %(default)s)")
    ap.add_argument("--check-one", nargs=2, metavar=("FILE", "ENGINE"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.check_one:
        print(json.dumps(check(*args.check_one)))
        return 0
    os.makedirs(args.cache, exist_ok=True)
    load = os.getloadavg()[0]
    rows, ok = [], {"tvm": 0, "mxnet": 0}
    for name in args.only or MODELS:
        for path in export(name, args.cache):
            res = {e: _check_in_child(path, e) for e in ("tvm", "mxnet")}
            ok = {e: n + (res[e]["result"] == "ok") for e, n in ok.items()}
            cells = [f"ok ({r['max_rel_err']:.0e}, {r['sizes']} sizes)" if r["result"] == "ok" else r["result"]
                     for r in res.values()]
            reasons = "; ".join(f"{e}: {r['reason']}" for e, r in res.items() if r["result"] != "ok")
            rows.append(f"| {name} | {os.path.basename(path)} | {cells[0]} | {cells[1]} | {sweep._md(reasons)} |")
            print(rows[-1], flush=True)
    with open(args.table, "w") as f:
        f.write("\n".join([
            "# Files written by optimum's ONNX exporter (issue 10)", "",
            "Tiny random-weight transformers models exported by `optimum.exporters.onnx.main_export` (optimum 1.23.3),",
            "each file run WITHOUT `shape=` through `compile_model(path)` (TVM) and `import_to_gluon(path)` (MXNet) at",
            "the sizes onnxruntime runs of three (batch, new tokens, encoder and past lengths; a merged decoder's cache",
            "branch taken and not) and compared with onnxruntime (1e-4 x max(1, max|ref|) per output). Made by",
            f"`nice python tools/optimum_sweep.py` (load average {load:.1f} at the start).", "",
            f"**{len(rows)} files: TVM {ok['tvm']} match, MXNet {ok['mxnet']} match.**", "",
            "| model | file | TVM | MXNet | reason |", "|---|---|---|---|---|", *rows, ""]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
