//! The runs' lifecycle: starting a run from the draft (or the preset), adding a loaded
//! file or a followed run directory, continuing a run here, and pointing a run's decoder at
//! the weights it shows (the newest, or the scrubbed epoch's).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use super::ExplorerApp;
use super::decoder::{self, Decoder};
use super::run::{EpochStore, PinKey, Run, RunId, RunSource, RunViews, Status};
use super::runs::Removed;
use super::session::AutosaveJob;
use crate::checkpoint::{DatasetInfo, Loaded};
use crate::data::{Dataset, Opened};
use crate::rundir::Follower;
use crate::train::worker::worker_policy;
use crate::train::{
    Command, LatestSlot, RunSpec, TrainConfig, TrainError, TrainLoop, Trainer, WorkerHandle,
    WorkerOptions, WorkerState, spawn_loop,
};
use crate::variant::VariantKind;

impl ExplorerApp {
    /// A unique name for a new run.
    fn unique_name(&self, base: &str) -> String {
        let taken = |n: &str| self.runs.iter().any(|r| r.name == n);
        if !taken(base) {
            return base.to_string();
        }
        (2..)
            .map(|i| format!("{base} {i}"))
            .find(|n| !taken(n))
            .unwrap_or_else(|| base.to_string())
    }

    /// Add a run around `source` with its decoder (its thread starts when a view is asked).
    pub(super) fn add_run(
        &mut self,
        name: String,
        source: RunSource,
        config: TrainConfig,
        data: Arc<Dataset>,
        dataset: DatasetInfo,
    ) -> RunId {
        let id = self.runs.next_id();
        let decoder = Decoder::spawn(
            data.clone(),
            self.device.clone(),
            self.gpu_buffers,
            decoder::Wakers {
                now: self.waker.clone(),
                soon: self.worker_waker.clone(),
            },
        );
        let mut run = Run {
            id,
            name: self.unique_name(&name),
            colour: self.runs.next_colour(),
            source,
            config,
            data,
            dataset,
            history: Default::default(),
            status: Status::default(),
            decoder,
            views: RunViews {
                inline_decode: true,
                ..RunViews::default()
            },
            epochs: EpochStore::default(),
            pinned: self.runs.scrub,
            outbox: Default::default(),
            sweep: None,
            show_views: true,
        };
        repin(&mut run);
        self.runs.add(run);
        self.refresh_intervals();
        id
    }

    /// Decoders refresh less often with more runs shown, so that decoding does not crowd
    /// out training on a small machine (runs whose views are not shown decode nothing).
    pub(super) fn refresh_intervals(&self) {
        let n = self
            .runs
            .iter()
            .filter(|r| self.runs.shows_views(r))
            .count()
            .max(1) as u32;
        for r in self.runs.iter() {
            r.decoder.set_refresh(decoder::REFRESH * n);
        }
    }

    fn worker_options(&self) -> WorkerOptions {
        WorkerOptions {
            waker: Some(self.worker_waker.clone()),
            gate: self.gate.clone(),
            low_priority: self.sharing.low_priority(),
        }
    }

    /// Start a run of variant `v` from the draft, with the variant's default β.
    pub(super) fn start_variant(&mut self, v: VariantKind) {
        let spec = RunSpec {
            variant: v,
            beta: None,
            ..self.persisted.draft.spec.clone()
        };
        self.start_run(spec);
    }

    /// Start training a run from `spec` on the workspace data (reloaded if the draft names
    /// another directory).
    pub(super) fn start_run(&mut self, spec: RunSpec) {
        let want = self.persisted.draft.data_dir.trim().to_string();
        if want != self.data_source {
            // The data is read off the UI thread; the run starts when it arrives.
            if self.waiting_for_data.is_empty() {
                self.io.load_dataset(want);
            }
            self.waiting_for_data.push(spec);
            return;
        }
        let trainer = Trainer::new(
            spec.train_config(&self.data),
            self.data.clone(),
            &self.device,
        );
        match trainer.and_then(|t| self.spawn_training(t)) {
            Ok((h, config)) => {
                let name = config.variant.label().to_string();
                let data = self.data.clone();
                let info = DatasetInfo::of(&data);
                self.add_run(name, RunSource::Training(h), config, data, info);
            }
            Err(e) => self.errors.push(format!("cannot start training: {e}")),
        }
    }

