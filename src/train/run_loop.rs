//! The one training loop: a [`TrainLoop`] drives a [`Trainer`] step by step through its
//! epochs, evaluates at each epoch's end and after the last, applies the non-finite policy,
//! and reports everything to its [`Sink`]s — the CLI's progress and checkpoint, the
//! run-directory writer, the app's worker, a benchmark's figures. Its decisions are
//! parameters ([`Policy`]); the sinks only consume what it reports. The style is
//! burn-train's renderers and Brush's process stream: one producer, pluggable consumers.
//!
//! A caller either runs it to the end ([`TrainLoop::run`]) or calls
//! [`TrainLoop::advance`] one step at a time between its own work (the worker applies its
//! commands between steps).

use std::error::Error;
use std::sync::Arc;
use std::time::Instant;

use thiserror::Error;

use super::error::TrainError;
use super::history::LossHistory;
use super::metrics::EvalMetrics;
use super::protocol::Snapshot;
use super::share::StepGate;
use super::step::StepMetrics;
use super::trainer::Trainer;

/// What a sink's failure carries (its source chain is kept).
pub type SinkError = Box<dyn Error + Send + Sync>;

/// A sink's failure with what it was doing, e.g. "saving the checkpoint" (shown before the
/// cause).
#[derive(Debug, Error)]
#[error("{what}")]
pub struct SinkFailure {
    /// What the sink was doing.
    pub what: &'static str,
    /// Why it failed.
    #[source]
    pub source: SinkError,
}

/// `e` as a [`SinkError`] that says what the sink was doing.
pub fn failed(what: &'static str, e: impl Error + Send + Sync + 'static) -> SinkError {
    Box::new(SinkFailure {
        what,
        source: Box::new(e),
    })
}

/// What to do when a loss term or the gradient goes NaN or infinite. Either way no update
/// of that step is applied and the weights stay the last finite ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnNonFinite {
    /// Stop the run with an error (the command line): the sinks save the finite weights.
    Stop,
    /// Pause: [`TrainLoop::advance`] returns [`Progress::Paused`] and may be called again,
    /// e.g. after a lower learning rate (the app).
    Pause,
}

/// The loop's decisions.
#[derive(Clone)]
pub struct Policy {
    /// Evaluate on the test split after every epoch (with the run's `eval_iwae_k`).
    pub evaluate_epochs: bool,
    /// Importance samples of the IWAE estimate after the last epoch (0: no final
    /// evaluation).
    pub final_iwae_k: usize,
    /// The non-finite policy.
    pub on_non_finite: OnNonFinite,
    /// Asked before every step: `true` stops the run early ([`Stopped::Interrupted`]),
    /// e.g. on Ctrl-C.
    pub interrupt: Option<Arc<dyn Fn() -> bool + Send + Sync>>,
    /// Steps and evaluations are taken through this gate (shared by an app's runs).
    pub gate: Option<Arc<StepGate>>,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            evaluate_epochs: true,
            final_iwae_k: 0,
            on_non_finite: OnNonFinite::Stop,
            interrupt: None,
            gate: None,
        }
    }
}

/// The end of an epoch, or the final evaluation.
#[derive(Debug, Clone)]
pub struct EpochReport {
    /// Epochs completed.
    pub epoch: usize,
    /// Global steps taken.
    pub step: u64,
    /// The test metrics (`None` when the policy skips per-epoch evaluation).
    pub metrics: Option<EvalMetrics>,
    /// Images trained on in the epoch's steps taken here.
    pub images: usize,
    /// Images per second over the epoch's steps (this process's; 0 for a final
    /// evaluation).
    pub samples_per_sec: f64,
    /// Seconds the epoch's steps took here (evaluation not included).
    pub train_secs: f64,
    /// Mean of the optimised loss over the epoch's steps taken here.
    pub train_loss: f64,
    /// The optimised loss of the epoch's last step.
    pub last_loss: f64,
    /// Steps of the epoch taken here (fewer than an epoch's when it was resumed midway).
    pub steps: u64,
    /// Seconds the evaluation took.
    pub eval_secs: f64,
    /// The weights the metrics belong to, with the training state (resumable).
    pub snapshot: Arc<Snapshot>,
}

