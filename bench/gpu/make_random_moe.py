# Random-weight Mixtral-style MoE GGUF (llama arch with experts), F16 experts, F32 router.
# Usage: make_moe.py OUT VOCAB hidden layers expert_ffn heads ctx n_expert n_used
import sys, numpy as np, gguf
out, vocab = sys.argv[1], sys.argv[2]
h, L, f, nh, ctx, E, EU = map(int, sys.argv[3:10])
r = gguf.GGUFReader(vocab)
w = gguf.GGUFWriter(out, 'llama')
w.add_name(f'rand-moe-h{h}-l{L}-e{E}'); w.add_file_type(1)
w.add_context_length(ctx); w.add_embedding_length(h); w.add_block_count(L); w.add_feed_forward_length(f)
w.add_head_count(nh); w.add_head_count_kv(nh); w.add_rope_dimension_count(h // nh)
w.add_layer_norm_rms_eps(1e-5); w.add_expert_count(E); w.add_expert_used_count(EU)
nv = 0
for name, fld in r.fields.items():
    if not name.startswith('tokenizer.'): continue
    t = fld.types[0]
    if t == gguf.GGUFValueType.ARRAY:
        vals = fld.contents()
        if name == 'tokenizer.ggml.tokens': nv = len(vals)
        w.add_key_value(name, vals, t, sub_type=fld.types[-1])
    else:
        w.add_key_value(name, fld.contents(), t)
rng = np.random.default_rng(1)
pool = (rng.standard_normal(64 * 2**20, dtype=np.float32) * 0.02).astype(np.float16)
off = [0]
def rnd(*shape):
    n = int(np.prod(shape)); o = off[0] % (pool.size - n) if pool.size > n else 0
    off[0] += 7919 * 13
    a = pool[o:o + n] if n <= pool.size else np.resize(pool, n)
    return a.reshape(shape)
ones = np.ones(h, dtype=np.float32)
w.add_tensor('token_embd.weight', rnd(nv, h)); w.add_tensor('output_norm.weight', ones); w.add_tensor('output.weight', rnd(nv, h))
for i in range(L):
    w.add_tensor(f'blk.{i}.attn_norm.weight', ones)
    for n in ('q', 'k', 'v', 'output'): w.add_tensor(f'blk.{i}.attn_{n}.weight', rnd(h, h))
    w.add_tensor(f'blk.{i}.ffn_norm.weight', ones)
    w.add_tensor(f'blk.{i}.ffn_gate_inp.weight', rnd(E, h).astype(np.float32))
    w.add_tensor(f'blk.{i}.ffn_gate_exps.weight', rnd(E, f, h)); w.add_tensor(f'blk.{i}.ffn_up_exps.weight', rnd(E, f, h))
    w.add_tensor(f'blk.{i}.ffn_down_exps.weight', rnd(E, h, f))
w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()
print('wrote', out, 'vocab', nv)
