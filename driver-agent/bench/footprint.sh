#!/usr/bin/env bash
# The agent's footprint: the stripped binary's size (the `agent` profile, as shipped) and its
# resident memory while it publishes a simulated drive to a local Mosquitto, plainly and over TLS
# with a client certificate, next to the same figures for mosquitto_sub (a minimal C MQTT client,
# Debian's mosquitto-clients) connected to the same broker in the same run.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --profile agent -q -p patty-driver
bin=target/agent/patty-driver
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
tls_port=$(free_port)
# A test CA, the broker's certificate for 127.0.0.1 and the device's.
cd "$work"
ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
openssl req -x509 "${ec[@]}" -keyout ca.key -out ca.pem -days 1 -subj /CN=footprint-ca 2>/dev/null
for who in broker:127.0.0.1:serverAuth device:footprint:clientAuth; do
  IFS=: read -r name cn usage <<<"$who"
  san=""; [ "$name" = broker ] && san="subjectAltName=IP:127.0.0.1"
  printf '%s\nextendedKeyUsage=%s\n' "$san" "$usage" > "$name.ext"
  openssl req "${ec[@]}" -keyout "$name.key" -out "$name.csr" -subj "/CN=$cn" 2>/dev/null
  openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -out "$name.pem" -days 1 \
    -extfile "$name.ext" 2>/dev/null
done
chmod 755 "$work"; chmod 644 "$work"/*
cd - >/dev/null
printf 'persistence false\nallow_anonymous true\nlistener %s 127.0.0.1\nlistener %s 127.0.0.1\ncafile %s\ncertfile %s\nkeyfile %s\nrequire_certificate true\n' \
  "$port" "$tls_port" "$work/ca.pem" "$work/broker.pem" "$work/broker.key" > "$work/m.conf"
mosquitto=$(command -v mosquitto || echo /usr/sbin/mosquitto)
"$mosquitto" -c "$work/m.conf" >/dev/null 2>&1 &
sleep 0.5
drive=(--source simulate --tick-ms 50 --interval 1)
"$bin" --device footprint --broker "127.0.0.1:$port" "${drive[@]}" --buffer "$work/plain.db" >/dev/null 2>&1 &
agent=$!
"$bin" --device footprint-tls --broker "127.0.0.1:$tls_port" "${drive[@]}" --buffer "$work/tls.db" \
  --tls-ca "$work/ca.pem" --tls-cert "$work/device.pem" --tls-key "$work/device.key" >/dev/null 2>&1 &
tls_agent=$!
mosquitto_sub -h 127.0.0.1 -p "$port" -t 'patty/v1/devices/+/fix' -F %t >"$work/plain.seen" &
sub=$!
mosquitto_sub -h 127.0.0.1 -p "$tls_port" --cafile "$work/ca.pem" --cert "$work/device.pem" --key "$work/device.key" \
  -t 'patty/v1/devices/+/fix' -F %t >"$work/tls.seen" &
tls_sub=$!
sleep 10
rss() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }
size() { stat -c %s "$1"; }
printf '| | binary size | peak resident memory, plain | peak resident memory, TLS |\n| --- | --- | --- | --- |\n'
printf '| baseline: mosquitto_sub | %s KiB | %s KiB | %s KiB |\n' $(( $(size "$(command -v mosquitto_sub)") / 1024 )) \
  "$(rss $sub)" "$(rss $tls_sub)"
printf '| patty-driver | %s KiB | %s KiB | %s KiB |\n' $(( $(size "$bin") / 1024 )) "$(rss $agent)" "$(rss $tls_agent)"
printf '\nFixes seen by the subscribers in 10 s: %s plain, %s over TLS.\n' "$(wc -l <"$work/plain.seen")" "$(wc -l <"$work/tls.seen")"
