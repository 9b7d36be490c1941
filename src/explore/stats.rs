//! Per-dimension statistics of a model's codes of the test set, and the one rule that orders
//! latent dimensions for every latent kind: by mean KL to the prior where the posterior is
//! Gaussian, by the variance of the codes where it is not (a VQ-VAE's quantised codes have
//! no KL term). `traverse` prints its rows in this order and the app orders its sliders
//! and traversal rows by it; both name the statistic with [`DimensionScore::name`].

use burn::tensor::Device;

use super::disentangle::best_factor_per_dimension;
use super::encode::{ENCODE_BATCH, Posterior, encode_first};
use crate::data::Dataset;
use crate::data::shapes::Factors;
use crate::model::Vae;

/// The variance of a dimension's codes over the data above which it counts as active
/// (Burda et al. 2015's activity statistic, `Var_x(E_q[z_j])`).
pub const ACTIVE_UNIT_THRESHOLD: f64 = 0.01;

/// What ranks a latent dimension: how much it carries about the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum DimensionScore {
    /// The mean over images of KL(q(z_j | x) ‖ N(0, 1)), nats: the dimension's share of the
    /// KL term (a Gaussian posterior).
    Kl,
    /// The variance over images of the code z_j: a VQ-VAE's codes are deterministic and its
    /// code prior uniform, so there is no KL to rank by and the codes' spread stands in.
    CodeVariance,
}

impl DimensionScore {
    /// The statistic `model`'s dimensions are ranked by.
    pub fn of(model: &Vae) -> Self {
        if model.codebook.is_some() {
            Self::CodeVariance
        } else {
            Self::Kl
        }
    }

    /// Its short name beside a dimension: "KL" or "Var(z)".
    pub fn name(self) -> &'static str {
        match self {
            Self::Kl => "KL",
            Self::CodeVariance => "Var(z)",
        }
    }

    /// A table column's heading, with the unit.
    pub fn heading(self) -> &'static str {
        match self {
            Self::Kl => "KL (nats)",
            Self::CodeVariance => "Var(z)",
        }
    }

    /// What the order means, in words: "the largest mean KL", "the largest variance of
    /// their codes (a VQ-VAE has no KL)".
    pub fn describe(self) -> &'static str {
        match self {
            Self::Kl => "the largest mean KL",
            Self::CodeVariance => {
                "the largest variance of their quantised codes (a VQ-VAE has no KL term)"
            }
        }
    }
}

/// Dimension indices sorted by decreasing `score` (ties: the lower index first).
pub fn order_by_desc(score: &[f64]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..score.len()).collect();
    idx.sort_by(|&a, &b| score[b].total_cmp(&score[a]).then(a.cmp(&b)));
    idx
}

/// The population variance over rows of each of the `d` columns of the row-major `codes`
/// (`Var_x(E_q[z_j])` for posterior means), accumulated in f64 in row order.
pub fn code_variance(codes: &[f32], d: usize) -> Vec<f64> {
    let mut sum = vec![0.0f64; d];
    let mut sq = vec![0.0f64; d];
    let mut n = 0usize;
    for row in codes.chunks_exact(d.max(1)) {
        for j in 0..d {
            sum[j] += row[j] as f64;
            sq[j] += (row[j] as f64).powi(2);
        }
        n += 1;
    }
    let nf = n.max(1) as f64;
    sum.iter()
        .zip(&sq)
        .map(|(s, q)| (q / nf - (s / nf).powi(2)).max(0.0))
        .collect()
}

/// Statistics of each latent dimension over encoded images.
#[derive(Debug, Clone, PartialEq)]
pub struct DimensionStats {
    /// What ranks the dimensions.
    pub score: DimensionScore,
    /// Images the statistics are over.
    pub images: usize,
    /// Mean KL(q(z_j | x) ‖ N(0, 1)) per dimension, nats; empty for
    /// [`DimensionScore::CodeVariance`] (no KL term).
    pub kl_per_dim: Vec<f64>,
    /// Variance over the images of each dimension's code (posterior mean).
    pub code_variance: Vec<f64>,
    /// On data with known factors: per dimension, the factor it tells most about (an index
    /// into [`crate::data::shapes::FACTOR_NAMES`]) and the share of that factor's entropy it
    /// carries ([`best_factor_per_dimension`]); empty for other data.
    pub best_factor: Vec<Option<(usize, f64)>>,
}

impl DimensionStats {
    /// The statistics of `post` under `score`; `factors` (one row of factor indices per
    /// encoded image, in order) gives [`DimensionStats::best_factor`].
    pub fn of(post: &Posterior, score: DimensionScore, factors: Option<&[Vec<usize>]>) -> Self {
        let d = post.dim;
        Self {
            score,
            images: post.len(),
            kl_per_dim: match score {
                DimensionScore::Kl => post.kl_per_dim(),
                DimensionScore::CodeVariance => Vec::new(),
            },
            code_variance: code_variance(&post.mu, d),
            best_factor: factors
                .map(|rows| best_factor_per_dimension(&post.mu, d, rows))
                .unwrap_or_default(),
        }
    }

    /// Latent dimensions.
    pub fn dim(&self) -> usize {
        self.code_variance.len()
    }

    /// The ranking statistic of every dimension ([`DimensionStats::score`]).
    pub fn scores(&self) -> &[f64] {
        match self.score {
            DimensionScore::Kl => &self.kl_per_dim,
            DimensionScore::CodeVariance => &self.code_variance,
        }
    }

    /// The ranking statistic of dimension `j`.
    pub fn score_of(&self, j: usize) -> Option<f64> {
        self.scores().get(j).copied()
    }

    /// Every dimension, the most informative first: the order of `traverse`'s rows and of
    /// the app's sliders and traversal rows.
    pub fn order(&self) -> Vec<usize> {
        order_by_desc(self.scores())
    }

    /// Whether dimension `j` is active (its codes vary by more than
    /// [`ACTIVE_UNIT_THRESHOLD`]).
    pub fn is_active(&self, j: usize) -> bool {
        self.code_variance
            .get(j)
            .is_some_and(|&v| v > ACTIVE_UNIT_THRESHOLD)
    }
}

/// Encode the first `images` test images of `data` (all of them if it has fewer; in batches
/// of [`ENCODE_BATCH`]) and take their [`DimensionStats`] under `model`'s
/// [`DimensionScore`], with the factors of data that has them.
pub fn dimension_stats(
    model: &Vae,
    data: &Dataset,
    images: usize,
    device: &Device,
) -> (Posterior, DimensionStats) {
    let post = encode_first(model, &data.test, images, device, ENCODE_BATCH);
    let rows = data
        .factors
        .as_ref()
        .map(|f| Factors::rows(&f.test[..post.len().min(f.test.len())]));
    let stats = DimensionStats::of(&post, DimensionScore::of(model), rows.as_deref());
    (post, stats)
}
