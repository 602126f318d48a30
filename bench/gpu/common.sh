# Sourced by the device calls that run `haqa` itself (session-7b.sh, two-gpus.sh session): prebuilt.sh's setup, then
# Node 20 (carried as $A/node.xz), HAQA's dist (dist/cli.js and dist/exec-wrapper.js carried) and llama.cpp's tools: the
# prebuilt ones when $A/bins.tar.xz is carried and finds the GPU, else `haqa toolchain build` from the carried source
# ($A/src.tar.xz, llama.cpp 80fb11a; about 5 minutes on 16 cores, 3.5 on 32) when they are not carried or find no GPU.
# The 64 MiB carry limit counts the tracked tree (15 MB) too: Node and the prebuilt tools (22 + 42 MB) do not fit
# together, so in practice these calls build.
[ -f $A/bins.tar.xz ] || NOBINS=1
on_no_device() { log "prebuilt tools find no GPU: building"; B=; NOBINS=1; }
. bench/gpu/prebuilt.sh
if [ -z "$DRY" ]; then [ -x /opt/n/node ] || { mkdir -p /opt/n && xz -dc $A/node.xz > /opt/n/node && chmod +x /opt/n/node; }; export PATH=/opt/n:$PATH; fi
log "node $(node --version)"
W=${W:-/tmp/w}; mkdir -p $W && cp -r dist assets package.json $W/
C=80fb11ac73e66d89eae2c6a91d8a77428fa733ed
export HAQA_CACHE_DIR=${HAQA_CACHE_DIR:-/tmp/hc}; R=$HAQA_CACHE_DIR/llama.cpp
if [ -n "$NOBINS" ] && [ -z "$DRY" ]; then
  BUILT="$R/bin/${C:0:12}-${BACKEND:-cuda}-*"
  # A machine still warm from the last call keeps what that call built (chained calls: build, then use).
  if ls $BUILT/llama-bench > /dev/null 2>&1; then log "tools kept from the last call"; else
    mkdir -p $R/src/$C && tar xJf $A/src.tar.xz -C $R/src/$C && printf '{\n  "dir": "%s",\n  "commit": "%s"\n}' $R/src/$C $C > $R/source.json
    s=$(date +%s.%N); ( cd $W && timeout ${BUILD_TIMEOUT:-420} node dist/cli.js toolchain build --backend ${BACKEND:-cuda} > $Q/build.log 2>&1 ); log "build rc=$? seconds=$(secs $s)"
  fi
  B=$(ls -d $BUILT | head -1)
  listdev
fi
B=${B:-$BIN}; echo "B=$B" >> $I
