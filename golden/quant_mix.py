"""Which weight format each tensor of a model gets: llama.cpp's mixes ("ftypes"), as its
`llama_tensor_get_type_impl` and `tensor_type_fallback` (src/llama-quant.cpp) choose them for a
dense LLaMA-architecture model without an imatrix, and the model file as shipped.

    q8_0      every layer tensor Q8_0
    q4_0, q4_1, q5_0, q5_1
              every layer tensor in that format (llama.cpp's LLAMA_FTYPE_MOSTLY_Q4_0 .. Q5_1:
              without an imatrix no layer tensor of a dense model gets another type)
    q4_k_m    Q4_K; attn_v and ffn_down Q6_K in the layers use_more_bits picks
    q3_k_s    Q3_K everywhere
    q2_k      Q2_K; attn_v Q3_K (fewer than 4 query heads per KV head), ffn_down and
              attn_output Q3_K
    q2_k_s    Q2_K; ffn_down Q4_K in the first n_layers / 8 layers
use_more_bits(i, n) = i < n / 8 or i >= 7 n / 8 or (i - n / 8) % 3 == 2 (integer division).
Then the fallback for rows whose K is not a multiple of 256: Q2_K and Q3_K -> Q4_0, Q4_K -> Q5_0,
Q5_K -> Q5_1, Q6_K -> Q8_0. SmolLM2-135M's K = 576 rows all fall back: its "q4_k_m" is Q5_0 with
K-quants only in ffn_down (K = 1536), and its "q2_k" holds no Q2_K tensor at all (ffn_down is Q3_K,
the rest Q4_0); "q2_k_s" keeps Q2_K in 27 of its 30 ffn_down tensors.
The LM head (the output tensor; SmolLM2 ties it to token_embd) gets Q8_0 in every mix when its
K is not a multiple of 256, as llama.cpp's rule says; the host keeps the file's own Q8_0 rows.
"""
RECIPES = ("q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "q4_k_m", "q3_k_s", "q2_k", "q2_k_s")
FALLBACK = {"q2_K": "q4_0", "q3_K": "q4_0", "q4_K": "q5_0", "q5_K": "q5_1", "q6_K": "q8_0"}
PROJECTIONS = ("q", "k", "v", "o", "gate", "up", "down")


def use_more_bits(i_layer: int, n_layers: int) -> bool:
    return (i_layer < n_layers // 8 or i_layer >= 7 * n_layers // 8
            or (i_layer - n_layers // 8) % 3 == 2)


def fallback(fmt: str, k: int) -> str:
    """llama.cpp's tensor_type_fallback: a 256-value format on rows whose K it does not divide."""
    return FALLBACK[fmt] if fmt in FALLBACK and k % 256 else fmt


def tensor_format(recipe: str, projection: str, layer: int, n_layers: int, k: int,
                  kv_group: int = 3) -> str:
    """The format of one layer tensor (`projection` one of q k v o gate up down) in `recipe`;
    `kv_group` = query heads per KV head (SmolLM2-135M: 9 / 3)."""
    if recipe not in RECIPES:
        raise ValueError(f"the weight mix must be one of {', '.join(RECIPES)}, not {recipe!r}")
    if projection not in PROJECTIONS:
        raise ValueError(f"projection must be one of {', '.join(PROJECTIONS)}, not {projection!r}")
    if not 0 <= layer < n_layers:
        raise ValueError(f"layer {layer} is outside 0..{n_layers - 1}")
    fmt = {"q8_0": "q8_0", "q4_0": "q4_0", "q4_1": "q4_1", "q5_0": "q5_0", "q5_1": "q5_1",
           "q4_k_m": "q4_K", "q3_k_s": "q3_K", "q2_k": "q2_K", "q2_k_s": "q2_K"}[recipe]
    if recipe == "q4_k_m" and projection in ("v", "down") and use_more_bits(layer, n_layers):
        fmt = "q6_K"
    elif recipe == "q2_k":
        if projection == "v":
            fmt = "q4_K" if kv_group >= 4 else "q3_K"
        elif projection in ("down", "o"):
            fmt = "q3_K"
    elif recipe == "q2_k_s" and projection == "down" and layer < n_layers // 8:
        fmt = "q4_K"
    return fallback(fmt, k)
