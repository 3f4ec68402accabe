"""``perseus simulate`` end to end: the shipped scenarios, the JSON contract, bad input."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest
import yaml

from perseus.config.scenario import load_scenario
from perseus.simulation import run
from perseus.workload import scenario_arrivals
from triton_helpers import run_cli, start_cli

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_shipped_scenarios_simulate(path):
    results = run(load_scenario(path), duration_s=60)
    assert set(results["placements"]) == set(yaml.safe_load(path.read_text())["placements"])
    for placement in results["placements"].values():
        for stats in placement["models"].values():
            assert stats["requests"] > 0 and stats["completed"] == stats["requests"]


def test_json_has_specs_fields_and_is_bit_identical(tmp_path):
    out1, out2 = tmp_path / "a.json", tmp_path / "b.json"
    for out in (out1, out2):
        result = run_cli("simulate", str(ROOT / "scenarios/spiky.yaml"), "--duration", "60", "--json", str(out),
                         cwd=ROOT)
        assert result.returncode == 0, result.stderr
    assert out1.read_bytes() == out2.read_bytes()
    data = json.loads(out1.read_text())
    assert {"scenario", "seed", "duration_s", "placements", "best", "saving_vs_dedicated"} <= set(data)
    shared = data["placements"]["shared"]
    assert {"hosts", "cost_per_hour", "cost_per_million", "meets_sla", "models", "host_utilization"} <= set(shared)
    model = shared["models"]["resnet18"]
    assert {"requests", "completed", "throughput_rps", "latency_ms", "sla_violation_rate", "meets_sla",
            "mean_batch_size"} <= set(model)
    assert set(model["latency_ms"]) == {"mean", "p50", "p90", "p95", "p99"}
    assert data["best"] == "shared" and data["saving_vs_dedicated"] == pytest.approx(0.5)
    assert "best: shared" in result.stdout


def test_replications_report_confidence_intervals():
    results = run(load_scenario(ROOT / "scenarios/steady.yaml"), duration_s=40, replications=3,
                  placement="shared")
    ci = results["placements"]["shared"]["models"]["resnet50"]["latency_ms_ci95"]["p99"]
    p99 = results["placements"]["shared"]["models"]["resnet50"]["latency_ms"]["p99"]
    assert ci[0] < p99 < ci[1]


def test_simulate_and_validate_share_arrivals():
    loaded = load_scenario(ROOT / "scenarios/spiky.yaml")
    first, second = scenario_arrivals(loaded, 7, 30), scenario_arrivals(loaded, 7, 30)
    assert all(first[m].tobytes() == second[m].tobytes() for m in first)


def _scenario(tmp_path: Path, edit) -> Path:
    data = yaml.safe_load((ROOT / "scenarios/spiky.yaml").read_text())
    data["host_types"]["cpu-small"]["profile"] = str(ROOT / "profiles/local-cpu.yaml")
    edit(data)
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


BAD = {
    "negative rate": (lambda d: d["models"]["mobilenet_v2"]["workload"].update(rps=-3),
                      "models.mobilenet_v2.workload.poisson.rps"),
    "unknown workload kind": (lambda d: d["models"]["mobilenet_v2"].update(workload={"kind": "tidal", "rps": 3}),
                              "models.mobilenet_v2.workload"),
    "unknown model in placement": (lambda d: d["placements"]["shared"][0]["models"].update(alexnet={}),
                                   "placements.shared[0].models.alexnet"),
    "unknown host type": (lambda d: d["placements"]["shared"][0].update(host_type="gpu-huge"),
                          "placements.shared[0].host_type"),
    "missing profile": (lambda d: d["host_types"]["cpu-small"].update(profile="profiles/nowhere.yaml"),
                        "host_types.cpu-small.profile"),
    "missing field": (lambda d: d["models"]["resnet18"].pop("sla"), "models.resnet18.sla"),
}


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_bad_scenarios_exit_2_naming_the_field(tmp_path, case):
    edit, field = BAD[case]
    path = _scenario(tmp_path, edit)
    result = run_cli("simulate", str(path))
    assert result.returncode == 2, result.stderr
    assert str(path) in result.stderr and field in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_malformed_yaml_and_unknown_placement(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: x\nmodels: {a: [1, 2}\n")
    result = run_cli("simulate", str(broken))
    assert result.returncode == 2 and "line 2" in result.stderr and str(broken) in result.stderr
    path = _scenario(tmp_path, lambda d: None)
    result = run_cli("simulate", str(path), "--placement", "nope")
    assert result.returncode == 2 and "nope" in result.stderr and "dedicated" in result.stderr


def test_model_missing_from_profile(tmp_path):
    profile = yaml.safe_load((ROOT / "profiles/local-cpu.yaml").read_text())
    del profile["models"]["mobilenet_v2"]
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(profile))
    path = _scenario(tmp_path, lambda d: d["host_types"]["cpu-small"].update(profile=str(tmp_path / "p.yaml")))
    result = run_cli("simulate", str(path))
    assert result.returncode == 2 and "mobilenet_v2" in result.stderr and "placements." in result.stderr


def test_ctrl_c_exits_130_without_a_traceback():
    process = start_cli("simulate", str(ROOT / "scenarios/spiky.yaml"), "--replications", "500")
    time.sleep(4.0)
    assert process.poll() is None
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130 and "interrupted" in stderr and "Traceback" not in stderr, stderr
