"""Fixed TIR schedules for the fused PrimFuncs of a CPU build: one rule per kind of kernel.

Rules, tried in this order on each PrimFunc (the first that applies wins; any failure falls back to the
next, and at worst to the unscheduled PrimFunc, which is slow but correct):

* ``conv``: the ``conv2d_nchwc`` / ``dwconv2d_nchwc`` blocks of ``conv2d.py``. Register tile ``rw`` output
  columns x ``oi`` output-channel blocks x one vector of channels; loop order
  ``(n, oc, oh) parallel / ow_o / reduce (icc, kh, kw, icb) / ow_i unrolled / oi / ob vectorized``; the fused
  epilogue (bias, relu, residual add, relu6) computed at ``ow_o`` while the tile is in registers.
* ``matmul``: any block ``C[.., i, j] += A[.., i, k] * B[.., k, j]`` (dense, matmul, batch_matmul: the
  transformer path). Tile ``ib`` rows x ``jb`` columns (whole vectors), order
  ``(batch, j_o, i_o) parallel / k / i_i unrolled / j_i vectorized``, epilogue at ``i_o``.
* ``reduction``: dlight's CPU rule for row reductions with injective neighbours (softmax, layer norm); not
  for roi_align's window sums (``WINDOW_GATHER_BLOCKS``), which it would scalarize.
* ``generic``: everything else, block by block: pads inlined, reductions with their contiguous spatial axis
  moved inside and vectorized (pools, means in NCHWc), injective loops fused, parallel and vectorized.

Symbolic extents (a dynamic batch or sequence) are accepted: a matmul pads a symbolic M or N to whole
tiles (``pad_einsum``), a conv loops over a symbolic batch, and a contiguous axis of symbolic length is
left a serial loop for LLVM's vectorizer (a vector loop under a predicate would be scalarized).

Tile sizes come from the target (``CpuFacts``: vector lanes, register count); ``candidates`` lists a few
alternatives per kernel that ``pick.py`` times at compile time.
"""
from __future__ import annotations

from dataclasses import dataclass

from .conv2d import CONV_BLOCK, DW_BLOCK, PAD_BLOCK

PARALLEL_MIN_ELEMS = 4096  # loops over fewer output elements stay serial: a parallel launch costs a few us


@dataclass(frozen=True)
class ConvChoice:
    rw: int  # output columns per register tile
    oi: int = 1  # output-channel blocks per register tile


@dataclass(frozen=True)
class MatmulChoice:
    ib: int
    jb: int


# ---- small helpers ----------------------------------------------------------------------------------
def _int(x):
    try:
        return int(x)
    except (TypeError, ValueError):
        v = getattr(x, "value", None)
        return int(v) if v is not None else None


def _extent(sch, loop):
    return _int(sch.get(loop).extent)


def _divisors(n):
    return [d for d in range(1, n + 1) if n % d == 0]


def _largest_div(n, cap):
    return max(d for d in _divisors(n) if d <= max(1, cap))


def _blocks(sch):
    return list(sch.get_child_blocks(sch.get_sblock("root")))


def _name(sch, b):
    return sch.get(b).name_hint


def _iter_kinds(sch, b):
    return [int(iv.iter_type) for iv in sch.get(b).iter_vars]  # 0 spatial, 2 reduce


def _out_elems(sch, b):
    n = 1
    for iv in sch.get(b).iter_vars:
        if int(iv.iter_type) == 0:
            e = _int(iv.dom.extent)
            if e is None:
                return None
            n *= e
    return n


