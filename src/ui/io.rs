//! File work that must not hold up a frame: loading model files, saving checkpoints,
//! exporting image views (decoded again on the host, then written as PNG, GIF or frames),
//! autosaving, and the open/save dialogs (rfd) run off the UI thread and report back here;
//! the logic step drains the results.
//!
//! Reading and dialogs each take a short-lived thread. Everything that writes (checkpoints,
//! the draft's file, exports, autosaves and the deletion of a closed run's autosave) goes to
//! one writer thread, in the order asked, so two writes of one file never overlap (they
//! share its temporary name) and a deletion comes after the writes before it. At exit the
//! app waits for that thread ([`Io::finish_writes`]): no write asked for is lost.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread::JoinHandle;

use burn::tensor::Device;

use super::command::{RunAction, UiCommand};
use super::decoder::{self, Job, Output, ViewKey};
use super::run::RunId;
use super::session::{AutosaveDone, AutosaveJob};
use crate::checkpoint::{self, DatasetInfo, Loaded};
use crate::data::{Dataset, ImageShape, Opened};
use crate::export::{ExportFormat, GIF_DELAY_MS, export_grid};
use crate::gpu::TileSource;
use crate::import::ImportOptions;
use crate::sweep::follow::OpenedSweep;
use crate::sweep::is_sweep_dir;
use crate::train::metrics::evaluate_run;
use crate::train::run_config::RUN_CONFIG_FILE;
use crate::train::{EvalMetrics, RunConfig, Snapshot};
use crate::train::{LossHistory, Waker};

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
    /// An image view was exported: what was written, or the error naming the file.
    Exported(Result<String, String>),
    /// An autosave job ran: what it wrote and deleted.
    Autosaved(AutosaveDone),
    /// A dialog was answered: the command it leads to.
    Picked(UiCommand),
    /// A dialog was cancelled or could not open.
    NothingPicked(&'static str),
    /// The work could not even start.
    Failed(String),
    /// A dataset was read (or not: the message names the directory and the problem).
    Dataset {
        /// The directory ("" for the bundled digits).
        dir: String,
        /// The data, and what came with it (skipped files, class names).
        result: Result<Box<Opened>, String>,
    },
    /// A run configuration file was read for the draft (or not: the message names the file
    /// and the key).
    DraftLoaded {
        /// The file.
        path: PathBuf,
        /// The configuration, or what is wrong with the file.
        result: Result<Box<RunConfig>, String>,
    },
    /// Paths were sorted into model files and directories.
    Sorted {
        /// Existing files.
        files: Vec<PathBuf>,
        /// Existing directories (run directories; sweep directories are in `sweeps`).
        dirs: Vec<PathBuf>,
        /// Sweep directories, read (their plan and configurations), or why not.
        sweeps: Vec<Result<Box<OpenedSweep>, String>>,
        /// Paths that are neither.
        missing: Vec<PathBuf>,
        /// Whether the paths were given as run directories to follow.
        follow: bool,
        /// When they were given (a sweep's time to open counts from here).
        asked: std::time::Instant,
    },
}

/// Background file work and its results.
pub struct Io {
    tx: Sender<IoResult>,
    rx: Receiver<IoResult>,
    waker: Waker,
    in_flight: usize,
    /// Images decoded and to decode while an image folder is read (0 of 0 otherwise).
    progress: Arc<[AtomicUsize; 2]>,
    /// File dialogs are shown (off in tests: every dialog answers "nothing chosen").
    pub dialogs: bool,
    /// The writer thread, started on the first write.
    writer: Option<Writer>,
}

/// A piece of writing for the writer thread.
type WriteJob = Box<dyn FnOnce() -> IoResult + Send>;

/// The writer thread and its queue.
struct Writer {
    jobs: Sender<WriteJob>,
    thread: JoinHandle<()>,
}

/// The file types the open dialog offers.
pub const MODEL_EXTENSIONS: [&str; 3] = ["safetensors", "pt", "pth"];

/// Whether `path` names an image the app takes as an input (by extension: the image
/// folders' [`crate::data::folder::EXTENSIONS`]).
pub fn is_image(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| {
        crate::data::folder::EXTENSIONS
            .iter()
            .any(|x| x.eq_ignore_ascii_case(e))
    })
}

