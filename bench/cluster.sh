#!/usr/bin/env bash
# bench/cluster: examples/cluster-http against nginx and Node's cluster,
# driven by wrk on loopback.
#
#   bench/cluster.sh [BUILD_DIR]          (default: build)
#   env: DURATION=3 (s per wrk run) ROUNDS=3 CONNS=64 THREADS=2 WORKERS=2
#        WARMUP=1 (s of untimed wrk after each start of a Node server: JIT)
#        RELOAD_DURATION=2 RELOAD_ROUNDS=2 KILLS=4 (kill -9 per round)
#        (wrk takes whole seconds)
#        NO_NODE=1 NO_NGINX=1
#        PM2=/path/to/pm2: also count failed requests across `pm2 reload` of
#        bench/node/cluster-http.js run by PM2 in cluster mode (install it
#        with `npm install --prefix /tmp/pm2bench pm2`; PM2_HOME is a
#        temporary directory and the daemon is killed at the end);
#        PM2_RELOAD_DURATION=4 (s of wrk around each pm2 reload)
# The defaults take about three minutes.
#
# Servers, each with WORKERS workers on 127.0.0.1:
#   muster-rr, -shared, -reuseport, -leastconn
#                examples/cluster-http under each policy (MUSTER_SCHED_POLICY)
#   node-rr, node-none
#                bench/node/cluster-http.js (NODE_CLUSTER_SCHED_POLICY)
#   nginx        bench/nginx/nginx.conf.in: `return 200 "Hello\n"`, no log
# Figures, each the median over ROUNDS rounds (the order of the servers
# rotates from round to round, so that noise from the rest of the machine
# lands on all of them alike):
#   ka_rps       keep-alive requests/s (wrk -t THREADS -c CONNS -d DURATION)
#   ka_p99_ms    its 99th percentile latency
#   close_rps    a new connection per request (-H 'Connection: close')
#   close_p99_ms
#   ka_cpu_us, close_cpu_us
#                CPU time (user + system) of the server's processes (the
#                primary or master and its workers, from /proc) per request:
#                unlike requests/s it does not drop when the server waits for
#                a CPU that wrk or another build holds, so it is the steadier
#                figure on a busy machine
#   restart_ms   kill -9 of a worker to its replacement listening, from
#                the primary's time-stamped log (muster rr, node rr)
#   reload_failed  requests that failed (socket errors + non-2xx) across a
#                SIGHUP rolling reload, under keep-alive and under
#                connection-per-request load (muster, each policy)
# Targets (reported, never enforced): keep-alive >= 0.9x nginx under every
# policy; connection-per-request >= 0.9x nginx for shared and reuseport and
# >= 3x node-rr for rr and leastconn; restart <= 5 ms; 0 failed requests
# across a reload. The last line is one JSON object with every figure.
set -euo pipefail

build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
DURATION=${DURATION:-3}
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
WORKERS=${WORKERS:-2}
WARMUP=${WARMUP:-1}
RELOAD_DURATION=${RELOAD_DURATION:-2}
RELOAD_ROUNDS=${RELOAD_ROUNDS:-2}
KILLS=${KILLS:-4}
example=$build/examples/cluster-http
unset NODE_EXTRA_CA_CERTS

die() { echo "bench/cluster: $*" >&2; exit 1; }
[ -x "$example" ] || die "$example not built"
command -v wrk >/dev/null || die "wrk is not installed (apt-get install wrk)"

tmp=$(mktemp -d /tmp/bench-cluster.XXXXXX)
server_pid=
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [ -n "${PM2:-}" ] && [ -d "$tmp/pm2home" ]; then
    PM2_HOME=$tmp/pm2home "$PM2" kill >/dev/null 2>&1 || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'echo "bench/cluster: line $LINENO: status $?" >&2' ERR

variants="muster-rr muster-shared muster-reuseport muster-leastconn"
if [ -z "${NO_NODE:-}" ] && command -v node >/dev/null; then
  variants="$variants node-rr node-none"
  node_version=$(node --version)
