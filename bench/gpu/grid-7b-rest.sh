#!/bin/bash
# Issue 16, one self-contained device call: the 7B grid's missing blocks (gpu-grid-h200-7b.jsonl had 112 configurations
# from the session's files): Q4_K_M and Q2_K at full offload × flash attention × K/V types × micro-batch 256/512/2048,
# the same workload (pp512 + tg128, 3 repetitions, batch 2048, all physical cores), then Q2_K partly offloaded as
# Q4_0 and Q4_K_M were, if time is left. Q4_K_M and Q2_K at full offload, flash attention, micro-batch 512, f16 KV are
# in the old recording too: the anchors that say whether this machine measures like the first one.
# Carry .device/a (prebuilt.sh). The 7B is written here: speed does not depend on the weights.
. bench/gpu/prebuilt.sh
gen7b Q4_K_M Q2_K
G=$Q/grid7b.jsonl; touch $G
smi $Q/vram-7b.csv
bench() { lbench $G "$@" -p 512 -n 128 -r 3 -b 2048; }
F4=$M/llama7b-Q4_K_M.gguf; F2=$M/llama7b-Q2_K.gguf
bench $F4 -ngl 999 -t $NC -fa 1 -ub 256,512,2048 -ctk f16,q8_0,q4_0 -ctv f16,q8_0,q4_0
bench $F2 -ngl 999 -t $NC -fa 1 -ub 256,512,2048 -ctk f16,q8_0 -ctv f16,q8_0
bench $F4 -ngl 999 -t $NC -fa 0 -ub 256,512,2048 -ctk f16,q8_0,q4_0 -ctv f16
bench $F2 -ngl 999 -t $NC -fa 0 -ub 256,512,2048 -ctk f16,q8_0 -ctv f16
bench $F2 -ngl 24,28 -t $(( NC / 2 )),$NC -fa 1 -ub 512 -ctk f16 -ctv f16
kill $SMI
log "7B grid done: $(wc -l < $G) rows"; tail -5 $Q/grid.err
