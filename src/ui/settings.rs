//! What the app remembers between sessions, kept apart from run state: how views look
//! ([`ViewSettings`]), the draft of the next run ([`RunDraft`]), and the workspace's
//! recent files, import rules and open runs ([`Workspace`]). A run's own configuration
//! lives on the run, frozen when it started.
//!
//! Every bounded view setting has one range here, which its control offers,
//! [`Persisted::sanitize`] clamps a saved value into, and the view that reads it relies on.
//! This file names nothing else of the app's.

use std::ops::RangeInclusive;
use std::path::PathBuf;

use eframe::egui;
use serde::{Deserialize, Serialize};

use crate::data::Shift;
use crate::data::source::BUNDLED;
use crate::explore::{RangeMode, Spacing};
use crate::gpu::Colormap;
use crate::train::share::SharingPolicy;
use crate::train::{RunConfig, RunSpec};

/// Side of the interpolation grid (decodes per side).
pub const GRID_SIZE: RangeInclusive<usize> = 2..=32;
/// The linear grid's range (±).
pub const GRID_RANGE: RangeInclusive<f32> = 0.1..=10.0;
/// The curves' smoothing (EMA factor).
pub const SMOOTHING: RangeInclusive<f32> = 0.0..=0.99;
/// Test digits in the focus layout's reconstruction row.
pub const RECON_COUNT: RangeInclusive<usize> = 1..=32;
/// Rows (test digits) of the same-input matrix.
pub const MATRIX_ROWS: RangeInclusive<usize> = 1..=32;
/// Decodes per side of a 2-d latent's manifold under the latent map.
pub const MANIFOLD_SIZE: RangeInclusive<usize> = 4..=32;
/// Components of the holes tab's ex-post mixture.
pub const HOLES_COMPONENTS: RangeInclusive<usize> = 1..=64;
/// Codes along a path between two test digits (both ends included).
pub const PATH_STEPS: RangeInclusive<usize> = 2..=32;
/// Rows (latent dimensions) of a traversal.
pub const TRAVERSAL_ROWS: RangeInclusive<usize> = 1..=32;
/// Columns (values) of a traversal.
pub const TRAVERSAL_STEPS: RangeInclusive<usize> = 2..=24;
/// A traversal's prior quantile q (the range is Φ⁻¹(q)…Φ⁻¹(1 − q)).
pub const TRAVERSAL_QUANTILE: RangeInclusive<f32> = 0.001..=0.49;
/// A traversal's multiple k of the codes' standard deviation.
pub const TRAVERSAL_SIGMA: RangeInclusive<f32> = 0.1..=6.0;
/// Importance samples of the anomaly scores (0: −ELBO): each image is decoded k times.
pub const ANOMALY_IWAE_K: RangeInclusive<usize> = 0..=200;
/// Importance samples per image of the amortisation gap (each image is decoded k times).
pub const GAP_K: RangeInclusive<usize> = 1..=200;
/// The pixel noise σ of the anomaly tab's noise shift.
pub const SHIFT_NOISE: RangeInclusive<f32> = 0.01..=1.0;
/// Frames per second of the path and traversal animations.
pub const FPS: RangeInclusive<f32> = 1.0..=24.0;
/// Brush radius of the drawing canvas, pixels.
pub const BRUSH: RangeInclusive<f32> = 0.5..=4.0;
/// Test digits encoded for a run's statistics (codes for "follow digit", the latent map,
/// paths, traversal ranges, the order of dimensions, principal directions): the whole
/// bundled test split. The digit field, the path's ends and the digit shortcuts stay
/// among them.
pub const STATS_DIGITS: usize = 2000;

/// `x` brought into `range`.
pub fn clamp_to<T: PartialOrd + Copy>(x: T, range: &RangeInclusive<T>) -> T {
    if x < *range.start() {
        *range.start()
    } else if x > *range.end() {
        *range.end()
    } else {
        x
    }
}

/// Where training and decoding run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum DeviceChoice {
    /// The GPU if the adapter is a real one, else the CPU.
    #[default]
    Auto,
    /// The shared wgpu device, even on a software adapter.
    Gpu,
    /// burn's CPU backend.
    Cpu,
}

