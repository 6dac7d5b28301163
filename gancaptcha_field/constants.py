"""Internal. The contract between training and serving.

Training writes models that obey these values and serving reads them back, so a
change here is a change of the model file format (record it in CHANGELOG.md).
Nothing here imports TensorFlow; the scaling helpers work on numpy arrays and on
tensors alike.
"""

from __future__ import annotations

from typing import TypeVar

# Bump when a model file written by an older version can no longer be served.
MODEL_FORMAT_VERSION = 1

IMAGE_SIZE = 28
LATENT_DIM = 100
NUM_CLASSES = 10
ANSWER_LENGTH = 4

GENERATOR_FILE = "generator.keras"
READER_FILE = "reader.keras"
VERIFIER_FILE = "verifier.keras"
METADATA_FILE = "metadata.json"
LOSS_PLOT_FILE = "report_losses.png"
SAMPLE_GRID_FILE = "report_samples.png"
PASS_RATE_PLOT_FILE = "report_pass_rates.png"
MODEL_FILES = (GENERATOR_FILE, READER_FILE, VERIFIER_FILE)
# What serving runs (ONNX Runtime): the same three networks, exported from the
# .keras files in inference mode (training=False) by the training's last stage
# or `python manage.py captcha_export_onnx`. A set without them cannot serve.
GENERATOR_ONNX_FILE = "generator.onnx"
READER_ONNX_FILE = "reader.onnx"
VERIFIER_ONNX_FILE = "verifier.onnx"
ONNX_FILES = (GENERATOR_ONNX_FILE, READER_ONNX_FILE, VERIFIER_ONNX_FILE)
# The ONNX operator set the export targets.
ONNX_OPSET = 17
# Optional: per-label latents that make draws likely to pass (supply/latents.py).
# A set without it (older sets) is served from plain N(0, I) noise.
LATENTS_FILE = "latents.npz"

# Relative to the model directory: the offline copy of MNIST in Keras' layout.
BUNDLED_DATA_FILE = "data/mnist.npz"

# Generator output range and the range the classifiers read.
GENERATOR_RANGE = (-1.0, 1.0)
CLASSIFIER_RANGE = (0.0, 1.0)

# Served only when the reader is at least this sure and the verifier gives the
# same label at least this probability (see docs/how-it-works.md).
DEFAULT_READER_THRESHOLD = 0.999
DEFAULT_VERIFIER_THRESHOLD = 0.99
# And both classifiers must rank the label first by at least this much:
# ln(top1 / top2); the thresholds alone imply 6.9 (reader) and 4.6 (verifier).
DEFAULT_MARGIN = 7.0

T = TypeVar("T")


def uint8_to_generator_range(x: T) -> T:
    """MNIST uint8 pixels [0, 255] to the generator's [-1, 1]."""
    return x / 127.5 - 1.0  # type: ignore[operator, return-value]


def uint8_to_classifier_range(x: T) -> T:
    """MNIST uint8 pixels [0, 255] to the classifiers' [0, 1]."""
    return x / 255.0  # type: ignore[operator, return-value]


def generator_to_classifier_range(x: T) -> T:
    """Generator output [-1, 1] to the classifiers' [0, 1]: (x + 1) / 2."""
    return (x + 1.0) / 2.0  # type: ignore[operator, return-value]
