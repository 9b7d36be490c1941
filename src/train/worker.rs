//! The training worker: a background thread that drives a [`TrainLoop`] step by step,
//! takes [`Command`]s and emits [`Event`]s through bounded channels, calling a waker after
//! each event (the UI's `request_repaint`). The latest inference copy of the weights sits in
//! a [`LatestSlot`] for the UI to decode from without waiting on the worker; it is
//! republished, with the training state, whenever the worker stops stepping (pause, finish,
//! stop, an epoch's end), so a paused run's snapshot is exactly its current weights and
//! resumes exactly. Several workers can share the machine politely: each may take its
//! steps through a shared [`StepGate`] and at a lowered OS priority ([`WorkerOptions`]).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use burn::tensor::Device;

use super::config::TrainConfig;
use super::error::TrainError;

use super::protocol::{
    Command, Event, LatestSlot, Outbox, Snapshot, TrySendError, Waker, WorkerState, join_draining,
};
use super::run_loop::{
    EpochReport, NonFinite, OnNonFinite, Policy, Progress, RunView, Sink, SinkError, Stopped,
    TrainLoop,
};
use super::share::StepGate;
use super::step::StepMetrics;
use super::trainer::Trainer;
use crate::cpu::lanes;
use crate::cpu::priority::{lower_thread_priority, thread_id};
use crate::data::Dataset;

/// The caller's side of a running worker.
pub struct WorkerHandle {
    commands: SyncSender<Command>,
    events: Receiver<Event>,
    snapshot: LatestSlot<Snapshot>,
    thread: Option<JoinHandle<()>>,
    threads: TrainingThreads,
}

/// The threads a worker trains on, as they record themselves: its own thread, its compute
/// pool's, and the lanes its training thread takes.
#[derive(Clone, Default)]
struct TrainingThreads {
    ids: Arc<Mutex<Vec<i32>>>,
    lanes: Arc<OnceLock<&'static lanes::Lanes>>,
}

impl TrainingThreads {
    fn record(&self) {
        self.ids
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(thread_id());
    }
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

