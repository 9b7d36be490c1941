//! Following sweep directories, as the app does it: a sweep read off the UI thread becomes a
//! followed sweep with one follower ([`crate::sweep::follow`]); its events — a run's new
//! records, a shown run's weights — are applied here within a time budget per frame, so
//! opening a sweep of hundreds of finished runs spreads over frames instead of freezing
//! one; and which runs' weights the follower loads follows which runs' views are shown.

use std::time::{Duration, Instant};

use super::app::ExplorerApp;
use super::decoder::ViewKey;
use super::run::{EpochStore, RunId, RunSource, RunViews, Status, SweepId};
use super::run::{Run, SweepMember};
use super::sweeps::{FollowedSweep, Member, SHOWN_CONFIGURATIONS, group_colour};
use super::workspace::{reap, repin};
use crate::checkpoint::DatasetInfo;
use crate::rundir::{FORMAT, Record};
use crate::sweep::follow::{OpenedSweep, SweepEvent, SweepFollower};
use crate::train::{LatestSlot, TrainConfig, WorkerState};

/// Longest one frame spends applying sweep events; the rest waits for the next frame
/// (asked for at once). A finished run's whole file is one event, applied in well under a
/// millisecond.
pub const INTAKE_BUDGET: Duration = Duration::from_millis(8);

/// Most problems kept per sweep for runs not in the workspace.
const MAX_SWEEP_ERRORS: usize = 20;

impl ExplorerApp {
    /// Follow the sweep `opened` (read off the UI thread after being asked for at `asked`).
    pub(super) fn follow_sweep(&mut self, opened: OpenedSweep, asked: Instant) {
        let dir = opened.plan.dir.clone();
        if self.runs.sweeps.iter().any(|s| s.dir == dir) {
            self.note(format!("already following the sweep {}", dir.display()));
            return;
        }
        match SweepFollower::spawn(
            &opened.plan,
            self.device.clone(),
            Some(self.worker_waker.clone()),
        ) {
            Ok(follower) => {
                let id = self.runs.next_sweep_id();
                let n = opened.runs.len();
                let groups = opened.groups.len();
                self.runs
                    .sweeps
                    .push(FollowedSweep::new(id, opened, follower, asked));
                self.note(format!(
                    "following the sweep {}: {n} runs in {groups} configurations",
                    dir.display()
                ));
            }
            Err(e) => self.errors.push(format!("cannot follow the sweep: {e}")),
        }
    }

    /// Apply the sweeps' events for at most [`INTAKE_BUDGET`]; with events left, the next
    /// frame is asked for at once.
    pub(super) fn sweep_intake(&mut self) {
        let start = Instant::now();
        let ids: Vec<SweepId> = self.runs.sweeps.iter().map(|s| s.id).collect();
        for sweep in ids {
            loop {
                if start.elapsed() >= INTAKE_BUDGET {
                    (self.waker)();
                    return;
                }
                let Some(ev) = self.runs.sweep(sweep).and_then(|s| s.follower.try_recv()) else {
                    break;
                };
                self.on_sweep_event(sweep, ev);
            }
        }
    }

