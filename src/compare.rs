//! Train several variants on the same data, seed and budget, and tabulate their metrics.

use std::sync::Arc;
use std::time::Instant;

use burn::tensor::Device;
use serde::Serialize;

use crate::data::Dataset;
use crate::train::{TrainConfig, TrainError, Trainer};
use crate::variant::VariantKind;

/// One variant's results.
#[derive(Debug, Clone, Serialize)]
pub struct CompareRow {
    /// The variant.
    pub variant: VariantKind,
    /// Test −ELBO (nats/image), where the variant optimises a likelihood bound.
    pub neg_elbo: Option<f64>,
    /// Test IWAE NLL estimate (nats/image), where defined.
    pub iwae_nll: Option<f64>,
    /// Mean squared error of mean reconstructions, per pixel.
    pub mse: f64,
    /// Reconstruction BCE (Bernoulli NLL of the data, summed over pixels), nats/image.
    pub bce: f64,
    /// Active units (of the latent dimensions).
    pub active_units: usize,
    /// Latent dimensions.
    pub latent: usize,
    /// Mean training throughput.
    pub samples_per_sec: f64,
    /// Wall time for training and evaluation.
    pub wall_secs: f64,
}

/// Train each of `variants` from `base` (same data, seed, epochs) and evaluate on the test
/// split with `iwae_k` importance samples where the bound is defined.
pub fn compare(
    variants: &[VariantKind],
    base: &TrainConfig,
    data: Arc<Dataset>,
    device: &Device,
    iwae_k: usize,
    mut progress: impl FnMut(VariantKind, usize),
) -> Result<Vec<CompareRow>, TrainError> {
    let mut rows = Vec::new();
    for &variant in variants {
        let mut cfg = base.clone();
        cfg.variant = variant;
        cfg.beta = variant.default_beta();
        let t0 = Instant::now();
        let mut trainer = Trainer::new(cfg.clone(), data.clone(), device)?;
        let mut samples = 0usize;
        let mut train_secs = 0.0;
        for epoch in 1..=cfg.epochs {
            let te = Instant::now();
            loop {
                let out = trainer.step()?;
                samples += out.metrics.batch;
                if out.epoch_done {
                    break;
                }
            }
            train_secs += te.elapsed().as_secs_f64();
            progress(variant, epoch);
        }
        let bound = variant.has_likelihood_bound();
        let m = trainer.evaluate(if bound { iwae_k } else { 0 });
        rows.push(CompareRow {
            variant,
            neg_elbo: bound.then_some(m.neg_elbo),
            iwae_nll: m.iwae_nll,
            mse: m.mse,
            bce: m.rec,
            active_units: m.active_units,
            latent: m.kl_per_dim.len(),
            samples_per_sec: samples as f64 / train_secs.max(1e-9),
            wall_secs: t0.elapsed().as_secs_f64(),
        });
    }
    Ok(rows)
}

/// The rows as a Markdown table; variants without a likelihood bound say so.
pub fn table(rows: &[CompareRow], iwae_k: usize) -> String {
    let na = "n/a (no likelihood bound)";
    let mut s = format!(
        "| variant | test −ELBO | IWAE(k={iwae_k}) NLL | rec MSE | rec BCE | active units | samples/s | wall s |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n"
    );
    for r in rows {
        let f = |v: Option<f64>| v.map_or(na.to_string(), |v| format!("{v:.2}"));
        s.push_str(&format!(
            "| {} | {} | {} | {:.4} | {:.2} | {}/{} | {:.0} | {:.1} |\n",
            r.variant,
            f(r.neg_elbo),
            f(r.iwae_nll),
            r.mse,
            r.bce,
            r.active_units,
            r.latent,
            r.samples_per_sec,
            r.wall_secs
        ));
    }
    s
}
