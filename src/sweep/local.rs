//! The local launcher: every run of a sweep as a child process on this machine
//! (`latent-explorer sweep task DIR INDEX`), `jobs` at a time. Done and failed runs are
//! skipped; a stopped run resumes. Each child's output goes to `runs/NAME/train.log`. On a
//! stop request (Ctrl-C) no run starts any more and each running child gets one SIGINT, so
//! it saves its resume point and ends; the children are in process groups of their own,
//! so a terminal's Ctrl-C reaches them only this way (twice would end them unsaved).

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use super::plan::{Plan, PlanError};
use super::status::{RunState, sweep_status};

use super::task::TASK_LOG;

/// What the local launcher reports as it goes.
#[derive(Debug, Clone, PartialEq)]
pub enum LocalEvent {
    /// A run was not started, and why ("done", "failed: …").
    Skipped {
        /// The run.
        name: String,
        /// Why.
        why: String,
    },
    /// A run's process started.
    Started {
        /// The run.
        name: String,
        /// Resuming (rather than starting afresh).
        resuming: bool,
    },
    /// A run's process ended.
    Ended {
        /// The run.
        name: String,
        /// Its exit status (0: done; 130: stopped at a resume point).
        code: Option<i32>,
    },
}

/// How a local sweep went.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LocalSummary {
    /// Runs whose process ended with success.
    pub done: Vec<String>,
    /// Runs skipped as done before.
    pub already_done: Vec<String>,
    /// Runs that failed (now or before), with the reason.
    pub failed: Vec<(String, String)>,
    /// Runs stopped by the stop request (resumable) or never started because of it.
    pub stopped: Vec<String>,
}

/// One process per two cores: each training run splits its batches over two lanes.
pub fn default_jobs() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (cores / 2).max(1)
}

/// Start task `index` of the sweep in `dir` with the binary `exe`, its output to the run's
/// log.
fn spawn(
    exe: &Path,
    dir: &Path,
    index: usize,
    backend: &str,
    log: &Path,
) -> std::io::Result<Child> {
    let out = OpenOptions::new().create(true).append(true).open(log)?;
    let err = out.try_clone()?;
    let mut cmd = Command::new(exe);
    cmd.args(["sweep", "task"])
        .arg(dir)
        .arg(index.to_string())
        .args(["--backend", backend])
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
        // A launcher started with SIGINT ignored (a background job of a script) would pass
        // that on, and the child would never hear the stop request it is sent.
        // SAFETY: only `signal`, which is async-signal-safe, runs between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                libc::signal(libc::SIGINT, libc::SIG_DFL);
                libc::signal(libc::SIGTERM, libc::SIG_DFL);
                Ok(())
            });
        }
    }
    cmd.spawn()
}

/// Ask `child` to stop at its next step boundary (it saves its resume point).
fn ask_to_stop(child: &Child) {
    #[cfg(unix)]
    if let Ok(pid) = libc::pid_t::try_from(child.id()) {
        // SAFETY: kill with the pid of our own child (not yet reaped) and a valid signal.
        unsafe {
            libc::kill(pid, libc::SIGINT);
        }
    }
}

/// Run every run of `plan` that is not done, `jobs` at a time, with the binary `exe` on
/// `backend` (as `--backend` takes it); `stop` is asked between polls (Ctrl-C). Returns
/// what happened to each run.
pub fn run(
    plan: &Plan,
    exe: &Path,
    jobs: usize,
    backend: &str,
    stop: &dyn Fn() -> bool,
    report: &mut dyn FnMut(LocalEvent),
) -> Result<LocalSummary, PlanError> {
    let mut summary = LocalSummary::default();
    let mut queue: Vec<(usize, String, bool)> = Vec::new();
    for (i, st) in sweep_status(plan).into_iter().enumerate() {
        let name = st.entry.name.clone();
        match st.state {
            RunState::Done { .. } => {
                report(LocalEvent::Skipped {
                    name: name.clone(),
                    why: "done".into(),
                });
                summary.already_done.push(name);
            }
            RunState::Failed { error, .. } => {
                report(LocalEvent::Skipped {
                    name: name.clone(),
                    why: format!("failed before: {error}"),
                });
                summary.failed.push((name, error));
            }
            RunState::Started { .. } => queue.push((i, name, st.resumable)),
            RunState::Planned => queue.push((i, name, false)),
        }
    }
    queue.reverse();
    let mut running: Vec<(String, Child, bool)> = Vec::new();
    let mut stopping = false;
    loop {
        if !stopping && stop() {
            stopping = true;
            for (_, child, _) in &running {
                ask_to_stop(child);
            }
            summary.stopped.extend(queue.drain(..).map(|(_, n, _)| n));
        }
        while !stopping && running.len() < jobs.max(1) {
            let Some((i, name, resuming)) = queue.pop() else {
                break;
            };
            let log: PathBuf = plan.run_dir(&name).join(TASK_LOG);
            let child = spawn(exe, &plan.dir, i, backend, &log).map_err(|error| PlanError::Io {
                path: exe.to_path_buf(),
                error,
            })?;
            report(LocalEvent::Started {
                name: name.clone(),
                resuming,
            });
            running.push((name, child, false));
        }
        if running.is_empty() && (queue.is_empty() || stopping) {
            break;
        }
        let mut i = 0;
        while i < running.len() {
            match running[i].1.try_wait() {
                Ok(Some(status)) => {
                    let (name, _, _) = running.swap_remove(i);
                    ended(plan, name, status, stopping, &mut summary, report);
                }
                Ok(None) => i += 1,
                Err(_) => i += 1,
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(summary)
}

/// Record how run `name`'s process ended.
fn ended(
    plan: &Plan,
    name: String,
    status: ExitStatus,
    stopping: bool,
    summary: &mut LocalSummary,
    report: &mut dyn FnMut(LocalEvent),
) {
    report(LocalEvent::Ended {
        name: name.clone(),
        code: status.code(),
    });
    match status.code() {
        Some(0) => summary.done.push(name),
        Some(130) if stopping => summary.stopped.push(name),
        code => {
            let log = plan.run_dir(&name).join(TASK_LOG);
            let last = std::fs::read_to_string(&log)
                .ok()
                .and_then(|t| {
                    t.lines()
                        .rev()
                        .find(|l| !l.trim().is_empty())
                        .map(str::to_string)
                })
                .unwrap_or_default();
            let why = match code {
                Some(c) => format!("exit status {c}: {last}"),
                None => format!("killed by a signal: {last}"),
            };
            summary.failed.push((name, why));
        }
    }
}
