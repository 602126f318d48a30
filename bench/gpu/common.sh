# Sourced by i17_moe.sh / i17_7b.sh: one self-contained device call each (no state survives between calls: the machine
# is seldom still warm when the next call arrives). Everything lands in $Q and is packed into $OUT/q.tgz on exit.
T0=$(date +%s); el() { echo $(( $(date +%s) - T0 )); }
END=${END:-560}; left() { echo $(( END - $(el) )); }
Q=${Q:-/tmp/q}; M=${M:-/tmp/m}; W=${W:-/tmp/w}; mkdir -p $Q $M $W; I=$Q/info.txt
C=80fb11ac73e66d89eae2c6a91d8a77428fa733ed
export HAQA_CACHE_DIR=${HAQA_CACHE_DIR:-/tmp/hc}; R=$HAQA_CACHE_DIR/llama.cpp
log() { echo "[$(basename $0) t=$(el)s $(date -u +%T)] $*" | tee -a $I; }
pack() { tar czf $OUT/q.tgz -C $(dirname $Q) $(basename $Q) 2>/dev/null; }
trap pack EXIT
log "date $(date -u +%FT%TZ)"
nvidia-smi --query-gpu=name,memory.total,memory.used,compute_cap,driver_version --format=csv >>$I 2>&1; nproc >>$I
lscpu | grep -E "^(Model name|Socket|Core|Thread|Flags)" >>$I
if [ -z "$DRY" ]; then mkdir -p /opt/n && xz -dc .device/node.xz > /opt/n/node && chmod +x /opt/n/node; fi
export PATH=/opt/n:$PATH
cp -r .device/dist $W/dist && cp -r assets package.json $W/
if [ -z "$DRY" ]; then
  mkdir -p $R/src/$C && tar xJf .device/src.tar.xz -C $R/src/$C && printf '{\n  "dir": "%s",\n  "commit": "%s"\n}' $R/src/$C $C > $R/source.json
  mkdir -p $R/src/$C/models && cp .device/ggml-vocab-llama-spm.gguf $R/src/$C/models/
  # The tools built on the dev machine (CUDA 13.0, sm_90, CPU variants loaded at run time): no 5-minute build here.
  B=/tmp/bin; mkdir -p $B && xz -dc .device/bins.tar.xz | tar x -C $B
  for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib $(dirname "$(find /usr/local /usr/lib /opt -name 'libcublas.so.13*' 2>/dev/null | head -1)" 2>/dev/null); do
    [ -d "$d" ] && export LD_LIBRARY_PATH=$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}; done
  echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH" >>$I
fi
B=${B:-$BIN}
timeout 60 $B/llama-bench --list-devices > $Q/list-devices.txt 2>&1; log "prebuilt list-devices rc=$?: $(tr '\n' ' ' < $Q/list-devices.txt | tail -c 300)"
if ! grep -q "${DEVRE:-CUDA0}" $Q/list-devices.txt; then
  ldd $B/libggml-cuda.so >> $I 2>&1
  log "prebuilt tools unusable: building here"
  ( cd $W && timeout 420 node dist/cli.js toolchain build --backend ${BACKEND:-cuda} > $Q/build.log 2>&1 ); log "build rc=$?"
  B=$(ls -d $R/bin/*-${BACKEND:-cuda}-* | head -1)
fi
echo "B=$B" >> $I
V=.device/ggml-vocab-llama-spm.gguf; GP=$R/src/$C/gguf-py
NC=$(lscpu -p=core,socket | grep -v "^#" | sort -u | wc -l)
