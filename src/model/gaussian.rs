//! Diagonal-Gaussian helpers shared by every variant: reparameterised sampling, the KL
//! divergence to the standard normal (and between two diagonal Gaussians), and log densities.

use std::cell::RefCell;

use burn::tensor::{Distribution, Tensor, TensorData};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// `ln(2π)`.
pub const LN_2PI: f64 = 1.837_877_066_409_345_3;

thread_local! {
    /// This thread's own noise stream while [`with_noise_stream`] runs.
    static NOISE: RefCell<Option<ChaCha8Rng>> = const { RefCell::new(None) };
}

/// Run `f` with [`standard_noise`] drawing from a stream of this thread's own, seeded by
/// `seed`, instead of the device's shared generator. Work split over threads (the parts of
/// a batch in [`crate::train`]) draws the same noise whatever order the threads run in.
pub fn with_noise_stream<R>(seed: u64, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<ChaCha8Rng>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            NOISE.with(|n| *n.borrow_mut() = previous);
        }
    }
    let previous = NOISE.with(|n| n.replace(Some(ChaCha8Rng::seed_from_u64(seed))));
    let _restore = Restore(previous);
    f()
}

/// Draw standard-normal noise shaped like `like`, on its device: from the thread's stream
/// inside [`with_noise_stream`], else from the device's generator.
pub fn standard_noise<const D: usize>(like: &Tensor<D>) -> Tensor<D> {
    let shape = like.shape();
    let device = like.device();
    let drawn = NOISE.with(|n| {
        n.borrow_mut().as_mut().map(|rng| {
            let values: Vec<f32> = (0..shape.num_elements())
                .map(|_| rng.sample::<f32, _>(rand_distr::StandardNormal))
                .collect();
            TensorData::new(values, shape.clone())
        })
    });
    match drawn {
        Some(data) => Tensor::from_data(data, &device),
        None => Tensor::random(shape, Distribution::Normal(0.0, 1.0), &device),
    }
}

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
