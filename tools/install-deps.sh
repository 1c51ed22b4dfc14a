#!/usr/bin/env bash
# System packages pybernetes and its tests use, from Debian's archive (run as root).
# kubectl is not here: tests use the kubectl binaries already on the machine (1.27–1.33).
set -euo pipefail
PKGS=(
  iproute2 procps ca-certificates openssl
  etcd-server etcd-client
  docker-registry busybox-static nginx-light zstd
  crun runc containernetworking-plugins nftables conntrack iptables kmod
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  # Packages such as nginx, etcd and docker-registry would start system services on their default ports;
  # we only want their binaries. policy-rc.d tells Debian's maintainer scripts not to start anything.
  created_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    created_policy=1
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
  if [ -n "$created_policy" ]; then
    rm -f /usr/sbin/policy-rc.d
  fi
fi
