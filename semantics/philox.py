"""Philox-4x32-10 (Salmon et al., Random123) in vectorised numpy, and the
draws built from its bits: the one definition every backend reproduces
(runtime/opencl/cgen.py has the same function in OpenCL C).

A stream's state is two integers, (seed, calls): the key is the seed's two
32-bit halves, and a def's call advances `calls` by one. Draw number `draw`
of a call (numbered in the order the checker meets them) reads the counter
(block, draw, calls_lo, calls_hi), so a number depends on (seed, calls,
draw, element) only. Element e of a draw uses:
  bits, f32 uniform    word e % 4 of block e // 4
  f64 uniform          words 2(e % 2), 2(e % 2) + 1 of block e // 2
  f32 normal           words 2(e % 2), 2(e % 2) + 1 of block e // 2 (u1, u2)
  f64 normal           all four words of block e (u1 from 0-1, u2 from 2-3)
Normals are Box-Muller, sqrt(-2 log u1) cos(2 pi u2) with u1 in (0, 1],
computed in f64 and rounded to the dtype.

`first` numbers the elements from another start: a draw with first = f
gives elements f, f + 1, ... of the one numbering, so rank r of a data
parallel run draws exactly the elements of its own rows (dsl/parallel.py).
"""
from __future__ import annotations

import numpy as np

M0, M1 = 0xD2511F53, 0xCD9E8D57          # multipliers
W0, W1 = 0x9E3779B9, 0xBB67AE85          # key schedule (Weyl) constants
MASK32 = np.uint64(0xFFFFFFFF)
ROUNDS = 10


def philox4x32(ctr, key, rounds: int = ROUNDS):
    """ctr: four uint32 arrays (broadcast together), key: two uint32
    scalars or arrays; returns the four uint32 output words."""
    c0, c1, c2, c3 = (np.asarray(c, np.uint64) for c in ctr)
    k0, k1 = (np.asarray(k, np.uint64) for k in key)
    for r in range(rounds):
        if r:
            k0 = (k0 + np.uint64(W0)) & MASK32
            k1 = (k1 + np.uint64(W1)) & MASK32
        p0 = np.uint64(M0) * c0
        p1 = np.uint64(M1) * c2
        c0, c1, c2, c3 = ((p1 >> np.uint64(32)) ^ c1 ^ k0, p1 & MASK32,
                          (p0 >> np.uint64(32)) ^ c3 ^ k1, p0 & MASK32)
    return tuple(c.astype(np.uint32) for c in (c0, c1, c2, c3))


def _blocks(state, draw: int, start: int, stop: int) -> np.ndarray:
    """The output words of blocks start..stop-1 of one draw, shape (stop - start, 4)."""
    seed, calls = (int(v) & 0xFFFFFFFFFFFFFFFF for v in np.asarray(state).reshape(2))
    block = np.arange(start, stop, dtype=np.uint64)
    ctr = (block, np.uint64(draw & 0xFFFFFFFF), np.uint64(calls & 0xFFFFFFFF),
           np.uint64(calls >> 32))
    return np.stack(philox4x32(ctr, (seed & 0xFFFFFFFF, seed >> 32)), axis=1)


def words(state, draw: int, count: int, per: int, first: int = 0) -> np.ndarray:
    """`per` consecutive words for each of `count` elements first, first + 1,
    ..., shape (count, per): element e uses words per*e .. per*e + per - 1
    of the draw's word sequence (4 words a block)."""
    start, stop = per * first, per * (first + count)
    flat = _blocks(state, draw, start // 4, -(-stop // 4)).reshape(-1)
    flat = flat[start % 4:start % 4 + stop - start]
    return flat.reshape(count, per).astype(np.uint64)


def bits(state, draw: int, count: int, first: int = 0) -> np.ndarray:
    """Uniform integers in [0, 2**32), as i64."""
    return words(state, draw, count, 1, first)[:, 0].astype(np.int64)


def unit_f32(w) -> np.ndarray:
    """[0, 1) from the top 24 bits of a word: exact in f32."""
    return ((w >> np.uint64(8)).astype(np.float64) * 2.0 ** -24)


def unit_f64(w0, w1) -> np.ndarray:
    """[0, 1) from 53 bits of two words (27 + 26), as numpy's RandomState."""
    a, b = (w0 >> np.uint64(5)).astype(np.float64), (w1 >> np.uint64(6)).astype(np.float64)
    return (a * 67108864.0 + b) * 2.0 ** -53


def uniform(state, draw: int, count: int, dtype: str, low=0.0, high=1.0,
            first: int = 0) -> np.ndarray:
    """low + (high - low) u. For f32 the product of two 24-bit significands
    is exact in f64, so the one rounding gives the same bits with or
    without a fused multiply-add."""
    if dtype == "f32":
        u = unit_f32(words(state, draw, count, 1, first)[:, 0])
        span = np.float64(np.float32(high) - np.float32(low))
        return (np.float64(np.float32(low)) + span * u).astype(np.float32)
    w = words(state, draw, count, 2, first)
    u = unit_f64(w[:, 0], w[:, 1])
    return np.float64(low) + (np.float64(high) - np.float64(low)) * u


def normal(state, draw: int, count: int, dtype: str, mean=0.0, std=1.0,
           first: int = 0) -> np.ndarray:
    if dtype == "f32":
        w = words(state, draw, count, 2, first)
        u1 = unit_f32(w[:, 0]) + 2.0 ** -24
        u2 = unit_f32(w[:, 1])
    else:
        w = words(state, draw, count, 4, first)
        u1 = unit_f64(w[:, 0], w[:, 1]) + 2.0 ** -53
        u2 = unit_f64(w[:, 2], w[:, 3])
    z = np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)
    if dtype == "f32":      # std * z exact in f64, as for uniform
        z = z.astype(np.float32).astype(np.float64)
        return (np.float64(np.float32(mean)) + np.float64(np.float32(std)) * z).astype(np.float32)
    return np.float64(mean) + np.float64(std) * z