/// How the interpolation grid picks its two directions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum GridAxes {
    /// Two latent dimensions.
    #[default]
    Dims,
    /// The top two principal directions of the run's encoded test set.
    Principal,
}

/// Which loss term the overlaid curves show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum CurveTerm {
    /// The optimised training loss per step.
    #[default]
    Loss,
    /// Training reconstruction term per step.
    Rec,
    /// Training KL term per step.
    Kl,
    /// Test −ELBO per epoch (runs without a likelihood bound are left out).
    TestNegElbo,
    /// Test reconstruction per epoch.
    TestRec,
    /// Test KL per epoch.
    TestKl,
    /// The KL weight of the schedule per step.
    KlWeight,
}

impl CurveTerm {
    /// Every term, in menu order.
    pub const ALL: [Self; 7] = [
        Self::Loss,
        Self::Rec,
        Self::Kl,
        Self::TestNegElbo,
        Self::TestRec,
        Self::TestKl,
        Self::KlWeight,
    ];

    /// Menu label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Loss => "train loss",
            Self::Rec => "train rec",
            Self::Kl => "train KL",
            Self::TestNegElbo => "test −ELBO",
            Self::TestRec => "test rec",
            Self::TestKl => "test KL",
            Self::KlWeight => "KL weight",
        }
    }
}

/// The curves' x axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum CurveX {
    /// Optimisation steps (differ between batch sizes).
    Step,
    /// Epochs (fractional within an epoch): comparable across batch sizes.
    #[default]
    Epoch,
}

/// One window layout for all runs, or one run with every panel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Layout {
    /// Every run side by side.
    #[default]
    Compare,
    /// The focused run alone, with all its panels.
    Focus,
}

/// The lower half of the compare layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
pub enum CompareTab {
    /// One slider set and one grid specification, decoded by every run.
    #[default]
    Latents,
    /// The same test digits reconstructed by every run.
    SameInput,
    /// Prior samples from the same noise in every run.
    Prior,
    /// The encoded test set as a scatter, with linked selection.
    Map,
    /// Decodes along the path between two test digits.
    Paths,
    /// One row per latent dimension, swept over a stated range.
    Traversals,
    /// Per-image scores, the most and least typical digits, and the AUROC of a shift.
    Anomalies,
    /// The user's own input: drawn or loaded.
    Input,
    /// KL per latent dimension against evaluations: posterior collapse over training.
    Collapse,
    /// The amortisation gap per test image (−ELBO − (−IWAE_k)) on the map, the worst listed.
    Gap,
    /// The prior's holes: codes against the prior, and the ex-post sampler.
    Holes,
}

/// How the latent map places each code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum MapAxes {
    /// Each run's top two principal directions of its codes.
    #[default]
    Principal,
    /// Two latent dimensions.
    Dims,
    /// A t-SNE embedding of the codes (computed on request).
    Tsne,
}

impl CompareTab {
    /// One of the exploring tabs (map, paths, traversals, anomalies, input), which the focus
    /// layout also offers.
    pub fn is_exploring(self) -> bool {
        matches!(
            self,
            Self::Map
                | Self::Paths
                | Self::Traversals
                | Self::Anomalies
                | Self::Input
                | Self::Collapse
                | Self::Gap
                | Self::Holes
        )
    }
}

