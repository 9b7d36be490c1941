//! Test-set metrics: −ELBO (nats/image), its reconstruction and KL terms, KL per latent
//! dimension, active units (Burda et al. 2015) and the IWAE bound as an NLL estimate; for
//! a two-layer model both KL terms, for a VQ-VAE codebook perplexity and dead codes.

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use super::config::TrainConfig;
use crate::data::{Batcher, Split};
use crate::explore::{code_variance, iwae_chunk, iwae_of_batch};
use crate::model::noise::{Purpose, stream_seed, with_noise_stream};
use crate::model::{Likelihood, Vae};
use crate::variant::{
    code_counts, correct_predictions, elbo_parts, flow_parts, marginal, two_layer_parts,
    usage_from_counts, vamp_kl_per_dim, vamp_parts,
};

// What the CLI and the app compute from a model's codes and scores lives in
// [`crate::explore`]; these names stay here for the training code that uses them.
pub use crate::explore::{
    ACTIVE_UNIT_THRESHOLD, Posterior, SCORE_ELBO_SAMPLES, ShiftScores, encode_split, host_vec,
    per_image_scores, shift_scores,
};

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
    /// Variance over the test set of E_q\[z_j\] per dimension.
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
    /// `perplexity`/`dead_codes` for a VQ-VAE, `kl_y` (KL(q(y|x) ‖ p(y))) and `accuracy`
    /// (of the classifier q(y|x) on the split's labels) for M2.
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

/// Evaluate a run's weights `model` at `step` on `data`'s test split as training evaluates
/// them: its samples from the run's evaluation stream for that step ([`Purpose::Eval`]: the
/// same weights evaluate the same, whoever asks), and on data with known factors of
/// variation the MIG and the FactorVAE score (in [`EvalMetrics::extra`]). `iwae_k = 0`
/// skips the IWAE bound.
pub fn evaluate_run(
    model: &Vae,
    cfg: &TrainConfig,
    step: u64,
    data: &crate::data::Dataset,
    device: &Device,
    iwae_k: usize,
) -> EvalMetrics {
    let (mut m, scores) = evaluate_run_scored(model, cfg, step, data, device, iwae_k);
    if let Some(scores) = scores {
        m.push_disentanglement(&scores);
    }
    m
}

/// [`evaluate_run`] with the disentanglement scores apart (with the MIG's per-factor gaps),
/// where the data has known factors.
pub fn evaluate_run_scored(
    model: &Vae,
    cfg: &TrainConfig,
    step: u64,
    data: &crate::data::Dataset,
    device: &Device,
    iwae_k: usize,
) -> (EvalMetrics, Option<crate::explore::Disentanglement>) {
    let seed = stream_seed(cfg.seed, Purpose::Eval, &[step]);
    let (m, codes) = with_noise_stream(seed, || {
        evaluate_with_codes(model, cfg.model.likelihood, &data.test, device, 500, iwae_k)
    });
    let scores = disentanglement(&codes, data);
    (m, scores)
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
    let mut se_sum = 0.0f64;
    let mut kl1_sum = 0.0f64;
    let mut flow_sum = 0.0f64;
    let mut code_counts_sum: Vec<f64> = Vec::new();
    let mut codes: Vec<f32> = Vec::new();
    // M2: KL of the label and correct classifications, summed.
    let (mut kl_y_sum, mut correct) = (0.0f64, 0usize);
    let m2 = model.classifier.is_some();
    for batch in batcher.sequential(split, batch_size.max(1)) {
        let x = batch.images.clone();
        // M2 is evaluated without the labels: y summed out under q(y|x), codes and
        // reconstructions under its predicted class.
        let labels = (!m2).then_some(&batch.labels);
        let (rec, kl) = if model.top.is_some() {
            let t = two_layer_parts(model, likelihood, x.clone(), None, None);
            kl1_sum += host_vec(t.kl1.sum()).first().copied().unwrap_or(0.0) as f64;
            (t.rec, t.kl2)
        } else if model.flow.is_some() {
            let t = flow_parts(model, likelihood, x.clone(), None);
            flow_sum += host_vec(t.kl_flow.sum()).first().copied().unwrap_or(0.0) as f64;
            (t.rec, t.kl_base)
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
        } else if model.pseudo.is_some() {
            // Per dimension, the KL against the prior's marginal there; what the joint
            // KL adds to their sum (the mixture's dimensions are dependent) is kept with
            // the lower layer's term, so that `kl` is the joint KL.
            let t = vamp_parts(model, likelihood, x.clone(), None);
            let dims = vamp_kl_per_dim(model, &t);
            let b = x.dims()[0];
            let shared = t.kl - dims.clone().sum_dim(1).reshape([b]);
            kl1_sum += host_vec(shared.sum()).first().copied().unwrap_or(0.0) as f64;
            (t.rec, dims)
        } else if m2 {
            let m = marginal(model, likelihood, x.clone(), None);
            kl_y_sum += host_vec(m.kl_y.sum()).first().copied().unwrap_or(0.0) as f64;
            correct += correct_predictions(model, x.clone(), &batch.labels).unwrap_or(0);
            (m.rec, m.kl)
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
        if kl_dim_sum.is_empty() {
            kl_dim_sum = vec![0.0; d];
        }
        for (acc, v) in kl_dim_sum.iter_mut().zip(&kl_cols) {
            *acc += *v as f64;
        }
        codes.extend(host_vec(mu));
    }
    let nf = n.max(1) as f64;
    let kl_per_dim: Vec<f64> = kl_dim_sum.iter().map(|s| s / nf).collect();
    // The same statistic the app and `traverse` rank dimensions by.
    let mean_variance = code_variance(&codes, kl_dim_sum.len());
    let kl1 = kl1_sum / nf;
    let kl_flow = flow_sum / nf;
    let kl_y = kl_y_sum / nf;
    let kl: f64 = kl_per_dim.iter().sum::<f64>() + kl1 + kl_flow + kl_y;
    let rec = rec_sum / nf;
    let mut extra = Vec::new();
    if model.top.is_some() {
        extra.push(("kl_z1".to_string(), kl1));
        extra.push(("kl_z2".to_string(), kl - kl1));
    }
    if model.pseudo.is_some() {
        extra.push(("kl_dependence".to_string(), kl1));
    }
    if model.flow.is_some() {
        extra.push(("kl_base".to_string(), kl - kl_flow));
        extra.push(("kl_flow".to_string(), kl_flow));
    }
    if m2 {
        extra.push(("kl_y".to_string(), kl_y));
        extra.push(("accuracy".to_string(), correct as f64 / nf));
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
