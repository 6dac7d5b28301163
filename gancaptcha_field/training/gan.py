"""Internal. The adversarial loop: a compiled train step, checkpoints, BN
re-estimation."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from gancaptcha_field.artifacts import atomic_path, write_json
from gancaptcha_field.constants import LATENT_DIM, uint8_to_generator_range
from gancaptcha_field.training.networks import build_discriminator, build_generator

CHECKPOINT_FILE = "gan_checkpoint.npz"
CHECKPOINT_STATE_FILE = "gan_state.json"


@dataclass
class GanConfig:
    """What the adversarial loop needs to know."""

    epochs: int = 100
    batch_size: int = 256
    learning_rate: float = 1e-4
    # Two-time-scale update rule: the discriminator's rate as a multiple of the
    # generator's (1.0 is the seed recipe).
    d_lr_ratio: float = 1.0
    # One-sided label smoothing of the real targets (0.0 is the seed recipe).
    label_smoothing: float = 0.0
    seed: int = 0
    strategy: str = "default"
    # Compute in bfloat16 with float32 weights: ~1.7x faster here on CPUs with
    # AVX512-BF16/AMX (measured), and the saved generator is float32 anyway.
    mixed_precision: bool = False


@dataclass
class EpochStats:
    """One epoch's mean losses and wall time."""

    epoch: int
    gen_loss: float
    disc_loss: float
    seconds: float
    images_seen: int


@dataclass
class GanState:
    """The history a resumed run carries on with."""

    epochs_done: int = 0
    images_seen: int = 0
    history: list[dict[str, float]] = field(default_factory=list)


ProgressFn = Callable[[EpochStats, int], None]
# Within an epoch: (epoch number, images done so far, images in the epoch);
# called with 0 done when the epoch starts.
BatchFn = Callable[[int, int, int], None]


def make_strategy(name: str) -> tf.distribute.Strategy | None:
    """None for "default" (one device); "mirrored": every GPU, else every CPU.

    MirroredStrategy() alone would take one CPU when there is no GPU, so the
    logical CPU devices (tf.config.set_logical_device_configuration) are named.
    """
    if name == "default":
        return None
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = gpus or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy(devices=[d.name for d in devices])
    raise ValueError(f"unknown strategy {name!r} (default or mirrored)")


