#!/usr/bin/env bash
# Installs everything lamina needs on Debian 12, as root: the OCI runtimes, busybox for
# local base images, the peers used by the interop tests and benchmarks, and lamina itself.
set -euo pipefail
cd "$(dirname "$0")"

export DEBIAN_FRONTEND=noninteractive
packages=(
  crun runc busybox-static debootstrap skopeo umoci
  docker.io docker-registry containernetworking-plugins podman
  apache2-utils wrk jq git
  zsh fish tmux iptables util-linux curl redis-server
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

python3 -m pip install -q --disable-pip-version-check -e '.[test]'
# byte-compile now: with PYTHONDONTWRITEBYTECODE set, every `lamina` run would recompile
python3 -m compileall -q src >/dev/null
# lamina's launcher (lamina.cli.launcher): Python without site (-S), so that the everyday
# commands start in ~15 ms (lamina.cli.fast); written where a fresh login shell finds it first:
# /usr/local/bin under pyenv (whose shim, a shell script that runs pyenv first, is removed),
# else in place of pip's console script. `pip install` alone still gives a working `lamina`.
python3 -m lamina.cli.launcher --install
found=$(bash -lc 'command -v lamina' 2>/dev/null || true)
echo "lamina: a new login shell runs ${found:-nothing (is /usr/local/bin on PATH?)}"
