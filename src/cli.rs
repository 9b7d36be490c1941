//! The command line: `app`, `train`, `eval`, `sample`, `reconstruct`, `traverse`,
//! `interpolate`, `anomaly`, `encode`, `import`, `bench`, `compare`, `variants`, `sweep`,
//! `completions` (and a hidden `man`; both from [`crate::cli_docs`]). A thin edge: runs are
//! described by the library's [`RunSpec`], saved through [`checkpoint::save_snapshot`], and
//! opened with [`model_file::open`], as in the app.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use burn::tensor::Device;
use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};

use crate::backend::BackendChoice;
use crate::bench::{self, BenchConfig};
use crate::checkpoint::CheckpointSink;
use crate::checkpoint::{self, CheckpointMeta, DatasetInfo};
use crate::cli_docs;
use crate::data::{Dataset, Opened, Shift, Source, shapes};
use crate::envelope::{self, Envelope, Protocol};
use crate::explore::{
    self, AnomalyQuery, CodeLabels, DimensionScore, PathKind, RangeMode, ScoredModel, host_vec,
};
use crate::export::{ExportFormat, export_grid, grid_image, looped, save_gif, save_png};
use crate::import::{ImportOptions, KeyMap};
use crate::limits;
use crate::model::{ArchConfig, vamp};
use crate::model_file::{self, Format};
use crate::rundir::RunDirWriter;
use crate::train::probe::DigitProbe;
use crate::train::run_config::{DEFAULT_FINAL_IWAE_K, DataError};
use crate::train::share::SharingPolicy;
use crate::train::{
    ArchKind, EpochReport, EvalMetrics, LoopError, OnNonFinite, Policy, RunConfig, RunSpec, Sink,
    SinkError, Stopped, TrainConfig, TrainError, TrainLoop, Trainer,
};
use crate::variant::VariantKind;

/// `println!` for the commands' output, through [`print_out`].
macro_rules! outln {
    () => {
        print_out(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        print_out(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!` for the commands' output, through [`print_out`].
macro_rules! out {
    ($($arg:tt)*) => {
        print_out(format_args!($($arg)*))
    };
}

/// Write a command's output to standard output. Once the reader has gone
/// (`latent-explorer bench | head -1`), the rest is dropped quietly and the command carries
/// on, so a run being trained still finishes and saves its checkpoint (`println!` panicked
/// with "Broken pipe"). Any other write error is reported once, on standard error.
fn print_out(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    use std::sync::atomic::{AtomicBool, Ordering};
    static STOPPED: AtomicBool = AtomicBool::new(false);
    if STOPPED.load(Ordering::Relaxed) {
        return;
    }
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args)
        && !STOPPED.swap(true, Ordering::Relaxed)
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        eprintln!("warning: standard output: {e}; the rest of the output is dropped");
    }
}

/// Print `data` of `schema`, measured as `protocol` says, as one line of JSON: what every
/// `--json` prints ([`crate::envelope`]).
fn print_json<T: serde::Serialize>(
    schema: envelope::Schema,
    protocol: Protocol,
    data: T,
) -> Result<()> {
    let line = Envelope::new(schema, protocol, data)
        .line()
        .context("writing the JSON output")?;
    outln!("{line}");
    Ok(())
}

/// Train and explore variational autoencoders.
#[derive(Debug, Parser)]
#[command(name = "latent-explorer", version, about, long_about = None)]
pub struct Cli {
    /// What to do; with none, print help.
    #[command(subcommand)]
    pub command: Option<Commands>,
}

/// Subcommands.
// Parsed once per process: `train`'s run spec making it larger than the others costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Commands {
    /// Open the desktop app (the default with no subcommand).
    App(AppArgs),
    /// Train a VAE variant and save a checkpoint.
    Train(TrainArgs),
    /// Evaluate a checkpoint on the test split.
    Eval(EvalArgs),
    /// Decode samples from the prior into a PNG grid.
    Sample(SampleArgs),
    /// Reconstruct test images into a PNG (originals above reconstructions).
    Reconstruct(ReconstructArgs),
    /// The training images nearest a decoded image, in pixel space and in latent space.
    Nearest(NearestArgs),
    /// Sweep latent dimensions (the most informative first) into a PNG grid or a GIF.
    Traverse(TraverseArgs),
    /// Decode a path between two test images' codes into a PNG strip or a GIF.
    Interpolate(InterpolateArgs),
    /// Score test images and a shifted set (−ELBO, −IWAE or a VQ-VAE's reconstruction
    /// term); print the AUROC.
    Anomaly(AnomalyArgs),
    /// Write every image's posterior mean and log-variance as CSV.
    Encode(EncodeArgs),
    /// Fit model A's codes of the test images onto model B's by orthogonal Procrustes; print
    /// the fit (relative residual, |correlation| of dimensions, canonical correlations).
    Align(AlignArgs),
    /// Convert a PyTorch model (state dict or safetensors) into a checkpoint.
    Import(ImportCmdArgs),
    /// Time training throughput and decode latency.
    Bench(BenchArgs),
    /// Train several variants on the same data, seed and budget; print one table.
    Compare(CompareArgs),
    /// What each variant optimises, its paper, and what to look for in the app.
    Variants(VariantsArgs),
    /// Plan, run and check a grid of runs: here, or as an array job on Slurm.
    Sweep(SweepArgs),
    /// Write a run directory's metrics as CSV or TensorBoard event files.
    ExportMetrics(ExportMetricsArgs),
    /// Print the shell completion script for SHELL (the guide's installation page says
    /// where each shell looks for it).
    Completions {
        /// The shell to complete in.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), or write one page per command into DIR.
    #[command(hide = true)]
    Man {
        /// Write latent-explorer.1 and latent-explorer-COMMAND.1 for each command here
        /// instead of printing latent-explorer.1.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Write the user guide's generated pages (the command-line reference, the variants'
    /// cards) into DIR.
    #[command(hide = true)]
    Reference {
        /// The guide's reference folder, `docs/src/reference`.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
}

/// `export-metrics` options.
#[derive(Debug, Clone, Args)]
pub struct ExportMetricsArgs {
    /// The run directory (`train --run-dir`, a sweep's `runs/NAME`).
    pub run_dir: PathBuf,
    /// `csv`: one table, a row per step and per epoch; `tensorboard`: an event file
    /// (`tensorboard --logdir DIR`).
    #[arg(long, value_enum, default_value = "csv")]
    pub format: crate::metrics_out::MetricsFormat,
    /// The CSV file, or the directory of the event file (default: `RUN_DIR/metrics.csv`,
    /// `RUN_DIR/tensorboard/`).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// `variants` options.
#[derive(Debug, Clone, Args)]
pub struct VariantsArgs {
    /// Only these variants (default: all).
    #[arg(value_enum)]
    pub variants: Vec<VariantKind>,
}

/// `sweep` subcommands.
#[derive(Debug, Clone, Args)]
pub struct SweepArgs {
    /// What to do with the sweep.
    #[command(subcommand)]
    pub command: SweepCommand,
}

/// What `sweep` does.
#[derive(Debug, Clone, Subcommand)]
pub enum SweepCommand {
    /// Expand a sweep file (a `[base]` run configuration, `[axes]` of values, `[[exclude]]` and
    /// `[[include]]` entries) into DIR/runs/NAME/run.toml, and print the runs.
    Plan {
        /// The sweep file (TOML; see examples/sweep-small.toml).
        spec: PathBuf,
        /// The sweep directory to make (new or empty; planning the same sweep again is a
        /// no-op, another sweep is refused).
        #[arg(long)]
        out: PathBuf,
        /// Check the sweep and print its runs; write nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Bring every run of a planned sweep to its end: child processes here (`--launcher
    /// local`) or an array job (`--launcher slurm`). Done runs are skipped, stopped ones
    /// resume exactly.
    Run(SweepRunArgs),
    /// Where each run of a sweep stands (and, for a submitted sweep, what Slurm's queue says).
    Status {
        /// The sweep directory.
        dir: PathBuf,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Bring run INDEX of a sweep to its end (what every launcher runs, a Slurm array task
    /// included): nothing when done, a resume when stopped, else training from its run.toml.
    #[command(hide = true)]
    Task {
        /// The sweep directory.
        dir: PathBuf,
        /// The run's index in the plan (a Slurm array task's id).
        index: usize,
        /// Compute backend.
        #[arg(long, value_enum, default_value_t = BackendChoice::Cpu)]
        backend: BackendChoice,
    },
}

/// Where a sweep runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Launcher {
    /// Child processes on this machine.
    Local,
    /// A Slurm array job (`sbatch`).
    Slurm,
}

/// `sweep run` options.
#[derive(Debug, Clone, Args)]
pub struct SweepRunArgs {
    /// The sweep directory (`sweep plan` made it).
    pub dir: PathBuf,
    /// Where the runs train.
    #[arg(long, value_enum)]
    pub launcher: Launcher,
    /// Local: runs at a time (default: one per two cores, as each run splits its batches
    /// over two lanes).
    #[arg(long, value_parser = size_arg(1, 1024))]
    pub jobs: Option<usize>,
    /// Compute backend of every run (`wgpu` on GPU nodes).
    #[arg(long, value_enum, default_value_t = BackendChoice::Cpu)]
    pub backend: BackendChoice,
    /// Slurm: the partition.
    #[arg(long)]
    pub partition: Option<String>,
    /// Slurm: at most this many tasks at once.
    #[arg(long, value_parser = size_arg(1, 100_000))]
    pub max_parallel: Option<usize>,
    /// Slurm: each task's time limit (Slurm's format, e.g. 30, 2:00:00, 1-0).
    #[arg(long)]
    pub time: Option<String>,
    /// Slurm: CPUs per task.
    #[arg(long, default_value_t = 2, value_parser = size_arg(1, 1024))]
    pub cpus_per_task: usize,
    /// Slurm: a further #SBATCH option, as sbatch takes it (repeatable), e.g. --sbatch-arg=--mem=4G.
    #[arg(long = "sbatch-arg", value_name = "ARG", allow_hyphen_values = true)]
    pub sbatch_arg: Vec<String>,
}

/// `compare` options.
#[derive(Debug, Clone, Args)]
pub struct CompareArgs {
    /// The table of a sweep directory's runs (finished or running), without training: each
    /// configuration's figures as mean ± sd over its seeds. The other training options do
    /// not apply.
    #[arg(long, value_name = "DIR")]
    pub from: Option<PathBuf>,
    /// With --from: print CSV (a row per configuration; per figure its mean, sd and n).
    #[arg(long, requires = "from", conflicts_with = "json")]
    pub csv: bool,
    /// A fixed set-up: `disentangle` (data with known factors, `--data shapes…`) compares
    /// the VAE, β-VAE, β-TCVAE and FactorVAE with 10 latents over 3 seeds for the measured
    /// budget, without IWAE, and prints the median MIG and FactorVAE score with their range
    /// and whether each variant's median MIG is above the VAE's. Flags given beside it
    /// override its settings.
    #[arg(long, value_enum, conflicts_with = "from")]
    pub protocol: Option<crate::compare::CompareProtocol>,
    /// Variants, comma-separated (default: all; the protocol's under --protocol).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub variants: Vec<VariantKind>,
    /// Epochs each (default: 10; the protocol's budget under --protocol).
    #[arg(long, value_parser = size_arg(1, limits::MAX_EPOCHS))]
    pub epochs: Option<usize>,
    /// Batch size.
    #[arg(long, default_value_t = 128, value_parser = size_arg(1, limits::MAX_BATCH))]
    pub batch: usize,
    /// Latent dimensions (default: 20; 10 under --protocol disentangle).
    #[arg(long, value_parser = size_arg(1, limits::MAX_LATENT))]
    pub latent: Option<usize>,
    /// Seed (the same for every variant).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Repeat with seeds SEED, SEED+1, …: the table then gives mean ± sd over them
    /// (default: 1; 3 under --protocol disentangle).
    #[arg(long, value_parser = size_arg(1, 100))]
    pub seeds: Option<usize>,
    /// Importance samples for the IWAE NLL where the bound is defined (0: skip; default:
    /// 500; 0 under --protocol disentangle).
    #[arg(long, value_parser = size_arg(0, limits::MAX_IWAE_K))]
    pub iwae_k: Option<usize>,
    /// Binarize the pixels as `train --binarize` does (`static`, `dynamic`; default none):
    /// the literature's MNIST protocol.
    #[arg(long, value_enum, default_value_t = crate::data::Binarize::None)]
    pub binarize: crate::data::Binarize,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Skip scoring samples with the class probe (a classifier of 28×28 grey images of ten
    /// classes: MNIST's digits; other data are never probed).
    #[arg(long)]
    pub no_probe: bool,
    /// Data and backend.
    #[command(flatten)]
    pub data: DataArgs,
}

/// Where data and compute come from.
#[derive(Debug, Clone, Args)]
pub struct DataArgs {
    /// Directory with the four MNIST-format files (raw or .gz); or a folder of PNG/JPEG
    /// images, colour or grey, any size, `DIR` or `DIR@SIDE` (centre-cropped and resized to
    /// SIDE, 32 by default; labels from sub-folder names; 20% test, split by a hash of each
    /// path); or `shapes[:SIDE]`: procedural shapes with known factors (3 shapes × 6 scales ×
    /// 10 orientations × 8 × 8 positions, SIDE 32 by default), `shapes:SIDE:full` for
    /// dSprites' whole grid (737,280 images; `shapes:64:full` is dSprites). Default: the
    /// bundled MNIST subset.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Compute backend.
    #[arg(long, value_enum, default_value_t = BackendChoice::Cpu)]
    pub backend: BackendChoice,
}

impl DataArgs {
    /// The data (with its factors of variation, for the shapes set) and the device.
    fn load(&self) -> Result<(Arc<Dataset>, Device)> {
        let spec = RunConfig {
            data: self
                .data
                .as_ref()
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default(),
            ..RunConfig::default()
        };
        let opened = open_data(&spec)?;
        let device = self
            .backend
            .device()
            .context("creating the compute device")?;
        Ok((Arc::new(opened.data), device))
    }
}

/// Open the data a run configuration names ([`RunConfig::open_data`]), with a progress bar
/// while an image folder is decoded; skipped files are counted on stderr.
fn open_data(cfg: &RunConfig) -> Result<Opened> {
    let bar = ProgressBar::hidden();
    if matches!(Source::parse(&cfg.data), Ok(Source::Folder(_))) {
        bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("reading images {bar:30} {pos}/{len} ({eta} left)")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
    }
    let progress = |done: usize, total: usize| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    };
    // Named as the command line names them (a configuration file's keys are the same).
    let opened = cfg.open_data(&progress).map_err(|e| match e {
        DataError::Spec { spec, why } => anyhow::anyhow!("--data {spec}: {why}"),
        DataError::Open { source, .. } => anyhow::Error::new(source).context("loading the dataset"),
        DataError::HeldOut { class, source } => {
            anyhow::Error::new(source).context(format!("--without-class {class}"))
        }
    });
    bar.finish_and_clear();
    let opened = opened?;
    if opened.skipped.total() > 0 {
        eprintln!("{}: {}", opened.data.name, opened.skipped.describe());
    }
    Ok(opened)
}

/// `train` options.
#[derive(Debug, Clone, Args)]
pub struct TrainArgs {
    /// Train the run a configuration file describes (`run.toml` of a run directory, or what
    /// `--print-config` prints); flags given beside it override its keys, and say so.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Print the resolved run configuration (TOML) and exit without training.
    #[arg(long, conflicts_with = "json")]
    pub print_config: bool,
    /// Go on with a stopped run exactly where it stopped: a run directory (from its
    /// resume.safetensors) or a checkpoint that carries its training state; it trains until
    /// --epochs epochs in all (default: the run's own).
    #[arg(long, value_name = "PATH", conflicts_with = "config")]
    pub resume: Option<PathBuf>,
    /// The run: variant, architecture, optimiser, schedule, seed, epochs.
    #[command(flatten)]
    pub spec: RunSpec,
    /// Importance samples for the final IWAE NLL estimate (0: skip).
    #[arg(long, default_value_t = DEFAULT_FINAL_IWAE_K, value_parser = size_arg(0, limits::MAX_IWAE_K))]
    pub final_iwae_k: usize,
    /// Checkpoint file, rewritten atomically after every epoch (default
    /// checkpoints/vae.safetensors; with --run-dir, only if given).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Run directory: a checkpoint per epoch and the metrics as JSON lines, which the app
    /// follows live (`latent-explorer app --follow DIR`), here or through a shared folder.
    #[arg(long)]
    pub run_dir: Option<PathBuf>,
    /// Print a line of JSON per epoch, then one for the final evaluation, instead of a
    /// table (each line one envelope: schema, version, command, protocol, data).
    #[arg(long)]
    pub json: bool,
    /// Leave every training image of class K out (the test split stays whole), so that
    /// `anomaly --shift class:K` measures how unusual an unseen class looks. The checkpoint
    /// records it.
    #[arg(long, value_name = "K")]
    pub without_class: Option<u8>,
    /// Data and backend.
    #[command(flatten)]
    pub data: DataArgs,
}

impl TrainArgs {
    /// The checkpoint file to rewrite after every epoch, if any.
    pub fn out_path(&self) -> Option<PathBuf> {
        match (&self.out, &self.run_dir) {
            (Some(p), _) => Some(p.clone()),
            (None, Some(_)) => None,
            (None, None) => Some(PathBuf::from("checkpoints/vae.safetensors")),
        }
    }
}

/// How a PyTorch file's tensors are named and shaped (`eval`, `sample`, `reconstruct`,
/// `import`, `app`).
#[derive(Debug, Clone, Args, Default)]
pub struct ImportArgs {
    /// Rename a PyTorch file's tensors to ours: REGEX=NAME (whole-key match, `$1` groups;
    /// an empty NAME drops the tensor); repeatable, first match wins. Not needed for the
    /// PyTorch examples' VAE (fc1, fc21, fc22, fc3, fc4).
    #[arg(long = "map", value_name = "REGEX=NAME")]
    pub map: Vec<String>,
    /// Image size HxW of a PyTorch model whose input is not a square image.
    #[arg(long, value_parser = parse_image_size)]
    pub image_size: Option<(usize, usize)>,
}

fn parse_image_size(s: &str) -> std::result::Result<(usize, usize), String> {
    let (h, w) = s
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("{s:?}: expected HxW, e.g. 28x28"))?;
    let p = |v: &str| {
        v.trim()
            .parse::<usize>()
            .ok()
            .filter(|&n| (1..=limits::MAX_IMAGE_SIDE).contains(&n))
            .ok_or_else(|| {
                format!(
                    "{s:?}: sides must be whole numbers in 1..={}",
                    limits::MAX_IMAGE_SIDE
                )
            })
    };
    Ok((p(h)?, p(w)?))
}

impl ImportArgs {
    /// The import options these arguments describe.
    pub fn options(&self) -> Result<ImportOptions> {
        let map = if self.map.is_empty() {
            None
        } else {
            Some(KeyMap::parse(&self.map)?)
        };
        Ok(ImportOptions {
            map,
            image_size: self.image_size,
        })
    }
}

/// `import` options.
#[derive(Debug, Clone, Args)]
pub struct ImportCmdArgs {
    /// A PyTorch state dict (`.pt`/`.pth`) or a safetensors file written from PyTorch.
    pub model: PathBuf,
    /// Where to write our checkpoint (written atomically).
    #[arg(long)]
    pub out: PathBuf,
    /// Key map and image size.
    #[command(flatten)]
    pub import: ImportArgs,
}

/// `app` options.
#[derive(Debug, Clone, Args, Default)]
pub struct AppArgs {
    /// Model files to open as runs: our checkpoints, PyTorch state dicts (`.pt`/`.pth`),
    /// safetensors written from PyTorch. With none (and no --follow or --preset), a run
    /// starts training from the saved settings.
    pub files: Vec<PathBuf>,
    /// Follow a run directory that `latent-explorer train --run-dir DIR` is writing, or every
    /// run of a sweep directory (`sweep plan … --out DIR`) grouped by configuration
    /// (repeatable).
    #[arg(long, value_name = "DIR")]
    pub follow: Vec<PathBuf>,
    /// Start the preset: VAE, β-VAE, IWAE and WAE-MMD training on the same data and seed.
    #[arg(long)]
    pub preset: bool,
    /// Start a run of this variant from the saved settings (repeatable).
    #[arg(long = "train", value_enum, value_name = "VARIANT")]
    pub train: Vec<VariantKind>,
    /// Epochs for the runs this start trains (it becomes the draft's epochs field; with
    /// --measure, enough of them keep a run training through the whole measurement).
    #[arg(long, value_name = "N", value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub epochs: Option<usize>,
    /// Where to train and decode (default: the saved setting, initially auto).
    #[arg(long, value_enum)]
    pub device: Option<DeviceArg>,
    /// How training runs share the CPU with each other and the window (default: the saved
    /// setting, initially low-priority: training threads yield to the window).
    #[arg(long, value_enum)]
    pub sharing: Option<SharingPolicy>,
    /// Measure instead of exploring: after a 10 s warm-up, record this many seconds of a
    /// user watching (no input), then as many of a user dragging a latent slider (a frame
    /// requested continuously, the slider moved every 10 frames); print frame times,
    /// slider latency and every run's training speed for both as JSON, and close.
    #[arg(long)]
    pub measure: Option<f64>,
    /// Open on this tab of the compare layout (with --measure: measure it).
    #[arg(long, value_enum)]
    pub tab: Option<crate::ui::settings::CompareTab>,
    /// Start with "Aligned" on: every run's codes fitted onto the focused run's, maps in
    /// its frame, lock-step sliders along its directions (with --measure: measure that).
    #[arg(long)]
    pub aligned: bool,
    /// The dataset, as `train --data` takes it (an MNIST-format directory, an image folder
    /// `DIR[@SIDE]`, `shapes[:SIDE]`); it becomes the draft's dataset field.
    #[arg(long, value_name = "DATA")]
    pub data: Option<String>,
    /// Start with an attribute direction, as `traverse --direction` takes it (`A/B`, each
    /// set `label:K` or test indices; `@FILE`): the latents tab's "along A − B" slider
    /// moves every run's point along its own direction.
    #[arg(long, value_name = "A/B")]
    pub direction: Option<String>,
    /// With --direction: how far along it the cursor starts (default 1).
    #[arg(
        long,
        value_name = "T",
        requires = "direction",
        allow_negative_numbers = true
    )]
    pub along: Option<f32>,
    /// The window's size in points, WIDTHxHEIGHT (e.g. for screenshots under Xvfb at
    /// another screen size).
    #[arg(long, value_name = "WxH", default_value = "1600x1000", value_parser = parse_window_size)]
    pub window_size: [f32; 2],
    /// Key map and image size for PyTorch files.
    #[command(flatten)]
    pub import: ImportArgs,
}

/// A window size `WIDTHxHEIGHT` in points, each from 200 to 16384 (`app --window-size`).
pub fn parse_window_size(s: &str) -> Result<[f32; 2], String> {
    let bad = || format!("'{s}' is not WIDTHxHEIGHT in points, e.g. 1600x1000 (each 200 to 16384)");
    let (w, h) = s.split_once(['x', 'X']).ok_or_else(bad)?;
    let side = |v: &str| {
        v.trim()
            .parse::<u32>()
            .ok()
            .filter(|n| (200..=16384).contains(n))
            .map(|n| n as f32)
            .ok_or_else(bad)
    };
    Ok([side(w)?, side(h)?])
}

/// Device choice on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DeviceArg {
    /// GPU if the adapter is a real GPU, else CPU.
    Auto,
    /// The shared wgpu device.
    Gpu,
    /// burn's CPU backend.
    Cpu,
}

