"""``perseus validate`` against real embedded tritonservers: a short run, and its faults."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from perseus.config.scenario import ModelConfig, load_scenario
from perseus.triton.client import TritonClient
from perseus.triton.server import EmbeddedServer
from perseus.validate.compare import model_error, union_length
from perseus.validate.run import CALIBRATION_SEED, SEED_RUNS
from perseus.workload import scenario_arrivals
from triton_helpers import hosts_file, run_cli, start_cli

ROOT = Path(__file__).resolve().parent.parent
PROFILE = str(ROOT / "profiles/local-cpu.yaml")
# how many times as long as PROFILE (the Intel host's) a CI machine may compute: the AMD EPYC
# host of 2026-12-07 took MobileNetV2's batch of one 2.5 times as long (5.69 ms against 2.24)
SPEEDS = (0.25, 4.0)


def scenario(tmp_path: Path, duration: float = 30, rps: float = 25, models: tuple[str, ...] = ("mobilenet_v2",),
             placements: dict | None = None) -> Path:
    data = {
        "name": "short", "duration_s": duration, "warmup_s": 5, "seed": 3,
        "host_types": {"cpu-small": {"profile": PROFILE, "price_per_hour": 0.05}},
        "models": {m: {"sla": {"latency_ms": 100, "percentile": 99}, "workload": {"kind": "poisson", "rps": rps}}
                   for m in models},
        "placements": placements or {"one": [{"host_type": "cpu-small", "models": {
            m: {"max_batch_size": 8, "max_queue_delay_ms": 2} for m in models}}]},
    }
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_short_validate_on_the_embedded_host(tmp_path):
    out = tmp_path / "result.json"
    result = run_cli("validate", str(scenario(tmp_path)), "--json", str(out), "--fail-above", "95",
                     env={"COLUMNS": "200"})                         # rows unwrapped
    assert result.returncode == 0, result.stderr
    data = json.loads(out.read_text())
    entry = data["placements"]["one"]["models"]["mobilenet_v2"]
    measured, simulated, error = entry["measured"], entry["simulated"], entry["error"]
    assert measured["requests"] == simulated["requests"] > 500       # the identical trace
    assert measured["completed"] == measured["requests"]
    assert abs(error["throughput"]) < 0.02
    for key in ("p50", "p95", "p99"):
        assert abs(error[key]) < 0.9, error                           # loose: CI machines are noisy
    assert sum(entry["batch_sizes"]["measured"].values()) > 0
    times = entry["batch_ms"]                                         # measured, simulated, profiled by size
    assert set(times["simulated"]) == set(entry["batch_sizes"]["simulated"]) and times["measured"]["1"] > 0
    rescaled = entry["at_replay_speed"]                               # the profile at the replay's speed
    assert SPEEDS[0] < rescaled["factor"] < SPEEDS[1] and rescaled["simulated"]["requests"] == measured["requests"]
    assert -1 < rescaled["slope"] < 1 and "size^" in result.stdout               # the law by batch size
    assert set(rescaled["error"]) == set(error) and "at replay speed" in result.stdout
    assert 0.3 < rescaled["front_end_factor"] < 3 and "front end x" in result.stdout   # from the traces
    assert rescaled["sensitivity"]["p50"] > 0 and "per 1% slower host" in result.stdout   # a slower host is slower
    live, sim = entry["stages"]["measured"], entry["stages"]["simulated"]   # live: Triton's request traces
    assert sum(live[s]["mean"] for s in live) == pytest.approx(measured["latency_ms"]["mean"], rel=0.01)
    assert live["queue"]["p95"] >= 2.0 - 0.05 and sim["queue"]["p95"] >= 2.0 - 1e-6   # the 2 ms batcher delay
    assert 0 < live["front_end"]["mean"] < live["compute"]["mean"] + live["queue"]["mean"]
    assert "front end ms" in result.stdout
    work = data["placements"]["one"]["arrival_work_ms"]   # fit alike on the traces and the simulated run
    assert set(work) == {"measured", "simulated"} and "longer per arrival" in result.stdout
    spread = data["placements"]["one"]["batch_spread"]   # likewise
    assert set(spread) == {"measured", "simulated"} and "neighbours' median" in result.stdout
    if spread["measured"] is not None:
        assert spread["measured"]["p5"] < 1.0 < spread["measured"]["p95"], spread
    drift = data["placements"]["one"]["speed_drift"]   # likewise (a 30 s replay may be too short: None)
    assert set(drift) == {"measured", "simulated"} and "host speed over seconds" in result.stdout
    requests = pd.read_csv(out.with_suffix(".requests.csv"))
    assert len(requests) == sum(1 for _ in requests.itertuples()) and requests["ok"].all()
    assert set(requests.columns) >= {"model", "sent_s", "latency_ms", "ok"} and (requests.replay == 1).all()
    assert data["placements"]["one"]["replays"] == 1 and "replays" not in entry
    traced = requests.dropna(subset=["received_s", "compute_start_s", "compute_end_s"])
    assert len(traced) == len(requests)                       # every replayed request was traced
    assert (traced.received_s >= traced.sent_s).all() and (traced.compute_end_s > traced.compute_start_s).all()
    answered = traced.sent_s + traced.latency_ms / 1e3   # the server stamps COMPUTE_END after sending
    assert (answered > traced.compute_start_s).all() and (answered > traced.compute_end_s).mean() > 0.9
    assert "placement one" in result.stdout
    busy = union_length(traced.compute_start_s.to_numpy(), traced.compute_end_s.to_numpy(), data["warmup_s"],
                        data["duration_s"])   # the host's busy time, as the simulator counts it
    utilization = data["placements"]["one"]["host_utilization"]
    assert utilization["measured"][0] == pytest.approx(busy / (data["duration_s"] - data["warmup_s"]), rel=1e-3)  # CSV: µs
    assert 0 < utilization["simulated"][0] < 1


def test_repeat_compares_the_simulation_with_the_mean_of_the_replays(tmp_path):
    out = tmp_path / "result.json"
    result = run_cli("validate", str(scenario(tmp_path, duration=12)), "--repeat", "2", "--json", str(out),
                     env={"COLUMNS": "200"})
    assert result.returncode == 0, result.stderr
    placement = json.loads(out.read_text())["placements"]["one"]
    entry = placement["models"]["mobilenet_v2"]
    measured, runs = entry["measured"], entry["replays"]
    assert placement["replays"] == 2 and len(runs) == 2
    a, b = (run["latency_ms"] for run in runs)   # the two replays of the same arrivals: the noise floor
    assert entry["replay_spread"] == {key: pytest.approx(abs(a[key] / b[key] - 1)) for key in ("p50", "p95", "p99")}
    assert "noise floor" in result.stdout and f"{SEED_RUNS} seeds" in result.stdout
    assert set(entry["seed_spread"]) == {"p50", "p95", "p99"}   # the profile's draws part the simulations
    assert all(0 < value < 1 for value in entry["seed_spread"].values())
    assert measured["requests"] == entry["simulated"]["requests"]
    for key in ("p50", "p95", "p99"):
        mean = np.mean([run["latency_ms"][key] for run in runs])
        assert measured["latency_ms"][key] == pytest.approx(mean)
        low, high = measured["latency_ms_ci95"][key]
        assert low <= mean <= high
        simulated = entry["simulated"]["latency_ms"][key]
        low, high = entry["simulated"]["latency_ms_ci95"][key]   # the mean over the seeds, which part
        assert low < simulated < high
        assert entry["error"][key] == pytest.approx(simulated / mean - 1)
        for run in runs:                                              # each replay against the same simulation
            assert run["error"][key] == pytest.approx(simulated / run["latency_ms"][key] - 1)
    factors = [run["at_replay_speed"]["factor"] for run in runs]
    assert entry["at_replay_speed"]["factor"] == pytest.approx(np.mean(factors))
    requests = pd.read_csv(out.with_suffix(".requests.csv"))
    first, second = (requests[requests.replay == k] for k in (1, 2))
    assert len(first) + len(second) == len(requests) and requests.ok.all()
    assert first.scheduled_s.tolist() == second.scheduled_s.tolist()   # the identical trace, twice
    assert first.compute_end_s.notna().all() and second.compute_end_s.notna().all()   # both traced
    batches = sum(entry["batch_sizes"]["measured"].values())           # per replay
    assert batches * 2 == pytest.approx(first.groupby("compute_start_s").ngroups + second.groupby("compute_start_s").ngroups, abs=2)
    assert "mean of 2 replays" in result.stdout and "live 95% interval" in result.stdout


def test_calibrate_simulates_the_replay_at_the_speeds_a_calibration_replay_measured(tmp_path):
    out = tmp_path / "result.json"
    path = scenario(tmp_path, duration=12)
    result = run_cli("validate", str(path), "--calibrate", "8", "--json", str(out), env={"COLUMNS": "200"})
    assert result.returncode == 0, result.stderr
    entry = json.loads(out.read_text())["placements"]["one"]["models"]["mobilenet_v2"]
    calibrated, measured = entry["calibrated"], entry["measured"]
    assert SPEEDS[0] < calibrated["factor"] < SPEEDS[1] and -1 < calibrated["slope"] < 1
    assert 0.3 < calibrated["front_end_factor"] < 3
    assert calibrated["simulated"]["requests"] == measured["requests"]   # the replay's arrivals, not the calibration's
    low, high = calibrated["simulated"]["latency_ms_ci95"]["p99"]      # the mean over the seeds at its speeds
    assert low < calibrated["simulated"]["latency_ms"]["p99"] < high
    assert calibrated["error"] == {key: pytest.approx(model_error(measured, calibrated["simulated"])[key])
                                   for key in entry["error"]}
    assert "calibrated x" in result.stdout and "calibration" in result.stderr   # its own progress bar
    requests = pd.read_csv(out.with_suffix(".requests.csv"))   # the calibration's are kept as replay 0
    loaded = load_scenario(path)
    arrivals = scenario_arrivals(loaded, 3, 12.0)
    calibration = scenario_arrivals(loaded, 3 + CALIBRATION_SEED, loaded.scenario.warmup_s + 8)
    assert set(requests.replay) == {0, 1} and requests.ok.all()
    assert (requests.replay == 1).sum() == sum(len(times) for times in arrivals.values())
    assert (requests.replay == 0).sum() == sum(len(times) for times in calibration.values())
    assert requests[requests.replay == 0].compute_end_s.notna().all()   # traced, for a study of the calibration


def test_fail_above_makes_the_exit_status_1(tmp_path):
    result = run_cli("validate", str(scenario(tmp_path, duration=12)), "--fail-above", "0", cwd=tmp_path)
    assert result.returncode == 1 and "--fail-above" in result.stderr
    assert (tmp_path / "short-validate.requests.csv").exists()   # without --json, beside the working folder


def test_host_killed_mid_replay(tmp_path):
    """The first of two replays loses its host: the run stops there, keeps what it measured, exits 1."""
    settings = {"mobilenet_v2": ModelConfig(max_batch_size=8)}
    server = EmbeddedServer(["mobilenet_v2"], settings=settings, cores=[0]).start()
    hosts = hosts_file(tmp_path / "hosts.yaml", {"victim": {"url": server.grpc_url, "type": "cpu-small"}})
    killer = threading.Timer(12.0, lambda: os.killpg(server.pid, signal.SIGKILL))
    killer.start()
    out = tmp_path / "result.json"
    try:
        result = run_cli("validate", str(scenario(tmp_path, duration=30)), "--hosts", str(hosts), "--json", str(out),
                         "--repeat", "2")
    finally:
        killer.join()
        server.stop()
    assert result.returncode == 1, result.stderr
    assert "victim" in result.stderr and "failed" in result.stderr
    requests = pd.read_csv(out.with_suffix(".requests.csv"))
    assert requests["ok"].sum() > 100 and (~requests["ok"]).sum() > 100   # kept what was measured
    assert (requests.replay == 1).all()                                  # no second replay on a dead host
    assert json.loads(out.read_text())["placements"]["one"]["failed_requests"] == int((~requests["ok"]).sum())


def test_embedded_host_killed_mid_replay_says_how_it_stopped(tmp_path):
    """validate's own embedded host dies during the replay: the error names the host and
    the signal that killed its server (whose log is gone once the host is taken down)."""
    out = tmp_path / "result.json"
    process = start_cli("validate", str(scenario(tmp_path, duration=30)), "--json", str(out))
    deadline = time.monotonic() + 120
    while not (servers := _children_named(process.pid, "tritonserver")):
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.2)
    time.sleep(12.0)                              # up, deployed, and some seconds into the replay
    os.killpg(servers[0], signal.SIGKILL)
    _, stderr = process.communicate(timeout=180)
    assert process.returncode == 1, stderr
    assert "local-0" in stderr and "failed" in stderr and "killed by SIGKILL" in stderr, stderr
    requests = pd.read_csv(out.with_suffix(".requests.csv"))
    assert requests["ok"].sum() > 100 and (~requests["ok"]).sum() > 100   # kept what was measured


def _children_named(parent: int, name: str) -> list[int]:
    """The processes whose parent is ``parent`` and whose command is ``name``."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text()
        except OSError:
            continue
        command, rest = fields[fields.index("(") + 1:fields.rindex(")")], fields[fields.rindex(")") + 2:].split()
        if command == name and int(rest[1]) == parent:
            found.append(int(stat.parent.name))
    return found


