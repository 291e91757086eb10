"""Optimizers and learning-rate schedules (the ``mlx.optimizers`` API)."""

from ember.optimizers.optimizers import *  # noqa: F401,F403
from ember.optimizers.schedulers import (
    cosine_decay,
    exponential_decay,
    join_schedules,
    linear_schedule,
    step_decay,
)