/// `eval` options.
#[derive(Debug, Clone, Args)]
pub struct EvalArgs {
    /// Checkpoint file, or a PyTorch model (state dict or safetensors).
    pub checkpoint: PathBuf,
    /// Key map and image size for PyTorch files.
    #[command(flatten)]
    pub import: ImportArgs,
    /// Importance samples for the IWAE NLL estimate (0: skip).
    #[arg(long, default_value_t = 500, value_parser = size_arg(0, limits::MAX_IWAE_K))]
    pub iwae_k: usize,
    /// Also classify the test images by k nearest neighbours among the codes (posterior
    /// means) of this many labelled training images, balanced across classes and chosen
    /// with the run's seed as an M2 run with `--labelled N` chooses them.
    #[arg(long, value_parser = size_arg(1, limits::MAX_GRID_IMAGES * 100))]
    pub knn_labels: Option<usize>,
    /// Neighbours that vote in the `--knn-labels` classifier.
    #[arg(long, default_value_t = 1, value_parser = size_arg(1, 1000))]
    pub knn_k: usize,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Data and backend.
    #[command(flatten)]
    pub data: DataArgs,
}

/// `sample` options.
#[derive(Debug, Clone, Args)]
pub struct SampleArgs {
    /// Checkpoint file, or a PyTorch model (state dict or safetensors).
    pub checkpoint: PathBuf,
    /// Key map and image size for PyTorch files.
    #[command(flatten)]
    pub import: ImportArgs,
    /// Output PNG.
    #[arg(long)]
    pub out: PathBuf,
    /// Samples (drawn as a square-ish grid).
    #[arg(long, default_value_t = 64, value_parser = size_arg(1, limits::MAX_GRID_IMAGES))]
    pub n: usize,
    /// Seed for z ~ N(0, I) (and for the mixture's fit and draws).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Compute backend.
    #[arg(long, value_enum, default_value_t = BackendChoice::Cpu)]
    pub backend: BackendChoice,
    /// Where z comes from: the prior N(0, I), or the ex-post sampler (a Gaussian mixture
    /// with diagonal covariances fitted by EM to the training split's codes).
    #[arg(long, value_enum, default_value_t = Sampler::Prior)]
    pub sampler: Sampler,
    /// The ex-post mixture's components (`--sampler gmm`).
    #[arg(long, default_value_t = explore::GMM_COMPONENTS,
          value_parser = size_arg(1, explore::MAX_GMM_COMPONENTS))]
    pub components: usize,
    /// The data whose training split the mixture is fitted to (`--sampler gmm`; as
    /// `train --data`; default: the bundled MNIST subset).
    #[arg(long)]
    pub data: Option<PathBuf>,
}

/// Where `sample` draws z from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Sampler {
    /// z ~ the model's prior: N(0, I), or a VampPrior model's mixture (a pseudo-input
    /// picked uniformly, then a draw of its posterior).
    Prior,
    /// A Gaussian mixture fitted to the training codes (ex-post density estimation).
    Gmm,
}

/// `nearest` options.
#[derive(Debug, Clone, Args)]
pub struct NearestArgs {
    /// Checkpoint file, or a PyTorch model (state dict or safetensors).
    pub checkpoint: PathBuf,
    /// Key map and image size for PyTorch files.
    #[command(flatten)]
    pub import: ImportArgs,
    /// The latent vector whose decode is looked up, comma-separated (one value per latent
    /// dimension), e.g. the app's slider values.
    #[arg(
        long,
        value_delimiter = ',',
        allow_hyphen_values = true,
        num_args = 1,
        required_unless_present = "test",
        conflicts_with = "test"
    )]
    pub z: Vec<f32>,
    /// Or a test image: its posterior mean is z, its reconstruction the decoded image.
    #[arg(long)]
    pub test: Option<usize>,
    /// Neighbours listed in each space.
    #[arg(long, default_value_t = 5, value_parser = size_arg(1, 100))]
    pub k: usize,
    /// Data and backend.
    #[command(flatten)]
    pub data: DataArgs,
}

