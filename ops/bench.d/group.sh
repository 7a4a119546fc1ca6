# ops/bench.d/group.sh: `ops/bench --group` (issue 5), sourced by ops/bench
# after its helpers (die, say, free_port, wrk_run, record, prepare_node,
# metric) and the build; uses $tb, $work, $pids, $results, $duration,
# $reps, $lua, $cmdline.
#
# A 3-voter tongban group of 370102 (member certificates under a province
# root, two nodes made with `tongban init --join` and the first one's index
# key, grown with `tongban group add`, as tests/node_group.t does) and a
# 3-member etcd 3.4 cluster (--initial-cluster), all on 127.0.0.1 with
# free ports, default settings (fsync on). Then:
#   1. writes at each one's LEADER with wrk, 1, 16 and 64 connections
#      (tongban's at a follower with --at-follower: the first member that
#      does not lead, which forwards them),
#      interleaved (rep 1: tongban and etcd at 1, 16, 64; rep 2 ...): the
#      POST /v1/cases of the single-node rows, etcd's /v3/kv/put with a new
#      key and a 256-byte value;
#   2. RssAnon and VmRSS of every member after the load;
#   3. leader change, $reps rounds each: kill -9 the leader, time until a
#      write is acknowledged at a survivor (tongban: POST /v1/tokens;
#      etcd: a put through the gateway; curl -m 1, tried at the survivors in
#      turn), then restart the victim and wait until it has caught up.

g_conns=${TB_GROUP_CONNS:-"1 16 64"}  # e.g. TB_GROUP_CONNS=64 for a quick A/B
# TB_GROUP_HOOK: a command eval'd 1 s into each tongban load (in the
# background; the run waits for it), with $LPID the leader's pid, $WPID the
# pid of the member written to and $FPID a follower that takes no writes,
# e.g. TB_GROUP_HOOK='perf record -F 1000 -g -p $FPID -o /tmp/f.data -- sleep 3'

# ---- tongban: PKI, members ------------------------------------------------
g_pki() {
  local r
  "$tb" init --dir "$work/P" --region 370000 --api 127.0.0.1:0 >/dev/null || return 1
  for r in 370000 370100 370102; do
    "$tb" keygen --out "$work/r$r.key" >/dev/null || return 1
  done
  "$tb" cert request --region-key "$work/r370000.key" --region 370000 \
    --out "$work/q0.json" >/dev/null &&
    "$tb" cert issue --key "$work/P/keys/officer.json" --root "$work/P/root.json" \
      --request "$work/q0.json" --days 30 --out "$work/c0.json" >/dev/null &&
    "$tb" cert request --region-key "$work/r370100.key" --region 370100 \
      --out "$work/q1.json" >/dev/null &&
    "$tb" cert issue --key "$work/r370000.key" --issuer-cert "$work/c0.json" \
      --request "$work/q1.json" --days 30 --out "$work/c1.json" >/dev/null &&
    "$tb" cert request --region-key "$work/r370102.key" --region 370102 \
      --out "$work/q2.json" >/dev/null &&
    "$tb" cert issue --key "$work/r370100.key" --issuer-cert "$work/c1.json" \
      --request "$work/q2.json" --days 30 --out "$work/c2.json" >/dev/null
}

# g_init NAME [init args]: a member of 370102 with a member certificate;
# sets LINK_NAME, ID_NAME (and g_token for the first one).
g_init() {
  local name=$1 out lport
  shift
  lport=$(free_port)
  out=$("$tb" init --dir "$work/$name" --region 370102 --api 127.0.0.1:0 \
    --link "127.0.0.1:$lport" --root "$work/P/root.json" --json "$@") ||
    die "tongban init of member $name failed"
  printf -v "LINK_$name" '%s' "127.0.0.1:$lport"
  printf -v "ID_$name" '%s' "$(printf '%s' "$out" |
    sed -n 's/.*"node_id":"\([^"]*\)".*/\1/p')"
  [ $# -gt 0 ] || g_token=$(printf '%s' "$out" |
    sed -n 's/.*"admin_token":"\([^"]*\)".*/\1/p')
  "$tb" cert request --dir "$work/$name" --out "$work/$name.req" >/dev/null &&
    "$tb" cert issue --key "$work/r370102.key" --issuer-cert "$work/c2.json" \
      --request "$work/$name.req" --days 30 --role member \
      --out "$work/$name.cert" >/dev/null &&
    "$tb" cert install --dir "$work/$name" "$work/$name.cert" "$work/c2.json" \
      "$work/c1.json" "$work/c0.json" >/dev/null ||
    die "member certificate for $name failed"
}

