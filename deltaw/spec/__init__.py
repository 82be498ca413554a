"""Specs: Pydantic models, file loading, ``--set`` overrides, building and running experiments."""