    fn on_sweep_event(&mut self, sweep: SweepId, ev: SweepEvent) {
        let index = match &ev {
            SweepEvent::Records { run, .. }
            | SweepEvent::Damaged { run, .. }
            | SweepEvent::WeightsFailed { run, .. }
            | SweepEvent::Restarted { run }
            | SweepEvent::Weights { run, .. } => Some(*run),
            SweepEvent::CaughtUp => None,
        };
        let member = index.and_then(|i| {
            self.runs
                .sweep(sweep)
                .and_then(|s| s.members.get(i).copied())
        });
        let in_workspace = match member {
            Some(Member::In(id)) => Some(id),
            _ => None,
        };
        match ev {
            SweepEvent::Records { run, records } => {
                let id = match member {
                    Some(Member::In(id)) => id,
                    Some(Member::Planned) => match self.add_sweep_run(sweep, run, &records) {
                        Some(id) => id,
                        None => return,
                    },
                    _ => return,
                };
                for rec in records {
                    self.apply_record(id, rec);
                }
            }
            SweepEvent::Damaged { error, .. } => match in_workspace {
                Some(id) => {
                    if let Some(r) = self.runs.get_mut(id) {
                        r.status.error(error);
                    }
                }
                None => sweep_error(&mut self.runs, sweep, error),
            },
            SweepEvent::WeightsFailed { error, .. } => {
                if let Some(r) = in_workspace.and_then(|id| self.runs.get_mut(id)) {
                    r.status.error(error);
                }
            }
            SweepEvent::Restarted { .. } => {
                if let Some(id) = in_workspace {
                    if let Some(r) = self.runs.get_mut(id) {
                        // What was read is no longer the run: it starts over.
                        r.history = Default::default();
                        r.status = Status::default();
                        r.status.note("the run started again from the beginning");
                        drop_weights(r);
                    }
                    self.free_painter_slots(id);
                }
            }
            SweepEvent::Weights { snapshot, .. } => {
                let scrub = self.runs.scrub;
                let Some(r) = in_workspace.and_then(|id| self.runs.get_mut(id)) else {
                    return;
                };
                // Weights asked for before the run stopped being shown are not kept.
                let RunSource::Sweep {
                    slot, wanted: true, ..
                } = &r.source
                else {
                    return;
                };
                let newer = slot
                    .get()
                    .is_none_or(|s| (snapshot.epoch, snapshot.step) >= (s.epoch, s.step));
                if newer {
                    slot.set_arc(snapshot.clone());
                }
                r.epochs.insert(snapshot);
                if scrub.is_some() {
                    repin(r);
                }
            }
            SweepEvent::CaughtUp => {
                let Some(s) = self.runs.sweep_mut(sweep) else {
                    return;
                };
                if s.opened_in.is_none() {
                    let took = s.requested.elapsed();
                    s.opened_in = Some(took);
                    let msg = format!(
                        "the sweep {}: {} runs in the workspace, {} planned (read in {:.1} s)",
                        s.name,
                        s.in_workspace(),
                        s.planned(),
                        took.as_secs_f64()
                    );
                    self.note(msg);
                }
            }
        }
    }

    /// Add plan entry `index` of `sweep` to the workspace, its configuration from its first
    /// record (its `start`).
    fn add_sweep_run(&mut self, sweep: SweepId, index: usize, records: &[Record]) -> Option<RunId> {
        let s = self.runs.sweep(sweep)?;
        let info = s.runs.get(index)?.clone();
        let dir = s.dir.join(crate::sweep::RUNS_DIR).join(&info.entry.name);
        // The first of its configuration to join, among the first few: shown by default.
        let show = info.group < SHOWN_CONFIGURATIONS && s.group_members(info.group).is_empty();
        let (config, dataset) = match records.first() {
            Some(Record::Start {
                config, dataset, ..
            }) => (config.clone(), dataset.clone()),
            _ => (TrainConfig::default(), DatasetInfo::of(&self.data)),
        };
        let data = self.data.clone();
        let source = RunSource::Sweep {
            dir,
            slot: LatestSlot::new(),
            wanted: false,
        };
        let id = self.add_run(info.entry.name.clone(), source, config, data, dataset);
        if let Some(r) = self.runs.get_mut(id) {
            r.colour = group_colour(info.group);
            r.show_views = show;
            r.sweep = Some(SweepMember {
                sweep,
                index,
                group: info.group,
            });
        }
        if let Some(m) = self
            .runs
            .sweep_mut(sweep)
            .and_then(|s| s.members.get_mut(index))
        {
            *m = Member::In(id);
        }
        self.refresh_intervals();
        Some(id)
    }

    /// Apply one record of a sweep run's metrics file, as a followed run's events are.
    fn apply_record(&mut self, id: RunId, rec: Record) {
        let Some(run) = self.runs.get_mut(id) else {
            return;
        };
        match rec {
            Record::Start {
                format,
                config,
                dataset,
            } => {
                if format != FORMAT {
                    run.status.error(format!(
                        "run format {format:?}, this build reads {FORMAT:?}"
                    ));
                    return;
                }
                run.status.state = WorkerState::Running;
                if config != run.config {
                    // Views asked for with another configuration are asked again.
                    run.config = config;
                    run.decoder.forget(&ViewKey::ALL);
                    run.views.asked.clear();
                }
                run.dataset = dataset;
                if let Err(e) = run.data.check_model(&run.config.model) {
                    run.status.error(format!(
                        "{e}: reconstructions, codes and the same-input matrix are not shown"
                    ));
                }
            }
            Record::Step(m) => {
                run.status.step = m.step + 1;
                run.history.push_step(&m);
            }
            Record::Epoch {
                epoch,
                step,
                metrics,
                samples_per_sec,
                ..
            } => {
                run.status.epoch = epoch;
                run.status.step = run.status.step.max(step);
                run.status.samples_per_sec = samples_per_sec;
                run.history.push_epoch(epoch, step, metrics);
            }
            // The last epoch's weights evaluated again: its figures replace the epoch's.
            Record::Final {
                epoch,
                step,
                metrics,
                ..
            } => run.history.push_epoch(epoch, step, metrics),
            Record::Resumed {
                epoch,
                step,
                epochs,
            } => {
                // The step records that follow replace those after the resumed point.
                run.history.truncate(epoch, step);
                run.status.epoch = epoch;
                run.status.step = step;
                run.status.state = WorkerState::Running;
                run.config.epochs = epochs;
                run.status.note(format!(
                    "training resumed at epoch {epoch} (step {step}), to {epochs} epochs"
                ));
            }
            Record::End { error, .. } => {
                run.status.state = match error {
                    None => WorkerState::Finished,
                    Some(e) if e.contains("interrupted") => {
                        run.status.note(format!("stopped: {e}"));
                        WorkerState::Stopped
                    }
                    Some(e) => {
                        run.status.error(format!("training ended: {e}"));
                        WorkerState::Failed
                    }
                };
            }
        }
    }

