"""Internal. Pure builders returning named Keras models (no Lambda layers, so
``load_model(compile=False)`` is safe)."""

from __future__ import annotations

import keras
from keras import layers

from gancaptcha_field.constants import IMAGE_SIZE, LATENT_DIM, NUM_CLASSES


def build_generator(latent_dim: int = LATENT_DIM) -> keras.Model:
    """The seed DCGAN generator: noise to a 28x28x1 image in [-1, 1]."""
    inputs = keras.Input(shape=(latent_dim,), name="noise")
    x = layers.Dense(7 * 7 * 256, use_bias=False)(inputs)
    x = layers.BatchNormalization()(x)
    x = layers.LeakyReLU()(x)
    x = layers.Reshape((7, 7, 256))(x)
    x = layers.Conv2DTranspose(128, 5, strides=1, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.LeakyReLU()(x)
    x = layers.Conv2DTranspose(64, 5, strides=2, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.LeakyReLU()(x)
    outputs = layers.Conv2DTranspose(
        1, 5, strides=2, padding="same", use_bias=False, activation="tanh"
    )(x)
    return keras.Model(inputs, outputs, name="generator")


def build_discriminator() -> keras.Model:
    """The seed DCGAN discriminator: an image to one real/fake logit."""
    inputs = keras.Input(shape=(IMAGE_SIZE, IMAGE_SIZE, 1), name="image")
    x = layers.Conv2D(64, 5, strides=2, padding="same")(inputs)
    x = layers.LeakyReLU()(x)
    x = layers.Dropout(0.3)(x)
    x = layers.Conv2D(128, 5, strides=2, padding="same")(x)
    x = layers.LeakyReLU()(x)
    x = layers.Dropout(0.3)(x)
    x = layers.Flatten()(x)
    outputs = layers.Dense(1, name="logit")(x)
    return keras.Model(inputs, outputs, name="discriminator")


def build_reader() -> keras.Model:
    """The seed reader (oracle) CNN: a [0, 1] image to class probabilities."""
    inputs = keras.Input(shape=(IMAGE_SIZE, IMAGE_SIZE, 1), name="image")
    x = layers.Conv2D(32, 3, activation="relu")(inputs)
    x = layers.MaxPooling2D()(x)
    x = layers.Conv2D(32, 3, activation="relu")(x)
    x = layers.MaxPooling2D()(x)
    x = layers.Flatten()(x)
    x = layers.Dense(64, activation="relu")(x)
    outputs = layers.Dense(NUM_CLASSES, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="reader")


def build_verifier() -> keras.Model:
    """A second classifier, deliberately unlike the reader.

    Wider 5x5 kernels, batch norm, global average pooling and dropout make its
    mistakes differ from the reader's, which is what a cross-check needs.
    """
    inputs = keras.Input(shape=(IMAGE_SIZE, IMAGE_SIZE, 1), name="image")
    x = layers.Conv2D(48, 5, padding="same", use_bias=False)(inputs)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    x = layers.MaxPooling2D()(x)
    x = layers.Conv2D(96, 5, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    x = layers.MaxPooling2D()(x)
    x = layers.Conv2D(128, 3, padding="same", activation="relu")(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(0.3)(x)
    outputs = layers.Dense(NUM_CLASSES, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="verifier")


def build_judge() -> keras.Model:
    """An independent classifier for measuring legibility; never served.

    Trained with augmentation (see ``classifiers.train_judge``) so that it
    reads digits the way a robust outside model would.
    """
    inputs = keras.Input(shape=(IMAGE_SIZE, IMAGE_SIZE, 1), name="image")
    x = inputs
    for filters in (32, 64):
        x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = layers.MaxPooling2D()(x)
        x = layers.Dropout(0.25)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(256, activation="relu")(x)
    x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(NUM_CLASSES, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="judge")
