//! Run directories: what a headless `latent-explorer train --run-dir DIR` writes and the app
//! follows live, on the same machine or from a bigger one through a shared folder.
//!
//! A run directory holds `metrics.jsonl`, one JSON [`Record`] per line (a `start` record with
//! the configuration, a `step` record per training step, an `epoch` record per finished
//! epoch, an `end` record; a `resumed` record where training went on after a stop), the
//! run's configuration file `run.toml` ([`crate::train::run_config`]), one checkpoint per
//! epoch, `epoch-0001.safetensors`, … (plus `final.safetensors` after the final
//! evaluation, named by a `final` record), and `resume.safetensors`: the newest weights
//! with the training state (rewritten at every epoch's end and when training stops), from
//! which `latent-explorer train --resume DIR` goes on exactly.
//!
//! Every checkpoint is written atomically *before* the line that names it, so a reader
//! that sees the line finds the file whole. A reader only consumes complete lines, so a
//! line being written is read on the next poll. Polling (not file-change notification)
//! works on network file systems too. The writer is a [`Sink`] of the training loop.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use burn::tensor::Device;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::checkpoint::{self, CheckpointError, DatasetInfo};
use crate::train::protocol::join_draining;
use crate::train::run_config::RUN_CONFIG_FILE;
use crate::train::run_loop::{EpochReport, RunView, SinkError, Stopped, failed};
use crate::train::{
    EvalMetrics, Event, LatestSlot, Outbox, RunConfig, Sink, Snapshot, StepMetrics, TrainConfig,
    Waker, WorkerState,
};

/// The metrics file of a run directory.
pub const METRICS_FILE: &str = "metrics.jsonl";
/// The checkpoint written after the final evaluation.
pub const FINAL_CHECKPOINT: &str = "final.safetensors";
/// The newest weights with the training state: where `train --resume DIR` goes on from.
pub const RESUME_CHECKPOINT: &str = "resume.safetensors";
/// Format tag of the `start` record.
pub const FORMAT: &str = "latent-explorer-run/1";

/// The checkpoint file name for the end of `epoch` (1-based).
pub fn epoch_checkpoint(epoch: usize) -> String {
    format!("epoch-{epoch:04}.safetensors")
}

/// One line of `metrics.jsonl`.
// Records are read and written one at a time; boxing the configuration would only add noise.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Record {
    /// The first line: what is trained, on what.
    Start {
        /// Always [`FORMAT`].
        format: String,
        /// The run's configuration.
        config: TrainConfig,
        /// The data it trains on.
        dataset: DatasetInfo,
    },
    /// One training step's loss terms.
    Step(StepMetrics),
    /// An epoch finished; its checkpoint is in place.
    Epoch {
        /// Epochs completed (1-based).
        epoch: usize,
        /// Global steps taken.
        step: u64,
        /// Test metrics after this epoch.
        metrics: EvalMetrics,
        /// Training speed over the epoch, images per second.
        samples_per_sec: f64,
        /// The checkpoint's file name in the directory.
        checkpoint: String,
    },
    /// The final evaluation (e.g. an IWAE NLL with many samples) of the last epoch's
    /// weights, saved as [`FINAL_CHECKPOINT`].
    Final {
        /// Epochs completed.
        epoch: usize,
        /// Global steps taken.
        step: u64,
        /// The final test metrics.
        metrics: EvalMetrics,
        /// The checkpoint's file name in the directory.
        checkpoint: String,
    },
    /// Training went on from `resume.safetensors` after a stop: the step records that
    /// follow replace those after `step`.
    Resumed {
        /// Epochs completed at the resumed point.
        epoch: usize,
        /// Global steps taken at the resumed point.
        step: u64,
        /// Epochs the run now goes to.
        epochs: usize,
    },
    /// Training ended.
    End {
        /// Epochs completed.
        epoch: usize,
        /// Global steps taken.
        step: u64,
        /// Why, when it ended early (e.g. a non-finite loss).
        error: Option<String>,
    },
}