else
  echo "# node not used: the Node figures are skipped"
  node_version=null
fi
nginx_bin=$(command -v nginx || { [ -x /usr/sbin/nginx ] && echo /usr/sbin/nginx; } || true)
if [ -z "${NO_NGINX:-}" ] && [ -n "$nginx_bin" ]; then
  variants="$variants nginx"
  nginx_version=$("$nginx_bin" -v 2>&1 | sed 's/.*nginx\///')
else
  echo "# nginx not installed: the nginx figures are skipped"
  nginx_bin=
  nginx_version=null
fi

# ---- servers ----------------------------------------------------------------

# A port below the ephemeral range (wrk's own connections take ports there)
# that no socket uses.
free_port() {
  local p
  while :; do
    p=$((10000 + RANDOM % 22000))
    if [ -z "$(ss -Htan "( sport = :$p )" 2>/dev/null)" ] &&
       ! (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then
      echo "$p"
      return
    fi
  done
}

# wait_for FILE TEXT COUNT: until FILE holds COUNT lines with TEXT (5 s).
wait_for() {
  local i
  for i in $(seq 1 500); do
    [ "$(grep -c -- "$2" "$1" 2>/dev/null || true)" -ge "$3" ] && return 0
    sleep 0.01
  done
  echo "bench/cluster: timed out waiting for \"$2\" in $1:" >&2
  cat "$1" >&2
  return 1
}

wait_port() {
  local i
  for i in $(seq 1 500); do
    (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0
    sleep 0.01
  done
  die "nothing listens on port $1"
}

# start VARIANT PORT LOG: starts the server in the background.
start_server() {
  local v=$1 port=$2 log=$3
  case $v in
  muster-*)
    MUSTER_SCHED_POLICY=${v#muster-} WORKERS=$WORKERS HOST=127.0.0.1 \
      MUSTER_LOG_TIME=1 "$example" "$port" >"$log" 2>&1 &
    server_pid=$!
    wait_for "$log" "serving http://" 1
    ;;
  node-*)
    NODE_CLUSTER_SCHED_POLICY=${v#node-} WORKERS=$WORKERS \
      node "$here/node/cluster-http.js" "$port" >"$log" 2>&1 &
    server_pid=$!
    wait_for "$log" "listening on" "$WORKERS"
    ;;
  nginx)
    mkdir -p "$tmp/nginx"
    sed "s#@DIR@#$tmp/nginx#g; s#@PORT@#$port#g" \
      "$here/nginx/nginx.conf.in" >"$tmp/nginx/nginx.conf"
    "$nginx_bin" -c "$tmp/nginx/nginx.conf" -p "$tmp/nginx" \
      -e "$tmp/nginx/error.log" >"$log" 2>&1 &
    server_pid=$!
    wait_port "$port"
    ;;
  esac
}

stop_server() {
  local v=$1
  case $v in
  nginx) kill -QUIT "$server_pid" ;;
  *) kill -TERM "$server_pid" ;;
  esac
  wait "$server_pid" || echo "# $v exited with status $?" >&2
  server_pid=
}

# ---- wrk ----------------------------------------------------------------------

# run_wrk OUT PORT SECONDS [wrk args...]: wrk's report into OUT.
run_wrk() {
  local out=$1 port=$2 secs=$3
  shift 3
  if ! wrk -t"$THREADS" -c"$CONNS" -d"${secs}s" --latency "$@" \
    "http://127.0.0.1:$port/" >"$out" 2>&1; then
    echo "# wrk failed against port $port:" >&2
    cat "$out" >&2
  fi
}

rps_of() { awk '/^Requests\/sec:/ {print $2}' "$1"; }
# The 99% line, in milliseconds.
p99_of() {
  awk '$1 == "99%" {
    v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v)
    if (u == "us") v /= 1000; else if (u == "s") v *= 1000; else if (u == "m") v *= 60000
    printf "%.3f\n", v }' "$1"
}
# Socket errors plus non-2xx/3xx answers.
failed_of() {
  awk '/Socket errors:/ { gsub(/,/, ""); n += $4 + $6 + $8 + $10 }
       /Non-2xx or 3xx responses:/ { n += $5 }
       END { print n + 0 }' "$1"
}
requests_of() { awk '/requests in/ {print $1}' "$1"; }

