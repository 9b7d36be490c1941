//! A sweep directory: the sweep file as given (`sweep.toml`), the plan (`plan.json`: the
//! runs in order, a task index each) and one run directory per run, `runs/NAME/`, holding
//! its `run.toml` until `train` writes the rest. A directory is planned whole or not at all:
//! the plan is made in a temporary directory beside it and renamed into place.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::spec::{PlannedRun, SpecError, SweepSpec};
use crate::train::RunConfig;
use crate::train::run_config::RUN_CONFIG_FILE;

/// The sweep file, as given, in a sweep directory.
pub const SWEEP_FILE: &str = "sweep.toml";
/// The plan: the runs in task order.
pub const PLAN_FILE: &str = "plan.json";
/// The directory holding one run directory per run.
pub const RUNS_DIR: &str = "runs";

/// A planned run as the plan file records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanEntry {
    /// The run directory's name under `runs/`.
    pub name: String,
    /// The axis values that set it apart, as `key = value` TOML text, in the sweep's
    /// order.
    pub axes: Vec<(String, String)>,
}

/// A planned sweep: where it is and its runs in task order.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The sweep directory.
    pub dir: PathBuf,
    /// The runs, in task order (a Slurm array task's index is its position).
    pub runs: Vec<PlanEntry>,
}

/// Why a sweep directory cannot be planned or read.
#[derive(Debug, Error)]
pub enum PlanError {
    /// The sweep file is refused.
    #[error("{path}: {source}")]
    Spec {
        /// The sweep file.
        path: PathBuf,
        /// Why.
        #[source]
        source: Box<SpecError>,
    },
    /// Reading or writing failed.
    #[error("{path}: {error}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The failure.
        error: std::io::Error,
    },
    /// The directory holds another sweep, or something else.
    #[error("{path}: {why}")]
    Occupied {
        /// The directory.
        path: PathBuf,
        /// What it holds.
        why: String,
    },
    /// Not a sweep directory, or a damaged one.
    #[error("{path}: {why}")]
    NotASweep {
        /// The directory.
        path: PathBuf,
        /// What is missing or wrong.
        why: String,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> PlanError + '_ {
    move |error| PlanError::Io {
        path: path.to_path_buf(),
        error,
    }
}

/// Read and expand the sweep file at `path`: its runs, or the error naming the key and the
/// entry.
pub fn read_spec(path: &Path) -> Result<(String, Vec<PlannedRun>), PlanError> {
    let text = std::fs::read_to_string(path).map_err(io(path))?;
    let spec = |source| PlanError::Spec {
        path: path.to_path_buf(),
        source: Box::new(source),
    };
    let runs = SweepSpec::from_toml(&text)
        .and_then(|s| s.expand())
        .map_err(spec)?;
    Ok((text, runs))
}

/// The plan entries of `runs`.
pub fn entries(runs: &[PlannedRun]) -> Vec<PlanEntry> {
    runs.iter()
        .map(|r| PlanEntry {
            name: r.name.clone(),
            axes: r
                .axes
                .iter()
                .map(|(k, v)| (k.clone(), v.to_string()))
                .collect(),
        })
        .collect()
}

/// What planning did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Planned {
    /// The directory was made.
    Written,
    /// It already held this very sweep: nothing changed.
    AlreadyThere,
}

