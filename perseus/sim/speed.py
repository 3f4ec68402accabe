"""The host's speed wandering over seconds: a slow multiplier on every batch's work.

A shared machine's speed is not steady within a replay. On the embedded CPU host
(2026-12-06, nine ``validate`` replays kept by ``bench_validate.py``), the median of a
second's lone batches, each over its group's median over the whole replay, had a
standard deviation of 8-16% across the seconds of a replay, and that of one second and
of the next correlated at 0.2-0.6 (5 s apart, at -0.1 to 0.4). A slow stretch of a few
seconds lengthens every batch in it together, so the queue builds up as independent
draws of the same spread would not let it: the tail is heavier. The batch spread
(:mod:`perseus.profile.spread`) is measured around each batch's 21 neighbours, which
leaves such stretches out; this process puts them back.

Model: the log of the speed factor is an Ornstein-Uhlenbeck process with standard
deviation ``sigma`` and correlation time ``tau`` (``Profile.speed_drift``), started in
its stationary law, sampled exactly at each batch start (``x' = x e^(-dt/tau) + sigma
sqrt(1 - e^(-2 dt/tau)) z``), and the factor is ``exp(x - sigma²/2)``, whose mean is 1:
the profile's times stay the host's mean speed. A batch keeps the factor it started
with. Assumptions: one process per host, shared by its models; its law is the same at
every load and batch size; it is independent of the batch spread.

Fit on the profiles' own replays (:mod:`perseus.profile.drift`), six profiles of that
host (2026-12-05 23:40 to 12-06 10:22) read sigma 0.03-0.13 and tau 1.0-4.8 s (one at
the 30 s cap); the ``validate`` replays of the 10:38 run read 0.06-0.13 and 0.9-10 s.
Each profile re-summarised with its fitted drift (``perseus profile --resume``, which
also solves the open-loop factors again with it) and re-simulated at replay speed (four
seeds) on the kept arrivals of the runs it was used with (the 07:44 and 08:52 profiles
both on the 08:03 run; 56 model-case rows): the mean absolute p50 / p95 / p99 error went
from 2.4 / 9.8 / 14.6% to 2.1 / 9.8 / 14.6%, the mean signed one from +1.5 / -7.3 /
-13.0% to 0.0 / -7.6 / -11.9%, and the rows within all three latency targets from 13 to
15. A drift of 0.10 over 2 s given to every profile gave 1.8 / 9.5 / 13.2% (19 rows):
the fit on the one-minute replays those profiles had is itself noisy (the profiler's
replay now runs two minutes).

Where the profile carries the speed one live run measured (``Profile.speed_path``,
``validate`` at a replay's speed), the host follows it instead (:class:`MeasuredSpeed`):
a batch that starts in a bin of the path has its work multiplied by that bin's factor,
drawing nothing. Assumption: within a bin the speed is steady.
"""

from __future__ import annotations

import math

import numpy as np

from perseus.config.profile import Profile, SpeedDrift, SpeedPath


class HostSpeed:
    """One host's speed factor over simulated time, from its own random stream."""

    def __init__(self, drift: SpeedDrift, rng: np.random.Generator) -> None:
        self.sigma = drift.sigma
        self.tau = drift.tau_s
        self.rng = rng
        self.at = 0.0
        self.x = drift.sigma * float(rng.standard_normal())

    def factor(self, now: float) -> float:
        """The multiplier on the work of a batch that starts at ``now`` (s)."""
        if now > self.at:
            decay = math.exp(-(now - self.at) / self.tau)
            self.x = self.x * decay + self.sigma * math.sqrt(1.0 - decay * decay) * float(self.rng.standard_normal())
            self.at = now
        return math.exp(self.x - self.sigma * self.sigma / 2.0)


class MeasuredSpeed:
    """A host that computes as one live run measured, bin by bin (``Profile.speed_path``)."""

    def __init__(self, path: SpeedPath) -> None:
        self.bin_s = path.bin_s
        self.factors = path.factors

    def factor(self, now: float) -> float:
        """The multiplier on the work of a batch that starts at ``now`` (s): its bin's, 1
        outside the path."""
        i = int(now // self.bin_s)
        return self.factors[i] if 0 <= i < len(self.factors) else 1.0


def host_speed(profile: Profile, rng: np.random.Generator) -> HostSpeed | MeasuredSpeed | None:
    """How a host of ``profile`` moves its batches' work over time: the measured path where
    it has one, else its drawn drift, else not at all (None)."""
    if profile.speed_path is not None:
        return MeasuredSpeed(profile.speed_path)
    if profile.speed_drift is not None:
        return HostSpeed(profile.speed_drift, rng)
    return None
