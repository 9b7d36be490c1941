//! Following a sweep directory live, as the app does: [`OpenedSweep::open`] reads the plan
//! and groups its runs by configuration (runs that differ only by seed are one, by
//! [`group_key`]); a [`SweepFollower`] reads every run directory of the sweep from one
//! thread and passes on each run's new records as they are appended.
//!
//! One thread for the whole sweep, not one per run: a 200-run sweep is 200 metrics files to
//! watch, and most of them finished or not started. A run's file is read every
//! [`LIVE_POLL`] while it trains, every [`QUIET_POLL`] while it has not started (no
//! `metrics.jsonl` yet) or stopped at a resume point (an interrupted run that a launcher
//! will resume), and no longer once its `end` record says it is done or failed: a finished
//! sweep costs no polling at all. A file that shrank (a launcher cleared a run killed before
//! its first resume point and started it afresh) is read again from its start, and the run
//! is reported [`SweepEvent::Restarted`].
//!
//! Checkpoints are loaded only for the runs the caller wants weights of
//! ([`SweepFollower::set_wanted`]: the app's shown and focused runs), newest epoch first:
//! the weights of 200 runs are not read, nor kept, to show their curves and figures.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use burn::tensor::Device;

use super::plan::{Plan, PlanEntry, PlanError, group_key, group_label};
use crate::rundir::{POLL_INTERVAL, Record, RunDirReader};
use crate::train::protocol::join_draining;
use crate::train::{Snapshot, Waker};

/// How often a training run's metrics file is read.
pub const LIVE_POLL: Duration = POLL_INTERVAL;
/// How often a run that has not started, or stopped to be resumed, is looked at: a
/// network file system answers each look slowly, and a cluster queue starts runs over
/// minutes.
pub const QUIET_POLL: Duration = Duration::from_secs(1);

/// Event batches held for the reader: beyond it the follower waits for the reader to catch
/// up (a whole run's records are one batch).
const CHANNEL_BATCHES: usize = 256;

/// One run of an opened sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepRun {
    /// Its plan entry (name, axis values).
    pub entry: PlanEntry,
    /// Its configuration's index in [`OpenedSweep::groups`].
    pub group: usize,
    /// Its seed, from its `run.toml` (None when that could not be read).
    pub seed: Option<u64>,
    /// Why its `run.toml` could not be read, if it could not (it is then a configuration
    /// of its own).
    pub config_error: Option<String>,
}

/// One configuration of an opened sweep: its runs differ only by seed.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepGroup {
    /// [`group_key`] of its runs' configuration.
    pub key: String,
    /// Its short label ([`group_label`]: the axes but the seed, e.g. `beta-vae beta=4`).
    pub label: String,
    /// Its runs' indices in the plan, in plan order.
    pub runs: Vec<usize>,
}

/// A sweep directory read for following: the plan, and its runs grouped by configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenedSweep {
    /// The plan.
    pub plan: Plan,
    /// Its runs, in plan (task) order.
    pub runs: Vec<SweepRun>,
    /// Its configurations, in the order of their first run.
    pub groups: Vec<SweepGroup>,
}

impl OpenedSweep {
    /// Read the sweep directory `dir`: its plan and every run's configuration (file reads:
    /// off a UI thread).
    pub fn open(dir: &Path) -> Result<Self, PlanError> {
        let plan = Plan::read(dir)?;
        let mut groups: Vec<SweepGroup> = Vec::new();
        let mut runs = Vec::with_capacity(plan.runs.len());
        for (i, entry) in plan.runs.iter().enumerate() {
            let config = plan.config(&entry.name);
            let (key, label) = match &config {
                Ok(c) => (group_key(c), group_label(entry)),
                // Unreadable: a configuration of its own, named after the run.
                Err(_) => (format!("\u{0}run {}", entry.name), entry.name.clone()),
            };
            let group = match groups.iter().position(|g| g.key == key) {
                Some(g) => g,
                None => {
                    groups.push(SweepGroup {
                        key,
                        label,
                        runs: Vec::new(),
                    });
                    groups.len() - 1
                }
            };
            groups[group].runs.push(i);
            runs.push(SweepRun {
                entry: entry.clone(),
                group,
                seed: config.as_ref().ok().map(|c| c.run.seed),
                config_error: config.err().map(|e| e.to_string()),
            });
        }
        Ok(Self { plan, runs, groups })
    }
}

