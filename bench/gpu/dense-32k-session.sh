#!/bin/bash
# Issue 13: HAQA's own verdict for the random 7B dense served at 32768 tokens under a 6000 MiB per-GPU limit (`haqa
# optimize --context 32768 --max-vram-mb 6000`, the F16 source, so quantization and runtime are searched; decode judged
# at depth 16384 with 32 generated tokens, as dense-32k.sh measured llama.cpp's fit and the grid). The CUDA build takes
# about half of a call on 16 cores, so two chained calls; carry common.sh's files ($A = .device/c, dist/cli.js,
# dist/exec-wrapper.js):
#   dense-32k-session.sh start    build the tools, write the F16, start the session with what the call has left as its
#                                 --time-budget
#   dense-32k-session.sh resume   `--resume` it: on the machine the first call left warm (tools, F16, session and its
#                                 files kept in /tmp), or on a fresh one from the session record the first call brought
#                                 back (carried as $SD/s.tgz; the tools are built and the F16 written again, the same
#                                 bytes: its generator is seeded); then llama.cpp's projection at -c 32768 of each file
#                                 the session made × -ngl × K/V type, which says which grid rows fit the limit.
# The random 7B declares a 32768-token training context (CTX_TRAIN): with make_random_llama.py's default of 4096, HAQA
# serves and measures at most 4096, as it should. Ran 2026-12-01 04:18-04:46 UTC (BENCHMARKS.md); the machine stayed
# warm between the calls, so the fresh-machine path of `resume` has only run here (DRY=1).
MODE=$1; case "$MODE" in start|resume) ;; *) echo "usage: dense-32k-session.sh start|resume"; exit 2 ;; esac
A=${A:-.device/c}; Q=${Q:-/tmp/q-$MODE}; SD=${SD:-.device/sess}; M=${M:-/tmp/m32k}
. bench/gpu/common.sh
LIMIT=${LIMIT:-6000}; CTX=${CTX:-32768}; S=/tmp/s32k
# The random 7B says it was trained for the served context (otherwise HAQA serves, and measures, at most what it was trained for).
export CTX_TRAIN=$CTX
# start: a new F16 (an earlier one may declare another context) and no files or session from an earlier call.
[ "$MODE" = start ] && rm -rf $M/llama7b-f16.gguf $HAQA_CACHE_DIR/artifacts $S
[ -f $M/llama7b-f16.gguf ] || gen7b
if [ "$MODE" = resume ] && [ ! -d $S ] && [ -s $SD/s.tgz ]; then
  mkdir -p $(dirname $S) && tar xzf $SD/s.tgz -C $(dirname $S) || rm -rf $S
  log "session record from the first call: $(ls $S/sessions 2>/dev/null)"
fi
ID=$(ls $S/sessions 2>/dev/null | head -1)
[ "$MODE" = start ] || [ -n "$ID" ] || { log "no session to resume under $S (nor $SD/s.tgz)"; exit 1; }
l=$(( $(left) - ${RESERVE:-60} )); [ "$l" -gt 60 ] || { log "no time left for the session"; exit 1; }
TB=$(awk -v s=$l 'BEGIN{printf "%.2f", s/60}')
log "session $MODE ${ID:-new}: time budget $TB min"
s=$(date +%s.%N)
if [ "$MODE" = start ]; then
  WHAT=(--model $M/llama7b-f16.gguf --context $CTX --gen-tokens 32 --max-vram-mb $LIMIT --budget ${BUDGET:-10}
    --strategy builtin --accuracy off --stop-early on)
else WHAT=(--resume $ID); fi
( cd $W && timeout $(( l + 30 )) node dist/cli.js optimize "${WHAT[@]}" --llamacpp-bin $B --time-budget $TB \
  --session-dir $S --json > $Q/sess.json 2> $Q/sess.err )
log "session rc=$? wall=$(secs $s)"; tail -25 $Q/sess.err
tar czf $Q/s.tgz --exclude='*.gguf' --exclude='*.imatrix' --exclude='*.dat' -C $(dirname $S) $(basename $S) 2>/dev/null
find $HAQA_CACHE_DIR/artifacts -name '*.gguf' -printf '%s %p\n' 2>/dev/null >> $I
if [ "$MODE" = resume ]; then
  # What llama.cpp projects for each file at the served context (MiB per device, -fitp on): the grid rows' fit.
  P=$Q/projections.txt; : > $P
  for f in $(find $HAQA_CACHE_DIR/artifacts -name '*.gguf' ! -name '*imatrix*' 2>/dev/null); do
    for kv in q4_0 q8_0 f16; do for ngl in 999 28 26 24 22 20 16 8; do
      [ $(left) -gt 10 ] || break 3
      echo "== $(basename $f) -ngl $ngl -ctk $kv -ctv $kv" >> $P
      timeout 30 $B/llama-fit-params -m $f -c $CTX -ngl $ngl -fa on -ctk $kv -ctv $kv -fitp on >> $P 2>/dev/null
    done; done
  done
  log "projections: $(grep -c '^==' $P 2>/dev/null) configurations"
fi
