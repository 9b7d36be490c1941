//! Training: the synchronous [`Trainer`] core, the background [`worker`] that drives it
//! with commands and events, and test-set [`metrics`].

pub mod metrics;
mod trainer;
pub mod worker;

pub use crate::variant::iwae_bound;
pub use metrics::{EvalMetrics, evaluate};
pub use trainer::{OptimConfig, StepMetrics, StepOutcome, TrainConfig, TrainError, Trainer};
pub use worker::{Command, Event, LatestSlot, Snapshot, WorkerHandle, WorkerState, spawn};
