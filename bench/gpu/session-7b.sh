#!/bin/bash
# Issue 16: the real 7B session (`haqa optimize --budget 12 --strategy builtin --accuracy off --stop-early on`), alone
# on the machine, its record kept. Ran on 2026-11-30 19:43 UTC (282.2 s wall clock; BENCHMARKS.md) from an earlier
# layout of these scripts. Carry $A (node.xz, src.tar.xz, gguf-py.tar.xz, ggml-vocab-llama-spm.gguf), dist/cli.js and
# dist/exec-wrapper.js.
A=${A:-.device/c}
. bench/gpu/common.sh
gen7b
cat $M/llama7b-f16.gguf > /dev/null
S=$W/s; cd $W
log "session start"
s=$(date +%s.%N)
l=$(left); [ "$l" -gt 30 ] || { log "no time left for the session"; exit 1; }
timeout $l node dist/cli.js optimize --model $M/llama7b-f16.gguf --llamacpp-bin $B --budget 12 --strategy builtin --accuracy off --stop-early on --session-dir $S --json > $Q/sess.json 2> $Q/sess.err
log "session rc=$? wall=$(secs $s)"
tar czf $Q/session.tgz --exclude='*.gguf' --exclude='*.imatrix' --exclude='*.dat' -C $W s 2>/dev/null
find $HAQA_CACHE_DIR/artifacts $S -name '*.gguf' -printf '%T@ %s %p\n' 2>/dev/null | sort -n >> $I
