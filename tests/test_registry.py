"""The one Registry type: duplicate names, versions, options, loading."""
from __future__ import annotations

import pytest

from nnvm_bridge.errors import UnsupportedOpsetError
from nnvm_bridge.registry import Registry, select_version


def _fn(ctx, node, attrs, inputs):
    return (ctx, node, attrs, inputs)


def test_duplicates_raise_unless_override():
    reg = Registry("test table")
    reg.register("a", "b")(_fn)
    with pytest.raises(ValueError, match="'a' is already registered"):
        reg.add("a", _fn)

    def other(ctx, node, attrs, inputs):
        return "other"
    reg.add("a", other, override=True)
    reg.mark_loaded()
    assert reg.get("a").fn is other and reg.get("b").fn is _fn
    assert reg.supported() == ["a", "b"]
    assert reg.get("c") is None and "a" in reg and "c" not in reg


def test_versioned_selection_never_picks_a_newer_version():
    reg = Registry("versioned", versioned=True)
    reg.register("Conv", since=(1, 11))(_fn)
    reg.add("Conv", lambda *a: "v22", since=22)
    with pytest.raises(ValueError, match="at opset 11"):
        reg.add("Conv", _fn, since=11)
    reg.mark_loaded()
    assert reg.get("Conv", 10).since == 1
    assert reg.get("Conv", 21).since == 11
    assert reg.get("Conv", 23).since == 22
    assert reg.versions("Conv") == [1, 11, 22]
    assert reg.supported() == {"Conv": [1, 11, 22]}
    reg2 = Registry("v2", versioned=True)
    reg2.add("Gelu", _fn, since=20)
    reg2.mark_loaded()
    with pytest.raises(UnsupportedOpsetError, match="Gelu at opset 17"):
        reg2.get("Gelu", 17, node="g1")
    assert select_version([1, 13], 12, "Softmax") == 1


def test_options_calling_convention_and_loading():
    reg = Registry("with options", options={"labels": (), "check": None})
    with pytest.raises(TypeError, match="unknown option"):
        reg.add("x", _fn, weight=1)
    with pytest.raises(TypeError, match="not versioned"):
        reg.add("x", _fn, since=3)
    with pytest.raises(TypeError, match="op names"):
        reg.add("", _fn)
    reg.add("x", _fn, labels=(1,))
    with pytest.raises(RuntimeError, match="before its handler modules"):
        reg.get("x")
    reg.mark_loaded()
    h = reg.get("x")
    assert h.labels == (1,) and h.check is None
    assert h("c", "n", "a", "i") == ("c", "n", "a", "i")
    with pytest.raises(AttributeError):
        h.nothing
    with pytest.raises(TypeError, match="needs since"):
        Registry("v", versioned=True).add("y", _fn)
