"""What every contract check shares: tolerances, messages, and the settings a check runs at."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

FD_STEP = 1e-6  # central-difference step (float64)
FD_TOL = 1e-6  # tolerance of the error against finite differences
FUSED_TOL = 1e-8  # fused output_delta vs the generic path: the same math, only rounding differs
DTYPES = (np.float64, np.float32)

Expected = float | Callable[..., float] | None
Settings = int | Sequence[Mapping[str, Any]] | None


def instances(obj: Any, base: type, name: str, settings: Settings = None) -> list[tuple[Any, str]]:
    """``(plugin, check label)`` for every setting a check runs at.

    An instance is checked as it is. A class is checked at ``settings``: None
    for :data:`DEFAULT_SETTINGS` settings drawn from its ``Params``
    (:func:`~deltaw.testing.settings.param_settings`), a number for that many,
    or a list of keyword mappings. The label names the plugin with its
    parameters, and the setting when there are several:
    ``check_cost(Focal(gamma=0.0), setting 2 of 4)``.
    """
    if not isinstance(obj, type):
        if not isinstance(obj, base):
            raise TypeError(
                f"{name} needs a deltaw.{base.__name__} subclass or instance, got {obj!r}"
            )
        if settings is not None:
            raise TypeError(
                f"{name}: settings apply to a class; pass {type(obj).__name__} itself, "
                "or check this instance without settings"
            )
        return [(obj, f"{name}({label(obj)})")]
    if not issubclass(obj, base):
        raise TypeError(f"{name} needs a deltaw.{base.__name__} subclass or instance, got {obj!r}")
    from deltaw.testing.settings import DEFAULT_SETTINGS, param_settings  # pydantic: when needed

    if settings is None or isinstance(settings, int):
        try:
            chosen = param_settings(obj, DEFAULT_SETTINGS if settings is None else settings)
        except TypeError as exc:
            raise TypeError(f"{name}: {exc}") from None
    else:
        chosen = [dict(s) for s in settings]
    out = []
    for i, kwargs in enumerate(chosen):
        try:
            plugin = obj(**kwargs)
        except Exception as exc:
            raise TypeError(
                f"{name}: {obj.__name__}({_kwargs(kwargs)}) failed ({type(exc).__name__}: {exc}); "
                "pass an instance with its parameters"
            ) from exc
        where = f", setting {i + 1} of {len(chosen)}" if len(chosen) > 1 else ""
        out.append((plugin, f"{name}({label(plugin)}{where})"))
    return out


def _kwargs(kwargs: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in kwargs.items())


def label(obj: Any) -> str:
    """``Sigmoid`` or ``LeakyReLU(alpha=0.01)``: the plugin as messages name it."""
    params = getattr(obj, "params", None)
    if hasattr(params, "model_dump"):
        args = ", ".join(f"{k}={v!r}" for k, v in params.model_dump().items())
        return f"{type(obj).__name__}({args})"
    return type(obj).__name__


def fail(check: str, message: str) -> None:
    raise AssertionError(f"{check}: {message}")


def idx(i: tuple[int, ...]) -> str:
    return "[" + ",".join(str(int(k)) for k in i) + "]"


def away_from_zero(
    rng: np.random.Generator, shape: tuple[int, ...], low: float, high: float
) -> np.ndarray:
    """Random values with |x| in [low, high] and a random sign: away from kinks at 0."""
    return rng.uniform(low, high, shape) * rng.choice([-1.0, 1.0], shape)


def error(got: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """|got − ref| / max(1, |got|, |ref|): relative above 1, absolute below."""
    return np.abs(got - ref) / np.maximum(1.0, np.maximum(np.abs(got), np.abs(ref)))


def assert_close(
    check: str,
    got: np.ndarray,
    ref: np.ndarray,
    tol: float,
    describe: Callable[[tuple], str],
    against: str,
) -> None:
    """Fail at the worst element: '<describe(i)> is <got> but <against> give <ref> (relative
    error …)'."""
    err = error(got, ref)
    i = np.unravel_index(np.argmax(np.where(np.isnan(err), np.inf, err)), err.shape)
    if not err[i] <= tol:
        fail(
            check,
            f"{describe(i)} is {got[i]:.6g} but {against} give {ref[i]:.6g} "
            f"(relative error {err[i]:.1e}, tolerance {tol:.0e})",
        )


def call(
    check: str, what: str, fn: Callable, args: dict[str, np.ndarray], shape: tuple, dtype: Any
) -> np.ndarray:
    """Call ``fn(*args)`` and check: inputs untouched, an array of ``shape`` and ``dtype``,
    finite."""
    name = np.dtype(dtype).name
    before = {k: v.copy() for k, v in args.items()}
    out = fn(*args.values())
    for k, v in args.items():
        if not np.array_equal(v, before[k], equal_nan=True):
            fail(
                check,
                f"{what} changed its input {k} ({name}); plugins must not mutate their inputs",
            )
    if not isinstance(out, np.ndarray):
        fail(
            check, f"{what} returned {type(out).__name__} for {name} inputs, expected a numpy array"
        )
    if out.shape != shape:
        fail(check, f"{what} returned shape {out.shape} for {name} inputs, expected {shape}")
    if out.dtype != np.dtype(dtype):
        fail(check, f"{what} returned {out.dtype} for {name} inputs; it must keep the input dtype")
    bad = np.argwhere(~np.isfinite(out))
    if len(bad):
        i = tuple(bad[0])
        fail(
            check,
            f"{what} returned {out[i]} at {idx(i)} for {name} inputs; expected finite values",
        )
    return out
