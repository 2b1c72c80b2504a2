"""Symbolic dims (nnvm_bridge.ir.symbolic): exact polynomial arithmetic, structured atoms, size comparisons."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nnvm_bridge.ir.symbolic import (Dim, SymbolicDimError, bind_shape, clamped_at_zero, cut_from, dim_isqrt,
                                     dim_max, dim_min, evaluate, lower_bound, match_dims, may_equal, parse_dim,
                                     parse_shape, slice_length, substitute, sym, taken_as_equal)

N, S, H = sym("N"), sym("S"), sym("H")


def test_polynomials_are_exact_and_canonical():
    assert N + 1 - 1 == N and isinstance(N - N, int) and N - N == 0
    assert N * S * 768 // (N * 12) == 64 * S
    assert (N * S * 768) % (N * 12) == 0
    assert 2 * N // 2 == N and (2 * H + 3) // 2 == H + 1
    assert (H - 8) // 8 + 1 == H // 8 and (H - 7) // 8 == (H + 1) // 8 - 1 and (H + 9) % 4 == (H + 1) % 4
    assert N * S == S * N and hash(N * S) == hash(S * N)
    assert (N + S) * 2 // (N + S) == 2
    assert str(2 * N * S + 1) in ("1 + 2*N*S", "2*N*S + 1")


def test_division_by_a_polynomial_is_exact_when_it_divides():
    P = sym("P")
    assert 64 * N * P + 64 * N * S == 64 * N * (P + S)
    assert (64 * N * P + 64 * N * S) // (32 * P + 32 * S) == 2 * N  # GPT-2's heads from the mask's length
    assert (N * P + N * S) % (P + S) == 0 and (P * P - S * S) // (P - S) == P + S
    assert (N * P + S) // (P + S) != N and isinstance((3 * P + 2) // (P + 1), Dim)
    assert evaluate((N * P + 1) // (P + S), {"N": 3, "P": 4, "S": 2}) == 13 // 6


def test_structured_atoms_keep_their_meaning():
    q = (H - 3) // 2 + 1  # a strided conv's output length
    assert isinstance(q, Dim) and q.symbols() == {"H"}
    assert substitute(q, {"H": 9}) == 4 and substitute(q, {"H": 10}) == 4
    assert evaluate(dim_min(N, S), {"N": 3, "S": 5}) == 3
    assert evaluate(dim_max(N, S) + N % 4, {"N": 7, "S": 5}) == 10


def test_a_length_cut_from_another_broadcasts_to_it():
    assert cut_from(dim_min(64, S), S) and cut_from(dim_min(N, S), N) and dim_max(dim_min(64, S), S) == S
    assert not cut_from(S, S) and not cut_from(dim_max(64, S), S) and not cut_from(dim_min(64, S), N)
    assert not cut_from(dim_min(64, S) + 1, S) and not cut_from(8, S)


def test_isqrt_of_a_square_is_its_root_and_of_anything_else_an_atom():
    """DPT's patch grid side int(sqrt(P)): exact for squares; else an atom that evaluates as math.isqrt."""
    W = sym("W")
    assert dim_isqrt(4 * H * H) == 2 * H and dim_isqrt(N * N * S * S) == N * S and dim_isqrt(49) == 7
    side = dim_isqrt((H // 8) * (W // 8))
    assert isinstance(side, Dim) and side.symbols() == {"H", "W"} and lower_bound(side) == 0
    assert evaluate(side, {"H": 40, "W": 40}) == 5 and evaluate(side, {"H": 16, "W": 64}) == 4
    assert evaluate(side, {"H": 32, "W": 48}) == 4  # 24 patches: no square, the side rounds down
    assert parse_dim(str(side)) == side and substitute(side, {"W": H}) == H // 8
    assert dim_isqrt(3 * H * H) != H and isinstance(dim_isqrt(3 * H * H), Dim)


def test_dims_a_model_implies_equal():
    """Concat's other axes: dims that may be equal (symbolic, not a constant apart) are taken as one, the
    constant or the shorter expression."""
    reshaped = (32 * N * S) // 512
    assert may_equal(reshaped, N) and taken_as_equal(reshaped, N) == N and taken_as_equal(N, reshaped) == N
    assert may_equal(S, 16) and taken_as_equal(S, 16) == 16 and taken_as_equal(16, S) == 16
    assert not may_equal(S, S + 1) and not may_equal(3, 4) and may_equal(S, S)


def test_a_range_length_clamped_at_zero_names_its_bound():
    t = sym("L") // 5 - 1  # a strided conv's frames: not provably >= 0, so a range over them is max(t, 0)
    assert clamped_at_zero(slice_length(0, t, 1)) == t and clamped_at_zero(dim_max(t, 3)) is None
    assert clamped_at_zero(t) is None and clamped_at_zero(N) is None


def test_shape_texts_keep_symbols_named_l():
    """Old MXNet writes Python 2 longs (``3L``); a symbol ``L`` (a length) is no long suffix."""
    assert parse_shape("(N, L)") == (N, sym("L")) and parse_shape("(1L, 3L, 224L)") == (1, 3, 224)
    assert parse_shape("(seq_L, 2*L)") == (sym("seq_L"), 2 * sym("L"))


def test_comparisons_are_decided_for_sizes():
    assert N > 3 and N >= 1 and N != 1 and not N == 1
    assert N < 2 ** 31 - 1 and dim_min(N, 2 ** 63 - 1) == N and dim_max(N, 1) == N
    assert N + 1 > N and not N < N
    assert N != S


def test_no_silent_integer_conversion():
    with pytest.raises(SymbolicDimError, match="symbolic"):
        int(N)
    with pytest.raises(SymbolicDimError, match=r"\['S'\]"):
        evaluate(N * S, {"N": 2})


def test_binding_shapes():
    assert bind_shape((N, 3, S), {"N": 2}) == (2, 3, S)
    assert match_dims((N, 3, N * 2), (4, 3, 8), {}) == {"N": 4}
    with pytest.raises(Exception, match="dim 2 is 9"):
        match_dims((N, 3, N * 2), (4, 3, 9), {})
    with pytest.raises(Exception, match="rank"):
        match_dims((N, 3), (4,), {})


@given(st.integers(1, 50), st.integers(1, 50), st.integers(-20, 20), st.integers(1, 9))
def test_arithmetic_agrees_with_integers(n, s, c, k):
    exprs = [N * S + c, (N + c) // k, (N * k + S) % k, dim_min(N, S) * 2 - c, dim_max(N + c, S), N * S * k // k]
    vals = [n * s + c, (n + c) // k, (n * k + s) % k, min(n, s) * 2 - c, max(n + c, s), n * s]
    for e, v in zip(exprs, vals):
        assert evaluate(e, {"N": n, "S": s}) == v, e


@given(st.integers(1, 40), st.integers(-50, 50) | st.sampled_from([2 ** 62, -2 ** 62]),
       st.integers(-50, 50) | st.sampled_from([2 ** 62, -2 ** 62]), st.integers(-4, 4).filter(bool))
def test_symbolic_slices_agree_with_python(n, begin, end, step):
    from nnvm_bridge.ir.symbolic import slice_indices, slice_length

    length = slice_length(*slice_indices(N, begin, end, step))
    assert evaluate(length, {"N": n}) == len(range(*slice(begin, end, step).indices(n)))


def test_graph_json_keeps_symbolic_shapes():
    from nnvm_bridge.ir import Graph, Node, load_json, save_json
    from nnvm_bridge.ir.passes import infer_shape

    x = Node("null", "x", attrs={"__shape__": "(N, 2*S + 1, 4)"})
    g = infer_shape(Graph([Node("relu", "r", [x[0]])[0]]))
    back = load_json(save_json(g))
    assert back.attrs["shape"] == g.attrs["shape"] == [(N, 2 * S + 1, 4)] * 2


def test_a_length_padded_to_whole_windows_divides_by_the_window():
    """Swin pads ``n`` to whole windows with ``n + (k - n % k) % k``; written as ``k * ((n + k - 1) // k)`` it
    divides by ``k`` exactly, so a window reverse's ``-1`` (a product of windows over the padded area) is the
    batch again; the values agree with integer arithmetic for every length."""
    h, b = sym("h"), sym("B")
    n = h // 4
    padded = n + (2 - n % 2) % 2
    assert padded == 2 * ((n + 1) // 2) and padded % 2 == 0
    assert (64 * b * (padded // 2) * (padded // 2)) // (16 * padded * padded) == b
    for hv in range(1, 50):
        nv = hv // 4
        assert evaluate(padded, {"h": hv}) == nv + (2 - nv % 2) % 2
        assert evaluate((3 - h % 3) % 3, {"h": hv}) == (3 - hv % 3) % 3