/// Why a run stopped.
#[derive(Debug, Clone, PartialEq)]
pub enum Stopped {
    /// Every epoch (and the final evaluation) is done.
    Finished,
    /// The policy's interrupt asked for it.
    Interrupted,
    /// A non-finite value under [`OnNonFinite::Stop`].
    NonFinite(String),
    /// A failure (a sink's, or a training error).
    Failed(String),
}

/// A non-finite value seen at a step.
#[derive(Debug, Clone)]
pub struct NonFinite {
    /// Global step at which it happened.
    pub step: u64,
    /// Which term ("total", "rec", "kl", "grad_norm", …), prefixed by phase if several.
    pub term: String,
    /// The value seen.
    pub value: f64,
    /// The last finite weights, with the training state.
    pub snapshot: Arc<Snapshot>,
}

/// What consumes a run's progress. Every method has a default that does nothing.
pub trait Sink: Send {
    /// A step was taken. `run` gives the weights on demand (for a latest-value slot).
    fn step(&mut self, run: &RunView<'_>, m: &StepMetrics) -> Result<(), SinkError> {
        let _ = (run, m);
        Ok(())
    }

    /// An epoch ended (evaluated per the policy).
    fn epoch(&mut self, report: &EpochReport) -> Result<(), SinkError> {
        let _ = report;
        Ok(())
    }

    /// The final evaluation of the last epoch's weights.
    fn final_eval(&mut self, report: &EpochReport) -> Result<(), SinkError> {
        let _ = report;
        Ok(())
    }

    /// A non-finite value (under either policy; [`Sink::stopped`] follows under `Stop`).
    fn non_finite(&mut self, nf: &NonFinite) -> Result<(), SinkError> {
        let _ = nf;
        Ok(())
    }

    /// The run stopped; `snapshot` is its last weights with the training state.
    fn stopped(&mut self, how: &Stopped, snapshot: &Arc<Snapshot>) -> Result<(), SinkError> {
        let _ = (how, snapshot);
        Ok(())
    }
}

/// A read-only view of the running loop for sinks.
pub struct RunView<'a> {
    trainer: &'a Trainer,
    history: &'a Arc<LossHistory>,
    run_config: &'a Option<Arc<str>>,
}

impl RunView<'_> {
    /// The trainer (configuration, data, step counters).
    pub fn trainer(&self) -> &Trainer {
        self.trainer
    }

    /// The current weights without the training state (cheap: for display).
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            history: self.history.clone(),
            run_config: self.run_config.clone(),
            ..self.trainer.snapshot()
        }
    }
}

/// Why [`TrainLoop::advance`] or [`TrainLoop::run`] failed.
#[derive(Debug, Error)]
pub enum LoopError {
    /// Training failed (a non-finite value under [`OnNonFinite::Stop`] is
    /// [`TrainError::NonFinite`]).
    #[error(transparent)]
    Train(#[from] TrainError),
    /// The policy's interrupt stopped the run at this step.
    #[error("interrupted at step {step} ({epoch} epochs complete)")]
    Interrupted {
        /// Global steps taken.
        step: u64,
        /// Epochs completed.
        epoch: usize,
    },
    /// A sink failed.
    #[error(transparent)]
    Sink(SinkError),
    /// The run stopped for `reason`, and a sink then failed to record it (e.g. to save the
    /// weights).
    #[error("{reason}; and then {error}")]
    StopFailed {
        /// Why the run stopped.
        reason: Box<LoopError>,
        /// The sink's failure.
        error: SinkError,
    },
}

/// What one [`TrainLoop::advance`] did.
#[derive(Debug, Clone)]
pub enum Progress {
    /// A step was taken; `epoch_done` when it ended an epoch (evaluated and reported).
    Stepped {
        /// The step's metrics.
        metrics: StepMetrics,
        /// Whether it ended an epoch.
        epoch_done: bool,
    },
    /// A non-finite value under [`OnNonFinite::Pause`]: nothing was applied; advancing
    /// again retries the step.
    Paused(NonFinite),
    /// Every epoch is done (and the final evaluation taken): nothing more to do.
    Finished,
}

/// The one training loop (see the module docs). Its sinks may borrow for `'s` (a worker's
/// loop owns them all: `'static`).
pub struct TrainLoop<'s> {
    trainer: Trainer,
    policy: Policy,
    sinks: Vec<Box<dyn Sink + 's>>,
    history: LossHistory,
    /// The thinned history that snapshots share, refreshed at most every second.
    shared_history: Arc<LossHistory>,
    history_at: Instant,
    run_config: Option<Arc<str>>,
    /// This epoch's steps taken here, images, loss sum, and when its first step began.
    epoch_steps: u64,
    epoch_images: usize,
    epoch_loss: f64,
    epoch_start: Option<Instant>,
    finished: bool,
}