    /// The kernel ids of the threads this worker's training runs on, each with the
    /// priority the worker was asked for ([`WorkerOptions::low_priority`]): its own thread,
    /// its compute pool's threads (burn's parallel kernels), and the CPU lanes its trainer
    /// splits batches over (made when the worker starts, shared by the workers of that
    /// priority). For checking their scheduling from outside
    /// (`sched_getscheduler`, `/proc/self/task/ID/stat`).
    pub fn training_threads(&self) -> Vec<i32> {
        let mut ids = self
            .threads
            .ids
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Some(l) = self.threads.lanes.get() {
            ids.extend(l.thread_ids());
        }
        ids
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
    /// Run every thread of this worker's training at a lowered OS priority (Linux:
    /// `SCHED_IDLE`, see [`lower_thread_priority`]): its own thread, the compute pool it
    /// makes for burn's parallel kernels, and the CPU lanes it splits batches over (the
    /// lowered set). Only this worker's threads: a worker without it, in the same
    /// process, trains on threads of normal priority.
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

/// The app's policy for a worker's loop: evaluate every epoch, no final evaluation, pause on
/// a non-finite value (the user may lower the learning rate and go on), steps through
/// `gate`.
pub fn worker_policy(gate: Option<Arc<StepGate>>) -> Policy {
    Policy {
        evaluate_epochs: true,
        final_iwae_k: 0,
        on_non_finite: OnNonFinite::Pause,
        interrupt: None,
        gate,
    }
}

/// Start a worker thread around a ready trainer (fresh, or resumed from a checkpoint with
/// [`Trainer::resume`] or [`Trainer::with_weights`]), in a loop with [`worker_policy`].
/// Training begins on [`Command::Start`].
pub fn spawn_trainer(trainer: Trainer, opts: WorkerOptions) -> Result<WorkerHandle, TrainError> {
    let policy = worker_policy(opts.gate.clone());
    spawn_loop(TrainLoop::new(trainer, policy), opts)
}

/// Start a worker thread around a ready loop (e.g. one carrying a resumed run's history and
/// configuration). `opts.gate` is the loop policy's business ([`worker_policy`]). Training
/// begins on [`Command::Start`].
pub fn spawn_loop(
    run: TrainLoop<'static>,
    opts: WorkerOptions,
) -> Result<WorkerHandle, TrainError> {
    let WorkerOptions {
        waker,
        low_priority,
        ..
    } = opts;
    let (cmd_tx, cmd_rx) = sync_channel::<Command>(64);
    let (ev_tx, ev_rx) = sync_channel::<Event>(EVENT_CAPACITY);
    let snapshot = LatestSlot::new();
    let slot = snapshot.clone();
    let threads = TrainingThreads::default();
    let mine = threads.clone();
    // Counted here, not on the lowered thread: the first look at rayon's global pool makes
    // it, and its threads would take the maker's (lowered) policy.
    let pool_threads = lanes::count();
    let thread = std::thread::Builder::new()
        .name("latent-explorer-trainer".into())
        .spawn(move || {
            if low_priority {
                lower_thread_priority();
            }
            mine.record();
            let out = Outbox::new(ev_tx, waker);
            let (outbox, record) = (out.clone(), mine.clone());
            let train = move || {
                // The lanes this thread's trainer takes (those of its priority).
                let _ = record.lanes.set(lanes::lanes());
                let out = outbox;
                catch_unwind(AssertUnwindSafe(|| {
                    let sink = WorkerSink {
                        out: out.clone(),
                        slot: slot.clone(),
                        last_publish: Instant::now(),
                    };
                    drive(run.with_sink(sink), &cmd_rx, &out, &slot)
                }))
            };
            // burn's parallel kernels run on the rayon pool of the calling thread: a pool of
            // this worker's own, of its priority, so they never run on (or lower) the
            // process's global pool.
            let result = match compute_pool(pool_threads, low_priority, &mine) {
                Ok(pool) => pool.install(train),
                Err(e) => {
                    tracing::warn!(
                        "cannot start the worker's compute threads ({e}): burn's kernels use the shared pool"
                    );
                    train()
                }
            };
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
        threads,
    })
}

/// A rayon pool of `n` threads for one worker's training, its threads lowered when `low`
/// (explicitly: a thread made by a lowered thread inherits its policy on Linux, but not the
/// mark by which its lanes are picked); each records itself in `threads`.
fn compute_pool(
    n: usize,
    low: bool,
    threads: &TrainingThreads,
) -> Result<rayon::ThreadPool, rayon::ThreadPoolBuildError> {
    let threads = threads.clone();
    rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .thread_name(|i| format!("train-pool-{i}"))
        .start_handler(move |_| {
            if low {
                lower_thread_priority();
            }
            threads.record();
        })
        .build()
}

/// What a worker's loop reports through: events to the app, weights into the slot.
struct WorkerSink {
    out: Outbox,
    slot: LatestSlot<Snapshot>,
    last_publish: Instant,
}

/// The receiver has gone: the worker ends.
fn gone() -> SinkError {
    "the app stopped listening".into()
}

impl Sink for WorkerSink {
    fn step(&mut self, run: &RunView<'_>, m: &StepMetrics) -> Result<(), SinkError> {
        if !self.out.send(Event::Step(m.clone())) {
            return Err(gone());
        }
        if self.last_publish.elapsed() >= SNAPSHOT_INTERVAL {
            self.slot.set(run.snapshot());
            self.last_publish = Instant::now();
        }
        Ok(())
    }

    fn epoch(&mut self, r: &EpochReport) -> Result<(), SinkError> {
        self.slot.set_arc(r.snapshot.clone());
        self.last_publish = Instant::now();
        if let Some(metrics) = &r.metrics {
            self.out.send(Event::Epoch {
                epoch: r.epoch,
                step: r.step,
                metrics: metrics.clone(),
                snapshot: r.snapshot.clone(),
            });
        }
        Ok(())
    }

    fn non_finite(&mut self, nf: &NonFinite) -> Result<(), SinkError> {
        self.slot.set_arc(nf.snapshot.clone());
        self.out.send(Event::NonFinite {
            step: nf.step,
            term: nf.term.clone(),
            value: nf.value,
        });
        Ok(())
    }

    fn stopped(&mut self, _how: &Stopped, snapshot: &Arc<Snapshot>) -> Result<(), SinkError> {
        self.slot.set_arc(snapshot.clone());
        Ok(())
    }
}

/// The worker loop: apply commands, advance the loop while running, report.
fn drive(
    mut run: TrainLoop<'static>,
    commands: &Receiver<Command>,
    out: &Outbox,
    slot: &LatestSlot<Snapshot>,
) {
    slot.set_arc(run.full_snapshot());
    let mut state = WorkerState::Idle;
    if !out.send(Event::State(state)) {
        return;
    }
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
            let trainer = run.trainer_mut();
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
                    slot.set_arc(run.full_snapshot());
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
            if run.is_finished() && new_state != state {
                // Nothing left to train: a Start, Resume or Step of a finished run.
                new_state = WorkerState::Finished;
            }
            if new_state != state {
                if new_state == WorkerState::Paused {
                    // What a paused run shows (and saves) is exactly its current weights.
                    slot.set_arc(run.full_snapshot());
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
        match run.advance() {
            Ok(Progress::Stepped { metrics, .. }) => {
                window_steps += 1;
                window_samples += metrics.batch;
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
                if step_once {
                    slot.set_arc(run.full_snapshot());
                }
                if run.is_finished() {
                    state = WorkerState::Finished;
                    out.send(Event::State(state));
                }
            }
            Ok(Progress::Finished) => {
                state = WorkerState::Finished;
                out.send(Event::State(state));
            }
            Ok(Progress::Paused(_)) => {
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
