#!/bin/bash
# Carries .device/a: bins.tar.xz (llama-quantize, -bench, -imatrix, -fit-params and lib*.so from a dev-machine CUDA
# build with GGML_BACKEND_DL + CPU variants), gguf-py.tar.xz, ggml-vocab-llama-spm.gguf, make_moe.py (= make_random_moe.py).
# The build (no GPU needed): cublas from the nvidia-cublas 13.1 wheel, a symbol-less libcuda stub for the link (so the
# driver is preloaded below), cmake -DBUILD_SHARED_LIBS=ON -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 -DGGML_NATIVE=OFF
# -DGGML_BACKEND_DL=ON -DGGML_CPU_ALL_VARIANTS=ON -DCUDA_cublas_LIBRARY=... -DCUDA_cublasLt_LIBRARY=... -DCUDA_cuda_driver_LIBRARY=stub
# -DCMAKE_INSTALL_RPATH=$ORIGIN -DCMAKE_BUILD_WITH_INSTALL_RPATH=ON; about 80 min on 2 cores shared with other builds.
# Issue 16, one self-contained device call: the MoE grid with tools built on the dev machine (CUDA 13.0, sm_90, CPU
# variants chosen at run time), no build here. Results packed into $OUT/q.tgz on exit, whatever happened.
T0=$(date +%s); el() { echo $(( $(date +%s) - T0 )); }
END=${END:-560}; left() { echo $(( END - $(el) )); }
A=.device/a; Q=${Q:-/tmp/q}; M=${M:-/tmp/m}; G2=${G2:-/tmp/g}; mkdir -p $Q $M $G2; I=$Q/info.txt
log() { echo "[t=$(el)s $(date -u +%T)] $*" | tee -a $I; }
trap 'tar czf $OUT/q.tgz -C $(dirname $Q) $(basename $Q) 2>/dev/null' EXIT
log "date $(date -u +%FT%TZ)"
nvidia-smi --query-gpu=name,memory.total,memory.used,compute_cap,driver_version --format=csv >>$I 2>&1; nproc >>$I
lscpu | grep -E "^(Model name|Socket|Core|Thread|Flags)" >>$I
if [ -z "$DRY" ]; then
  B=/tmp/bin; mkdir -p $B && xz -dc $A/bins.tar.xz | tar x -C $B
  for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib $(dirname "$(find /usr/local /usr/lib /opt -name 'libcublas.so.13*' 2>/dev/null | head -1)" 2>/dev/null); do
    [ -d "$d" ] && export LD_LIBRARY_PATH=$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}; done
  echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH" >>$I
  # libggml-cuda.so was linked here against a symbol-less libcuda stub (no driver here): the real one goes in first.
  export LD_PRELOAD=$(for d in ${LD_LIBRARY_PATH//:/ } /usr/lib/x86_64-linux-gnu /lib/x86_64-linux-gnu; do ls $d/libcuda.so.1 2>/dev/null; done | head -1); echo "LD_PRELOAD=$LD_PRELOAD" >>$I
fi
B=${B:-$BIN}
timeout 60 $B/llama-bench --list-devices > $Q/list-devices.txt 2>&1; log "list-devices rc=$?: $(tr '\n' ' ' < $Q/list-devices.txt | tail -c 300)"
grep -q "${DEVRE:-CUDA0}" $Q/list-devices.txt || { ldd $B/libggml-cuda.so >> $I 2>&1; ldd $B/llama-bench >> $I 2>&1; log "no CUDA device: stop"; exit 1; }
mkdir -p $M/py && tar xJf $A/gguf-py.tar.xz -C $M/py
( s=$(date +%s); PYTHONPATH=$M/py/gguf-py python3 $A/make_moe.py $M/moe-f16.gguf $A/ggml-vocab-llama-spm.gguf ${MOE:-1024 16 2816 16 32768 16 2} > $Q/genmoe.log 2>&1; echo "moe rc=$? secs=$(( $(date +%s) - s ))" >> $Q/genmoe.log )
cat $Q/genmoe.log >> $I; ls -la $M >> $I
NC=$(lscpu -p=core,socket | grep -v "^#" | sort -u | wc -l)
for t in Q4_0 Q4_K_M Q8_0; do
  s=$(date +%s.%N); $B/llama-quantize $M/moe-f16.gguf $G2/moe-$t.gguf $t $NC > $Q/quantize-moe-$t.log 2>&1; rc=$?
  log "quantize moe $t rc=$rc seconds=$(awk -v a=$s -v b=$(date +%s.%N) 'BEGIN{printf "%.1f", b-a}') bytes=$(stat -c %s $G2/moe-$t.gguf)"
done
G=$Q/gridmoe.jsonl; touch $G
nvidia-smi --query-gpu=timestamp,memory.used --format=csv,noheader -lms 250 > $Q/vram-moe.csv 2>/dev/null &
SMI=$!
mb() {
  local l=$(left); [ $l -gt 15 ] || { log "skipped (time): $*"; return; }
  timeout $l $B/llama-bench -m "$@" -p 512 -n ${NGEN:-64} -d ${DEPTH:-8192} -r 3 -b 2048 -o jsonl >> $G 2>>$Q/gridmoe.err; local rc=$?
  log "moe bench $(basename $1) ${*:2} rc=$rc rows=$(wc -l < $G)"
}
NCM=${NCM:-0,2,4,6,8,10,12,14,16}
for kv in f16 q8_0 q4_0; do for t in Q4_0 Q4_K_M Q8_0; do mb $G2/moe-$t.gguf -ngl 999 -ncmoe $NCM -t $NC -fa 1 -ub 512 -ctk $kv -ctv $kv; done; done
for t in Q4_0 Q4_K_M Q8_0; do mb $G2/moe-$t.gguf -ngl 999 -ncmoe $NCM -t $NC -fa 0 -ub 512 -ctk f16 -ctv f16; done
for t in Q4_0 Q4_K_M Q8_0; do mb $G2/moe-$t.gguf -ngl 999 -ncmoe $NCM -t $(( NC / 2 )) -fa 1 -ub 512 -ctk q8_0 -ctv q8_0; done
for t in Q4_0 Q4_K_M Q8_0; do mb $G2/moe-$t.gguf -ngl ${NGLS:-4,8,12} -ncmoe 0 -t $NC -fa 1 -ub 512 -ctk f16 -ctv f16; done
for t in Q4_0 Q4_K_M Q8_0; do mb $G2/moe-$t.gguf -ngl 999 -ncmoe ${NCM3:-0,8,16} -t $NC -fa 1 -ub 2048 -ctk f16 -ctv f16; done
kill $SMI
log "MoE grid done: $(wc -l < $G) rows"; tail -5 $Q/gridmoe.err