/// `reconstruct` options.
#[derive(Debug, Clone, Args)]
pub struct ReconstructArgs {
    /// Checkpoint file, or a PyTorch model (state dict or safetensors).
    pub checkpoint: PathBuf,
    /// Key map and image size for PyTorch files.
    #[command(flatten)]
    pub import: ImportArgs,
    /// Output PNG.
    #[arg(long)]
    pub out: PathBuf,
    /// Test images to reconstruct.
    #[arg(long, default_value_t = 16, value_parser = size_arg(1, limits::MAX_GRID_IMAGES))]
    pub n: usize,
    /// Data and backend.
    #[command(flatten)]
    pub data: DataArgs,
}

/// The most values along one traversal or interpolation.
pub const MAX_STEPS: u64 = 64;

/// The most dimensions one traversal shows.
pub const MAX_DIMS: u64 = 64;

/// The most images `anomaly --top` lists.
pub const MAX_TOP: u64 = 1000;

/// A size argument within `min..=max` (the bounds from [`crate::limits`]): clap's message
/// names the argument, the value and the range.
fn size_arg(min: usize, max: usize) -> clap::builder::RangedU64ValueParser<usize> {
    clap::builder::RangedU64ValueParser::<usize>::new().range(min as u64..=max as u64)
}

fn steps_parser() -> clap::builder::RangedU64ValueParser<usize> {
    clap::builder::RangedU64ValueParser::<usize>::new().range(2..=MAX_STEPS)
}

fn delay_parser() -> clap::builder::RangedU64ValueParser<u32> {
    clap::builder::RangedU64ValueParser::<u32>::new().range(10..=10_000)
}

/// `traverse` options.
#[derive(Debug, Clone, Args)]
pub struct TraverseArgs {
    /// Checkpoint file, or a PyTorch model (state dict or safetensors).
    pub checkpoint: PathBuf,
    /// Key map and image size for PyTorch files.
    #[command(flatten)]
    pub import: ImportArgs,
    /// Output: `.png` for the still grid (a row per dimension, a column per value) or `.gif`
    /// for the animation (frame f shows every dimension's f-th value, forth and back).
    #[arg(long)]
    pub out: PathBuf,
    /// How far each dimension is swept: `quantile[:Q]` (the prior's Φ⁻¹(Q)…Φ⁻¹(1−Q), Q in
    /// (0, 0.5), default 0.05), `sigma[:K]` (the encoded test means' mean ± K standard
    /// deviations per dimension, default 2) or minmax (their minimum to maximum).
    #[arg(long, value_parser = RangeMode::parse, default_value = "quantile:0.05")]
    pub range: RangeMode,
    /// Values per dimension (2–64).
    #[arg(long, default_value_t = 9, value_parser = steps_parser())]
    pub steps: usize,
    /// Show the N dimensions with the largest mean KL on the test set (1–64; default: all,
    /// at most 10).
    #[arg(long, value_name = "N", value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=MAX_DIMS))]
    pub dims: Option<usize>,
    /// Start from test image I's posterior mean (default: the zero vector, the prior's mean).
    #[arg(long, value_name = "I")]
    pub digit: Option<usize>,
    /// Also write each of the `--steps` frames as a PNG into this directory
    /// (frame-00.png, …).
    #[arg(long, value_name = "DIR")]
    pub frames: Option<PathBuf>,
    /// GIF frame delay in milliseconds (10–10000).
    #[arg(long, default_value_t = crate::export::GIF_DELAY_MS, value_parser = delay_parser())]
    pub delay_ms: u32,
    /// Traverse one attribute direction instead of the dimensions: `A/B` points from set
    /// B's mean code to set A's, each set `label:K` (the test images of label K) or test
    /// indices such as `3,17,40-50`; `@FILE` reads that text from a file (the app's map
    /// copies it for its A and B selections). One row of `--steps` images.
    #[arg(long, value_name = "A/B", conflicts_with_all = ["dims", "range"])]
    pub direction: Option<String>,
    /// With --direction: the amounts t of the direction added, `LO:HI` (default 0:1: from
    /// B's mean code to A's; with --digit, from that image's code to it plus A − B).
    #[arg(long, value_name = "LO:HI", requires = "direction", value_parser = amount_range)]
    pub along: Option<(f32, f32)>,
    /// Data and backend.
    #[command(flatten)]
    pub data: DataArgs,
}

/// Parse `--along LO:HI` (finite, LO ≠ HI).
fn amount_range(s: &str) -> Result<(f32, f32), String> {
    let (lo, hi) = s
        .split_once(':')
        .ok_or_else(|| format!("'{s}' is not LO:HI (e.g. 0:1 or -1:2)"))?;
    let num = |t: &str| {
        t.trim()
            .parse::<f32>()
            .ok()
            .filter(|v| v.is_finite() && v.abs() <= 1e3)
            .ok_or_else(|| format!("'{t}' is not a number in -1000..=1000"))
    };
    let (lo, hi) = (num(lo)?, num(hi)?);
    if lo == hi {
        return Err(format!("'{s}': LO and HI are equal"));
    }
    Ok((lo, hi))
}

/// `interpolate` options.
#[derive(Debug, Clone, Args)]
pub struct InterpolateArgs {
    /// Checkpoint file, or a PyTorch model (state dict or safetensors).
    pub checkpoint: PathBuf,
    /// Key map and image size for PyTorch files.
    #[command(flatten)]
    pub import: ImportArgs,
    /// The test image the path starts from (its posterior mean).
    #[arg(long, value_name = "I")]
    pub from: usize,
    /// The test image the path ends at.
    #[arg(long, value_name = "J")]
    pub to: usize,
    /// Spherical interpolation (slerp) instead of a straight line.
    #[arg(long)]
    pub slerp: bool,
    /// Codes along the path, both ends included (2–64).
    #[arg(long, default_value_t = 10, value_parser = steps_parser())]
    pub steps: usize,
    /// Output: `.png` for a strip (original I, the decoded path, original J) or `.gif` for
    /// an animation (each frame: original I, one decoded code, original J; forth and back).
    #[arg(long)]
    pub out: PathBuf,
    /// GIF frame delay in milliseconds (10–10000).
    #[arg(long, default_value_t = crate::export::GIF_DELAY_MS, value_parser = delay_parser())]
    pub delay_ms: u32,
    /// Data and backend.
    #[command(flatten)]
    pub data: DataArgs,
}

fn parse_shift(s: &str) -> std::result::Result<Shift, String> {
    s.parse()
}

/// `anomaly` options.
#[derive(Debug, Clone, Args)]
pub struct AnomalyArgs {
    /// Checkpoint file, or a PyTorch model (state dict or safetensors).
    pub checkpoint: PathBuf,
    /// Key map and image size for PyTorch files.
    #[command(flatten)]
    pub import: ImportArgs,
    /// The shifted set: invert, rotate, `noise[:SIGMA]` (default σ 0.3) or class:K (the test
    /// images of class K against the others). Default: class:K for a checkpoint trained
    /// `--without-class K`, else invert.
    #[arg(long, value_parser = parse_shift)]
    pub shift: Option<Shift>,
    /// Score by the −IWAE bound with K importance samples (0: −ELBO averaged over 8
    /// samples; at most 10000).
    #[arg(long, default_value_t = 0, value_parser = size_arg(0, limits::MAX_IWAE_K))]
    pub iwae_k: usize,
    /// List the N most anomalous and the N most typical test images (1–1000).
    #[arg(long, default_value_t = 10, value_name = "N", value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=MAX_TOP))]
    pub top: usize,
    /// Seed for the samples of z.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Print one line of JSON (an envelope: schema, version, command, protocol, data).
    #[arg(long)]
    pub json: bool,
    /// Data and backend.
    #[command(flatten)]
    pub data: DataArgs,
}

/// Which split `encode` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SplitArg {
    /// The test split.
    Test,
    /// The training split.
    Train,
}

/// `encode` options.
#[derive(Debug, Clone, Args)]
pub struct EncodeArgs {
    /// Checkpoint file, or a PyTorch model (state dict or safetensors).
    pub checkpoint: PathBuf,
    /// Key map and image size for PyTorch files.
    #[command(flatten)]
    pub import: ImportArgs,
    /// CSV file (written atomically): `index,label,mu_0,…,logvar_0,…` with a header line.
    #[arg(long)]
    pub out: PathBuf,
    /// Which split to encode.
    #[arg(long, value_enum, default_value_t = SplitArg::Test)]
    pub split: SplitArg,
    /// Data and backend.
    #[command(flatten)]
    pub data: DataArgs,
}

/// `align` options.
#[derive(Debug, Clone, Args)]
pub struct AlignArgs {
    /// Model A (the one mapped): a checkpoint file or a PyTorch model.
    pub a: PathBuf,
    /// Model B (the reference frame): a checkpoint file or a PyTorch model.
    pub b: PathBuf,
    /// Key map and image size for PyTorch files (both models).
    #[command(flatten)]
    pub import: ImportArgs,
    /// Test images whose codes (posterior means) are fitted, the first ones of the split
    /// (0: all).
    #[arg(long, default_value_t = 0)]
    pub images: usize,
    /// Print one line of JSON (an envelope: schema, version, command, protocol, data).
    #[arg(long)]
    pub json: bool,
    /// Data and backend.
    #[command(flatten)]
    pub data: DataArgs,
}

/// `bench` options.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Compute backend.
    #[arg(long, value_enum, default_value_t = BackendChoice::Cpu)]
    pub backend: BackendChoice,
    /// CPU threads for the CPU backend (0: all cores).
    #[arg(long, default_value_t = 2, value_parser = size_arg(0, 1024))]
    pub threads: usize,
    /// Batch size.
    #[arg(long, default_value_t = 128, value_parser = size_arg(1, limits::MAX_BATCH))]
    pub batch: usize,
    /// Timed epochs over the training set.
    #[arg(long, default_value_t = 3, value_parser = size_arg(1, limits::MAX_EPOCHS))]
    pub epochs: usize,
    /// Architecture: the MLP VAE 784-400-20, or the convolutional one (32/64 channels,
    /// dense 256, latent 20).
    #[arg(long, value_enum, default_value_t = ArchKind::Mlp)]
    pub arch: ArchKind,
    /// Directory with MNIST-format files; default: the bundled subset.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// The most capable vector instructions the CPU kernels may use (default: the best
    /// this CPU has). AVX-512 and AVX2 give the same numbers; for measuring one against
    /// the other.
    #[arg(long, value_enum)]
    pub simd: Option<crate::cpu::simd::Simd>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Parse the process's arguments and run the CLI (clap's own errors and `--help` exit
/// here).
pub fn run_args() -> Result<()> {
    let matches = <Cli as clap::CommandFactory>::command().get_matches();
    let cli =
        <Cli as clap::FromArgMatches>::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    run(cli, &matches)
}

/// Run the CLI; `matches` are the parsed arguments `cli` came from (which flags were given
/// decides what overrides a configuration file).
pub fn run(cli: Cli, matches: &clap::ArgMatches) -> Result<()> {
    match cli.command {
        None => app(&AppArgs::default()),
        Some(Commands::App(a)) => app(&a),
        Some(Commands::Train(a)) => {
            let empty = clap::ArgMatches::default();
            train(&a, matches.subcommand_matches("train").unwrap_or(&empty))
        }
        Some(Commands::Eval(a)) => eval(&a),
        Some(Commands::Sample(a)) => sample(&a),
        Some(Commands::Reconstruct(a)) => reconstruct(&a),
        Some(Commands::Nearest(a)) => nearest_cmd(&a),
        Some(Commands::Traverse(a)) => traverse(&a),
        Some(Commands::Interpolate(a)) => interpolate(&a),
        Some(Commands::Anomaly(a)) => anomaly(&a),
        Some(Commands::Encode(a)) => encode(&a),
        Some(Commands::Align(a)) => align_cmd(&a),
        Some(Commands::Import(a)) => import_cmd(&a),
        Some(Commands::Bench(a)) => bench_cmd(&a),
        Some(Commands::Compare(a)) => compare_cmd(&a),
        Some(Commands::Sweep(a)) => sweep_cmd(&a),
        Some(Commands::ExportMetrics(a)) => export_metrics_cmd(&a),
        Some(Commands::Variants(a)) => {
            variants_cmd(&a);
            Ok(())
        }
        Some(Commands::Completions { shell }) => {
            let script = cli_docs::completions(<Cli as clap::CommandFactory>::command(), shell);
            out!("{}", String::from_utf8_lossy(&script));
            Ok(())
        }
        Some(Commands::Man { out }) => man_cmd(out.as_deref()),
        Some(Commands::Reference { out }) => {
            crate::paths::output_dir(&out).context("the reference folder")?;
            for path in cli_docs::write_reference(<Cli as clap::CommandFactory>::command(), &out)? {
                outln!("{}", path.display());
            }
            Ok(())
        }
    }
}

fn export_metrics_cmd(a: &ExportMetricsArgs) -> Result<()> {
    crate::paths::input_dir(&a.run_dir).context("the run directory")?;
    let (path, n) = crate::metrics_out::export(&a.run_dir, a.format, a.out.as_deref())
        .context("exporting the metrics")?;
    outln!("{n} values → {}", path.display());
    Ok(())
}

fn man_cmd(dir: Option<&Path>) -> Result<()> {
    let cmd = <Cli as clap::CommandFactory>::command();
    match dir {
        None => {
            let page = cli_docs::man_page(cmd)?;
            out!("{}", String::from_utf8_lossy(&page));
        }
        Some(dir) => {
            for path in cli_docs::write_man_pages(cmd, dir)? {
                outln!("{}", path.display());
            }
        }
    }
    Ok(())
}

fn variants_cmd(a: &VariantsArgs) {
    let list: &[VariantKind] = if a.variants.is_empty() {
        &VariantKind::ALL
    } else {
        &a.variants
    };
    for (i, v) in list.iter().enumerate() {
        let about = v.about();
        if i > 0 {
            outln!();
        }
        let flag = clap::ValueEnum::to_possible_value(v)
            .map(|p| format!(" (--variant {})", p.get_name()))
            .unwrap_or_default();
        outln!("{}{flag}", v.label());
        outln!("  {}", about.idea);
        outln!("  objective:");
        for line in about.objective.lines() {
            outln!("    {}", line.trim_start());
        }
        outln!("  paper: {}", about.paper);
        outln!("  what to look for:");
        for l in about.look_for {
            outln!("    - {l}");
        }
    }
}

