//! What one training step reports: [`StepMetrics`] and [`StepOutcome`].

use serde::{Deserialize, Serialize};

/// Metrics of one training step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepMetrics {
    /// Global 0-based step that was just taken.
    pub step: u64,
    /// 0-based epoch it belongs to.
    pub epoch: usize,
    /// Images in the batch.
    pub batch: usize,
    /// Named loss terms: "loss" (the optimised total), the variant's terms, "grad_norm".
    pub terms: Vec<(String, f64)>,
    /// KL schedule weight at this step.
    pub kl_weight: f64,
    /// Learning rate used.
    pub lr: f64,
}

impl StepMetrics {
    /// The value of a named term.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.terms.iter().find(|(n, _)| n == name).map(|&(_, v)| v)
    }
}

/// What a step did.
#[derive(Debug, Clone)]
pub struct StepOutcome {
    /// The step's metrics.
    pub metrics: StepMetrics,
    /// Whether this step finished an epoch.
    pub epoch_done: bool,
}
