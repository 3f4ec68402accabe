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

Re-simulated at replay speed on the kept arrivals of two ``bench_validate.py`` runs of
2026-12-06 (05:30 and 07:08, 11 model-case rows, ``/tmp/exp14/ev_*.log``), the closed-loop
spread left the simulated tails short in 9 of 11 rows at p99.

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
