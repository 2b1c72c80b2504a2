"""Run the loader fuzz targets (tests/fuzz_targets.py) longer than CI does and print the counts.

    .venv/bin/python benchmarks/fuzz_report.py --examples 2000      # per target

Every input must end as "accepted" or "BridgeError"; a foreign exception or a hang stops the run
with the offending input (hypothesis prints the minimal example).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))
sys.path.insert(0, os.path.dirname(HERE))

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import fuzz_targets as ft  # noqa: E402


def _returning_none(target):
    def run_one(value):  # hypothesis wants test functions that return None
        target(value)
    return run_one


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--examples", type=int, default=2000, help="inputs per target")
    ap.add_argument("--json", help="also write the counts to this file")
    args = ap.parse_args()
    cfg = settings(max_examples=args.examples, deadline=None, database=None,
                   suppress_health_check=list(HealthCheck))
    onnx_seed = ft.onnx_model().SerializeToString()
    json_seed = json.dumps(ft.mxnet_symbol()).encode()
    params_seed = ft.valid_params_bytes()
    runs = [
        (ft.onnx_models(), ft.target_onnx_model),
        (ft.bytes_inputs(onnx_seed), ft.target_onnx_bytes),
        (ft.mxnet_symbols(), ft.target_mxnet_symbol),
        (ft.bytes_inputs(json_seed), ft.target_mxnet_json_bytes),
        (ft.bytes_inputs(params_seed), ft.target_params_bytes),
        (ft.mutated_bytes(params_seed), ft.target_params_in_model),
        (st.tuples(st.sampled_from(ft.attr_kinds()), ft.attr_texts, st.booleans()), ft.target_attr_value),
    ]
    t0 = time.perf_counter()
    for strategy, target in runs:
        t = time.perf_counter()
        cfg(given(strategy)(_returning_none(target)))()
        print(f"{target.__name__}: {time.perf_counter() - t:.1f} s", file=sys.stderr, flush=True)
    print(f"fuzzing, {args.examples} examples per hypothesis run, {time.perf_counter() - t0:.0f} s in all:")
    print(ft.summary())
    if args.json:
        with open(args.json, "w") as f:
            json.dump({k: dict(v) for k, v in ft.COUNTS.items()}, f, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
