//! Closing the app keeps the workspace: every time eframe saves the settings (every 30 s and
//! at exit) the runs trained here are written, atomically, to checkpoints in the app's data
//! directory (`autosave/`), and the list of open runs (those checkpoints, the files opened,
//! the run and sweep directories followed) is persisted with the settings. The next start opens them
//! again, unless the command line names other runs.
//!
//! The writing is not done in the frame: [`Autosave::plan`] takes the newest weights (an
//! `Arc` each) and names the files, and the [`AutosaveJob`] it returns runs on the app's
//! writer thread ([`super::io::Io::autosave`]), which reports back through the app's I/O
//! results and is waited for at exit. A closed run's autosave (its only copy) is deleted by
//! the same thread, after any write of it queued before, and only once the run is gone for
//! good (the Undo of a removal has lapsed: [`Autosave::release`]).
//!
//! A lost X display ends the process inside Xlib (its I/O error handler exits): a handler of
//! ours first writes the training runs' newest weights to the same checkpoints, so even then
//! nothing trained is lost.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::checkpoint::{self, DatasetInfo};
use crate::train::{LatestSlot, Snapshot};

use super::run::{Run, RunId, RunSource};
use super::runs::Runs;
use super::settings::{MAX_SESSION_RUNS, SessionRun};

/// The name the app runs under (eframe's app id: where its settings and autosaves live).
pub const APP_NAME: &str = "Latent Explorer";

/// The directory of the autosaved checkpoints, if the platform has a data directory.
pub fn autosave_dir() -> Option<PathBuf> {
    eframe::storage_dir(APP_NAME).map(|d| d.join("autosave"))
}

/// A training run's weights waiting to be written on exit or on a lost display.
struct Pending {
    path: PathBuf,
    slot: LatestSlot<Snapshot>,
    dataset: DatasetInfo,
    /// The step last written.
    written: Option<u64>,
}

/// The training runs' autosave targets, shared with the lost-display handler.
static PENDING: Mutex<Vec<Pending>> = Mutex::new(Vec::new());

/// Where each run trained here is autosaved, and which open runs were reopened from an
/// autosave (kept for the run's lifetime; the file goes when the run is closed).
#[derive(Debug, Default)]
pub struct Autosave {
    paths: HashMap<RunId, PathBuf>,
    /// The step last written to each autosave.
    written: HashMap<PathBuf, u64>,
    /// The step last handed to the writer for each autosave (written or not yet).
    queued: HashMap<PathBuf, u64>,
    /// The runs (and their kinds) [`Autosave::watch`] last registered.
    seen: Vec<(RunId, &'static str)>,
}

/// One autosave's worth of file work, for the writer thread: checkpoints to write, then the
/// directories of closed runs' autosaves to delete.
#[derive(Default)]
pub struct AutosaveJob {
    writes: Vec<AutosaveWrite>,
    removals: Vec<PathBuf>,
}

/// One checkpoint an [`AutosaveJob`] writes.
struct AutosaveWrite {
    path: PathBuf,
    snap: Arc<Snapshot>,
    dataset: DatasetInfo,
}

/// What an [`AutosaveJob`] did: each write (the path and step written, or the error naming
/// the file), each deletion (the directory, or the error).
#[derive(Debug, Default)]
pub struct AutosaveDone {
    /// The checkpoints written (path, step), or why not.
    pub written: Vec<Result<(PathBuf, u64), String>>,
    /// The autosave directories deleted, or why not.
    pub removed: Vec<Result<PathBuf, String>>,
}

impl AutosaveJob {
    /// A job that deletes one closed run's autosave directory.
    pub fn removing(dir: PathBuf) -> Self {
        Self {
            writes: Vec::new(),
            removals: vec![dir],
        }
    }

    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty() && self.removals.is_empty()
    }

    /// Do it, on the calling thread (the app's writer thread).
    pub fn run(self) -> AutosaveDone {
        let mut done = AutosaveDone::default();
        for w in self.writes {
            let step = w.snap.step;
            done.written.push(
                checkpoint::save_snapshot(&w.path, &w.snap, w.dataset, None)
                    .map(|()| (w.path.clone(), step))
                    .map_err(|e| format!("autosaving the run failed: {e}")),
            );
        }
        for dir in self.removals {
            done.removed.push(match std::fs::remove_dir_all(&dir) {
                Ok(()) => Ok(dir),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(dir),
                Err(e) => Err(format!(
                    "cannot delete the closed run's autosave {}: {e}",
                    dir.display()
                )),
            });
        }
        done
    }
}

impl Autosave {
    /// Write every training run's newest weights (those not yet written) on the calling
    /// thread and return the workspace to persist, with any errors: [`Autosave::plan`], its
    /// job run at once, and [`Autosave::done`]. `dir` is [`autosave_dir`]. (The app hands
    /// the job to its writer thread instead.)
    pub fn save(&mut self, dir: Option<&Path>, runs: &Runs) -> (Vec<SessionRun>, Vec<String>) {
        let (session, mut errors, job) = self.plan(dir, runs, &[]);
        errors.extend(self.done(job.run()));
        (session, errors)
    }

