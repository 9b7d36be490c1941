//! File work that must not hold up a frame: loading model files, saving checkpoints, and
//! the open/save dialogs (rfd) each run on a short-lived thread and report back here; the
//! logic step drains the results.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};

use burn::tensor::Device;

use super::command::{RunAction, UiCommand};
use super::run::RunId;
use crate::checkpoint::{self, DatasetInfo, Loaded};
use crate::import::{self, ImportOptions};
use crate::train::worker::Waker;
use crate::train::{EvalMetrics, Snapshot};

/// A finished piece of background file work.
pub enum IoResult {
    /// A model file was read (or failed to, with the message naming the file).
    Loaded {
        /// The file.
        path: PathBuf,
        /// The model, or what is wrong with the file.
        result: Result<Box<Loaded>, String>,
    },
    /// A checkpoint was written (or not: the old file, if any, is untouched).
    Saved {
        /// The run saved.
        run: RunId,
        /// The file.
        path: PathBuf,
        /// Ok, or the error naming the file.
        result: Result<(), String>,
    },
    /// A dialog was answered: the command it leads to.
    Picked(UiCommand),
    /// A dialog was cancelled or could not open.
    NothingPicked(&'static str),
}

/// Background file work and its results.
pub struct Io {
    tx: Sender<IoResult>,
    rx: Receiver<IoResult>,
    waker: Waker,
    in_flight: usize,
}

/// The file types the open dialog offers.
pub const MODEL_EXTENSIONS: [&str; 3] = ["safetensors", "pt", "pth"];

impl Io {
    /// Report results through a channel and call `waker` (the UI's repaint) after each.
    pub fn new(waker: Waker) -> Self {
        let (tx, rx) = channel();
        Self {
            tx,
            rx,
            waker,
            in_flight: 0,
        }
    }

    fn spawn(&mut self, name: &str, work: impl FnOnce() -> IoResult + Send + 'static) {
        let tx = self.tx.clone();
        let waker = self.waker.clone();
        self.in_flight += 1;
        let spawned = std::thread::Builder::new()
            .name(format!("latent-explorer-{name}"))
            .spawn(move || {
                let _ = tx.send(work());
                waker();
            });
        if let Err(e) = spawned {
            self.in_flight -= 1;
            let _ = self.tx.send(IoResult::NothingPicked(if name == "load" {
                "cannot start a loader thread"
            } else {
                "cannot start a background thread"
            }));
            tracing::error!("cannot start a {name} thread: {e}");
        }
    }

    /// Load a model file (ours or PyTorch's) onto `device`.
    pub fn load(&mut self, path: PathBuf, device: Device, opts: ImportOptions) {
        self.spawn("load", move || {
            let result = import::load_any(&path, &device, &opts)
                .map(Box::new)
                .map_err(|e| e.to_string());
            IoResult::Loaded { path, result }
        });
    }

    /// Write `snap` to `path` atomically, in the CLI's checkpoint format.
    pub fn save(
        &mut self,
        run: RunId,
        path: PathBuf,
        snap: Arc<Snapshot>,
        dataset: DatasetInfo,
        metrics: Option<EvalMetrics>,
    ) {
        self.spawn("save", move || {
            let result = checkpoint::save_snapshot(&path, &snap, dataset, metrics)
                .map_err(|e| e.to_string());
            IoResult::Saved { run, path, result }
        });
    }

    /// Ask for model files to open.
    pub fn pick_files(&mut self) {
        self.spawn("dialog", || {
            match rfd::FileDialog::new()
                .set_title("Open models")
                .add_filter("models", &MODEL_EXTENSIONS)
                .pick_files()
            {
                Some(paths) if !paths.is_empty() => IoResult::Picked(UiCommand::Open(paths)),
                _ => IoResult::NothingPicked("no file chosen"),
            }
        });
    }

    /// Ask for a run directory to follow.
    pub fn pick_follow_dir(&mut self) {
        self.spawn("dialog", || {
            match rfd::FileDialog::new()
                .set_title("Follow a run directory")
                .pick_folder()
            {
                Some(dir) => IoResult::Picked(UiCommand::Follow(dir)),
                None => IoResult::NothingPicked("no directory chosen"),
            }
        });
    }

    /// Ask where to save `run`, suggesting `name`.
    pub fn pick_save(&mut self, run: RunId, name: String, dir: Option<&Path>) {
        let dir = dir.map(Path::to_path_buf);
        self.spawn("dialog", move || {
            let mut d = rfd::FileDialog::new()
                .set_title("Save checkpoint")
                .add_filter("checkpoint", &["safetensors"])
                .set_file_name(name);
            if let Some(dir) = dir {
                d = d.set_directory(dir);
            }
            match d.save_file() {
                Some(path) => IoResult::Picked(UiCommand::Run(run, RunAction::Save(Some(path)))),
                None => IoResult::NothingPicked("no file chosen"),
            }
        });
    }

    /// Results available now.
    pub fn drain(&mut self) -> Vec<IoResult> {
        let out: Vec<IoResult> = self.rx.try_iter().collect();
        self.in_flight = self.in_flight.saturating_sub(out.len());
        out
    }

    /// Pieces of work not yet reported.
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }
}
