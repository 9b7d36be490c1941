//! The anomaly report the `anomaly` command prints and the app's anomaly tab shows: which
//! score was computed (named honestly: a VQ-VAE's is its reconstruction term, not −ELBO),
//! the caveats that qualify it, the scores of the in-distribution and shifted sets, their
//! AUROC, and the test images ranked from the most anomalous.

use burn::tensor::Device;

use super::anomaly::{auroc, rank_by_score};
use super::score::{SCORE_ELBO_SAMPLES, shift_scores};
use crate::data::shift::ShiftError;
use crate::data::{Shift, Split};
use crate::model::gaussian::with_noise_stream;
use crate::model::{Likelihood, Vae};
use crate::variant::VariantKind;

/// Images scored per batch (the IWAE bound uses smaller batches of its own).
pub const SCORE_BATCH: usize = 500;

/// Which per-image score a report holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ScoreKind {
    /// −ELBO (β = 1), averaged over this many samples of z.
    NegElbo {
        /// Samples of z per image.
        samples: usize,
    },
    /// The −IWAE bound with `k` importance samples.
    NegIwae {
        /// Importance samples.
        k: usize,
    },
    /// A VQ-VAE's reconstruction term −log p(x | z_q): its codes are deterministic and its
    /// code prior uniform, so it has no KL term (and no bound to tighten with IWAE).
    Reconstruction,
}

impl ScoreKind {
    /// The score `model` gets with `iwae_k` importance samples asked for (0: −ELBO).
    pub fn of(model: &Vae, iwae_k: usize) -> Self {
        if model.codebook.is_some() {
            Self::Reconstruction
        } else if iwae_k > 0 {
            Self::NegIwae { k: iwae_k }
        } else {
            Self::NegElbo {
                samples: SCORE_ELBO_SAMPLES,
            }
        }
    }

    /// Its key in JSON output: `neg_elbo`, `neg_iwae` or `reconstruction`.
    pub fn key(self) -> &'static str {
        match self {
            Self::NegElbo { .. } => "neg_elbo",
            Self::NegIwae { .. } => "neg_iwae",
            Self::Reconstruction => "reconstruction",
        }
    }

    /// A short label: "−ELBO", "−IWAE (k = 50)", "reconstruction".
    pub fn label(self) -> String {
        match self {
            Self::NegElbo { .. } => "−ELBO".into(),
            Self::NegIwae { k } => format!("−IWAE (k = {k})"),
            Self::Reconstruction => "reconstruction".into(),
        }
    }

    /// What the score is, in full: the `anomaly` command's `score:` line and the app's
    /// anomaly tab both show this.
    pub fn describe(self) -> String {
        match self {
            Self::NegElbo { samples } => format!("−ELBO, mean of {samples} samples of z"),
            Self::NegIwae { k } => format!("−IWAE bound, k = {k}"),
            Self::Reconstruction => {
                "reconstruction −log p(x | z_q) (a VQ-VAE has no KL term)".into()
            }
        }
    }

    /// The importance samples the scores were computed with (0 unless −IWAE).
    pub fn iwae_k(self) -> usize {
        match self {
            Self::NegIwae { k } => k,
            _ => 0,
        }
    }
}

/// The shifted set a model is scored against when none is named: its held-out class if it
/// was trained without one, else inverted images.
pub fn default_shift(held_out: Option<u8>) -> Shift {
    held_out.map(Shift::Class).unwrap_or(Shift::Invert)
}

/// What qualifies the scores of a `variant` model (trained without class `held_out`, if
/// any) against `shift`: no likelihood bound, or a class shift of a class seen in training.
pub fn caveats(variant: VariantKind, shift: Shift, held_out: Option<u8>) -> Vec<String> {
    let mut notes = Vec::new();
    if !variant.has_likelihood_bound() {
        notes.push(format!(
            "{variant} optimises no likelihood bound: its scores rank images but are not NLL estimates"
        ));
    }
    if let Shift::Class(k) = shift {
        match held_out {
            Some(h) if h == k => {}
            Some(h) => notes.push(format!(
                "the checkpoint was trained without class {h}, not {k}: class {k} was seen in training"
            )),
            None => notes.push(format!(
                "the checkpoint was trained with class {k} (train --without-class {k} leaves it out)"
            )),
        }
    }
    notes
}