    /// What to autosave now, without touching a file: the workspace to persist (with any
    /// errors), and the job that writes every training run's newest weights not yet written
    /// or queued and deletes the autosaves of runs closed since (except `keep`'s: removed
    /// runs that may still come back with Undo). `dir` is where autosaves go.
    pub fn plan(
        &mut self,
        dir: Option<&Path>,
        runs: &Runs,
        keep: &[RunId],
    ) -> (Vec<SessionRun>, Vec<String>, AutosaveJob) {
        let (mut session, errors) = self.track(dir, runs);
        let mut job = AutosaveJob::default();
        for p in self.pending(dir, runs) {
            let Some(snap) = p.slot.get() else {
                continue;
            };
            let step = Some(&snap.step);
            if self.queued.get(&p.path) == step || self.written.get(&p.path) == step {
                continue;
            }
            self.queued.insert(p.path.clone(), snap.step);
            job.writes.push(AutosaveWrite {
                path: p.path,
                snap,
                dataset: p.dataset,
            });
        }
        // Training runs with weights on disk or on their way there (a session entry without
        // a file is dropped at restore); no file is looked at here.
        let training: Vec<&PathBuf> = runs
            .iter()
            .filter(|r| matches!(r.source, RunSource::Training(_)))
            .filter_map(|r| self.paths.get(&r.id))
            .collect();
        session.retain(|s| {
            s.follow
                || !training.contains(&&s.path)
                || self.queued.contains_key(&s.path)
                || self.written.contains_key(&s.path)
        });
        session.truncate(MAX_SESSION_RUNS);
        job.removals = self.forget_closed(dir, runs, keep);
        (session, errors, job)
    }

    /// Take in what the writer did; the errors, to show.
    pub fn done(&mut self, done: AutosaveDone) -> Vec<String> {
        let mut errors = Vec::new();
        for r in done.written {
            match r {
                Ok((path, step)) => {
                    self.written.insert(path, step);
                }
                Err(e) => {
                    // Tried again at the next save.
                    self.queued.clear();
                    errors.push(e);
                }
            }
        }
        errors.extend(done.removed.into_iter().filter_map(Result::err));
        errors
    }

    /// `run` is gone for good (its removal can no longer be undone): the directory of its
    /// autosave, to delete, if it has one of this app's (inside `dir`, never `dir` itself).
    pub fn release(&mut self, run: RunId, dir: Option<&Path>) -> Option<PathBuf> {
        let path = self.paths.remove(&run)?;
        self.written.remove(&path);
        self.queued.remove(&path);
        own_dir(dir, &path)
    }

    /// Forget the autosaves of runs closed in the app since they were written (only this
    /// process's own: an autosave written when the display was lost stays for the user),
    /// except `keep`'s; their directories, to delete.
    fn forget_closed(&mut self, dir: Option<&Path>, runs: &Runs, keep: &[RunId]) -> Vec<PathBuf> {
        let (written, queued) = (&mut self.written, &mut self.queued);
        let mut gone = Vec::new();
        self.paths.retain(|id, path| {
            if runs.get(*id).is_some() || keep.contains(id) {
                return true;
            }
            gone.extend(own_dir(dir, path));
            written.remove(path.as_path());
            queued.remove(path.as_path());
            false
        });
        gone
    }

    /// Once per frame: register the training runs (autosaved into `dir`) with the lost-display handler again
    /// only when the workspace's runs changed (a run added, removed or of another kind).
    pub fn watch(&mut self, dir: Option<&Path>, runs: &Runs) {
        let now = |r: &Run| (r.id, r.source.kind());
        if self.seen.iter().copied().eq(runs.iter().map(now)) {
            return;
        }
        self.seen = runs.iter().map(now).collect();
        let _ = self.track(dir, runs);
    }

    /// Note where each training run is to be saved (for [`Autosave::save`] and for the
    /// lost-display handler, which may come at any frame), and list the open runs.
    pub fn track(&mut self, dir: Option<&Path>, runs: &Runs) -> (Vec<SessionRun>, Vec<String>) {
        let mut session = Vec::new();
        let mut errors = Vec::new();
        for run in runs.iter() {
            match &run.source {
                RunSource::Training(_) => {
                    let Some(dir) = dir else {
                        errors.push(format!(
                            "{}: no data directory to autosave the run into",
                            run.name
                        ));
                        continue;
                    };
                    let path = self
                        .paths
                        .entry(run.id)
                        .or_insert_with(|| dir.join(autosave_name(run)))
                        .clone();
                    session.push(SessionRun {
                        path,
                        follow: false,
                    });
                }
                RunSource::Loaded { path, .. } => {
                    // A run reopened from an earlier session's autosave: its file is ours
                    // to remove when the run is closed.
                    if dir.is_some_and(|d| path.starts_with(d)) {
                        self.paths.entry(run.id).or_insert_with(|| path.clone());
                    }
                    session.push(SessionRun {
                        path: path.clone(),
                        follow: false,
                    })
                }
                RunSource::Following(f) => session.push(SessionRun {
                    path: f.dir().to_path_buf(),
                    follow: true,
                }),
                // A sweep's runs: the sweep directory, followed again as a whole.
                RunSource::Sweep { .. } => {
                    if let Some(sweep) = run.sweep.and_then(|m| runs.sweep(m.sweep))
                        && !session.iter().any(|s| s.follow && s.path == sweep.dir)
                    {
                        session.push(SessionRun {
                            path: sweep.dir.clone(),
                            follow: true,
                        });
                    }
                }
            }
        }
        let pending = self.pending(dir, runs);
        if let Ok(mut all) = PENDING.lock() {
            *all = pending;
        }
        (session, errors)
    }

