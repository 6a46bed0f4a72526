"""Learning-rate schedules: the step size as a function of the number of updates made."""

from __future__ import annotations

import math
from typing import Any

from ._validation import Interval, positive_int

__all__ = ["SCHEDULES", "CosineDecay", "ExponentialDecay", "Schedule", "StepDecay", "schedule_from_config"]


def _positive_float(value: Any, name: str) -> float:
    return float(Interval(0.0, None, closed="neither").check(value, name))


def _positive_int(value: Any, name: str) -> int:
    return positive_int(value, name)


def _fraction(value: Any, name: str, *, low_open: bool) -> float:
    return float(Interval(0.0, 1.0, closed="right" if low_open else "both").check(value, name))


class Schedule:
    """Base class: ``schedule(step) -> learning rate`` for update number ``step`` (0, 1, …).

    A step is one optimizer update (one mini-batch). Schedules are evaluated on the
    host from the optimizer's integer step counter, so they never synchronise with
    the device, and a resumed fit sees the same rates as an uninterrupted one.
    """

    name: str = ""

    def __init__(self, initial_learning_rate: float) -> None:
        self.initial_learning_rate = _positive_float(initial_learning_rate, "initial_learning_rate")

    def __call__(self, step: int) -> float:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        """JSON-ready description; :func:`schedule_from_config` rebuilds the schedule."""
        return {"name": self.name, **vars(self)}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


class StepDecay(Schedule):
    """lr = initial_learning_rate · drop^⌊step / every⌋ (the rate is multiplied by
    ``drop`` after every ``every`` updates).

    Raises
    ------
    ValueError
        Non-positive rate, ``drop`` outside (0, 1], ``every`` not a positive integer.
    """

    name = "step"

    def __init__(self, initial_learning_rate: float, *, drop: float = 0.5, every: int = 1000) -> None:
        super().__init__(initial_learning_rate)
        self.drop = _fraction(drop, "drop", low_open=True)
        self.every = _positive_int(every, "every")

    def __call__(self, step: int) -> float:
        return self.initial_learning_rate * self.drop ** (step // self.every)


class ExponentialDecay(Schedule):
    """lr = initial_learning_rate · decay_rate^(step / decay_steps), with the exponent
    rounded down when ``staircase``.

    Raises
    ------
    ValueError
        Non-positive rate, ``decay_rate`` outside (0, 1], ``decay_steps`` not a positive integer.
    """

    name = "exponential"

    def __init__(
        self,
        initial_learning_rate: float,
        *,
        decay_rate: float = 0.96,
        decay_steps: int = 1000,
        staircase: bool = False,
    ) -> None:
        super().__init__(initial_learning_rate)
        self.decay_rate = _fraction(decay_rate, "decay_rate", low_open=True)
        self.decay_steps = _positive_int(decay_steps, "decay_steps")
        self.staircase = bool(staircase)

    def __call__(self, step: int) -> float:
        exponent = step // self.decay_steps if self.staircase else step / self.decay_steps
        return self.initial_learning_rate * self.decay_rate**exponent


class CosineDecay(Schedule):
    """Cosine annealing: lr = initial_learning_rate · ((1 − alpha) · ½(1 + cos(π s / decay_steps)) + alpha),
    s = min(step, decay_steps); the rate ends at ``alpha · initial_learning_rate``.

    Raises
    ------
    ValueError
        Non-positive rate, ``decay_steps`` not a positive integer, ``alpha`` outside [0, 1].
    """

    name = "cosine"

    def __init__(self, initial_learning_rate: float, *, decay_steps: int, alpha: float = 0.0) -> None:
        super().__init__(initial_learning_rate)
        self.decay_steps = _positive_int(decay_steps, "decay_steps")
        self.alpha = _fraction(alpha, "alpha", low_open=False)

    def __call__(self, step: int) -> float:
        cosine = 0.5 * (1 + math.cos(math.pi * min(step, self.decay_steps) / self.decay_steps))
        return self.initial_learning_rate * ((1 - self.alpha) * cosine + self.alpha)


SCHEDULES: dict[str, type[Schedule]] = {cls.name: cls for cls in (StepDecay, ExponentialDecay, CosineDecay)}


def schedule_from_config(config: dict[str, Any]) -> Schedule:
    """Rebuild a schedule from :meth:`Schedule.get_config`.

    Raises
    ------
    ValueError
        Unknown schedule name or invalid settings.
    """
    options = dict(config)
    name = options.pop("name", None)
    if name not in SCHEDULES:
        msg = f"unknown learning-rate schedule {name!r}; known: {', '.join(SCHEDULES)}"
        raise ValueError(msg)
    rate = options.pop("initial_learning_rate", None)
    try:
        return SCHEDULES[name](rate, **options)
    except TypeError as exc:
        msg = f"invalid settings for the {name!r} schedule: {exc}"
        raise ValueError(msg) from exc
