"""A compact decoder-only transformer (nanoGPT-like) that writes SLICES tokens, conditioned on crystal properties.

The input sequence is ``[p_1 .. p_P, BOS, t_1 .. t_n]``: one prefix vector per property, then the tokens. A present
property is embedded by a small MLP of its standardised value; an absent one by a learned "absent" vector, so the
same model samples with any subset of properties given (property dropout in training teaches it both). Generation
uses a key/value cache so each new token costs one position, not the whole prefix.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class GPTConfig:
    vocab_size: int
    block_size: int = 512  # prefix + BOS + tokens
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 192
    dropout: float = 0.1
    n_props: int = 2

    def to_dict(self) -> dict:
        return asdict(self)


def _onednn_linear_works() -> bool:
    op = getattr(torch.ops.mkldnn, "_linear_pointwise", None) if torch.backends.mkldnn.is_available() else None
    if op is None:
        return False
    try:
        op(torch.ones(1, 2), torch.ones(3, 2), None, "none", [], "")
    except RuntimeError:  # the op exists but this build/CPU cannot run it
        return False
    return True


_ONEDNN_LINEAR = _onednn_linear_works()


def inference_linear(x: torch.Tensor, layer: nn.Linear, gelu: bool = False) -> torch.Tensor:
    """``layer(x)`` (then exact GELU if asked) for sampling: through oneDNN's fused linear where torch has it (about
    1.7x faster than the default BLAS on AMD CPUs), else :func:`torch.nn.functional.linear`."""
    if _ONEDNN_LINEAR:
        return torch.ops.mkldnn._linear_pointwise(x, layer.weight, layer.bias, "gelu" if gelu else "none", [],
                                                  "none" if gelu else "")
    y = F.linear(x, layer.weight, layer.bias)
    return F.gelu(y) if gelu else y


def _layer_norm(x: torch.Tensor, norm: nn.LayerNorm) -> torch.Tensor:
    return F.layer_norm(x, norm.normalized_shape, norm.weight, norm.bias, norm.eps)


class SelfAttention(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        assert cfg.n_embd % cfg.n_head == 0
        self.n_head = cfg.n_head
        self.qkv = nn.Linear(cfg.n_embd, 3 * cfg.n_embd)
        self.proj = nn.Linear(cfg.n_embd, cfg.n_embd)
        self.dropout = cfg.dropout
        self.resid_drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor):
        """Causal self-attention over the whole sequence; returns (output, (keys, values)) for a cache."""
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)
        q, k, v = (z.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for z in (q, k, v))
        drop = self.dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=drop, is_causal=T > 1)
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.resid_drop(self.proj(y)), (k, v)

    def forward_cached(self, x: torch.Tensor, cache: "KVCache", layer: int) -> torch.Tensor:
        """One new position per row (``x`` (B, C)): write its key/value at the cache's current index and attend
        to every cached position the row may see (inference only: no dropout)."""
        B, C = x.shape
        q, k, v = inference_linear(x, self.qkv).view(B, 3, self.n_head, C // self.n_head).unbind(1)
        return inference_linear(cache.attend(layer, q, k, v), self.proj)


class Block(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.n_embd)
        self.attn = SelfAttention(cfg)
        self.ln2 = nn.LayerNorm(cfg.n_embd)
        self.mlp = nn.Sequential(
            nn.Linear(cfg.n_embd, 4 * cfg.n_embd),
            nn.GELU(),
            nn.Linear(4 * cfg.n_embd, cfg.n_embd),
            nn.Dropout(cfg.dropout),
        )

    def forward(self, x):
        a, kv = self.attn(self.ln1(x))
        x = x + a
        x = x + self.mlp(self.ln2(x))
        return x, kv

    def forward_cached(self, x: torch.Tensor, cache: "KVCache", layer: int) -> torch.Tensor:
        """The block for one new position per row, reading and extending ``cache`` (see :class:`KVCache`)."""
        x = x + self.attn.forward_cached(_layer_norm(x, self.ln1), cache, layer)
        return x + inference_linear(inference_linear(_layer_norm(x, self.ln2), self.mlp[0], gelu=True), self.mlp[2])


class KVCache:
    """Keys and values of every layer for a batch of rows, for sampling one token per row per step.

    Stored transposed, (rows, heads, head_dim, capacity), and always used whole: the attention of a step is two
    batched matrix products over the full capacity with an additive bias that hides the unfilled positions. That keeps
    every operand contiguous, which on CPU is about twice as fast as attending to a slice of a larger buffer; the
    capacity grows by ``GROW`` positions at a time, so at most that many masked positions are wasted.

    All rows write the same index at each step (``length`` positions are filled). A row may be restarted
    (:meth:`restart`): its positions after the prefix are hidden by the bias, and it goes on writing at the shared
    index with its own position embedding, which gives exactly the attention of a fresh row. :meth:`keep` drops rows.
    """

    GROW = 32

    def __init__(self, keys: list[torch.Tensor], values: list[torch.Tensor], length: int):
        self.keys, self.values, self.length = keys, values, length
        rows, heads, _, capacity = keys[0].shape
        self.bias = keys[0].new_full((rows, heads, 1, capacity), -math.inf)  # 0 where a row may attend
        self.bias[..., :length] = 0.0

    @classmethod
    def empty(cls, n_layer: int, rows: int, n_head: int, head_dim: int, length: int) -> "KVCache":
        """A zeroed cache with room for ``length`` positions and one growth step more."""
        shape = (rows, n_head, head_dim, length + cls.GROW)
        return cls([torch.zeros(shape) for _ in range(n_layer)], [torch.zeros(shape) for _ in range(n_layer)], length)

    @property
    def rows(self) -> int:
        return self.keys[0].shape[0]

    @property
    def capacity(self) -> int:
        return self.keys[0].shape[3]

    def attend(self, layer: int, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """Store one position's keys/values (rows, heads, head_dim) at index ``length`` and return the attention
        output (rows, heads * head_dim) of the queries ``q`` over every position each row may see."""
        t = self.length
        keys, values = self.keys[layer], self.values[layer]
        keys[:, :, :, t] = k
        values[:, :, :, t] = v
        if layer == 0:
            self.bias[:, :, :, t] = 0.0
        scores = torch.matmul(q[:, :, None, :] * (q.shape[-1] ** -0.5), keys).add_(self.bias)
        out = torch.matmul(values, torch.softmax(scores, dim=-1).transpose(-1, -2))
        return out.view(out.shape[0], -1)

    def advance(self) -> None:
        """Called after a step has written every layer: the next step writes the next index."""
        self.length += 1
        if self.length == self.capacity:
            self._grow()

    def restart(self, rows: torch.Tensor, keep: int) -> None:
        """Hide every cached position at or after ``keep`` from ``rows`` (their next step writes a fresh token)."""
        self.bias[rows, :, :, keep : self.length] = -math.inf

    def keep(self, rows: torch.Tensor) -> None:
        """Keep only ``rows`` (an index tensor)."""
        for store in (self.keys, self.values):
            for layer, old in enumerate(store):
                store[layer] = old[rows]
        self.bias = self.bias[rows]

    def _grow(self) -> None:
        for store in (self.keys, self.values):
            for layer, old in enumerate(store):
                store[layer] = torch.cat([old, old.new_zeros(*old.shape[:3], self.GROW)], 3)
        self.bias = torch.cat([self.bias, self.bias.new_full((*self.bias.shape[:3], self.GROW), -math.inf)], 3)


class PropertyPrefix(nn.Module):
    """One prefix vector per property: MLP(standardised value) when present, a learned vector when absent."""

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.value_mlps = nn.ModuleList(
            nn.Sequential(nn.Linear(1, cfg.n_embd), nn.GELU(), nn.Linear(cfg.n_embd, cfg.n_embd))
            for _ in range(cfg.n_props)
        )
        self.absent = nn.Parameter(torch.zeros(cfg.n_props, cfg.n_embd))

    def forward(self, values: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
        """``values`` (B, P) standardised floats, ``present`` (B, P) bools -> (B, P, n_embd)."""
        if not self.value_mlps:  # a model without properties has an empty prefix
            return values.new_zeros(values.shape[0], 0, self.absent.shape[1])
        vecs = []
        for p, mlp in enumerate(self.value_mlps):
            v = mlp(torch.nan_to_num(values[:, p : p + 1]))
            vecs.append(torch.where(present[:, p : p + 1], v, self.absent[p].expand_as(v)))
        return torch.stack(vecs, dim=1)


class GPT(nn.Module):
    """Decoder-only transformer over SLICES tokens with a property prefix."""

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.cfg = cfg
        self.tok_emb = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        self.pos_emb = nn.Embedding(cfg.block_size, cfg.n_embd)
        self.prefix = PropertyPrefix(cfg)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(cfg.n_embd)
        self.head = nn.Linear(cfg.n_embd, cfg.vocab_size, bias=False)
        self.head.weight = self.tok_emb.weight  # weight tying
        self.apply(self._init)
        for name, p in self.named_parameters():
            if name.endswith("proj.weight") or name.endswith("mlp.2.weight"):
                nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * cfg.n_layer))

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, 0.0, 0.02)

    def n_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def forward(self, idx: torch.Tensor, values: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
        """Logits (B, T, V) for the next token after each of ``idx``'s (B, T) tokens (which start with BOS)."""
        x = self._embed_start(idx, values, present)
        for block in self.blocks:
            x, _ = block(x)
        return self.head(self.ln_f(x))[:, self.cfg.n_props :]

    def _embed_start(self, idx, values, present):
        B, T = idx.shape
        P = self.cfg.n_props
        if P + T > self.cfg.block_size:
            raise ValueError(f"sequence of {T} tokens exceeds the block size {self.cfg.block_size - P}")
        x = torch.cat([self.prefix(values, present), self.tok_emb(idx)], dim=1)
        return self.drop(x + self.pos_emb(torch.arange(P + T, device=idx.device)))

    @torch.no_grad()
    def start(self, values: torch.Tensor, present: torch.Tensor, bos_id: int) -> tuple[torch.Tensor, KVCache]:
        """Run the property prefix and BOS for each row; return (next-token logits (B, V), a cache holding them)."""
        idx = torch.full((values.shape[0], 1), bos_id, dtype=torch.long)
        x = self._embed_start(idx, values, present)
        B, T, C = x.shape
        cache = KVCache.empty(self.cfg.n_layer, B, self.cfg.n_head, C // self.cfg.n_head, T)
        for layer, block in enumerate(self.blocks):
            x, (k, v) = block(x)
            cache.keys[layer][..., :T] = k.transpose(-1, -2)
            cache.values[layer][..., :T] = v.transpose(-1, -2)
        return self.head(self.ln_f(x[:, -1])), cache

    @torch.no_grad()
    def step(self, tokens: torch.Tensor, positions: torch.Tensor, cache: KVCache) -> torch.Tensor:
        """Feed one token per row (``tokens`` (B,) at absolute ``positions`` (B,)); return the next-token logits
        (B, V). The tokens' keys and values are added to ``cache``."""
        x = self.tok_emb.weight[tokens] + self.pos_emb.weight[positions]
        for layer, block in enumerate(self.blocks):
            x = block.forward_cached(x, cache, layer)
        cache.advance()
        return inference_linear(_layer_norm(x, self.ln_f), self.head)
