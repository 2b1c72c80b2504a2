"""Property-based fuzzing of the model readers: ONNX (structured edits and mutated file bytes),
MXNet symbol JSON (structured edits and mutated bytes), ``.params`` files and attribute strings.

Only BridgeError subclasses may come out, and no input may take more than a few seconds.
Bounded for CI (the whole module takes well under a minute); the number of inputs tried per
target is printed at the end of the run (benchmarks/fuzz_report.py runs the same targets longer).
"""
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fuzz_targets as ft

pytest.importorskip("onnx")


def _settings(n):
    return settings(max_examples=n, deadline=None, derandomize=False, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


@pytest.fixture(scope="module", autouse=True)
def report_counts(request):
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():  # shown without -s too
            reporter.write_line("\nfuzzing (inputs tried per target):\n" + ft.summary())


_ONNX_SEED = ft.onnx_model().SerializeToString()
_JSON_SEED = ft.json.dumps(ft.mxnet_symbol()).encode()
_PARAMS_SEED = ft.valid_params_bytes()


@_settings(400)
@given(ft.onnx_models())
def test_fuzz_onnx_structured(model_and_shape):
    ft.target_onnx_model(model_and_shape)


@_settings(400)
@given(ft.bytes_inputs(_ONNX_SEED))
def test_fuzz_onnx_file_bytes(data):
    ft.target_onnx_bytes(data)


@_settings(400)
@given(ft.mxnet_symbols())
def test_fuzz_mxnet_symbol_structured(sym_and_shape):
    ft.target_mxnet_symbol(sym_and_shape)


@_settings(300)
@given(ft.bytes_inputs(_JSON_SEED))
def test_fuzz_mxnet_json_bytes(data):
    ft.target_mxnet_json_bytes(data)


@_settings(600)
@given(ft.bytes_inputs(_PARAMS_SEED))
def test_fuzz_params_bytes(data):
    ft.target_params_bytes(data)


@_settings(300)
@given(ft.mutated_bytes(_PARAMS_SEED))
def test_fuzz_params_in_conversion(data):
    ft.target_params_in_model(data)


@_settings(1000)
@given(st.tuples(st.sampled_from(ft.attr_kinds()), ft.attr_texts, st.booleans()))
def test_fuzz_attribute_strings(kind_text_optional):
    ft.target_attr_value(kind_text_optional)



def test_params_zero_sized_array_with_huge_dims():
    """Found by benchmarks/fuzz_report.py: a 0-element array whose other dims overflow numpy's size
    limit passed the byte-count check and then escaped as a numpy ValueError."""
    import struct

    from nnvm_bridge.errors import ParamsError
    from nnvm_bridge.ir.params import load_params

    data = (struct.pack("<QQQ", 0x112, 0, 1) + struct.pack("<Iii", 0xF993FAC9, 0, 3)
            + struct.pack("<3q", 0, 2 ** 40, 2 ** 40) + struct.pack("<iii", 1, 0, 0)
            + struct.pack("<QQ", 1, 1) + b"w")
    with pytest.raises(ParamsError, match="impossibly large"):
        load_params(data)