fn app(a: &AppArgs) -> Result<()> {
    use crate::ui::{AppOptions, DeviceChoice, ExplorerApp};
    let device = a.device.map(|d| match d {
        DeviceArg::Auto => DeviceChoice::Auto,
        DeviceArg::Gpu => DeviceChoice::Gpu,
        DeviceArg::Cpu => DeviceChoice::Cpu,
    });
    let app_options = AppOptions {
        device,
        sharing: a.sharing,
        measure_secs: a.measure,
        tab: a.tab,
        aligned: a.aligned,
        data_spec: a.data.clone(),
        open: a.files.clone(),
        follow: a.follow.clone(),
        preset: a.preset,
        train: a.train.clone(),
        epochs: a.epochs,
        import: a.import.options()?,
        direction: match &a.direction {
            Some(spec) => Some((
                direction_spec(spec)?,
                a.along.filter(|t| t.is_finite()).unwrap_or(1.0),
            )),
            None => None,
        },
        ..AppOptions::default()
    };
    // Ctrl-C closes the window as its close button does (the runs are saved); a second
    // exits at once.
    if let Err(e) = crate::interrupt::install() {
        tracing::warn!("Ctrl-C will end the app without saving: {e}");
    }
    let options = eframe::NativeOptions {
        renderer: eframe::Renderer::Wgpu,
        wgpu_options: crate::gpu::wgpu_configuration(),
        viewport: eframe::egui::ViewportBuilder::default()
            .with_inner_size(a.window_size)
            .with_title("Latent Explorer")
            .with_drag_and_drop(true),
        ..Default::default()
    };
    eframe::run_native(
        crate::ui::session::APP_NAME,
        options,
        Box::new(move |cc| Ok(Box::new(ExplorerApp::new(cc, app_options)))),
    )
    .map_err(|e| {
        let e = e.to_string();
        if e.contains("xlib") || e.contains("libxkbcommon") {
            anyhow::anyhow!(
                "cannot open the window: the X11 libraries the window needs are missing ({e}). \
                 On Debian/Ubuntu: `apt-get install libx11-6 libx11-xcb1 libxcursor1 libxi6 \
                 libxrandr2 libxkbcommon-x11-0` (scripts/run installs them); the CLI needs none \
                 of them (`latent-explorer train`)"
            )
        } else if e.contains("DISPLAY") {
            anyhow::anyhow!(
                "cannot open the window: no display ({e}). Run it in a desktop session, or \
                 headless under Xvfb: `xvfb-run -a latent-explorer`; the CLI needs no display \
                 (`latent-explorer train`)"
            )
        } else {
            anyhow::anyhow!(
                "cannot open the window: {e}. Latent Explorer needs a Vulkan, Metal, DX12 or GL \
                 adapter; on Linux without a GPU install a software one \
                 (`apt-get install mesa-vulkan-drivers`), or use the CLI (`latent-explorer train`)"
            )
        }
    })
}

fn print_eval(label: &str, m: &EvalMetrics, variant: VariantKind) {
    let iwae = m
        .iwae_nll
        .filter(|_| variant.has_likelihood_bound())
        .map(|v| format!("  IWAE(k={}) NLL {v:.2}", m.iwae_k))
        .unwrap_or_default();
    let bound = if variant.has_likelihood_bound() {
        format!("test −ELBO {:.2}  ", m.neg_elbo)
    } else {
        "test −ELBO n/a  ".to_string()
    };
    let extra: String = m
        .extra
        .iter()
        .map(|(n, v)| format!("  {n} {v:.2}"))
        .collect();
    // A VQ-VAE has no KL term: its 0 is no measurement.
    let kl = if variant == VariantKind::VqVae {
        "KL n/a".to_string()
    } else {
        format!("KL {:.2}", m.kl)
    };
    outln!(
        "{label}  {bound}rec {:.2}  {kl}  active units {}/{}  MSE {:.4}{iwae}{extra}",
        m.rec,
        m.active_units,
        m.kl_per_dim.len(),
        m.mse
    );
}

/// The run configuration the flags alone describe.
fn flags_config(a: &TrainArgs) -> RunConfig {
    RunConfig {
        data: a
            .data
            .data
            .as_ref()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|| crate::data::source::BUNDLED.into()),
        without_class: a.without_class,
        final_iwae_k: a.final_iwae_k,
        run: a.spec.clone(),
    }
}

/// The run configuration a `train` command line describes — `--config FILE` (or, with
/// `--resume`, the checkpoint's own) with the flags given beside it over it, or the flags
/// alone — resolved. A resumed run keeps its configuration: only how far it goes (and the
/// final evaluation) may change, and the data where the checkpoint does not say.
fn train_config(
    a: &TrainArgs,
    matches: &clap::ArgMatches,
    resumed: Option<&checkpoint::Loaded>,
) -> Result<RunConfig> {
    let given =
        |key: &str| matches.value_source(key) == Some(clap::parser::ValueSource::CommandLine);
    let flags = flags_config(a);
    let (base, origin) = match (&a.config, resumed.and_then(|l| l.meta.run_config.as_ref())) {
        (Some(path), _) => {
            crate::paths::input_file(path).context("--config")?;
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("--config {}: reading it", path.display()))?;
            let cfg = RunConfig::from_toml(&text)
                .with_context(|| format!("--config {}", path.display()))?;
            (cfg, format!("--config {}", path.display()))
        }
        (None, Some(text)) => (
            RunConfig::from_toml(text).context("--resume: the checkpoint's run configuration")?,
            "--resume".to_string(),
        ),
        (None, None) => (flags.clone(), String::new()),
    };
    let (mut cfg, keys) = base.with_flags(&flags, given).with_context(|| {
        if origin.is_empty() {
            "the run's configuration".to_string()
        } else {
            format!("{origin} with the flags given beside it")
        }
    })?;
    let Some(l) = resumed else {
        if !origin.is_empty() && !keys.is_empty() {
            eprintln!(
                "flags given beside {origin} override its keys: {}",
                keys.join(", ")
            );
        }
        return Ok(cfg.resolved());
    };
    let own = l.meta.run_config.is_some();
    let allowed = |k: &str| {
        matches!(k, "epochs" | "final_iwae_k") || (!own && matches!(k, "data" | "without_class"))
    };
    if let Some(key) = keys.iter().find(|k| !allowed(k)) {
        bail!(
            "--{}: a resumed run keeps its configuration (with --resume give only --epochs, the total{})",
            key.replace('_', "-"),
            if own {
                ""
            } else {
                ", and --data for a checkpoint that does not name its data"
            }
        );
    }
    if !keys.iter().any(|k| k == "epochs") {
        cfg.run.epochs = l.meta.train.epochs;
    }
    if l.meta.epoch >= cfg.run.epochs {
        bail!(
            "--resume: the run has done {} of its {} epochs; give --epochs N (the total, above {}) to train it further",
            l.meta.epoch,
            l.meta.train.epochs,
            l.meta.epoch
        );
    }
    Ok(cfg.resolved())
}

/// Where `train --resume PATH` reads from and writes to.
struct ResumeFrom {
    /// The checkpoint with the training state.
    checkpoint: PathBuf,
    /// The run directory, when PATH is one.
    run_dir: Option<PathBuf>,
}

impl ResumeFrom {
    fn of(path: &Path) -> Self {
        if path.is_dir() {
            Self {
                checkpoint: path.join(crate::rundir::RESUME_CHECKPOINT),
                run_dir: Some(path.to_path_buf()),
            }
        } else {
            Self {
                checkpoint: path.to_path_buf(),
                run_dir: None,
            }
        }
    }
}

fn train(a: &TrainArgs, matches: &clap::ArgMatches) -> Result<()> {
    let resume = a.resume.as_deref().map(ResumeFrom::of);
    let loaded = match &resume {
        Some(r) => {
            let what = || format!("--resume {}", r.checkpoint.display());
            let opened =
                model_file::open(&r.checkpoint, &Device::flex(), &ImportOptions::default())
                    .with_context(what)?;
            if opened.format != Format::Checkpoint {
                bail!(
                    "{}: {}, not a checkpoint written by `train`: it has no run to resume",
                    what(),
                    opened.format
                );
            }
            Some(opened.loaded)
        }
        None => None,
    };
    let cfg = train_config(a, matches, loaded.as_ref())?;
    if a.print_config {
        out!("{}", cfg.to_toml());
        return Ok(());
    }
    // Where the results go is checked before any training is done: a resumed checkpoint
    // file is rewritten, a resumed run directory written on.
    let out = match &resume {
        Some(r) if r.run_dir.is_none() => Some(a.out.clone().unwrap_or(r.checkpoint.clone())),
        Some(_) => a.out.clone(),
        None => a.out_path(),
    };
    let run_dir = resume
        .as_ref()
        .and_then(|r| r.run_dir.clone())
        .or(a.run_dir.clone());
    if let Some(p) = &out {
        out_file(p)?;
    }
    if let Some(d) = &run_dir {
        crate::paths::output_dir(d).context("--run-dir")?;
    }
    let data = Arc::new(open_data(&cfg)?.data);
    let opened = a
        .data
        .backend
        .open()
        .context("creating the compute device")?;
    if opened.software {
        eprintln!("note: {}", crate::backend::SOFTWARE_ADAPTER_NOTE);
    }
    let device = opened.device;
    let dataset = DatasetInfo {
        held_out_class: cfg.without_class,
        ..DatasetInfo::of(&data)
    };
    let policy = Policy {
        evaluate_epochs: true,
        final_iwae_k: cfg.final_iwae_k,
        on_non_finite: OnNonFinite::Stop,
        interrupt: Some(Arc::new(crate::interrupt::requested)),
        gate: None,
    };
    let mut run = match &loaded {
        None => {
            let trainer = Trainer::new(cfg.run.train_config(&data), data.clone(), &device)
                .context("setting up training")?;
            TrainLoop::new(trainer, policy)
        }
        Some(l) => {
            check_fits(&l.meta, &data)?;
            let snap = l.snapshot();
            let (trainer, exact) = Trainer::continue_from(&snap, data.clone(), &device, cfg.run.epochs)
                .context("--resume")?;
            if !exact {
                eprintln!(
                    "warning: {} carries no training state (optimiser moments, position in the epoch): \
                     training goes on from its weights with a fresh optimiser, so it will not match an uninterrupted run",
                    a.resume.as_deref().unwrap_or(Path::new("")).display()
                );
            }
            TrainLoop::new(trainer, policy).continuing(&snap)
        }
    }
    .with_run_config(cfg.to_toml());
    let train_cfg = run.trainer().config().clone();
    if let Some(p) = &out {
        run = run.with_sink(CheckpointSink::new(p, dataset.clone()));
    }
    if let Some(dir) = &run_dir {
        let writer = match (&loaded, resume.as_ref().and_then(|r| r.run_dir.as_ref())) {
            (Some(l), Some(_)) => RunDirWriter::resume(dir, l, &cfg),
            _ => RunDirWriter::create(dir, &train_cfg, dataset.clone(), Some(&cfg)),
        }
        .context("starting the run directory")?;
        run = run.with_sink(writer);
    }
    if !a.json {
        let at = loaded
            .as_ref()
            .map(|l| format!(", from epoch {} (step {})", l.meta.epoch, l.meta.step))
            .unwrap_or_default();
        outln!(
            "training {} {} latent {} ({}) on {} ({} train / {} test, {}x{}), {} epochs{at}, batch {}, lr {}, device {}",
            train_cfg.variant,
            train_cfg.model.arch,
            train_cfg.model.latent_dim,
            train_cfg.model.likelihood,
            data.name,
            data.train.len(),
            data.test.len(),
            data.rows(),
            data.cols(),
            train_cfg.epochs,
            train_cfg.batch_size,
            train_cfg.optim.lr,
            a.data.backend
        );
    }
    // Last: the checkpoints are on disk when it reports an epoch (see `Progress::epoch`).
    // On wgpu the first step compiles the kernels (minutes on a software rasteriser): a
    // spinner says so until it is done.
    let protocol = a.json.then(|| {
        Protocol::of_training(
            &data,
            &train_cfg,
            cfg.without_class,
            envelope::run_bound_k(cfg.final_iwae_k, train_cfg.eval_iwae_k, train_cfg.variant),
            &backend_flag(a.data.backend),
        )
    });
    let mut progress = Progress::new(protocol, train_cfg.epochs, train_cfg.variant);
    if a.data.backend == BackendChoice::Wgpu && !a.json {
        progress.warm_up("wgpu: compiling kernels for the first step");
    }
    run = run.with_sink(progress);
    // Ctrl-C stops at the next step boundary and saves; a second one exits at once.
    if let Err(e) = crate::interrupt::install() {
        tracing::warn!("Ctrl-C will stop training without saving: {e}");
    }
    let saved_to = out.clone().or(run_dir
        .as_ref()
        .map(|d| d.join(crate::rundir::RESUME_CHECKPOINT)));
    let resume_with = run_dir.clone().or(out.clone()).unwrap_or_default();
    run.run()
        .map_err(|e| train_failure(e, saved_to.as_deref(), &train_cfg, &resume_with))?;
    if !a.json {
        if let Some(p) = &out {
            outln!("checkpoint: {}", p.display());
        }
        if let Some(d) = &run_dir {
            outln!("run directory: {}", d.display());
        }
    }
    Ok(())
}