    /// The workspace data arrived (or did not): start the runs that waited for it.
    pub(super) fn data_loaded(&mut self, dir: String, result: Result<Box<Opened>, String>) {
        let waiting = std::mem::take(&mut self.waiting_for_data);
        match result {
            Ok(opened) => {
                if opened.skipped.total() > 0 {
                    self.note(format!(
                        "{}: {}",
                        opened.data.name,
                        opened.skipped.describe()
                    ));
                }
                self.data = Arc::new(opened.data);
                self.data_source = dir;
                self.data_generation += 1;
                for spec in waiting {
                    self.start_run(spec);
                }
            }
            Err(e) => self.errors.push(e),
        }
    }

    /// Start a worker around `trainer` and set it training: its handle and configuration.
    fn spawn_training(&self, trainer: Trainer) -> Result<(WorkerHandle, TrainConfig), TrainError> {
        self.spawn_training_loop(TrainLoop::new(trainer, worker_policy(self.gate.clone())))
    }

    /// Start a worker around a ready loop and set it training.
    fn spawn_training_loop(
        &self,
        run: TrainLoop<'static>,
    ) -> Result<(WorkerHandle, TrainConfig), TrainError> {
        let config = run.trainer().config().clone();
        let h = spawn_loop(run, self.worker_options())?;
        h.send(Command::Start);
        Ok((h, config))
    }

    pub(super) fn add_loaded(&mut self, path: PathBuf, loaded: Loaded) {
        let m = &loaded.meta.train.model;
        let data = match self.data.check_model(m) {
            Ok(()) => self.data.clone(),
            Err(e) => {
                self.errors
                    .push(format!("cannot open {}: {e}", path.display()));
                return;
            }
        };
        let snap = Arc::new(loaded.snapshot());
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "loaded".into());
        let source = RunSource::Loaded {
            path: path.clone(),
            slot: LatestSlot::holding(snap.clone()),
        };
        let id = self.add_run(
            name,
            source,
            loaded.meta.train.clone(),
            data,
            loaded.meta.dataset.clone(),
        );
        if let Some(run) = self.runs.get_mut(id) {
            run.status.state = WorkerState::Finished;
            run.status.epoch = loaded.meta.epoch;
            run.status.step = loaded.meta.step;
            // The curves the file carries (thinned), so a loaded run draws its history.
            run.history = loaded.meta.history.clone();
            if let Some(m) = &loaded.meta.metrics {
                run.history
                    .push_epoch(loaded.meta.epoch, loaded.meta.step, m.clone());
            }
            run.epochs.insert(snap);
            repin(run);
        }
        self.note(format!("opened {}", path.display()));
        self.persisted.workspace.remember(path);
    }

    /// Follow `dir` (already checked to be a directory, off the UI thread).
    pub(super) fn follow(&mut self, dir: PathBuf) {
        match Follower::spawn(&dir, self.device.clone(), Some(self.worker_waker.clone())) {
            Ok(f) => {
                let name = dir
                    .file_name()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "followed".into());
                let data = self.data.clone();
                let info = DatasetInfo::of(&data);
                // The configuration arrives with the directory's first record.
                self.add_run(
                    name,
                    RunSource::Following(f),
                    TrainConfig::default(),
                    data,
                    info,
                );
                self.note(format!("following {}", dir.display()));
            }
            Err(e) => self.errors.push(format!("cannot follow: {e}")),
        }
    }

    /// Train a loaded or followed run further here, from its newest weights, for the
    /// draft's number of epochs.
    pub(super) fn continue_run(&mut self, id: RunId) {
        let extra = self.persisted.draft.spec.epochs.max(1);
        let Some(run) = self.runs.get_mut(id) else {
            return;
        };
        if matches!(run.source, RunSource::Training(_)) && run.status.is_active() {
            run.status.error("already training");
            return;
        }
        let Some(snap) = run.latest() else {
            let why = run
                .weights_not_loaded()
                .unwrap_or_else(|| "no weights to continue from".into());
            run.status.error(why);
            return;
        };
        let data = run.data.clone();
        let started = Trainer::continue_from(&snap, data.clone(), &self.device, snap.epoch + extra)
            .and_then(|(t, exact)| {
                let run = TrainLoop::new(t, worker_policy(self.gate.clone())).continuing(&snap);
                Ok((self.spawn_training_loop(run)?, exact))
            });
        let Some(run) = self.runs.get_mut(id) else {
            return;
        };
        match started {
            Ok(((h, config), exact)) => {
                run.config = config;
                // A sweep's run trained here is a run of its own: the sweep's records no
                // longer apply to it.
                let left = run.sweep.take();
                run.show_views = true;
                // A replaced follower stops off the UI thread.
                reap(std::mem::replace(&mut run.source, RunSource::Training(h)));
                run.status.state = WorkerState::Idle;
                let how = if exact {
                    "exactly where it stopped (optimiser state, position in the epoch)"
                } else {
                    "with a fresh optimiser: the weights carry no training state, so this \
                     will not match an uninterrupted run"
                };
                run.status.note(format!(
                    "continuing from epoch {} (step {}) for {extra} more epochs on {}, {how}",
                    snap.epoch, snap.step, data.name
                ));
                // The source changed: point the decoder at the new worker's weights.
                run.views.pinned_to = None;
                repin(run);
                if let Some(m) = left {
                    self.leave_sweep(m);
                }
            }
            Err(e) => run.status.error(format!("cannot continue training: {e}")),
        }
    }
}

