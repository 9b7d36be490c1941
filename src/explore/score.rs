//! Per-image anomaly scores in nats: −ELBO averaged over samples of z, the −IWAE bound, or a
//! VQ-VAE's reconstruction term; of a test split and of a set shifted from it. The noise
//! they draw comes from [`crate::model::gaussian::standard_noise`]: callers that want
//! reproducible scores run them inside [`crate::model::gaussian::with_noise_stream`] (as
//! [`super::anomaly_report`] does).

use burn::tensor::{Device, Tensor};

use super::encode::host_vec;
use crate::data::{Batch, Batcher, Split};
use crate::model::{Likelihood, Vae};
use crate::variant::{
    elbo_parts, flow_iwae, flow_parts, iwae_bound, m2_iwae, marginal, two_layer_iwae,
    two_layer_parts, vamp_iwae, vamp_parts,
};

/// Independent ELBO samples averaged per image in [`per_image_scores`] (a lower-variance
/// estimate of the same ELBO).
pub const SCORE_ELBO_SAMPLES: usize = 8;

/// Per-image anomaly scores in nats: −ELBO (β = 1, averaged over [`SCORE_ELBO_SAMPLES`]
/// samples of z) when `iwae_k = 0`, else the −IWAE bound with `iwae_k` samples (tighter; a
/// better estimate of −log p(x)). A VQ-VAE scores by its reconstruction term alone (its
/// codes are deterministic and its code prior uniform). Higher = less typical.
pub fn per_image_scores(
    model: &Vae,
    likelihood: Likelihood,
    split: &Split,
    device: &Device,
    batch_size: usize,
    iwae_k: usize,
) -> Vec<f64> {
    let batcher = Batcher::new(device.clone());
    let mut out = Vec::with_capacity(split.len());
    if iwae_k > 0 && model.codebook.is_none() {
        let per = iwae_chunk(iwae_k, split.image_len()).min(batch_size.max(1));
        for batch in batcher.sequential(split, per) {
            let b = iwae_of_batch(model, likelihood, batch, iwae_k);
            out.extend(host_vec(b).iter().map(|&v| -(v as f64)));
        }
        return out;
    }
    for batch in batcher.sequential(split, batch_size.max(1)) {
        let x = batch.images;
        let b = x.dims()[0];
        let mut sum = vec![0.0f64; b];
        let samples = if model.codebook.is_some() {
            1
        } else {
            SCORE_ELBO_SAMPLES
        };
        for _ in 0..samples {
            let score: Tensor<1> = if model.top.is_some() {
                let t = two_layer_parts(model, likelihood, x.clone(), None, None);
                t.rec + t.kl1 + t.kl2.sum_dim(1).reshape([b])
            } else if model.flow.is_some() {
                let t = flow_parts(model, likelihood, x.clone(), None);
                t.rec + t.kl_base.sum_dim(1).reshape([b]) + t.kl_flow
            } else if model.codebook.is_some() {
                let (z_e, _) = model.encode_image(x.clone(), None);
                let (q, _) = model.quantize(z_e);
                model.nll(likelihood, model.decode_image(q, None), x.clone())
            } else if model.pseudo.is_some() {
                let t = vamp_parts(model, likelihood, x.clone(), None);
                t.rec + t.kl
            } else if model.classifier.is_some() {
                // M2: U(x), y summed out under q(y|x) (no label needed).
                let m = marginal(model, likelihood, x.clone(), None);
                m.rec + m.kl.sum_dim(1).reshape([b]) + m.kl_y
            } else {
                let (rec, kl) = elbo_parts(model, likelihood, x.clone(), Some(&batch.labels), None);
                rec + kl.sum_dim(1).reshape([b])
            };
            for (acc, v) in sum.iter_mut().zip(host_vec(score)) {
                *acc += v as f64;
            }
        }
        out.extend(sum.into_iter().map(|s| s / samples as f64));
    }
    out
}

/// Anomaly scores ([`per_image_scores`]) of a test split and of a set shifted from it.
#[derive(Debug, Clone, PartialEq)]
pub struct ShiftScores {
    /// The score of every image of the test split, in order (for a class shift this
    /// includes the held-out class).
    pub test: Vec<f64>,
    /// Scores of the in-distribution set: the whole test split, or for a class shift the
    /// test images of every other class.
    pub normal: Vec<f64>,
    /// Scores of the shifted set.
    pub shifted: Vec<f64>,
    /// The test indices of the in-distribution set, in `normal`'s order.
    pub normal_indices: Vec<usize>,
}

/// Score the in-distribution and shifted sets that `shift` makes from `test` (see
/// [`crate::data::Shift::split`]). A class shift scores the test split once and splits the
/// scores by label; the others score the test split and its transformed copy.
pub fn shift_scores(
    model: &Vae,
    likelihood: Likelihood,
    test: &Split,
    shift: crate::data::Shift,
    device: &Device,
    batch_size: usize,
    iwae_k: usize,
) -> Result<ShiftScores, crate::data::shift::ShiftError> {
    let (_, shifted_set) = shift.split(test)?;
    let scores = per_image_scores(model, likelihood, test, device, batch_size, iwae_k);
    Ok(match shift {
        crate::data::Shift::Class(k) => {
            let pick = |held: bool| -> Vec<f64> {
                scores
                    .iter()
                    .zip(&test.labels)
                    .filter(|(_, l)| (**l == k) == held)
                    .map(|(s, _)| *s)
                    .collect()
            };
            ShiftScores {
                normal: pick(false),
                shifted: pick(true),
                normal_indices: (0..test.len()).filter(|&i| test.labels[i] != k).collect(),
                test: scores,
            }
        }
        _ => ShiftScores {
            shifted: per_image_scores(model, likelihood, &shifted_set, device, batch_size, iwae_k),
            normal: scores.clone(),
            normal_indices: (0..test.len()).collect(),
            test: scores,
        },
    })
}

/// Images per IWAE batch: each decode stays under ~16M floats (k · batch · pixels).
pub fn iwae_chunk(iwae_k: usize, image_len: usize) -> usize {
    (16_000_000 / (iwae_k * image_len).max(1)).max(1)
}

/// The IWAE bound with `k` samples of each image of `batch` (the two-layer model's own
/// bound for a two-layer model, the VampPrior's log p(z) for a VampPrior model, the flow's
/// for a flow posterior; for M2, y summed out: [`m2_iwae`]), `[batch]`.
pub fn iwae_of_batch(model: &Vae, likelihood: Likelihood, batch: Batch, k: usize) -> Tensor<1> {
    if model.classifier.is_some() {
        m2_iwae(model, likelihood, batch.images, k)
    } else if model.top.is_some() {
        two_layer_iwae(model, likelihood, batch.images, k)
    } else if model.pseudo.is_some() {
        vamp_iwae(model, likelihood, batch.images, k, None)
    } else if model.flow.is_some() {
        flow_iwae(model, likelihood, batch.images, k)
    } else {
        iwae_bound(
            model,
            likelihood,
            batch.images,
            Some(&batch.labels),
            k,
            None,
        )
    }
}
