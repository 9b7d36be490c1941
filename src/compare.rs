//! Train several variants on the same data, seed and budget, and tabulate their metrics.

use std::sync::Arc;
use std::time::Instant;

use burn::module::Module;
use burn::tensor::{Device, Int, Tensor, TensorData};
use serde::Serialize;

use crate::data::{Binarize, Dataset, ImageShape};
use crate::model::noise::{Purpose, stream_seed, with_noise_stream};
use crate::train::probe::{DigitProbe, SampleScore};
use crate::train::{
    EpochReport, LoopError, Policy, Sink, SinkError, TrainConfig, TrainLoop, Trainer,
};
use crate::variant::VariantKind;

pub use crate::stats::median_range;
pub use crate::train::metrics::{FACTOR_VAE_SCORE, MIG};

/// Prior samples scored per variant.
pub const SCORED_SAMPLES: usize = 1000;

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
    /// The digit probe's verdict on decoded prior samples, if a probe was given.
    pub samples: Option<SampleScore>,
    /// Structure-specific figures (two-layer KL terms, VQ codebook use).
    pub extra: Vec<(String, f64)>,
}

impl CompareRow {
    /// The structure-specific figure `name` of [`CompareRow::extra`], if measured.
    pub fn extra(&self, name: &str) -> Option<f64> {
        self.extra.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
    }
}

/// Decode [`SCORED_SAMPLES`] draws z ~ N(0, I) (a VampPrior model: of its mixture; a conditional model: labels 0..9 in turn;
/// a VQ-VAE snaps each draw to its nearest codes; a two-layer model samples z1 ~ p(z1|z2))
/// and score them with `probe`. The draws come from the stream of `seed` for sampling
/// ([`Purpose::Sample`]): every variant of a comparison decodes the same z.
pub fn score_samples(trainer: &Trainer, probe: &DigitProbe, seed: u64) -> SampleScore {
    with_noise_stream(stream_seed(seed, Purpose::Sample, &[]), || {
        sample_and_score(trainer, probe)
    })
}

fn sample_and_score(trainer: &Trainer, probe: &DigitProbe) -> SampleScore {
    let model = trainer.inference_model();
    let device = trainer.device().clone().inner();
    let n = SCORED_SAMPLES;
    let d = trainer.config().model.latent_dim;
    // N(0, I), or a VampPrior model's mixture.
    let z: Tensor<2> = crate::model::vamp::prior_sample(&model, n, d, &device);
    let labels: Tensor<1, Int> = Tensor::from_data(
        TensorData::new((0..n as i64).map(|i| i % 10).collect::<Vec<_>>(), [n]),
        &device,
    );
    let images = match &model.top {
        // Ancestral sampling through the lower layer: z1 ~ p(z1 | z2), not its mean.
        Some(top) => {
            let (m, lv) = top.p.forward(z);
            let z1 = crate::model::gaussian::reparameterize(
                m.clone(),
                lv,
                crate::model::gaussian::standard_noise(&m),
            );
            crate::model::likelihood::mean_image(model.decode_image(z1, None))
        }
        None => model.decode_mean_with(z, Some(&labels)),
    };
    probe.score(images)
}

/// For an adversarial variant with a discriminator on codes (AAE) or on (x, z) pairs
/// (BiGAN), the trained discriminator's accuracy on held-out data against as many prior
/// draws: 0.5 means it cannot tell them apart.
pub fn held_out_critic_accuracy(trainer: &Trainer, data: &Dataset) -> Option<f64> {
    let kind = trainer.config().variant;
    if !matches!(kind, VariantKind::Aae | VariantKind::Bigan) {
        return None;
    }
    let critic = trainer.aux().valid().critics.into_iter().next()?;
    let model = trainer.inference_model();
    let device = trainer.device().clone().inner();
    let n = data.test.len().min(1000);
    let batch = crate::data::Batcher::new(device).batch(&data.test, &(0..n).collect::<Vec<_>>());
    let (real, fake) = if kind == VariantKind::Aae {
        let (z, prior) = crate::variant::posterior_and_prior(&model, batch.images);
        (prior, z)
    } else {
        // For BiGAN "real" is the encoder pair and "fake" the generator pair.
        crate::variant::joint_pairs(&model, batch.images)
    };
    let acc = crate::variant::critic_accuracy(critic.logits(real), critic.logits(fake));
    crate::train::metrics::host_vec(acc)
        .first()
        .map(|&v| v as f64)
}

