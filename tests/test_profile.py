"""``perseus profile`` against real embedded tritonservers, over gRPC and HTTP, and its faults."""

from __future__ import annotations

import signal
import threading
import time

import pandas as pd
import pytest
import yaml

from perseus.config.profile import load_profile
from perseus.profile.drift import fit_speed_drift
from perseus.profile.frontend import replay_parts
from perseus.profile.ingress import fit_arrival_work
from perseus.profile.plan import QUICK
from perseus.profile.spread import fit_batch_spread
from perseus.profile.wakeup import fit_wake_law, replay_joins
from perseus.triton.server import EmbeddedServer
from triton_helpers import TEST_RESOLUTION, hosts_file, run_cli, start_cli, tritonserver_pids

MODELS = ["mobilenet_v2", "resnet18"]


@pytest.fixture(scope="module")
def quick_profile(tmp_path_factory):
    """One quick profile of two models on the embedded host (the CLI starts the server)."""
    root = tmp_path_factory.mktemp("quick")
    hosts = hosts_file(root / "hosts.yaml", {"local": {"embedded": True, "cores": 1, "resolution": TEST_RESOLUTION}})
    out = root / "local.yaml"
    result = run_cli("profile", "--host", "local", "--hosts", str(hosts), "--models", ",".join(MODELS),
                     "--quick", "--out", str(out))
    assert result.returncode == 0, result.stderr
    return out


def test_quick_profile_has_every_field_of_spec(quick_profile):
    raw = yaml.safe_load(quick_profile.read_text())
    for key in ("host", "hardware", "triton_version", "measured_at", "models", "interference"):
        assert key in raw
    assert raw["triton_version"].startswith("2.")
    for model in MODELS:
        entry = raw["models"][model]
        for key in ("input_bytes", "batch_latency_ms", "overhead_ms", "fit", "instance_scaling", "service_time"):
            assert key in entry, (model, key)
        for stats in entry["batch_latency_ms"].values():
            assert {"mean", "p50", "p95", "p99", "n"} <= set(stats)
        assert set(entry["instance_scaling"]) == {1, 2}
        # the open-loop replay measured every model: no think-time cold start (the remote test has one)
        assert "cold_start" not in entry and not entry.get("cold_start_share")
        alone = entry["front_end_ms"]   # measured request by request
        assert 0 < alone["p50"] <= alone["p95"] <= alone["p99"]
        # solved on that replay: its compute over the simulation's; within a factor of 3, as
        # the host's speed moves between the closed-loop curve and the replay (a CI run on
        # 2026-12-06 read 0.467, where the host computed up to 83% slower within minutes)
        assert 1 / 3 < entry["open_loop_factor"] < 3.0
        by_core = entry["front_end_by_core_ms"]   # the open-loop replay, traced: no busy probes needed
        assert "busy_front_end_ms" not in entry and set(by_core) <= {"idle", "busy", "waking", "asleep"}
        for state in ("idle", "busy", "asleep"):   # half the core's time busy, then a tenth: all have requests
            stats = by_core[state]
            assert stats["n"] > 0 and 0 < stats["p5"] <= stats["p50"] <= stats["p95"] <= stats["p99"] < 100
    assert set(raw["switch_ms"]) == set(MODELS) and all(len(row) == 1 for row in raw["switch_ms"].values())
    raw = pd.read_csv(quick_profile.with_suffix(".csv"))   # batch 1 measured with the points compared with it
    solo = raw["batch_size"] == 1
    interleaved = (raw["phase"] == "curve") & ~solo   # window by window, from the same windows' statistics
    referenced = interleaved | ((raw["phase"] == "coldstart") & solo & (raw["think_ms"] > 0))
    assert raw.loc[referenced, "reference_ms"].gt(0).all() and raw.loc[~referenced, "reference_ms"].isna().all()
    per_window = raw[interleaved].groupby("key")["reference_ms"].nunique()
    assert (per_window > 1).all(), per_window   # a reference window before the point would stamp one value
    replayed = pd.read_csv(quick_profile.with_suffix(".frontend.csv"))   # every request, with its trace times
    assert set(replayed["model"]) == set(MODELS) and replayed["compute_end_s"].notna().all()
    answered = replayed["sent_s"] + replayed["latency_ms"] / 1e3   # the server stamps COMPUTE_END after sending
    assert (replayed["received_s"] > replayed["sent_s"]).all() and (answered > replayed["compute_start_s"]).all()