/// What a [`SweepFollower`] reports; `run` is the run's index in the plan.
#[derive(Debug, Clone)]
pub enum SweepEvent {
    /// Records appended to run `run`'s metrics file since the last batch, in order (the
    /// first batch of a started run begins with its `start` record).
    Records {
        /// The run.
        run: usize,
        /// Its new records.
        records: Vec<Record>,
    },
    /// A line of run `run`'s metrics file did not parse, or the file could not be read
    /// (reading goes on).
    Damaged {
        /// The run.
        run: usize,
        /// What is wrong, naming the file and line.
        error: String,
    },
    /// Run `run`'s metrics file was started again from nothing: what was read of it is no
    /// longer the run. Its records follow from the start.
    Restarted {
        /// The run.
        run: usize,
    },
    /// An epoch checkpoint of a wanted run, loaded (the newest first, then the older ones
    /// oldest first).
    Weights {
        /// The run.
        run: usize,
        /// Its weights at the end of that epoch.
        snapshot: Arc<Snapshot>,
    },
    /// A wanted run's checkpoint could not be loaded.
    WeightsFailed {
        /// The run.
        run: usize,
        /// Why, naming the file.
        error: String,
    },
    /// Every run directory has been read once: every run that had started when the sweep
    /// was opened has had its records reported (sent once).
    CaughtUp,
}

/// What the follower's owner changes, and the condition variable that tells its thread.
#[derive(Default)]
struct Control {
    state: Mutex<ControlState>,
    wake: Condvar,
}

#[derive(Default)]
struct ControlState {
    /// Runs whose checkpoints are loaded.
    wanted: BTreeSet<usize>,
    /// Something changed since the thread last looked.
    changed: bool,
    stop: bool,
}

impl Control {
    fn lock(&self) -> MutexGuard<'_, ControlState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Follows every run directory of a sweep from one background thread (see the module
/// docs). Dropping it stops and joins the thread.
pub struct SweepFollower {
    events: Receiver<SweepEvent>,
    control: Arc<Control>,
    polled: Arc<AtomicUsize>,
    thread: Option<JoinHandle<()>>,
}

impl SweepFollower {
    /// Start following every run of `plan`, loading wanted runs' checkpoints onto `device`;
    /// `waker` is called after each event is sent.
    pub fn spawn(plan: &Plan, device: Device, waker: Option<Waker>) -> Result<Self, PlanError> {
        let (tx, rx) = sync_channel(CHANNEL_BATCHES);
        let control = Arc::new(Control::default());
        let polled = Arc::new(AtomicUsize::new(plan.runs.len()));
        let now = Instant::now();
        let watched = plan
            .runs
            .iter()
            .map(|e| {
                let dir = plan.run_dir(&e.name);
                Watched {
                    reader: RunDirReader::new(&dir),
                    dir,
                    checkpoints: Vec::new(),
                    loaded: BTreeSet::new(),
                    polling: Polling::Quiet,
                    next_poll: now,
                }
            })
            .collect();
        let state = FollowThread {
            watched,
            device,
            tx,
            waker,
            control: control.clone(),
            polled: polled.clone(),
        };
        let thread = std::thread::Builder::new()
            .name("latent-explorer-sweep".into())
            .spawn(move || state.run())
            .map_err(|error| PlanError::Io {
                path: plan.dir.clone(),
                error,
            })?;
        Ok(Self {
            events: rx,
            control,
            polled,
            thread: Some(thread),
        })
    }

    /// The next event, without waiting.
    pub fn try_recv(&self) -> Option<SweepEvent> {
        self.events.try_recv().ok()
    }