/// Train each of `variants` from `base` (same data, seed, epochs) and evaluate on the test
/// split with `iwae_k` importance samples where the bound is defined; with a `probe`, also
/// score decoded prior samples; on data with known factors of variation, the evaluation
/// holds the MIG and the FactorVAE score of the test codes (in `extra`).
#[allow(clippy::too_many_arguments)]
pub fn compare(
    variants: &[VariantKind],
    base: &TrainConfig,
    data: Arc<Dataset>,
    device: &Device,
    iwae_k: usize,
    probe: Option<&DigitProbe>,
    mut progress: impl FnMut(VariantKind, usize) + Send,
) -> Result<Vec<CompareRow>, LoopError> {
    /// Reports each epoch and sums the training time and images.
    struct Tally<'a, F: FnMut(VariantKind, usize) + Send> {
        variant: VariantKind,
        progress: &'a mut F,
        images: usize,
        secs: f64,
    }
    impl<F: FnMut(VariantKind, usize) + Send> Sink for Tally<'_, F> {
        fn epoch(&mut self, r: &EpochReport) -> Result<(), SinkError> {
            self.images += r.images;
            self.secs += r.train_secs;
            (self.progress)(self.variant, r.epoch);
            Ok(())
        }
    }
    let mut rows = Vec::new();
    for &variant in variants {
        let mut cfg = base.clone();
        cfg.variant = variant;
        cfg.beta = variant.default_beta();
        let t0 = Instant::now();
        let trainer = Trainer::new(cfg.clone(), data.clone(), device)?;
        let policy = Policy {
            evaluate_epochs: false,
            ..Policy::default()
        };
        let mut tally = Tally {
            variant,
            progress: &mut progress,
            images: 0,
            secs: 0.0,
        };
        let mut run = TrainLoop::new(trainer, policy).with_sink(&mut tally);
        run.run()?;
        let trainer = run.into_trainer();
        let (samples, train_secs) = (tally.images, tally.secs);
        let bound = variant.has_likelihood_bound();
        let mut m = trainer.evaluate(if bound { iwae_k } else { 0 });
        if let Some(acc) = held_out_critic_accuracy(&trainer, &data) {
            m.extra.push(("held-out disc acc".into(), acc));
        }
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
            samples: probe.map(|p| score_samples(&trainer, p, cfg.seed)),
            extra: m.extra,
        });
    }
    Ok(rows)
}

/// Why likelihoods measured on `train` / `test` images of `shape`, binarized `how`, cannot
/// stand beside the published MNIST figures (all measured on the full 60,000 / 10,000
/// split of 28×28 digits, binarized), or `None` when they can.
pub fn literature_caveat(
    train: usize,
    test: usize,
    shape: ImageShape,
    how: Binarize,
) -> Option<String> {
    let mut why = Vec::new();
    if (train, test) != (60_000, 10_000) || shape != ImageShape::grey(28, 28) {
        why.push(format!(
            "{train} train / {test} test images of {shape}, not MNIST's full 60,000 / 10,000 of 28x28"
        ));
    }
    if how == Binarize::None {
        why.push("grey pixels, not binarized (--binarize dynamic or static)".to_string());
    }
    (!why.is_empty()).then(|| {
        format!(
            "not comparable with published MNIST likelihoods: {}",
            why.join("; ")
        )
    })
}