impl ExplorerApp {
    /// Remove run `id` from the workspace. A run whose weights live only here (trained here,
    /// or reopened from its autosave) is paused and kept whole, its autosave on disk, until
    /// its Undo lapses ([`ExplorerApp::commit_removal`]); any other run goes at once and
    /// nothing on disk is touched.
    pub(super) fn remove_run(&mut self, id: RunId) {
        let Some(run) = self.runs.get(id) else {
            return;
        };
        if !self.runs.only_here(run) {
            let Some(run) = self.runs.remove(id) else {
                return;
            };
            let stays = match &run.source {
                RunSource::Loaded { path, .. } => format!(": {} stays on disk", path.display()),
                RunSource::Following(f) => {
                    format!(": its run directory {} stays on disk", f.dir().display())
                }
                _ => ": nothing on disk was deleted".into(),
            };
            self.note(format!("removed {}{stays}", run.name));
            if let Some(m) = run.sweep {
                self.leave_sweep(m);
            }
            // Its worker, follower and decoder stop and are joined off the UI thread (a
            // step or an evaluation may be under way).
            reap(run);
            self.free_painter_slots(id);
            self.refresh_intervals();
            self.after_focus_change();
            return;
        }
        // One removal is undoable at a time: the one before is done now.
        self.commit_removal();
        let index = self.runs.position(id).unwrap_or(0);
        let (focused, baseline) = (
            self.runs.focused == Some(id),
            self.runs.baseline == Some(id),
        );
        let Some(mut run) = self.runs.remove(id) else {
            return;
        };
        let resume = matches!(run.source, RunSource::Training(_))
            && run.status.state == WorkerState::Running;
        if resume {
            run.queue_command(Command::Pause);
            run.flush_commands();
        }
        self.runs.removed = Some(Removed {
            run,
            index,
            focused,
            baseline,
            resume,
            until: Instant::now() + self.runs.undo_window,
        });
        self.refresh_intervals();
        self.after_focus_change();
    }

