"""Internal. Where challenges come from, one way: draw -> check -> render -> pool.

- ``models``: the generator, reader and verifier in ONNX Runtime (the only
  inference import in serving; never TensorFlow);
- ``registry``: loads the models once per process;
- ``digits``: the numpy ``DigitSupply`` over them: per-label buckets, the
  serving rule (the oracle), the latent bank's draws, the trap's reading;
- ``errors``: what callers catch (all ``CaptchaUnavailable``);
- ``answers``: answers and keys, from ``secrets``;
- ``render``: digits to PNG bytes (Pillow);
- ``pool``: rendered challenges drawn ahead, each handed out once.
"""
