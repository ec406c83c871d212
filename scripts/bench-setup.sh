#!/usr/bin/env bash
# Installs what `npm run bench` needs. Idempotent: every step is skipped when its result is already there.
#   - VictoriaMetrics single-node (Debian package `victoria-metrics`) — the peer.
#   - InfluxDB (Debian package `influxdb`) — optional second peer, only with BENCH_INFLUX=1.
#   - TSBS's tsbs_generate_data into .cache/bench/bin (Go module proxy). If the proxy does not serve the module
#     (it answers 403 for github.com/timescale/tsbs on this workplace), the harness falls back to its own
#     cpu-only generator (bench/tsbs/generate.ts), and says so.
set -u
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="$ROOT/.cache/bench/bin"
mkdir -p "$BIN"
log() { printf 'bench-setup: %s\n' "$*" >&2; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_updated=0
apt_install() {
  if [ "$apt_updated" = 0 ]; then
    log "apt-get update"
    as_root apt-get update -qq >&2 || true
    apt_updated=1
  fi
  log "apt-get install -y $*"
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >&2
}

vm_bin() {
  for c in victoria-metrics victoria_metrics victoriametrics; do
    command -v "$c" 2>/dev/null && return 0
    [ -x "/usr/bin/$c" ] && { echo "/usr/bin/$c"; return 0; }
  done
  return 1
}

if vm_bin >/dev/null; then
  log "VictoriaMetrics present: $(vm_bin)"
else
  apt_install victoria-metrics || { log "could not install victoria-metrics"; exit 1; }
  # The Debian package starts a system service on :8428; the benchmark runs its own instance, so stop it.
  (as_root systemctl stop victoria-metrics 2>/dev/null || as_root service victoria-metrics stop 2>/dev/null) || true
  vm_bin >/dev/null || { log "victoria-metrics installed but its binary was not found"; exit 1; }
fi

if [ "${BENCH_INFLUX:-0}" = 1 ]; then
  if command -v influxd >/dev/null; then log "influxd present"; else apt_install influxdb || log "influxdb not installed (optional)"; fi
fi

# TSBS generator. Candidates are tried in order; the first that installs wins.
TSBS_VERSIONS="${TSBS_VERSIONS:-latest}"
if [ -x "$BIN/tsbs_generate_data" ]; then
  log "tsbs_generate_data present"
elif command -v go >/dev/null; then
  ok=0
  for v in $TSBS_VERSIONS; do
    log "go install github.com/timescale/tsbs/cmd/tsbs_generate_data@$v"
    if GOBIN="$BIN" GOFLAGS=-buildvcs=false go install "github.com/timescale/tsbs/cmd/tsbs_generate_data@$v" >&2; then
      echo "$v" > "$BIN/tsbs_generate_data.version"; ok=1; break
    fi
  done
  [ "$ok" = 1 ] || log "tsbs_generate_data not available from the Go module proxy; the harness uses bench/tsbs/generate.ts"
else
  log "no Go toolchain; the harness uses bench/tsbs/generate.ts"
fi
exit 0
