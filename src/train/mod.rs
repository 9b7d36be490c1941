//! Training: the synchronous [`Trainer`] core, the background [`worker`] that drives it
//! with commands and events, test-set [`metrics`], and the digit [`probe`] that scores
//! generated images.

pub mod metrics;
pub mod parallel;
pub mod probe;
pub mod share;
mod spec;
mod trainer;
pub mod worker;

pub use crate::variant::iwae_bound;
pub use metrics::{EvalMetrics, evaluate};
pub use share::StepGate;
pub use spec::{ArchKind, LikelihoodKind, RunSpec, ScheduleKind};
pub use trainer::{OptimConfig, StepMetrics, StepOutcome, TrainConfig, TrainError, Trainer};
pub use worker::{
    Command, Event, LatestSlot, Snapshot, TrySendError, WorkerHandle, WorkerOptions, WorkerState,
    spawn, spawn_trainer,
};
