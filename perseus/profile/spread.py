"""How widely a batch's time spreads under open-loop traffic: the profile's ``batch_spread``,
fit on the lone batches of its open-loop ``frontend`` replay (:mod:`perseus.profile.ingress`);
the simulator draws every batch time from it in place of the closed-loop spread
(:mod:`perseus.sim.service`).

The closed-loop curve measures each batch size back to back, where a batch of one of
ResNet-18 took 1.18 times its median at the 95th percentile (profile of 2026-12-06 05:14,
an embedded host reporting the Intel CPU name). Traffic that leaves the core idle between
batches spreads them wider: in that profile's own open-loop replay, lone batches of one
took, over the median of the 21 batches of their model around them, 0.80 / 1.40 / 2.03
(p5 / p95 / p99, MobileNetV2, 964 batches) and 0.81 / 1.34 / 1.50 (ResNet-18, 98); in the
``validate`` replays on that host the same day (``bench_validate.py --keep``), ResNet-18's
batches of 1, 2, 3 and 4 alone under Gamma load 1.22, 1.26, 1.24 and 1.42 at p95 (1,051
to 89 batches), and of 1 and 2 under Poisson load 1.38 and 1.42. The spread is about the
same multiple of a batch's time at every size, so it is fit as one ratio for the host.

Each lone batch's ratio is its duration, less the front end's work for the requests
received while it ran (``arrival_work_ms``, which the simulator adds as pauses), over the
median of its neighbours (:func:`perseus.profile.ingress.lone_batches`): the core's speed
drifts over a replay, and that drift is the replay speed's, not the spread's. The ratios
of every model and batch size are pooled.

Re-simulated at replay speed (``validate``'s solve, two seeds) on the kept arrivals of
five ``bench_validate.py`` runs on that host, each with the profile it was run with (re-
summarised by ``perseus profile --resume`` where made before this fit), the mean
absolute p50 / p95 / p99 error went, with the closed-loop spread and with the fitted
one: 2.2 / 13.0 / 23.7% to 2.8 / 11.0 / 19.8% (the 05:30 and 07:08 runs, 11 rows, the
05:14 profile: p95 1.39, p99 2.01), 2.0 / 7.5 / 11.6% to 2.0 / 6.2 / 11.0% (08:03, 9
rows, the 07:44 profile: 1.16, 1.44), 1.3 / 7.5 / 14.3% to 1.1 / 6.3 / 13.3% (00:01, 9
rows, the 23:40 profile: 1.27, 1.51) and 4.8 / 11.1 / 19.4% to 5.4 / 11.0 / 18.8%
(03:01, 9 rows, the 02:46 profile: 1.11, 1.24). The spread moves with the machine's
state, as the host's speed does.

Assumptions: one spread for every model and batch size on the host, multiplying the
batch's mean time; a batch's draw is independent of the batches before it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from perseus.config.profile import Quantiles
from perseus.profile.ingress import lone_batches

MIN_BATCHES = 100
QUANTILES = {"p5": 5, "p25": 25, "p50": 50, "p75": 75, "p95": 95, "p99": 99}


def fit_batch_spread(requests: pd.DataFrame, work_ms: float = 0.0) -> Quantiles | None:
    """The spread of lone batches' times around their neighbours' median (module
    docstring), with the front end's ``work_ms`` per request received taken out; None with
    fewer than ``MIN_BATCHES`` lone batches."""
    batches = lone_batches(requests)
    if len(batches) < MIN_BATCHES:
        return None
    ratio = ((batches["ms"] - work_ms * batches["during"]) / batches["local_ms"]).to_numpy(dtype=float)
    values = np.percentile(ratio, list(QUANTILES.values()))
    return Quantiles(mean=round(float(ratio.mean()), 4), n=len(ratio),
                     **{key: round(float(v), 4) for key, v in zip(QUANTILES, values)})
