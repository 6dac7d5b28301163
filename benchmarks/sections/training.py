"""training: images/s of the GAN step, ours against the TF DCGAN tutorial's,
each also with XLA (jit_compile=True), and ours in bfloat16."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from benchmarks.bootstrap import ROOT, log
from benchmarks.sections import Run, fmt, ratio


def seed_tutorial_step(batch_size: int, jit: bool) -> Callable[[Any], Any]:
    """The TensorFlow DCGAN tutorial's models, losses and train_step, verbatim
    but for Keras 3's keras.Input in place of input_shape=."""
    import tensorflow as tf
    from tensorflow.keras import layers

    def make_generator_model() -> Any:
        model = tf.keras.Sequential()
        model.add(tf.keras.Input(shape=(100,)))
        model.add(layers.Dense(7 * 7 * 256, use_bias=False))
        model.add(layers.BatchNormalization())
        model.add(layers.LeakyReLU())
        model.add(layers.Reshape((7, 7, 256)))
        model.add(
            layers.Conv2DTranspose(
                128, (5, 5), strides=(1, 1), padding="same", use_bias=False
            )
        )
        model.add(layers.BatchNormalization())
        model.add(layers.LeakyReLU())
        model.add(
            layers.Conv2DTranspose(
                64, (5, 5), strides=(2, 2), padding="same", use_bias=False
            )
        )
        model.add(layers.BatchNormalization())
        model.add(layers.LeakyReLU())
        model.add(
            layers.Conv2DTranspose(
                1,
                (5, 5),
                strides=(2, 2),
                padding="same",
                use_bias=False,
                activation="tanh",
            )
        )
        return model

    def make_discriminator_model() -> Any:
        model = tf.keras.Sequential()
        model.add(tf.keras.Input(shape=(28, 28, 1)))
        model.add(layers.Conv2D(64, (5, 5), strides=(2, 2), padding="same"))
        model.add(layers.LeakyReLU())
        model.add(layers.Dropout(0.3))
        model.add(layers.Conv2D(128, (5, 5), strides=(2, 2), padding="same"))
        model.add(layers.LeakyReLU())
        model.add(layers.Dropout(0.3))
        model.add(layers.Flatten())
        model.add(layers.Dense(1))
        return model

    generator = make_generator_model()
    discriminator = make_discriminator_model()
    cross_entropy = tf.keras.losses.BinaryCrossentropy(from_logits=True)

    def discriminator_loss(real_output: Any, fake_output: Any) -> Any:
        real_loss = cross_entropy(tf.ones_like(real_output), real_output)
        fake_loss = cross_entropy(tf.zeros_like(fake_output), fake_output)
        return real_loss + fake_loss

    def generator_loss(fake_output: Any) -> Any:
        return cross_entropy(tf.ones_like(fake_output), fake_output)

    generator_optimizer = tf.keras.optimizers.Adam(1e-4)
    discriminator_optimizer = tf.keras.optimizers.Adam(1e-4)
    noise_dim = 100

    def train_step(images: Any) -> Any:
        noise = tf.random.normal([batch_size, noise_dim])
        with tf.GradientTape() as gen_tape, tf.GradientTape() as disc_tape:
            generated_images = generator(noise, training=True)
            real_output = discriminator(images, training=True)
            fake_output = discriminator(generated_images, training=True)
            gen_loss = generator_loss(fake_output)
            disc_loss = discriminator_loss(real_output, fake_output)
        gradients_of_generator = gen_tape.gradient(
            gen_loss, generator.trainable_variables
        )
        gradients_of_discriminator = disc_tape.gradient(
            disc_loss, discriminator.trainable_variables
        )
        generator_optimizer.apply_gradients(
            zip(gradients_of_generator, generator.trainable_variables, strict=True)
        )
        discriminator_optimizer.apply_gradients(
            zip(
                gradients_of_discriminator,
                discriminator.trainable_variables,
                strict=True,
            )
        )
        return gen_loss

    return tf.function(train_step, jit_compile=jit or None)


