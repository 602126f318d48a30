#!/bin/bash
# Issue 16, one self-contained device call: the MoE grid at depth 8192 with the prebuilt tools (prebuilt.sh), no build
# here. Carry .device/a (bins.tar.xz, gguf-py.tar.xz, ggml-vocab-llama-spm.gguf). Ran as committed on 2026-11-30 22:00.
. bench/gpu/prebuilt.sh
G2=${G2:-/tmp/g}; mkdir -p $G2
( s=$(date +%s); PYTHONPATH=$GP python3 bench/gpu/make_random_moe.py $M/moe-f16.gguf $V ${MOE:-1024 16 2816 16 32768 16 2} > $Q/genmoe.log 2>&1; echo "moe rc=$? secs=$(( $(date +%s) - s ))" >> $Q/genmoe.log )
cat $Q/genmoe.log >> $I; ls -la $M >> $I
for t in Q4_0 Q4_K_M Q8_0; do
  s=$(date +%s.%N); $B/llama-quantize $M/moe-f16.gguf $G2/moe-$t.gguf $t $NC > $Q/quantize-moe-$t.log 2>&1; rc=$?
  log "quantize moe $t rc=$rc seconds=$(secs $s) bytes=$(stat -c %s $G2/moe-$t.gguf)"
done
G=$Q/gridmoe.jsonl; touch $G
smi $Q/vram-moe.csv
mb() { lbench $G "$@" -p 512 -n ${NGEN:-64} -d ${DEPTH:-8192} -r 3 -b 2048; }
NCM=${NCM:-0,2,4,6,8,10,12,14,16}
for kv in f16 q8_0 q4_0; do for t in Q4_0 Q4_K_M Q8_0; do mb $G2/moe-$t.gguf -ngl 999 -ncmoe $NCM -t $NC -fa 1 -ub 512 -ctk $kv -ctv $kv; done; done
for t in Q4_0 Q4_K_M Q8_0; do mb $G2/moe-$t.gguf -ngl 999 -ncmoe $NCM -t $NC -fa 0 -ub 512 -ctk f16 -ctv f16; done
for t in Q4_0 Q4_K_M Q8_0; do mb $G2/moe-$t.gguf -ngl 999 -ncmoe $NCM -t $(( NC / 2 )) -fa 1 -ub 512 -ctk q8_0 -ctv q8_0; done
for t in Q4_0 Q4_K_M Q8_0; do mb $G2/moe-$t.gguf -ngl ${NGLS:-4,8,12} -ncmoe 0 -t $NC -fa 1 -ub 512 -ctk f16 -ctv f16; done
for t in Q4_0 Q4_K_M Q8_0; do mb $G2/moe-$t.gguf -ngl 999 -ncmoe ${NCM3:-0,8,16} -t $NC -fa 1 -ub 2048 -ctk f16 -ctv f16; done
kill $SMI
log "MoE grid done: $(wc -l < $G) rows"; tail -5 $Q/grid.err
