"""IR dims -> TIR expressions: one int64 ``tir.Var`` per symbol, rebuilt from a Dim's structure.

A Relax function declares each symbol of its inputs' shapes in the parameter annotations
(``R.Tensor((N, 3, 224, 224))``); every shape an emitter computes from the IR (reshape targets, slice
bounds, ``full`` shapes) is then an expression of those same variables, so one library serves every size.
"""
from __future__ import annotations

from nnvm_bridge.ir.symbolic import Dim, is_static, taken_as_equal

from .. import compat


class SymbolTable:
    """The ``tir.Var`` of each symbol name, made on first use."""

    def __init__(self):
        self.vars = {}
        self._analyzer = None
        self.equal_dims = []  # (a, b) pairs the compiled code takes as equal: CompiledModel.run checks them
        self.inputs = frozenset()  # the symbols the inputs' shapes bind (what CompiledModel.run knows)
        # max(a, b) atom key -> the one of a, b written for it, where the compiled code takes a == b (a
        # broadcast): nested maxes of every later length would otherwise grow the kernels' index expressions
        self.same = {}

    def var(self, name):
        if name not in self.vars:
            self.vars[name] = compat.tir().Var(name, "int64")
        return self.vars[name]

    def prim(self, d):
        """An int stays an int; a Dim becomes the PrimExpr of its polynomial and atoms."""
        if not isinstance(d, Dim):
            return int(d)
        total = None
        for monomial, coeff in d.terms:
            term = None if coeff == 1 and monomial else compat.tir().IntImm("int64", coeff)
            for atom in monomial:
                term = self._atom(atom) if term is None else term * self._atom(atom)
            total = term if total is None else total + term
        return total

    def _atom(self, atom):
        tir = compat.tir()
        if atom.op == "sym":
            return self.var(atom.key)
        if atom.key in self.same:
            return self._expr(self.same[atom.key])
        if atom.op == "isqrt":  # a float64 root, truncated (no tir floor in shape code): isqrt below 2**52
            return tir.Cast("int64", tir.sqrt(tir.Cast("float64", self._expr(atom.args[0]))))
        a, b = (self._expr(x) for x in atom.args)
        return {"floordiv": tir.floordiv, "mod": tir.floormod, "min": tir.min, "max": tir.max}[atom.op](a, b)

    def _expr(self, d):
        p = self.prim(d)
        return compat.tir().IntImm("int64", p) if isinstance(p, int) else p

    def take_equal(self, a, b):
        """Record that the compiled code takes the dims ``a == b`` (CompiledModel.run checks it); a broadcast's
        ``max(a, c)`` then is written as the simpler of ``a`` and ``c``."""
        self.equal_dims.append((a, b))
        if isinstance(b, Dim) and len(b.terms) == 1 and b.terms[0][1] == 1 and len(b.terms[0][0]) == 1:
            atom = b.terms[0][0][0]
            if atom.op == "max" and a in atom.args:
                self.same[atom.key] = taken_as_equal(*atom.args)

    def shape(self, shape):
        """A shape as a list for Relax: ints, and PrimExprs where symbolic."""
        return list(shape) if is_static(shape) else [self.prim(d) for d in shape]

    # ---- comparing Relax shapes (tuples of PrimExprs / ints) ---------------------------------------------
    def equal(self, a, b) -> bool:
        """True when ``a == b`` is provable (for every value of the symbols)."""
        if isinstance(a, int) and isinstance(b, int):
            return a == b
        if self._analyzer is None:
            self._analyzer = compat.analyzer()
        tir = compat.tir()
        a, b = (tir.IntImm("int64", x) if isinstance(x, int) else x for x in (a, b))
        return bool(self._analyzer.can_prove_equal(a, b))

    def same_shape(self, a, b) -> bool:
        return len(a) == len(b) and all(self.equal(x, y) for x, y in zip(a, b))

    @staticmethod
    def is_static(shape) -> bool:
        return shape is not None and all(isinstance(d, int) or hasattr(d, "value") for d in shape)

    @staticmethod
    def show(shape):
        """A Relax shape for messages: ints as ints, expressions as their text."""
        if shape is None:
            return "unknown"
        return tuple(int(d) if isinstance(d, int) or hasattr(d, "value") else str(d) for d in shape)
