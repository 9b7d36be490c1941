//! Test-set metrics: −ELBO (nats/image), its reconstruction and KL terms, KL per latent
//! dimension, active units (Burda et al. 2015) and the IWAE bound as an NLL estimate.

use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::data::{Batcher, Split};
use crate::model::{Likelihood, Vae};
use crate::variant::{elbo_parts, iwae_bound};

/// The variance threshold above which a latent dimension counts as active.
pub const ACTIVE_UNIT_THRESHOLD: f64 = 0.01;

/// Copy a float tensor to the host.
pub fn host_vec<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        // Invariant: the data was just converted to f32, so reading it as f32 cannot fail.
        .expect("converted tensor data is f32")
}

/// Metrics of a model on a test split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalMetrics {
    /// Images evaluated.
    pub images: usize,
    /// −ELBO in nats per image (β = 1, one sample of z per image).
    pub neg_elbo: f64,
    /// Reconstruction term −E_q[log p(x|z)], nats per image.
    pub rec: f64,
    /// KL(q(z|x) ‖ p(z)), nats per image.
    pub kl: f64,
    /// KL per latent dimension, nats per image.
    pub kl_per_dim: Vec<f64>,
    /// Variance over the test set of E_q[z_j] per dimension.
    pub mean_variance: Vec<f64>,
    /// Dimensions with variance above [`ACTIVE_UNIT_THRESHOLD`].
    pub active_units: usize,
    /// Mean squared error of the mean reconstruction, per pixel.
    pub mse: f64,
    /// Importance samples used for the IWAE bound (0 if not computed).
    pub iwae_k: usize,
    /// −IWAE bound in nats per image: an upper bound on −log p(x), the NLL estimate.
    pub iwae_nll: Option<f64>,
}

/// Evaluate `model` on `split`. `iwae_k = 0` skips the IWAE bound.
pub fn evaluate(
    model: &Vae,
    likelihood: Likelihood,
    split: &Split,
    device: &Device,
    batch_size: usize,
    iwae_k: usize,
) -> EvalMetrics {
    let batcher = Batcher::new(device.clone());
    let n = split.len();
    let mut rec_sum = 0.0f64;
    let mut kl_dim_sum: Vec<f64> = Vec::new();
    let mut mu_sum: Vec<f64> = Vec::new();
    let mut mu_sq_sum: Vec<f64> = Vec::new();
    let mut se_sum = 0.0f64;
    for batch in batcher.sequential(split, batch_size.max(1)) {
        let x = batch.images.clone();
        let (rec, kl) = elbo_parts(model, likelihood, x.clone(), None);
        rec_sum += host_vec(rec).iter().map(|&v| v as f64).sum::<f64>();
        let d = kl.dims()[1];
        let kl_cols = host_vec(kl.sum_dim(0));
        let (mu, _) = model.encode(x.clone());
        let recon = model.decode_mean(mu.clone());
        se_sum += host_vec((recon - x).square().sum())
            .first()
            .copied()
            .unwrap_or(0.0) as f64;
        let mu = host_vec(mu);
        if kl_dim_sum.is_empty() {
            kl_dim_sum = vec![0.0; d];
            mu_sum = vec![0.0; d];
            mu_sq_sum = vec![0.0; d];
        }
        for (acc, v) in kl_dim_sum.iter_mut().zip(&kl_cols) {
            *acc += *v as f64;
        }
        for row in mu.chunks(d) {
            for j in 0..d {
                mu_sum[j] += row[j] as f64;
                mu_sq_sum[j] += (row[j] as f64).powi(2);
            }
        }
    }
    let nf = n.max(1) as f64;
    let kl_per_dim: Vec<f64> = kl_dim_sum.iter().map(|s| s / nf).collect();
    let mean_variance: Vec<f64> = mu_sum
        .iter()
        .zip(&mu_sq_sum)
        .map(|(s, sq)| (sq / nf - (s / nf).powi(2)).max(0.0))
        .collect();
    let kl: f64 = kl_per_dim.iter().sum();
    let rec = rec_sum / nf;
    let iwae_nll = (iwae_k > 0).then(|| {
        // Keep each decode under ~16M floats: k · batch · pixels.
        let per = (16_000_000 / (iwae_k * split.image_len()).max(1)).max(1);
        let mut sum = 0.0f64;
        for batch in batcher.sequential(split, per) {
            let b = iwae_bound(model, likelihood, batch.images, iwae_k, None);
            sum += host_vec(b).iter().map(|&v| v as f64).sum::<f64>();
        }
        -sum / nf
    });
    EvalMetrics {
        images: n,
        neg_elbo: rec + kl,
        rec,
        kl,
        active_units: mean_variance
            .iter()
            .filter(|&&v| v > ACTIVE_UNIT_THRESHOLD)
            .count(),
        kl_per_dim,
        mean_variance,
        mse: se_sum / (nf * split.image_len().max(1) as f64),
        iwae_k,
        iwae_nll,
    }
}