    /// Load run `run`'s checkpoints (`true`) or stop (`false`; loaded again from the start
    /// when wanted again).
    pub fn set_wanted(&self, run: usize, wanted: bool) {
        let mut c = self.control.lock();
        let changed = if wanted {
            c.wanted.insert(run)
        } else {
            c.wanted.remove(&run)
        };
        if changed {
            c.changed = true;
            drop(c);
            self.control.wake.notify_all();
        }
    }

    /// How many runs' metrics files are still read (those neither done nor failed).
    pub fn polled(&self) -> usize {
        self.polled.load(Ordering::Acquire)
    }
}

impl Drop for SweepFollower {
    fn drop(&mut self) {
        self.control.lock().stop = true;
        self.control.wake.notify_all();
        if let Some(t) = self.thread.take() {
            join_draining(t, &self.events);
        }
    }
}

/// How often one run's file is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Polling {
    /// Training: every [`LIVE_POLL`].
    Live,
    /// Not started, or stopped to be resumed: every [`QUIET_POLL`].
    Quiet,
    /// Done, failed, or no longer readable as one run: never again.
    Never,
}

/// One run directory as the thread watches it.
struct Watched {
    dir: PathBuf,
    reader: RunDirReader,
    /// Epoch checkpoints its records named: (epoch, file name), oldest first.
    checkpoints: Vec<(usize, String)>,
    /// Checkpoints loaded and sent since the run was last wanted.
    loaded: BTreeSet<String>,
    polling: Polling,
    next_poll: Instant,
}

impl Watched {
    /// The checkpoint to load next for a wanted run: the newest, then the older ones oldest
    /// first.
    fn next_checkpoint(&self) -> Option<&String> {
        let newest = self.checkpoints.last().map(|(_, c)| c)?;
        if !self.loaded.contains(newest) {
            return Some(newest);
        }
        self.checkpoints
            .iter()
            .map(|(_, c)| c)
            .find(|c| !self.loaded.contains(*c))
    }
}

struct FollowThread {
    watched: Vec<Watched>,
    device: Device,
    tx: SyncSender<SweepEvent>,
    waker: Option<Waker>,
    control: Arc<Control>,
    polled: Arc<AtomicUsize>,
}

/// Longest the thread spends loading checkpoints before it looks at its files and its
/// owner's changes again.
const LOAD_SLICE: Duration = Duration::from_millis(100);

impl FollowThread {
    /// Send (waiting while the reader is behind) and wake it; false once it is gone.
    fn send(&self, ev: SweepEvent) -> bool {
        let ok = self.tx.send(ev).is_ok();
        if let Some(w) = &self.waker {
            w();
        }
        ok
    }

    fn stopped(&self) -> bool {
        self.control.lock().stop
    }

    fn run(mut self) {
        let mut caught_up = false;
        loop {
            if self.stopped() || !self.poll_due() {
                return;
            }
            if !caught_up {
                caught_up = true;
                if !self.send(SweepEvent::CaughtUp) {
                    return;
                }
            }
            let wanted = self.control.lock().wanted.clone();
            for (i, w) in self.watched.iter_mut().enumerate() {
                // Runs no longer wanted are loaded from the start when wanted again.
                if !wanted.contains(&i) {
                    w.loaded.clear();
                }
            }
            if !self.load_wanted(&wanted) {
                return;
            }
            let loads_left = wanted.iter().any(|&i| {
                self.watched
                    .get(i)
                    .is_some_and(|w| w.next_checkpoint().is_some())
            });
            // Sleep until the next file is due, the owner changes something, or for good
            // when nothing is left to read.
            let next = self
                .watched
                .iter()
                .filter(|w| w.polling != Polling::Never)
                .map(|w| w.next_poll)
                .min();
            let mut c = self.control.lock();
            if !c.changed && !c.stop && !loads_left {
                c = match next {
                    Some(t) => {
                        let wait = t.saturating_duration_since(Instant::now());
                        self.control
                            .wake
                            .wait_timeout(c, wait)
                            .map(|(g, _)| g)
                            .unwrap_or_else(|e| e.into_inner().0)
                    }
                    None => self.control.wake.wait(c).unwrap_or_else(|e| e.into_inner()),
                };
            }
            c.changed = false;
        }
    }