/// The settings of the exploring tabs (map, paths, traversals, anomalies, input).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ExploreSettings {
    /// The map's axes: two latent dimensions or the top two principal directions.
    pub map_axes: MapAxes,
    /// The map's dimensions when `map_axes` is `Dims`.
    pub map_dims: [usize; 2],
    /// Under a 2-d latent's map (axes = its two dimensions), decode the manifold.
    pub manifold: bool,
    /// Decodes per side of the manifold.
    pub manifold_size: usize,
    /// Test digit the path starts at.
    pub path_from: usize,
    /// Test digit the path ends at.
    pub path_to: usize,
    /// Decodes along the path (both ends included).
    pub path_steps: usize,
    /// Linear or spherical.
    pub path_kind: crate::explore::PathKind,
    /// Rows (latent dimensions, by decreasing KL) of the traversal.
    pub traversal_rows: usize,
    /// Columns (values) of the traversal.
    pub traversal_steps: usize,
    /// How the traversal's range is chosen.
    pub traversal_range: crate::explore::RangeMode,
    /// The shifted set of the anomaly tab.
    pub shift: crate::data::Shift,
    /// Importance samples of the anomaly scores (0: −ELBO).
    pub anomaly_iwae_k: usize,
    /// Seed of the noise the anomaly scores (and the input's score) draw their samples of
    /// z from: the same seed gives `anomaly --seed`'s scores.
    pub anomaly_seed: u64,
    /// Paths and traversals play as animations.
    pub animate: bool,
    /// Frames per second of the animations.
    pub fps: f32,
    /// The drawing canvas (not persisted).
    #[serde(skip)]
    pub canvas: Vec<f32>,
    /// Brush radius in pixels.
    pub brush: f32,
    /// Fit the drawing's ink into the central 20/28 as MNIST digits are (else the canvas
    /// is taken pixel for pixel).
    pub fit_drawing: bool,
    /// The collapse tab colours cells by Var_x(E_q\[z_j\]) (the activity statistic, its
    /// threshold on the scale) instead of KL.
    pub collapse_by_variance: bool,
    /// Importance samples per image of the amortisation gap ([`GAP_K`]).
    pub gap_k: usize,
    /// Seed of the noise the gap's samples of z are drawn from.
    pub gap_seed: u64,
    /// Aligned runs: every run's codes fitted onto the focused run's (orthogonal
    /// Procrustes); maps drawn in the focused run's frame (chained through its epochs),
    /// lock-step sliders and grids moved along its directions in every run.
    pub aligned: bool,
    /// The holes tab's ex-post mixture components.
    pub holes_components: usize,
    /// The holes tab colours draws by the probe's confidence (else by the distance to the
    /// nearest code).
    pub holes_by_confidence: bool,
}

impl Default for ExploreSettings {
    fn default() -> Self {
        Self {
            map_axes: MapAxes::Principal,
            map_dims: [0, 1],
            manifold: true,
            manifold_size: 16,
            path_from: 0,
            path_to: 1,
            path_steps: 10,
            path_kind: crate::explore::PathKind::Spherical,
            traversal_rows: 10,
            traversal_steps: 9,
            traversal_range: crate::explore::RangeMode::default(),
            shift: crate::data::Shift::Invert,
            anomaly_iwae_k: 0,
            anomaly_seed: 0,
            animate: true,
            fps: 6.0,
            canvas: Vec::new(),
            brush: 1.4,
            fit_drawing: true,
            collapse_by_variance: false,
            gap_k: 16,
            gap_seed: 0,
            aligned: false,
            holes_components: crate::explore::GMM_COMPONENTS,
            holes_by_confidence: false,
        }
    }
}

/// How views look; persisted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ViewSettings {
    /// Colour map of image panels.
    pub colormap: Colormap,
    /// Interpolation grid side ([`GRID_SIZE`]).
    pub grid_size: usize,
    /// Grid spacing.
    pub grid_spacing: Spacing,
    /// Linear grid range (±).
    pub grid_range: f32,
    /// Grid directions.
    pub grid_axes: GridAxes,
    /// Grid dimensions when `grid_axes` is `Dims`.
    pub grid_dims: [usize; 2],
    /// Curve smoothing (EMA factor in [0, 0.99]).
    pub smoothing: f32,
    /// Log-scale loss axis.
    pub log_scale: bool,
    /// The term the overlaid curves show.
    pub curve_term: CurveTerm,
    /// The curves' x axis.
    pub curve_x: CurveX,
    /// Test digits in the focus layout's reconstruction row.
    pub recon_count: usize,
    /// First test digit of the same-input matrix.
    pub matrix_first: usize,
    /// Rows (test digits) of the same-input matrix.
    pub matrix_rows: usize,
    /// Show |x − x̂| instead of x̂ in the same-input matrix.
    pub heatmap: bool,
    /// Compare or focus layout.
    pub layout: Layout,
    /// The compare layout's lower tab.
    pub compare_tab: CompareTab,
    /// Light, dark, or the system's theme.
    pub theme: egui::ThemePreference,
    /// The exploring tabs.
    pub explore: ExploreSettings,
    /// The metrics table shows a followed sweep's configurations as one row each (mean ± sd
    /// over seeds, and n) instead of one row per run.
    pub group_seeds: bool,
    /// The overlaid curves show a followed sweep's configurations as their runs' mean in a
    /// band of ± one sd instead of one curve per run.
    pub seed_bands: bool,
    /// The help overlay (shortcuts) is open (not persisted).
    #[serde(skip)]
    pub show_help: bool,
    /// The focused run's variant card is open (not persisted).
    #[serde(skip)]
    pub show_about: bool,
}

