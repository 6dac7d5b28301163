"""Packages for the wheel: the app, and ml_models/ as its shipped models."""

from setuptools import find_packages, setup

# pyproject.toml cannot add a package that find does not discover, and
# ml_models/ (no __init__.py, outside the package) becomes
# gancaptcha_field.shipped_models through [tool.setuptools.package-dir].
setup(
    packages=[
        *find_packages(include=["gancaptcha_field", "gancaptcha_field.*"]),
        "gancaptcha_field.shipped_models",
    ]
)
