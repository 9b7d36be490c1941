//! The command line: `app`, `train`, `eval`, `sample`, `reconstruct`, `import`, `bench`,
//! `compare`. A thin edge: runs are described by the library's [`RunSpec`], saved through
//! [`checkpoint::save_snapshot`], and opened with [`import::load_any`], as in the app.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use burn::tensor::{Device, Distribution, Tensor};
use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};

use crate::backend::BackendChoice;
use crate::bench::{self, BenchConfig};
use crate::checkpoint::{self, CheckpointMeta, DatasetInfo};
use crate::data::{Batcher, Dataset};
use crate::export::{grid_image, save_png};
use crate::import::{self, ImportOptions, KeyMap};
use crate::rundir::RunDirWriter;
use crate::train::metrics::host_vec;
use crate::train::probe::DigitProbe;
use crate::train::share::SharingPolicy;
use crate::train::{EvalMetrics, RunSpec, TrainConfig, TrainError, Trainer, evaluate};
use crate::variant::VariantKind;

/// Train and explore variational autoencoders.
#[derive(Debug, Parser)]
#[command(name = "latent-explorer", version, about, long_about = None)]
pub struct Cli {
    /// What to do; with none, print help.
    #[command(subcommand)]
    pub command: Option<Commands>,
}

/// Subcommands.
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
    /// Reconstruct test digits into a PNG (originals above reconstructions).
    Reconstruct(ReconstructArgs),
    /// Convert a PyTorch model (state dict or safetensors) into a checkpoint.
    Import(ImportCmdArgs),
    /// Time training throughput and decode latency.
    Bench(BenchArgs),
    /// Train several variants on the same data, seed and budget; print one table.
    Compare(CompareArgs),
    /// What each variant optimises, its paper, and what to look for in the app.
    Variants(VariantsArgs),
}

/// `variants` options.
#[derive(Debug, Clone, Args)]
pub struct VariantsArgs {
    /// Only these variants (default: all).
    #[arg(value_enum)]
    pub variants: Vec<VariantKind>,
}

/// `compare` options.
#[derive(Debug, Clone, Args)]
pub struct CompareArgs {
    /// Variants, comma-separated (default: all).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub variants: Vec<VariantKind>,
    /// Epochs each.
    #[arg(long, default_value_t = 10)]
    pub epochs: usize,
    /// Batch size.
    #[arg(long, default_value_t = 128)]
    pub batch: usize,
    /// Latent dimensions.
    #[arg(long, default_value_t = 20)]
    pub latent: usize,
    /// Seed (the same for every variant).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Importance samples for the IWAE NLL where the bound is defined (0: skip).
    #[arg(long, default_value_t = 500)]
    pub iwae_k: usize,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Skip scoring samples with the digit-classifier probe.
    #[arg(long)]
    pub no_probe: bool,
    /// Data and backend.
    #[command(flatten)]
    pub data: DataArgs,
}

/// Where data and compute come from.
#[derive(Debug, Clone, Args)]
pub struct DataArgs {
    /// Directory with the four MNIST-format files (raw or .gz); default: the bundled subset.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Compute backend.
    #[arg(long, value_enum, default_value_t = BackendChoice::Cpu)]
    pub backend: BackendChoice,
}

impl DataArgs {
    fn load(&self) -> Result<(Arc<Dataset>, Device)> {
        let data = Dataset::load(self.data.as_deref()).context("loading the dataset")?;
        let device = self
            .backend
            .device()
            .context("creating the compute device")?;
        Ok((Arc::new(data), device))
    }
}

