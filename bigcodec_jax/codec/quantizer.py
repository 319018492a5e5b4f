"""Residual stack of factorised vector quantisers (official `ResidualVQ` of `FactorizedVectorQuantize`).

Each quantiser projects the residual to a low-dimensional space, picks the nearest codebook row
by cosine similarity, and projects the (un-normalised) row back. Code search always runs in
float32 at full matmul precision, so codes do not depend on the compute dtype or the backend's
default matmul precision.
"""
from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from bigcodec_jax.nn.weight_norm import WNDense


def l2_normalize(x: jax.Array, eps: float = 1e-12) -> jax.Array:
    """`x / max(||x||, eps)` over the last axis (PyTorch's `F.normalize`)."""
    return x / jnp.maximum(jnp.linalg.norm(x, axis=-1, keepdims=True), eps)


def nearest_code(z_e: jax.Array, codebook: jax.Array) -> jax.Array:
    """Index of the codebook row nearest to each vector of `z_e (..., D)` after L2 normalisation.

    Uses the official expression `|e|^2 - 2 e.c + |c|^2`; ties go to the lowest index.
    """
    e = l2_normalize(z_e.astype(jnp.float32))
    c = l2_normalize(codebook.astype(jnp.float32))
    dot = jnp.einsum("...d,nd->...n", e, c, precision=jax.lax.Precision.HIGHEST)
    dist = jnp.sum(e * e, axis=-1, keepdims=True) - 2 * dot + jnp.sum(c * c, axis=-1)
    return jnp.argmax(-dist, axis=-1).astype(jnp.int32)


class FactorizedVQ(nn.Module):
    """One factorised VQ on `(B, F, dim)`: returns the straight-through output, codes `(B, F)` and its loss."""

    dim: int
    codebook_size: int
    codebook_dim: int
    commitment: float
    dtype: jnp.dtype = jnp.float32

    def setup(self):
        if self.dim != self.codebook_dim:  # the official code uses identities when the sizes agree
            self.in_proj = WNDense(self.codebook_dim, self.dtype)
            self.out_proj = WNDense(self.dim, self.dtype)
        self.codebook = self.param("codebook", nn.initializers.normal(1.0), (self.codebook_size, self.codebook_dim))

    def _project_out(self, z: jax.Array) -> jax.Array:
        return self.out_proj(z) if self.dim != self.codebook_dim else z.astype(self.dtype)

    def __call__(self, z: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
        z_e = self.in_proj(z) if self.dim != self.codebook_dim else z.astype(self.dtype)
        z_e = z_e.astype(jnp.float32)
        codes = nearest_code(z_e, self.codebook)
        z_q = self.codebook[codes]
        per_example = lambda a: jnp.mean(a, axis=(1, 2))  # noqa: E731
        loss = jnp.mean(self.commitment * per_example((z_e - jax.lax.stop_gradient(z_q)) ** 2)
                        + per_example((z_q - jax.lax.stop_gradient(z_e)) ** 2))
        z_st = z_e + jax.lax.stop_gradient(z_q - z_e)  # straight-through estimator
        return self._project_out(z_st), codes, loss

    def embed(self, codes: jax.Array) -> jax.Array:
        """`out_proj(codebook[codes])` for codes `(B, F)`."""
        return self._project_out(self.codebook[codes])


class ResidualVQ(nn.Module):
    """Quantises the residual left by each quantiser in turn and sums their outputs."""

    num_quantizers: int
    dim: int
    codebook_size: int
    codebook_dim: int
    commitment: float
    dtype: jnp.dtype = jnp.float32

    def setup(self):
        self.layers = [FactorizedVQ(self.dim, self.codebook_size, self.codebook_dim, self.commitment, self.dtype,
                                    name=f"layer_{i}") for i in range(self.num_quantizers)]

    def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
        """`x (B, F, dim)` -> (quantised `(B, F, dim)`, codes `(B, n_q, F)` int32, losses `(n_q,)`)."""
        residual, out = x, 0.0
        all_codes, losses = [], []
        for layer in self.layers:
            quantized, codes, loss = layer(residual)
            residual = residual - quantized
            out = out + quantized
            all_codes.append(codes)
            losses.append(loss)
        return out, jnp.stack(all_codes, axis=1), jnp.stack(losses)

    def embed(self, codes: jax.Array) -> jax.Array:
        """Sum over quantisers of `out_proj(codebook[codes])`, codes `(B, n_q, F)`."""
        return sum(layer.embed(codes[:, i]) for i, layer in enumerate(self.layers))