impl<'s> TrainLoop<'s> {
    /// A loop over `trainer` (fresh or resumed) with `policy` and no sinks yet.
    pub fn new(trainer: Trainer, policy: Policy) -> Self {
        Self {
            trainer,
            policy,
            sinks: Vec::new(),
            history: LossHistory::default(),
            shared_history: Arc::default(),
            history_at: Instant::now(),
            run_config: None,
            epoch_steps: 0,
            epoch_images: 0,
            epoch_loss: 0.0,
            epoch_start: None,
            finished: false,
        }
    }

    /// Report to `sink` too.
    pub fn with_sink(mut self, sink: impl Sink + 's) -> Self {
        self.sinks.push(Box::new(sink));
        self
    }

    /// Carry `history` (a resumed run's curves, cut at its step) in its snapshots.
    pub fn with_history(mut self, mut history: LossHistory) -> Self {
        history.truncate(self.trainer.epoch(), self.trainer.step_count());
        self.shared_history = Arc::new(history.thinned());
        self.history = history;
        self
    }

    /// Carry on what `snap` — the weights this loop's trainer goes on from — carries: its
    /// loss history (cut at its step) and its configuration file.
    pub fn continuing(mut self, snap: &Snapshot) -> Self {
        if let Some(text) = &snap.run_config {
            self.run_config = Some(text.clone());
        }
        self.with_history((*snap.history).clone())
    }

    /// Carry the run's configuration file (its text) in its snapshots and checkpoints.
    pub fn with_run_config(mut self, text: impl Into<Arc<str>>) -> Self {
        self.run_config = Some(text.into());
        self
    }

    /// The trainer (for live changes: learning rate, β, schedule).
    pub fn trainer_mut(&mut self) -> &mut Trainer {
        &mut self.trainer
    }

    /// The trainer.
    pub fn trainer(&self) -> &Trainer {
        &self.trainer
    }

    /// The trainer, the loop and its sinks done with.
    pub fn into_trainer(self) -> Trainer {
        self.trainer
    }

    /// The loss history so far (unthinned).
    pub fn history(&self) -> &LossHistory {
        &self.history
    }

    /// Whether every epoch is done (and the final evaluation taken).
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// The current weights with the training state and the history: what a checkpoint
    /// to resume from holds.
    pub fn full_snapshot(&mut self) -> Arc<Snapshot> {
        self.shared_history = Arc::new(self.history.thinned());
        self.history_at = Instant::now();
        Arc::new(Snapshot {
            history: self.shared_history.clone(),
            state: Some(Arc::new(self.trainer.train_state())),
            run_config: self.run_config.clone(),
            ..self.trainer.snapshot()
        })
    }