/// An image view to export: the job that made it, decoded again on the host against the
/// weights it shows, then written.
pub struct ExportJob {
    /// The view.
    pub view: ViewKey,
    /// The job that made the view's image.
    pub job: Job,
    /// The weights the view shows.
    pub snapshot: Arc<Snapshot>,
    /// The run's data.
    pub data: Arc<Dataset>,
    /// Tiles per row of the still image (the animation's frames are its columns).
    pub cols: usize,
    /// What to write.
    pub format: ExportFormat,
    /// The file (a directory for frames).
    pub path: PathBuf,
}

impl Io {
    /// Report results through a channel and call `waker` (the UI's repaint) after each.
    pub fn new(waker: Waker) -> Self {
        let (tx, rx) = channel();
        Self {
            tx,
            rx,
            waker,
            in_flight: 0,
            progress: Arc::default(),
            dialogs: true,
            writer: None,
        }
    }

    /// Queue `work` (described by `what`, for messages) on the writer thread, after the
    /// writes asked for before it.
    fn write(&mut self, what: String, work: impl FnOnce() -> IoResult + Send + 'static) {
        self.in_flight += 1;
        let failed = format!("{what} failed unexpectedly");
        let job: WriteJob = Box::new(move || {
            // A panic in the work is reported like any failure; the thread goes on.
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(work))
                .unwrap_or(IoResult::Failed(failed))
        });
        if self.writer.is_none() {
            match self.start_writer() {
                Ok(w) => self.writer = Some(w),
                Err(e) => {
                    // Reported like any result, so the count of work in flight stays right.
                    let _ = self.tx.send(IoResult::Failed(format!(
                        "{what}: cannot start the writer thread: {e}"
                    )));
                    return;
                }
            }
        }
        if let Some(w) = &self.writer
            && let Err(job) = w.jobs.send(job)
        {
            // The writer is gone (it cannot be: it never ends while its queue is open);
            // write here rather than lose it.
            let _ = self.tx.send((job.0)());
        }
    }

    fn start_writer(&self) -> std::io::Result<Writer> {
        let (jobs, queue) = channel::<WriteJob>();
        let (tx, waker) = (self.tx.clone(), self.waker.clone());
        let thread = std::thread::Builder::new()
            .name("latent-explorer-writer".into())
            .spawn(move || {
                for job in queue {
                    let _ = tx.send(job());
                    waker();
                }
            })?;
        Ok(Writer { jobs, thread })
    }

    /// Wait until every write asked for so far is done (at exit: nothing asked for is
    /// lost); their results wait in [`Io::drain`]. Writes asked for later start the writer
    /// again.
    pub fn finish_writes(&mut self) {
        if let Some(Writer { jobs, thread }) = self.writer.take() {
            // The writer ends once its queue is closed and empty.
            drop(jobs);
            if thread.join().is_err() {
                let _ = self.tx.send(IoResult::Failed(
                    "the writer thread failed unexpectedly".into(),
                ));
            }
        }
    }

    /// Run an autosave job (see [`AutosaveJob`]) on the writer thread.
    pub fn autosave(&mut self, job: AutosaveJob) {
        if job.is_empty() {
            return;
        }
        self.write("autosaving".into(), move || IoResult::Autosaved(job.run()));
    }

    /// Run `work` (described by `what`, e.g. "opening a.pt", for messages) on a new thread.
    fn spawn(&mut self, what: String, work: impl FnOnce() -> IoResult + Send + 'static) {
        let tx = self.tx.clone();
        let waker = self.waker.clone();
        self.in_flight += 1;
        let failed = format!("{what}: cannot start a thread");
        let spawned = std::thread::Builder::new()
            .name("latent-explorer-io".into())
            .spawn(move || {
                // A panic in file work (third-party parsers, a model that does not fit) is
                // reported like any failure, and the count of work in flight stays right.
                let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work))
                    .unwrap_or_else(|_| IoResult::Failed(format!("{what} failed unexpectedly")));
                let _ = tx.send(out);
                waker();
            });
        if let Err(e) = spawned {
            // Reported like any result, so the count of work in flight stays right.
            let _ = self.tx.send(IoResult::Failed(format!("{failed}: {e}")));
        }
    }

    /// Load a model file (ours or PyTorch's) onto `device`. A file without test figures
    /// (a PyTorch model, a checkpoint saved before any evaluation) is evaluated on `data`'s
    /// test split when the image sizes match, so it has a row in the metrics table.
    pub fn load(&mut self, path: PathBuf, device: Device, opts: ImportOptions, data: Arc<Dataset>) {
        self.spawn(format!("opening {}", path.display()), move || {
            let result = crate::model_file::open(&path, &device, &opts)
                .map(|opened| {
                    let mut loaded = opened.loaded;
                    let m = &loaded.meta.train.model;
                    if loaded.meta.metrics.is_none() && data.check_model(m).is_ok() {
                        loaded.meta.metrics = Some(evaluate_run(
                            &loaded.model,
                            &loaded.meta.train,
                            loaded.meta.step,
                            &data,
                            &device,
                            0,
                        ));
                    }
                    Box::new(loaded)
                })
                .map_err(|e| e.to_string());
            IoResult::Loaded { path, result }
        });
    }

    /// Read the dataset the dataset field names ("" for the bundled digits; see
    /// [`crate::data::Source::parse`]); an image folder's progress is [`Io::progress`].
    pub fn load_dataset(&mut self, dir: String) {
        let progress = self.progress.clone();
        let waker = self.waker.clone();
        self.spawn(format!("reading the dataset {dir:?}"), move || {
            let report = |done: usize, total: usize| {
                progress[1].store(total, Ordering::Relaxed);
                progress[0].store(done, Ordering::Relaxed);
                waker();
            };
            let result = crate::data::Source::parse(&dir)
                .and_then(|s| {
                    s.open(&report)
                        .map_err(|e| format!("loading the dataset: {e}"))
                })
                .map(Box::new);
            report(0, 0);
            IoResult::Dataset { dir, result }
        });
    }

    /// While an image folder is read: images decoded and in all.
    pub fn progress(&self) -> Option<(usize, usize)> {
        let total = self.progress[1].load(Ordering::Relaxed);
        (total > 0).then(|| (self.progress[0].load(Ordering::Relaxed), total))
    }

    /// Sort `paths` into files, run directories and sweep directories, reading each sweep's
    /// plan (a network share may take its time to answer). `follow`: they were given as
    /// directories to follow.
    pub fn sort_paths(&mut self, paths: Vec<PathBuf>, follow: bool) {
        let asked = std::time::Instant::now();
        self.spawn("looking at the given paths".into(), move || {
            let (mut files, mut dirs, mut missing) = (Vec::new(), Vec::new(), Vec::new());
            let mut sweeps = Vec::new();
            for p in paths {
                match std::fs::metadata(&p) {
                    Ok(m) if m.is_dir() && is_sweep_dir(&p) => sweeps.push(
                        OpenedSweep::open(&p)
                            .map(Box::new)
                            .map_err(|e| e.to_string()),
                    ),
                    Ok(m) if m.is_dir() => dirs.push(p),
                    Ok(_) => files.push(p),
                    Err(_) => missing.push(p),
                }
            }
            IoResult::Sorted {
                files,
                dirs,
                sweeps,
                missing,
                follow,
                asked,
            }
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
        self.write(format!("saving {}", path.display()), move || {
            let result = checkpoint::save_snapshot(&path, &snap, dataset, metrics)
                .map_err(|e| e.to_string());
            IoResult::Saved { run, path, result }
        });
    }

    /// Write the draft's configuration `text` to `path` atomically.
    pub fn save_draft(&mut self, path: PathBuf, text: String) {
        self.write(format!("saving {}", path.display()), move || {
            IoResult::Exported(
                crate::atomic::atomic_write_bytes(&path, text.as_bytes())
                    .map(|()| format!("the next run's settings to {}", path.display()))
                    .map_err(|e| format!("{}: {e}", path.display())),
            )
        });
    }

    /// Write run directory `dir`'s metrics as CSV and as a TensorBoard event file, in the
    /// directory (what `export-metrics` writes by default).
    pub fn export_metrics(&mut self, dir: PathBuf) {
        self.write(
            format!("exporting {}'s metrics", dir.display()),
            move || {
                use crate::metrics_out::{MetricsFormat, export};
                IoResult::Exported(
                    export(&dir, MetricsFormat::Csv, None)
                        .and_then(|(csv, n)| {
                            export(&dir, MetricsFormat::Tensorboard, None).map(|(tb, _)| {
                                format!("{n} values to {} and {}", csv.display(), tb.display())
                            })
                        })
                        .map_err(|e| e.to_string()),
                )
            },
        );
    }

    /// Write a loss history (a run trained here or loaded) as `STEM-metrics.csv` and a
    /// TensorBoard event file in `STEM-tensorboard/`, both in `dir`.
    pub fn export_history(&mut self, history: LossHistory, dir: PathBuf, stem: String) {
        self.write(format!("exporting {stem}'s metrics"), move || {
            use crate::metrics_out::{MetricsFormat, history_scalars, write};
            let scalars = history_scalars(&history);
            IoResult::Exported(
                write(
                    &scalars,
                    MetricsFormat::Csv,
                    &dir.join(format!("{stem}-metrics.csv")),
                )
                .and_then(|csv| {
                    write(
                        &scalars,
                        MetricsFormat::Tensorboard,
                        &dir.join(format!("{stem}-tensorboard")),
                    )
                    .map(|tb| {
                        format!(
                            "{} values to {} and {}",
                            scalars.len(),
                            csv.display(),
                            tb.display()
                        )
                    })
                })
                .map_err(|e| e.to_string()),
            )
        });
    }

    /// Ask for the directory to export `run`'s metrics into.
    pub fn pick_metrics_dir(&mut self, run: RunId) {
        self.dialog(
            "no folder dialog: file dialogs are off",
            move || match rfd::FileDialog::new()
                .set_title("Folder for the metrics (CSV and TensorBoard)")
                .pick_folder()
            {
                Some(dir) => {
                    IoResult::Picked(UiCommand::Run(run, RunAction::ExportMetrics(Some(dir))))
                }
                None => IoResult::NothingPicked("no directory chosen"),
            },
        );
    }

    /// Read a run configuration file for the draft.
    pub fn load_draft(&mut self, path: PathBuf) {
        self.spawn(format!("reading {}", path.display()), move || {
            let result = std::fs::read_to_string(&path)
                .map_err(|e| e.to_string())
                .and_then(|text| RunConfig::from_toml(&text).map_err(|e| e.to_string()))
                .map(Box::new)
                .map_err(|e| format!("{}: {e}", path.display()));
            IoResult::DraftLoaded { path, result }
        });
    }

    /// Ask where to save the draft (`load`: which file to load it from).
    pub fn pick_draft(&mut self, load: bool) {
        self.dialog("no file dialog: file dialogs are off", move || {
            let d = rfd::FileDialog::new()
                .add_filter("run configuration", &["toml"])
                .set_file_name(RUN_CONFIG_FILE);
            if load {
                match d.set_title("Load the next run's settings").pick_file() {
                    Some(path) => IoResult::Picked(UiCommand::LoadDraft(Some(path))),
                    None => IoResult::NothingPicked("no file chosen"),
                }
            } else {
                match d.set_title("Save the next run's settings").save_file() {
                    Some(path) => IoResult::Picked(UiCommand::SaveDraft(Some(path))),
                    None => IoResult::NothingPicked("no file chosen"),
                }
            }
        });
    }

    /// Decode `e`'s view on the host and write it, off the UI thread.
    pub fn export(&mut self, e: ExportJob, device: Device) {
        self.write(format!("exporting {}", e.path.display()), move || {
            IoResult::Exported(export_view(&e, &device))
        });
    }

    /// Run the file dialog `work` off the UI thread; with dialogs off, answer "nothing
    /// chosen" (`off` says which dialog) instead.
    fn dialog(&mut self, off: &'static str, work: impl FnOnce() -> IoResult + Send + 'static) {
        if self.dialogs {
            self.spawn("the file dialog".into(), work);
        } else {
            self.spawn("the file dialog".into(), move || {
                IoResult::NothingPicked(off)
            });
        }
    }

    /// Ask for model files to open.
    pub fn pick_files(&mut self) {
        self.dialog(
            "no open dialog: file dialogs are off",
            || match rfd::FileDialog::new()
                .set_title("Open models")
                .add_filter("models", &MODEL_EXTENSIONS)
                .pick_files()
            {
                Some(paths) if !paths.is_empty() => IoResult::Picked(UiCommand::Open(paths)),
                _ => IoResult::NothingPicked("no file chosen"),
            },
        );
    }

    /// Ask for a run or sweep directory to follow.
    pub fn pick_follow_dir(&mut self) {
        self.dialog(
            "no folder dialog: file dialogs are off",
            || match rfd::FileDialog::new()
                .set_title("Follow a run or sweep directory")
                .pick_folder()
            {
                Some(dir) => IoResult::Picked(UiCommand::Follow(dir)),
                None => IoResult::NothingPicked("no directory chosen"),
            },
        );
    }

    /// Ask where to save `run`, suggesting `name`.
    pub fn pick_save(&mut self, run: RunId, name: String, dir: Option<&Path>) {
        let dir = dir.map(Path::to_path_buf);
        self.dialog("no save dialog: file dialogs are off", move || {
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

    /// Ask for an image file to encode as the input.
    pub fn pick_input(&mut self) {
        self.dialog(
            "no open dialog: file dialogs are off",
            || match rfd::FileDialog::new()
                .set_title("Open an input image")
                .add_filter("images", &crate::data::folder::EXTENSIONS)
                .pick_file()
            {
                Some(path) => IoResult::Picked(UiCommand::OpenInput(path)),
                None => IoResult::NothingPicked("no file chosen"),
            },
        );
    }

    /// Ask where to export a view (a directory for frames), suggesting `name`.
    pub fn pick_export(
        &mut self,
        run: RunId,
        view: ViewKey,
        cols: usize,
        format: ExportFormat,
        name: String,
    ) {
        self.dialog("no save dialog: file dialogs are off", move || {
            let d = rfd::FileDialog::new().set_title("Export");
            let path = match format {
                ExportFormat::Png => d
                    .add_filter("PNG", &["png"])
                    .set_file_name(format!("{name}.png"))
                    .save_file(),
                ExportFormat::Gif => d
                    .add_filter("GIF", &["gif"])
                    .set_file_name(format!("{name}.gif"))
                    .save_file(),
                ExportFormat::Frames => d.set_title("Folder for the frames").pick_folder(),
            };
            match path {
                Some(path) => IoResult::Picked(UiCommand::Export {
                    run,
                    view,
                    cols,
                    format,
                    path: Some(path),
                }),
                None => IoResult::NothingPicked("nothing chosen"),
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

impl Drop for Io {
    /// Writes asked for are finished even when the app is dropped without closing.
    fn drop(&mut self) {
        self.finish_writes();
    }
}

/// [`Io::export`]'s work: the view decoded again on the host, written by the library's
/// [`export_grid`] (the frames named and counted as `traverse` names and counts them).
fn export_view(e: &ExportJob, device: &Device) -> Result<String, String> {
    let out = decoder::execute(
        e.view,
        0,
        &e.job,
        &e.snapshot,
        &e.data,
        device,
        false,
        std::time::Instant::now(),
    );
    let img = match out {
        Output::Images(_, img) => img,
        Output::Error(_, why) => return Err(why),
        _ => return Err(format!("{:?} is not an image view", e.view)),
    };
    let TileSource::Host(px) = &img.source else {
        return Err("the image is not on the host".into());
    };
    let shape = ImageShape {
        rows: img.rows,
        cols: img.cols,
        channels: img.channels,
    };
    let px = &px[..(img.n * shape.len()).min(px.len())];
    export_grid(px, shape, e.cols, e.format, GIF_DELAY_MS, &e.path)
        .map(|written| written.to_string())
        .map_err(|err| err.to_string())
}
