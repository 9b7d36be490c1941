//! The training worker: a background thread that owns a [`Trainer`], takes [`Command`]s and
//! emits [`Event`]s through bounded channels, calling a waker after each event (the UI's
//! `request_repaint`). The latest inference copy of the weights sits in a [`LatestSlot`]
//! for the UI to decode from without waiting on the worker; it is republished whenever the
//! worker stops stepping (pause, finish, stop), so a paused run's snapshot is exactly its
//! current weights. Several workers can share the machine politely: each may take its
//! steps through a shared [`StepGate`] and at a lowered OS priority ([`WorkerOptions`]).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use burn::tensor::Device;

use super::metrics::EvalMetrics;
use super::share::{StepGate, lower_thread_priority};
use super::trainer::{StepMetrics, TrainConfig, TrainError, Trainer};
use crate::data::Dataset;
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

/// The caller's side of a running worker.
pub struct WorkerHandle {
    commands: SyncSender<Command>,
    events: Receiver<Event>,
    snapshot: LatestSlot<Snapshot>,
    thread: Option<JoinHandle<()>>,
}

/// Why [`WorkerHandle::try_send`] did not send.
#[derive(Debug)]
pub enum TrySendError {
    /// The command queue is full (the worker is busy, e.g. evaluating): try again later.
    Full(Command),
    /// The worker has ended.
    Ended,
}

impl WorkerHandle {
    /// Send a command, waiting while the command queue is full. Returns false if the
    /// worker has ended.
    pub fn send(&self, cmd: Command) -> bool {
        self.commands.send(cmd).is_ok()
    }

    /// Send a command without waiting (for the UI thread).
    pub fn try_send(&self, cmd: Command) -> Result<(), TrySendError> {
        self.commands.try_send(cmd).map_err(|e| match e {
            std::sync::mpsc::TrySendError::Full(c) => TrySendError::Full(c),
            std::sync::mpsc::TrySendError::Disconnected(_) => TrySendError::Ended,
        })
    }

    /// All events available now, without waiting.
    pub fn drain(&self) -> Vec<Event> {
        self.events.try_iter().collect()
    }

    /// Wait up to `timeout` for the next event.
    pub fn recv_timeout(&self, timeout: Duration) -> Option<Event> {
        self.events.recv_timeout(timeout).ok()
    }

    /// The latest inference snapshot.
    pub fn snapshot(&self) -> Option<Arc<Snapshot>> {
        self.snapshot.get()
    }

    /// The snapshot slot, to share with a decoder thread.
    pub fn snapshot_slot(&self) -> LatestSlot<Snapshot> {
        self.snapshot.clone()
    }

