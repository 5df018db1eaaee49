#!/usr/bin/env bash
# Runs on the lent GPU machine, from the repository root, with .device/ carried (build.sh makes
# it): unpacks Node and Dawn, installs the Vulkan loader, points it at NVIDIA's driver, then runs
# the performance bench (bench/device.ts; arguments pass through: --quick). The log and
# bench/results.json go to $OUT (the tool brings them back).
set -uo pipefail
K=.device
OUT=${OUT:-/tmp/hybridc-device-out}
mkdir -p "$OUT" /tmp/hybridc-node
xz -dc "$K/node.xz" > /tmp/hybridc-node/node && chmod +x /tmp/hybridc-node/node
xz -dc "$K/dawn.node.xz" > "$K/node_modules/webgpu/dist/linux-x64/dawn.node"
for f in "$K"/debs/*.deb; do dpkg -x "$f" /; done
ldconfig
ICD=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -f "$ICD" ] && export VK_DRIVER_FILES="$ICD"
export XDG_RUNTIME_DIR=/tmp
# The PyTorch CPU baseline with the machine's python3, when it has torch.
HYBRIDC_BENCH_PYTHON=$(command -v python3 || true)
export HYBRIDC_BENCH_PYTHON
{
  echo "node $(/tmp/hybridc-node/node --version); VK_DRIVER_FILES=${VK_DRIVER_FILES:-unset}"
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  /tmp/hybridc-node/node "$K/bench.mjs" "$@"
} 2>&1 | tee "$OUT/bench.log"
status=${PIPESTATUS[0]}
[ -f bench/results.json ] && cp bench/results.json "$OUT/results.json"
exit "$status"