def _vec_regs(facts, ob):
    """Vector registers one ``ob``-wide channel block takes."""
    return max(1, -(-ob // facts.lanes(32)))


def _acc_budget(facts):
    return facts.registers - 3  # accumulators; the rest hold the weight vector and broadcasts


# ---- conv -------------------------------------------------------------------------------------------
def conv_info(func):
    """(block kind, loop extents) of a conv PrimFunc (the batch None where symbolic), or None."""
    import tvm

    sch = tvm.s_tir.Schedule(func)
    for b in _blocks(sch):
        nm = _name(sch, b)
        if nm.startswith((CONV_BLOCK, DW_BLOCK)):
            loops = sch.get_loops(b)
            ext = [_extent(sch, lp) for lp in loops]
            if None in ext[1:]:  # a symbolic batch (ext[0]) is only part of the parallel loop
                return None
            return ("dw" if nm.startswith(DW_BLOCK) else "conv"), ext
    return None


def conv_candidates(func, facts):
    info = conv_info(func)
    if info is None:
        return []
    kind, ext = info
    _, kc, _, ow, ob = ext[:5]
    budget = _acc_budget(facts)
    vr = _vec_regs(facts, ob)
    out = []

    def rw_for(cap):
        rw = _largest_div(ow, cap)
        return cap if (rw < 4 and ow > cap) else rw  # few divisors (e.g. 55): a non-dividing tile, short tail

    cap = max(1, budget // vr)
    if kind == "conv" and kc % 2 == 0:  # two output blocks per tile: each input broadcast feeds two FMAs
        out.append(ConvChoice(rw_for(max(1, budget // (2 * vr))), 2))
    out.append(ConvChoice(rw_for(cap), 1))
    out.append(ConvChoice(rw_for(min(cap, 16)), 1))
    seen, uniq = set(), []
    for c in out:
        if c not in seen:
            seen.add(c)
            uniq.append(c)
    return uniq


def schedule_conv(func, facts, choice=None):
    import tvm

    cands = conv_candidates(func, facts)
    if not cands:
        return None
    choice = choice or cands[0]
    sch = tvm.s_tir.Schedule(func)
    blks = _blocks(sch)
    names = [_name(sch, b) for b in blks]
    idx = next(i for i, n in enumerate(names) if n.startswith((CONV_BLOCK, DW_BLOCK)))
    conv = blks[idx]
    is_dw = names[idx].startswith(DW_BLOCK)
    before, after = blks[:idx], blks[idx + 1:]
    loops = sch.get_loops(conv)
    n, o, oh, ow, ob = loops[:5]
    red = loops[5:]
    wo, wi = sch.split(ow, [None, choice.rw])
    if choice.oi > 1:
        oo, oi = sch.split(o, [None, choice.oi])
        sch.reorder(n, oo, oh, wo, *red, wi, oi, ob)
        outer = sch.fuse(n, oo, oh)
    else:
        sch.reorder(n, o, oh, wo, *red, wi, ob)
        outer = sch.fuse(n, o, oh)
    # epilogue: inline the chain, compute the last block at ow_o when it keeps the blocked layout
    for b in after[:-1]:
        sch.compute_inline(b)
    tail_generic = None
    if after:
        last = after[-1]
        if len(sch.get(last).iter_vars) == 5 and all(k == 0 for k in _iter_kinds(sch, last)):
            sch.reverse_compute_at(last, wo)
            el = sch.get_loops(last)
            sch.vectorize(el[-1])
        else:
            tail_generic = last
    sch.parallel(outer)
    if is_dw:
        for r in red:
            sch.unroll(r)
    sch.unroll(wi)
    if choice.oi > 1:
        sch.unroll(oi)
    sch.vectorize(ob)
    sch.decompose_reduction(conv, red[0])
    for b in before:  # the data pad
        _generic_block(sch, b, facts)
    if tail_generic is not None:
        _generic_block(sch, tail_generic, facts)
    return sch.mod["main"]


# ---- matmul -----------------------------------------------------------------------------------------
def _matmul_block(sch):
    """(block, batch loops, i, j, k, (M, N, K)) of the first block shaped like C[.., i, j] += A[.., i, k] *
    B[.., k, j], or None. An extent is None where it is symbolic (a dynamic batch or sequence)."""
    for b in _blocks(sch):
        st = sch.get(b)
        kinds = _iter_kinds(sch, b)
        if len(kinds) < 3 or kinds[-1] != 2 or kinds.count(2) != 1 or any(k not in (0, 2) for k in kinds):
            continue
        if len(st.reads) != 2 or len(st.writes) != 1:
            continue
        ivs = [iv.var for iv in st.iter_vars]
        i_v, j_v, k_v = ivs[-3], ivs[-2], ivs[-1]

        def last2(region):
            r = region.region
            if len(r) < 2:
                return None
            return [r[-2].min, r[-1].min]

        a, bb = (last2(r) for r in st.reads)
        if a is None or bb is None:
            continue
        if not (a[0].same_as(i_v) and a[1].same_as(k_v)):
            a, bb = bb, a
        if not (a[0].same_as(i_v) and a[1].same_as(k_v) and bb[0].same_as(k_v) and bb[1].same_as(j_v)):
            continue
        loops = sch.get_loops(b)
        if len(loops) != len(kinds):
            continue
        ext = tuple(_int(iv.dom.extent) for iv in st.iter_vars[-3:])
        return b, loops[:-3], loops[-3], loops[-2], loops[-1], ext
    return None


def _static_rows(M, cap):
    """Rows per tile: a divisor of M, else ``min(4, cap)`` over zero-padded rows."""
    ib = _largest_div(M, cap)
    return min(4, cap) if ib < min(4, cap) and M > cap else ib


def matmul_candidates(func, facts):
    import tvm

    sch = tvm.s_tir.Schedule(func)
    found = _matmul_block(sch)
    if found is None:
        return []
    M, N, _ = found[-1]
    lanes = facts.lanes(32)
    budget = _acc_budget(facts)
    out = []
    for vecs in (4, 2, 1):
        jb = lanes * vecs
        if N is not None and N % jb:
            divs = [d for d in _divisors(N) if d <= jb]
            if max(divs) >= lanes:
                jb = max(divs)
            elif N < lanes:
                jb = N
            # else: whole vectors over a zero-padded N (pad_einsum): N = 197 has no divisor to use
        ib_cap = max(1, min(8, budget // max(1, -(-jb // lanes))))
        # a symbolic M (sequence, batch x sequence) is padded to whole tiles at run time; a power of two
        # keeps its index arithmetic cheap (7 rows built slower and ran slower than 4)
        ib = 1 << (ib_cap.bit_length() - 1) if M is None else _static_rows(M, ib_cap)
        c = MatmulChoice(ib, jb)
        if c not in out:
            out.append(c)
    return out


def _pad_factor(extent, tile):
    return tile if extent is None or extent % tile else 1


def schedule_matmul(func, facts, choice=None):
    import tvm

    cands = matmul_candidates(func, facts)
    if not cands:
        return None
    choice = choice or cands[0]
    sch = tvm.s_tir.Schedule(func)
    blk, batch, i, j, k, (M, N, K) = _matmul_block(sch)
    pads = [_pad_factor(M, choice.ib), _pad_factor(N, choice.jb)]
    padded = pads != [1, 1]
    if padded:  # pad the iteration space: no predicates in the vector loop (symbolic extents included)
        sch.pad_einsum(blk, [1] * len(batch) + pads + [1])
        loops = sch.get_loops(blk)
        batch, i, j, k = loops[:-3], loops[-3], loops[-2], loops[-1]
    blks = _blocks(sch)
    target_stmt = sch.get(blk)
    pos = [sch.get(x).same_as(target_stmt) for x in blks].index(True)
    before, after = blks[:pos], blks[pos + 1:]
    io, ii = sch.split(i, [None, choice.ib])
    jo, ji = sch.split(j, [None, choice.jb])
    sch.reorder(*batch, jo, io, k, ii, ji)
    outer = sch.fuse(*batch, jo, io)
    for b in after[:-1]:
        sch.compute_inline(b)
    tail_generic = None
    if after:
        last = after[-1]
        if padded:  # at the tile it would need a row/column predicate, which scalarizes the epilogue
            tail_generic = last
        else:
            try:
                sch.reverse_compute_at(last, outer)
                el = sch.get_loops(last)
                # only a loop below the tile loop, of constant extent: a 1 x 1 tile leaves ``outer`` the
                # innermost, and over a symbolic batch LLVM cannot vectorize it
                e = _extent(sch, el[-1])
                if len(el) > 1 and e is not None and e <= 256:
                    sch.vectorize(el[-1])
            except Exception:  # an epilogue that reshapes: its own loop nest
                tail_generic = last
    tiles = _extent(sch, outer)
    small = M is not None and N is not None and M * N < PARALLEL_MIN_ELEMS // 4
    if not small and (tiles is None or tiles > 1):
        sch.parallel(outer)
    sch.unroll(ii)
    sch.vectorize(ji)
    sch.decompose_reduction(blk, k)
    for b in before:
        _generic_block(sch, b, facts)
    if tail_generic is not None:
        _generic_block(sch, tail_generic, facts)
    return sch.mod["main"]


# ---- reductions with neighbours (softmax, layer norm) --------------------------------------------------
def _row_reduction_rule():
    """dlight's CPU rule for row reductions, except that an injective block over a row of symbolic
    length (a softmax over a dynamic sequence) keeps a plain serial loop, which LLVM vectorizes with a
    scalar tail: dlight's vector loop under a predicate is scalarized (3x slower)."""
    from tvm.s_tir.dlight.cpu import Reduction

    class RowReduction(Reduction):
        @staticmethod
        def _vectorize_inner(sch, block_rv, vec_lanes):
            loops = sch.get_loops(block_rv)
            if loops and _extent(sch, loops[-1]) is None:
                return
            Reduction._vectorize_inner(sch, block_rv, vec_lanes)

    return RowReduction()


def schedule_reduction(func, target):
    sch = _row_reduction_rule().apply(func, target, False)
    return None if sch is None else sch.mod["main"]


# ---- generic ----------------------------------------------------------------------------------------
NO_VECTOR_INTRINSICS = ("tirx.sinh", "tirx.cosh")  # LLVM codegen in TVM 0.27 has no vector lowering for them


def _vectorizable(sch, blk):
    stmt = sch.get(blk)
    try:
        text = stmt.script()
    except Exception:
        text = str(stmt)
    if '"bool"' in text:  # TVM 0.27's LLVM codegen mixes i8-stored and i1 bool vectors ("or <5 x i8>, <5 x i1>")
        return False
    return not any(f"T.{name.split('.')[-1]}(" in text for name in NO_VECTOR_INTRINSICS)


def _sum_extent(expr):
    """Whether a symbolic extent is a sum outside any division (``h // 8 * (w // 8) + 6``, a sequence of
    patches plus class tokens), alone or as a factor of a product."""
    import tvm

    if _int(expr) is not None:
        return False
    if isinstance(expr, (tvm.tirx.Add, tvm.tirx.Sub)):
        return True
    return isinstance(expr, tvm.tirx.Mul) and (_sum_extent(expr.a) or _sum_extent(expr.b))


def _fusable_prefix(sch, loops):
    """How many of ``loops`` (outermost first) one fused loop may take: up to the first loop after the
    outermost whose extent is a symbolic sum. With a sum in the middle of a fused loop, TVM 0.27 cannot
    lower an access to an intermediate buffer (CompactBufferAllocation: "The padding factor ... is not
    divisible by ...", since the analyzer does not see that 2 * (h * w + 6) divides 4 * (h * w + 6));
    as the innermost fused loop it lowers."""
    for k, lp in enumerate(loops[1:], 1):
        if _sum_extent(sch.get(lp).extent):
            return k + 1
    return len(loops)


def _generic_block(sch, blk, facts):
    """Parallel outer loops, vectorized contiguous inner loop; reductions keep their spatial inner axis
    inside. Applies what it can and returns quietly."""
    try:
        loops = sch.get_loops(blk)
        kinds = _iter_kinds(sch, blk)
        if len(loops) != len(kinds) or not loops:
            return
        lanes = facts.lanes(32)
        elems = _out_elems(sch, blk)
        spatial = [lp for lp, k in zip(loops, kinds) if k == 0]
        reduce = [lp for lp, k in zip(loops, kinds) if k != 0]
        if any(k not in (0, 2) for k in kinds):
            return
        inner = None
        if spatial and _vectorizable(sch, blk):
            last = spatial[-1]
            e = _extent(sch, last)
            # the innermost spatial axis is the contiguous one of the output
            if e is not None and e > 1:
                if e % lanes == 0 and e > lanes:
                    spatial_outer, inner = sch.split(last, [None, lanes])
                    spatial = spatial[:-1] + [spatial_outer]
                elif e <= 64:
                    inner = last
                    spatial = spatial[:-1]
        if inner is None and not reduce and len(spatial) > 1 and _extent(sch, spatial[-1]) is None:
            # a symbolic contiguous axis stays its own serial loop (LLVM vectorizes it): fused into the
            # parallel loop it would cost a division by a run-time extent per element
            spatial = spatial[:-1]
        init = None
        if reduce:
            if inner is not None:
                sch.reorder(*spatial, *reduce, inner)
                # a reduction's init and update each get the vector loop; a window gather's update cannot be
                # vectorized once its init is split off: it keeps the init (a branch outside the vector loop)
                if not spatial:
                    inner = None
                elif not _name(sch, blk).startswith(WINDOW_GATHER_BLOCKS):
                    init = sch.decompose_reduction(blk, reduce[0])
        if spatial and (elems is None or elems >= PARALLEL_MIN_ELEMS):
            spatial = spatial[:_fusable_prefix(sch, spatial)]
            fused = sch.fuse(*spatial) if len(spatial) > 1 else spatial[0]
            sch.parallel(fused)
        if inner is not None:
            if init is not None:
                sch.vectorize(sch.get_loops(init)[-1])
            sch.vectorize(inner)
    except Exception as exc:  # keep whatever applied
        _debug("generic", exc)


def schedule_generic(func, facts):
    import tvm

    sch = tvm.s_tir.Schedule(func)
    blks = _blocks(sch)
    rest = []
    for b in blks:
        nm = _name(sch, b)
        if len(blks) > 1 and nm.startswith(("pad_temp", PAD_BLOCK)):  # pools' padding: read in place
            try:
                sch.compute_inline(b)
                continue
            except Exception:
                pass
        rest.append(b)
    for b in rest:
        _generic_block(sch, b, facts)
    return sch.mod["main"]


# ---- dispatch ---------------------------------------------------------------------------------------
def schedule_primfunc(func, facts, target, choice=None):
    """The scheduled PrimFunc (named ``main`` in the schedule's module), or None when nothing applied."""
    return apply_rules(func, facts, target, choice)[1]


def apply_rules(func, facts, target, choice=None):
    """(name of the rule that applied, scheduled PrimFunc), or (None, None)."""
    rules = []
    if choice is None or isinstance(choice, ConvChoice):
        rules.append(("conv", lambda f: schedule_conv(f, facts, choice)))
    if choice is None or isinstance(choice, MatmulChoice):
        rules.append(("matmul", lambda f: schedule_matmul(f, facts, choice)))
    if not _gathers_windows(func):
        rules.append(("reduction", lambda f: schedule_reduction(f, target)))
    rules.append(("generic", lambda f: schedule_generic(f, facts)))
    for name, rule in rules:
        try:
            out = rule(func)
        except Exception as exc:
            _debug(name, exc)
            continue
        if out is not None:
            return name, out
    return None, None


# reductions over windows sampled anew for each output (roi_align's, channels innermost): the row-reduction
# rule fuses them into one scalar loop; the generic rule vectorizes their channels, the samples' positions and
# weights computed once per vector of channels
WINDOW_GATHER_BLOCKS = ("roi_align_acc",)


def _gathers_windows(func):
    import tvm

    sch = tvm.s_tir.Schedule(func)
    try:
        blocks = _blocks(sch)
    except tvm.s_tir.schedule.ScheduleError:  # hand-written TIR without a root block (scatter kernels)
        return False
    return any(_name(sch, b).startswith(WINDOW_GATHER_BLOCKS) for b in blocks)


def kernel_kind(func, facts):
    """"conv", "matmul" or None: the kernels that ``pick.py`` times."""
    try:
        if conv_candidates(func, facts):
            return "conv"
        if matmul_candidates(func, facts):
            return "matmul"
    except Exception as exc:
        _debug("kind", exc)
    return None


def candidates(func, facts):
    kind = kernel_kind(func, facts)
    if kind == "conv":
        return conv_candidates(func, facts)
    if kind == "matmul":
        return matmul_candidates(func, facts)
    return []


def _debug(where, exc):
    import os

    if os.environ.get("NNVM_BRIDGE_SCHEDULE_DEBUG"):
        msg = str(exc).strip().splitlines()
        print(f"[cpu schedules] {where}: {type(exc).__name__}: {(msg[-1] if msg else '')[:300]}")
