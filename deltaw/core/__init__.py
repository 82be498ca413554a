"""The numpy core: network, backprop, training loop, gradient checks.

Nothing here knows about pluggy, Pydantic, files or the terminal: it takes
objects that implement the contracts in :mod:`deltaw.core.base`.
"""
