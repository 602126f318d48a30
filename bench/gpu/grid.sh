#!/usr/bin/env bash
# GPU grid for the replay toolchain, run on a lent NVIDIA machine (no Node, no network there).
#   phase "build": unpack llama.cpp from the carried npm tarball, CUDA build, random 1B Llama, quantize.
#   phase "bench": llama-bench over the grid, rows appended to $OUT/gpu-grid.jsonl as they complete.
set -u
# .device (carried) holds only the npm tarball; the build and models live outside the carried tree so a later
# call on the same warm machine keeps them.
W=.device; G=/root/haqa-gpu; S=$G/llama.cpp; M=$G/models; OUT=${OUT:-/tmp/out}; UB=${UB:-512}
QUANTS="Q8_0 Q6_K Q5_K_M Q4_K_M Q4_K_S Q4_0 IQ4_XS Q3_K_M Q2_K"
case "${1:-}" in
build)
  nvidia-smi --query-gpu=name,memory.total,compute_cap,driver_version --format=csv > "$OUT/nvidia-smi-query-gpu.csv"
  if [ ! -x "$S/build/bin/llama-bench" ]; then
    mkdir -p $G && tar xzf $W/node-llama-cpp-3.21.1.tgz -C $G package/llama/gitRelease.bundle
    [ -d "$S" ] || git clone -q $G/package/llama/gitRelease.bundle "$S"
    cmake -S "$S" -B "$S/build" -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DBUILD_SHARED_LIBS=OFF \
      -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 > "$OUT/build.log" 2>&1
    cmake --build "$S/build" -j"$(nproc)" --target llama-quantize llama-bench >> "$OUT/build.log" 2>&1 || { tail -30 "$OUT/build.log"; exit 1; }
  fi
  mkdir -p $M
  [ -f $M/F16.gguf ] || python3 bench/gpu/make_random_llama.py "$S" $M/F16.gguf 2048 16 5632 32 8
  for q in $QUANTS; do [ -f $M/$q.gguf ] || "$S/build/bin/llama-quantize" $M/F16.gguf $M/$q.gguf $q "$(nproc)" > /dev/null 2>&1; done
  ls -la $M ;;
bench)
  models=$(ls $M/*.gguf | paste -sd,)
  common=(-m "$models" -p 512 -n 128 -r 3 -t 8 -ngl 99 -b 2048 -ub $UB -o jsonl)
  "$S/build/bin/llama-bench" "${common[@]}" -fa off -ctk f16,q8_0,q4_0 -ctv f16 >> "$OUT/gpu-grid.jsonl" 2>> "$OUT/bench.err"
  "$S/build/bin/llama-bench" "${common[@]}" -fa on -ctk f16,q8_0,q4_0 -ctv f16,q8_0,q4_0 >> "$OUT/gpu-grid.jsonl" 2>> "$OUT/bench.err"
  wc -l "$OUT/gpu-grid.jsonl"; tail -3 "$OUT/bench.err" ;;
esac