/// Run-directory failures; each names the file.
#[derive(Debug, Error)]
pub enum RunDirError {
    /// Reading or writing failed.
    #[error("{path}: {error}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        error: std::io::Error,
    },
    /// The path is not a directory.
    #[error(transparent)]
    Path(#[from] crate::paths::PathError),
    /// The directory already holds an earlier run's files, which this run would overwrite.
    #[error(
        "{dir}: already holds a run's files ({files}); use a new or empty directory, or go on with `train --resume DIR`"
    )]
    InUse {
        /// The directory.
        dir: PathBuf,
        /// The files found, comma-separated (at most a few named, then a count).
        files: String,
    },
    /// The directory's configuration file describes another run.
    #[error(
        "{0}: its {RUN_CONFIG_FILE} describes another run than this one; use a new or empty directory, or train with `--config` that file"
    )]
    OtherConfig(PathBuf),
    /// The directory holds no run to resume.
    #[error("{path}: {why}")]
    NotResumable {
        /// The directory.
        path: PathBuf,
        /// What is missing.
        why: String,
    },
    /// A checkpoint could not be written.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// A record could not be encoded.
    #[error("{path}: {msg}")]
    Encode {
        /// The metrics file.
        path: PathBuf,
        /// What failed.
        msg: String,
    },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> RunDirError + '_ {
    move |error| RunDirError::Io {
        path: path.to_path_buf(),
        error,
    }
}

