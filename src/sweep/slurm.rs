//! The Slurm launcher: one array job per sweep, a task per run (`--requeue`: a preempted
//! or requeued task goes on from its run's resume point), written as `sweep.sbatch` in the
//! sweep directory, submitted with `sbatch`, its job id kept in `slurm-job.json`; and the
//! queue's view of the tasks (`squeue`). Slurm schedules; this only describes and submits.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::plan::Plan;

/// The batch script in a sweep directory.
pub const SBATCH_FILE: &str = "sweep.sbatch";
/// The submitted job's record in a sweep directory.
pub const JOB_FILE: &str = "slurm-job.json";
/// Where the tasks' output goes in a sweep directory.
pub const OUTPUT_DIR: &str = "slurm";

/// How the array job asks for resources.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SlurmOptions {
    /// `--partition`.
    pub partition: Option<String>,
    /// At most this many tasks at once (`--array=0-N%K`).
    pub max_parallel: Option<usize>,
    /// `--time` (Slurm's formats: `MM`, `HH:MM:SS`, `D-HH`…).
    pub time: Option<String>,
    /// `--cpus-per-task` (each run splits its batches over that many lanes).
    pub cpus_per_task: usize,
    /// Further `#SBATCH` lines, as given (`--mem=4G`, `--gres=gpu:1`, …).
    pub extra: Vec<String>,
    /// The tasks' `--backend` (`cpu`, `wgpu` on GPU nodes).
    pub backend: String,
}

/// A submitted sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRecord {
    /// Slurm's job id.
    pub job_id: String,
    /// Array tasks (one per run).
    pub tasks: usize,
    /// Seconds since the Unix epoch when it was submitted.
    pub submitted_at: u64,
}

/// Why Slurm could not be used.
#[derive(Debug, Error)]
pub enum SlurmError {
    /// A Slurm command is not installed here.
    #[error(
        "`{0}` was not found on PATH: this machine has no Slurm client (Debian: `apt-get install slurm-client`); use `--launcher local` to run the sweep here"
    )]
    Missing(String),
    /// A Slurm command refused, with its own message.
    #[error("`{command}` failed ({status}): {message}")]
    Refused {
        /// The command line.
        command: String,
        /// Its exit status.
        status: String,
        /// What it said.
        message: String,
    },
    /// A file of the sweep could not be written or read.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The failure.
        error: std::io::Error,
    },
}

/// `s` quoted for the shell.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The batch script for `plan` (absolute paths: the tasks run elsewhere), running `exe`.
pub fn script(plan: &Plan, exe: &Path, opts: &SlurmOptions) -> String {
    let dir = plan.dir.display().to_string();
    let n = plan.runs.len();
    let mut lines = vec![
        "#!/bin/bash".to_string(),
        format!(
            "# latent-explorer sweep {dir}: one array task per run (task i is run i of plan.json); a task"
        ),
        "# that was stopped, preempted or requeued goes on from its run's resume point.".into(),
        "#SBATCH --job-name=latent-explorer-sweep".into(),
        format!(
            "#SBATCH --array=0-{}{}",
            n.saturating_sub(1),
            opts.max_parallel
                .map(|k| format!("%{k}"))
                .unwrap_or_default()
        ),
        "#SBATCH --requeue".into(),
        "#SBATCH --open-mode=append".into(),
        format!("#SBATCH --output={dir}/{OUTPUT_DIR}/%A_%a.out"),
        format!("#SBATCH --cpus-per-task={}", opts.cpus_per_task.max(1)),
    ];
    if let Some(p) = &opts.partition {
        lines.push(format!("#SBATCH --partition={p}"));
    }
    if let Some(t) = &opts.time {
        lines.push(format!("#SBATCH --time={t}"));
    }
    lines.extend(opts.extra.iter().map(|a| format!("#SBATCH {a}")));
    lines.push(String::new());
    lines.push("# burn's CPU threads: the cores the task was given, not the node's.".into());
    lines.push("export RAYON_NUM_THREADS=\"${SLURM_CPUS_PER_TASK:-1}\"".into());
    lines.push(format!(
        "exec {} sweep task {} \"$SLURM_ARRAY_TASK_ID\" --backend {}",
        quote(&exe.display().to_string()),
        quote(&dir),
        quote(&opts.backend)
    ));
    lines.join("\n") + "\n"
}

