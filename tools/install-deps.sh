#!/usr/bin/env bash
# System packages pybernetes and its tests use, from Debian's archive (run as root).
# kubectl is not here: tests use the kubectl binaries already on the machine (1.27–1.33).
set -euo pipefail
PKGS=(
  iproute2 procps ca-certificates openssl
  etcd-server etcd-client
  docker-registry busybox-static nginx-light zstd
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
