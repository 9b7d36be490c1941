//! Where each run of a sweep stands, read from its run directory: planned (nothing
//! written), started (epoch n of m: running, or stopped and resumable), done, or failed
//! with the error its `metrics.jsonl` ends with.

use std::path::Path;
use std::time::SystemTime;

use super::plan::{Plan, PlanEntry};
use crate::rundir::{METRICS_FILE, RESUME_CHECKPOINT, Record, RunDirReader};
use crate::train::EvalMetrics;

/// A run's state on disk.
#[derive(Debug, Clone, PartialEq)]
pub enum RunState {
    /// Nothing written yet.
    Planned,
    /// Training started and has not ended: running now, or stopped (killed, preempted) and
    /// to be resumed.
    Started {
        /// Epochs completed.
        epoch: usize,
        /// Epochs it goes to.
        epochs: usize,
        /// Seconds since its metrics file was last written.
        idle_secs: f64,
    },
    /// Every epoch done.
    Done {
        /// Epochs completed.
        epoch: usize,
    },
    /// Training ended with an error.
    Failed {
        /// Epochs completed.
        epoch: usize,
        /// The error, as its `end` record says it.
        error: String,
    },
}

/// A run's state and its newest test metrics (the final evaluation's when there is one).
#[derive(Debug, Clone, PartialEq)]
pub struct RunStatus {
    /// The run.
    pub entry: PlanEntry,
    /// Where it stands.
    pub state: RunState,
    /// Its newest test metrics.
    pub metrics: Option<EvalMetrics>,
    /// Whether its directory holds a point to resume from exactly.
    pub resumable: bool,
    /// A line of its metrics file that did not parse, if any (the reading went on).
    pub damaged: Option<String>,
}

/// The status of the run `entry` of `plan` (`epochs`: what its configuration plans).
pub fn run_status(plan: &Plan, entry: &PlanEntry, epochs: usize) -> RunStatus {
    let dir = plan.run_dir(&entry.name);
    let mut status = RunStatus {
        entry: entry.clone(),
        state: RunState::Planned,
        metrics: None,
        resumable: dir.join(RESUME_CHECKPOINT).is_file(),
        damaged: None,
    };
    let mut reader = RunDirReader::new(&dir);
    let (mut started, mut epoch, mut epochs, mut end) = (false, 0, epochs, None);
    for rec in reader.poll() {
        match rec {
            Err(e) => status.damaged = Some(e),
            Ok(Record::Start { .. }) => started = true,
            Ok(Record::Epoch {
                epoch: e, metrics, ..
            }) => {
                epoch = e;
                status.metrics = Some(metrics);
            }
            Ok(Record::Final { metrics, .. }) => status.metrics = Some(metrics),
            Ok(Record::Resumed {
                epoch: e,
                epochs: total,
                ..
            }) => {
                epoch = e;
                epochs = total;
                end = None;
            }
            Ok(Record::End { error, .. }) => end = Some(error),
            Ok(Record::Step(_)) => {}
        }
    }
    status.state = match (started, end) {
        (false, _) => RunState::Planned,
        (true, Some(None)) => RunState::Done { epoch },
        (true, Some(Some(error))) if epoch >= epochs => RunState::Failed { epoch, error },
        // An interrupted run ends with a message too, but goes on from its resume point.
        (true, Some(Some(error))) if !status.resumable || !error.contains("interrupted") => {
            RunState::Failed { epoch, error }
        }
        (true, _) => RunState::Started {
            epoch,
            epochs,
            idle_secs: idle_secs(&dir.join(METRICS_FILE)),
        },
    };
    status
}

/// Seconds since `path` was last modified (0 when unknown).
fn idle_secs(path: &Path) -> f64 {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Every run's status, in task order; a run whose configuration cannot be read counts as
/// planning `1` epoch.
pub fn sweep_status(plan: &Plan) -> Vec<RunStatus> {
    plan.runs
        .iter()
        .map(|e| {
            let epochs = plan.config(&e.name).map_or(1, |c| c.run.epochs);
            run_status(plan, e, epochs)
        })
        .collect()
}
