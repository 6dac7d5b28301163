"""--strategy mirrored: the GAN trains across two devices (two logical CPUs here).

Logical devices must be set before TensorFlow starts, so the run happens in a
fresh process: a tiny one (256 digits, one epoch).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gancaptcha_field import constants

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = """
import sys
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration()] * 2
)
import django

django.setup()
from django.core.management import call_command

call_command("train_captcha_models", *sys.argv[1:])
"""


def test_mirrored_strategy_trains_on_two_devices(tmp_path: Path) -> None:
    args = [
        "--strategy", "mirrored",
        "--limit", "256",
        "--gan-epochs", "1",
        "--batch-size", "64",
        "--skip-reader",
        "--skip-verifier",
        "--no-bn-reestimate",
        "--output-dir", str(tmp_path),
    ]  # fmt: skip
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(ROOT), env.get("PYTHONPATH")])
    )
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "gan: MirroredStrategy over 2 device(s)" in run.stdout
    assert "device:CPU:0" in run.stdout and "device:CPU:1" in run.stdout
    losses = re.search(r"gen_loss ([\d.]+)\s+disc_loss ([\d.]+)", run.stdout)
    assert losses, run.stdout
    assert all(np.isfinite(float(x)) and float(x) > 0 for x in losses.groups())

    meta = json.loads((tmp_path / constants.METADATA_FILE).read_text())
    assert meta["gan"]["epochs"] == 1
    assert meta["gan"]["images_seen"] == 256
    assert meta["config"]["strategy"] == "mirrored"

    import keras

    generator = keras.models.load_model(
        tmp_path / constants.GENERATOR_FILE, compile=False
    )
    z = np.random.default_rng(0).standard_normal((3, constants.LATENT_DIM))
    images = np.asarray(generator(z.astype(np.float32), training=False))
    assert images.shape == (3, constants.IMAGE_SIZE, constants.IMAGE_SIZE, 1)
    assert np.isfinite(images).all()
    assert images.min() >= -1.0 and images.max() <= 1.0
