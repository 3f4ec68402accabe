#!/usr/bin/env bash
# Profile the bundled tritonserver with KIND_GPU instances on a lent GPU machine.
# Run from the repository root there, with the wheels the machine lacks in .device/wheels
# (nvidia-pytriton, tritonclient without its perf binaries, pydantic, simpy): the machine
# reaches no package registry. Writes $OUT/gpu-h200.yaml and its raw table.
set -euo pipefail
OUT=${OUT:-out}
mkdir -p "$OUT"
python3 -m pip install -q --no-deps --no-index .device/wheels/*.whl
python3 -m pip install -q --no-deps --no-build-isolation -e .
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$OUT/gpu.txt"
python3 -c "import onnxruntime as o; print('onnxruntime providers:', o.get_available_providers())" | tee -a "$OUT/gpu.txt"
cat > "$OUT/hosts-gpu.yaml" <<YAML
hosts:
  h200:
    embedded: true
    device: gpu
    cores: 4
    resolution: 224
    hardware: nvidia-h200
YAML
export PYTHONUNBUFFERED=1
time perseus profile --host h200 --hosts "$OUT/hosts-gpu.yaml" --out "$OUT/gpu-h200.yaml" 2>&1 | tr '\r' '\n' | grep -v '^\s*$' | awk 'NR % 20 == 0 || /wrote|error|warning/' | tee "$OUT/profile.log"