impl Default for ViewSettings {
    fn default() -> Self {
        Self {
            colormap: Colormap::Gray,
            grid_size: 15,
            grid_spacing: Spacing::InverseCdf,
            grid_range: 2.5,
            grid_axes: GridAxes::Principal,
            grid_dims: [0, 1],
            smoothing: 0.9,
            log_scale: false,
            curve_term: CurveTerm::Loss,
            curve_x: CurveX::Epoch,
            recon_count: 12,
            matrix_first: 0,
            matrix_rows: 8,
            heatmap: false,
            layout: Layout::Compare,
            compare_tab: CompareTab::Latents,
            theme: egui::ThemePreference::System,
            explore: ExploreSettings::default(),
            group_seeds: true,
            seed_bands: true,
            show_help: false,
            show_about: false,
        }
    }
}

/// The settings of the next run ("New run" and the preset start from it); persisted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunDraft {
    /// The run itself (the same type the CLI's `train` parses).
    pub spec: RunSpec,
    /// Directory of MNIST-format files to train on; empty for the bundled digits.
    pub data_dir: String,
    /// Where new runs train and every run decodes (applies when the app starts).
    pub device: DeviceChoice,
    /// How training runs share the CPU (applies when the app starts).
    pub sharing: SharingPolicy,
}

impl Default for RunDraft {
    fn default() -> Self {
        Self {
            spec: RunSpec {
                epochs: 50,
                ..RunSpec::default()
            },
            data_dir: String::new(),
            device: DeviceChoice::Auto,
            sharing: SharingPolicy::default(),
        }
    }
}

impl RunDraft {
    /// The draft as a run configuration file's contents (the format `train --config` reads
    /// and every run directory's `run.toml` holds). β stays unset when the draft leaves it to
    /// the variant.
    pub fn to_config(&self) -> RunConfig {
        let data = self.data_dir.trim();
        RunConfig {
            data: if data.is_empty() {
                BUNDLED.into()
            } else {
                data.into()
            },
            run: self.spec.clone(),
            ..RunConfig::default()
        }
    }

    /// Take a run configuration's data and run settings (device and sharing are the app's
    /// own). Returns what of it the app's draft cannot hold, to say so.
    pub fn set_config(&mut self, cfg: RunConfig) -> Vec<String> {
        let mut ignored = Vec::new();
        if let Some(k) = cfg.without_class {
            ignored.push(format!(
                "without_class = {k} (leaving a class out is a `train` option)"
            ));
        }
        self.data_dir = if cfg.data == BUNDLED {
            String::new()
        } else {
            cfg.data
        };
        self.spec = cfg.run;
        ignored
    }
}

/// One run of the saved workspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRun {
    /// A checkpoint (or PyTorch file) to open, or a run directory to follow.
    pub path: PathBuf,
    /// Follow `path` as a run directory instead of opening it.
    #[serde(default)]
    pub follow: bool,
}

/// Most runs a saved workspace reopens.
pub const MAX_SESSION_RUNS: usize = 32;

/// Most files remembered in the "Recent" list.
pub const MAX_RECENT: usize = 12;

/// The workspace: recent files and the rules for importing PyTorch files; persisted.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Workspace {
    /// Model files opened lately, newest first.
    pub recent: Vec<PathBuf>,
    /// `REGEX=NAME` rules renaming a PyTorch file's tensors, one per entry as typed (blank
    /// entries are skipped; none: the PyTorch examples' layout or our own names).
    pub key_map: Vec<String>,
    /// The runs open when the app last saved (reopened at the next start).
    pub session: Vec<SessionRun>,
}

impl Workspace {
    /// Put `path` first in the recent list.
    pub fn remember(&mut self, path: PathBuf) {
        self.recent.retain(|p| p != &path);
        self.recent.insert(0, path);
        self.recent.truncate(MAX_RECENT);
    }
}