    /// Call every sink with `f`; the first failure is returned after all were called.
    fn notify(
        &mut self,
        f: impl Fn(&mut dyn Sink, &RunView<'_>) -> Result<(), SinkError>,
    ) -> Result<(), LoopError> {
        let view = RunView {
            trainer: &self.trainer,
            history: &self.shared_history,
            run_config: &self.run_config,
        };
        let mut first = None;
        for s in &mut self.sinks {
            if let Err(e) = f(s.as_mut(), &view)
                && first.is_none()
            {
                first = Some(e);
            }
        }
        first.map_or(Ok(()), |e| Err(LoopError::Sink(e)))
    }

    /// Tell the sinks the run stopped (`how`), with its resumable weights, and return
    /// `err`, the reason, joined by a sink's failure to record it.
    fn stop(&mut self, how: Stopped, err: LoopError) -> LoopError {
        let snap = self.full_snapshot();
        match self.notify(|s, _| s.stopped(&how, &snap)) {
            Ok(()) => err,
            Err(LoopError::Sink(error)) => LoopError::StopFailed {
                reason: Box::new(err),
                error,
            },
            Err(other) => other,
        }
    }

    /// Evaluate with `iwae_k` samples, through the gate.
    fn evaluate(&self, iwae_k: usize) -> (EvalMetrics, f64) {
        let _ticket = self.policy.gate.as_deref().map(StepGate::enter);
        let t0 = Instant::now();
        let m = self.trainer.evaluate(iwae_k);
        (m, t0.elapsed().as_secs_f64())
    }

    /// Take one step, and at an epoch's end evaluate and report it; after the last epoch
    /// take the final evaluation. Returns [`Progress::Finished`] (doing nothing) once all is
    /// done.
    pub fn advance(&mut self) -> Result<Progress, LoopError> {
        if self.finished {
            return Ok(Progress::Finished);
        }
        if self.trainer.epoch() >= self.trainer.config().epochs {
            return self.finish().map(|()| Progress::Finished);
        }
        if let Some(interrupt) = &self.policy.interrupt
            && interrupt()
        {
            let (step, epoch) = (self.trainer.step_count(), self.trainer.epoch());
            return Err(self.stop(Stopped::Interrupted, LoopError::Interrupted { step, epoch }));
        }
        let start = *self.epoch_start.get_or_insert_with(Instant::now);
        let result = {
            let _ticket = self.policy.gate.as_deref().map(StepGate::enter);
            self.trainer.step()
        };
        let outcome = match result {
            Ok(o) => o,
            Err(TrainError::NonFinite { step, term, value }) => {
                let snapshot = self.full_snapshot();
                let nf = NonFinite {
                    step,
                    term: term.clone(),
                    value,
                    snapshot,
                };
                self.notify(|s, _| s.non_finite(&nf))?;
                let e = TrainError::NonFinite { step, term, value };
                return match self.policy.on_non_finite {
                    OnNonFinite::Pause => Ok(Progress::Paused(nf)),
                    OnNonFinite::Stop => {
                        Err(self.stop(Stopped::NonFinite(e.to_string()), e.into()))
                    }
                };
            }
            Err(e) => {
                let msg = e.to_string();
                return Err(self.stop(Stopped::Failed(msg), e.into()));
            }
        };
        let m = outcome.metrics;
        self.history.push_step(&m);
        self.epoch_steps += 1;
        self.epoch_images += m.batch;
        self.epoch_loss += m.get("loss").unwrap_or(0.0);
        if self.history_at.elapsed().as_secs() >= 1 {
            self.shared_history = Arc::new(self.history.thinned());
            self.history_at = Instant::now();
        }
        self.notify(|s, view| s.step(view, &m))
            .map_err(|e| self.stop_failed(e))?;
        if outcome.epoch_done {
            let secs = start.elapsed().as_secs_f64().max(1e-9);
            let metrics = self.policy.evaluate_epochs.then(|| {
                let k = self.trainer.config().eval_iwae_k;
                self.evaluate(k)
            });
            let (epoch, step) = (self.trainer.epoch(), self.trainer.step_count());
            if let Some((m, _)) = &metrics {
                self.history.push_epoch(epoch, step, m.clone());
            }
            let report = EpochReport {
                epoch,
                step,
                eval_secs: metrics.as_ref().map_or(0.0, |(_, s)| *s),
                metrics: metrics.map(|(m, _)| m),
                images: self.epoch_images,
                samples_per_sec: self.epoch_images as f64 / secs,
                train_secs: secs,
                train_loss: self.epoch_loss / self.epoch_steps.max(1) as f64,
                last_loss: m.get("loss").unwrap_or(f64::NAN),
                steps: self.epoch_steps,
                snapshot: self.full_snapshot(),
            };
            (self.epoch_steps, self.epoch_images, self.epoch_loss) = (0, 0, 0.0);
            self.epoch_start = None;
            self.notify(|s, _| s.epoch(&report))
                .map_err(|e| self.stop_failed(e))?;
            if epoch >= self.trainer.config().epochs {
                self.finish()?;
            }
        }
        Ok(Progress::Stepped {
            metrics: m,
            epoch_done: outcome.epoch_done,
        })
    }

    /// A sink failed mid-run: the others hear that the run stopped.
    fn stop_failed(&mut self, e: LoopError) -> LoopError {
        let msg = e.to_string();
        self.stop(Stopped::Failed(msg), e)
    }

    /// The final evaluation (if the policy asks for one), then `stopped(Finished)`.
    fn finish(&mut self) -> Result<(), LoopError> {
        if self.finished {
            return Ok(());
        }
        self.finished = true;
        let k = self.policy.final_iwae_k;
        let interrupted = self.policy.interrupt.as_ref().is_some_and(|i| i());
        if k > 0 && !interrupted {
            let (metrics, eval_secs) = self.evaluate(k);
            let (epoch, step) = (self.trainer.epoch(), self.trainer.step_count());
            self.history.push_epoch(epoch, step, metrics.clone());
            let report = EpochReport {
                epoch,
                step,
                metrics: Some(metrics),
                images: 0,
                samples_per_sec: 0.0,
                train_secs: 0.0,
                train_loss: f64::NAN,
                last_loss: f64::NAN,
                steps: 0,
                eval_secs,
                snapshot: self.full_snapshot(),
            };
            self.notify(|s, _| s.final_eval(&report))
                .map_err(|e| self.stop_failed(e))?;
        }
        let snap = self.full_snapshot();
        self.notify(|s, _| s.stopped(&Stopped::Finished, &snap))
    }

    /// Advance until every epoch is done (or the run stops).
    pub fn run(&mut self) -> Result<(), LoopError> {
        loop {
            match self.advance()? {
                Progress::Finished => return Ok(()),
                Progress::Stepped { .. } => {}
                // Under `Pause` a caller that runs to the end has nobody to change anything:
                // the same step would fail again.
                Progress::Paused(nf) => {
                    let e = TrainError::NonFinite {
                        step: nf.step,
                        term: nf.term,
                        value: nf.value,
                    };
                    return Err(self.stop(Stopped::NonFinite(e.to_string()), e.into()));
                }
            }
        }
    }
}

/// A sink borrowed for the loop's lifetime (read back once the loop is done).
impl<S: Sink + ?Sized> Sink for &mut S {
    fn step(&mut self, run: &RunView<'_>, m: &StepMetrics) -> Result<(), SinkError> {
        (**self).step(run, m)
    }
    fn epoch(&mut self, report: &EpochReport) -> Result<(), SinkError> {
        (**self).epoch(report)
    }
    fn final_eval(&mut self, report: &EpochReport) -> Result<(), SinkError> {
        (**self).final_eval(report)
    }
    fn non_finite(&mut self, nf: &NonFinite) -> Result<(), SinkError> {
        (**self).non_finite(nf)
    }
    fn stopped(&mut self, how: &Stopped, snapshot: &Arc<Snapshot>) -> Result<(), SinkError> {
        (**self).stopped(how, snapshot)
    }
}