/// Whether `name` is a per-epoch checkpoint's name (`epoch-NNNN.safetensors`).
fn is_epoch_checkpoint(name: &str) -> bool {
    name.strip_prefix("epoch-")
        .and_then(|r| r.strip_suffix(".safetensors"))
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// The files in `dir` that a [`RunDirWriter`] writes and that an earlier run left: a
/// non-empty metrics file, per-epoch, final and resume checkpoints. Sorted by name.
fn earlier_run_files(dir: &Path) -> Result<Vec<String>, RunDirError> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_err(dir))? {
        let entry = entry.map_err(io_err(dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let ours = if name == METRICS_FILE {
            entry.metadata().is_ok_and(|m| m.len() > 0)
        } else {
            name == FINAL_CHECKPOINT || name == RESUME_CHECKPOINT || is_epoch_checkpoint(&name)
        };
        if ours {
            found.push(name);
        }
    }
    found.sort();
    Ok(found)
}

/// Write `config` as `dir`'s [`RUN_CONFIG_FILE`], atomically.
fn write_config(dir: &Path, config: &RunConfig) -> Result<(), RunDirError> {
    let path = dir.join(RUN_CONFIG_FILE);
    crate::atomic::atomic_write_bytes(&path, config.to_toml().as_bytes()).map_err(io_err(&path))
}

/// How often buffered step records are flushed to the file.
const FLUSH_INTERVAL: Duration = Duration::from_millis(500);

/// Writes a run directory (see the module docs).
pub struct RunDirWriter {
    dir: PathBuf,
    metrics_path: PathBuf,
    file: BufWriter<File>,
    dataset: DatasetInfo,
    last_flush: Instant,
}

impl RunDirWriter {
    /// Create `dir` (if needed) and start its metrics file with a `start` record; write the
    /// run's configuration file when it has one. Refuses a directory whose metrics file
    /// already holds a run.
    pub fn create(
        dir: &Path,
        config: &TrainConfig,
        dataset: DatasetInfo,
        run_config: Option<&RunConfig>,
    ) -> Result<Self, RunDirError> {
        if dir.exists() && !dir.is_dir() {
            return Err(RunDirError::Io {
                path: dir.to_path_buf(),
                error: std::io::Error::other("exists and is not a directory"),
            });
        }
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        let found = earlier_run_files(dir)?;
        if !found.is_empty() {
            const NAMED: usize = 4;
            let mut files = found[..found.len().min(NAMED)].join(", ");
            if found.len() > NAMED {
                files.push_str(&format!(" and {} more", found.len() - NAMED));
            }
            return Err(RunDirError::InUse {
                dir: dir.to_path_buf(),
                files,
            });
        }
        if let Some(rc) = run_config {
            // A sweep plans a run's `run.toml` before the run starts: the same configuration
            // is no earlier run's; another one is, and is not overwritten.
            let path = dir.join(RUN_CONFIG_FILE);
            if let Ok(text) = std::fs::read_to_string(&path)
                && RunConfig::from_toml(&text).ok().as_ref() != Some(rc)
            {
                return Err(RunDirError::OtherConfig(dir.to_path_buf()));
            }
            write_config(dir, rc)?;
        }
        let mut w = Self::open(dir, dataset.clone())?;
        w.write(&Record::Start {
            format: FORMAT.into(),
            config: config.clone(),
            dataset,
        })?;
        w.flush()?;
        Ok(w)
    }

    /// The metrics file of `dir` opened for appending.
    fn open(dir: &Path, dataset: DatasetInfo) -> Result<Self, RunDirError> {
        let metrics_path = dir.join(METRICS_FILE);
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&metrics_path)
            .map_err(io_err(&metrics_path))?;
        Ok(Self {
            dir: dir.to_path_buf(),
            metrics_path,
            file: BufWriter::new(file),
            dataset,
            last_flush: Instant::now(),
        })
    }

    /// Go on writing `dir`, whose run stopped and resumes from `resume` (the weights of
    /// [`RESUME_CHECKPOINT`]) with configuration `config` (its epochs the new total, written
    /// to `run.toml`): an epoch that `resume` completed but whose record a kill cut off is
    /// recorded first, then a `resumed` record.
    pub fn resume(
        dir: &Path,
        resume: &checkpoint::Loaded,
        config: &RunConfig,
    ) -> Result<Self, RunDirError> {
        let epochs = config.run.epochs;
        let not = |why: String| RunDirError::NotResumable {
            path: dir.to_path_buf(),
            why,
        };
        let mut reader = RunDirReader::new(dir);
        let mut dataset = None;
        let mut last_epoch = 0;
        for rec in reader.poll() {
            match rec.map_err(&not)? {
                Record::Start { dataset: d, .. } => dataset = Some(d),
                Record::Epoch { epoch, .. } => last_epoch = epoch,
                _ => {}
            }
        }
        let Some(dataset) = dataset else {
            return Err(not(format!("{METRICS_FILE} has no start record")));
        };
        write_config(dir, config)?;
        let mut w = Self::open(dir, dataset)?;
        let meta = &resume.meta;
        let name = epoch_checkpoint(meta.epoch);
        let cursor = resume.state.as_ref().map_or(0, |s| s.cursor);
        if meta.epoch > last_epoch
            && cursor == 0
            && dir.join(&name).is_file()
            && let Some(metrics) = &meta.metrics
        {
            w.write(&Record::Epoch {
                epoch: meta.epoch,
                step: meta.step,
                metrics: metrics.clone(),
                samples_per_sec: 0.0,
                checkpoint: name,
            })?;
        }
        w.write(&Record::Resumed {
            epoch: meta.epoch,
            step: meta.step,
            epochs,
        })?;
        w.flush()?;
        Ok(w)
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Save `snap` (with its training state) as [`RESUME_CHECKPOINT`]. Returns its path.
    pub fn save_resume_point(
        &self,
        snap: &Snapshot,
        metrics: Option<EvalMetrics>,
    ) -> Result<PathBuf, RunDirError> {
        let path = self.dir.join(RESUME_CHECKPOINT);
        checkpoint::save_snapshot(&path, snap, self.dataset.clone(), metrics)?;
        Ok(path)
    }

    fn write(&mut self, record: &Record) -> Result<(), RunDirError> {
        let line = serde_json::to_string(record).map_err(|e| RunDirError::Encode {
            path: self.metrics_path.clone(),
            msg: e.to_string(),
        })?;
        writeln!(self.file, "{line}").map_err(io_err(&self.metrics_path))
    }

    fn flush(&mut self) -> Result<(), RunDirError> {
        self.file.flush().map_err(io_err(&self.metrics_path))?;
        self.last_flush = Instant::now();
        Ok(())
    }

    /// Record one step (flushed at most every half second).
    pub fn step(&mut self, m: &StepMetrics) -> Result<(), RunDirError> {
        self.write(&Record::Step(m.clone()))?;
        if self.last_flush.elapsed() >= FLUSH_INTERVAL {
            self.flush()?;
        }
        Ok(())
    }

    /// Write the end-of-epoch checkpoint of `snap` atomically (its weights; the training
    /// state goes to [`RESUME_CHECKPOINT`], written next), then the `epoch` record that
    /// names it. Returns the checkpoint's path.
    pub fn epoch(
        &mut self,
        snap: &Snapshot,
        metrics: &EvalMetrics,
        samples_per_sec: f64,
    ) -> Result<PathBuf, RunDirError> {
        let name = epoch_checkpoint(snap.epoch);
        let path = self.dir.join(&name);
        let weights = Snapshot {
            state: None,
            ..snap.clone()
        };
        checkpoint::save_snapshot(&path, &weights, self.dataset.clone(), Some(metrics.clone()))?;
        if snap.state.is_some() {
            self.save_resume_point(snap, Some(metrics.clone()))?;
        }
        self.write(&Record::Epoch {
            epoch: snap.epoch,
            step: snap.step,
            metrics: metrics.clone(),
            samples_per_sec,
            checkpoint: name,
        })?;
        self.flush()?;
        Ok(path)
    }

    /// Write `snap` as [`FINAL_CHECKPOINT`] (after the final evaluation), then the `final`
    /// record that names it. Returns its path.
    pub fn final_checkpoint(
        &mut self,
        snap: &Snapshot,
        metrics: &EvalMetrics,
    ) -> Result<PathBuf, RunDirError> {
        let path = self.dir.join(FINAL_CHECKPOINT);
        let weights = Snapshot {
            state: None,
            ..snap.clone()
        };
        checkpoint::save_snapshot(&path, &weights, self.dataset.clone(), Some(metrics.clone()))?;
        self.write(&Record::Final {
            epoch: snap.epoch,
            step: snap.step,
            metrics: metrics.clone(),
            checkpoint: FINAL_CHECKPOINT.into(),
        })?;
        self.flush()?;
        Ok(path)
    }

    /// Record the end of training.
    pub fn end(
        &mut self,
        epoch: usize,
        step: u64,
        error: Option<String>,
    ) -> Result<(), RunDirError> {
        self.write(&Record::End { epoch, step, error })?;
        self.flush()
    }
}

impl Sink for RunDirWriter {
    fn step(&mut self, _run: &RunView<'_>, m: &StepMetrics) -> Result<(), SinkError> {
        RunDirWriter::step(self, m).map_err(|e| failed(WRITING, e))
    }

    fn epoch(&mut self, r: &EpochReport) -> Result<(), SinkError> {
        match &r.metrics {
            Some(metrics) => RunDirWriter::epoch(self, &r.snapshot, metrics, r.samples_per_sec),
            None => self.save_resume_point(&r.snapshot, None),
        }
        .map(|_| ())
        .map_err(|e| failed(WRITING, e))
    }

    fn final_eval(&mut self, r: &EpochReport) -> Result<(), SinkError> {
        if let Some(metrics) = &r.metrics {
            self.final_checkpoint(&r.snapshot, metrics)
                .map_err(|e| failed(WRITING, e))?;
        }
        Ok(())
    }

    fn stopped(&mut self, how: &Stopped, snap: &Arc<Snapshot>) -> Result<(), SinkError> {
        let error = match how {
            Stopped::Finished => None,
            Stopped::Interrupted => Some(format!(
                "interrupted at step {}; go on with `latent-explorer train --resume {}`",
                snap.step,
                self.dir.display()
            )),
            Stopped::NonFinite(e) | Stopped::Failed(e) => Some(e.clone()),
        };
        // A stop mid-epoch leaves the newest weights resumable (the last finite ones after a
        // non-finite value).
        let saved = if matches!(how, Stopped::Finished) {
            Ok(())
        } else {
            self.save_resume_point(snap, None).map(|_| ())
        };
        let ended = self.end(snap.epoch, snap.step, error);
        saved.and(ended).map_err(|e| failed(WRITING, e))
    }
}

/// What a run directory's writer says it was doing when it fails.
const WRITING: &str = "writing the run directory";

/// Reads the records of a metrics file as they are appended: each [`RunDirReader::poll`]
/// returns the complete lines added since the last one.
#[derive(Debug)]
pub struct RunDirReader {
    path: PathBuf,
    offset: u64,
    line: usize,
    pending: Vec<u8>,
    stopped: bool,
}

impl RunDirReader {
    /// A reader of `dir`'s metrics file (which need not exist yet).
    pub fn new(dir: &Path) -> Self {
        Self {
            path: dir.join(METRICS_FILE),
            offset: 0,
            line: 0,
            pending: Vec::new(),
            stopped: false,
        }
    }

    /// Whether the reader stopped (the file shrank).
    pub fn stopped(&self) -> bool {
        self.stopped
    }

    /// The records completed since the last poll; a line that does not parse is returned as
    /// an error naming the file and line, and reading goes on after it. A file that shrank
    /// (another run started in the directory) is an error, and the reader stops: what it
    /// holds now is not the run read so far.
    pub fn poll(&mut self) -> Vec<Result<Record, String>> {
        if self.stopped {
            return Vec::new();
        }
        let mut out = Vec::new();
        let mut file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return out,
            Err(e) => {
                out.push(Err(format!("{}: {e}", self.path.display())));
                return out;
            }
        };
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        if len < self.offset {
            out.push(Err(format!(
                "{}: the file shrank from {} to {len} bytes (a new run in the same directory?); no longer following it",
                self.path.display(),
                self.offset
            )));
            self.stopped = true;
            return out;
        }
        if len == self.offset {
            return out;
        }
        let mut buf = Vec::new();
        let read = file
            .seek(SeekFrom::Start(self.offset))
            .and_then(|_| file.take(len - self.offset).read_to_end(&mut buf));
        if let Err(e) = read {
            out.push(Err(format!("{}: {e}", self.path.display())));
            return out;
        }
        self.offset += buf.len() as u64;
        self.pending.extend_from_slice(&buf);
        while let Some(nl) = self.pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=nl).collect();
            self.line += 1;
            let text = String::from_utf8_lossy(&line[..line.len() - 1]);
            if text.trim().is_empty() {
                continue;
            }
            out.push(
                serde_json::from_str(&text)
                    .map_err(|e| format!("{}: line {}: {e}", self.path.display(), self.line)),
            );
        }
        out
    }
}