    /// Stop the worker and wait for its thread.
    pub fn shutdown(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        // Drain events while the command queue is full, so a worker blocked sending an
        // event can take the Stop.
        let mut cmd = Command::Stop;
        while let Err(std::sync::mpsc::TrySendError::Full(c)) = self.commands.try_send(cmd) {
            cmd = c;
            while self.events.try_recv().is_ok() {}
            std::thread::sleep(Duration::from_millis(1));
        }
        if let Some(t) = self.thread.take() {
            join_draining(t, &self.events);
        }
    }
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

impl Drop for WorkerHandle {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

/// Capacity of the event channel.
pub const EVENT_CAPACITY: usize = 4096;

/// How often the snapshot slot is refreshed while running.
pub const SNAPSHOT_INTERVAL: Duration = Duration::from_millis(50);

/// How a worker shares the machine with the UI and other workers.
#[derive(Clone, Default)]
pub struct WorkerOptions {
    /// Called after each event is sent (e.g. the UI's `request_repaint`).
    pub waker: Option<Waker>,
    /// Take every training step through this gate (shared by the workers of one app).
    pub gate: Option<Arc<StepGate>>,
    /// Run the training thread at a lowered OS priority (Linux: `SCHED_IDLE`, see
    /// [`lower_thread_priority`]).
    pub low_priority: bool,
}

/// Validate `cfg` and start a worker thread. Training begins on [`Command::Start`].
pub fn spawn(
    cfg: TrainConfig,
    data: Arc<Dataset>,
    device: Device,
    waker: Option<Waker>,
) -> Result<WorkerHandle, TrainError> {
    let trainer = Trainer::new(cfg, data, &device)?;
    spawn_trainer(
        trainer,
        WorkerOptions {
            waker,
            ..WorkerOptions::default()
        },
    )
}

/// Start a worker thread around a ready trainer (e.g. one resumed from a checkpoint with
/// [`Trainer::with_weights`]). Training begins on [`Command::Start`].
pub fn spawn_trainer(trainer: Trainer, opts: WorkerOptions) -> Result<WorkerHandle, TrainError> {
    let WorkerOptions {
        waker,
        gate,
        low_priority,
    } = opts;
    let (cmd_tx, cmd_rx) = sync_channel::<Command>(64);
    let (ev_tx, ev_rx) = sync_channel::<Event>(EVENT_CAPACITY);
    let snapshot = LatestSlot::new();
    let slot = snapshot.clone();
    let thread = std::thread::Builder::new()
        .name("latent-explorer-trainer".into())
        .spawn(move || {
            if low_priority {
                lower_thread_priority();
            }
            let out = Outbox::new(ev_tx, waker);
            let result = catch_unwind(AssertUnwindSafe(|| {
                run(trainer, &cmd_rx, &out, &slot, gate.as_deref())
            }));
            if let Err(panic) = result {
                let msg = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".into());
                out.send(Event::Error(format!("training panicked: {msg}")));
                out.send(Event::State(WorkerState::Failed));
            }
        })
        .map_err(|e| TrainError::InvalidConfig(format!("cannot start worker thread: {e}")))?;
    Ok(WorkerHandle {
        commands: cmd_tx,
        events: ev_rx,
        snapshot,
        thread: Some(thread),
    })
}

/// The sending side of an event stream (a worker's, a followed run directory's): every
/// event sent wakes the receiver.
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

/// Put the trainer's current weights in the slot; returns them.
fn publish(trainer: &Trainer, slot: &LatestSlot<Snapshot>) -> Arc<Snapshot> {
    let snap = Arc::new(trainer.snapshot());
    slot.set_arc(snap.clone());
    snap
}

/// The worker loop: apply commands, step while running, report.
fn run(
    mut trainer: Trainer,
    commands: &Receiver<Command>,
    out: &Outbox,
    slot: &LatestSlot<Snapshot>,
    gate: Option<&StepGate>,
) {
    publish(&trainer, slot);
    let mut state = WorkerState::Idle;
    if !out.send(Event::State(state)) {
        return;
    }
    let mut last_snapshot = Instant::now();
    let mut window_start = Instant::now();
    let (mut window_steps, mut window_samples) = (0u64, 0usize);
    loop {
        let cmd = if state == WorkerState::Running {
            match commands.try_recv() {
                Ok(c) => Some(c),
                Err(TryRecvError::Empty) => None,
                Err(TryRecvError::Disconnected) => return,
            }
        } else {
            match commands.recv() {
                Ok(c) => Some(c),
                Err(_) => return,
            }
        };
        let mut step_once = false;
        let had_command = cmd.is_some();
        if let Some(cmd) = cmd {
            let set = |r: Result<(), TrainError>, what: String| match r {
                Ok(()) => out.send(Event::Changed(what)),
                Err(e) => out.send(Event::Error(e.to_string())),
            };
            let mut new_state = state;
            match cmd {
                Command::Start | Command::Resume => {
                    if matches!(state, WorkerState::Idle | WorkerState::Paused) {
                        new_state = WorkerState::Running;
                        window_start = Instant::now();
                        (window_steps, window_samples) = (0, 0);
                    }
                }
                Command::Pause => {
                    if state == WorkerState::Running {
                        new_state = WorkerState::Paused;
                    }
                }
                Command::Step => {
                    if matches!(state, WorkerState::Idle | WorkerState::Paused) {
                        new_state = WorkerState::Paused;
                        step_once = true;
                    }
                }
                Command::Stop => {
                    publish(&trainer, slot);
                    out.send(Event::State(WorkerState::Stopped));
                    return;
                }
                Command::SetLr(lr) => {
                    set(trainer.set_lr(lr), format!("learning rate = {lr}"));
                }
                Command::SetBeta(b) => {
                    set(trainer.set_beta(b), format!("β = {b}"));
                }
                Command::SetSchedule(s) => {
                    set(trainer.set_schedule(s), format!("KL schedule = {s}"));
                }
                Command::SetFreeBits(fb) => {
                    set(trainer.set_free_bits(fb), format!("free bits = {fb:?}"));
                }
                Command::DebugPanic(msg) => panic!("{msg}"),
            }
            if new_state != state {
                if new_state == WorkerState::Paused {
                    // What a paused run shows (and saves) is exactly its current weights.
                    publish(&trainer, slot);
                    last_snapshot = Instant::now();
                }
                state = new_state;
                if !out.send(Event::State(state)) {
                    return;
                }
            }
        }
        // Every queued command is applied before the next step (a burst of live changes,
        // e.g. a dragged β, never waits behind steps); a Step command takes its step now.
        let step_now = step_once || (!had_command && state == WorkerState::Running);
        if !step_now {
            continue;
        }
        let ticket = gate.map(StepGate::enter);
        let result = trainer.step();
        drop(ticket);
        match result {
            Ok(outcome) => {
                window_steps += 1;
                window_samples += outcome.metrics.batch;
                if !out.send(Event::Step(outcome.metrics)) {
                    return;
                }
                let elapsed = window_start.elapsed();
                if elapsed >= Duration::from_secs(1) {
                    let s = elapsed.as_secs_f64();
                    out.send(Event::Throughput {
                        samples_per_sec: window_samples as f64 / s,
                        steps_per_sec: window_steps as f64 / s,
                    });
                    window_start = Instant::now();
                    (window_steps, window_samples) = (0, 0);
                }
                let mut published = None;
                if step_once || outcome.epoch_done || last_snapshot.elapsed() >= SNAPSHOT_INTERVAL {
                    published = Some(publish(&trainer, slot));
                    last_snapshot = Instant::now();
                }
                if outcome.epoch_done {
                    let metrics = {
                        let _ticket = gate.map(StepGate::enter);
                        trainer.evaluate(trainer.config().eval_iwae_k)
                    };
                    let snapshot = published.unwrap_or_else(|| publish(&trainer, slot));
                    out.send(Event::Epoch {
                        epoch: trainer.epoch(),
                        step: trainer.step_count(),
                        metrics,
                        snapshot,
                    });
                    if trainer.epoch() >= trainer.config().epochs {
                        state = WorkerState::Finished;
                        out.send(Event::State(state));
                    }
                }
            }
            Err(TrainError::NonFinite { step, term, value }) => {
                publish(&trainer, slot);
                out.send(Event::NonFinite { step, term, value });
                state = WorkerState::Paused;
                out.send(Event::State(state));
            }
            Err(e) => {
                out.send(Event::Error(e.to_string()));
                out.send(Event::State(WorkerState::Failed));
                return;
            }
        }
    }
}
