//! The posterior-collapse timeline: each latent dimension's mean KL to the prior at every
//! evaluation of a run (a matrix, dimensions × evaluations), with each dimension's activity
//! (the variance of its posterior means over the data, active above
//! [`ACTIVE_UNIT_THRESHOLD`]) and the dimensions collapsed at the last evaluation.

use super::stats::ACTIVE_UNIT_THRESHOLD;
use crate::train::LossHistory;

/// One evaluation of a run: when, and each dimension's statistics then.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CollapseColumn<'a> {
    /// Epochs completed.
    pub epoch: usize,
    /// Optimisation steps taken.
    pub step: u64,
    /// Mean KL(q(z_j | x) ‖ N(0, 1)) per dimension, nats.
    pub kl_per_dim: &'a [f64],
    /// Variance over the data of each dimension's posterior mean, Var_x(E_q\[z_j\]).
    pub code_variance: &'a [f64],
}

/// Why no timeline could be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CollapseError {
    /// No evaluation to show.
    #[error("no evaluations recorded")]
    Empty,
    /// The model has no KL term per dimension (a VQ-VAE).
    #[error("no KL per dimension (a VQ-VAE's codes have no KL term)")]
    NoKl,
    /// Evaluations disagree on the number of dimensions.
    #[error("evaluation {column} has {kl} KL values and {variance} variances for {dim} dimensions")]
    Shape {
        /// The evaluation's position.
        column: usize,
        /// Its KL values.
        kl: usize,
        /// Its variances.
        variance: usize,
        /// The dimensions of the first evaluation.
        dim: usize,
    },
}

/// KL per dimension against evaluations, and the collapsed dimensions.
#[derive(Debug, Clone, PartialEq)]
pub struct CollapseTimeline {
    /// Latent dimensions (rows).
    pub dim: usize,
    /// `(epoch, step)` of every evaluation (columns), in order.
    pub columns: Vec<(usize, u64)>,
    /// KL per dimension, nats: row-major `dim × columns` (`kl[j * columns + c]`).
    pub kl: Vec<f64>,
    /// Var_x(E_q\[z_j\]): row-major `dim × columns`.
    pub variance: Vec<f64>,
    /// The activity threshold on the variance ([`ACTIVE_UNIT_THRESHOLD`]).
    pub threshold: f64,
    /// Dimensions inactive at the last evaluation (variance ≤ threshold), ascending.
    pub collapsed: Vec<usize>,
}

impl CollapseTimeline {
    /// The timeline of `columns` (in order of training). A column with no KL values at all
    /// (every one of a VQ-VAE's) gives [`CollapseError::NoKl`].
    pub fn from_columns<'a>(
        columns: impl IntoIterator<Item = CollapseColumn<'a>>,
    ) -> Result<Self, CollapseError> {
        let cols: Vec<CollapseColumn<'a>> = columns.into_iter().collect();
        let first = cols.first().ok_or(CollapseError::Empty)?;
        let dim = first.kl_per_dim.len();
        if dim == 0 {
            return Err(CollapseError::NoKl);
        }
        for (c, col) in cols.iter().enumerate() {
            if col.kl_per_dim.len() != dim || col.code_variance.len() != dim {
                return Err(CollapseError::Shape {
                    column: c,
                    kl: col.kl_per_dim.len(),
                    variance: col.code_variance.len(),
                    dim,
                });
            }
        }
        let n = cols.len();
        let mut kl = vec![0.0; dim * n];
        let mut variance = vec![0.0; dim * n];
        for (c, col) in cols.iter().enumerate() {
            for j in 0..dim {
                kl[j * n + c] = col.kl_per_dim[j];
                variance[j * n + c] = col.code_variance[j];
            }
        }
        let threshold = ACTIVE_UNIT_THRESHOLD;
        let collapsed = (0..dim)
            .filter(|&j| variance[j * n + n - 1].is_nan() || variance[j * n + n - 1] <= threshold)
            .collect();
        Ok(Self {
            dim,
            columns: cols.iter().map(|c| (c.epoch, c.step)).collect(),
            kl,
            variance,
            threshold,
            collapsed,
        })
    }

    /// The timeline of a run's history: one column per test evaluation, its KL per dimension
    /// and its variance of posterior means ([`crate::train::EvalMetrics`]).
    pub fn of_history(history: &LossHistory) -> Result<Self, CollapseError> {
        Self::from_columns(history.epochs.iter().map(|(e, s, m)| CollapseColumn {
            epoch: *e,
            step: *s,
            kl_per_dim: &m.kl_per_dim,
            code_variance: &m.mean_variance,
        }))
    }

    /// Evaluations (columns).
    pub fn len(&self) -> usize {
        self.columns.len()
    }

    /// Whether there are no evaluations (never, for a timeline that was made).
    pub fn is_empty(&self) -> bool {
        self.columns.is_empty()
    }

    /// Dimension `j`'s KL at evaluation `c`, nats.
    pub fn kl_at(&self, j: usize, c: usize) -> Option<f64> {
        (j < self.dim && c < self.len()).then(|| self.kl[j * self.len() + c])
    }

    /// Dimension `j`'s variance of posterior means at evaluation `c`.
    pub fn variance_at(&self, j: usize, c: usize) -> Option<f64> {
        (j < self.dim && c < self.len()).then(|| self.variance[j * self.len() + c])
    }

    /// Whether dimension `j` is active at evaluation `c` (variance above the threshold).
    pub fn active_at(&self, j: usize, c: usize) -> bool {
        self.variance_at(j, c).is_some_and(|v| v > self.threshold)
    }

    /// The evaluation at which dimension `j` last went from active to inactive and stayed
    /// so (its collapse), if it is collapsed and was ever active.
    pub fn collapsed_since(&self, j: usize) -> Option<usize> {
        let n = self.len();
        if !self.collapsed.contains(&j) {
            return None;
        }
        (0..n).rev().find(|&c| self.active_at(j, c)).map(|c| c + 1)
    }
}
