#!/bin/bash
# Issue 16, device call B: the real 7B session (alone on the machine, its record kept), then the 7B grid's missing rows on
# the session's own files: Q4_K_M and Q2_K at full offload, the blocks that take the grid past 150 configurations first.
. bench/gpu/common.sh
( s=$(date +%s); PYTHONPATH=$GP python3 .device/make_model.py $M/llama7b-f16.gguf $V ${DENSE:-4096 32 11008 32 4096} > $Q/gen.log 2>&1; echo "7b rc=$? secs=$(( $(date +%s) - s ))" >> $Q/gen.log )
cat $Q/gen.log >> $I; cat $M/llama7b-f16.gguf > /dev/null
S=$W/s; cd $W
log "session start"
s=$(date +%s.%N)
timeout $(left) node dist/cli.js optimize --model $M/llama7b-f16.gguf --llamacpp-bin $B --budget 12 --strategy builtin --accuracy off --stop-early on --session-dir $S --json > $Q/sess.json 2> $Q/sess.err
rc=$?; e=$(date +%s.%N)
echo "rc=$rc start=$s end=$e wall=$(awk -v a=$s -v b=$e 'BEGIN{printf "%.1f", b-a}')" > $Q/sess.done
log "session $(cat $Q/sess.done)"
tar czf $Q/session.tgz --exclude='*.gguf' --exclude='*.imatrix' --exclude='*.dat' -C $W s 2>/dev/null
find $HAQA_CACHE_DIR/artifacts $S -name '*.gguf' -printf '%T@ %s %p\n' 2>/dev/null | sort -n >> $I
node dist/cli.js inspect $M/llama7b-f16.gguf --json > $Q/inspect-7b-f16.json 2>>$I
cd - > /dev/null
G=$Q/grid7b.jsonl
pick() { find $HAQA_CACHE_DIR/artifacts $S -name "$1-*.gguf" -printf '%T@ %p\n' 2>/dev/null | sort -n | head -1 | cut -d' ' -f2; }
bench() {
  local l=$(left); [ -n "$1" ] && [ $l -gt 10 ] || { log "skipped: $*"; return; }
  timeout $l $B/llama-bench -m "$@" -p 512 -n 128 -r 3 -b 2048 -o jsonl >> $G 2>>$Q/grid.err; local rc=$?; log "bench $(basename $1) ${*:2} rc=$rc rows=$(wc -l < $G)"
}
F4=$(pick Q4_K_M); F2=$(pick Q2_K); log "files: $F4 $F2"
bench "$F4" -ngl 999 -t $NC -fa 1 -ub 256,512,2048 -ctk f16,q8_0,q4_0 -ctv f16,q8_0,q4_0
bench "$F2" -ngl 999 -t $NC -fa 1 -ub 256,512,2048 -ctk f16,q8_0 -ctv f16,q8_0
bench "$F4" -ngl 999 -t $NC -fa 0 -ub 256,512,2048 -ctk f16,q8_0,q4_0 -ctv f16
bench "$F2" -ngl 999 -t $NC -fa 0 -ub 256,512,2048 -ctk f16,q8_0 -ctv f16
log "7B grid done: $(wc -l < $G) rows"