/// Everything persisted, under eframe's app key.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Persisted {
    /// How views look.
    pub view: ViewSettings,
    /// The next run.
    pub draft: RunDraft,
    /// Recent files, import rules.
    pub workspace: Workspace,
}

/// Persisted settings that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("the saved settings are unreadable ({0}); starting from the defaults")]
pub struct SettingsError(String);

impl Persisted {
    /// Parse the settings eframe stored (RON) and bring every value into the range the app
    /// accepts for it ([`Persisted::sanitize`]): a hand-edited or corrupt file never sizes an
    /// allocation or a loop.
    pub fn from_ron(text: &str) -> Result<Self, SettingsError> {
        let mut p: Self = ron::from_str(text).map_err(|e| SettingsError(e.to_string()))?;
        p.sanitize();
        Ok(p)
    }

    /// Clamp every size and number to the range its control offers (the same bounds as the
    /// sliders); non-finite numbers and invalid modes fall back to the default. (The next
    /// run's hyperparameters are checked, with a message, when the run starts.)
    pub fn sanitize(&mut self) {
        let d = ViewSettings::default();
        let v = &mut self.view;
        v.grid_size = clamp_to(v.grid_size, &GRID_SIZE);
        v.grid_range = finite_in(v.grid_range, &GRID_RANGE, d.grid_range);
        v.smoothing = finite_in(v.smoothing, &SMOOTHING, d.smoothing);
        v.recon_count = clamp_to(v.recon_count, &RECON_COUNT);
        v.matrix_rows = clamp_to(v.matrix_rows, &MATRIX_ROWS);
        v.matrix_first = v.matrix_first.min(MAX_INDEX);
        for dim in v.grid_dims.iter_mut().chain(v.explore.map_dims.iter_mut()) {
            *dim = (*dim).min(crate::limits::MAX_LATENT - 1);
        }
        let e = &mut v.explore;
        let de = ExploreSettings::default();
        e.manifold_size = clamp_to(e.manifold_size, &MANIFOLD_SIZE);
        e.path_from = e.path_from.min(STATS_DIGITS - 1);
        e.path_to = e.path_to.min(STATS_DIGITS - 1);
        e.path_steps = clamp_to(e.path_steps, &PATH_STEPS);
        e.traversal_rows = clamp_to(e.traversal_rows, &TRAVERSAL_ROWS);
        e.traversal_steps = clamp_to(e.traversal_steps, &TRAVERSAL_STEPS);
        e.traversal_range = match e.traversal_range {
            RangeMode::PriorQuantile(q) => {
                RangeMode::PriorQuantile(finite_in(q, &TRAVERSAL_QUANTILE, 0.05))
            }
            RangeMode::PosteriorSigma(k) => {
                RangeMode::PosteriorSigma(finite_in(k, &TRAVERSAL_SIGMA, 2.0))
            }
            RangeMode::MinMax => RangeMode::MinMax,
        };
        e.anomaly_iwae_k = clamp_to(e.anomaly_iwae_k, &ANOMALY_IWAE_K);
        e.gap_k = clamp_to(e.gap_k, &GAP_K);
        e.fps = finite_in(e.fps, &FPS, de.fps);
        if let Shift::Noise(sigma) = &mut e.shift {
            *sigma = finite_in(*sigma, &SHIFT_NOISE, crate::data::shift::DEFAULT_NOISE);
        }
        e.brush = finite_in(e.brush, &BRUSH, de.brush);
        e.holes_components = clamp_to(e.holes_components, &HOLES_COMPONENTS);
        let w = &mut self.workspace;
        w.recent.truncate(MAX_RECENT);
        w.key_map.truncate(MAX_KEY_RULES);
        w.session.truncate(MAX_SESSION_RUNS);
    }
}

/// Largest test-image index a setting may hold (the view clamps it to the data).
pub const MAX_INDEX: usize = 1 << 24;
/// Most key-map rules kept.
pub const MAX_KEY_RULES: usize = 64;

/// `x` brought into `range`, or `default` when it is not finite.
fn finite_in(x: f32, range: &RangeInclusive<f32>, default: f32) -> f32 {
    if x.is_finite() {
        clamp_to(x, range)
    } else {
        default
    }
}