def test_batch_time_grows_with_batch_size(quick_profile):
    profile = load_profile(quick_profile)
    for model in MODELS:
        curve = profile.models[model].batch_latency_ms
        means = [curve[size].mean for size in sorted(curve)]
        # the largest batch is the slowest and clearly slower than batch 1; adjacent points
        # are not compared: a stall of this host read MobileNetV2 at 1.74 / 5.40 / 4.73 /
        # 10.20 ms in a CI run, and another read batch 2 at 1.75 below batch 1's 1.80
        assert means[-1] == max(means) and means[-1] > 1.5 * means[0], (model, means)
        assert profile.models[model].fit.per_item_ms > 0


def test_one_core_interference(quick_profile):
    """On one core a busy neighbour takes about half the core: a batch several slices long
    takes about twice as long beside it; short ones less (they have the core for their
    first slice), but every pair is slowed."""
    profile = load_profile(quick_profile)
    # S is what follows the fitted slice, which quick windows pin down loosely (0-1.8 ms
    # here): the pairs slowed on average, none absurdly; the long batch below checks the
    # share. One pair alone is as noisy as this host: CI runs here read MobileNetV2's
    # self-pair at 1.02, and pairs at 3.58 and 4.24, where 1.6-2.8 is usual.
    slowdowns = [profile.slowdown(victim, neighbour) for victim in MODELS for neighbour in MODELS]
    assert sum(slowdowns) / len(slowdowns) > 1.3 and all(0.9 < s < 5.0 for s in slowdowns), profile.interference
    # a batch that joins a busy core first has it for a scheduler slice: about 1 ms here
    assert profile.wake_slice_ms is not None and 0.0 <= profile.wake_slice_ms < 5.0
    # the open-loop replay's joins give the wake law (67 of them in a quick profile here)
    replay = pd.read_csv(quick_profile.with_suffix(".frontend.csv"))
    assert profile.wake_law == fit_wake_law(replay_joins(replay, profile.interference))
    assert profile.arrival_work_ms == fit_arrival_work(replay)   # the same replay's lone batches
    assert profile.batch_spread == fit_batch_spread(replay, profile.arrival_work_ms or 0.0)
    parts = replay_parts(QUICK.replay_utilization, QUICK.replay_s)   # each part of the replay a series
    assert profile.speed_drift == fit_speed_drift(replay, profile.arrival_work_ms or 0.0, parts)
    if profile.batch_spread is not None:   # ratios to the neighbours' median
        assert profile.batch_spread.p5 < 1.0 < profile.batch_spread.p95, profile.batch_spread
    if profile.wake_law is not None:
        assert 0.0 < profile.wake_law.preempt < 1.0 and profile.wake_law.slice_ms > 0.0, profile.wake_law
    raw = pd.read_csv(quick_profile.with_suffix(".csv"))
    points = raw[raw["phase"] == "interference"].groupby("key")[["alone_batch_ms", "server_batch_ms"]].mean()
    longest = points.sort_values("alone_batch_ms").iloc[-1]
    assert longest["alone_batch_ms"] > 4.0, points   # ResNet-18 at batch 2: several slices
    # about twice, less where the victim's thread gets more than half the core: on the AMD
    # EPYC host full profiles measured 1.49-1.57 for some pairs (2026-11-30 00:50), and a
    # CI run there 1.597 for ResNet-18 batch 2 beside MobileNetV2; more where the host
    # stalled during the window beside (see the pairs above)
    assert 1.4 <= longest["server_batch_ms"] / longest["alone_batch_ms"] <= 3.5, points
    assert raw.loc[raw["phase"] == "interference", "alone_batch_ms"].notna().all()   # each beside its own alone
    # two instances on one core add little throughput (some idle time of one instance is
    # filled), where two cores would give about 1.9 for each model; averaged over the
    # models, as a CI run here read 2.06 for one model when its one-instance window stalled
    scaling = [profile.models[model].instance_scaling[2] for model in MODELS]
    assert sum(scaling) / len(scaling) < 1.6, scaling