/// How often a follower looks for new records.
pub const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// What a follower knows of the run so far.
#[derive(Debug, Clone, Default)]
pub struct FollowedInfo {
    /// The run's configuration and data, from its `start` record.
    pub start: Option<(TrainConfig, DatasetInfo)>,
    /// The newest epoch checkpoint loaded.
    pub latest_checkpoint: Option<PathBuf>,
}

/// Follows a run directory in a background thread: its records become the same [`Event`]s a
/// training worker sends (a `Step` per step record; an `Epoch`, with the loaded checkpoint
/// as its snapshot, per epoch record; `State(Running)` at the start, `State(Finished)` at
/// the end), and each loaded checkpoint becomes the latest snapshot.
pub struct Follower {
    dir: PathBuf,
    events: Receiver<Event>,
    snapshot: LatestSlot<Snapshot>,
    info: Arc<Mutex<FollowedInfo>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Follower {
    /// Start following `dir`, loading checkpoints onto `device`.
    pub fn spawn(dir: &Path, device: Device, waker: Option<Waker>) -> Result<Self, RunDirError> {
        // It may not exist yet (the training process makes it), but it may not be a file.
        crate::paths::output_dir(dir)?;
        let (tx, rx) = sync_channel(4096);
        let snapshot = LatestSlot::new();
        let info = Arc::new(Mutex::new(FollowedInfo::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let state = FollowState {
            dir: dir.to_path_buf(),
            device,
            out: Outbox::new(tx, waker),
            slot: snapshot.clone(),
            info: info.clone(),
            stop: stop.clone(),
        };
        let thread = std::thread::Builder::new()
            .name("latent-explorer-follower".into())
            .spawn(move || state.run())
            .map_err(io_err(dir))?;
        Ok(Self {
            dir: dir.to_path_buf(),
            events: rx,
            snapshot,
            info,
            stop,
            thread: Some(thread),
        })
    }

    /// The followed directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Events available now, without waiting.
    pub fn drain(&self) -> Vec<Event> {
        self.events.try_iter().collect()
    }

    /// Wait up to `timeout` for the next event.
    pub fn recv_timeout(&self, timeout: Duration) -> Option<Event> {
        self.events.recv_timeout(timeout).ok()
    }

    /// The newest loaded checkpoint's weights.
    pub fn snapshot_slot(&self) -> LatestSlot<Snapshot> {
        self.snapshot.clone()
    }

    /// What is known of the run so far.
    pub fn info(&self) -> FollowedInfo {
        self.info.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            join_draining(t, &self.events);
        }
    }
}

struct FollowState {
    dir: PathBuf,
    device: Device,
    out: Outbox,
    slot: LatestSlot<Snapshot>,
    info: Arc<Mutex<FollowedInfo>>,
    stop: Arc<AtomicBool>,
}

impl FollowState {
    fn send(&self, ev: Event) -> bool {
        self.out.send(ev)
    }

    fn run(self) {
        let mut reader = RunDirReader::new(&self.dir);
        while !self.stop.load(Ordering::Relaxed) {
            for rec in reader.poll() {
                let ok = match rec {
                    Err(e) => self.send(Event::Error(e)),
                    Ok(r) => self.apply(r),
                };
                if !ok || self.stop.load(Ordering::Relaxed) {
                    return;
                }
            }
            if reader.stopped() {
                self.send(Event::State(WorkerState::Stopped));
                return;
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    /// Load an epoch's checkpoint and pass it on with its metrics.
    fn epoch(&self, epoch: usize, step: u64, metrics: EvalMetrics, checkpoint: &str) -> bool {
        let path = self.dir.join(checkpoint);
        match crate::model_file::open(&path, &self.device, &Default::default()) {
            Ok(opened) => {
                let snapshot = Arc::new(opened.loaded.snapshot());
                self.slot.set_arc(snapshot.clone());
                self.info
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .latest_checkpoint = Some(path);
                self.send(Event::Epoch {
                    epoch,
                    step,
                    metrics,
                    snapshot,
                })
            }
            Err(e) => self.send(Event::Error(e.to_string())),
        }
    }

    fn apply(&self, rec: Record) -> bool {
        match rec {
            Record::Start {
                format,
                config,
                dataset,
            } => {
                if format != FORMAT {
                    return self.send(Event::Error(format!(
                        "{}: run format {format:?}, this build reads {FORMAT:?}",
                        self.dir.join(METRICS_FILE).display()
                    )));
                }
                self.info.lock().unwrap_or_else(|p| p.into_inner()).start = Some((config, dataset));
                self.send(Event::State(WorkerState::Running))
            }
            Record::Step(m) => self.send(Event::Step(m)),
            Record::Epoch {
                epoch,
                step,
                metrics,
                samples_per_sec,
                checkpoint,
            } => {
                self.send(Event::Throughput {
                    samples_per_sec,
                    steps_per_sec: 0.0,
                }) && self.epoch(epoch, step, metrics, &checkpoint)
            }
            // The same weights evaluated again: an `Epoch` event for the same epoch, which
            // replaces the earlier figures.
            Record::Final {
                epoch,
                step,
                metrics,
                checkpoint,
            } => self.epoch(epoch, step, metrics, &checkpoint),
            Record::Resumed {
                epoch,
                step,
                epochs,
            } => {
                self.send(Event::Changed(format!(
                    "training resumed at epoch {epoch} (step {step}), to {epochs} epochs"
                ))) && self.send(Event::State(WorkerState::Running))
            }
            Record::End { error, .. } => {
                if let Some(e) = error {
                    self.send(Event::Error(format!(
                        "{}: training ended: {e}",
                        self.dir.display()
                    )));
                }
                self.send(Event::State(WorkerState::Finished))
            }
        }
    }
}
