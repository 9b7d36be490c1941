//! The VampPrior of Tomczak & Welling (2018): the prior is the mixture of the encoder's
//! posteriors at K learned pseudo-inputs u_k,
//! `p(z) = (1/K) Σ_k q(z | u_k)`, each component a diagonal Gaussian. Its log density, its
//! per-dimension marginals, and draws from it (a component picked uniformly, then a draw
//! of that component's Gaussian) for the `sample` command, the app's prior samples and
//! sample scoring. Models without pseudo-inputs fall back to N(0, I) throughout.

use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

use super::Vae;
use super::gaussian::{log_mean_exp, log_normal, log_std_normal, reparameterize};
use super::noise;
use crate::explore::prior_noise;

/// A chunk of the `[rows, K, d]` component densities stays under this many values.
pub const MIXTURE_CHUNK_VALUES: usize = 1 << 22;

/// Mixed into a seed for the stream that picks the components of [`prior_draws`], so the
/// picks do not reuse the Gaussian noise's stream.
const PICK_SALT: u64 = 0x7661_6d70_7072_696f;

impl Vae {
    /// The pseudo-inputs as the encoder sees them, clamped to `[0, 1]` (the authors'
    /// hard-tanh), `[K, values]`; `None` for a model without a VampPrior.
    pub fn pseudo_inputs(&self) -> Option<Tensor<2>> {
        self.pseudo.as_ref().map(|p| p.val().clamp(0.0, 1.0))
    }

    /// The VampPrior's components, the encoder's posteriors at the pseudo-inputs:
    /// `(μ_k, log σ²_k)`, each `[K, latent]`; `None` for a model without a VampPrior.
    pub fn vamp_components(&self) -> Option<(Tensor<2>, Tensor<2>)> {
        self.pseudo_inputs().map(|u| self.encode_image(u, None))
    }
}

/// Rows of z per chunk for `k` components of `d` dimensions (at least 1).
fn chunk_rows(k: usize, d: usize) -> usize {
    (MIXTURE_CHUNK_VALUES / (k * d).max(1)).max(1)
}

/// `log N(z_ij; μ_kj, σ²_kj)` for every row i of `z` `[n, d]`, component k and dimension
/// j: `[n, K, d]`.
fn component_log_densities(z: Tensor<2>, mu: Tensor<2>, logvar: Tensor<2>) -> Tensor<3> {
    let [n, d] = z.dims();
    let k = mu.dims()[0];
    log_normal(
        z.unsqueeze_dim::<3>(1).expand([n, k, d]),
        mu.unsqueeze_dim::<3>(0).expand([n, k, d]),
        logvar.unsqueeze_dim::<3>(0).expand([n, k, d]),
    )
}

/// The log density of each row of `z` `[n, d]` under the equal-weight mixture of the
/// diagonal Gaussians `N(μ_k, exp(log σ²_k))` (`mu`, `logvar` `[K, d]`):
/// `log (1/K) Σ_k Π_j N(z_j; μ_kj, σ²_kj)`, `[n]`.
pub fn mixture_log_density(z: Tensor<2>, mu: Tensor<2>, logvar: Tensor<2>) -> Tensor<1> {
    let rows = chunk_rows(mu.dims()[0], mu.dims()[1]);
    mixture_log_density_rows(z, mu, logvar, rows)
}

/// [`mixture_log_density`], `rows` rows of `z` at a time (the same values; bounds memory).
pub fn mixture_log_density_rows(
    z: Tensor<2>,
    mu: Tensor<2>,
    logvar: Tensor<2>,
    rows: usize,
) -> Tensor<1> {
    let parts: Vec<Tensor<1>> = z
        .split(rows.max(1), 0)
        .into_iter()
        .map(|part| {
            let n = part.dims()[0];
            let joint: Tensor<2> = component_log_densities(part, mu.clone(), logvar.clone())
                .sum_dim(2)
                .reshape([n, mu.dims()[0]]);
            log_mean_exp(joint, 1).reshape([n])
        })
        .collect();
    Tensor::cat(parts, 0)
}

