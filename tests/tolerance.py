"""The suite's one numeric comparison: max|actual - expected| <= tol * max(1, max|expected|).

"Within 1e-4 of the output's scale" is how every issue states its accuracy goals, so every
test module compares through this helper instead of its own variant.
"""
from __future__ import annotations

import numpy as np


def assert_close(actual, expected, tol=1e-4):
    """Assert equal shapes and a max abs error within ``tol`` of the expected output's scale;
    booleans, infinities and NaNs must match exactly.  Returns the max abs error (of the finite values)."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"shape {actual.shape} != {expected.shape}"
    if actual.dtype == bool or expected.dtype == bool:
        assert np.array_equal(actual, expected)
        return 0.0
    if expected.size == 0:
        return 0.0
    a64, e64 = actual.astype(np.float64), expected.astype(np.float64)
    finite = np.isfinite(e64)
    if not finite.all():
        assert np.array_equal(a64[~finite], e64[~finite], equal_nan=True), "infinities or NaNs differ"
        a64, e64 = a64[finite], e64[finite]
        if e64.size == 0:
            return 0.0
    err = float(np.max(np.abs(a64 - e64)))
    scale = max(1.0, float(np.max(np.abs(e64))))
    assert err <= tol * scale, f"max abs error {err} > {tol} * {scale}"
    return err
