"""Parameter models that plugins share (Pydantic; the core never imports this module).

A plugin that watches a metric subclasses :class:`MonitorParams` for its
``Params``, so every such plugin is configured the same way in a spec
(``monitor: validation_cost, mode: auto``)::

    class StopAtTarget(deltaw.Callback):
        class Params(deltaw.MonitorParams):
            target: float = 0.95

        def __init__(self, params=None, **kwargs):
            super().__init__(params, **kwargs)
            self.monitor = deltaw.Monitor(self.params.monitor, self.params.mode)
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["MonitorParams"]


class MonitorParams(BaseModel):
    """``monitor`` (which per-epoch metric) and ``mode`` (which way is better) of a watching rule.

    Subclasses add their own fields and may override the default ``monitor``
    (``reduce-on-plateau`` watches ``validation_cost``).
    """

    model_config = ConfigDict(extra="forbid")
    monitor: str = Field(
        "validation_accuracy",
        description="The per-epoch metric to watch: <split>_<metric>, e.g. validation_cost.",
    )
    mode: Literal["auto", "max", "min"] = Field(
        "auto",
        description=(
            "Whether higher or lower is better; auto asks the metric "
            "(accuracy: higher, cost: lower)."
        ),
    )
