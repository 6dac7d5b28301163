"""Where challenges come from, one way: draw -> check -> render -> pool.

- ``models``: the generator, reader and verifier in ONNX Runtime (the only
  inference import in serving; never TensorFlow);
- ``registry``: loads the models once, draws digits with them and checks them
  with the oracle;
- ``answers``: answers and keys, from ``secrets``;
- ``render``: digits to PNG bytes (Pillow);
- ``pool``: rendered challenges drawn ahead, each handed out once.
"""
