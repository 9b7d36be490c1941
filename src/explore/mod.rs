//! Exploring a trained model, shared by the CLI and the app: latent math (interpolation,
//! grid spacings, traversals and their ranges, principal directions), the prior's noise,
//! a model's codes and decodes of test items, per-dimension statistics and the one order of
//! latent dimensions, anomaly scores and their report, the posterior-collapse timeline and
//! the amortisation gap, disentanglement against known factors, t-SNE embeddings, attribute
//! directions, and the alignment of two models' codes (orthogonal Procrustes). This file
//! only declares the parts and re-exports them.

mod align;
mod anomaly;
mod collapse;
mod direction;
mod disentangle;
mod embed;
mod encode;
mod gap;
mod gmm;
mod grid;
mod holes;
mod interpolate;
mod knn;
mod nearest;
mod principal;
mod prior;
mod report;
mod score;
mod stats;
mod traverse;

pub use align::{AlignError, Alignment, align, svd};
pub use anomaly::{Histogram, auroc, rank_by_score};
pub use collapse::{CollapseColumn, CollapseError, CollapseTimeline};
pub use direction::{
    AttributeDirection, DirectionError, DirectionSpec, ItemSet, MAX_SET_ITEMS, along, amounts,
    attribute_direction, mean_code,
};
pub use disentangle::{
    Disentanglement, FactorVaeScore, MIG_BINS, best_factor_per_dimension, disentanglement,
    factor_vae_score, mig,
};
pub use embed::{EmbedError, TsneParams, pca_start, tsne};
pub use encode::{
    CodeError, CodeLabels, ENCODE_BATCH, Posterior, check_indices, decode_codes, decode_means,
    encode_first, encode_split, host_vec, reconstructions, test_codes,
};
pub use gap::{
    GapError, GapReport, MAX_GAP_SAMPLES, amortisation_gaps, bounds_from_log_weights,
    bounds_of_batch,
};
pub use gmm::{GMM_COMPONENTS, Gmm, GmmError, GmmFit, GmmParams, MAX_GMM_COMPONENTS, fit_gmm};
pub use grid::{Spacing, axis, axis_values, grid_latents};
pub use holes::{
    Draws, Holes, HolesParams, PLANE_BINS, PLANE_EXTENT, PlaneDensity, plane_density, prior_holes,
    project,
};
pub use interpolate::{PathKind, forth_and_back, lerp, path, slerp};
pub use knn::{KnnAccuracy, KnnError, knn_accuracy, knn_predict};
pub use nearest::{NearestError, Neighbour, nearest};
pub use principal::principal_directions;
pub use prior::{inverse_normal_cdf, normal, prior_noise};
pub use report::{
    AnomalyQuery, AnomalyReport, SCORE_BATCH, ScoreKind, ScoredModel, anomaly_report, caveats,
    default_shift, describe_sets,
};
pub use score::{
    SCORE_ELBO_SAMPLES, ShiftScores, iwae_chunk, iwae_of_batch, per_image_scores, shift_scores,
};
pub use stats::{
    ACTIVE_UNIT_THRESHOLD, DimensionScore, DimensionStats, code_variance, dimension_stats,
    order_by_desc,
};
pub use traverse::{RangeMode, dim_ranges, traversal, traversal_grid};
