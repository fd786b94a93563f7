"""Demos built on the library (run from the checkout root): ``python -m examples.quickstart``.

They sit above ``zoo``, ``trainers`` and ``eval`` and are not installed with the package.
"""
