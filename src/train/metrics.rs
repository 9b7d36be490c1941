//! Test-set metrics: −ELBO (nats/image), its reconstruction and KL terms, KL per latent
//! dimension, active units (Burda et al. 2015) and the IWAE bound as an NLL estimate; for
//! a two-layer model both KL terms, for a VQ-VAE codebook perplexity and dead codes.

use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::data::{Batch, Batcher, Split};
use crate::model::{Likelihood, Vae};
use crate::variant::{
    code_counts, elbo_parts, iwae_bound, two_layer_iwae, two_layer_parts, usage_from_counts,
};

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
    /// Structure-specific figures: `kl_z1`/`kl_z2` for a two-layer model,
    /// `perplexity`/`dead_codes` for a VQ-VAE.
    #[serde(default)]
    pub extra: Vec<(String, f64)>,
}

impl EvalMetrics {
    /// The value of a named extra figure.
    pub fn extra(&self, name: &str) -> Option<f64> {
        self.extra.iter().find(|(n, _)| n == name).map(|&(_, v)| v)
    }
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
    evaluate_with_codes(model, likelihood, split, device, batch_size, iwae_k).0
}

/// [`evaluate`], and the posterior means it computed on the way, one row per image in the
/// split's order (what [`encode_split`] gives as `mu`).
pub fn evaluate_with_codes(
    model: &Vae,
    likelihood: Likelihood,
    split: &Split,
    device: &Device,
    batch_size: usize,
    iwae_k: usize,
) -> (EvalMetrics, Vec<f32>) {
    let batcher = Batcher::new(device.clone());
    let n = split.len();
    let mut rec_sum = 0.0f64;
    let mut kl_dim_sum: Vec<f64> = Vec::new();
    let mut mu_sum: Vec<f64> = Vec::new();
    let mut mu_sq_sum: Vec<f64> = Vec::new();
    let mut se_sum = 0.0f64;
    let mut kl1_sum = 0.0f64;
    let mut code_counts_sum: Vec<f64> = Vec::new();
    let mut codes: Vec<f32> = Vec::new();
    for batch in batcher.sequential(split, batch_size.max(1)) {
        let x = batch.images.clone();
        let labels = Some(&batch.labels);
        let (rec, kl) = if model.top.is_some() {
            let t = two_layer_parts(model, likelihood, x.clone(), None, None);
            kl1_sum += host_vec(t.kl1.sum()).first().copied().unwrap_or(0.0) as f64;
            (t.rec, t.kl2)
        } else if let Some(book) = &model.codebook {
            // Deterministic codes and a uniform code prior: no KL term to report.
            let (z_e, _) = model.encode_image(x.clone(), None);
            let (q, idx) = model.quantize(z_e);
            if let Some(idx) = idx {
                let k = book.val().dims()[0];
                let counts = host_vec(code_counts(idx, k));
                code_counts_sum.resize(k, 0.0);
                for (acc, c) in code_counts_sum.iter_mut().zip(&counts) {
                    *acc += *c as f64;
                }
            }
            let rec = model.nll(likelihood, model.decode_image(q.clone(), None), x.clone());
            (rec, q.zeros_like())
        } else {
            elbo_parts(model, likelihood, x.clone(), labels, None)
        };
        rec_sum += host_vec(rec).iter().map(|&v| v as f64).sum::<f64>();
        let kl_cols = host_vec(kl.sum_dim(0));
        let (mu, _) = model.encode_with(x.clone(), labels);
        let d = mu.dims()[1];
        let recon = model.reconstruct(x.clone(), labels);
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
        codes.extend(mu);
    }
    let nf = n.max(1) as f64;
    let kl_per_dim: Vec<f64> = kl_dim_sum.iter().map(|s| s / nf).collect();
    let mean_variance: Vec<f64> = mu_sum
        .iter()
        .zip(&mu_sq_sum)
        .map(|(s, sq)| (sq / nf - (s / nf).powi(2)).max(0.0))
        .collect();
    let kl1 = kl1_sum / nf;
    let kl: f64 = kl_per_dim.iter().sum::<f64>() + kl1;
    let rec = rec_sum / nf;
    let mut extra = Vec::new();
    if model.top.is_some() {
        extra.push(("kl_z1".to_string(), kl1));
        extra.push(("kl_z2".to_string(), kl - kl1));
    }
    if !code_counts_sum.is_empty() {
        let usage = usage_from_counts(&code_counts_sum);
        extra.push(("perplexity".to_string(), usage.perplexity));
        extra.push(("dead_codes".to_string(), usage.dead as f64));
    }
    // A VQ-VAE has no likelihood bound to tighten.
    let iwae_nll = (iwae_k > 0 && model.codebook.is_none()).then(|| {
        let mut sum = 0.0f64;
        for batch in batcher.sequential(split, iwae_chunk(iwae_k, split.image_len())) {
            let b = iwae_of_batch(model, likelihood, batch, iwae_k);
            sum += host_vec(b).iter().map(|&v| v as f64).sum::<f64>();
        }
        -sum / nf
    });
    let metrics = EvalMetrics {
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
        extra,
    };
    (metrics, codes)
}

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
            } else if model.codebook.is_some() {
                let (z_e, _) = model.encode_image(x.clone(), None);
                let (q, _) = model.quantize(z_e);
                model.nll(likelihood, model.decode_image(q, None), x.clone())
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

/// The posterior q(z | x) = N(μ, diag σ²) of every image of a split, in the explored latent
/// space ([`Vae::encode_with`], labels given to a conditional model). Row-major `n × dim`.
#[derive(Debug, Clone, PartialEq)]
pub struct Posterior {
    /// Latent dimensions.
    pub dim: usize,
    /// Posterior means, `n × dim`.
    pub mu: Vec<f32>,
    /// Posterior log-variances, `n × dim` (0 for a VQ-VAE's deterministic codes).
    pub logvar: Vec<f32>,
}

impl Posterior {
    /// Images encoded.
    pub fn len(&self) -> usize {
        self.mu.len().checked_div(self.dim).unwrap_or(0)
    }

    /// Whether no image was encoded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The posterior mean of image `i` (`None` past the end).
    pub fn mean(&self, i: usize) -> Option<&[f32]> {
        self.mu.get(i * self.dim..(i + 1) * self.dim)
    }

    /// The mean over images of KL(q(z_j | x) ‖ N(0, 1)) per dimension `j`, in nats: the
    /// closed form ½ (μ² + σ² − 1 − log σ²).
    pub fn kl_per_dim(&self) -> Vec<f64> {
        let d = self.dim;
        let mut sum = vec![0.0f64; d];
        for (m, lv) in self.mu.chunks_exact(d).zip(self.logvar.chunks_exact(d)) {
            for j in 0..d {
                let (m, lv) = (m[j] as f64, lv[j] as f64);
                sum[j] += 0.5 * (m * m + lv.exp() - 1.0 - lv);
            }
        }
        let n = self.len().max(1) as f64;
        sum.into_iter().map(|s| s / n).collect()
    }
}

/// The name of the MIG in [`EvalMetrics::extra`].
pub const MIG: &str = "MIG";
/// The name of the FactorVAE score in [`EvalMetrics::extra`].
pub const FACTOR_VAE_SCORE: &str = "FactorVAE score";

/// On data with known factors of variation ([`crate::data::Dataset::factors`]): the MIG and
/// the FactorVAE score of the test images' posterior means `codes` (one row per test
/// image, as [`evaluate_with_codes`] gives them). `None` for other data.
pub fn disentanglement(
    codes: &[f32],
    data: &crate::data::Dataset,
) -> Option<crate::explore::Disentanglement> {
    let factors = data.factors.as_ref()?;
    let d = codes.len() / data.test.len().max(1);
    Some(crate::explore::disentanglement(
        codes,
        d,
        &factors.test_rows(),
    ))
}

impl EvalMetrics {
    /// Add the scores that were measured to [`EvalMetrics::extra`] (as [`MIG`] and
    /// [`FACTOR_VAE_SCORE`]).
    pub fn push_disentanglement(&mut self, d: &crate::explore::Disentanglement) {
        if let Some((mig, _)) = d.mig {
            self.extra.push((MIG.into(), mig));
        }
        if let Some(score) = d.factor_vae {
            self.extra.push((FACTOR_VAE_SCORE.into(), score));
        }
    }
}

/// Encode every image of `split` (in batches of `batch_size`) into its posterior.
pub fn encode_split(model: &Vae, split: &Split, device: &Device, batch_size: usize) -> Posterior {
    let batcher = Batcher::new(device.clone());
    let (mut mu, mut logvar, mut dim) = (Vec::new(), Vec::new(), 0);
    for batch in batcher.sequential(split, batch_size.max(1)) {
        let (m, lv) = model.encode_with(batch.images, Some(&batch.labels));
        dim = m.dims()[1];
        mu.extend(host_vec(m));
        logvar.extend(host_vec(lv));
    }
    Posterior { dim, mu, logvar }
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
                test: scores,
            }
        }
        _ => ShiftScores {
            shifted: per_image_scores(model, likelihood, &shifted_set, device, batch_size, iwae_k),
            normal: scores.clone(),
            test: scores,
        },
    })
}

/// Images per IWAE batch: each decode stays under ~16M floats (k · batch · pixels).
fn iwae_chunk(iwae_k: usize, image_len: usize) -> usize {
    (16_000_000 / (iwae_k * image_len).max(1)).max(1)
}

/// The IWAE bound with `k` samples of each image of `batch` (the two-layer model's own
/// bound for a two-layer model), `[batch]`.
fn iwae_of_batch(model: &Vae, likelihood: Likelihood, batch: Batch, k: usize) -> Tensor<1> {
    if model.top.is_some() {
        two_layer_iwae(model, likelihood, batch.images, k)
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