/// What `train` says when its loop stops early: where the weights went and how to go on.
fn train_failure(
    e: LoopError,
    saved_to: Option<&Path>,
    cfg: &TrainConfig,
    resume_with: &Path,
) -> anyhow::Error {
    let (reason, save_error) = match e {
        LoopError::StopFailed { reason, error } => (*reason, Some(error)),
        other => (other, None),
    };
    let saved = match (saved_to, &save_error) {
        (_, Some(err)) => format!("the weights were NOT saved: {err}"),
        (Some(p), None) => format!("the weights were saved to {}", p.display()),
        (None, None) => "the weights were NOT saved (no --out or --run-dir)".to_string(),
    };
    match reason {
        LoopError::Interrupted { step, epoch } => {
            let go_on = saved_to
                .filter(|_| save_error.is_none())
                .map(|_| {
                    format!(
                        "; go on with `latent-explorer train --resume {}`",
                        resume_with.display()
                    )
                })
                .unwrap_or_default();
            crate::interrupt::Interrupted(format!(
                "interrupted at step {step} (epoch {} of {}, {epoch} epochs complete): {saved}{go_on}",
                epoch + 1,
                cfg.epochs
            ))
            .into()
        }
        LoopError::Train(e @ TrainError::NonFinite { .. }) => {
            let kept = saved.replace("the weights", "the last finite weights");
            anyhow::anyhow!("{e}; {kept}")
        }
        other => anyhow::Error::new(other),
    }
}

/// The `train` command's own output: a progress bar per epoch, a line (or a JSON envelope)
/// per evaluation. While the final evaluation runs, a Ctrl-C exits at once: the last
/// epoch's checkpoint is on disk (the sinks that write it come before this one).
struct Progress {
    /// With `--json`: the protocol of every line.
    json: Option<Protocol>,
    epochs: usize,
    variant: VariantKind,
    bar: Option<ProgressBar>,
    /// A spinner shown until the first step (kernel compilation on wgpu).
    warmup: Option<ProgressBar>,
}

impl Progress {
    fn new(json: Option<Protocol>, epochs: usize, variant: VariantKind) -> Self {
        Self {
            json,
            epochs,
            variant,
            bar: None,
            warmup: None,
        }
    }