    /// Publish how many runs are still read.
    fn store_polled(&self) {
        self.polled.store(
            self.watched
                .iter()
                .filter(|w| w.polling != Polling::Never)
                .count(),
            Ordering::Release,
        );
    }

    /// Read every run whose turn it is; false once the reader is gone or a stop is asked.
    fn poll_due(&mut self) -> bool {
        let now = Instant::now();
        for i in 0..self.watched.len() {
            let w = &mut self.watched[i];
            if w.polling == Polling::Never || w.next_poll > now {
                continue;
            }
            let mut records = Vec::new();
            let mut errors = Vec::new();
            for r in w.reader.poll() {
                match r {
                    Ok(rec) => records.push(rec),
                    Err(e) => errors.push(e),
                }
            }
            let mut restarted = false;
            if w.reader.stopped() {
                // The file shrank: a run started again in the directory. (The reader's
                // own error says it stops following; here it is read again.)
                errors.pop();
                w.reader = RunDirReader::new(&w.dir);
                w.checkpoints.clear();
                w.loaded.clear();
                records.clear();
                restarted = true;
            }
            for rec in &records {
                match rec {
                    Record::Epoch {
                        epoch, checkpoint, ..
                    } => w.checkpoints.push((*epoch, checkpoint.clone())),
                    Record::Start { .. } | Record::Resumed { .. } => {
                        w.polling = Polling::Live;
                    }
                    Record::End { error, .. } => {
                        w.polling = match error {
                            // Stopped at a resume point: a launcher goes on with it.
                            Some(e) if e.contains("interrupted") => Polling::Quiet,
                            _ => Polling::Never,
                        };
                    }
                    Record::Step(_) | Record::Final { .. } => {}
                }
            }
            if restarted {
                w.polling = Polling::Live;
            }
            w.next_poll = now
                + match w.polling {
                    Polling::Live => LIVE_POLL,
                    _ => QUIET_POLL,
                };
            // Counted before the records go out, so whoever has read a run's end also
            // sees it no longer polled.
            self.store_polled();
            let mut out = Vec::new();
            if restarted {
                out.push(SweepEvent::Restarted { run: i });
            }
            out.extend(
                errors
                    .into_iter()
                    .map(|error| SweepEvent::Damaged { run: i, error }),
            );
            if !records.is_empty() {
                out.push(SweepEvent::Records { run: i, records });
            }
            for ev in out {
                if !self.send(ev) {
                    return false;
                }
            }
            if self.stopped() {
                return false;
            }
        }
        true
    }

    /// Load the wanted runs' checkpoints not yet sent, for at most [`LOAD_SLICE`]; false
    /// once the reader is gone or a stop is asked.
    fn load_wanted(&mut self, wanted: &BTreeSet<usize>) -> bool {
        let start = Instant::now();
        for &i in wanted {
            while start.elapsed() < LOAD_SLICE {
                let Some(w) = self.watched.get_mut(i) else {
                    break;
                };
                let Some(name) = w.next_checkpoint().cloned() else {
                    break;
                };
                w.loaded.insert(name.clone());
                let path = w.dir.join(&name);
                let ev = match crate::model_file::open(&path, &self.device, &Default::default()) {
                    Ok(opened) => SweepEvent::Weights {
                        run: i,
                        snapshot: Arc::new(opened.loaded.snapshot()),
                    },
                    Err(e) => SweepEvent::WeightsFailed {
                        run: i,
                        error: e.to_string(),
                    },
                };
                if !self.send(ev) || self.stopped() {
                    return false;
                }
                if self.control.lock().changed {
                    // The wanted runs changed: look again before loading more.
                    return true;
                }
            }
        }
        true
    }
}