/// The rows as a Markdown table; variants without a likelihood bound say so.
pub fn table(rows: &[CompareRow], iwae_k: usize) -> String {
    let na = "n/a (no likelihood bound)";
    let mut s = format!(
        "| variant | test −ELBO | IWAE(k={iwae_k}) NLL | rec MSE | rec BCE | active units | samples: probe confidence / IS | samples/s | wall s | notes |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n"
    );
    for r in rows {
        let f = |v: Option<f64>| v.map_or(na.to_string(), |v| format!("{v:.2}"));
        let samples = r.samples.map_or("–".to_string(), |s| {
            format!("{:.3} / {:.2}", s.confidence, s.inception)
        });
        let notes: Vec<String> = r.extra.iter().map(|(n, v)| format!("{n} {v:.2}")).collect();
        s.push_str(&format!(
            "| {} | {} | {} | {:.4} | {:.2} | {}/{} | {} | {:.0} | {:.1} | {} |\n",
            r.variant,
            f(r.neg_elbo),
            f(r.iwae_nll),
            r.mse,
            r.bce,
            r.active_units,
            r.latent,
            samples,
            r.samples_per_sec,
            r.wall_secs,
            notes.join(", ")
        ));
    }
    s
}

/// Mean and sample standard deviation (0 for one value).
pub fn mean_sd(v: &[f64]) -> (f64, f64) {
    let n = v.len().max(1) as f64;
    let mean = v.iter().sum::<f64>() / n;
    let sd = if v.len() > 1 {
        (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
    } else {
        0.0
    };
    (mean, sd)
}

/// Several seeds' rows of the same variants, as one Markdown table of mean ± sd: test
/// −ELBO, the MIG and the FactorVAE score (where measured), wall time.
pub fn seeds_table(per_seed: &[Vec<CompareRow>]) -> String {
    let mut s = String::from(
        "| variant | seeds | test −ELBO | MIG | FactorVAE score | wall s |\n| --- | --- | --- | --- | --- | --- |\n",
    );
    let Some(first) = per_seed.first() else {
        return s;
    };
    for (i, row) in first.iter().enumerate() {
        let rows: Vec<&CompareRow> = per_seed.iter().filter_map(|r| r.get(i)).collect();
        let stat = |f: &dyn Fn(&CompareRow) -> Option<f64>, digits: usize| {
            let v: Vec<f64> = rows.iter().filter_map(|r| f(r)).collect();
            if v.is_empty() {
                return "–".to_string();
            }
            let (m, sd) = mean_sd(&v);
            format!("{m:.digits$} ± {sd:.digits$}")
        };
        let extra = |name: &'static str| move |r: &CompareRow| r.extra(name);
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            row.variant,
            rows.len(),
            stat(&|r| r.neg_elbo, 2),
            stat(&extra(MIG), 3),
            stat(&extra(FACTOR_VAE_SCORE), 3),
            stat(&|r| Some(r.wall_secs), 1),
        ));
    }
    s
}

/// A fixed comparison set-up (`compare --protocol`): the data it needs, its variants, latent
/// size, seeds and budget, and its own table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum CompareProtocol {
    /// The disentanglement literature's comparison (Chen et al. 2018, Kim & Mnih 2018): data
    /// with known factors of variation (`--data shapes…`), 10 latents, the VAE against
    /// β-VAE, β-TCVAE and FactorVAE at their papers' weights, several seeds, reported as
    /// the median MIG and FactorVAE score with their range.
    Disentangle,
}

/// What a [`CompareProtocol`] fixes; flags given beside `--protocol` override each.
#[derive(Debug, Clone, PartialEq)]
pub struct ProtocolSettings {
    /// The variants compared, the reference first.
    pub variants: Vec<VariantKind>,
    /// Latent dimensions.
    pub latent: usize,
    /// Seeds per variant.
    pub seeds: usize,
    /// Epochs per run (the budget).
    pub epochs: usize,
    /// IWAE samples (0: the bound is not the point here, and costs time).
    pub iwae_k: usize,
}

/// The disentanglement protocol's budget in epochs of the default shapes set, chosen by
/// measurement (the guide's data page gives the tables at 10, 30 and 60 epochs).
pub const DISENTANGLE_EPOCHS: usize = 60;

