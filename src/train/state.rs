//! [`TrainState`]: where a run stands beyond its weights, step and epoch — the optimisers'
//! moments and the position in the epoch's shuffled order — so that a checkpoint that
//! carries it resumes exactly: the resumed run takes the steps the uninterrupted run would
//! have taken, bit for bit on the same machine.
//!
//! Nothing else needs saving: every random stream is a function of the run's seed and the
//! step ([`crate::model::noise`]), each epoch's order a function of the seed and the epoch
//! ([`crate::data::epoch_permutation`]), the KL schedule a function of the step.

use super::optim::AdamState;

/// A run's training state beyond its weights (see the module docs).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TrainState {
    /// Images of the current epoch's shuffled order already trained on (0 at an epoch's
    /// end).
    pub cursor: usize,
    /// Parts a batch was split into at most on the CPU lanes (the lanes the run had); a
    /// resumed run splits the same way, since the split decides each part's noise.
    pub lanes: usize,
    /// One optimiser state per phase of the objective, in phase order.
    pub optim: Vec<AdamState>,
}
