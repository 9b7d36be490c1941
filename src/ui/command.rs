//! What panels (and tests) ask for. Panels only push commands; the logic step applies them
//! in one place. A command that acts on one run names it.

use std::path::PathBuf;

use eframe::egui::Color32;

use super::run::{RunId, SweepId};
use super::settings::Layout;
use crate::train::Command;
use crate::variant::VariantKind;

/// Something to do to one run.
#[derive(Debug, Clone, PartialEq)]
pub enum RunAction {
    /// Forward to its training worker (pause, resume, step, live hyperparameters).
    Worker(Command),
    /// Save its current weights to this file (atomically, as the CLI does); `None` asks
    /// for a file first.
    Save(Option<PathBuf>),
    /// Train a loaded or followed run further here, for the draft's number of epochs.
    Continue,
    /// Rename it.
    Rename(String),
    /// Give it another colour.
    Recolour(Color32),
    /// Take it out of the workspace. A run whose weights live only in the app (trained
    /// here, or reopened from its autosave) is paused and can come back with
    /// [`UiCommand::UndoRemove`] until the Undo lapses; then it stops and its autosave is
    /// deleted. Any other run goes at once; nothing on disk is touched.
    Remove,
    /// Focus it (the focus layout shows it; live edits apply to it).
    Focus,
    /// Make it the metrics table's baseline.
    SetBaseline,
    /// Write its metrics as CSV and as a TensorBoard event file. A followed run: its run
    /// directory's whole metrics file, into `metrics.csv` and `tensorboard/` there (as
    /// `export-metrics` does). Any other run: its loss history (the curves the app keeps),
    /// into `NAME-metrics.csv` and `NAME-tensorboard/` of this directory; `None` asks for
    /// one first.
    ExportMetrics(Option<PathBuf>),
    /// Decode and show its images in the compare layout (`false`: not; a sweep's runs
    /// start not shown, their weights not loaded).
    ShowViews(bool),
}

/// A command for the logic step.
#[derive(Debug, Clone, PartialEq)]
pub enum UiCommand {
    /// Act on one run.
    Run(RunId, RunAction),
    /// Start a run from the draft settings.
    NewRun,
    /// Start a run of this variant from the draft settings (its default β).
    NewRunOf(VariantKind),
    /// Start the preset: VAE, β-VAE, IWAE and WAE-MMD on the same data and seed.
    Preset,
    /// Open these model files as runs (loaded in the background).
    Open(Vec<PathBuf>),
    /// Follow a run directory, or every run of a sweep directory.
    Follow(PathBuf),
    /// Stop following a sweep and remove its runs.
    RemoveSweep(SweepId),
    /// Bring back the run removed last, while its Undo has not lapsed.
    UndoRemove,
    /// Ask for model files to open.
    PickFiles,
    /// Ask for a run directory to follow.
    PickFollowDir,
    /// Save the next run's settings as a run configuration file (`None`: ask where).
    SaveDraft(Option<PathBuf>),
    /// Load the next run's settings from a run configuration file (`None`: ask which).
    LoadDraft(Option<PathBuf>),
    /// Switch between the compare and the focus layout.
    SetLayout(Layout),
    /// Show every run as it was at the end of this epoch (None: live).
    Scrub(Option<usize>),
    /// Set one coordinate of the shared latent vector.
    SetLatent(usize, f32),
    /// Draw the shared latent vector from the prior.
    RandomizeLatent,
    /// Set the shared latent vector to zero.
    ZeroLatent,
    /// Every run shows its own code of test digit `i`.
    EncodeDigit(usize),
    /// Decode under this label (conditional VAE).
    SetLabel(usize),
    /// New prior noise (the same for every run).
    ResamplePrior,
    /// Forget the errors shown.
    ClearErrors,
    /// Select these test digits on every run's map (empty: clear the selection).
    SelectDigits(Vec<usize>),
    /// Take the map's selection as set A (`true`: the attribute direction points toward
    /// it) or set B of the cursor's attribute direction (an empty selection clears it).
    SetDirectionSet(bool),
    /// Move the cursor this far along the attribute direction (0: not at all).
    SetAlong(f32),
    /// Forget the attribute direction's sets.
    ClearDirection,
    /// Find the nearest training images of the tile at `at` (fractions of the image view's
    /// width and height) of `run`'s image view `view`, drawn `cols` tiles per row.
    NearestAt {
        /// The run.
        run: RunId,
        /// The image view (a view decoded from latent vectors).
        view: super::decoder::ViewKey,
        /// Tiles per row as drawn.
        cols: usize,
        /// Where in the view, as fractions of its width and height.
        at: [f32; 2],
    },
    /// Close `run`'s nearest-training-images window.
    CloseNearest(RunId),
    /// The path runs between these two test digits.
    SetPathEnds(usize, usize),
    /// Score the anomaly tab's sets again, with the same settings.
    Rescore,
    /// Compute the map's t-SNE embeddings again, from the newest codes.
    Reembed,
    /// Use these pixels (the data's image size) as the input every run encodes; its code
    /// drives the sliders.
    SetInput {
        /// `rows × cols` intensities in [0, 1].
        pixels: Vec<f32>,
        /// Where they came from ("drawing", a file name).
        source: String,
    },
    /// Forget the input.
    ClearInput,
    /// Read an image file as the input (PNG or JPEG, fitted to the data's size).
    OpenInput(PathBuf),
    /// Ask for an image file to use as the input.
    PickInput,
    /// Every run shows its own code of the input again.
    FollowInput,
    /// Write one of a run's image views to a file; `None` asks where first.
    Export {
        /// The run.
        run: RunId,
        /// The view.
        view: super::decoder::ViewKey,
        /// Tiles per row of the still image.
        cols: usize,
        /// What to write.
        format: crate::export::ExportFormat,
        /// The file (a directory for frames).
        path: Option<PathBuf>,
    },
}
