"""Shared pytest setup.  Keep this light: no model building or heavy imports at collection time."""
import os

# The CPU schedule pick times candidates for up to 20 s per compile; tests check results, not speed, so
# they compile with the rule-of-thumb schedules (tests/test_tvm_cpu_schedules.py runs the pick itself).
os.environ.setdefault("NNVM_BRIDGE_CPU_PICK_SECONDS", "0")


def pytest_configure(config):
    # Also declared in pytest.ini; registering here keeps `-m slow` working when pytest runs
    # from another directory without that ini file.
    config.addinivalue_line("markers", "slow: model-zoo sized tests (still run in CI)")


def pytest_runtest_setup(item):
    # Every test starts the global generators from a seed of its own id, so random weights (MXNet's
    # initializers, torch modules, np.random) are the same whatever ran before or how the suite is split.
    # Only generators already imported are seeded: no heavy import here.
    import sys
    import zlib

    seed = zlib.crc32(item.nodeid.encode())
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed(seed)
    if "mxnet" in sys.modules:
        sys.modules["mxnet"].random.seed(seed)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)
    # A test module's own generator (``RNG = np.random.default_rng(0)``) too: drawn from in test order, it
    # would make one test's inputs depend on which tests ran before it (or were deselected).
    module = getattr(item, "module", None)
    if "numpy" in sys.modules and isinstance(getattr(module, "RNG", None), sys.modules["numpy"].random.Generator):
        module.RNG = sys.modules["numpy"].random.default_rng(seed)


def pytest_runtest_teardown(item, nextitem):
    # Model-zoo tests hold several copies of multi-hundred-MB weights (MXNet, numpy, ONNX, onnxruntime)
    # in reference cycles; collect them before the next test so the suite's peak memory stays that of
    # one model, not the sum of many (12.4 -> 5.9 GB over the VGG tests).  Only after slow tests: a
    # collection after each of the thousands of small tests would cost minutes.
    if item.get_closest_marker("slow") is not None:
        import gc

        gc.collect()
