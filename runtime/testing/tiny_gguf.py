"""A tiny, deterministic llama-architecture GGUF chat model for tests (it talks nonsense).

The vocabulary is SentencePiece-style (``tokenizer.ggml.model = "llama"``): four control
tokens for ChatML, 256 byte-fallback tokens, a word-boundary piece and the printable ASCII
characters, so any UTF-8 text tokenizes. The weights are seeded random float32; the
output rows of the control and byte tokens are damped so that greedy decoding writes
printable ASCII and does not end the turn by itself.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
"""The ChatML template written into ``tokenizer.chat_template``."""

EMBEDDING_LENGTH = 64
"""Width of the residual stream."""
FEED_FORWARD_LENGTH = 192
"""Width of the SwiGLU feed-forward layer."""
BLOCK_COUNT = 2
"""Transformer layers."""
HEAD_COUNT = 4
"""Attention heads."""
HEAD_COUNT_KV = 2
"""Key/value heads (grouped-query attention)."""
CONTEXT_LENGTH = 8192
"""Training context written into the file."""

_UNKNOWN, _NORMAL, _CONTROL, _BYTE = 2, 1, 3, 6  # gguf.TokenType values


def tiny_vocabulary() -> tuple[list[str], list[float], list[int]]:
    """Token texts, scores and types of the tiny model, in id order."""
    tokens = ["<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>"]
    types = [_UNKNOWN, _CONTROL, _CONTROL, _CONTROL, _CONTROL]
    tokens += [f"<0x{byte:02X}>" for byte in range(256)]
    types += [_BYTE] * 256
    # "\u2581" is SentencePiece's word boundary (a space); then printable ASCII.
    tokens += ["\u2581"] + [chr(code) for code in range(0x21, 0x7F)]
    types += [_NORMAL] * (1 + 0x7F - 0x21)
    scores = [0.0] * len(tokens)
    return tokens, scores, types


def tiny_weights(seed: int, vocab_size: int) -> dict[str, npt.NDArray[np.float32]]:
    """The seeded tensors by GGUF name, in file order (numpy shapes: outputs x inputs)."""
    rng = np.random.default_rng(seed)
    kv_width = EMBEDDING_LENGTH // HEAD_COUNT * HEAD_COUNT_KV

    def matrix(rows: int, cols: int) -> npt.NDArray[np.float32]:
        values: npt.NDArray[np.float32] = (
            rng.standard_normal((rows, cols)) / np.sqrt(cols)
        ).astype(np.float32)
        return values

    def ones() -> npt.NDArray[np.float32]:
        return np.ones(EMBEDDING_LENGTH, np.float32)

    weights: dict[str, npt.NDArray[np.floating[Any]]] = {
        "token_embd.weight": rng.standard_normal((vocab_size, EMBEDDING_LENGTH))
    }
    for block in range(BLOCK_COUNT):
        weights |= {
            f"blk.{block}.attn_norm.weight": ones(),
            f"blk.{block}.attn_q.weight": matrix(EMBEDDING_LENGTH, EMBEDDING_LENGTH),
            f"blk.{block}.attn_k.weight": matrix(kv_width, EMBEDDING_LENGTH),
            f"blk.{block}.attn_v.weight": matrix(kv_width, EMBEDDING_LENGTH),
            f"blk.{block}.attn_output.weight": matrix(EMBEDDING_LENGTH, EMBEDDING_LENGTH),
            f"blk.{block}.ffn_norm.weight": ones(),
            f"blk.{block}.ffn_gate.weight": matrix(FEED_FORWARD_LENGTH, EMBEDDING_LENGTH),
            f"blk.{block}.ffn_up.weight": matrix(FEED_FORWARD_LENGTH, EMBEDDING_LENGTH),
            f"blk.{block}.ffn_down.weight": matrix(EMBEDDING_LENGTH, FEED_FORWARD_LENGTH),
        }
    # Large logits make greedy choices clear-cut (no near ties between code paths);
    # damped rows keep control and byte tokens out of greedy output.
    output = matrix(vocab_size, EMBEDDING_LENGTH) * 8.0
    output[: 5 + 256] *= 0.05
    weights |= {"output_norm.weight": ones(), "output.weight": output}
    return {name: value.astype(np.float32) for name, value in weights.items()}


def make_tiny_gguf(path: Path, seed: int = 0) -> Path:
    """Write the tiny chat model to ``path`` (about 0.6 MB); same bytes for the same seed."""
    import gguf

    tokens, scores, types = tiny_vocabulary()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("tiny-chat")
    writer.add_context_length(CONTEXT_LENGTH)
    writer.add_embedding_length(EMBEDDING_LENGTH)
    writer.add_block_count(BLOCK_COUNT)
    writer.add_feed_forward_length(FEED_FORWARD_LENGTH)
    writer.add_head_count(HEAD_COUNT)
    writer.add_head_count_kv(HEAD_COUNT_KV)
    writer.add_rope_dimension_count(EMBEDDING_LENGTH // HEAD_COUNT)
    writer.add_rope_freq_base(10000.0)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_vocab_size(len(tokens))
    writer.add_file_type(0)  # all float32

    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_unk_token_id(0)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(4)  # <|im_end|> ends an assistant turn
    writer.add_add_bos_token(False)
    writer.add_add_eos_token(False)
    writer.add_add_space_prefix(False)
    writer.add_chat_template(CHATML_TEMPLATE)

    for name, tensor in tiny_weights(seed, len(tokens)).items():
        writer.add_tensor(name, tensor)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    log.debug("wrote tiny GGUF %s (%d bytes)", path, path.stat().st_size)
    return path
