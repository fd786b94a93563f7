import os

import pytest

from trainers import run
from trainers.config import TrainConfig


def _train(tmp, name, **kw):
    base = dict(model="resnet20", width=0.25, dataset="digits", batch_size=64, epochs=4, lr=0.05, lr_boundaries=(3,),
                augment=False, run_dir=os.path.join(tmp, "runs"), export_dir=os.path.join(tmp, "export"),
                export_name=name, eps=0.1, step_size=0.03, steps=3)
    base.update(kw)
    return run.train(TrainConfig.from_flat(**base), verbose=0)


@pytest.fixture(scope="session")
def digits_models(tmp_path_factory):
    """Small digits models trained once: plain, PNI-W, RobustNet noise, plain behind a 2-bit ColorDepth."""
    tmp = str(tmp_path_factory.mktemp("eval_models"))
    out = {}
    plain = _train(tmp, "plain", method="vanilla")
    out["plain"] = plain["export_path"]
    plain["net"].save(os.path.join(tmp, "plain.keras"))
    out["plain_keras"] = os.path.join(tmp, "plain.keras")
    out["pni"] = _train(tmp, "pni", method="pni")["export_path"]
    out["noisy"] = _train(tmp, "noisy", method="robustnet", sigma_init=0.5, sigma_inner=0.3, epochs=6)["export_path"]
    out["color_depth"] = _train(tmp, "color_depth", method="vanilla", channel="color_depth:bits=2")["export_path"]
    return out