/// `train` options.
#[derive(Debug, Clone, Args)]
pub struct TrainArgs {
    /// The run: variant, architecture, optimiser, schedule, seed, epochs.
    #[command(flatten)]
    pub spec: RunSpec,
    /// Importance samples for the final IWAE NLL estimate (0: skip).
    #[arg(long, default_value_t = 500)]
    pub final_iwae_k: usize,
    /// Checkpoint file, rewritten atomically after every epoch (default
    /// checkpoints/vae.safetensors; with --run-dir, only if given).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Run directory: a checkpoint per epoch and the metrics as JSON lines, which the app
    /// follows live (`latent-explorer app --follow DIR`), here or through a shared folder.
    #[arg(long)]
    pub run_dir: Option<PathBuf>,
    /// Print one JSON object per epoch instead of a table.
    #[arg(long)]
    pub json: bool,
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
            .filter(|&n| (1..=16_384).contains(&n))
            .ok_or_else(|| format!("{s:?}: sides must be whole numbers in 1..=16384"))
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
    /// Follow a run directory that `latent-explorer train --run-dir DIR` is writing
    /// (repeatable).
    #[arg(long, value_name = "DIR")]
    pub follow: Vec<PathBuf>,
    /// Start the preset: VAE, β-VAE, IWAE and WAE-MMD training on the same data and seed.
    #[arg(long)]
    pub preset: bool,
    /// Start a run of this variant from the saved settings (repeatable).
    #[arg(long = "train", value_enum, value_name = "VARIANT")]
    pub train: Vec<VariantKind>,
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
    /// Key map and image size for PyTorch files.
    #[command(flatten)]
    pub import: ImportArgs,
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
    #[arg(long, default_value_t = 500)]
    pub iwae_k: usize,
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
    #[arg(long, default_value_t = 64)]
    pub n: usize,
    /// Seed for z ~ N(0, I).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Compute backend.
    #[arg(long, value_enum, default_value_t = BackendChoice::Cpu)]
    pub backend: BackendChoice,
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
    /// Test digits to reconstruct.
    #[arg(long, default_value_t = 16)]
    pub n: usize,
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
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// Batch size.
    #[arg(long, default_value_t = 128)]
    pub batch: usize,
    /// Timed epochs over the training set.
    #[arg(long, default_value_t = 3)]
    pub epochs: usize,
    /// Directory with MNIST-format files; default: the bundled subset.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Run the CLI.
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        None => app(&AppArgs::default()),
        Some(Commands::App(a)) => app(&a),
        Some(Commands::Train(a)) => train(&a),
        Some(Commands::Eval(a)) => eval(&a),
        Some(Commands::Sample(a)) => sample(&a),
        Some(Commands::Reconstruct(a)) => reconstruct(&a),
        Some(Commands::Import(a)) => import_cmd(&a),
        Some(Commands::Bench(a)) => bench_cmd(&a),
        Some(Commands::Compare(a)) => compare_cmd(&a),
        Some(Commands::Variants(a)) => {
            variants_cmd(&a);
            Ok(())
        }
    }
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
            println!();
        }
        let flag = clap::ValueEnum::to_possible_value(v)
            .map(|p| format!(" (--variant {})", p.get_name()))
            .unwrap_or_default();
        println!("{}{flag}", v.label());
        println!("  {}", about.idea);
        println!("  objective:");
        for line in about.objective.lines() {
            println!("    {}", line.trim_start());
        }
        println!("  paper: {}", about.paper);
        println!("  what to look for:");
        for l in about.look_for {
            println!("    - {l}");
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
        open: a.files.clone(),
        follow: a.follow.clone(),
        preset: a.preset,
        train: a.train.clone(),
        import: a.import.options()?,
        ..AppOptions::default()
    };
    let options = eframe::NativeOptions {
        renderer: eframe::Renderer::Wgpu,
        wgpu_options: crate::gpu::wgpu_configuration(),
        viewport: eframe::egui::ViewportBuilder::default()
            .with_inner_size([1600.0, 1000.0])
            .with_title("Latent Explorer")
            .with_drag_and_drop(true),
        ..Default::default()
    };
    eframe::run_native(
        "Latent Explorer",
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
    println!(
        "{label}  {bound}rec {:.2}  KL {:.2}  active units {}/{}  MSE {:.4}{iwae}{extra}",
        m.rec,
        m.kl,
        m.active_units,
        m.kl_per_dim.len(),
        m.mse
    );
}

