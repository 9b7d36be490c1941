//! The amortisation gap per image: how much the encoder's one-shot posterior q(z | x) loses
//! against importance sampling from it, measured as (−ELBO) − (−IWAE_k) = IWAE_k − ELBO,
//! both from the same k samples of z per image. By Jensen's inequality the log-mean-exp of
//! k log-weights is at least their mean, so every image's gap is ≥ 0 (0 at k = 1) and it
//! grows towards log p(x) − ELBO = KL(q(z|x) ‖ p(z|x)) as k grows: the images with the
//! largest gap are the ones the encoder serves worst.

use burn::tensor::{Device, Int, Tensor};

use super::anomaly::rank_by_score;
use super::encode::host_vec;
use super::score::iwae_chunk;
use crate::data::{Batcher, Split};
use crate::model::gaussian::with_noise_stream;
use crate::model::{Likelihood, Vae};
use crate::variant::iwae_log_weights;

/// Most importance samples per image the gap may be asked for (each image is decoded k
/// times).
pub const MAX_GAP_SAMPLES: usize = 1000;

/// Why the gap could not be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GapError {
    /// k outside 1..=[`MAX_GAP_SAMPLES`].
    #[error("the amortisation gap needs 1 to {MAX_GAP_SAMPLES} samples per image, not {0}")]
    Samples(usize),
    /// A VQ-VAE's codes are deterministic: there is no posterior to sample.
    #[error("a VQ-VAE has no Gaussian posterior, so no amortisation gap")]
    NoPosterior,
    /// A two-layer model's bound runs over both layers; the gap is of one-layer models.
    #[error("the amortisation gap is computed for one-layer models; this one has two")]
    TwoLayer,
    /// A VampPrior model's bound uses its mixture prior, not the N(0, I) of this estimate.
    #[error("the amortisation gap is computed under the N(0, I) prior; this model has a VampPrior")]
    VampPrior,
    /// A flow posterior's density is not the Gaussian the gap's log-weights use.
    #[error("the amortisation gap is computed for Gaussian posteriors; this one has a flow")]
    Flow,
    /// Nothing to score.
    #[error("no images to score")]
    NoImages,
}

/// Per image, the ELBO and the IWAE bound with `k` samples from the same log-weights `w`
/// (`[k, batch]` row-major, sample-major), in f64: `(mean_i w_i, log (1/k) Σ_i e^{w_i})`.
pub fn bounds_from_log_weights(w: &[f32], k: usize, batch: usize) -> Vec<(f64, f64)> {
    (0..batch)
        .map(|j| {
            let col: Vec<f64> = (0..k)
                .filter_map(|i| w.get(i * batch + j))
                .map(|&v| v as f64)
                .collect();
            let n = col.len().max(1) as f64;
            let mean = col.iter().sum::<f64>() / n;
            let max = col.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let lme = if max.is_finite() {
                max + (col.iter().map(|v| (v - max).exp()).sum::<f64>() / n).ln()
            } else {
                max
            };
            (mean, lme)
        })
        .collect()
}

/// The ELBO and IWAE-bound pairs ([`bounds_from_log_weights`]) of the images `x` under a
/// one-layer Gaussian `model`, from `k` samples each (`eps` `[k, batch, latent]`, drawn
/// from the current noise stream when `None`).
pub fn bounds_of_batch(
    model: &Vae,
    likelihood: Likelihood,
    x: Tensor<2>,
    labels: Option<&Tensor<1, Int>>,
    k: usize,
    eps: Option<Tensor<3>>,
) -> Vec<(f64, f64)> {
    let b = x.dims()[0];
    let w = host_vec(iwae_log_weights(model, likelihood, x, labels, k, eps));
    bounds_from_log_weights(&w, k, b)
}

/// The amortisation gap of the first images of a split.
#[derive(Debug, Clone, PartialEq)]
pub struct GapReport {
    /// Samples of z per image.
    pub k: usize,
    /// The seed of the noise stream the samples came from.
    pub seed: u64,
    /// Per image (test index order): the ELBO estimate, nats (mean of the k log-weights).
    pub elbo: Vec<f64>,
    /// Per image: the IWAE bound with k samples, nats.
    pub iwae: Vec<f64>,
}

impl GapReport {
    /// Images scored.
    pub fn len(&self) -> usize {
        self.elbo.len()
    }

    /// Whether no image was scored.
    pub fn is_empty(&self) -> bool {
        self.elbo.is_empty()
    }

    /// Every image's gap, (−ELBO) − (−IWAE_k), nats.
    pub fn gaps(&self) -> Vec<f64> {
        self.elbo
            .iter()
            .zip(&self.iwae)
            .map(|(e, i)| i - e)
            .collect()
    }

    /// The mean gap over the images, nats (NaN when none).
    pub fn mean_gap(&self) -> f64 {
        let g = self.gaps();
        g.iter().sum::<f64>() / g.len() as f64
    }

    /// The `n` images with the largest gap (the encoder serves them worst), as
    /// `(test index, gap)`, the largest first.
    pub fn worst(&self, n: usize) -> Vec<(usize, f64)> {
        let g = self.gaps();
        rank_by_score(&g)
            .into_iter()
            .take(n)
            .map(|i| (i, g[i]))
            .collect()
    }
}

/// The amortisation gap of the first `images` images of `split` (all if it has fewer) under
/// `model`, with `k` samples per image from the noise stream `seed` (the same seed gives the
/// same gaps).
pub fn amortisation_gaps(
    model: &Vae,
    likelihood: Likelihood,
    split: &Split,
    images: usize,
    k: usize,
    seed: u64,
    device: &Device,
) -> Result<GapReport, GapError> {
    if k == 0 || k > MAX_GAP_SAMPLES {
        return Err(GapError::Samples(k));
    }
    if model.codebook.is_some() {
        return Err(GapError::NoPosterior);
    }
    if model.top.is_some() {
        return Err(GapError::TwoLayer);
    }
    if model.pseudo.is_some() {
        return Err(GapError::VampPrior);
    }
    if model.flow.is_some() {
        return Err(GapError::Flow);
    }
    let n = images.min(split.len());
    if n == 0 {
        return Err(GapError::NoImages);
    }
    let part = split.take(n);
    let per = iwae_chunk(k, split.image_len());
    let batcher = Batcher::new(device.clone());
    let pairs: Vec<(f64, f64)> = with_noise_stream(seed, || {
        batcher
            .sequential(&part, per)
            .flat_map(|b| bounds_of_batch(model, likelihood, b.images, Some(&b.labels), k, None))
            .collect()
    });
    let (elbo, iwae) = pairs.into_iter().unzip();
    Ok(GapReport {
        k,
        seed,
        elbo,
        iwae,
    })
}