def test_remote_host_over_http_with_secret_header(tmp_path, monkeypatch):
    """The remote path: a server named by URL, HTTP, a token header from the environment."""
    secret = "s3cret-token-value"
    with EmbeddedServer(["mobilenet_v2"], resolution=TEST_RESOLUTION, cores=[0]) as server:
        hosts = hosts_file(tmp_path / "hosts.yaml", {"edge": {
            "url": server.http_url, "protocol": "http", "hardware": "test cpu", "price_per_hour": 0.1,
            "headers": {"triton-access-token": "${PERSEUS_TEST_TOKEN}"}}})
        out = tmp_path / "edge.yaml"
        result = run_cli("profile", "--host", "edge", "--hosts", str(hosts), "--batch-sizes", "1,2",
                         "--quick", "--out", str(out), env={"PERSEUS_TEST_TOKEN": secret})
    assert result.returncode == 0, result.stderr
    profile = load_profile(out)
    assert profile.host == "edge" and list(profile.models) == ["mobilenet_v2"]
    assert sorted(profile.models["mobilenet_v2"].batch_latency_ms) == [1, 2]
    cold = profile.models["mobilenet_v2"].cold_start   # no traces, no open-loop replay: the think-time table
    assert len(cold.idle_ms) == 2 and cold.idle_ms[-1] >= 100 and min(cold.overhead_ms) > 0
    for text in (out.read_text(), out.with_suffix(".csv").read_text(), result.stdout, result.stderr):
        assert secret not in text