    /// Bring back the run removed last, as it was (training again if it was), while its
    /// Undo has not lapsed.
    pub(super) fn undo_removal(&mut self) {
        let Some(r) = self.runs.removed.take() else {
            return;
        };
        let Removed {
            mut run,
            index,
            focused,
            baseline,
            resume,
            ..
        } = r;
        let id = run.id;
        if resume {
            run.queue_command(Command::Resume);
            run.flush_commands();
        }
        self.note(format!("{} is back", run.name));
        self.runs.insert(index, run);
        if focused {
            self.runs.focused = Some(id);
        }
        if baseline {
            self.runs.baseline = Some(id);
        }
        self.refresh_intervals();
        self.after_focus_change();
    }

    /// The removal waiting for Undo is done for good: the run stops (off the UI thread),
    /// its painter slots go, and its autosave (its only copy) is deleted by the writer
    /// thread.
    pub(super) fn commit_removal(&mut self) {
        let Some(Removed { run, .. }) = self.runs.removed.take() else {
            return;
        };
        let (id, name) = (run.id, run.name.clone());
        if let Some(m) = run.sweep {
            self.leave_sweep(m);
        }
        reap(run);
        self.free_painter_slots(id);
        match self.autosave.release(id, self.runs.autosave_dir.as_deref()) {
            Some(dir) => {
                self.note(format!(
                    "removed {name}: deleting its autosave {}",
                    dir.display()
                ));
                self.io.autosave(AutosaveJob::removing(dir));
            }
            None => self.note(format!("removed {name}")),
        }
    }

    /// Autosave now (what eframe's save does every 30 s and at exit): the training runs'
    /// newest weights not yet written are handed to the writer thread, and the workspace
    /// to reopen is noted in the settings. Returns at once; the writes report back through
    /// the I/O results ([`ExplorerApp::finish_writes`] waits for them).
    pub fn autosave_now(&mut self) {
        let keep: Vec<RunId> = self.runs.removed.iter().map(|r| r.run.id).collect();
        let (open, errors, job) =
            self.autosave
                .plan(self.runs.autosave_dir.as_deref(), &self.runs, &keep);
        self.persisted.workspace.session = open;
        for e in errors {
            tracing::warn!("{e}");
            self.errors.push(e);
        }
        self.io.autosave(job);
    }

    /// At exit: a removal still undoable is done, and every write asked for (autosaves,
    /// deletions, saves, exports) is waited for and its result taken in (errors are logged,
    /// as no window shows them any more).
    pub fn finish_writes(&mut self) {
        self.commit_removal();
        let before = self.errors.len();
        self.io.finish_writes();
        for r in self.io.drain() {
            self.on_io(r);
        }
        for e in &self.errors[before.min(self.errors.len())..] {
            tracing::warn!("{e}");
        }
    }
}

/// Drop `x` (a removed run, a replaced follower) on a thread of its own: stopping and
/// joining its threads may wait for a training step, an evaluation or a decode, and the UI
/// thread does not wait.
pub(super) fn reap<T: Send + 'static>(x: T) {
    let spawned = std::thread::Builder::new()
        .name("latent-explorer-reaper".into())
        .spawn(move || drop(x));
    if let Err(e) = spawned {
        // Without a thread, dropping here (and waiting) is the only way left.
        tracing::warn!("cannot start a thread to stop a run in the background: {e}");
    }
}

/// Point the run's decoder at the weights it should show (the scrubbed epoch's or the
/// newest), if that changed.
pub(super) fn repin(run: &mut Run) {
    let (slot, key) = match run.pinned {
        None => (
            Some(run.source.slot()),
            PinKey {
                scrub: None,
                shown: None,
            },
        ),
        Some(e) => {
            let snap = run.epochs.at_or_before(e);
            let key = PinKey {
                scrub: Some(e),
                shown: snap.map(|s| (s.epoch, s.step)),
            };
            (snap.map(|s| LatestSlot::holding(s.clone())), key)
        }
    };
    if run.views.pinned_to == Some(key) {
        return;
    }
    run.views.pinned_to = Some(key);
    if slot.is_none() {
        // Nothing to show for the scrubbed epoch: drop what the newer weights decoded.
        run.views.images.clear();
        run.views.stats = None;
    }
    run.decoder.set_source(slot);
    run.views.asked.clear();
}