    /// Show `what` with the time spent on it until the first step.
    fn warm_up(&mut self, what: &str) {
        let spinner = ProgressBar::new_spinner();
        spinner.set_style(
            ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        spinner.set_message(what.to_string());
        spinner.enable_steady_tick(std::time::Duration::from_millis(200));
        if spinner.is_hidden() {
            // Not a terminal (a log file, a batch job): said once as a line instead.
            eprintln!("{what}…");
        }
        self.warmup = Some(spinner);
    }

    fn bar(&mut self, run: &crate::train::run_loop::RunView<'_>) -> &ProgressBar {
        let (json, epochs) = (self.json.is_some(), self.epochs);
        if let Some(spinner) = self.warmup.take() {
            let took = spinner.elapsed();
            spinner.finish_and_clear();
            if !json && took.as_secs_f64() >= 1.0 {
                outln!(
                    "first step (kernel compilation): {:.1} s",
                    took.as_secs_f64()
                );
            }
        }
        self.bar.get_or_insert_with(|| {
            let t = run.trainer();
            let bar = if json {
                ProgressBar::hidden()
            } else {
                ProgressBar::new(t.steps_per_epoch())
            };
            bar.set_style(
                ProgressStyle::with_template(
                    "epoch {msg} [{bar:30}] {pos}/{len} {per_sec} ETA {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.set_message(format!("{}/{epochs}", t.epoch() + 1));
            bar
        })
    }
}

impl Sink for Progress {
    fn step(
        &mut self,
        run: &crate::train::run_loop::RunView<'_>,
        _m: &crate::train::StepMetrics,
    ) -> std::result::Result<(), SinkError> {
        self.bar(run).inc(1);
        Ok(())
    }

    fn epoch(&mut self, r: &EpochReport) -> std::result::Result<(), SinkError> {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        if let Some(m) = &r.metrics {
            if let Some(protocol) = &self.json {
                let data = serde_json::json!({
                    "event": "epoch", "epoch": r.epoch, "train_loss": r.train_loss,
                    "samples_per_sec": r.samples_per_sec, "test": m,
                });
                outln!(
                    "{}",
                    Envelope::new(envelope::TRAIN, protocol.clone(), data).line()?
                );
            } else {
                print_eval(
                    &format!(
                        "epoch {:>2}/{}  train loss {:.2}  {:.0} img/s ",
                        r.epoch, self.epochs, r.train_loss, r.samples_per_sec
                    ),
                    m,
                    self.variant,
                );
            }
        }
        if r.epoch >= self.epochs {
            crate::interrupt::set_immediate(true);
        }
        Ok(())
    }

    fn final_eval(&mut self, r: &EpochReport) -> std::result::Result<(), SinkError> {
        if let Some(m) = &r.metrics {
            if let Some(protocol) = &self.json {
                let data = serde_json::json!({
                    "event": "final", "epoch": r.epoch, "eval_secs": r.eval_secs, "test": m,
                });
                outln!(
                    "{}",
                    Envelope::new(envelope::TRAIN, protocol.clone(), data).line()?
                );
            } else {
                print_eval(&format!("final ({:.1} s)", r.eval_secs), m, self.variant);
            }
        }
        Ok(())
    }

    fn stopped(
        &mut self,
        _how: &Stopped,
        _snapshot: &Arc<crate::train::Snapshot>,
    ) -> std::result::Result<(), SinkError> {
        if let Some(bar) = self.bar.take() {
            bar.abandon();
        }
        crate::interrupt::set_immediate(false);
        Ok(())
    }
}

/// `--out` must be writable as a file: checked before any work.
fn out_file(out: &Path) -> Result<()> {
    crate::paths::output_file(out).context("--out")
}

fn load_checkpoint(
    path: &Path,
    device: &Device,
    import: &ImportArgs,
) -> Result<checkpoint::Loaded> {
    Ok(open_model(path, device, import)?.0)
}

/// [`load_checkpoint`], and whether the file was converted from PyTorch (so its header
/// knows nothing of its training).
fn open_model(
    path: &Path,
    device: &Device,
    import: &ImportArgs,
) -> Result<(checkpoint::Loaded, bool)> {
    let opened = model_file::open(path, device, &import.options()?).context("loading the model")?;
    Ok((opened.loaded, opened.format.is_import()))
}

fn import_cmd(a: &ImportCmdArgs) -> Result<()> {
    out_file(&a.out)?;
    // Opened (and so checked) as every command opens a model, before anything is written.
    let opened = model_file::open(&a.model, &Device::flex(), &a.import.options()?)
        .context("importing the model")?;
    let l = &opened.loaded;
    let bytes =
        checkpoint::to_bytes_with_state(&l.model, &l.aux, &l.meta, l.state.as_ref(), &a.out)
            .with_context(|| format!("writing {}", a.out.display()))?;
    crate::atomic::atomic_write_bytes(&a.out, &bytes)
        .with_context(|| format!("writing {}", a.out.display()))?;
    let meta = &l.meta;
    outln!(
        "{} → {}: {} {} latent {}, {}x{} images, {} likelihood",
        a.model.display(),
        a.out.display(),
        meta.train.variant,
        meta.train.model.arch,
        meta.train.model.latent_dim,
        meta.train.model.rows,
        meta.train.model.cols,
        meta.train.model.likelihood
    );
    if opened.format.is_import() {
        outln!("  {}", crate::import::ASSUMED);
    } else {
        outln!(
            "  already a latent-explorer checkpoint: its header is kept as it is ({} epochs, {}){}",
            meta.epoch,
            if meta.metrics.is_some() {
                "test figures"
            } else {
                "no test figures"
            },
            if a.import.map.is_empty() && a.import.image_size.is_none() {
                ""
            } else {
                "; --map and --image-size apply to PyTorch files and were not used"
            }
        );
    }
    Ok(())
}

fn check_fits(meta: &CheckpointMeta, data: &Dataset) -> Result<()> {
    let m = &meta.train.model;
    Ok(data.check_model(m)?)
}

fn eval(a: &EvalArgs) -> Result<()> {
    let (data, device) = a.data.load()?;
    let (loaded, imported) = open_model(&a.checkpoint, &device, &a.import)?;
    check_fits(&loaded.meta, &data)?;
    // On the data as the run was evaluated: a binarized run's fixed draw of the test split.
    let data = data.binarized(loaded.meta.train.binarize);
    // As training evaluated these weights (the run's evaluation stream for their step); on
    // data with known factors, with the MIG and the FactorVAE score of the test codes.
    let (m, scores) = crate::train::metrics::evaluate_run_scored(
        &loaded.model,
        &loaded.meta.train,
        loaded.meta.step,
        &data,
        &device,
        a.iwae_k,
    );
    let (mig, fvae) = match scores {
        Some(scores) => (scores.mig, scores.factor_vae),
        None => (None, None),
    };
    let knn = a
        .knn_labels
        .map(|n| {
            explore::knn_accuracy(
                &loaded.model,
                &data,
                n,
                a.knn_k,
                loaded.meta.train.seed,
                &device,
            )
        })
        .transpose()
        .context("the --knn-labels classifier")?;
    if a.json {
        let mut v = serde_json::to_value(&m)?;
        if let Some(acc) = m.extra("accuracy") {
            v["accuracy"] = serde_json::json!(acc);
        }
        if let Some(knn) = &knn {
            v["knn_accuracy"] = serde_json::to_value(knn)?;
        }
        if let Some((score, gaps)) = &mig {
            v["mig"] = serde_json::json!({ "score": score, "per_factor": gaps });
        }
        if let Some(s) = fvae {
            v["factor_vae_score"] = serde_json::json!(s);
        }
        let protocol = Protocol::of_model(
            &loaded.meta,
            imported,
            &data,
            envelope::bound_k(a.iwae_k, [loaded.meta.train.variant]),
            &backend_flag(a.data.backend),
        );
        print_json(envelope::EVAL, protocol, v)?;
    } else {
        outln!(
            "{} ({} {}, epoch {}) on {}",
            a.checkpoint.display(),
            loaded.meta.train.variant,
            loaded.meta.train.model.arch,
            loaded.meta.epoch,
            data.name
        );
        outln!(
            "protocol: {} test {}, binarization {}, IWAE k = {}",
            data.test.len(),
            data.nouns(),
            loaded.meta.train.binarize,
            a.iwae_k
        );
        print_eval("", &m, loaded.meta.train.variant);
        if let Some(acc) = m.extra("accuracy") {
            outln!(
                "classifier q(y|x) accuracy {acc:.4} on {} test {} (chance {:.3}); test −ELBO \
                 is U(x), y summed out under q(y|x)",
                m.images,
                data.nouns(),
                1.0 / loaded.meta.train.model.classes().max(1) as f64
            );
        }
        if let Some(knn) = &knn {
            outln!(
                "k-NN accuracy {:.4} (k = {}, on the posterior means of {} labelled training \
                 {} chosen with seed {}) on {} test {}",
                knn.accuracy,
                knn.k,
                knn.labelled,
                data.nouns(),
                knn.seed,
                knn.test,
                data.nouns()
            );
        }
        if let Some(why) = crate::compare::literature_caveat(
            data.train.len(),
            data.test.len(),
            data.shape(),
            loaded.meta.train.binarize,
        ) {
            outln!("  {why}");
        }
        // A VQ-VAE has no KL per dimension: the variance of its codes stands in, named so.
        let score = DimensionScore::of(&loaded.model);
        let per_dim = match score {
            DimensionScore::Kl => &m.kl_per_dim,
            DimensionScore::CodeVariance => &m.mean_variance,
        };
        let dims: Vec<String> = per_dim.iter().map(|k| format!("{k:.2}")).collect();
        outln!("{} per dimension: {}", score.name(), dims.join(" "));
        if let Some((score, gaps)) = &mig {
            let per: Vec<String> = shapes::FACTOR_NAMES
                .iter()
                .zip(gaps)
                .map(|(n, g)| format!("{n} {g:.3}"))
                .collect();
            outln!("MIG {score:.3} ({})", per.join(", "));
        }
        if let Some(s) = fvae {
            outln!("FactorVAE score {s:.3} (chance: 1/5 = 0.200)");
        }
    }
    Ok(())
}

fn sample(a: &SampleArgs) -> Result<()> {
    out_file(&a.out)?;
    let device = a.backend.device().context("creating the compute device")?;
    let loaded = load_checkpoint(&a.checkpoint, &device, &a.import)?;
    let cfg = &loaded.meta.train.model;
    // (`--n` is in 1..=MAX_GRID_IMAGES: clap checked it.)
    // The app's prior noise for the seed: the same draws on every backend and thread.
    let z = match a.sampler {
        Sampler::Prior => vamp::prior_draws(&loaded.model, a.seed, a.n, cfg.latent_dim),
        Sampler::Gmm => ex_post_noise(a, &loaded, &device)?,
    };
    // M2's prior is p(y) p(z) with p(y) uniform: sample i is drawn as class i mod C, every
    // class equally often.
    let classes = cfg.classes().max(1);
    let m2_labels: Vec<u8> = (0..a.n).map(|i| (i % classes) as u8).collect();
    let labels = if loaded.meta.train.variant == VariantKind::M2 {
        CodeLabels::Each(&m2_labels)
    } else {
        CodeLabels::None
    };
    let pixels = explore::decode_codes(&loaded.model, z, cfg.latent_dim, labels, &device)?;
    let cols = (a.n as f64).sqrt().ceil() as usize;
    let img = grid_image(&pixels, cfg.shape(), cols, 2);
    save_png(&img, &a.out).with_context(|| format!("writing {}", a.out.display()))?;
    outln!("{} samples → {}", a.n, a.out.display());
    Ok(())
}

/// `sample --sampler gmm`: draws from a mixture fitted to the training split's codes.
fn ex_post_noise(a: &SampleArgs, loaded: &checkpoint::Loaded, device: &Device) -> Result<Vec<f32>> {
    let data_args = DataArgs {
        data: a.data.clone(),
        backend: a.backend,
    };
    let (data, _) = data_args.load()?;
    check_fits(&loaded.meta, &data)?;
    let codes = explore::encode_split(&loaded.model, &data.train, device, explore::ENCODE_BATCH);
    let params = explore::GmmParams {
        components: a.components,
        seed: a.seed,
        ..explore::GmmParams::default()
    };
    let fit = explore::fit_gmm(&codes.mu, codes.dim, &params)
        .context("fitting the ex-post mixture to the training codes")?;
    eprintln!(
        "ex-post sampler: {} diagonal Gaussians fitted to {} training codes in {} EM iterations (mean log-likelihood {:.3} nats)",
        a.components,
        codes.len(),
        fit.log_likelihood.len(),
        fit.log_likelihood.last().copied().unwrap_or(f64::NAN)
    );
    Ok(fit.gmm.sample(a.seed, a.n))
}

fn nearest_cmd(a: &NearestArgs) -> Result<()> {
    let (data, device) = a.data.load()?;
    let loaded = load_checkpoint(&a.checkpoint, &device, &a.import)?;
    check_fits(&loaded.meta, &data)?;
    let model = &loaded.model;
    let d = loaded.meta.train.model.latent_dim;
    let (z, what) = match a.test {
        Some(i) => {
            let i = test_index(i, "--test", &data)?;
            let (codes, labels) = explore::test_codes(model, &data.test, &[i], &device)?;
            let label = labels.first().copied().unwrap_or(0);
            (
                codes,
                format!("test image {i} (label {label}): its posterior mean, decoded"),
            )
        }
        None => {
            if a.z.len() != d || a.z.iter().any(|v| !v.is_finite()) {
                bail!(
                    "--z: {} values for a model of {d} latent dimensions (finite values, comma-separated)",
                    a.z.len()
                );
            }
            (a.z.clone(), format!("z = [{}], decoded", fmt_values(&a.z)))
        }
    };
    let image = explore::decode_codes(model, z.clone(), d, CodeLabels::None, &device)?;
    let codes = explore::encode_split(model, &data.train, &device, explore::ENCODE_BATCH);
    let pixels = data.train.pixels.to_f32();
    let by_pixels = explore::nearest(&pixels, &image, data.shape().len(), a.k)?;
    let by_codes = explore::nearest(&codes.mu, &z, codes.dim, a.k)?;
    outln!("{what}; nearest of {} training images", data.train.len());
    let show = |title: &str, near: &[explore::Neighbour]| {
        outln!("{title}");
        for n in near {
            let label = data.train.labels.get(n.index).copied().unwrap_or(0);
            outln!(
                "  #{:<6} label {label:<3} distance {:.4}",
                n.index,
                n.distance
            );
        }
    };
    show(
        &format!(
            "pixel space (Euclidean over {} values):",
            data.shape().len()
        ),
        by_pixels.first().map_or(&[][..], Vec::as_slice),
    );
    show(
        "latent space (Euclidean to each training image's posterior mean):",
        by_codes.first().map_or(&[][..], Vec::as_slice),
    );
    Ok(())
}

/// Values as `a, b, c` with two decimals.
fn fmt_values(v: &[f32]) -> String {
    v.iter()
        .map(|x| format!("{x:.2}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn reconstruct(a: &ReconstructArgs) -> Result<()> {
    out_file(&a.out)?;
    let (data, device) = a.data.load()?;
    let loaded = load_checkpoint(&a.checkpoint, &device, &a.import)?;
    check_fits(&loaded.meta, &data)?;
    let n = a.n.clamp(1, data.test.len());
    let indices: Vec<usize> = (0..n).collect();
    // As the app's reconstructions: each digit under its own label.
    let (images, recon) = explore::reconstructions(&loaded.model, &data.test, &indices, &device)?;
    let mut pixels = host_vec(images);
    pixels.extend(host_vec(recon));
    let img = grid_image(&pixels, data.shape(), n, 2);
    save_png(&img, &a.out).with_context(|| format!("writing {}", a.out.display()))?;
    outln!(
        "{n} test images (top) and reconstructions (bottom) → {}",
        a.out.display()
    );
    Ok(())
}

fn compare_cmd(a: &CompareArgs) -> Result<()> {
    if let Some(dir) = &a.from {
        let plan = crate::sweep::Plan::read(dir).context("--from")?;
        let groups = crate::sweep::summary::summarize(&plan);
        if a.json {
            print_json(envelope::COMPARE, Protocol::of_sweep(&plan), &groups)?;
        } else if a.csv {
            out!("{}", crate::sweep::summary::csv(&groups));
        } else {
            let done: usize = groups.iter().map(|g| g.done).sum();
            outln!(
                "{}: {} configurations, {done} of {} runs done (mean ± sd over seeds, n)\n",
                dir.display(),
                groups.len(),
                plan.runs.len()
            );
            out!("{}", crate::sweep::summary::table(&groups));
        }
        return Ok(());
    }
    let (data, device) = a.data.load()?;
    let settings = a.protocol.map(|p| p.settings());
    if let Some(why) = a.protocol.and_then(|p| p.unfit(&data)) {
        bail!("--protocol: {why}");
    }
    let variants = match (&settings, a.variants.is_empty()) {
        (_, false) => a.variants.clone(),
        (Some(p), true) => p.variants.clone(),
        (None, true) => VariantKind::ALL.to_vec(),
    };
    let pick = |given: Option<usize>, of: fn(&crate::compare::ProtocolSettings) -> usize, plain| {
        given.unwrap_or_else(|| settings.as_ref().map_or(plain, of))
    };
    let epochs = pick(a.epochs, |p| p.epochs, 10);
    let latent = pick(a.latent, |p| p.latent, 20);
    let seeds = pick(a.seeds, |p| p.seeds, 1);
    let iwae_k = pick(a.iwae_k, |p| p.iwae_k, 500);
    let mut base = TrainConfig {
        batch_size: a.batch,
        epochs,
        seed: a.seed,
        binarize: a.binarize,
        ..TrainConfig::default()
    };
    base.model.latent_dim = latent;
    let json = a.json;
    // The fixed probe that scores every variant's samples: a digit classifier trained once
    // on the training split, for digits only (28×28 grey, ten classes, no factors).
    let digits = data.shape() == crate::data::ImageShape::grey(28, 28)
        && data.num_classes() == 10
        && data.factors.is_none();
    let probe = if a.no_probe || !digits {
        None
    } else {
        let p = DigitProbe::train(&data.train, &device, 5, a.seed);
        if !json {
            eprintln!(
                "sample probe: {} classifier, test accuracy {:.3}",
                if data.is_digits() { "digit" } else { "class" },
                p.accuracy(&data.test)
            );
        }
        Some(p)
    };
    let mut per_seed = Vec::with_capacity(seeds);
    for s in 0..seeds as u64 {
        let seed = a.seed + s;
        let cfg = TrainConfig {
            seed,
            ..base.clone()
        };
        let rows = crate::compare::compare(
            &variants,
            &cfg,
            data.clone(),
            &device,
            iwae_k,
            probe.as_ref(),
            |v, e| {
                if !json {
                    eprintln!("seed {seed}, {v}: epoch {e}/{}", epochs);
                }
            },
        )
        .context("comparing variants")?;
        per_seed.push(rows);
    }
    let protocol = || Protocol {
        seeds: Some((a.seed..a.seed + seeds as u64).collect()),
        ..Protocol::of_training(
            &data,
            &base,
            None,
            envelope::bound_k(iwae_k, variants.iter().copied()),
            &backend_flag(a.data.backend),
        )
    };
    if a.protocol.is_some() {
        let rows = crate::compare::disentangle_rows(&per_seed);
        if json {
            print_json(envelope::COMPARE, protocol(), &rows)?;
        } else {
            outln!(
                "protocol disentangle: {epochs} epochs each, batch {}, seeds {}..={}, {} latent {latent}, {} ({} train / {} test)\n",
                a.batch,
                a.seed,
                a.seed + seeds as u64 - 1,
                base.model.arch,
                data.name,
                data.train.len(),
                data.test.len()
            );
            out!("{}", crate::compare::disentangle_table(&rows));
        }
        return Ok(());
    }
    if seeds > 1 {
        if json {
            let runs: Vec<_> = per_seed
                .iter()
                .enumerate()
                .map(|(i, rows)| serde_json::json!({ "seed": a.seed + i as u64, "rows": rows }))
                .collect();
            print_json(envelope::COMPARE, protocol(), runs)?;
        } else {
            outln!(
                "{} epochs each, batch {}, seeds {}..={}, latent {}, {}\n",
                epochs,
                a.batch,
                a.seed,
                a.seed + seeds as u64 - 1,
                latent,
                data.name
            );
            out!("{}", crate::compare::seeds_table(&per_seed));
            if let Some(why) = crate::compare::literature_caveat(
                data.train.len(),
                data.test.len(),
                data.shape(),
                a.binarize,
            ) {
                outln!("\n{why}");
            }
        }
        return Ok(());
    }
    let rows = per_seed.remove(0);
    if json {
        print_json(envelope::COMPARE, protocol(), &rows)?;
    } else {
        outln!(
            "{} epochs each, batch {}, seed {}, MLP {} latent {}, {} ({} train / {} test)\n",
            epochs,
            a.batch,
            a.seed,
            base.model.arch,
            latent,
            data.name,
            data.train.len(),
            data.test.len()
        );
        out!("{}", crate::compare::table(&rows, iwae_k));
        if let Some(why) = crate::compare::literature_caveat(
            data.train.len(),
            data.test.len(),
            data.shape(),
            a.binarize,
        ) {
            outln!("\n{why}");
        }
    }
    Ok(())
}

fn bench_cmd(a: &BenchArgs) -> Result<()> {
    if a.threads > 0 {
        rayon::ThreadPoolBuilder::new()
            .num_threads(a.threads)
            .build_global()
            .context("configuring the CPU thread pool")?;
    }
    let data = Arc::new(Dataset::load(a.data.as_deref()).context("loading the dataset")?);
    let device = a.backend.device().context("creating the compute device")?;
    let mut cfg = BenchConfig::default();
    cfg.train.batch_size = a.batch;
    cfg.train.epochs = a.epochs;
    cfg.epochs = a.epochs;
    if a.arch == ArchKind::Conv {
        cfg.train.model.arch = ArchConfig::conv_default();
    }
    // No flag: no cap (the best level this CPU has).
    crate::cpu::simd::limit(a.simd);
    let name = match a.backend {
        BackendChoice::Cpu => format!(
            "{} ({} threads; batches split over {} lanes; {} kernels)",
            a.backend,
            rayon::current_num_threads(),
            crate::cpu::lanes::count(),
            crate::cpu::simd::level().name()
        ),
        BackendChoice::Wgpu => format!("{} ({} threads)", a.backend, rayon::current_num_threads()),
    };
    let report = bench::run(&cfg, data.clone(), &device, &name).context("benchmark")?;
    if a.json {
        let protocol =
            Protocol::of_training(&data, &cfg.train, None, None, &backend_flag(a.backend));
        print_json(envelope::BENCH, protocol, &report)?;
        return Ok(());
    }
    outln!(
        "latent-explorer bench: {} VAE, latent {}, Bernoulli, Adam 1e-3, batch {}, {} train images, {}",
        cfg.train.model.arch,
        cfg.train.model.latent_dim,
        a.batch,
        data.train.len(),
        name
    );
    outln!(
        "{:<12} {:>14} {:>12} {:>10}",
        "epoch",
        "samples/s",
        "ms/step",
        "loss"
    );
    for e in &report.epochs {
        outln!(
            "{:<12} {:>14.0} {:>12.2} {:>10.2}",
            e.epoch,
            e.samples_per_sec,
            e.ms_per_step,
            e.last_loss
        );
    }
    outln!("{:<12} {:>14.0}", "mean", report.mean_samples_per_sec());
    outln!("{:<12} {:>14}", "decode", "ms/decode");
    for d in &report.decode {
        outln!("{:<12} {:>14.4}", format!("batch {}", d.batch), d.ms);
    }
    Ok(())
}

/// What `out` names: a PNG (the still image) or a GIF (the animation); anything else is
/// an error.
fn out_format(out: &Path) -> Result<ExportFormat> {
    match out
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .as_deref()
    {
        Some("png") => Ok(ExportFormat::Png),
        Some("gif") => Ok(ExportFormat::Gif),
        _ => bail!(
            "--out {}: name a .png file (the still image) or a .gif file (the animation)",
            out.display()
        ),
    }
}

/// Check that `i` indexes the test split; the message names the flag and the split's size.
fn test_index(i: usize, flag: &str, data: &Dataset) -> Result<usize> {
    let n = data.test.len();
    if i >= n {
        bail!(
            "{flag} {i} is out of range: the test set of {} has {n} images (indices 0..={})",
            data.name,
            n.saturating_sub(1)
        );
    }
    Ok(i)
}

fn traverse(a: &TraverseArgs) -> Result<()> {
    out_file(&a.out)?;
    if let Some(dir) = &a.frames {
        crate::paths::output_dir(dir).context("--frames")?;
    }
    let format = out_format(&a.out)?;
    let (data, device) = a.data.load()?;
    let loaded = load_checkpoint(&a.checkpoint, &device, &a.import)?;
    check_fits(&loaded.meta, &data)?;
    if let Some(i) = a.digit {
        test_index(i, "--digit", &data)?;
    }
    let model = &loaded.model;
    if let Some(spec) = &a.direction {
        return traverse_direction(a, spec, &data, model, &device);
    }
    // The app's statistics of the same test images: the same order of dimensions.
    let (post, stats) = explore::dimension_stats(model, &data, data.test.len(), &device);
    let d = post.dim;
    let n_dims = match a.dims {
        Some(n) if n > d => bail!("--dims {n}: the model has only {d} latent dimensions"),
        Some(n) => n,
        None => d.min(10),
    };
    let (base, label, base_text) = digit_base(a.digit, &post, &data)
        .unwrap_or_else(|| (vec![0.0; d], None, "the zero vector".to_string()));
    let order = stats.order();
    let dims = &order[..n_dims];
    let ranges = explore::dim_ranges(&post.mu, d, a.range);
    let z = explore::traversal_grid(&base, dims, &ranges, a.steps);
    let labels = label.map_or(CodeLabels::None, |l| CodeLabels::All(l as usize));
    let pixels = explore::decode_codes(model, z, d, labels, &device)?;
    // Frame f: the f-th value of every shown dimension, one tile per row.
    let (written, frames) = export_traversal(a, &pixels, data.shape(), format)?;
    outln!("range: {}", a.range.describe());
    outln!("base: {base_text}; other coordinates held there");
    outln!(
        "rows: the {n_dims} of {d} dimensions with {} on the {} test images",
        stats.score.describe(),
        stats.images
    );
    // On data with known factors: the factor each dimension tells most about, and the
    // share of that factor's entropy it carries.
    let factors = !stats.best_factor.is_empty();
    outln!(
        "{:>4} {:>5} {:>10} {:>9} {:>9}{}",
        "row",
        "dim",
        stats.score.heading(),
        "from",
        "to",
        if factors {
            "  factor (I(z; v) / H(v))"
        } else {
            ""
        }
    );
    for (r, &j) in dims.iter().enumerate() {
        let (lo, hi) = ranges[j];
        let factor = match stats.best_factor.get(j).copied().flatten() {
            Some((f, share)) => format!("  {} ({share:.2})", shapes::FACTOR_NAMES[f]),
            None => String::new(),
        };
        outln!(
            "{r:>4} {j:>5} {:>10.3} {lo:>+9.3} {hi:>+9.3}{factor}",
            stats.score_of(j).unwrap_or(f64::NAN)
        );
    }
    outln!(
        "{} values × {n_dims} dimensions → {}{}",
        a.steps,
        written.path.display(),
        gif_note(format, &written)
    );
    print_frames(frames.as_ref());
    Ok(())
}

/// A traversal's images (`pixels`, one row of `--steps` per row) written as `--out` in
/// `format` and, with `--frames`, as one PNG per value. Both or neither: the frames first
/// (whole or none), then `--out`, whose failure takes the frames back.
fn export_traversal(
    a: &TraverseArgs,
    pixels: &[f32],
    shape: crate::data::ImageShape,
    format: ExportFormat,
) -> Result<(crate::export::Exported, Option<crate::export::Exported>)> {
    let frames = match &a.frames {
        Some(dir) => Some(export_grid(
            pixels,
            shape,
            a.steps,
            ExportFormat::Frames,
            a.delay_ms,
            dir,
        )?),
        None => None,
    };
    match export_grid(pixels, shape, a.steps, format, a.delay_ms, &a.out) {
        Ok(w) => Ok((w, frames)),
        Err(e) => {
            if let Some(f) = &frames {
                crate::export::remove_export(f);
            }
            Err(e.into())
        }
    }
}

/// What follows the path of a written traversal: a GIF's frame count.
fn gif_note(format: ExportFormat, written: &crate::export::Exported) -> String {
    if format == ExportFormat::Gif {
        format!(" ({} frames, forth and back)", written.frames)
    } else {
        String::new()
    }
}

/// The line naming the `--frames` written, if any.
fn print_frames(frames: Option<&crate::export::Exported>) {
    if let Some(f) = frames {
        outln!("{} frames → {}", f.frames, f.path.display());
    }
}

/// A traversal's base from `--digit I`: test image I's posterior mean, its label (which a
/// conditional model decodes under) and how the output names it; `None` without `--digit`.
fn digit_base(
    digit: Option<usize>,
    post: &explore::Posterior,
    data: &Dataset,
) -> Option<(Vec<f32>, Option<u8>, String)> {
    let i = digit?;
    let code = post.mean(i)?;
    let l = data.test.labels[i];
    Some((
        code.to_vec(),
        Some(l),
        format!("test {} {i} (label {l})'s posterior mean", data.noun()),
    ))
}

/// `--direction A/B` or `--direction @FILE`, parsed.
fn direction_spec(spec: &str) -> Result<explore::DirectionSpec> {
    let text = match spec.strip_prefix('@') {
        Some(file) => {
            std::fs::read_to_string(file).with_context(|| format!("--direction: reading {file}"))?
        }
        None => spec.to_string(),
    };
    explore::DirectionSpec::parse(text.trim()).context("--direction")
}

/// `traverse --direction`: one row of decodes along an attribute direction.
fn traverse_direction(
    a: &TraverseArgs,
    spec: &str,
    data: &Dataset,
    model: &crate::model::Vae,
    device: &Device,
) -> Result<()> {
    let spec = direction_spec(spec)?;
    let post = explore::encode_split(model, &data.test, device, explore::ENCODE_BATCH);
    let d = post.dim;
    let n = post.len();
    let labels = &data.test.labels;
    let set_a = spec.a.resolve(labels, n, 'A').context("--direction")?;
    let set_b = spec.b.resolve(labels, n, 'B').context("--direction")?;
    let dir = explore::attribute_direction(&post.mu, d, &set_a, &set_b).context("--direction")?;
    let (base, label, base_text) = digit_base(a.digit, &post, data).unwrap_or_else(|| {
        (
            dir.from.clone(),
            None,
            format!("B's mean code ({})", spec.b),
        )
    });
    let (lo, hi) = a.along.unwrap_or((0.0, 1.0));
    let ts = explore::amounts(lo, hi, a.steps);
    let z = explore::along(&base, &dir.vector, &ts);
    let labels = label.map_or(CodeLabels::None, |l| CodeLabels::All(l as usize));
    let pixels = explore::decode_codes(model, z, d, labels, device)?;
    let format = out_format(&a.out)?;
    let (written, frames) = export_traversal(a, &pixels, data.shape(), format)?;
    let (na, nb) = dir.sizes;
    outln!(
        "direction: from B = {} ({nb} test {}) to A = {} ({na}), the difference of their mean codes",
        spec.b,
        data.nouns(),
        spec.a
    );
    outln!("length |A − B|: {:.4}", dir.length());
    outln!(
        "separation along it: {}",
        match dir.separation {
            Some(s) => format!("{s:.2} pooled standard deviations of the two sets' codes"),
            None => "not defined (the sets do not spread along it)".to_string(),
        }
    );
    outln!("base: {base_text}");
    outln!(
        "t: {lo} … {hi} in {} steps (base + t · (A − B)) → {}{}",
        a.steps,
        written.path.display(),
        gif_note(format, &written)
    );
    print_frames(frames.as_ref());
    Ok(())
}

fn interpolate(a: &InterpolateArgs) -> Result<()> {
    out_file(&a.out)?;
    let format = out_format(&a.out)?;
    let (data, device) = a.data.load()?;
    let loaded = load_checkpoint(&a.checkpoint, &device, &a.import)?;
    check_fits(&loaded.meta, &data)?;
    let i = test_index(a.from, "--from", &data)?;
    let j = test_index(a.to, "--to", &data)?;
    let model = &loaded.model;
    let (codes, labels) = explore::test_codes(model, &data.test, &[i, j], &device)?;
    let d = codes.len() / 2;
    let kind = if a.slerp {
        PathKind::Spherical
    } else {
        PathKind::Linear
    };
    let z = explore::path(&codes[..d], &codes[d..], a.steps, kind);
    let norms: Vec<String> = z
        .chunks_exact(d.max(1))
        .map(|c| format!("{:.2}", c.iter().map(|v| v * v).sum::<f32>().sqrt()))
        .collect();
    // A conditional model decodes the first half of the path with I's label, the rest
    // with J's.
    let path_labels: Vec<u8> = (0..a.steps)
        .map(|s| labels[usize::from(2 * s >= a.steps)])
        .collect();
    let decoded = explore::decode_codes(model, z, d, CodeLabels::Each(&path_labels), &device)?;
    let per = data.shape().len();
    let (orig_i, orig_j) = (data.test.image(i), data.test.image(j));
    // Each tile: original I, the decoded code, original J.
    let strip = |codes: &[f32]| {
        let mut tiles = orig_i.to_vec();
        tiles.extend_from_slice(codes);
        tiles.extend_from_slice(&orig_j);
        tiles
    };
    let frames = if format == ExportFormat::Gif {
        let frames: Vec<_> = (0..a.steps)
            .map(|s| grid_image(&strip(&decoded[s * per..(s + 1) * per]), data.shape(), 3, 2))
            .collect();
        let frames = looped(&frames);
        save_gif(&frames, a.delay_ms, &a.out)
            .with_context(|| format!("writing {}", a.out.display()))?;
        frames.len()
    } else {
        save_png(
            &grid_image(&strip(&decoded), data.shape(), a.steps + 2, 2),
            &a.out,
        )
        .with_context(|| format!("writing {}", a.out.display()))?;
        1
    };
    outln!(
        "{} path from test digit {i} (label {}) to {j} (label {}), {} codes (both posterior means included)",
        if a.slerp { "slerp" } else { "lerp" },
        labels[0],
        labels[1],
        a.steps
    );
    outln!("code norms |z|: {}", norms.join(" "));
    if format == ExportFormat::Gif {
        outln!(
            "{} ({frames} frames, forth and back; each: original {i}, a decoded code, original {j})",
            a.out.display(),
        );
    } else {
        outln!(
            "{} (a strip: original {i}, the {} decoded codes, original {j})",
            a.out.display(),
            a.steps
        );
    }
    Ok(())
}

fn anomaly(a: &AnomalyArgs) -> Result<()> {
    let (data, device) = a.data.load()?;
    let (loaded, imported) = open_model(&a.checkpoint, &device, &a.import)?;
    check_fits(&loaded.meta, &data)?;
    let held_out = loaded.meta.dataset.held_out_class;
    let shift = a.shift.unwrap_or(explore::default_shift(held_out));
    let variant = loaded.meta.train.variant;
    let rep = explore::anomaly_report(
        ScoredModel {
            model: &loaded.model,
            likelihood: loaded.meta.train.model.likelihood,
            variant,
            held_out,
        },
        &data.test,
        AnomalyQuery {
            shift,
            iwae_k: a.iwae_k,
            seed: a.seed,
        },
        &device,
    )
    .with_context(|| format!("--shift {shift}"))?;
    let top = a.top.min(rep.test.len());
    let entry = |(i, s): (usize, f64)| (i, data.test.labels[i], s);
    let most: Vec<_> = rep.most_anomalous(top).into_iter().map(entry).collect();
    let least: Vec<_> = rep.most_typical(top).into_iter().map(entry).collect();
    if a.json {
        let list = |v: &[(usize, u8, f64)]| -> Vec<serde_json::Value> {
            v.iter()
                .map(|&(i, l, s)| serde_json::json!({ "index": i, "label": l, "score": s }))
                .collect()
        };
        let k = match rep.kind {
            explore::ScoreKind::NegIwae { k } => Some(k),
            _ => None,
        };
        let protocol = Protocol {
            seeds: Some(vec![a.seed]),
            ..Protocol::of_model(
                &loaded.meta,
                imported,
                &data,
                k,
                &backend_flag(a.data.backend),
            )
        };
        print_json(
            envelope::ANOMALY,
            protocol,
            serde_json::json!({
                "checkpoint": a.checkpoint.display().to_string(),
                "data": data.name,
                "shift": shift.to_string(),
                "score": rep.kind.key(),
                "score_text": rep.kind.describe(),
                "iwae_k": a.iwae_k,
                "seed": a.seed,
                "n_normal": rep.normal.len(),
                "n_shifted": rep.shifted.len(),
                "auroc": rep.auroc,
                "mean_normal": rep.mean_normal(),
                "mean_shifted": rep.mean_shifted(),
                "most_anomalous": list(&most),
                "most_typical": list(&least),
                "notes": rep.caveats,
            }),
        )?;
        return Ok(());
    }
    for n in &rep.caveats {
        eprintln!("note: {n}");
    }
    outln!(
        "{} ({variant}, epoch {}) on {}; shift {shift}",
        a.checkpoint.display(),
        loaded.meta.epoch,
        data.name
    );
    outln!("{}", rep.sets);
    outln!(
        "score: {}, in nats; higher = more anomalous",
        rep.kind.describe()
    );
    match rep.auroc {
        Some(v) => outln!("AUROC (test vs shifted): {v:.4}"),
        None => outln!("AUROC (test vs shifted): n/a (a score is not finite)"),
    }
    outln!(
        "mean score: test {:.2}  shifted {:.2}",
        rep.mean_normal(),
        rep.mean_shifted()
    );
    let show = |title: &str, v: &[(usize, u8, f64)]| {
        outln!("{title} (test index, label, score):");
        for &(i, l, s) in v {
            outln!("  {i:>6}  {l:>3}  {s:>10.2}");
        }
    };
    show(&format!("{top} most anomalous test images"), &most);
    show(&format!("{top} most typical test images"), &least);
    Ok(())
}

fn encode(a: &EncodeArgs) -> Result<()> {
    out_file(&a.out)?;
    let (data, device) = a.data.load()?;
    let loaded = load_checkpoint(&a.checkpoint, &device, &a.import)?;
    check_fits(&loaded.meta, &data)?;
    let (split, name) = match a.split {
        SplitArg::Test => (&data.test, "test"),
        SplitArg::Train => (&data.train, "training"),
    };
    let post = explore::encode_split(&loaded.model, split, &device, explore::ENCODE_BATCH);
    let csv = crate::export::codes_csv(&post, &split.labels);
    crate::atomic::atomic_write_bytes(&a.out, csv.as_bytes())
        .with_context(|| format!("writing {}", a.out.display()))?;
    outln!(
        "{} {name} images of {}: posterior mean and log-variance of {} dimensions → {}",
        post.len(),
        data.name,
        post.dim,
        a.out.display()
    );
    Ok(())
}

fn align_cmd(a: &AlignArgs) -> Result<()> {
    let (data, device) = a.data.load()?;
    let (la, imported_a) = open_model(&a.a, &device, &a.import).context("model A")?;
    let (lb, imported_b) = open_model(&a.b, &device, &a.import).context("model B")?;
    check_fits(&la.meta, &data).context("model A")?;
    check_fits(&lb.meta, &data).context("model B")?;
    let n = match a.images {
        0 => data.test.len(),
        k => k.min(data.test.len()),
    };
    let indices: Vec<usize> = (0..n).collect();
    let codes = |m: &crate::model::Vae| -> Result<Vec<f32>> {
        let mut out = Vec::with_capacity(n * 8);
        for chunk in indices.chunks(explore::ENCODE_BATCH) {
            out.extend(explore::test_codes(m, &data.test, chunk, &device)?.0);
        }
        Ok(out)
    };
    let (ca, cb) = (codes(&la.model)?, codes(&lb.model)?);
    if n == 0 {
        bail!("the test split has no images to align on");
    }
    // The explored latent's size, as the codes have it.
    let (da, db) = (ca.len() / n, cb.len() / n);
    let fit = explore::align(&ca, da, &cb, db).context("aligning the codes")?;
    if a.json {
        let rows = |m: &[f64], w: usize| -> Vec<Vec<f64>> {
            m.chunks_exact(w.max(1)).map(<[f64]>::to_vec).collect()
        };
        let v = serde_json::json!({
            "a": a.a.display().to_string(),
            "b": a.b.display().to_string(),
            "images": fit.n,
            "a_latent": da,
            "b_latent": db,
            "relative_residual": fit.residual,
            "mean_aligned_abs_corr": fit.mean_aligned_corr(),
            "aligned_abs_corr": fit.aligned_corr,
            "mean_diag_abs_corr": fit.mean_raw_diag_corr(),
            "mean_best_abs_corr": fit.mean_best_corr(),
            "abs_corr": rows(&fit.abs_corr, db),
            "canonical_correlations": fit.canonical,
            "rotation": rows(&fit.rotation, fit.width()),
        });
        let mut protocol = Protocol::of_model(
            &la.meta,
            imported_a,
            &data,
            None,
            &backend_flag(a.data.backend),
        );
        let other = Protocol::of_model(
            &lb.meta,
            imported_b,
            &data,
            None,
            &backend_flag(a.data.backend),
        );
        protocol.seeds = match (protocol.seeds.take(), other.seeds) {
            (Some(mut x), Some(y)) => {
                x.extend(y);
                Some(x)
            }
            _ => None,
        };
        // What the two models do not share is not known as one value.
        if protocol.epochs != other.epochs {
            protocol.epochs = None;
        }
        if protocol.batch != other.batch {
            protocol.batch = None;
        }
        if protocol.train_items != other.train_items {
            protocol.train_items = None;
        }
        if protocol.likelihood != other.likelihood {
            protocol.likelihood = None;
        }
        print_json(envelope::ALIGN, protocol, v)?;
        return Ok(());
    }
    let about = |p: &Path, l: &checkpoint::Loaded| {
        format!(
            "{} ({} {}, latent {}, epoch {})",
            p.display(),
            l.meta.train.variant,
            l.meta.train.model.arch,
            l.meta.train.model.latent_dim,
            l.meta.epoch
        )
    };
    outln!(
        "A = {}\nB = {}\non the first {} test images of {}",
        about(&a.a, &la),
        about(&a.b, &lb),
        fit.n,
        data.name
    );
    outln!(
        "relative residual ‖(A−μA)R − (B−μB)‖F / ‖B−μB‖F: {:.4}  (0: B is a rotation of A; ≈1.41: unrelated)",
        fit.residual
    );
    let list = |v: &[f64]| {
        v.iter()
            .map(|c| format!("{c:.2}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    if da == db {
        outln!(
            "|corr| of dimension j with dimension j, as they are: mean {:.3}",
            fit.mean_raw_diag_corr()
        );
    }
    outln!(
        "best |corr| of each of A's dimensions with one of B's, as they are: mean {:.3}",
        fit.mean_best_corr()
    );
    outln!(
        "|corr| of each of B's dimensions with A's aligned codes: mean {:.3} ({})",
        fit.mean_aligned_corr(),
        list(&fit.aligned_corr)
    );
    outln!("canonical correlations: {}", list(&fit.canonical));
    if da <= 16 && db <= 16 {
        outln!("|corr| of the dimensions as they are (rows: A's, columns: B's):");
        for (i, row) in fit.abs_corr.chunks_exact(db).enumerate() {
            outln!("  z{i:<3} {}", list(row));
        }
    } else {
        outln!("(the |corr| matrix of the dimensions: --json)");
    }
    Ok(())
}

fn sweep_cmd(a: &SweepArgs) -> Result<()> {
    match &a.command {
        SweepCommand::Plan { spec, out, dry_run } => sweep_plan(spec, out, *dry_run),
        SweepCommand::Run(r) => sweep_run(r),
        SweepCommand::Status { dir, json } => sweep_status(dir, *json),
        SweepCommand::Task {
            dir,
            index,
            backend,
        } => sweep_task(dir, *index, *backend),
    }
}

fn sweep_plan(spec: &Path, out: &Path, dry_run: bool) -> Result<()> {
    use crate::sweep::plan;
    crate::paths::input_file(spec).context("the sweep file")?;
    // Every run checked before anything is written.
    let (text, runs) = plan::read_spec(spec)?;
    let keys: Vec<String> = runs
        .first()
        .map(|r| r.axes.iter().map(|(k, _)| k.clone()).collect())
        .unwrap_or_default();
    outln!("{} runs:", runs.len());
    for (i, r) in runs.iter().enumerate() {
        let axes: Vec<String> = r.axes.iter().map(|(k, v)| format!("{k} = {v}")).collect();
        outln!("{i:>5}  {:<32} {}", r.name, axes.join(", "));
    }
    for (names, keys) in crate::sweep::spec::same_models(&runs) {
        eprintln!(
            "warning: {} runs train the same model, differing only in {} (which their variant ignores): {}",
            names.len(),
            keys.join(", "),
            names.join(", ")
        );
    }
    if dry_run {
        outln!("(--dry-run: nothing written; axes {})", keys.join(", "));
        return Ok(());
    }
    match plan::write_plan(out, &text, &runs)? {
        plan::Planned::Written => outln!("planned into {}", out.display()),
        plan::Planned::AlreadyThere => {
            outln!(
                "{} already holds this sweep: nothing changed",
                out.display()
            )
        }
    }
    Ok(())
}

fn sweep_run(a: &SweepRunArgs) -> Result<()> {
    use crate::sweep::{local, slurm};
    let dir = a
        .dir
        .canonicalize()
        .with_context(|| format!("{}", a.dir.display()))?;
    let plan = crate::sweep::Plan::read(&dir)?;
    let exe = std::env::current_exe().context("finding this program's path for the tasks")?;
    match a.launcher {
        Launcher::Local => {
            let jobs = a.jobs.unwrap_or_else(|| {
                let j = local::default_jobs();
                eprintln!(
                    "{j} run(s) at a time: one per two cores (each run splits its batches over two lanes); --jobs N to change"
                );
                j
            });
            if let Err(e) = crate::interrupt::install() {
                tracing::warn!("Ctrl-C will end the sweep without stopping its runs: {e}");
            }
            let mut report = |ev: local::LocalEvent| match ev {
                local::LocalEvent::Skipped { name, why } => eprintln!("{name}: {why}"),
                local::LocalEvent::Started { name, resuming } => {
                    eprintln!("{name}: {}", if resuming { "resuming" } else { "started" })
                }
                local::LocalEvent::Ended { name, code } => eprintln!(
                    "{name}: ended ({})",
                    code.map_or("killed".to_string(), |c| format!("exit {c}"))
                ),
            };
            let summary = local::run(
                &plan,
                &exe,
                jobs,
                &backend_flag(a.backend),
                &crate::interrupt::requested,
                &mut report,
            )?;
            outln!(
                "{} done now, {} done before, {} failed, {} stopped (of {})",
                summary.done.len(),
                summary.already_done.len(),
                summary.failed.len(),
                summary.stopped.len(),
                plan.runs.len()
            );
            for (name, why) in &summary.failed {
                outln!("failed: {name}: {why}");
            }
            if !summary.stopped.is_empty() {
                return Err(crate::interrupt::Interrupted(format!(
                    "the sweep was stopped: {} run(s) stopped or not started; `latent-explorer sweep run {} --launcher local` goes on",
                    summary.stopped.len(),
                    dir.display()
                ))
                .into());
            }
            if !summary.failed.is_empty() {
                bail!(
                    "{} run(s) failed (see above and their train.log)",
                    summary.failed.len()
                );
            }
            Ok(())
        }
        Launcher::Slurm => {
            let opts = slurm::SlurmOptions {
                partition: a.partition.clone(),
                max_parallel: a.max_parallel,
                time: a.time.clone(),
                cpus_per_task: a.cpus_per_task,
                extra: a.sbatch_arg.clone(),
                backend: backend_flag(a.backend),
            };
            let job = slurm::submit(&plan, &exe, &opts)?;
            outln!(
                "submitted job {} ({} tasks) from {}; `latent-explorer sweep status {}` follows it",
                job.job_id,
                job.tasks,
                dir.join(slurm::SBATCH_FILE).display(),
                dir.display()
            );
            Ok(())
        }
    }
}

fn sweep_status(dir: &Path, json: bool) -> Result<()> {
    use crate::sweep::RunState;
    let plan = crate::sweep::Plan::read(dir)?;
    let statuses = crate::sweep::sweep_status(&plan);
    let job = crate::sweep::slurm::job(dir);
    let queue = match &job {
        Some(j) => match crate::sweep::slurm::queue_states(&j.job_id) {
            Ok(q) => Some(q),
            Err(e) => {
                eprintln!("job {}: {e}", j.job_id);
                None
            }
        },
        None => None,
    };
    let rows: Vec<serde_json::Value> = statuses
        .iter()
        .enumerate()
        .map(|(i, st)| {
            // The queue's word for the task, where a submitted job is known to it.
            let queued = queue.as_ref().and_then(|q| q.get(&i)).cloned();
            let in_queue = |q: &str| if q == "RUNNING" { "running" } else { "queued" };
            let (state, detail) = match &st.state {
                RunState::Done { epoch } => ("done", format!("{epoch} epochs")),
                RunState::Failed { error, .. } => ("failed", error.clone()),
                RunState::Started {
                    epoch,
                    epochs,
                    idle_secs,
                } => {
                    let state = match (&queue, queued.as_deref()) {
                        (_, Some(q)) => in_queue(q),
                        // Known to no queue: the job ended without it finishing.
                        (Some(_), None) => "stopped",
                        // No queue to ask (local): running now, or stopped.
                        (None, None) => "started",
                    };
                    let resumes = if st.resumable {
                        "; resumes from there"
                    } else {
                        ""
                    };
                    (
                        state,
                        format!(
                            "epoch {epoch} of {epochs}, last written {idle_secs:.0} s ago{resumes}"
                        ),
                    )
                }
                RunState::Planned => match queued.as_deref() {
                    Some(q) => (in_queue(q), q.to_lowercase()),
                    None => ("planned", String::new()),
                },
            };
            serde_json::json!({
                "run": st.entry.name, "state": state, "detail": detail,
                "queue": queued, "test": st.metrics,
            })
        })
        .collect();
    if json {
        return print_json(
            envelope::SWEEP_STATUS,
            Protocol::of_sweep(&plan),
            serde_json::json!({ "dir": dir, "job": job, "runs": rows }),
        );
    }
    if let Some(j) = &job {
        outln!("Slurm job {} ({} tasks)", j.job_id, j.tasks);
    }
    let mut counts: Vec<(String, usize)> = Vec::new();
    for r in &rows {
        let state = r["state"].as_str().unwrap_or("").to_string();
        let neg_elbo = r["test"]["neg_elbo"]
            .as_f64()
            .map(|v| format!("{v:.2}"))
            .unwrap_or_else(|| "–".into());
        outln!(
            "{:<32} {:<8} {:>9}  {}",
            r["run"].as_str().unwrap_or(""),
            state,
            neg_elbo,
            r["detail"].as_str().unwrap_or("")
        );
        match counts.iter_mut().find(|(s, _)| *s == state) {
            Some((_, n)) => *n += 1,
            None => counts.push((state, 1)),
        }
    }
    let parts: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
    outln!("{} runs: {}", rows.len(), parts.join(", "));
    Ok(())
}

fn sweep_task(dir: &Path, index: usize, backend: BackendChoice) -> Result<()> {
    use crate::sweep::task::{TaskStep, prepare};
    let plan = crate::sweep::Plan::read(dir)?;
    let task = prepare(&plan, index)?;
    let name = &task.entry.name;
    let args: Vec<String> = match &task.step {
        TaskStep::Done => {
            outln!("{name}: done already");
            return Ok(());
        }
        TaskStep::Failed(e) => bail!("{name} failed before, and would again: {e}"),
        TaskStep::Fresh => vec![
            "train".into(),
            "--config".into(),
            task.config.display().to_string(),
            "--run-dir".into(),
            task.dir.display().to_string(),
        ],
        TaskStep::Resume => vec![
            "train".into(),
            "--resume".into(),
            task.dir.display().to_string(),
        ],
    };
    eprintln!(
        "{name} (task {index}): {}",
        if task.step == TaskStep::Resume {
            "resuming"
        } else {
            "training"
        }
    );
    let mut argv = vec!["latent-explorer".to_string()];
    argv.extend(args);
    argv.extend(["--backend".to_string(), backend_flag(backend)]);
    let matches = <Cli as clap::CommandFactory>::command()
        .try_get_matches_from(&argv)
        .context("the task's train command")?;
    let cli = <Cli as clap::FromArgMatches>::from_arg_matches(&matches)
        .context("the task's train command")?;
    run(cli, &matches)
}

/// `backend` as the `--backend` flag takes it.
fn backend_flag(backend: BackendChoice) -> String {
    clap::ValueEnum::to_possible_value(&backend)
        .map(|v| v.get_name().to_string())
        .unwrap_or_else(|| "cpu".into())
}
