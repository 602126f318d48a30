# Sourced by the device scripts (moe-grid-d8192.sh, grid-7b-rest.sh, common.sh): one self-contained device call each
# (no state survives between calls: the machine is seldom still warm when the next one arrives). Sets up the CUDA tools
# built on the dev machine and carried in $A/bins.tar.xz (llama-quantize, -bench, -imatrix, -fit-params and lib*.so from
# a CUDA 13.0 sm_90 build with GGML_BACKEND_DL and CPU variants chosen at run time). The build needs no GPU: cuBLAS
# from the nvidia-cublas 13.1 wheel, a symbol-less libcuda stub for the link (so the driver is preloaded below), cmake
# -DBUILD_SHARED_LIBS=ON -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 -DGGML_NATIVE=OFF -DGGML_BACKEND_DL=ON
# -DGGML_CPU_ALL_VARIANTS=ON -DCUDA_cublas_LIBRARY=... -DCUDA_cublasLt_LIBRARY=... -DCUDA_cuda_driver_LIBRARY=stub
# -DCMAKE_INSTALL_RPATH=$ORIGIN -DCMAKE_BUILD_WITH_INSTALL_RPATH=ON; about 80 min on 2 shared cores.
# NOBINS=1: none carried (the caller builds). Everything the call makes lands in $Q, packed into $OUT/q.tgz on exit whatever happened. DRY=1 BIN=dir runs it here.
T0=$(date +%s); el() { echo $(( $(date +%s) - T0 )); }
END=${END:-560}; left() { echo $(( END - $(el) )); }
A=${A:-.device/a}; Q=${Q:-/tmp/q}; M=${M:-/tmp/m}; mkdir -p $Q $M; I=$Q/info.txt
log() { echo "[$(basename $0) t=$(el)s $(date -u +%T)] $*" | tee -a $I; }
pack() { [ -n "$SMI" ] && kill "$SMI" 2>/dev/null; tar czf "${OUT:-/tmp}/q.tgz" -C "$(dirname $Q)" "$(basename $Q)" 2>/dev/null; }
trap pack EXIT
secs() { awk -v a=$1 -v b=$(date +%s.%N) 'BEGIN{printf "%.1f", b-a}'; }
# The devices the tools in $B see, into $Q/list-devices.txt (the carried tools here, common.sh's build there).
listdev() { timeout 60 $B/llama-bench --list-devices > $Q/list-devices.txt 2>&1; log "list-devices rc=$?: $(tr '\n' ' ' < $Q/list-devices.txt | tail -c 300)"; }
log "date $(date -u +%FT%TZ)"
nvidia-smi --query-gpu=name,memory.total,memory.used,compute_cap,driver_version --format=csv >>$I 2>&1; nproc >>$I
lscpu | grep -E "^(Model name|Socket|Core|Thread|Flags)" >>$I
if [ -n "$NOBINS" ]; then :; elif [ -z "$DRY" ]; then
  B=/tmp/bin; mkdir -p $B && xz -dc $A/bins.tar.xz | tar x -C $B
  for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib $(dirname "$(find /usr/local /usr/lib /opt -name 'libcublas.so.13*' 2>/dev/null | head -1)" 2>/dev/null); do
    [ -d "$d" ] && export LD_LIBRARY_PATH=$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}; done
  echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH" >>$I
  # libggml-cuda.so was linked against a symbol-less libcuda stub (no driver on the dev machine): the real one goes first.
  export LD_PRELOAD=$(for d in ${LD_LIBRARY_PATH//:/ } /usr/lib/x86_64-linux-gnu /lib/x86_64-linux-gnu; do ls $d/libcuda.so.1 2>/dev/null; done | head -1); echo "LD_PRELOAD=$LD_PRELOAD" >>$I
fi
B=${B:-$BIN}
if [ -z "$NOBINS" ]; then
listdev
if ! grep -q "${DEVRE:-CUDA0}" $Q/list-devices.txt; then
  ldd $B/libggml-cuda.so >> $I 2>&1; ldd $B/llama-bench >> $I 2>&1
  if declare -F on_no_device > /dev/null; then on_no_device; else log "no CUDA device: stop"; exit 1; fi
fi
echo "B=$B" >> $I
fi
NC=$(lscpu -p=core,socket | grep -v "^#" | sort -u | wc -l)
# The model generators' gguf-py and tokenizer (llama.cpp's own, carried beside the tools).
mkdir -p $M/src/models && tar xJf $A/gguf-py.tar.xz -C $M/src && cp $A/ggml-vocab-llama-spm.gguf $M/src/models/
GP=$M/src/gguf-py; V=$M/src/models/ggml-vocab-llama-spm.gguf
# GPU memory sampled beside the grids (bench:gpu-peaks turns the samples into each configuration's peak).
smi() { nvidia-smi --query-gpu=timestamp,memory.used --format=csv,noheader -lms 250 > $1 2>/dev/null & SMI=$!; }
# The random 7B shape (speed does not depend on the weights) as $M/llama7b-f16.gguf, or, with types given, quantized
# to each as $M/llama7b-TYPE.gguf (the F16 removed).
gen7b() {
  ( s=$(date +%s); python3 bench/gpu/make_random_llama.py $M/src $M/llama7b-f16.gguf ${DENSE:-4096 32 11008 32 32} > $Q/gen.log 2>&1; echo "7b rc=$? secs=$(( $(date +%s) - s ))" >> $Q/gen.log )
  cat $Q/gen.log >> $I
  for t in "$@"; do
    s=$(date +%s.%N); $B/llama-quantize $M/llama7b-f16.gguf $M/llama7b-$t.gguf $t $NC > $Q/quantize-$t.log 2>&1; rc=$?
    log "quantize $t rc=$rc seconds=$(secs $s) bytes=$(stat -c %s $M/llama7b-$t.gguf)"
  done
  [ $# -eq 0 ] || rm -f $M/llama7b-f16.gguf
}
# llama-bench -m MODELS ARGS… -o jsonl appended to OUT, within the call's time (skipped below $MINLEFT seconds, 15).
lbench() {
  local out=$1; shift; local l=$(left); [ $l -gt ${MINLEFT:-15} ] || { log "skipped (time): $*"; return; }
  timeout $l $B/llama-bench -m "$@" -o jsonl >> $out 2>>$Q/grid.err; local rc=$?
  log "bench $(basename $1) ${*:2} rc=$rc rows=$(wc -l < $out)"
}