impl CompareProtocol {
    /// Its settings.
    pub fn settings(self) -> ProtocolSettings {
        match self {
            Self::Disentangle => ProtocolSettings {
                variants: vec![
                    VariantKind::Vae,
                    VariantKind::BetaVae,
                    VariantKind::BetaTcvae,
                    VariantKind::FactorVae,
                ],
                latent: 10,
                seeds: 3,
                epochs: DISENTANGLE_EPOCHS,
                iwae_k: 0,
            },
        }
    }

    /// Why `data` cannot be used with this protocol, or `None` when it can.
    pub fn unfit(self, data: &Dataset) -> Option<String> {
        match self {
            Self::Disentangle => data.factors.is_none().then(|| {
                format!(
                    "the disentangle protocol needs data with known factors of variation \
                     (--data shapes, shapes:SIDE or shapes:SIDE:full); {} has none",
                    data.name
                )
            }),
        }
    }
}

/// One variant's figures over seeds under the disentangle protocol.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DisentangleRow {
    /// The variant.
    pub variant: VariantKind,
    /// Seeds it ran with.
    pub seeds: usize,
    /// The MIG's median, least and greatest over seeds.
    pub mig: Option<(f64, f64, f64)>,
    /// The FactorVAE score's median, least and greatest over seeds.
    pub factor_vae_score: Option<(f64, f64, f64)>,
    /// Whether its median MIG is above the first (reference) variant's; `None` for the
    /// reference itself or without MIGs.
    pub mig_above_reference: Option<bool>,
    /// Mean wall seconds per run (training and evaluation).
    pub wall_secs: f64,
}

/// Each variant's median and range over `per_seed` (each element one seed's rows, in the
/// same variant order), and whether its median MIG is above the first variant's.
pub fn disentangle_rows(per_seed: &[Vec<CompareRow>]) -> Vec<DisentangleRow> {
    let Some(first) = per_seed.first() else {
        return Vec::new();
    };
    let mut out: Vec<DisentangleRow> = Vec::with_capacity(first.len());
    for (i, row) in first.iter().enumerate() {
        let rows: Vec<&CompareRow> = per_seed.iter().filter_map(|r| r.get(i)).collect();
        let of = |name: &str| -> Vec<f64> { rows.iter().filter_map(|r| r.extra(name)).collect() };
        let mig = median_range(&of(MIG));
        let reference = out.first().and_then(|r| r.mig);
        out.push(DisentangleRow {
            variant: row.variant,
            seeds: rows.len(),
            mig,
            factor_vae_score: median_range(&of(FACTOR_VAE_SCORE)),
            mig_above_reference: match (i, mig, reference) {
                (1.., Some((m, ..)), Some((r, ..))) => Some(m > r),
                _ => None,
            },
            wall_secs: mean_sd(&rows.iter().map(|r| r.wall_secs).collect::<Vec<_>>()).0,
        });
    }
    out
}

/// The disentangle protocol's table (median [least, greatest] over seeds), then a line per
/// variant saying whether its median MIG is above the reference's.
pub fn disentangle_table(rows: &[DisentangleRow]) -> String {
    let mut s = String::from(
        "| variant | seeds | MIG median [min, max] | FactorVAE score median [min, max] | wall s per run |\n| --- | --- | --- | --- | --- |\n",
    );
    let f = |v: Option<(f64, f64, f64)>| {
        v.map_or("–".to_string(), |(m, lo, hi)| {
            format!("{m:.3} [{lo:.3}, {hi:.3}]")
        })
    };
    for r in rows {
        s.push_str(&format!(
            "| {} | {} | {} | {} | {:.1} |\n",
            r.variant,
            r.seeds,
            f(r.mig),
            f(r.factor_vae_score),
            r.wall_secs
        ));
    }
    if let Some(reference) = rows.first() {
        for r in &rows[1..] {
            if let (Some(above), Some((m, ..)), Some((rm, ..))) =
                (r.mig_above_reference, r.mig, reference.mig)
            {
                s.push_str(&format!(
                    "\n{}: median MIG {m:.3} {} the {}'s {rm:.3}",
                    r.variant,
                    if above { "above" } else { "NOT above" },
                    reference.variant
                ));
            }
        }
        s.push('\n');
    }
    s
}