/// The two sets `shift` compares, in words, for a test split of images `rows × cols`.
pub fn describe_sets(
    shift: Shift,
    rows: usize,
    cols: usize,
    normal: usize,
    shifted: usize,
) -> String {
    match shift {
        Shift::Class(k) => format!(
            "in-distribution: the {normal} test images of other classes; shifted: the {shifted} of class {k}"
        ),
        other => format!(
            "in-distribution: the {normal} test images; shifted: the same images, {}",
            match other {
                Shift::Invert => "inverted".to_string(),
                Shift::Rotate if rows == cols => "rotated a quarter turn clockwise".to_string(),
                Shift::Rotate => "rotated a half turn".to_string(),
                Shift::Noise(s) => format!("with pixel noise σ {s}"),
                Shift::Class(_) => String::new(),
            }
        ),
    }
}

/// The model being scored and what is known about how it was trained.
#[derive(Debug, Clone, Copy)]
pub struct ScoredModel<'a> {
    /// The model.
    pub model: &'a Vae,
    /// Its observation model.
    pub likelihood: Likelihood,
    /// The objective it was trained with.
    pub variant: VariantKind,
    /// The class it was trained without, if any.
    pub held_out: Option<u8>,
}

/// What to score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AnomalyQuery {
    /// How the shifted set is made from the test split.
    pub shift: Shift,
    /// Importance samples (0: −ELBO; ignored by a VQ-VAE).
    pub iwae_k: usize,
    /// Seed of the noise stream the scores' samples of z are drawn from.
    pub seed: u64,
}

/// Anomaly scores of a test split and a shifted set, and what they mean.
#[derive(Debug, Clone, PartialEq)]
pub struct AnomalyReport {
    /// What was asked.
    pub query: AnomalyQuery,
    /// The score computed.
    pub kind: ScoreKind,
    /// What qualifies the scores ([`caveats`]).
    pub caveats: Vec<String>,
    /// The two sets, in words ([`describe_sets`]).
    pub sets: String,
    /// The score of every test image, in order (for a class shift, the held-out class
    /// included), nats.
    pub test: Vec<f64>,
    /// Test indices of the in-distribution set, in `normal`'s order.
    pub normal_indices: Vec<usize>,
    /// Scores of the in-distribution set, nats.
    pub normal: Vec<f64>,
    /// Scores of the shifted set, nats.
    pub shifted: Vec<f64>,
    /// AUROC of telling the shifted set from the in-distribution set by score (`None` when
    /// a score is not finite).
    pub auroc: Option<f64>,
    /// Every test index, the most anomalous (highest score, non-finite first) first.
    pub ranking: Vec<usize>,
}

impl AnomalyReport {
    /// The mean score of the in-distribution set.
    pub fn mean_normal(&self) -> f64 {
        mean(&self.normal)
    }

    /// The mean score of the shifted set.
    pub fn mean_shifted(&self) -> f64 {
        mean(&self.shifted)
    }

    /// The `n` most anomalous test images, as (test index, score), the most anomalous first.
    pub fn most_anomalous(&self, n: usize) -> Vec<(usize, f64)> {
        self.ranking
            .iter()
            .take(n)
            .map(|&i| (i, self.test[i]))
            .collect()
    }

    /// The `n` most typical test images, as (test index, score), the most typical first.
    pub fn most_typical(&self, n: usize) -> Vec<(usize, f64)> {
        self.ranking
            .iter()
            .rev()
            .take(n)
            .map(|&i| (i, self.test[i]))
            .collect()
    }
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

/// Score `test` and the set `query.shift` makes from it with `m`, drawing every sample of z
/// from the noise stream of `query.seed` (the same seed gives the same scores), and report.
pub fn anomaly_report(
    m: ScoredModel<'_>,
    test: &Split,
    query: AnomalyQuery,
    device: &Device,
) -> Result<AnomalyReport, ShiftError> {
    let kind = ScoreKind::of(m.model, query.iwae_k);
    let scores = with_noise_stream(query.seed, || {
        shift_scores(
            m.model,
            m.likelihood,
            test,
            query.shift,
            device,
            SCORE_BATCH,
            kind.iwae_k(),
        )
    })?;
    Ok(AnomalyReport {
        query,
        kind,
        caveats: caveats(m.variant, query.shift, m.held_out),
        sets: describe_sets(
            query.shift,
            test.rows,
            test.cols,
            scores.normal.len(),
            scores.shifted.len(),
        ),
        auroc: auroc(&scores.normal, &scores.shifted),
        ranking: rank_by_score(&scores.test),
        test: scores.test,
        normal_indices: scores.normal_indices,
        normal: scores.normal,
        shifted: scores.shifted,
    })
}
