//! Diagonal-Gaussian helpers shared by every variant: reparameterised sampling, the KL
//! divergence to the standard normal (and between two diagonal Gaussians), and log densities.

use burn::tensor::Tensor;

pub use super::noise::{standard_noise, with_noise_stream};

/// `ln(2π)`.
pub const LN_2PI: f64 = 1.837_877_066_409_345_3;

/// The reparameterisation trick: `z = μ + ε · exp(½ log σ²)` with the given noise `ε`.
pub fn reparameterize<const D: usize>(
    mu: Tensor<D>,
    logvar: Tensor<D>,
    eps: Tensor<D>,
) -> Tensor<D> {
    mu + eps * logvar.mul_scalar(0.5).exp()
}

/// Per-element `KL(N(μ, σ²) ‖ N(0, 1)) = ½ (μ² + σ² − 1 − log σ²)`.
pub fn kl_std_normal<const D: usize>(mu: Tensor<D>, logvar: Tensor<D>) -> Tensor<D> {
    (mu.square() + logvar.clone().exp() - logvar)
        .sub_scalar(1.0)
        .mul_scalar(0.5)
}

/// Per-element `KL(N(μ₁, σ₁²) ‖ N(μ₂, σ₂²))` for diagonal Gaussians given log-variances.
pub fn kl_normal<const D: usize>(
    mu1: Tensor<D>,
    logvar1: Tensor<D>,
    mu2: Tensor<D>,
    logvar2: Tensor<D>,
) -> Tensor<D> {
    let var_ratio = (logvar1.clone() - logvar2.clone()).exp();
    let mean_term = (mu1 - mu2).square() / logvar2.clone().exp();
    (var_ratio + mean_term - logvar1 + logvar2)
        .sub_scalar(1.0)
        .mul_scalar(0.5)
}

/// Per-element log density of `x` under `N(μ, exp(logvar))`.
pub fn log_normal<const D: usize>(x: Tensor<D>, mu: Tensor<D>, logvar: Tensor<D>) -> Tensor<D> {
    let sq = (x - mu).square() / logvar.clone().exp();
    (sq + logvar).add_scalar(LN_2PI).mul_scalar(-0.5)
}

/// Per-element log density of `x` under the standard normal.
pub fn log_std_normal<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    x.square().add_scalar(LN_2PI).mul_scalar(-0.5)
}

/// Numerically stable `log(mean(exp(x)))` along `dim`: `m + log(mean(exp(x − m)))` with
/// `m` the maximum along `dim` (kept as a size-1 dimension).
pub fn log_mean_exp<const D: usize>(x: Tensor<D>, dim: usize) -> Tensor<D> {
    let n = x.dims()[dim] as f64;
    let m = x.clone().max_dim(dim).detach();
    (x - m.clone()).exp().sum_dim(dim).log().sub_scalar(n.ln()) + m
}
