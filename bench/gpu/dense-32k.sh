#!/bin/bash
# Issue 13: the 7B dense at a served context of 32768 (measured at depth 16384, as `haqa optimize --context 32768`
# judges it) under a per-GPU limit: a grid over Q4_0 / Q4_K_M × -ngl 8/16/24/all × K/V f16, q8_0, q4_0 with flash
# attention and f16 without, and llama.cpp's own fit for the limit measured by llama-bench itself (-fitt: the margin it
# must leave on the card = the card's free memory − the limit), for each quant and K/V type. One self-contained call
# with the prebuilt tools (prebuilt.sh); carry .device/b.
A=${A:-.device/b}; . bench/gpu/prebuilt.sh
LIMIT=${LIMIT:-6000}; DEPTH=${DEPTH:-16384}
gen7b Q4_0 Q4_K_M
FREE=$(nvidia-smi --query-gpu=memory.free --format=csv,noheader,nounits | head -1); MARGIN=$(( FREE - LIMIT )); log "free $FREE MiB, limit $LIMIT, fit margin $MARGIN"
G=$Q/dense32k.jsonl; F=$Q/fit32k.jsonl; touch $G $F
smi $Q/vram-dense32k.csv
run() { MINLEFT=20 lbench "$@" -t $NC -ub 512 -b 2048 -p 512 -n ${NGEN:-32} -d $DEPTH -r 3; }
# llama.cpp's fit first (its rows are the reference), then the grid, one K/V type at a time (llama-bench fills the
# depth once per K/V type and restores it for the rest).
for kv in q4_0 q8_0 f16; do for t in Q4_0 Q4_K_M; do run $F $M/llama7b-$t.gguf -fitt $MARGIN -fa 1 -ctk $kv -ctv $kv; done; done
for kv in q4_0 q8_0 f16; do run $G $M/llama7b-Q4_0.gguf,$M/llama7b-Q4_K_M.gguf -ngl 999,24,16,8 -fa 1 -ctk $kv -ctv $kv; done
run $G $M/llama7b-Q4_0.gguf,$M/llama7b-Q4_K_M.gguf -ngl 999,24,16,8 -fa 0 -ctk f16 -ctv f16
kill $SMI
log "done: grid $(wc -l < $G) rows, fit $(wc -l < $F) rows"; grep -v "^load_backend\|^ggml_cuda_init\|^  Device" $Q/grid.err | tail -5
