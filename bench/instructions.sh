#!/usr/bin/env bash
# Instructions per request of one workload, counted by valgrind's callgrind: the same
# binary and request give the same count (±0.1%) whatever else the machine is doing, so
# a small change can be compared where req/s moves ±25%. Sequential requests; the
# server's start and 20 warm-up requests are not counted.
#
#   bench/instructions.sh <forum binary> <front-page|category-page|thread-page|thread-top|thread-small> [requests]
#
# thread-page and thread-top read a thread of 40-60 replies; thread-small one of 3, the
# median thread of the default forum (what the benchmark's thread page mostly draws).
#
# KEEP=<file> keeps the callgrind profile. Needs the database `forum-bench` generated (BENCH_DB, default forum_bench_default on
# the local Postgres), valgrind, curl and psql.
set -euo pipefail
bin=$1 workload=$2 n=${3:-100}
db_url=${BENCH_DB_URL:-postgres://postgres@127.0.0.1:5432/${BENCH_DB:-forum_bench_default}}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

first() { psql "$db_url" -Atc "$1"; }
case $workload in
  front-page) vars='{}' ;;
  category-page) vars="{\"slug\": \"$(first "SELECT slug FROM categories ORDER BY slug LIMIT 1")\"}" ;;
  thread-page | thread-top | thread-small)
    replies="BETWEEN 40 AND 60"; [ "$workload" = thread-small ] && replies="= 3"
    uuid=$(first "SELECT replace(id::text, '-', '') FROM threads WHERE reply_count $replies ORDER BY id LIMIT 1")
    id=$(printf 'Thread:%s' "$uuid" | base64 -w0 | tr '+/' '-_' | tr -d '=')
    order=OLDEST; [ "$workload" = thread-top ] && order=TOP
    vars="{\"id\": \"$id\", \"order\": \"$order\"}" ;;
  *) echo "unknown workload $workload" >&2; exit 2 ;;
esac
# The queries of bench/src/workload.rs.
python3 - "$workload" "$vars" > "$work/body.json" <<'PY'
import json, sys
thread = ("query($id: ID!, $order: ReplyOrder!) { thread(id: $id) { title status replyCount "
          "replies(first: 50, orderBy: $order) { pageInfo { hasNextPage endCursor } nodes { id body "
          "createdAt isDeleted score upvotes downvotes author { displayName imageUrl } } } } }")
queries = {
    "front-page": "{ categories(first: 20) { nodes { slug name threadCount threads(first: 5) "
                  "{ nodes { id title replyCount lastActivityAt isPinned author { displayName } } } } } }",
    "category-page": "query($slug: String!) { category(slug: $slug) { name threadCount threads(first: 25) "
                     "{ pageInfo { hasNextPage endCursor } nodes { id title status isPinned replyCount "
                     "lastActivityAt author { displayName } } } } }",
    "thread-page": thread,
    "thread-top": thread,
    "thread-small": thread,
}
print(json.dumps({"query": queries[sys.argv[1]], "variables": json.loads(sys.argv[2])}))
PY

port=$((20000 + RANDOM % 20000))
env -i PATH="$PATH" LISTEN_ADDR="127.0.0.1:$port" RUST_LOG=warn DATABASE_URL="$db_url" \
  SEED_DEMO=false DATABASE_MAX_CONNECTIONS=4 TOKIO_WORKER_THREADS=2 \
  DEV_SIGNING_KEY_FILE="$work/key.pem" \
  valgrind --tool=callgrind --callgrind-out-file="$work/out.%p" "$bin" >/dev/null 2>"$work/valgrind.log" &
server=$!
for _ in $(seq 1 240); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.5; done
request() { curl -sf -H 'content-type: application/json' --data @"$work/body.json" "http://127.0.0.1:$port/graphql" >/dev/null; }
for _ in $(seq 1 20); do request; done
callgrind_control -z "$server" >/dev/null 2>&1
for _ in $(seq 1 "$n"); do request; done
callgrind_control -d "$server" >/dev/null 2>&1
kill "$server"; wait "$server" 2>/dev/null || true
dump=$(ls -t "$work"/out.*.* | head -n 1)
total=$(awk '/^(summary|totals):/ { print $2; exit }' "$dump")
echo "$workload $(basename "$bin"): $((total / n)) instructions per request"
# KEEP=<file> keeps the profile, for callgrind_annotate --inclusive=yes.
if [ -n "${KEEP:-}" ]; then cp "$dump" "$KEEP"; fi
