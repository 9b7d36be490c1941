//! What a training worker and the app (or a follower of a run directory) say to each other:
//! [`Command`]s in, [`Event`]s out, the latest weights in a [`LatestSlot`] as a
//! [`Snapshot`], and the [`Outbox`] that sends events and wakes the receiver.

use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use super::config::TrainConfig;
use super::history::LossHistory;
use super::metrics::EvalMetrics;
use super::state::TrainState;
use super::step::StepMetrics;
use crate::model::Vae;
use crate::variant::{AuxModules, KlSchedule};

/// Commands the worker accepts.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Begin training (from Idle).
    Start,
    /// Pause after the current step.
    Pause,
    /// Resume after a pause.
    Resume,
    /// Take exactly one step while paused or idle.
    Step,
    /// Stop and end the thread.
    Stop,
    /// Change the learning rate.
    SetLr(f64),
    /// Change β.
    SetBeta(f64),
    /// Change the KL schedule.
    SetSchedule(KlSchedule),
    /// Change the free-bits floor.
    SetFreeBits(Option<f64>),
    /// Panic inside the training thread with this message: exercises the failure path
    /// (the panic becomes [`Event::Error`] and [`WorkerState::Failed`]).
    #[doc(hidden)]
    DebugPanic(String),
}

/// The worker's lifecycle state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerState {
    /// Created, waiting for Start.
    Idle,
    /// Training.
    Running,
    /// Paused by a command or a non-finite value.
    Paused,
    /// All epochs done.
    Finished,
    /// Stopped by command; the thread has ended.
    Stopped,
    /// Ended by an error or panic; the thread has ended.
    Failed,
}

/// Events the worker emits.
#[derive(Debug, Clone)]
pub enum Event {
    /// The state changed.
    State(WorkerState),
    /// One training step's loss terms.
    Step(StepMetrics),
    /// End-of-epoch test metrics (`epoch` is 1-based: epochs completed).
    Epoch {
        /// Epochs completed.
        epoch: usize,
        /// Global steps taken.
        step: u64,
        /// Test metrics.
        metrics: EvalMetrics,
        /// The weights at the end of this epoch (what the metrics were computed on).
        snapshot: Arc<Snapshot>,
    },
    /// Training speed over the last interval.
    Throughput {
        /// Images per second.
        samples_per_sec: f64,
        /// Steps per second.
        steps_per_sec: f64,
    },
    /// A hyperparameter changed (a description).
    Changed(String),
    /// A loss term or gradient went non-finite; the worker paused with finite weights.
    NonFinite {
        /// Step at which it happened.
        step: u64,
        /// Which term.
        term: String,
        /// The value seen.
        value: f64,
    },
    /// An error: a rejected command, or a failure (followed by `State(Failed)` if fatal).
    Error(String),
}

/// An inference copy of a run's weights with where it came from: everything a checkpoint
/// holds except the metrics, so a snapshot can be saved as one.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The model (no autodiff), on the training device.
    pub model: Vae,
    /// The variant's extra modules (no autodiff), e.g. discriminators.
    pub aux: AuxModules,
    /// The run's configuration, with live hyperparameter changes applied.
    pub config: TrainConfig,
    /// Global step at which it was taken.
    pub step: u64,
    /// Completed epochs.
    pub epoch: usize,
    /// The loss curves so far, thinned ([`LossHistory::thinned`]); empty where unknown.
    pub history: Arc<LossHistory>,
    /// The training state beyond the weights, when the snapshot was taken where a run can
    /// resume exactly (an epoch's end, a pause, a stop); `None` in the snapshots published
    /// while training runs.
    pub state: Option<Arc<TrainState>>,
    /// The run's configuration file ([`super::RunConfig::to_toml`]), when it has one.
    pub run_config: Option<Arc<str>>,
}

impl Snapshot {
    /// Weights at `step` after `epoch` epochs, with no history, state or configuration file.
    pub fn new(model: Vae, aux: AuxModules, config: TrainConfig, step: u64, epoch: usize) -> Self {
        Self {
            model,
            aux,
            config,
            step,
            epoch,
            history: Arc::default(),
            state: None,
            run_config: None,
        }
    }
}

/// A latest-value slot: writers replace, readers take the newest without blocking long.
#[derive(Debug, Clone, Default)]
pub struct LatestSlot<T>(Arc<Mutex<Option<Arc<T>>>>);

impl<T> LatestSlot<T> {
    /// An empty slot.
    pub fn new() -> Self {
        Self(Arc::new(Mutex::new(None)))
    }

    /// A slot already holding `value`.
    pub fn holding(value: Arc<T>) -> Self {
        Self(Arc::new(Mutex::new(Some(value))))
    }

    /// Replace the value.
    pub fn set(&self, value: T) {
        self.set_arc(Arc::new(value));
    }

    /// Replace the value with a shared one.
    pub fn set_arc(&self, value: Arc<T>) {
        let mut g = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *g = Some(value);
    }

    /// The newest value, if any.
    pub fn get(&self) -> Option<Arc<T>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// A callback invoked after each event is sent (e.g. `egui::Context::request_repaint`).
pub type Waker = Arc<dyn Fn() + Send + Sync>;

/// Why [`super::WorkerHandle::try_send`] did not send.
#[derive(Debug)]
pub enum TrySendError {
    /// The command queue is full (the worker is busy, e.g. evaluating): try again later.
    Full(Command),
    /// The worker has ended.
    Ended,
}

/// Wait for `thread` to end, draining `events` meanwhile: a thread blocked sending on a
/// full event channel can then finish.
pub fn join_draining<T>(thread: JoinHandle<()>, events: &Receiver<T>) {
    while !thread.is_finished() {
        while events.try_recv().is_ok() {}
        std::thread::sleep(Duration::from_millis(1));
    }
    let _ = thread.join();
}

/// The sending side of an event stream (a worker's, a followed run directory's): every
/// event sent wakes the receiver.
#[derive(Clone)]
pub struct Outbox {
    tx: SyncSender<Event>,
    waker: Option<Waker>,
}

impl Outbox {
    /// Events go to `tx`; `waker` is called after each.
    pub fn new(tx: SyncSender<Event>, waker: Option<Waker>) -> Self {
        Self { tx, waker }
    }

    /// Send (waiting while the channel is full) and wake; false if the receiver is gone.
    pub fn send(&self, ev: Event) -> bool {
        let ok = self.tx.send(ev).is_ok();
        if let Some(w) = &self.waker {
            w();
        }
        ok
    }
}