def test_ctrl_c_mid_replay_restores_the_host_and_keeps_what_was_measured(tmp_path):
    """Ctrl-C while a remote host replays: its model is back as it was, the requests sent
    so far are in the CSV, and the run exits 130 without a traceback."""
    settings = {"mobilenet_v2": ModelConfig(max_batch_size=4)}
    with EmbeddedServer(["mobilenet_v2"], settings=settings, cores=[0]) as server:
        client = TritonClient(server.grpc_url, host="local")
        hosts = hosts_file(tmp_path / "hosts.yaml", {"remote": {"url": server.grpc_url, "type": "cpu-small"}})
        out = tmp_path / "result.json"
        process = start_cli("validate", str(scenario(tmp_path, duration=30)), "--hosts", str(hosts), "--json", str(out))
        deadline = time.monotonic() + 120
        while "dynamic_batching" not in client.model_config("mobilenet_v2"):   # deployed: the replay begins
            assert process.poll() is None and time.monotonic() < deadline, process.communicate()
            time.sleep(0.2)
        time.sleep(6.0)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=120)
        restored = client.model_config("mobilenet_v2")
        client.close()
    assert process.returncode == 130 and "interrupted" in stderr and "Traceback" not in stderr, stderr
    assert "dynamic_batching" not in restored and int(restored["max_batch_size"]) == 4
    requests = pd.read_csv(out.with_suffix(".requests.csv"))
    assert 50 < len(requests) < 30 * 25 and requests["sent_s"].notna().all()   # what was sent, not the rest
    assert requests["ok"].sum() > 50
    assert (requests.loc[~requests["ok"], "error"] == "interrupted before its answer").all()


