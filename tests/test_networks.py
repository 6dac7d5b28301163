"""The builders keep the architectures that were asked for."""

from __future__ import annotations

import keras
import numpy as np

from gancaptcha_field.constants import IMAGE_SIZE, LATENT_DIM, NUM_CLASSES
from gancaptcha_field.training import networks


def kinds(model: keras.Model) -> list[str]:
    return [layer.__class__.__name__ for layer in model.layers]


def test_generator_architecture_and_range() -> None:
    model = networks.build_generator()
    assert model.name == "generator"
    assert kinds(model) == [
        "InputLayer",
        "Dense",
        "BatchNormalization",
        "LeakyReLU",
        "Reshape",
        "Conv2DTranspose",
        "BatchNormalization",
        "LeakyReLU",
        "Conv2DTranspose",
        "BatchNormalization",
        "LeakyReLU",
        "Conv2DTranspose",
    ]
    dense = model.layers[1]
    assert dense.units == 7 * 7 * 256 and not dense.use_bias
    convs = [la for la in model.layers if isinstance(la, keras.layers.Conv2DTranspose)]
    assert [(c.filters, c.kernel_size, c.strides) for c in convs] == [
        (128, (5, 5), (1, 1)),
        (64, (5, 5), (2, 2)),
        (1, (5, 5), (2, 2)),
    ]
    out = np.asarray(
        model(np.random.default_rng(0).normal(size=(3, LATENT_DIM)), training=False)
    )
    assert out.shape == (3, IMAGE_SIZE, IMAGE_SIZE, 1)
    assert out.min() >= -1.0 and out.max() <= 1.0


def test_discriminator_gives_one_logit() -> None:
    model = networks.build_discriminator()
    assert kinds(model) == [
        "InputLayer",
        "Conv2D",
        "LeakyReLU",
        "Dropout",
        "Conv2D",
        "LeakyReLU",
        "Dropout",
        "Flatten",
        "Dense",
    ]
    assert model.layers[-1].activation.__name__ == "linear"
    assert model.output_shape == (None, 1)


def test_reader_is_the_seed_cnn() -> None:
    model = networks.build_reader()
    assert kinds(model) == [
        "InputLayer",
        "Conv2D",
        "MaxPooling2D",
        "Conv2D",
        "MaxPooling2D",
        "Flatten",
        "Dense",
        "Dense",
    ]
    assert model.output_shape == (None, NUM_CLASSES)


def test_verifier_and_judge_differ_from_the_reader() -> None:
    reader = kinds(networks.build_reader())
    for model in (networks.build_verifier(), networks.build_judge()):
        assert kinds(model) != reader
        assert model.output_shape == (None, NUM_CLASSES)


def test_saved_models_reload_without_custom_objects(tmp_path) -> None:
    for build in (
        networks.build_generator,
        networks.build_reader,
        networks.build_verifier,
    ):
        model = build()
        path = tmp_path / f"{model.name}.keras"
        model.save(path)
        again = keras.models.load_model(path, compile=False)
        x = np.zeros((1, *model.input_shape[1:]), np.float32)
        assert np.allclose(model(x, training=False), again(x, training=False))