    /// The training runs' autosave targets (after [`Autosave::track`] named them).
    fn pending(&self, dir: Option<&Path>, runs: &Runs) -> Vec<Pending> {
        if dir.is_none() {
            return Vec::new();
        }
        runs.iter()
            .filter_map(|run| match &run.source {
                RunSource::Training(worker) => {
                    let path = self.paths.get(&run.id)?.clone();
                    Some(Pending {
                        written: self.written.get(&path).copied(),
                        path,
                        slot: worker.snapshot_slot(),
                        dataset: run.dataset.clone(),
                    })
                }
                _ => None,
            })
            .collect()
    }
}

/// The directory of the autosave `path` when it is a run's own directory inside `dir`
/// (never `dir` itself).
fn own_dir(dir: Option<&Path>, path: &Path) -> Option<PathBuf> {
    let (dir, run_dir) = (dir?, path.parent()?);
    (run_dir != dir && run_dir.starts_with(dir)).then(|| run_dir.to_path_buf())
}

/// `SECONDS-ID/NAME.safetensors`: unique across sessions (run ids restart at 0), and the
/// run reopens under its own name (a loaded run is named after its file).
fn autosave_name(run: &Run) -> PathBuf {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    Path::new(&format!("{secs}-{}", run.id.0)).join(format!("{}.safetensors", run.file_stem()))
}

/// Write the pending runs whose newest step is not on disk yet; each written path with
/// its step.
fn write_pending(all: &mut [Pending]) -> Vec<Result<(PathBuf, u64), String>> {
    let mut out = Vec::new();
    for p in all.iter_mut() {
        let Some(snap) = p.slot.get() else {
            continue;
        };
        if p.written == Some(snap.step) {
            continue;
        }
        out.push(
            checkpoint::save_snapshot(&p.path, &snap, p.dataset.clone(), None)
                .map(|()| {
                    p.written = Some(snap.step);
                    (p.path.clone(), snap.step)
                })
                .map_err(|e| format!("autosaving the run failed: {e}")),
        );
    }
    out
}

/// The runs a saved workspace names that still exist, as commands to open them.
pub fn restore(session: &[SessionRun]) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let mut files = Vec::new();
    let mut dirs = Vec::new();
    for s in session.iter().take(MAX_SESSION_RUNS) {
        match (s.follow, s.path.is_dir(), s.path.is_file()) {
            (true, true, _) => dirs.push(s.path.clone()),
            (false, _, true) => files.push(s.path.clone()),
            _ => {}
        }
    }
    (files, dirs)
}

/// Ask Xlib to call us, not `exit` alone, when the connection to the display breaks: the
/// training runs' newest weights are written first. Does nothing when the process is not
/// using Xlib (Wayland, no window).
pub fn install_display_loss_handler() {
    #[cfg(target_os = "linux")]
    {
        type Handler = extern "C" fn(*mut std::ffi::c_void) -> std::ffi::c_int;
        type SetHandler = unsafe extern "C" fn(Option<Handler>) -> Option<Handler>;
        // SAFETY: dlopen with RTLD_NOLOAD only returns a handle to a library the process
        // already loaded (winit's), never loads one; dlsym's result is checked for null and
        // has XSetIOErrorHandler's documented C signature.
        unsafe {
            let lib = libc::dlopen(c"libX11.so.6".as_ptr(), libc::RTLD_NOW | libc::RTLD_NOLOAD);
            if lib.is_null() {
                return;
            }
            let sym = libc::dlsym(lib, c"XSetIOErrorHandler".as_ptr());
            if sym.is_null() {
                return;
            }
            let set: SetHandler = std::mem::transmute::<*mut libc::c_void, SetHandler>(sym);
            set(Some(on_display_lost));
        }
    }
}

/// Xlib's I/O error handler: write what is unsaved, say so, exit (Xlib would exit anyway
/// if this returned).
#[cfg(target_os = "linux")]
extern "C" fn on_display_lost(_display: *mut std::ffi::c_void) -> std::ffi::c_int {
    let saved = match PENDING.try_lock() {
        Ok(mut all) => write_pending(&mut all),
        Err(_) => Vec::new(),
    };
    let ok: Vec<String> = saved
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .map(|(p, _)| p.display().to_string())
        .collect();
    eprintln!(
        "the connection to the display was lost; {}",
        if ok.is_empty() {
            "no unsaved training runs".to_string()
        } else {
            format!("the training runs were saved to {}", ok.join(", "))
        }
    );
    for e in saved.iter().filter_map(|r| r.as_ref().err()) {
        eprintln!("{e}");
    }
    std::process::exit(1)
}