/// The log density of each coordinate of `z` `[n, d]` under the mixture's marginal in its
/// dimension, `log (1/K) Σ_k N(z_j; μ_kj, σ²_kj)`, `[n, d]`.
pub fn mixture_log_marginals(z: Tensor<2>, mu: Tensor<2>, logvar: Tensor<2>) -> Tensor<2> {
    let [k, d] = mu.dims();
    let parts: Vec<Tensor<2>> = z
        .split(chunk_rows(k, d), 0)
        .into_iter()
        .map(|part| {
            let n = part.dims()[0];
            log_mean_exp(component_log_densities(part, mu.clone(), logvar.clone()), 1)
                .reshape([n, d])
        })
        .collect();
    Tensor::cat(parts, 0)
}

/// `log p(z)` of each row of `z` `[n, latent]` under the model's prior: the VampPrior of
/// its pseudo-inputs, or N(0, I) for a model without them. `[n]`.
pub fn log_prior(model: &Vae, z: Tensor<2>) -> Tensor<1> {
    let n = z.dims()[0];
    match model.vamp_components() {
        Some((mu, logvar)) => mixture_log_density(z, mu, logvar),
        None => log_std_normal(z).sum_dim(1).reshape([n]),
    }
}

/// The component each of `n` draws of [`prior_draws`] with `seed` takes, uniform over
/// `0..k` (`k` ≥ 1).
pub fn component_picks(seed: u64, n: usize, k: usize) -> Vec<usize> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ PICK_SALT);
    (0..n).map(|_| rng.random_range(0..k.max(1))).collect()
}

/// Values of a tensor on the host.
fn host(t: Tensor<2>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        // Invariant: the data was just converted to f32, so reading it as f32 cannot fail.
        .expect("converted tensor data is f32")
}

/// `n` draws of `d` dimensions from the model's prior, row-major, reproducible from `seed`:
/// for a VampPrior model, draw i picks component `c_i` ([`component_picks`]) and is
/// `μ_c + σ_c ε_i`; otherwise the draws are ε itself, N(0, I). ε is
/// [`prior_noise`]`(seed, n, d)` either way, so runs of different variants start from the
/// same noise. (`d` is the model's latent size.)
pub fn prior_draws(model: &Vae, seed: u64, n: usize, d: usize) -> Vec<f32> {
    let eps = prior_noise(seed, n, d);
    let Some((mu, logvar)) = model.vamp_components() else {
        return eps;
    };
    let [k, latent] = mu.dims();
    if latent != d {
        // Callers pass the latent size of the config that built the model; a mismatch
        // would index past the components, so the noise is returned as it is.
        return eps;
    }
    let (mu, logvar) = (host(mu), host(logvar));
    let picks = component_picks(seed, n, k);
    let mut z = eps;
    for (i, &c) in picks.iter().enumerate() {
        for j in 0..d {
            let e = &mut z[i * d + j];
            *e = mu[c * d + j] + (0.5 * logvar[c * d + j]).exp() * *e;
        }
    }
    z
}

/// `n` draws from the model's prior on `device`, from this thread's noise stream (see
/// [`noise::with_noise_stream`]): the VampPrior mixture, or N(0, I) for a model without
/// pseudo-inputs. `[n, d]`.
pub fn prior_sample(model: &Vae, n: usize, d: usize, device: &Device) -> Tensor<2> {
    let Some((mu, logvar)) = model.vamp_components() else {
        return noise::normal([n, d], 1.0, device);
    };
    let picks: Vec<i64> = noise::indices(n, mu.dims()[0])
        .into_iter()
        .map(|c| c as i64)
        .collect();
    let idx: Tensor<1, Int> = Tensor::from_data(TensorData::new(picks, [n]), device);
    let (m, lv) = (mu.select(0, idx.clone()), logvar.select(0, idx));
    let eps = noise::standard_noise(&m);
    reparameterize(m, lv, eps)
}