fn train(a: &TrainArgs) -> Result<()> {
    let (data, device) = a.data.load()?;
    let cfg = a.spec.train_config(&data);
    let mut trainer = Trainer::new(cfg, data.clone(), &device).context("setting up training")?;
    let cfg = trainer.config().clone();
    let out = a.out_path();
    let mut run_dir = match &a.run_dir {
        Some(dir) => Some(
            RunDirWriter::create(dir, &cfg, DatasetInfo::of(&data))
                .context("starting the run directory")?,
        ),
        None => None,
    };
    if !a.json {
        println!(
            "training {} {} latent {} ({}) on {} ({} train / {} test, {}x{}), {} epochs, batch {}, lr {}, device {}",
            cfg.variant,
            cfg.model.arch,
            cfg.model.latent_dim,
            cfg.model.likelihood,
            data.name,
            data.train.len(),
            data.test.len(),
            data.rows(),
            data.cols(),
            cfg.epochs,
            cfg.batch_size,
            cfg.optim.lr,
            a.data.backend
        );
    }
    // Whatever ends training, a followed run directory learns that it ended, and why.
    let result = (|| -> Result<()> {
        let save = |trainer: &Trainer, metrics: Option<EvalMetrics>| -> Result<()> {
            match &out {
                Some(path) => checkpoint::save_snapshot(
                    path,
                    &trainer.snapshot(),
                    DatasetInfo::of(&data),
                    metrics,
                )
                .context("saving the checkpoint"),
                None => Ok(()),
            }
        };
        let per_epoch = trainer.steps_per_epoch();
        for epoch in 1..=cfg.epochs {
            let bar = if a.json {
                ProgressBar::hidden()
            } else {
                ProgressBar::new(per_epoch)
            };
            bar.set_style(
                ProgressStyle::with_template(
                    "epoch {msg} [{bar:30}] {pos}/{len} {per_sec} ETA {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.set_message(format!("{epoch}/{}", cfg.epochs));
            let t0 = std::time::Instant::now();
            let (mut samples, mut loss_sum, mut n) = (0usize, 0.0, 0usize);
            loop {
                let step = match trainer.step() {
                    Ok(o) => o,
                    Err(e @ TrainError::NonFinite { .. }) => {
                        bar.abandon();
                        save(&trainer, None)?;
                        let kept = out
                            .as_ref()
                            .map(|p| {
                                format!("; the last finite weights were saved to {}", p.display())
                            })
                            .unwrap_or_default();
                        bail!("{e}{kept}");
                    }
                    Err(e) => return Err(e).context("training step"),
                };
                if let Some(w) = run_dir.as_mut() {
                    w.step(&step.metrics).context("writing the run directory")?;
                }
                samples += step.metrics.batch;
                loss_sum += step.metrics.get("loss").unwrap_or(0.0);
                n += 1;
                bar.inc(1);
                if step.epoch_done {
                    break;
                }
            }
            bar.finish_and_clear();
            let secs = t0.elapsed().as_secs_f64();
            let samples_per_sec = samples as f64 / secs;
            let m = trainer.evaluate(cfg.eval_iwae_k);
            if a.json {
                println!(
                    "{}",
                    serde_json::json!({
                        "epoch": epoch, "train_loss": loss_sum / n as f64,
                        "samples_per_sec": samples_per_sec, "test": m,
                    })
                );
            } else {
                print_eval(
                    &format!(
                        "epoch {epoch:>2}/{}  train loss {:.2}  {:.0} img/s ",
                        cfg.epochs,
                        loss_sum / n as f64,
                        samples_per_sec
                    ),
                    &m,
                    cfg.variant,
                );
            }
            save(&trainer, Some(m.clone()))?;
            if let Some(w) = run_dir.as_mut() {
                w.epoch(&trainer.snapshot(), &m, samples_per_sec)
                    .context("writing the run directory")?;
            }
        }
        if a.final_iwae_k > 0 {
            let t0 = std::time::Instant::now();
            let m = trainer.evaluate(a.final_iwae_k);
            if a.json {
                println!("{}", serde_json::json!({ "final": m }));
            } else {
                print_eval(
                    &format!("final ({:.1} s)", t0.elapsed().as_secs_f64()),
                    &m,
                    cfg.variant,
                );
            }
            save(&trainer, Some(m.clone()))?;
            if let Some(w) = run_dir.as_mut() {
                w.final_checkpoint(&trainer.snapshot(), &m)
                    .context("writing the run directory")?;
            }
        }
        if let Some(w) = run_dir.as_mut() {
            w.end(trainer.epoch(), trainer.step_count(), None)
                .context("writing the run directory")?;
        }
        if !a.json {
            if let Some(p) = &out {
                println!("checkpoint: {}", p.display());
            }
            if let Some(w) = &run_dir {
                println!("run directory: {}", w.dir().display());
            }
        }
        Ok(())
    })();
    if let (Err(e), Some(w)) = (&result, run_dir.as_mut()) {
        let _ = w.end(
            trainer.epoch(),
            trainer.step_count(),
            Some(format!("{e:#}")),
        );
    }
    result
}

fn load_checkpoint(
    path: &Path,
    device: &Device,
    import: &ImportArgs,
) -> Result<checkpoint::Loaded> {
    import::load_any(path, device, &import.options()?).context("loading the model")
}

fn import_cmd(a: &ImportCmdArgs) -> Result<()> {
    let (bytes, meta) =
        import::import_file(&a.model, &a.import.options()?).context("importing the model")?;
    // Load it once before writing, so a file that would not load is never written.
    checkpoint::from_bytes(&a.out, bytes.clone(), &Device::flex())
        .context("checking the converted model")?;
    crate::atomic::atomic_write_bytes(&a.out, &bytes)
        .with_context(|| format!("writing {}", a.out.display()))?;
    println!(
        "{} → {}: {} {} latent {}, {}x{} images",
        a.model.display(),
        a.out.display(),
        meta.train.variant,
        meta.train.model.arch,
        meta.train.model.latent_dim,
        meta.train.model.rows,
        meta.train.model.cols
    );
    Ok(())
}

fn check_image_size(meta: &CheckpointMeta, data: &Dataset) -> Result<()> {
    let m = &meta.train.model;
    Ok(data.check_image_size(m.rows, m.cols)?)
}

fn eval(a: &EvalArgs) -> Result<()> {
    let (data, device) = a.data.load()?;
    let loaded = load_checkpoint(&a.checkpoint, &device, &a.import)?;
    check_image_size(&loaded.meta, &data)?;
    let m = evaluate(
        &loaded.model,
        loaded.meta.train.model.likelihood,
        &data.test,
        &device,
        500,
        a.iwae_k,
    );
    if a.json {
        println!("{}", serde_json::to_string_pretty(&m)?);
    } else {
        println!(
            "{} ({} {}, epoch {}) on {}",
            a.checkpoint.display(),
            loaded.meta.train.variant,
            loaded.meta.train.model.arch,
            loaded.meta.epoch,
            data.name
        );
        print_eval("", &m, loaded.meta.train.variant);
        let dims: Vec<String> = m.kl_per_dim.iter().map(|k| format!("{k:.2}")).collect();
        println!("KL per dimension: {}", dims.join(" "));
    }
    Ok(())
}

fn sample(a: &SampleArgs) -> Result<()> {
    let device = a.backend.device().context("creating the compute device")?;
    let loaded = load_checkpoint(&a.checkpoint, &device, &a.import)?;
    let cfg = &loaded.meta.train.model;
    if a.n == 0 {
        bail!("--n must be at least 1");
    }
    device.seed(a.seed);
    let z: Tensor<2> = Tensor::random(
        [a.n, cfg.latent_dim],
        Distribution::Normal(0.0, 1.0),
        &device,
    );
    let pixels = host_vec(loaded.model.decode_mean(z));
    let cols = (a.n as f64).sqrt().ceil() as usize;
    let img = grid_image(&pixels, cfg.rows, cfg.cols, cols, 2);
    save_png(&img, &a.out).with_context(|| format!("writing {}", a.out.display()))?;
    println!("{} samples → {}", a.n, a.out.display());
    Ok(())
}

fn reconstruct(a: &ReconstructArgs) -> Result<()> {
    let (data, device) = a.data.load()?;
    let loaded = load_checkpoint(&a.checkpoint, &device, &a.import)?;
    check_image_size(&loaded.meta, &data)?;
    let n = a.n.clamp(1, data.test.len());
    let batch = Batcher::new(device.clone()).batch(&data.test, &(0..n).collect::<Vec<_>>());
    let (mu, _) = loaded.model.encode(batch.images.clone());
    let recon = host_vec(loaded.model.decode_mean(mu));
    let mut pixels = host_vec(batch.images);
    pixels.extend(recon);
    let img = grid_image(&pixels, data.rows(), data.cols(), n, 2);
    save_png(&img, &a.out).with_context(|| format!("writing {}", a.out.display()))?;
    println!(
        "{n} test digits (top) and reconstructions (bottom) → {}",
        a.out.display()
    );
    Ok(())
}

fn compare_cmd(a: &CompareArgs) -> Result<()> {
    let (data, device) = a.data.load()?;
    let variants = if a.variants.is_empty() {
        VariantKind::ALL.to_vec()
    } else {
        a.variants.clone()
    };
    let mut base = TrainConfig {
        batch_size: a.batch,
        epochs: a.epochs,
        seed: a.seed,
        ..TrainConfig::default()
    };
    base.model.latent_dim = a.latent;
    let json = a.json;
    // The fixed probe that scores every variant's samples: a digit classifier trained once
    // on the training split (labels 0..9 only).
    let probe = if a.no_probe || data.train.labels.iter().any(|&l| l > 9) {
        None
    } else {
        let p = DigitProbe::train(&data.train, &device, 5, a.seed);
        if !json {
            eprintln!(
                "sample probe: digit classifier, test accuracy {:.3}",
                p.accuracy(&data.test)
            );
        }
        Some(p)
    };
    let rows = crate::compare::compare(
        &variants,
        &base,
        data.clone(),
        &device,
        a.iwae_k,
        probe.as_ref(),
        |v, e| {
            if !json {
                eprintln!("{v}: epoch {e}/{}", a.epochs);
            }
        },
    )
    .context("comparing variants")?;
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        println!(
            "{} epochs each, batch {}, seed {}, MLP {} latent {}, {} ({} train / {} test)\n",
            a.epochs,
            a.batch,
            a.seed,
            base.model.arch,
            a.latent,
            data.name,
            data.train.len(),
            data.test.len()
        );
        print!("{}", crate::compare::table(&rows, a.iwae_k));
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
    let name = format!("{} ({} threads)", a.backend, rayon::current_num_threads());
    let report = bench::run(&cfg, data.clone(), &device, &name).context("benchmark")?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    println!(
        "latent-explorer bench: MLP VAE 784-400-20, Bernoulli, Adam 1e-3, batch {}, {} train images, {}",
        a.batch,
        data.train.len(),
        name
    );
    println!(
        "{:<12} {:>14} {:>12} {:>10}",
        "epoch", "samples/s", "ms/step", "loss"
    );
    for e in &report.epochs {
        println!(
            "{:<12} {:>14.0} {:>12.2} {:>10.2}",
            e.epoch, e.samples_per_sec, e.ms_per_step, e.last_loss
        );
    }
    println!("{:<12} {:>14.0}", "mean", report.mean_samples_per_sec());
    println!("{:<12} {:>14}", "decode", "ms/decode");
    for d in &report.decode {
        println!("{:<12} {:>14.4}", format!("batch {}", d.batch), d.ms);
    }
    Ok(())
}
