#!/usr/bin/env bash
# Installs the Debian packages PLMKit builds against, if any are missing.
# Swift itself (6.x) must already be on PATH. Open MPI is optional for
# building (plm loads libmpi at run time) and is installed for the MPI tests
# (`mpirun -np 2 plm train …`); set PLM_SKIP_MPI=1 to leave it out.
set -euo pipefail
pkgs=(pkg-config libopenblas-dev liblapack-dev libhdf5-dev)
[[ "${PLM_SKIP_MPI:-}" == 1 ]] || pkgs+=(openmpi-bin libopenmpi-dev)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}" >&2
  sudo_cmd=""
  [[ $(id -u) -eq 0 ]] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v swift >/dev/null || { echo "error: swift (6.x) is not on PATH" >&2; exit 1; }