class GanTrainer:
    """Owns the two networks, their optimizers and the compiled step."""

    def __init__(self, config: GanConfig) -> None:
        self.config = config
        self.strategy = make_strategy(config.strategy)
        # Variables made in a strategy's scope are mirrored on its devices.
        previous_policy = keras.config.dtype_policy()
        if config.mixed_precision:
            keras.config.set_dtype_policy("mixed_bfloat16")
        with self.strategy.scope() if self.strategy else contextlib.nullcontext():
            self.generator = build_generator()
            self.discriminator = build_discriminator()
            keras.config.set_dtype_policy(previous_policy)
            self.gen_opt = keras.optimizers.Adam(config.learning_rate)
            self.disc_opt = keras.optimizers.Adam(
                config.learning_rate * config.d_lr_ratio
            )
            self.gen_opt.build(self.generator.trainable_variables)
            self.disc_opt.build(self.discriminator.trainable_variables)
            self.noise = tf.random.Generator.from_seed(config.seed + 1)
        self.state = GanState()
        if self.strategy is None:
            # Traced for the one static batch shape (drop_remainder below): with
            # a dynamic batch dimension the step ran ~3x slower on this CPU.
            self._step = tf.function(self._train_step)
        else:
            self._step = tf.function(self._distributed_step)

    @property
    def replicas(self) -> int:
        """How many devices share each batch (1 without a strategy)."""
        return self.strategy.num_replicas_in_sync if self.strategy else 1

    def _train_step(self, real: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        # One step for one device and for each replica of several: every loss
        # is this device's share of the global batch mean, so the replicas'
        # gradients sum to the whole batch's (on one device, the plain mean).
        batch = tf.shape(real)[0]
        z = self.noise.normal([batch, LATENT_DIM])
        with tf.GradientTape() as gen_tape, tf.GradientTape() as disc_tape:
            fake = self.generator(z, training=True)
            # Losses in float32 even when the networks compute in bfloat16.
            real_logits = tf.cast(self.discriminator(real, training=True), tf.float32)
            fake_logits = tf.cast(self.discriminator(fake, training=True), tf.float32)
            gen_loss = tf.nn.compute_average_loss(
                _bce_each(tf.ones_like(fake_logits), fake_logits)
            )
            smoothing = self.config.label_smoothing
            real_target = tf.ones_like(real_logits) * (1.0 - smoothing)
            disc_loss = tf.nn.compute_average_loss(
                _bce_each(real_target, real_logits)
                + _bce_each(tf.zeros_like(fake_logits), fake_logits)
            )
        gen_grads = gen_tape.gradient(gen_loss, self.generator.trainable_variables)
        disc_grads = disc_tape.gradient(
            disc_loss, self.discriminator.trainable_variables
        )
        self.gen_opt.apply_gradients(
            zip(gen_grads, self.generator.trainable_variables, strict=True)
        )
        self.disc_opt.apply_gradients(
            zip(disc_grads, self.discriminator.trainable_variables, strict=True)
        )
        return gen_loss, disc_loss

    def _distributed_step(self, real: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        assert self.strategy is not None
        gen_loss, disc_loss = self.strategy.run(self._train_step, args=(real,))
        total = tf.distribute.ReduceOp.SUM
        return (
            self.strategy.reduce(total, gen_loss, axis=None),
            self.strategy.reduce(total, disc_loss, axis=None),
        )

    def train(
        self,
        x_train: np.ndarray,
        checkpoint_dir: Path | None = None,
        progress: ProgressFn | None = None,
        on_batch: BatchFn | None = None,
    ) -> GanState:
        """Run until ``config.epochs`` epochs are done, checkpointing each one.

        ``progress`` hears of each finished epoch, ``on_batch`` of each step.
        """
        images = uint8_to_generator_range(x_train.astype(np.float32))[..., None]
        while self.state.epochs_done < self.config.epochs:
            epoch = self.state.epochs_done
            # The shuffle is a function of (seed, epoch), so a resumed run sees
            # the same order as an uninterrupted one.
            order = np.random.default_rng([self.config.seed, epoch]).permutation(
                len(images)
            )
            # A partial last batch would retrace the step for a second shape.
            drop = len(images) >= self.config.batch_size
            per_epoch = (
                len(images) // self.config.batch_size * self.config.batch_size
                if drop
                else len(images)
            )
            dataset = (
                tf.data.Dataset.from_tensor_slices(images[order])
                .batch(self.config.batch_size, drop_remainder=drop)
                .prefetch(2)
            )
            if self.strategy is not None:
                # Each global batch is split evenly across the replicas.
                dataset = self.strategy.experimental_distribute_dataset(dataset)
            started = time.perf_counter()
            gen_total = disc_total = 0.0
            steps = 0
            if on_batch is not None:
                on_batch(epoch + 1, 0, per_epoch)
            for batch in dataset:
                gen_loss, disc_loss = self._step(batch)
                gen_total += float(gen_loss)
                disc_total += float(disc_loss)
                steps += 1
                if on_batch is not None:
                    done = min(steps * self.config.batch_size, per_epoch)
                    on_batch(epoch + 1, done, per_epoch)
            stats = EpochStats(
                epoch=epoch + 1,
                gen_loss=gen_total / max(steps, 1),
                disc_loss=disc_total / max(steps, 1),
                seconds=time.perf_counter() - started,
                images_seen=self.state.images_seen + per_epoch,
            )
            self.state.epochs_done += 1
            self.state.images_seen = stats.images_seen
            self.state.history.append(
                {
                    "epoch": stats.epoch,
                    "gen_loss": stats.gen_loss,
                    "disc_loss": stats.disc_loss,
                    "seconds": stats.seconds,
                }
            )
            if checkpoint_dir is not None:
                self.save_checkpoint(checkpoint_dir)
            if progress is not None:
                progress(stats, self.config.epochs)
        return self.state

    def export_generator(self) -> keras.Model:
        """The generator as a float32 model (the serving format), same weights."""
        if not self.config.mixed_precision:
            return self.generator
        generator = build_generator()
        generator.set_weights(self.generator.get_weights())
        return generator

    def _variables(self) -> list[tf.Variable]:
        return [
            *self.generator.variables,
            *self.discriminator.variables,
            *self.gen_opt.variables,
            *self.disc_opt.variables,
            self.noise.state,
        ]

    def save_checkpoint(self, directory: Path) -> None:
        """Write every variable and the history; atomic (write, then rename)."""
        directory.mkdir(parents=True, exist_ok=True)
        arrays = {f"v{i}": v.numpy() for i, v in enumerate(self._variables())}
        with atomic_path(directory / CHECKPOINT_FILE) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
        state = {
            "epochs_done": self.state.epochs_done,
            "images_seen": self.state.images_seen,
            "history": self.state.history,
            "config": self.config.__dict__,
        }
        write_json(directory / CHECKPOINT_STATE_FILE, state)

    def load_checkpoint(self, directory: Path) -> bool:
        """Restore a run saved by ``save_checkpoint``; False when there is none."""
        path, state_path = (
            directory / CHECKPOINT_FILE,
            directory / CHECKPOINT_STATE_FILE,
        )
        if not path.is_file() or not state_path.is_file():
            return False
        state = json.loads(state_path.read_text())
        with np.load(path) as data:
            variables = self._variables()
            if len(data.files) != len(variables):
                raise ValueError(f"{path} does not match this GAN's variables")
            for i, var in enumerate(variables):
                var.assign(data[f"v{i}"])
        self.state = GanState(
            epochs_done=int(state["epochs_done"]),
            images_seen=int(state["images_seen"]),
            history=list(state["history"]),
        )
        return True


def _bce_each(targets: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
    """Binary cross-entropy per example (from logits), for distributed averaging."""
    return keras.losses.binary_crossentropy(targets, logits, from_logits=True)


def reestimate_batchnorm(
    generator: keras.Model, batches: int = 100, batch_size: int = 256, seed: int = 0
) -> None:
    """Recompute BatchNorm moving statistics for the final weights.

    The moving averages lag the weights during training, so inference-mode
    samples look worse than training-mode ones. Forward passes in training
    mode with momentum driven to a plain running mean fix that; no weight is
    updated.
    """
    bn_layers = [
        layer
        for layer in generator.layers
        if isinstance(layer, keras.layers.BatchNormalization)
    ]
    saved = [layer.momentum for layer in bn_layers]
    for layer in bn_layers:
        layer.moving_mean.assign(tf.zeros_like(layer.moving_mean))
        layer.moving_variance.assign(tf.ones_like(layer.moving_variance))
    rng = tf.random.Generator.from_seed(seed)
    for i in range(batches):
        # Momentum i/(i+1) makes the moving value the exact mean over batches.
        for layer in bn_layers:
            layer.momentum = i / (i + 1)
        generator(rng.normal([batch_size, LATENT_DIM]), training=True)
    for layer, momentum in zip(bn_layers, saved, strict=True):
        layer.momentum = momentum
