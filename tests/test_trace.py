"""Triton's request traces, read and joined to a replay log (the file format as Triton 2.51 writes it)."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest

from perseus.metrics import Window
from perseus.replay import ReplayLog, merge_arrivals
from perseus.triton.trace import read_trace
from perseus.validate.compare import traced_batches
from perseus.validate.run import Outcome, requests_csv


def _request(trace_id: int, request_id: str, stamps: dict[str, int]) -> list[dict]:
    head = {"id": trace_id, "model_name": "m", "model_version": 1, "request_id": request_id}
    return [head, *({"id": trace_id, "timestamps": [{"name": name, "ns": ns}]} for name, ns in stamps.items())]


def test_traces_join_the_replayed_requests_by_row(tmp_path):
    origin_ns = 5_000_000_000
    stamps = {"REQUEST_START": 1_000_000, "QUEUE_START": 1_010_000, "COMPUTE_START": 3_000_000,
              "COMPUTE_INPUT_END": 3_100_000, "COMPUTE_END": 7_000_000, "REQUEST_END": 7_020_000}
    entries = (_request(1, "1", {k: origin_ns + v for k, v in stamps.items()})
               + _request(2, "", {k: origin_ns - 10**9 + v for k, v in stamps.items()}))  # before the replay
    path = tmp_path / "trace.json"
    path.write_text(json.dumps(entries))
    traces = read_trace(path)
    assert len(traces) == 2 and set(traces["request_id"]) == {"1", ""}
    log = ReplayLog(("m",), np.zeros(3, dtype=np.int32), np.array([0.0, 0.001, 0.002]))
    log.origin_s = origin_ns / 1e9
    log.sent_s[:] = log.scheduled_s + 0.0001          # each left 0.1 ms late
    log.add_traces(traces)
    assert np.isnan(log.received_s[[0, 2]]).all()     # not traced
    assert np.allclose([log.received_s[1], log.start_s[1], log.end_s[1]], [0.001, 0.003, 0.007])
    table = log.request_table()                       # the latency from the send; the server's clock kept
    assert np.allclose([table.received_s[1], table.start_s[1], table.end_s[1]], [0.001, 0.003, 0.007])


def test_a_batch_of_requests_that_left_late_by_different_times_stays_one_batch():
    """Triton gives a batch's requests one compute start and end; the request table keeps
    them so, and the batch is read back whole (it once moved each onto its own schedule)."""
    log = ReplayLog(("m",), np.zeros(3, dtype=np.int32), np.array([0.0, 0.001, 0.002]))
    log.sent_s[:] = log.scheduled_s + np.array([0.0001, 0.0004, 0.0002])
    log.finish_s[:] = 0.02
    log.ok[:] = True
    log.received_s[:] = log.sent_s + 0.0002
    log.start_s[:] = [0.005, 0.005, 0.012]
    log.end_s[:] = [0.011, 0.011, 0.018]
    batches = traced_batches(log.request_table(), Window(0.0, 1.0))
    assert batches["size"].tolist() == [2, 1]


def test_a_server_that_wrote_no_traces_gives_none(tmp_path):
    assert read_trace(tmp_path / "absent.json").empty
    (tmp_path / "cut.json").write_text('[{"id": 1, "model_na')
    assert read_trace(tmp_path / "cut.json").empty


def test_traces_written_on_switching_off_are_read_beside_the_open_file(tmp_path):
    """Switching tracing off writes FILE.N; FILE itself stays an unclosed array while the
    server runs. Trace ids restart in each file."""
    stamps = {"REQUEST_START": 1, "COMPUTE_START": 2, "COMPUTE_END": 3, "REQUEST_END": 4}
    path = tmp_path / "trace.json"
    path.write_text(json.dumps(_request(1, "0", stamps))[:-1])          # still being written
    (tmp_path / "trace.json.0").write_text(json.dumps(_request(1, "1", stamps)))
    (tmp_path / "trace.json.1").write_text(json.dumps(_request(1, "2", stamps)))
    assert sorted(read_trace(path)["request_id"]) == ["1", "2"]


def test_a_replay_is_read_back_from_the_requests_csv():
    """validate's requests CSV holds a replay's log whole (to the microsecond), so a kept
    run can be solved again offline."""
    arrivals = {"a": np.array([0.0, 0.004]), "b": np.array([0.001, 0.002, 0.003])}
    models, index, times = merge_arrivals(arrivals)
    log = ReplayLog(models, index, times)
    log.host[:] = [1, 0, 0, 1, -1]
    log.sent_s[:4] = times[:4] + 0.0002
    log.finish_s[:4] = log.sent_s[:4] + np.array([0.010, 0.012, 0.011, 0.009])
    log.ok[:3] = True
    log.errors = {3: "StatusCode.UNAVAILABLE: gone", 4: "interrupted before its answer"}
    log.received_s[:3] = log.sent_s[:3] + 0.0003
    log.start_s[:3], log.end_s[:3] = 0.005, 0.009
    outcome = Outcome({}, logs={"p": [log]}, host_names={"p": ["h0", "h1"]})
    rows = pd.read_csv(io.StringIO(requests_csv(outcome)))
    back = ReplayLog.from_requests(rows, arrivals, ["h0", "h1"])
    assert back.models == models and (back.model == index).all() and (back.host == log.host).all()
    assert (back.ok == log.ok).all() and back.errors == log.errors
    for column in ("scheduled_s", "sent_s", "finish_s", "received_s", "start_s", "end_s"):
        assert np.allclose(getattr(back, column), getattr(log, column), atol=2e-6, equal_nan=True), column
    with pytest.raises(ValueError, match="do not follow"):
        ReplayLog.from_requests(rows, {"a": arrivals["a"]}, ["h0", "h1"])
