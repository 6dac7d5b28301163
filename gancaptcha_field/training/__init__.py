"""Internal. Training: data, network builders, the adversarial loop and the pipeline.

Imports TensorFlow. Serving never imports this package.
"""
