#!/usr/bin/env bash
# Profile the bundled tritonserver with KIND_GPU instances on a lent GPU machine.
# Run from the repository root there, with the wheels the machine lacks in .device/wheels
# (nvidia-pytriton, tritonclient without its perf binaries, pydantic, simpy): the machine
# reaches no package registry. Writes $OUT/gpu-h200.yaml, its raw table and the log.
set -uo pipefail
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
start=$(date +%s)
perseus profile --host h200 --hosts "$OUT/hosts-gpu.yaml" --out "$OUT/gpu-h200.yaml" > "$OUT/profile.log" 2>&1
status=$?
echo "profile exit status $status after $(( $(date +%s) - start )) s" | tee -a "$OUT/profile.log"
tail -c 3000 "$OUT/profile.log"
cat "$OUT/gpu-h200.yaml" 2>/dev/null | head -80
