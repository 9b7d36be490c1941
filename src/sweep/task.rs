//! One task of a sweep: what it takes to bring run number `index` to its end, decided from
//! its directory the same way by every launcher (a local child process, a Slurm array
//! task, a requeued one): nothing when it is done, a resume from `resume.safetensors` when
//! it stopped with one, else training from its `run.toml` (after clearing what a run that
//! never reached a resume point left).

use std::path::PathBuf;

use super::plan::{Plan, PlanEntry, PlanError};

/// The log a launcher keeps in a run directory (the local launcher's children write their
/// output there); kept when the directory is cleared.
pub const TASK_LOG: &str = "train.log";
use super::status::{RunState, run_status};
use crate::train::run_config::RUN_CONFIG_FILE;

/// What a task does.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskStep {
    /// The run is done: nothing.
    Done,
    /// The run failed (a non-finite loss, a full disk): it would fail again the same way,
    /// so it is reported, not retried.
    Failed(String),
    /// Train from `run.toml` into the run directory (which holds nothing else).
    Fresh,
    /// Go on from the run directory's resume point.
    Resume,
}

/// A task's run and what to do with it.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    /// The run.
    pub entry: PlanEntry,
    /// Its directory.
    pub dir: PathBuf,
    /// Its configuration file.
    pub config: PathBuf,
    /// What to do.
    pub step: TaskStep,
}

/// Decide task `index` of `plan`. A run that started but never reached a resume point (killed
/// in its first epoch) has its directory cleared back to its `run.toml`.
pub fn prepare(plan: &Plan, index: usize) -> Result<Task, PlanError> {
    let entry = plan.task(index)?.clone();
    let dir = plan.run_dir(&entry.name);
    let config = dir.join(RUN_CONFIG_FILE);
    let epochs = plan.config(&entry.name)?.run.epochs;
    let status = run_status(plan, &entry, epochs);
    let step = match status.state {
        RunState::Done { .. } => TaskStep::Done,
        RunState::Failed { error, .. } => TaskStep::Failed(error),
        RunState::Started { .. } if status.resumable => TaskStep::Resume,
        RunState::Started { .. } | RunState::Planned => {
            clear_to_config(&dir)?;
            TaskStep::Fresh
        }
    };
    Ok(Task {
        entry,
        dir,
        config,
        step,
    })
}

/// Remove everything from a run directory but its configuration file and the task's log.
fn clear_to_config(dir: &std::path::Path) -> Result<(), PlanError> {
    let io = |path: PathBuf| move |error| PlanError::Io { path, error };
    for e in std::fs::read_dir(dir).map_err(io(dir.to_path_buf()))? {
        let e = e.map_err(io(dir.to_path_buf()))?;
        if e.file_name() == RUN_CONFIG_FILE || e.file_name() == TASK_LOG {
            continue;
        }
        let p = e.path();
        if p.is_dir() {
            std::fs::remove_dir_all(&p).map_err(io(p.clone()))?;
        } else {
            std::fs::remove_file(&p).map_err(io(p.clone()))?;
        }
    }
    Ok(())
}
