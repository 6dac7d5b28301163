"""Where challenges come from, one way: draw -> check -> render -> pool.

- ``registry``: draws digits with the models (the only TensorFlow import in
  serving) and checks them with the oracle;
- ``answers``: answers and keys, from ``secrets``;
- ``render``: digits to PNG bytes (Pillow);
- ``pool``: rendered challenges drawn ahead, each handed out once.
"""
