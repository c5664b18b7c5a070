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


class SelfAttention(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        assert cfg.n_embd % cfg.n_head == 0
        self.n_head = cfg.n_head
        self.qkv = nn.Linear(cfg.n_embd, 3 * cfg.n_embd)
        self.proj = nn.Linear(cfg.n_embd, cfg.n_embd)
        self.dropout = cfg.dropout
        self.resid_drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, past: tuple[torch.Tensor, torch.Tensor] | None = None):
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)
        q, k, v = (z.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for z in (q, k, v))
        if past is not None:
            k = torch.cat([past[0], k], dim=2)
            v = torch.cat([past[1], v], dim=2)
        # with a cache the new queries come after every cached key, so causality only matters within x itself
        causal = past is None and T > 1
        if past is not None and T > 1:
            raise ValueError("cached attention takes one new position at a time")
        drop = self.dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=drop, is_causal=causal)
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.resid_drop(self.proj(y)), (k, v)


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

    def forward(self, x, past=None):
        a, kv = self.attn(self.ln1(x), past)
        x = x + a
        x = x + self.mlp(self.ln2(x))
        return x, kv


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
    def start(self, idx: torch.Tensor, values: torch.Tensor, present: torch.Tensor):
        """Run the prefix and first tokens; return (logits of the last position (B, V), key/value cache)."""
        x = self._embed_start(idx, values, present)
        cache = []
        for block in self.blocks:
            x, kv = block(x)
            cache.append(kv)
        return self.head(self.ln_f(x[:, -1])), cache

    @torch.no_grad()
    def step(self, token: torch.Tensor, position: int, cache: list):
        """Feed one token (B,) at absolute ``position``; return (logits (B, V), updated cache)."""
        x = self.tok_emb(token[:, None]) + self.pos_emb.weight[position]
        new_cache = []
        for block, past in zip(self.blocks, cache):
            x, kv = block(x, past)
            new_cache.append(kv)
        return self.head(self.ln_f(x[:, -1])), new_cache