def our_step(batch_size: int, jit: bool, **config: Any) -> Callable[[Any], Any]:
    """GanTrainer's compiled step (the one train_captcha_models runs)."""
    import tensorflow as tf

    from gancaptcha_field.training.gan import GanConfig, GanTrainer

    trainer = GanTrainer(GanConfig(batch_size=batch_size, **config))
    if not jit:
        return trainer._step  # type: ignore[no-any-return]
    return tf.function(trainer._train_step, jit_compile=True)  # type: ignore[no-any-return]


def our_bf16_step(batch_size: int, jit: bool) -> Callable[[Any], Any]:
    """GanTrainer's step computing in bfloat16 (--mixed-precision), if it has one."""
    import keras

    from gancaptcha_field.training.gan import GanConfig

    if "mixed_precision" not in GanConfig.__dataclass_fields__:
        raise RuntimeError("this GanTrainer has no mixed precision")
    previous = keras.config.dtype_policy()
    try:
        return our_step(batch_size, jit, mixed_precision=True)
    finally:
        keras.config.set_dtype_policy(previous)


def wait_for(result: Any) -> None:
    """Read a step's result: returns once the step has run."""
    import numpy as np

    np.asarray(result[0] if isinstance(result, tuple) else result)


def run(ctx: Run) -> dict[str, Any]:
    """Each step's images/s on the bundled MNIST, after it is traced."""
    import numpy as np
    import tensorflow as tf

    from gancaptcha_field import constants

    steps, batch_size = ctx.pick(30, 2), 256
    with np.load(ROOT / "ml_models" / constants.BUNDLED_DATA_FILE) as data:
        x = data["x_train"][: batch_size * 8]
    images = constants.uint8_to_generator_range(x.astype(np.float32))[..., None]
    batches = [
        tf.constant(images[i : i + batch_size])
        for i in range(0, len(images), batch_size)
    ]
    out: dict[str, Any] = {"batch_size": batch_size, "steps": steps}
    for name, factory, jit in (
        ("seed", seed_tutorial_step, False),
        ("seed_xla", seed_tutorial_step, True),
        ("ours", our_step, False),
        ("ours_xla", our_step, True),
        ("ours_bf16", our_bf16_step, False),
    ):
        log(f"training: {name}")
        try:
            step = factory(batch_size, jit)
            for batch in batches[:2]:  # trace (and compile)
                wait_for(step(batch))
            start = time.perf_counter()
            for i in range(steps):
                result = step(batches[i % len(batches)])
            wait_for(result)  # the last step has finished
            seconds = time.perf_counter() - start
            out[name] = {"images_per_second": steps * batch_size / seconds}
        except Exception as exc:  # XLA may refuse an op; say so, go on
            out[name] = {"failed": f"{type(exc).__name__}: {exc}"[:300]}
    return out


def report(results: dict[str, Any]) -> str:
    training = results.get("training", {})
    lines: list[str] = []
    if "seed" in training:
        base = training["seed"].get("images_per_second")
        lines += [
            f"| GAN training step (batch {training['batch_size']}) | images/s | "
            "x seed |",
            "|---|---:|---:|",
        ]
        for label, key in (
            ("Seed (TF DCGAN tutorial step)", "seed"),
            ("Seed, XLA (jit_compile=True)", "seed_xla"),
            ("Ours (GanTrainer)", "ours"),
            ("Ours, XLA (jit_compile=True)", "ours_xla"),
            ("Ours, bfloat16 compute (mixed precision)", "ours_bf16"),
        ):
            row = training.get(key, {})
            if "images_per_second" in row:
                ips = row["images_per_second"]
                lines.append(
                    f"| {label} | {ips:.0f} | {fmt(ratio(ips, base), '.2f', 'x')} |"
                )
            elif "failed" in row:
                lines.append(f"| {label} | failed: {row['failed'][:60]} | — |")
    return "\n".join(lines)