/// Run `program args` and return its standard output, or Slurm's own message.
fn slurm(program: &str, args: &[String]) -> Result<String, SlurmError> {
    let out = Command::new(program).args(args).output().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            SlurmError::Missing(program.into())
        } else {
            SlurmError::Refused {
                command: program.into(),
                status: "not started".into(),
                message: e.to_string(),
            }
        }
    })?;
    if !out.status.success() {
        let mut message = String::from_utf8_lossy(&out.stderr).trim().to_string();
        if message.is_empty() {
            message = String::from_utf8_lossy(&out.stdout).trim().to_string();
        }
        return Err(SlurmError::Refused {
            command: format!("{program} {}", args.join(" ")),
            status: out.status.to_string(),
            message,
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Write the batch script for `plan` (running `exe`) and submit it with `sbatch`; record
/// the job. The script and the record are written atomically; nothing is recorded when
/// `sbatch` refuses.
pub fn submit(plan: &Plan, exe: &Path, opts: &SlurmOptions) -> Result<JobRecord, SlurmError> {
    let io = |path: PathBuf| move |error| SlurmError::Io { path, error };
    let out_dir = plan.dir.join(OUTPUT_DIR);
    std::fs::create_dir_all(&out_dir).map_err(io(out_dir.clone()))?;
    let path = plan.dir.join(SBATCH_FILE);
    crate::atomic::atomic_write_bytes(&path, script(plan, exe, opts).as_bytes())
        .map_err(io(path.clone()))?;
    let said = slurm("sbatch", &["--parsable".into(), path.display().to_string()])?;
    // `--parsable`: "JOBID" or "JOBID;CLUSTER".
    let job_id = said.trim().split(';').next().unwrap_or("").to_string();
    if job_id.is_empty() {
        return Err(SlurmError::Refused {
            command: "sbatch --parsable".into(),
            status: "no job id".into(),
            message: said,
        });
    }
    let record = JobRecord {
        job_id,
        tasks: plan.runs.len(),
        submitted_at: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    };
    let job = plan.dir.join(JOB_FILE);
    let json = serde_json::to_string_pretty(&record).unwrap_or_default();
    crate::atomic::atomic_write_bytes(&job, json.as_bytes()).map_err(io(job.clone()))?;
    Ok(record)
}

/// The job submitted for the sweep in `dir`, if any.
pub fn job(dir: &Path) -> Option<JobRecord> {
    let text = std::fs::read_to_string(dir.join(JOB_FILE)).ok()?;
    serde_json::from_str(&text).ok()
}

/// The queue's state of each task of `job_id` still known to it (`PENDING`, `RUNNING`,
/// `REQUEUED`, …), by array index.
pub fn queue_states(job_id: &str) -> Result<HashMap<usize, String>, SlurmError> {
    let out = slurm(
        "squeue",
        &[
            "--noheader".into(),
            "--array".into(),
            format!("--jobs={job_id}"),
            "--format=%K %T".into(),
        ],
    )?;
    let mut states = HashMap::new();
    for line in out.lines() {
        let mut parts = line.split_whitespace();
        let (Some(index), Some(state)) = (parts.next(), parts.next()) else {
            continue;
        };
        // A pending array shows its remaining range ("2-3" or "2-3%1") on one line.
        let index = index.trim_matches(|c| c == '[' || c == ']');
        let range = index.split('%').next().unwrap_or(index);
        for part in range.split(',') {
            let (a, b) = part.split_once('-').unwrap_or((part, part));
            if let (Ok(a), Ok(b)) = (a.parse::<usize>(), b.parse::<usize>()) {
                for i in a..=b.min(a + 100_000) {
                    states.insert(i, state.to_string());
                }
            }
        }
    }
    Ok(states)
}
