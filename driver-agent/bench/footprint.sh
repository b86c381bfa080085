#!/usr/bin/env bash
# The agent's footprint: the stripped release binary's size and its resident memory while it
# publishes a simulated drive to a local Mosquitto, next to the same figures for mosquitto_sub (a
# minimal C MQTT client, Debian's mosquitto-clients) connected to the same broker in the same run.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release -q -p patty-driver
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$port" > "$work/m.conf"
mosquitto=$(command -v mosquitto || echo /usr/sbin/mosquitto)
"$mosquitto" -c "$work/m.conf" >/dev/null 2>&1 &
sleep 0.5
target/release/patty-driver --device footprint --broker "127.0.0.1:$port" --source simulate --tick-ms 50 \
  --interval 1 --buffer "$work/buffer.db" >/dev/null 2>&1 &
agent=$!
mosquitto_sub -h 127.0.0.1 -p "$port" -t 'patty/v1/devices/+/fix' >/dev/null &
sub=$!
sleep 10
rss() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }
size() { stat -c %s "$1"; }
printf '| | binary size | peak resident memory |\n| --- | --- | --- |\n'
printf '| baseline: mosquitto_sub | %s KiB | %s KiB |\n' $(( $(size "$(command -v mosquitto_sub)") / 1024 )) "$(rss $sub)"
printf '| patty-driver (publishing, buffering on disk) | %s KiB | %s KiB |\n' $(( $(size target/release/patty-driver) / 1024 )) "$(rss $agent)"