# g_run NAME: runs member NAME (again); sets PID_NAME and PORT_NAME once it
# printed its API address (30 s at most).
g_run() {
  local name=$1 i port=""
  "$tb" run --dir "$work/$name" >"$work/$name.out" 2>>"$work/$name.log" </dev/null &
  pids+=("$!")
  printf -v "PID_$name" '%s' "$!"
  disown "$!" # no "Killed" line from bash when the leader change kills it
  for i in $(seq 600); do
    port=$(sed -n 's/.*"api":"http:\/\/[^:]*:\([0-9]*\)".*/\1/p' "$work/$name.out")
    [ -n "$port" ] && break
    sleep 0.05
  done
  [ -n "$port" ] || { tail -n 20 "$work/$name.log" >&2; die "member $name printed no API address"; }
  printf -v "PORT_$name" '%s' "$port"
}

# g_wait SECONDS CMD...: CMD until it succeeds, at most SECONDS.
g_wait() {
  local n=$(($1 * 10)) i
  shift
  for ((i = 0; i < n; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  return 1
}
g_ready() { local p="PORT_$1"; curl -sf -m 2 "http://127.0.0.1:${!p}/readyz"; }
# g_st NAME EXPR: EXPR over NAME's GET /v1/status as d.
g_st() {
  local p="PORT_$1"
  curl -sf -m 5 -H "Authorization: Bearer $g_token" \
    "http://127.0.0.1:${!p}/v1/status" |
    python3 -c "import json,sys; d=json.load(sys.stdin); print($2)"
}
# g_tb_leader: the name of the member that is leader, or fails.
g_tb_leader() {
  local n
  for n in A B C; do
    [ "$(g_st "$n" 'd["raft"]["role"]' 2>/dev/null)" = leader ] && { echo "$n"; return 0; }
  done
  return 1
}
# g_add NAME: group add NAME as a voter at A (promote it if libraft could
# not catch it up in time, twice at most).
g_add() {
  local id="ID_$1" link="LINK_$1" i
  "$tb" --api "http://127.0.0.1:$PORT_A" --token "$g_token" group add \
    "${!id}" "${!link}" >/dev/null 2>"$work/add.err" && return 0
  for i in 1 2; do
    grep -q "did not catch up" "$work/add.err" || break
    "$tb" --api "http://127.0.0.1:$PORT_A" --token "$g_token" group promote \
      "${!id}" >/dev/null 2>"$work/add.err" && return 0
  done
  cat "$work/add.err" >&2
  die "group add $1 failed"
}

g_tb_group() {
  say "tongban: a province root, region keys, three members of 370102"
  g_pki || die "the PKI for the group failed"
  g_init A
  "$tb" index-key export --dir "$work/A" --out "$work/akey.json" >/dev/null ||
    die "tongban index-key export failed"
  g_init B --join "$LINK_A" --index-key-from "$work/akey.json"
  g_init C --join "$LINK_A" --index-key-from "$work/akey.json"
  g_run A
  g_wait 30 g_ready A || die "member A did not become ready"
  g_run B
  g_run C
  g_add B
  g_wait 30 g_ready B || die "member B did not become ready"
  g_add C
  g_wait 30 g_ready C || die "member C did not become ready"
  [ "$(g_st A 'sum(m["role"] == "voter" for m in d["group"]["members"])')" = 3 ] ||
    die "the group does not have three voters"
  # prepare_node's conventions: catalog, materials (node-local blobs: at
  # A, the leader that takes the load) and the case body
  NODE_PORT=$PORT_A NODE_TOKEN=$g_token NODE_DIR=$work/A
  # a node under a province root takes only releases its release key signed
  cp ops/examples/catalog-370000.json "$work/release.json"
  "$tb" sign --key "$work/P/keys/node.json" "$work/release.json" >/dev/null ||
    die "tongban sign of the catalog failed"
  catalog=$work/release.json
  prepare_node
}

# ---- etcd: a 3-member cluster ---------------------------------------------
g_etcd_cluster() {
  local n init=""
  for n in e1 e2 e3; do
    printf -v "EC_$n" '%s' "$(free_port)"
    printf -v "EP_$n" '%s' "$(free_port)"
    local pp="EP_$n"
    init="${init:+$init,}$n=http://127.0.0.1:${!pp}"
  done
  g_etcd_init=$init
  say "etcd: a 3-member cluster ($init)"
  for n in e1 e2 e3; do g_etcd_run "$n"; done
  for n in e1 e2 e3; do
    g_wait 60 g_etcd_put "$n" || { tail -n 20 "$work/$n.log" >&2; die "etcd $n does not take puts"; }
  done
}
# g_etcd_run NAME: (re)starts member NAME; on a restart its data dir holds
# the cluster and the --initial-* flags are ignored.
g_etcd_run() {
  local n=$1 cp="EC_$1" pp="EP_$1"
  etcd --name "$n" --data-dir "$work/$n" \
    --listen-client-urls "http://127.0.0.1:${!cp}" \
    --advertise-client-urls "http://127.0.0.1:${!cp}" \
    --listen-peer-urls "http://127.0.0.1:${!pp}" \
    --initial-advertise-peer-urls "http://127.0.0.1:${!pp}" \
    --initial-cluster "$g_etcd_init" --initial-cluster-state new \
    --initial-cluster-token tongban-bench \
    --logger zap --log-level warn >>"$work/$n.log" 2>&1 </dev/null &
  pids+=("$!")
  printf -v "PID_$n" '%s' "$!"
  disown "$!"
}
# g_etcd_put NAME: one put through NAME's gateway, 1 s at most.
g_etcd_put() {
  local cp="EC_$1" code
  code=$(curl -s -m 1 -o "$work/put.out" -w '%{http_code}' -X POST \
    "http://127.0.0.1:${!cp}/v3/kv/put" -d '{"key":"cHJvYmU=","value":"cHJvYmU="}')
  [ "$code" = 200 ] && grep -q '"header"' "$work/put.out"
}
# g_etcd_leader: the name of the member that is leader, or fails.
g_etcd_leader() {
  local n cp
  for n in e1 e2 e3; do
    cp="EC_$n"
    curl -sf -m 2 -X POST -d '{}' "http://127.0.0.1:${!cp}/v3/maintenance/status" |
      python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(d["header"]["member_id"] != d.get("leader"))' \
      2>/dev/null && { echo "$n"; return 0; }
  done
  return 1
}

# ---- leader change -------------------------------------------------------
g_tb_write() { # NAME: one write at NAME, 1 s at most
  local p="PORT_$1"
  [ "$(curl -s -m 1 -o /dev/null -w '%{http_code}' -X POST \
    -H "Authorization: Bearer $g_token" -d '{"role":"clerk","region":"370102"}' \
    "http://127.0.0.1:${!p}/v1/tokens")" = 201 ]
}
g_now() { date +%s%3N; }
# g_failover KIND ROUND: kill -9 the leader, time until a survivor
# acknowledges a write (60 s at most), restart the victim, wait for it.
g_failover() {
  local kind=$1 round=$2 leader="" members write find t0 t1="" n pid i surv=()
  local commit
  if [ "$kind" = tongban ]; then
    members="A B C" write=g_tb_write find=g_tb_leader
  else
    members="e1 e2 e3" write=g_etcd_put find=g_etcd_leader
  fi
  for ((i = 0; i < 300; i++)); do
    leader=$("$find") && break
    sleep 0.1
  done
  [ -n "$leader" ] || die "$kind: no leader within 30 s before round $round"
  for n in $members; do [ "$n" = "$leader" ] || surv+=("$n"); done
  pid="PID_$leader"
  say "leader change $round/$reps: kill -9 $kind leader $leader"
  kill -9 "${!pid}"
  t0=$(g_now)
  # bounded by time: a refusal (no leader yet) comes back at once
  for ((i = 0; $(g_now) - t0 < 60000; i++)); do
    n=${surv[$((i % 2))]}
    if "$write" "$n"; then t1=$(g_now); break; fi
    sleep 0.02
  done
  if [ -n "$t1" ]; then
    record "leader-change-$kind" 3 "$round" $((t1 - t0)) 0 0 0 "killed=$leader acked_at=$n"
  else
    echo "ops/bench: $kind: no write acknowledged within 60 s of killing leader $leader" >&2
    record "leader-change-$kind" 3 "$round" -1 0 0 1 "killed=$leader acked_at=none"
  fi
  # the victim back, caught up, before the next round
  if [ "$kind" = tongban ]; then
    g_run "$leader"
    g_wait 60 g_ready "$leader" || die "tongban: $leader did not come back"
    commit=$(g_st "${surv[0]}" 'd["group"]["commit"]')
    g_tb_caught() { [ "$(g_st "$1" 'd["raft"]["applied"]')" -ge "$2" ]; }
    g_wait 60 g_tb_caught "$leader" "$commit" || die "tongban: $leader did not catch up"
  else
    g_etcd_run "$leader"
    g_wait 60 g_etcd_put "$leader" || die "etcd: $leader did not come back"
  fi
}

# g_cpu NAME...: user+system CPU of those members, clock ticks, summed.
g_cpu() {
  local n p t=0
  for n in "$@"; do p="PID_$n"; t=$((t + $(cpu_ticks "${!p}"))); done
  echo "$t"
}

# ---- run -------------------------------------------------------------------
say "work directory $work; --group: $reps reps of ${duration}s at $g_conns connections"
g_tb_group
g_etcd_cluster
for rep in $(seq "$reps"); do
  for c in $g_conns; do
    l=$(g_tb_leader) || die "tongban: no leader"
    if [ "$at_follower" = 1 ]; then
      for n in A B C; do [ "$n" = "$l" ] || { l=$n; break; }; done
      say "rep $rep/$reps: tongban group (at follower $l), $c connection(s)"
    else
      say "rep $rep/$reps: tongban group (leader $l), $c connection(s)"
    fi
    p="PORT_$l" pp="PID_$l"
    k0=$(g_cpu A B C)
    hp=""
    if [ -n "${TB_GROUP_HOOK:-}" ]; then
      lead=$(g_tb_leader) || die "tongban: no leader"
      for n in A B C; do [ "$n" = "$lead" ] || [ "$n" = "$l" ] || fol=$n; done
      lp="PID_$lead" fp="PID_$fol"
      (LPID=${!lp} WPID=${!pp} FPID=${!fp}; sleep 1; eval "$TB_GROUP_HOOK") &
      hp=$!
    fi
    run_tongban tongban-group "${!p}" "$g_token" "$work/A" "$c" "$rep" "${!pp}"
    [ -z "$hp" ] || wait "$hp" || true # the hook's status is not the run's
    record cpu-tongban "$c" "$rep" $(($(g_cpu A B C) - k0)) 0 0 0 "writes=$((REQ - ERR_STATUS))"
    l=$(g_etcd_leader) || die "etcd: no leader"
    say "rep $rep/$reps: etcd cluster (leader $l), $c connection(s)"
    p="EC_$l" pp="PID_$l"
    k0=$(g_cpu e1 e2 e3) l0=$(cpu_ticks "${!pp}")
    wrk_run "$c" "$duration" "http://127.0.0.1:${!p}" etcd BENCH_RUN="g$rep-$c"
    record etcd-cluster "$c" "$rep" "$OPS" "$P50" "$P99" $((ERR_STATUS + ERR_SOCK)) \
      "leader=$l cpu_ticks=$(($(cpu_ticks "${!pp}") - l0)) writes=$((REQ - ERR_STATUS))"
    record cpu-etcd "$c" "$rep" $(($(g_cpu e1 e2 e3) - k0)) 0 0 0 "writes=$((REQ - ERR_STATUS))"
  done
done
# memory after the load, every member
rss=""
for n in A B C e1 e2 e3; do
  pp="PID_$n"
  rss="$rss $n=$(awk '/^RssAnon/ { print $2 }' "/proc/${!pp}/status"),$(awk '/^VmRSS/ { print $2 }' "/proc/${!pp}/status")"
done
tb_l=$(g_tb_leader) etcd_l=$(g_etcd_leader)
tb_cases=$(g_st A 'd["cases"]["total"]')
for round in $(seq "$reps"); do
  g_failover tongban "$round"
  g_failover etcd "$round"
done

echo
echo "$cmdline  ($date_start to $(date -u '+%H:%M') UTC; $(nproc) cores;" \
  "load average $load_start at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end)"
python3 - "$results" "$duration" "$reps" "$rss" "$tb_l" "$etcd_l" "$tb_cases" "$at_follower" <<'PY'
import statistics as st, sys
path, duration, reps, rss, tb_l, etcd_l, tb_cases, at_follower = sys.argv[1:9]
at_follower = (" (tongban's at a follower, which forwards them; its CPU is "
               "the 'leader' column)") if at_follower == "1" else ""
rows = [l.rstrip("\n").split("\t") for l in open(path) if l.strip()]
by = {}
for s, c, rep, ops, p50, p99, err, note in rows:
    by.setdefault((s, int(c)), []).append(
        dict(rep=int(rep), ops=float(ops), p50=int(p50), p99=int(p99),
             err=int(err), note=note, c=int(c)))
med = lambda xs: st.median(xs) if xs else float("nan")
ms = lambda us: f"{us / 1000:.2f}"
def note(s, r):
    # CPU per write (ticks are 10 ms): the leader's and all three members'
    kvs = [dict(p.split("=") for p in x["note"].split()) for x in r]
    c = (by.get(("cpu-" + s.split("-")[0], r[0]["c"]), []))
    allm = med([x["ops"] * 1e4 / max(int(x["note"].split("=")[1]), 1)
                for x in c])
    if s != "tongban-group":
        lead = med([int(kv["cpu_ticks"]) * 1e4 / max(int(kv["writes"]), 1)
                    for kv in kvs if "cpu_ticks" in kv])
        return f"CPU us/write: leader {lead:.0f}, 3 members {allm:.0f}"
    ap = sum(int(kv["applies"]) for kv in kvs)
    lc = sum(int(kv["log_commits"] or 0) for kv in kvs)
    cpu = med([int(kv["cpu_ticks"]) * 1e4 / max(int(kv["applies"]), 1)
               for kv in kvs])
    return (f"CPU us/write: leader {cpu:.0f}, 3 members {allm:.0f}; "
            f"leader's log commits/write {lc / max(ap, 1):.3f}")
print(f"3-voter tongban group vs 3-member etcd 3.4 cluster, writes at the "
      f"leader{at_follower}; {reps} repetition(s) of {duration} s, medians; latencies "
      "from wrk, in ms\n")
print(f"{'scenario':<16}{'conns':>6}{'writes/s':>10}{'p50':>8}{'p99':>8}"
      f"{'errors':>8}  notes")
for s in ("tongban-group", "etcd-cluster"):
    for c in (1, 16, 64):
        r = by.get((s, c))
        if r:
            print(f"{s:<16}{c:>6}{med([x['ops'] for x in r]):>10.0f}"
                  f"{ms(med([x['p50'] for x in r])):>8}"
                  f"{ms(med([x['p99'] for x in r])):>8}"
                  f"{sum(x['err'] for x in r):>8}  {note(s, r)}")
def ratio(c):
    A = {x["rep"]: x["ops"] for x in by.get(("tongban-group", c), [])}
    B = {x["rep"]: x["ops"] for x in by.get(("etcd-cluster", c), [])}
    return med([A[i] / B[i] for i in A if i in B and B[i] > 0])
print("\nratio tongban/etcd of writes/s (median of the per-repetition ratios)")
for c in (1, 16, 64):
    print(f"  {c:>2} conns: {ratio(c):.3f}")
print(f"\nRssAnon (VmRSS) per member after the load, MiB "
      f"(tongban store: {tb_cases} cases)")
for kv in rss.split():
    n, v = kv.split("=")
    a, r = (int(x) / 1024 for x in v.split(","))
    lead = " (leader)" if n in (tb_l, etcd_l) else ""
    print(f"  {'tongban' if n in 'ABC' else 'etcd':<8}{n:<3}{a:>7.1f} ({r:.1f}){lead}")
print("\nleader change: kill -9 of the leader until a write is acknowledged "
      "at a survivor, ms")
for s in ("tongban", "etcd"):
    r = by.get((f"leader-change-{s}", 3), [])
    xs = [x["ops"] for x in r if x["ops"] >= 0]
    bad = sum(x["ops"] < 0 for x in r)
    if r:
        print(f"  {s:<8} median {med(xs):.0f}  (rounds: "
              + ", ".join(f"{x['ops']:.0f}" if x["ops"] >= 0 else "FAILED"
                          for x in r) + ")"
              + (f"; {bad} round(s) with no write acknowledged within 60 s"
                 if bad else ""))
print("\ntargets (fsync on, 64 connections)")
def tgt(text, value, ok): print(f"  {'MET' if ok else 'NOT MET':<8} {text}: {value}")
r = ratio(64)
tgt("tongban >= 2x etcd's writes/s", f"{r:.2f}x", r >= 2)
a = med([x["p99"] for x in by.get(("tongban-group", 64), [])])
b = med([x["p99"] for x in by.get(("etcd-cluster", 64), [])])
tgt("tongban p99 <= etcd's p99", f"{ms(a)} ms vs {ms(b)} ms", a <= b)
PY
