"""Converters for the ``ai.onnx.preview.training`` optimizers: Adagrad, Adam, Momentum.

Each is one update step of plain elementwise math, so it is written here as IR arithmetic (every
emitter then runs it).  Inputs are ``R`` (learning rate) and ``T`` (update count), both 0-d, then
the variadic tensors grouped by role (X1..Xn, G1..Gn, ...); outputs are grouped the same way.  Where
the update differs at ``T == 0`` (no bias correction yet) the switch is ``m = clip(T, 0, 1)``:
``m * a + (1 - m) * b``, exact for the integer counts ``T`` holds.
"""
from __future__ import annotations

from ...errors import InvalidModelError
from .registry import ONNX_IMPORT


class _Math:
    """Small arithmetic on IR entries."""

    def __init__(self, ctx):
        self.ctx = ctx

    def scale(self, x, s):
        return self.ctx.emit1("__mul_scalar__", [x], {"scalar": float(s)})

    def shift(self, x, s):
        return self.ctx.emit1("__add_scalar__", [x], {"scalar": float(s)})

    def rsub(self, s, x):  # s - x
        return self.ctx.emit1("__rsub_scalar__", [x], {"scalar": float(s)})

    def add(self, a, b):
        return self.ctx.emit1("broadcast_add", [a, b])

    def sub(self, a, b):
        return self.ctx.emit1("broadcast_sub", [a, b])

    def mul(self, a, b):
        return self.ctx.emit1("broadcast_mul", [a, b])

    def div(self, a, b):
        return self.ctx.emit1("broadcast_div", [a, b])

    def sqrt(self, x):
        return self.ctx.emit1("sqrt", [x])

    def select(self, m, a, b):
        """m * a + (1 - m) * b for a 0/1 ``m``."""
        return self.add(self.mul(m, a), self.mul(self.rsub(1.0, m), b))

    def regularized_gradient(self, x, g, norm_coefficient):
        return self.add(self.scale(x, norm_coefficient), g) if norm_coefficient else self.ctx.entry(g)


def _groups(ctx, node, inputs, roles):
    """(R, T, [[X1, G1, ...], [X2, G2, ...], ...], arithmetic) with R and T cast to X1's float dtype."""
    tensors = list(inputs[2:])
    if len(inputs) < 2 + roles or len(tensors) % roles:
        raise ctx.error(InvalidModelError, f"{node.op_type} takes R, T and {roles} tensors per updated value "
                                           f"(got {len(inputs)} inputs)")
    n = len(tensors) // roles
    per_value = [[tensors[k * n + i] for k in range(roles)] for i in range(n)]
    dtype = ctx.dtype(per_value[0][0])
    if dtype not in ("float16", "float32", "float64"):
        raise ctx.unsupported(f"dtype {dtype}")
    return ctx.cast(inputs[0], dtype), ctx.cast(inputs[1], dtype), per_value, _Math(ctx)


def _started(ctx, t):
    """1 once updates have begun (T > 0), else 0."""
    return ctx.emit1("clip", [t], {"a_min": 0.0, "a_max": 1.0})


@ONNX_IMPORT.register("ai.onnx.preview.training.Adagrad", since=1)
def adagrad(ctx, node, attrs, inputs):
    r, t, values, m = _groups(ctx, node, inputs, 3)
    decay, eps = float(attrs.get("decay_factor", 0.0)), float(attrs.get("epsilon", 1e-6))
    rate = m.div(r, m.shift(m.scale(t, decay), 1.0))  # R / (1 + T * decay_factor)
    xs, hs = [], []
    for x, g, h in values:
        g = m.regularized_gradient(x, g, float(attrs.get("norm_coefficient", 0.0)))
        h_new = m.add(h, m.mul(g, g))
        step = m.div(m.mul(rate, g), m.shift(m.sqrt(h_new), eps))
        xs.append(m.sub(x, step))
        hs.append(h_new)
    return xs + hs


@ONNX_IMPORT.register("ai.onnx.preview.training.Adam", since=1)
def adam(ctx, node, attrs, inputs):
    r, t, values, m = _groups(ctx, node, inputs, 4)
    alpha, beta = float(attrs.get("alpha", 0.9)), float(attrs.get("beta", 0.999))
    eps, post = float(attrs.get("epsilon", 1e-6)), float(attrs.get("norm_coefficient_post", 0.0))
    # bias correction R * sqrt(1 - beta^T) / (1 - alpha^T) from T = 1 on (computed at T >= 1 to stay finite)
    t1 = ctx.emit1("__max_scalar__", [t], {"scalar": 1.0})
    power = lambda base: ctx.emit1("__rpow_scalar__", [t1], {"scalar": base})  # noqa: E731
    corrected = m.div(m.mul(r, m.sqrt(m.rsub(1.0, power(beta)))), m.rsub(1.0, power(alpha)))
    rate = m.select(_started(ctx, t), corrected, r)
    xs, vs, hs = [], [], []
    for x, g, v, h in values:
        g = m.regularized_gradient(x, g, float(attrs.get("norm_coefficient", 0.0)))
        v_new = m.add(m.scale(v, alpha), m.scale(g, 1.0 - alpha))
        h_new = m.add(m.scale(h, beta), m.scale(m.mul(g, g), 1.0 - beta))
        x_new = m.sub(x, m.mul(rate, m.div(v_new, m.shift(m.sqrt(h_new), eps))))
        xs.append(m.scale(x_new, 1.0 - post) if post else x_new)
        vs.append(v_new)
        hs.append(h_new)
    return xs + vs + hs


@ONNX_IMPORT.register("ai.onnx.preview.training.Momentum", since=1)
def momentum(ctx, node, attrs, inputs):
    r, t, values, m = _groups(ctx, node, inputs, 3)
    mode = attrs.get("mode", "standard")
    if mode not in ("standard", "nesterov"):
        raise ctx.error(InvalidModelError, f"Momentum mode must be 'standard' or 'nesterov', not {mode!r}")
    missing = [a for a in ("alpha", "beta", "norm_coefficient") if a not in attrs]
    if missing:
        raise ctx.error(InvalidModelError, f"Momentum needs the attributes {missing}")
    alpha, beta = float(attrs["alpha"]), float(attrs["beta"])
    # the gradient's coefficient is 1 at the first update (T == 0), beta after
    gain = m.shift(m.scale(_started(ctx, t), beta - 1.0), 1.0)
    xs, vs = [], []
    for x, g, v in values:
        g = m.regularized_gradient(x, g, float(attrs["norm_coefficient"]))
        v_new = m.add(m.scale(v, alpha), m.mul(gain, g))
        direction = v_new if mode == "standard" else m.add(g, m.scale(v_new, alpha))
        xs.append(m.sub(x, m.mul(r, direction)))
        vs.append(v_new)
    return xs + vs
