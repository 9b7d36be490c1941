//! What panels (and tests) ask for. Panels only push commands; the logic step applies them
//! in one place. A command that acts on one run names it.

use std::path::PathBuf;

use eframe::egui::Color32;

use super::run::RunId;
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
    /// Take it out of the workspace (its worker stops, its painter slots are freed).
    Remove,
    /// Focus it (the focus layout shows it; live edits apply to it).
    Focus,
    /// Make it the metrics table's baseline.
    SetBaseline,
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
    /// Follow a run directory.
    Follow(PathBuf),
    /// Ask for model files to open.
    PickFiles,
    /// Ask for a run directory to follow.
    PickFollowDir,
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
    /// The grid settings changed.
    GridChanged,
    /// The reconstruction settings changed.
    ReconChanged,
    /// The same-input matrix settings changed.
    MatrixChanged,
    /// Forget the errors shown.
    ClearErrors,
}
