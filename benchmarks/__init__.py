"""Reproducible speed and memory measurements of ffnn against reference systems."""