    /// Once per frame: the follower loads the weights of exactly the sweep runs whose views
    /// are shown; a run no longer shown gives its weights, epochs and images back.
    pub(super) fn sync_sweep_weights(&mut self) {
        let mut changes: Vec<(RunId, SweepMember, bool)> = Vec::new();
        for run in self.runs.iter() {
            let (Some(m), RunSource::Sweep { wanted, .. }) = (run.sweep, &run.source) else {
                continue;
            };
            let want = self.runs.shows_views(run);
            if *wanted != want {
                changes.push((run.id, m, want));
            }
        }
        if changes.is_empty() {
            return;
        }
        for (id, m, want) in changes {
            if let Some(s) = self.runs.sweep(m.sweep) {
                s.follower.set_wanted(m.index, want);
            }
            let Some(run) = self.runs.get_mut(id) else {
                continue;
            };
            if let RunSource::Sweep { wanted, .. } = &mut run.source {
                *wanted = want;
            }
            if !want {
                drop_weights(run);
                self.free_painter_slots(id);
            }
        }
        self.refresh_intervals();
    }

    /// The tile painter's slots of run `id`.
    pub(super) fn free_painter_slots(&self, id: RunId) {
        if let Some(rs) = &self.render_state {
            crate::gpu::tiles::free_slots(rs, |k| id.owns_painter_key(k));
        }
    }

    /// A sweep run left the workspace (removed, or continued here as a run of its own): its
    /// records are no longer applied and its weights no longer loaded.
    pub(super) fn leave_sweep(&mut self, m: SweepMember) {
        if let Some(s) = self.runs.sweep_mut(m.sweep) {
            s.follower.set_wanted(m.index, false);
            if let Some(slot) = s.members.get_mut(m.index) {
                *slot = Member::Removed;
            }
        }
    }

    /// Stop following a sweep and take its runs out of the workspace.
    pub(super) fn remove_sweep(&mut self, id: SweepId) {
        let Some(i) = self.runs.sweeps.iter().position(|s| s.id == id) else {
            return;
        };
        let sweep = self.runs.sweeps.remove(i);
        for m in &sweep.members {
            if let &Member::In(run) = m
                && let Some(r) = self.runs.remove(run)
            {
                reap(r);
                self.free_painter_slots(run);
            }
        }
        self.note(format!(
            "stopped following the sweep {}",
            sweep.dir.display()
        ));
        // Its follower's thread is joined off the UI thread.
        reap(sweep);
        self.refresh_intervals();
        self.after_focus_change();
    }
}

/// Give back a sweep run's weights, kept epochs and images (its views are no longer
/// shown): the decoder forgets its views and points at an empty slot.
fn drop_weights(run: &mut Run) {
    if let RunSource::Sweep { slot, .. } = &mut run.source {
        *slot = LatestSlot::new();
    }
    run.epochs = EpochStore::default();
    run.decoder.forget(&ViewKey::ALL);
    run.views = RunViews {
        inline_decode: true,
        ..RunViews::default()
    };
    repin(run);
}

/// Keep a problem with a run of `sweep` that is not in the workspace.
fn sweep_error(runs: &mut super::runs::Runs, sweep: SweepId, error: String) {
    if let Some(s) = runs.sweep_mut(sweep) {
        s.errors.push(error);
        if s.errors.len() > MAX_SWEEP_ERRORS {
            s.errors.remove(0);
        }
    }
}
