"""ONNX backend node test cases (by default those built by the installed onnx package; onnx 1.14.1's
stored cases with NNVM_BRIDGE_ONNX_CASES=1.14.1) through from_onnx -> to_mxnet -> MXNet, against the
cases' expected outputs.

Failures are listed, each with a reason, in onnx_conformance_xfail.py (onnx_conformance_xfail_onnx1141.py
for 1.14.1's cases; strict: a case that starts passing must be removed from the list).  Regenerate with
tools/onnx_conformance_table.py --write-xfail [--cases 1.14.1].
"""
from __future__ import annotations

import importlib

import pytest

pytest.importorskip("mxnet")

import onnx_conformance as oc  # noqa: E402

try:
    XFAIL = importlib.import_module(oc.xfail_module()).XFAIL
except ModuleNotFoundError:
    pytest.skip(f"no expected-failure list {oc.xfail_module()}.py for the {oc.case_set()} cases; write it with "
                f"tools/onnx_conformance_table.py --cases {oc.case_set()} --write-xfail", allow_module_level=True)


def _params():
    out = []
    for name in oc.case_names():
        # MXNet runtime failures (dtype checks deep in an executor) can depend on earlier cases in the
        # process, so only those are non-strict; conversion failures and wrong numbers are strict
        strict = not XFAIL.get(name, "").startswith("MXNet:") and name not in oc.FLAKY
        marks = [pytest.mark.xfail(reason=XFAIL[name], strict=strict)] if name in XFAIL else []
        out.append(pytest.param(name, marks=marks, id=name))
    return out


@pytest.mark.parametrize("name", _params())
def test_onnx_node_case_in_mxnet(name):
    oc.run_case(oc.cases()[name])


def test_conformance_count_at_least_700():
    assert len(oc.case_names()) - len(XFAIL) >= 700