# CPU clock ticks (user + system) used so far by process $1 and its
# children: the server's primary (or master) and its workers.
cpu_ticks() {
  local t=0 p line
  for p in "$1" $(pgrep -P "$1" || true); do
    line=$(cat "/proc/$p/stat" 2>/dev/null) || continue
    # After the ")" closing the name (which may hold spaces): state is the
    # 1st field, utime the 12th, stime the 13th.
    set -- ${line##*) }
    t=$((t + ${12} + ${13}))
  done
  echo "$t"
}
tck=$(getconf CLK_TCK)
# us_per_req TICKS WRK_OUTPUT
us_per_req() {
  awk -v t="$1" -v hz="$tck" -v n="$(requests_of "$2")" \
    'BEGIN { printf "%.2f\n", (n > 0) ? t * 1e6 / hz / n : 0 }'
}

# ---- statistics -----------------------------------------------------------------

# median of the numbers given as arguments
median() {
  printf '%s\n' "$@" | sort -g | awk '{a[NR] = $1}
    END { if (NR == 0) print "null"; else if (NR % 2) print a[(NR + 1) / 2];
          else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
fmt() { awk -v x="$1" -v d="$2" 'BEGIN { if (x == "null") print "-"; else printf "%.*f\n", d, x }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "null" || b == "null" || b == 0) print "null"; else printf "%.2f\n", a / b }'; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN { print (a != "null" && b != "null" && a >= b) ? "true" : "false" }'; }

declare -A KA CLOSE KAP99 CLOSEP99 KACPU CLOSECPU
add() { # add ARRAY KEY VALUE: appends to a space-separated list
  local -n arr=$1
  arr[$2]="${arr[$2]:-} $3"
}

# ---- throughput ------------------------------------------------------------------

echo "# bench/cluster: wrk -t$THREADS -c$CONNS, ${DURATION}s per run, $ROUNDS rounds, $WORKERS workers per server"
echo "# machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'); Linux $(uname -r); load average $(cut -d' ' -f1 /proc/loadavg) before"
load_before=$(cut -d' ' -f1 /proc/loadavg)
read -r -a vlist <<<"$variants"
nv=${#vlist[@]}
for ((r = 0; r < ROUNDS; r++)); do
  line="# round $((r + 1)):"
  for ((k = 0; k < nv; k++)); do
    v=${vlist[$(((k + r) % nv))]}
    port=$(free_port)
    start_server "$v" "$port" "$tmp/$v.log"
    [[ $v != node-* ]] || run_wrk "$tmp/warmup.txt" "$port" "$WARMUP"
    c0=$(cpu_ticks "$server_pid")
    run_wrk "$tmp/ka.txt" "$port" "$DURATION"
    c1=$(cpu_ticks "$server_pid")
    run_wrk "$tmp/close.txt" "$port" "$DURATION" -H "Connection: close"
    c2=$(cpu_ticks "$server_pid")
    stop_server "$v"
    add KACPU "$v" "$(us_per_req $((c1 - c0)) "$tmp/ka.txt")"
    add CLOSECPU "$v" "$(us_per_req $((c2 - c1)) "$tmp/close.txt")"
    for f in ka close; do
      n=$(failed_of "$tmp/$f.txt")
      [ "$n" = 0 ] || echo "# $v ($f): $n failed requests" >&2
    done
    add KA "$v" "$(rps_of "$tmp/ka.txt")"
    add KAP99 "$v" "$(p99_of "$tmp/ka.txt")"
    add CLOSE "$v" "$(rps_of "$tmp/close.txt")"
    add CLOSEP99 "$v" "$(p99_of "$tmp/close.txt")"
    line="$line $v $(rps_of "$tmp/ka.txt" | cut -d. -f1)/$(rps_of "$tmp/close.txt" | cut -d. -f1)"
  done
  echo "$line (keep-alive/close req/s)"
done

# ---- restart: kill -9 of a worker to its replacement listening ------------------

# restart_round VARIANT: KILLS kills, one worker at a time; prints the
# latencies in ms.
restart_round() {
  local v=$1 port log pid t0 n t1 i
  port=$(free_port)
  log=$tmp/restart-$v.log
  start_server "$v" "$port" "$log"
  for ((i = 0; i < KILLS; i++)); do
    n=$(grep -c "listening on" "$log")
    # The oldest worker still listening: the first whose pid is alive.
    for pid in $(grep "listening on" "$log" | sed 's/.*(pid \([0-9]*\)).*/\1/'); do
      kill -0 "$pid" 2>/dev/null && break
    done
    t0=$EPOCHREALTIME
    kill -9 "$pid"
    wait_for "$log" "listening on" $((n + 1)) >/dev/null
    t1=$(grep "listening on" "$log" | tail -1 | cut -d' ' -f1)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f\n", (b - a) * 1000 }'
    # A worker up a second is "stable": the next restart waits the base
    # backoff again (muster), as a fresh crash would.
    sleep 0.6
  done
  stop_server "$v"
}

declare -A RESTART
restart_variants="muster-rr"
case " $variants " in *" node-rr "*) restart_variants="$restart_variants node-rr" ;; esac
for ((r = 0; r < ROUNDS; r++)); do
  for v in $restart_variants; do
    for x in $(restart_round "$v"); do add RESTART "$v" "$x"; done
  done
done
for v in $restart_variants; do
  echo "# restart $v (ms): ${RESTART[$v]}"
done

# ---- reload: failed requests across SIGHUP ------------------------------------------

declare -A RELOAD
reload_run() { # reload_run POLICY MODE(ka|close): prints failed requests
  local v=muster-$1 port log extra=()
  [ "$2" = close ] && extra=(-H "Connection: close")
  port=$(free_port)
  log=$tmp/reload-$v.log
  start_server "$v" "$port" "$log"
  run_wrk "$tmp/reload.txt" "$port" "$RELOAD_DURATION" "${extra[@]}" &
  local wrk_pid=$!
  sleep "$(awk -v d="$RELOAD_DURATION" 'BEGIN { print d / 3 }')"
  kill -HUP "$server_pid"
  wait "$wrk_pid"
  if ! grep -q "reload done" "$log"; then
    echo "# $v: the reload did not finish during the run:" >&2
    cat "$log" >&2
  fi
  stop_server "$v"
  echo "$(failed_of "$tmp/reload.txt") $(requests_of "$tmp/reload.txt")"
}
for ((r = 0; r < RELOAD_ROUNDS; r++)); do
  for p in rr shared reuseport leastconn; do
    for m in ka close; do
      read -r f n < <(reload_run "$p" "$m")
      add RELOAD "$p-$m" "$f"
      [ "$f" = 0 ] || echo "# reload $p ($m): $f of $n requests failed" >&2
    done
  done
done

# ---- PM2: failed requests across `pm2 reload` (optional) ----------------------

PM2_RELOAD_DURATION=${PM2_RELOAD_DURATION:-4}
pm2_version=null
if [ -n "${PM2:-}" ]; then
  [ -x "$PM2" ] || die "PM2=$PM2 is not executable"
  export PM2_HOME=$tmp/pm2home
  pm2_version=\"$("$PM2" --version 2>/dev/null | tail -1)\"
  pm2_run() { # pm2_run MODE: prints failed requests and requests
    local port extra=()
    [ "$1" = close ] && extra=(-H "Connection: close")
    port=$(free_port)
    "$PM2" start "$here/node/cluster-http.js" -i "$WORKERS" --name bench \
      -- "$port" >"$tmp/pm2.log" 2>&1
    wait_port "$port"
    sleep 0.5
    run_wrk "$tmp/pm2-reload.txt" "$port" "$PM2_RELOAD_DURATION" "${extra[@]}" &
    local wrk_pid=$!
    sleep 1
    "$PM2" reload bench >>"$tmp/pm2.log" 2>&1
    wait "$wrk_pid"
    "$PM2" delete bench >>"$tmp/pm2.log" 2>&1
    echo "$(failed_of "$tmp/pm2-reload.txt") $(requests_of "$tmp/pm2-reload.txt")"
  }
  for ((r = 0; r < RELOAD_ROUNDS; r++)); do
    for m in ka close; do
      read -r f n < <(pm2_run "$m")
      add RELOAD "pm2-$m" "$f"
      echo "# pm2 reload ($m): $f of $n requests failed"
    done
  done
  "$PM2" kill >/dev/null 2>&1 || true
fi
load_after=$(cut -d' ' -f1 /proc/loadavg)

# ---- report ---------------------------------------------------------------------------

# shellcheck disable=SC2086
med() { median ${1}; }
nginx_ka=null nginx_close=null node_ka=null node_close=null
nginx_ka_cpu=null nginx_close_cpu=null
case " $variants " in *" nginx "*)
  nginx_ka=$(med "${KA[nginx]}") nginx_close=$(med "${CLOSE[nginx]}")
  nginx_ka_cpu=$(med "${KACPU[nginx]}") nginx_close_cpu=$(med "${CLOSECPU[nginx]}") ;;
esac
case " $variants " in *" node-rr "*) node_ka=$(med "${KA[node-rr]}"); node_close=$(med "${CLOSE[node-rr]}") ;; esac

echo
printf '%-17s %8s %6s %6s %6s %6s %6s | %8s %6s %6s %6s %6s %6s | %s\n' server \
  "ka r/s" "p99ms" "xngx" "xnode" "cpuus" "xngx" "close/s" "p99ms" "xngx" "xnode" \
  "cpuus" "xngx" "reload fails ka/close"
json_servers=
for v in "${vlist[@]}"; do
  ka=$(med "${KA[$v]}") cl=$(med "${CLOSE[$v]}")
  kp=$(med "${KAP99[$v]}") cp=$(med "${CLOSEP99[$v]}")
  ku=$(med "${KACPU[$v]}") cu=$(med "${CLOSECPU[$v]}")
  rk=- rc=-
  if [[ $v == muster-* ]]; then
    rk=$(med "${RELOAD[${v#muster-}-ka]:-}") rc=$(med "${RELOAD[${v#muster-}-close]:-}")
    rk_all=$(echo ${RELOAD[${v#muster-}-ka]:-} | tr ' ' ',')
    rc_all=$(echo ${RELOAD[${v#muster-}-close]:-} | tr ' ' ',')
  fi
  printf '%-17s %8s %6s %6s %6s %6s %6s | %8s %6s %6s %6s %6s %6s | %s/%s\n' \
    "$v" "$(fmt "$ka" 0)" "$(fmt "$kp" 2)" "$(ratio "$ka" "$nginx_ka")" \
    "$(ratio "$ka" "$node_ka")" "$(fmt "$ku" 2)" "$(ratio "$ku" "$nginx_ka_cpu")" \
    "$(fmt "$cl" 0)" "$(fmt "$cp" 2)" "$(ratio "$cl" "$nginx_close")" \
    "$(ratio "$cl" "$node_close")" "$(fmt "$cu" 1)" \
    "$(ratio "$cu" "$nginx_close_cpu")" "$rk" "$rc"
  entry="\"ka_rps\":$ka,\"ka_p99_ms\":$kp,\"ka_cpu_us\":$ku,\"close_rps\":$cl,\"close_p99_ms\":$cp,\"close_cpu_us\":$cu"
  entry="$entry,\"ka_x_nginx\":$(ratio "$ka" "$nginx_ka"),\"close_x_nginx\":$(ratio "$cl" "$nginx_close")"
  entry="$entry,\"ka_x_node_rr\":$(ratio "$ka" "$node_ka"),\"close_x_node_rr\":$(ratio "$cl" "$node_close")"
  if [[ $v == muster-* ]]; then
    entry="$entry,\"reload_failed_ka\":[$rk_all],\"reload_failed_close\":[$rc_all]"
  fi
  json_servers="$json_servers${json_servers:+,}\"$v\":{$entry}"
done
echo "(medians over $ROUNDS rounds; xngx, xnode: ratio to nginx and to node-rr;"
echo " cpuus: CPU microseconds of the server's processes per request)"
echo " reload fails: median over $RELOAD_ROUNDS reloads of the requests that failed"
echo " across one SIGHUP reload, under keep-alive / connection-per-request load)"

json_restart=
for v in $restart_variants; do
  m=$(med "${RESTART[$v]}")
  echo "restart after kill -9, $v: median $m ms (all: ${RESTART[$v]# })"
  json_restart="$json_restart${json_restart:+,}\"$v\":$m"
done

# Targets.
targets=
verdict() { # verdict NAME BOOL TEXT
  echo "target $1: $3 -> $([ "$2" = true ] && echo met || echo MISSED)"
  targets="$targets${targets:+,}\"$1\":$2"
}
if [ "$nginx_ka" != null ]; then
  for p in rr shared reuseport leastconn; do
    ka=$(med "${KA[muster-$p]}")
    verdict "ka_$p" "$(ge "$(ratio "$ka" "$nginx_ka")" 0.9)" \
      "keep-alive $p $(ratio "$ka" "$nginx_ka")x nginx (>= 0.9x)"
  done
  for p in shared reuseport; do
    cl=$(med "${CLOSE[muster-$p]}")
    verdict "close_$p" "$(ge "$(ratio "$cl" "$nginx_close")" 0.9)" \
      "connection-per-request $p $(ratio "$cl" "$nginx_close")x nginx (>= 0.9x)"
  done
fi
if [ "$node_close" != null ]; then
  for p in rr leastconn; do
    cl=$(med "${CLOSE[muster-$p]}")
    verdict "close_$p" "$(ge "$(ratio "$cl" "$node_close")" 3)" \
      "connection-per-request $p $(ratio "$cl" "$node_close")x node-rr (>= 3x)"
  done
fi
rm_med=$(med "${RESTART[muster-rr]}")
verdict restart "$(awk -v m="$rm_med" 'BEGIN { print (m <= 5) ? "true" : "false" }')" \
  "restart $rm_med ms (<= 5 ms)"
total_fail=0
for k in "${!RELOAD[@]}"; do
  [[ $k == pm2-* ]] && continue
  for x in ${RELOAD[$k]:-}; do total_fail=$((total_fail + x)); done
done
verdict reload "$([ "$total_fail" = 0 ] && echo true || echo false)" \
  "$total_fail failed requests over all $((RELOAD_ROUNDS * 8)) reloads (0)"
if [ "$pm2_version" != null ]; then
  echo "pm2 $pm2_version reload of node cluster-http.js (-i $WORKERS), failed requests: keep-alive ${RELOAD[pm2-ka]# }; connection-per-request ${RELOAD[pm2-close]# }"
  json_pm2=",\"pm2\":{\"version\":$pm2_version,\"reload_failed_ka\":[$(echo ${RELOAD[pm2-ka]} | tr ' ' ',')],\"reload_failed_close\":[$(echo ${RELOAD[pm2-close]} | tr ' ' ',')]}"
else
  echo "(PM2 not measured: set PM2=/path/to/pm2)"
  json_pm2=
fi
echo "# load average (1 min) $load_before before, $load_after after"

printf '{"bench":"cluster","duration_s":%s,"rounds":%s,"conns":%s,"threads":%s,"workers":%s,"cpus":%s,"load_before":%s,"load_after":%s,"node":%s,"nginx":%s,"servers":{%s},"restart_ms":{%s}%s,"targets":{%s}}\n' \
  "$DURATION" "$ROUNDS" "$CONNS" "$THREADS" "$WORKERS" "$(nproc)" "$load_before" "$load_after" \
  "$([ "$node_version" = null ] && echo null || echo "\"$node_version\"")" \
  "$([ "$nginx_version" = null ] && echo null || echo "\"$nginx_version\"")" \
  "$json_servers" "$json_restart" "$json_pm2" "$targets"
