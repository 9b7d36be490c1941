//! Training: the synchronous [`Trainer`] core, the one training loop ([`run_loop`]) that
//! drives it for every front end through its sinks, the background [`worker`] the app
//! drives it with, a run's configuration file ([`run_config`]) and training state
//! ([`state`]), test-set [`metrics`], and the digit [`probe`] that scores generated
//! images.

mod config;
mod error;
pub mod history;
mod lane_policy;
pub mod metrics;
pub mod optim;
pub mod probe;
pub mod protocol;
pub mod run_config;
pub mod run_loop;
pub mod share;
mod spec;
pub mod state;
mod step;
mod trainer;
pub mod worker;

pub use crate::variant::iwae_bound;
pub use config::{OptimConfig, TrainConfig};
pub use error::TrainError;
pub use history::LossHistory;
pub use lane_policy::LanePolicy;
pub use metrics::{EvalMetrics, evaluate};
pub use protocol::{
    Command, Event, LatestSlot, Outbox, Snapshot, TrySendError, Waker, WorkerState,
};
pub use run_config::{ConfigError, RunConfig};
pub use run_loop::{
    EpochReport, LoopError, OnNonFinite, Policy, Progress, Sink, SinkError, Stopped, TrainLoop,
};
pub use share::StepGate;
pub use spec::{ArchKind, LikelihoodKind, RunSpec, ScheduleKind, SpecError};
pub use state::TrainState;
pub use step::{StepMetrics, StepOutcome};
pub use trainer::{MIN_PART, Trainer};
pub use worker::{WorkerHandle, WorkerOptions, spawn, spawn_loop, spawn_trainer};
