#!/usr/bin/env bash
# Builds .device/: what `tools/device-kit/run.sh` needs to run the performance bench on a lent
# GPU machine (the `device` tool: an x86-64 machine with an NVIDIA GPU, no Node, no npm, no
# network). It holds this machine's Node (xz), Dawn's linux-x64 dawn.node (xz) in a minimal
# `webgpu` package, the bench bundled into one file (bench/device.ts, esbuild), baseline.py, the
# Vulkan loader (.deb), and run.sh. About 30 MB, under the 64 MiB the tool carries.
#
#   bash tools/device-kit/build.sh        then the device call, from the repository root:
#   run(command: "bash .device/run.sh --quick", carry: [".device"], timeout_s: 540)
#
# It adds /.device/ to .git/info/exclude, so the kit travels only when carried.
set -euo pipefail
cd "$(dirname "$0")/../.."
K=.device
rm -rf "$K" && mkdir -p "$K/node_modules/webgpu/dist/linux-x64" "$K/debs"
grep -qx '/.device/' .git/info/exclude 2>/dev/null || echo '/.device/' >> .git/info/exclude

# Node: the one running here (x86-64 Linux, glibc), compressed.
xz -T0 -6 -c "$(readlink -f "$(command -v node)")" > "$K/node.xz"
# Dawn for Node: the package's loader and its linux-x64 binary (compressed; run.sh unpacks it).
cp node_modules/webgpu/index.js node_modules/webgpu/package.json "$K/node_modules/webgpu/"
xz -T0 -6 -c node_modules/webgpu/dist/linux-x64/dawn.node > "$K/dawn.node.xz"
# The bench, one ES module; `webgpu` stays a package import (its loader finds dawn.node beside it).
node_modules/.bin/esbuild bench/device.ts --bundle --platform=node --format=esm --target=node20 \
  --external:webgpu --outfile="$K/bench.mjs" --log-level=warning \
  --banner:js="import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);"
cp bench/baseline.py "$K/"
# The Vulkan loader, as the device tool's README says to bring it (Debian's amd64 package).
o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
mkdir -p /tmp/amd64/partial
apt-get $o update -qq >/dev/null
(cd "$K/debs" && apt-get $o download libvulkan1 >/dev/null)
cp tools/device-kit/run.sh "$K/run.sh"
du -sh "$K"
