"""Packaging that ``pyproject.toml`` cannot express: the shipped weights as package data.

``data/weights`` stays where the repository keeps it; the build maps it onto the subpackage
``gausslib._weights``, so a wheel (and any non-editable install) carries every ``*.pt`` and ``*.json``
file there under ``site-packages/gausslib/_weights`` (:func:`gausslib.generators.zoo.search_path`).
The mapped package is added to the ones ``find_packages`` discovers, which a ``[tool.setuptools]``
table cannot do.
"""
from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["gausslib*"]) + ["gausslib._weights"],
    package_dir={"gausslib._weights": "data/weights"},
    package_data={"gausslib._weights": ["*.pt", "*.json"]},
)