def test_unreachable_host_before_the_start(tmp_path):
    hosts = hosts_file(tmp_path / "hosts.yaml", {"gone": {"url": "127.0.0.1:9", "type": "cpu-small"}})
    start = time.monotonic()
    result = run_cli("validate", str(scenario(tmp_path)), "--hosts", str(hosts))
    assert time.monotonic() - start < 30
    assert result.returncode == 1 and "gone" in result.stderr and "127.0.0.1:9" in result.stderr


def test_placement_needs_a_model_the_host_lacks(tmp_path):
    with EmbeddedServer(["mobilenet_v2"], cores=[0]) as server:
        hosts = hosts_file(tmp_path / "hosts.yaml", {"small": {"url": server.grpc_url, "type": "cpu-small"}})
        result = run_cli("validate", str(scenario(tmp_path, models=("resnet18",))), "--hosts", str(hosts))
    assert result.returncode == 2 and "resnet18" in result.stderr and "small" in result.stderr


def test_placement_larger_than_the_machine_is_refused(tmp_path):
    """Two embedded hosts and the load generator need three cores; given two, it refuses."""
    one_each = {"dedicated": [{"host_type": "cpu-small", "models": {"mobilenet_v2": {}}},
                              {"host_type": "cpu-small", "models": {"resnet18": {}}}]}
    path = scenario(tmp_path, models=("mobilenet_v2", "resnet18"), placements=one_each)
    two_cores = ",".join(str(c) for c in sorted(os.sched_getaffinity(0))[:2])
    result = subprocess.run(["taskset", "-c", two_cores, sys.executable, "-m", "perseus", "validate", str(path),
                             "--placement", "dedicated"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "load generator" in result.stderr and "--hosts" in result.stderr
