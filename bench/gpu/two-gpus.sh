#!/bin/bash
# Issue 13, on two GPUs (nvidia-h200-x2): how a 7B is split over them. Two self-contained device calls:
#   two-gpus.sh grid     llama-bench over Q4_0 and Q8_0 × -sm none / layer / tensor × -ts auto, 1/1, 2/1, 1/2 (flash
#                        attention, f16 KV, micro-batch 512, and 2048 for each split mode); carry .device/b (prebuilt.sh)
#   two-gpus.sh session  a real `haqa optimize` on the Q4_0 file (an already-quantized source: a runtime search with
#                        split_mode and tensor_split among its knobs); carry common.sh's files
DEVRE=${DEVRE:-CUDA1}
case "$1" in
grid)
  A=${A:-.device/b}; . bench/gpu/prebuilt.sh
  gen7b Q4_0 Q8_0
  G=$Q/grid2.jsonl; touch $G
  bench() { lbench $G "$@" -ngl 999 -t $NC -fa 1 -ctk f16 -ctv f16 -p 512 -n 128 -r 3 -b 2048; }
  for t in Q4_0 Q8_0; do
    bench $M/llama7b-$t.gguf -ub 512,2048 -sm none
    bench $M/llama7b-$t.gguf -ub 512 -sm ${SMS:-layer,tensor} -ts 0,1/1,2/1,1/2
    bench $M/llama7b-$t.gguf -ub 2048 -sm ${SMS:-layer,tensor}
  done
  log "grid done: $(wc -l < $G) rows"; tail -3 $Q/grid.err
  ;;
session)
  A=${A:-.device/c}; . bench/gpu/common.sh
  node $W/dist/cli.js hardware --json > $Q/hardware.json 2>>$I; log "hardware: $(tr -d '\n ' < $Q/hardware.json | head -c 500)"
  gen7b Q4_0
  # The grid call's -sm row rows all failed at the model's load ("failed to load model"): llama.cpp's own words, verbose.
  timeout 60 $B/llama-bench -m $M/llama7b-Q4_0.gguf -ngl 999 -sm row -p 0 -n 16 -r 1 -v > $Q/row-verbose.log 2>&1; log "row split rc=$?: $(grep -iE 'error|fail|split|exception' $Q/row-verbose.log | tail -5 | tr '\n' ' ')"
  S=$Q/s; s=$(date +%s.%N)
  l=$(( $(left) - 5 )); [ "$l" -gt 30 ] || { log "no time left for the session"; exit 1; }
  ( cd $W && timeout $l node dist/cli.js optimize --model $M/llama7b-Q4_0.gguf --llamacpp-bin $B --budget ${BUDGET:-10} --strategy builtin --accuracy off --stop-early on --session-dir $S --json > $Q/sess.json 2> $Q/sess.err )
  log "session rc=$? wall=$(secs $s)"; tail -30 $Q/sess.err
  find $S -name '*.gguf' -delete
  ;;
*) echo "usage: two-gpus.sh grid|session"; exit 2 ;;
esac
