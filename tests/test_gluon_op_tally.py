"""README's op tally of the GluonCV / GluonNLP models (tools/gluon_op_tally.py): current, and computed."""
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import gluon_model_sweep  # noqa: E402
import gluon_op_tally as tally  # noqa: E402

sys.path.pop(0)


def test_readme_op_tally_is_current_and_covers_every_sweep_model():
    census = tally.load_census()
    assert set(census) == set(gluon_model_sweep.MODELS), "run tools/gluon_op_tally.py --census --write README.md"
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        block = f.read().split(tally.START, 1)[1].split(tally.END, 1)[0]
    assert block.strip() == tally.render(census).strip(), "stale: run tools/gluon_op_tally.py --write README.md"


@pytest.mark.slow
@pytest.mark.parametrize("name", ["ssd_512_mobilenet1.0_voc", "bert_4_128"])
def test_census_rows_are_what_the_models_use(name):
    import gluon_fixtures

    pytest.importorskip("mxnet")
    if gluon_model_sweep.MODELS[name][1][0] == "gluoncv":
        try:
            gluon_fixtures.import_gluoncv()
        except gluon_fixtures.GluonCVMissing:
            pytest.skip("gluoncv is not installed")
    else:
        pytest.importorskip("gluonnlp")
    assert tally.model_ops(name) == tally.load_census()[name]["ops"]
