"""ONNX backend node test cases (built by the installed onnx package) through
from_onnx -> to_mxnet -> MXNet, against the cases' expected outputs.

Failures are listed, each with a reason, in onnx_conformance_xfail.py (strict: a case that starts
passing must be removed from the list).  Regenerate with tools/onnx_conformance_table.py --write-xfail.
"""
from __future__ import annotations

import pytest

pytest.importorskip("mxnet")

import onnx_conformance as oc  # noqa: E402
from onnx_conformance_xfail import XFAIL  # noqa: E402


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