/// Plan `runs` (from the sweep file `text`) into `dir`: made whole in a temporary
/// directory beside it, then renamed into place. A directory that already holds this sweep
/// (the same sweep file) is left as it is; one that holds another sweep, or anything else,
/// is refused.
pub fn write_plan(dir: &Path, text: &str, runs: &[PlannedRun]) -> Result<Planned, PlanError> {
    if dir.exists() {
        if !dir.is_dir() {
            return Err(PlanError::Occupied {
                path: dir.to_path_buf(),
                why: "exists and is not a directory".into(),
            });
        }
        let existing = dir.join(SWEEP_FILE);
        if existing.is_file() {
            let old = std::fs::read_to_string(&existing).map_err(io(&existing))?;
            if old == text {
                return Ok(Planned::AlreadyThere);
            }
            return Err(PlanError::Occupied {
                path: dir.to_path_buf(),
                why: format!(
                    "holds a different sweep (its {SWEEP_FILE} differs from this one); plan into a new directory"
                ),
            });
        }
        let mut entries = std::fs::read_dir(dir).map_err(io(dir))?;
        if entries.next().is_some() {
            return Err(PlanError::Occupied {
                path: dir.to_path_buf(),
                why: "is not empty and holds no sweep; plan into a new or empty directory".into(),
            });
        }
    }
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(io(&parent))?;
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "sweep".into());
    let tmp = parent.join(format!(".{name}.planning-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let written = (|| {
        std::fs::create_dir(&tmp).map_err(io(&tmp))?;
        for r in runs {
            let run_dir = tmp.join(RUNS_DIR).join(&r.name);
            std::fs::create_dir_all(&run_dir).map_err(io(&run_dir))?;
            let path = run_dir.join(RUN_CONFIG_FILE);
            std::fs::write(&path, r.config.to_toml()).map_err(io(&path))?;
        }
        let plan = tmp.join(PLAN_FILE);
        let json = serde_json::to_string_pretty(&entries(runs))
            .map_err(|e| io(&plan)(std::io::Error::other(e)))?;
        std::fs::write(&plan, json).map_err(io(&plan))?;
        let spec = tmp.join(SWEEP_FILE);
        std::fs::write(&spec, text).map_err(io(&spec))?;
        // An empty directory in the way is replaced by the rename.
        std::fs::rename(&tmp, dir).map_err(io(dir))
    })();
    if written.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    written.map(|()| Planned::Written)
}

/// Whether `dir` is a planned sweep directory (it holds a sweep file and a plan).
pub fn is_sweep_dir(dir: &Path) -> bool {
    dir.join(SWEEP_FILE).is_file() && dir.join(PLAN_FILE).is_file()
}

impl Plan {
    /// Read the plan of the sweep directory `dir`.
    pub fn read(dir: &Path) -> Result<Self, PlanError> {
        let path = dir.join(PLAN_FILE);
        if !is_sweep_dir(dir) {
            return Err(PlanError::NotASweep {
                path: dir.to_path_buf(),
                why: format!(
                    "not a sweep directory (no {SWEEP_FILE} and {PLAN_FILE}: `latent-explorer sweep plan SPEC --out DIR` makes one)"
                ),
            });
        }
        let text = std::fs::read_to_string(&path).map_err(io(&path))?;
        let runs: Vec<PlanEntry> =
            serde_json::from_str(&text).map_err(|e| PlanError::NotASweep {
                path: path.clone(),
                why: format!("not a plan: {e}"),
            })?;
        Ok(Self {
            dir: dir.to_path_buf(),
            runs,
        })
    }

    /// Run `name`'s directory.
    pub fn run_dir(&self, name: &str) -> PathBuf {
        self.dir.join(RUNS_DIR).join(name)
    }

    /// The configuration of run `name`, from its `run.toml`.
    pub fn config(&self, name: &str) -> Result<RunConfig, PlanError> {
        let path = self.run_dir(name).join(RUN_CONFIG_FILE);
        let text = std::fs::read_to_string(&path).map_err(io(&path))?;
        RunConfig::from_toml(&text).map_err(|e| PlanError::NotASweep {
            path,
            why: e.to_string(),
        })
    }

    /// The run with task index `index`.
    pub fn task(&self, index: usize) -> Result<&PlanEntry, PlanError> {
        self.runs.get(index).ok_or_else(|| PlanError::NotASweep {
            path: self.dir.clone(),
            why: format!(
                "task {index} is not in the plan (it has {} runs: 0..={})",
                self.runs.len(),
                self.runs.len().saturating_sub(1)
            ),
        })
    }
}

/// The seed-free part of a configuration: runs that differ only by seed are one
/// configuration, summarised over seeds (`compare --from`, the app's grouped rows). The
/// key is the configuration's TOML text without its `seed` line.
pub fn group_key(cfg: &RunConfig) -> String {
    let mut c = cfg.clone();
    c.run.seed = 0;
    toml::to_string(&c).unwrap_or_default()
}

/// A configuration's short label from a plan entry's axes: every axis but the seed
/// (`beta-vae beta=4`), or "all" when only the seed varies.
pub fn group_label(entry: &PlanEntry) -> String {
    let parts: Vec<String> = entry
        .axes
        .iter()
        .filter(|(k, _)| k != "seed")
        .map(|(k, v)| {
            if k == "variant" {
                v.trim_matches('"').to_string()
            } else {
                format!("{k}={}", v.trim_matches('"'))
            }
        })
        .collect();
    if parts.is_empty() {
        "all".into()
    } else {
        parts.join(" ")
    }
}
