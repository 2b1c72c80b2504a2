"""The ONNX import table's versions are a contract with ONNX's schema history.

For every op with a converter, the registered versions must be exactly the op's default-domain
schema versions from the converter's first version up to the newest opset the importer claims
(``validate.NEWEST_OPSET``).  Then the converter chosen for a model (the largest version <= its
opset) was written for the schema the model uses, and the support matrix's version column is true.
A schema version deliberately left without a converter of its own is listed in
UNREGISTERED_SCHEMAS with the reason.
"""
from __future__ import annotations

import collections

import pytest

onnx = pytest.importorskip("onnx")

from nnvm_bridge.errors import UnsupportedOpsetError  # noqa: E402
from nnvm_bridge.frontend.onnx.importer import from_onnx, supported_ops  # noqa: E402
from nnvm_bridge.frontend.onnx.validate import NEWEST_OPSET  # noqa: E402

# op -> (schema versions without a converter of their own, why)
UNREGISTERED_SCHEMAS = {
    "Upsample": ({10}, "Upsample-10 only deprecates the op in favour of Resize (onnx.checker rejects it); a file "
                       "that still uses it gets the Upsample-9 converter, which reads the same inputs"),
}

TABLE = supported_ops()
# ops of other domains are filed as "<domain>.<op type>" (com.microsoft.QLinearConcat), at that domain's opsets
OTHER_DOMAINS = {op for op in TABLE if "." in op}


def _schema_history() -> dict:
    history = collections.defaultdict(set)
    for schema in onnx.defs.get_all_schemas_with_history():
        if schema.domain in ("", "ai.onnx"):
            history[schema.name].add(schema.since_version)
    return history


HISTORY = _schema_history()


@pytest.fixture(autouse=True)
def _onnx_knows_the_claimed_opsets():
    if onnx.defs.onnx_opset_version() < NEWEST_OPSET:
        pytest.skip(f"the installed onnx has schemas up to opset {onnx.defs.onnx_opset_version()}; checking the "
                    f"claim (opset {NEWEST_OPSET}) needs a newer onnx")


@pytest.mark.parametrize("op", sorted(set(TABLE) - OTHER_DOMAINS))
def test_registered_versions_are_the_schema_versions(op):
    registered = TABLE[op]
    assert op in HISTORY, f"{op} is not an op of ONNX's default domain"
    left_out = UNREGISTERED_SCHEMAS.get(op, (set(), ""))[0]
    expected = sorted(v for v in HISTORY[op] if registered[0] <= v <= NEWEST_OPSET and v not in left_out)
    assert registered == expected, (
        f"{op}: converters are registered for opsets {registered}, but ONNX's schemas from {registered[0]} to "
        f"the claimed opset {NEWEST_OPSET} are {expected}: register the missing versions (a function of their "
        f"own where the semantics changed), drop those that are no schema version, or add the op to "
        f"UNREGISTERED_SCHEMAS with the reason")


# the other ONNX domains with converters; each op's versions are its schema versions there
ONNX_DOMAINS = ("ai.onnx.preview.training",)


@pytest.mark.parametrize("op", sorted(OTHER_DOMAINS))
def test_other_domain_ops_are_contrib_ops_at_version_1_or_onnx_domain_schemas(op):
    domain, op_type = op.rsplit(".", 1)
    if domain in ONNX_DOMAINS:
        versions = {s.since_version for s in onnx.defs.get_all_schemas_with_history()
                    if s.domain == domain and s.name == op_type}
        assert TABLE[op] == sorted(versions), f"{op}: registered {TABLE[op]}, schemas {sorted(versions)}"
    else:  # onnxruntime's contrib ops (what its quantizer writes) and this project's own (to_onnx's model-local
        # functions) have one version each, 1
        assert domain in ("com.microsoft", "ai.nnvm_bridge") and TABLE[op] == [1]


@pytest.mark.parametrize("op", sorted(UNREGISTERED_SCHEMAS))
def test_each_exception_names_real_schema_versions_left_without_a_converter(op):
    versions, reason = UNREGISTERED_SCHEMAS[op]
    assert op in TABLE and reason
    assert versions <= HISTORY[op]
    assert not versions & set(TABLE[op])


def test_a_model_newer_than_the_claimed_opset_is_refused():
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", NEWEST_OPSET + 1)])
    with pytest.raises(UnsupportedOpsetError, match=f"opsets 1..{NEWEST_OPSET}"):
        from_onnx(model)
