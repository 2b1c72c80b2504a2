"""Shared pytest setup.  Keep this light: no model building or heavy imports at collection time."""


def pytest_configure(config):
    # Also declared in pytest.ini; registering here keeps `-m slow` working when pytest runs
    # from another directory without that ini file.
    config.addinivalue_line("markers", "slow: model-zoo sized tests (still run in CI)")
