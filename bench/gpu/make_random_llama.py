#!/usr/bin/env python3
"""Writes a random-weight Llama GGUF (F16) with llama.cpp's own gguf-py, for GPU speed grids on machines
without Node. Speed does not depend on weight values. Usage:
  [CTX_TRAIN=N] make_random_llama.py LLAMA_SRC OUT.gguf HIDDEN LAYERS FFN HEADS KV_HEADS
CTX_TRAIN is the training context the file declares (default 4096; HAQA serves and measures at most that).
"""
import os
import sys
import numpy as np

src, out, H, L, F, NH, NKV = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:8])
sys.path.insert(0, f"{src}/gguf-py")
import gguf  # noqa: E402

vocab = gguf.GGUFReader(f"{src}/models/ggml-vocab-llama-spm.gguf")
f = vocab.fields
tokens = [bytes(f["tokenizer.ggml.tokens"].parts[i]).decode("utf-8", "replace") for i in f["tokenizer.ggml.tokens"].data]
scores = [float(f["tokenizer.ggml.scores"].parts[i][0]) for i in f["tokenizer.ggml.scores"].data]
types = [int(f["tokenizer.ggml.token_type"].parts[i][0]) for i in f["tokenizer.ggml.token_type"].data]
V = len(tokens)

w = gguf.GGUFWriter(out, "llama")
w.add_name(f"haqa-random-llama-h{H}-l{L}")
w.add_context_length(int(os.environ.get("CTX_TRAIN", "4096")))
w.add_embedding_length(H)
w.add_block_count(L)
w.add_feed_forward_length(F)
w.add_head_count(NH)
w.add_head_count_kv(NKV)
w.add_rope_dimension_count(H // NH)
w.add_layer_norm_rms_eps(1e-5)
w.add_file_type(1)
w.add_tokenizer_model("llama")
w.add_token_list(tokens)
w.add_token_scores(scores)
w.add_token_types(types)
w.add_bos_token_id(1)
w.add_eos_token_id(2)
w.add_unk_token_id(0)

# Windows of one 64 Mi-value random pool, not fresh draws: a 7B's 6.7 G values would take minutes to draw.
rng = np.random.default_rng(0)
pool = (rng.standard_normal(64 * 2**20, dtype=np.float32) * 0.02).astype(np.float16)
step = [0]
def mat(name, rows, cols):
    n = rows * cols
    if n <= pool.size:
        o = step[0] % (pool.size - n + 1)
        step[0] += 7919 * 13
        a = pool[o:o + n]
    else:
        a = np.resize(pool, n)
    w.add_tensor(name, a.reshape(rows, cols))
def norm(name):
    w.add_tensor(name, np.ones(H, dtype=np.float32))

kv = H // NH * NKV
mat("token_embd.weight", V, H)
norm("output_norm.weight")
mat("output.weight", V, H)
for i in range(L):
    norm(f"blk.{i}.attn_norm.weight")
    mat(f"blk.{i}.attn_q.weight", H, H)
    mat(f"blk.{i}.attn_k.weight", kv, H)
    mat(f"blk.{i}.attn_v.weight", kv, H)
    mat(f"blk.{i}.attn_output.weight", H, H)
    norm(f"blk.{i}.ffn_norm.weight")
    mat(f"blk.{i}.ffn_gate.weight", F, H)
    mat(f"blk.{i}.ffn_up.weight", F, H)
    mat(f"blk.{i}.ffn_down.weight", H, F)
w.write_header_to_file()
w.write_kv_data_to_file()
w.write_tensors_to_file()
w.close()
print(f"wrote {out}: V={V} H={H} L={L} F={F}")