def test_server_without_model_control_is_profiled_as_loaded(tmp_path):
    with EmbeddedServer(["mobilenet_v2"], resolution=TEST_RESOLUTION, cores=[0], model_control="none") as server:
        hosts = hosts_file(tmp_path / "hosts.yaml", {"fixed": {"url": server.grpc_url}})
        out = tmp_path / "fixed.yaml"
        result = run_cli("profile", "--host", "fixed", "--hosts", str(hosts), "--quick", "--batch-sizes", "1,4",
                         "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "does not allow model control" in result.stderr
    profile = load_profile(out)
    model = profile.models["mobilenet_v2"]
    assert sorted(model.batch_latency_ms) == [1, 4] and model.instance_scaling == {1: 1.0}
    assert "mobilenet_v2" not in profile.interference   # the self-pair needs two instances


def test_unset_header_variable_is_bad_input(tmp_path):
    hosts = hosts_file(tmp_path / "hosts.yaml", {"edge": {"url": "127.0.0.1:1", "headers": {"t": "${NOPE_NOT_SET}"}}})
    result = run_cli("profile", "--host", "edge", "--hosts", str(hosts))
    assert result.returncode == 2
    assert "hosts.edge.headers.t" in result.stderr and "NOPE_NOT_SET" in result.stderr


def test_unknown_host_lists_known_hosts(tmp_path):
    hosts = hosts_file(tmp_path / "hosts.yaml", {"gpu1": {"url": "127.0.0.1:1"}})
    result = run_cli("profile", "--host", "nowhere", "--hosts", str(hosts))
    assert result.returncode == 2
    assert "nowhere" in result.stderr and "gpu1" in result.stderr and "local" in result.stderr
    assert "Traceback" not in result.stderr


def test_unreachable_url_fails_fast_naming_host_and_url(tmp_path):
    hosts = hosts_file(tmp_path / "hosts.yaml", {"gone": {"url": "127.0.0.1:9"}})
    start = time.monotonic()
    result = run_cli("profile", "--host", "gone", "--hosts", str(hosts), timeout=60)
    assert time.monotonic() - start < 10
    assert result.returncode == 1
    assert "gone" in result.stderr and "127.0.0.1:9" in result.stderr and "unreachable" in result.stderr


def test_model_the_server_does_not_have(tmp_path):
    with EmbeddedServer(["mobilenet_v2"], resolution=TEST_RESOLUTION, cores=[0]) as server:
        hosts = hosts_file(tmp_path / "hosts.yaml", {"edge": {"url": server.grpc_url}})
        result = run_cli("profile", "--host", "edge", "--hosts", str(hosts), "--models", "vgg_missing", "--quick")
    assert result.returncode == 2
    assert "vgg_missing" in result.stderr and "mobilenet_v2" in result.stderr


@pytest.mark.parametrize("content, field", [
    ("hosts: [1, 2]", "hosts"),
    ("hosts:\n  a: {url: 1.2.3.4:8001, protocol: carrier-pigeon}", "hosts.a.protocol"),
    ("hosts:\n  a: {protocol: grpc}", "hosts.a"),
    ("hosts: {a: {url: x:1}\n", "line"),
])
def test_malformed_hosts_yaml(tmp_path, content, field):
    path = tmp_path / "hosts.yaml"
    path.write_text(content)
    result = run_cli("profile", "--host", "a", "--hosts", str(path))
    assert result.returncode == 2, result.stderr
    assert str(path) in result.stderr and field in result.stderr
    assert "Traceback" not in result.stderr


def test_server_killed_mid_profile_keeps_measurements_and_resumes(tmp_path):
    out = tmp_path / "victim.yaml"
    raw = out.with_suffix(".csv")
    server = EmbeddedServer(MODELS, resolution=TEST_RESOLUTION, cores=[0]).start()
    hosts = hosts_file(tmp_path / "hosts.yaml", {"victim": {"url": server.grpc_url}})

    def kill_when_half_done() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if raw.exists() and pd.read_csv(raw)["final"].sum() >= 4:
                server.stop()
                return
            time.sleep(0.1)

    killer = threading.Thread(target=kill_when_half_done)
    killer.start()
    result = run_cli("profile", "--host", "victim", "--hosts", str(hosts), "--quick", "--out", str(out))
    killer.join()
    assert result.returncode == 1, result.stderr
    assert "victim" in result.stderr and "--resume" in result.stderr
    kept = pd.read_csv(raw)
    done_keys = set(kept.loc[kept["final"], "key"])
    assert len(done_keys) >= 4 and not out.exists()

    with EmbeddedServer(MODELS, resolution=TEST_RESOLUTION, cores=[0], ports=server.ports):
        result = run_cli("profile", "--host", "victim", "--hosts", str(hosts), "--quick", "--out", str(out),
                         "--resume")
    assert result.returncode == 0, result.stderr
    final = pd.read_csv(raw)
    again = final[final["key"].isin(done_keys)].reset_index(drop=True)
    before = kept[kept["key"].isin(done_keys)].reset_index(drop=True)
    pd.testing.assert_frame_equal(again.fillna(""), before.fillna(""), check_dtype=False)  # nothing measured twice
    assert final["final"].sum() > len(done_keys)
    assert set(load_profile(out).models) == set(MODELS)


def test_ctrl_c_mid_profile_stops_the_embedded_server_and_keeps_measurements(tmp_path):
    hosts = hosts_file(tmp_path / "hosts.yaml", {"local": {"embedded": True, "cores": 1, "resolution": TEST_RESOLUTION}})
    out = tmp_path / "local.yaml"
    raw = out.with_suffix(".csv")
    before = tritonserver_pids()
    process = start_cli("profile", "--host", "local", "--hosts", str(hosts), "--models", "mobilenet_v2", "--quick",
                        "--out", str(out))
    deadline = time.monotonic() + 120
    while not (raw.exists() and pd.read_csv(raw)["final"].sum() >= 2):
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130 and "--resume" in stderr and "Traceback" not in stderr, stderr
    assert pd.read_csv(raw)["final"].sum() >= 2 and not out.exists()
    assert tritonserver_pids() <= before   # the embedded server it started is gone
