//! The command line: `train`, `eval`, `sample`, `reconstruct`, `bench`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use burn::module::Module;
use burn::tensor::{Device, Distribution, Tensor};
use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};

use crate::backend::BackendChoice;
use crate::bench::{self, BenchConfig};
use crate::checkpoint::{self, CheckpointMeta, DatasetInfo};
use crate::data::{Batcher, Dataset};
use crate::export::{grid_image, save_png};
use crate::model::{ArchConfig, Likelihood, VaeConfig};
use crate::train::metrics::host_vec;
use crate::train::probe::DigitProbe;
use crate::train::{EvalMetrics, OptimConfig, TrainConfig, TrainError, Trainer, evaluate};
use crate::variant::{CycleShape, Kernel, KlSchedule, VariantKind, VariantParams};

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
    /// Time training throughput and decode latency.
    Bench(BenchArgs),
    /// Train several variants on the same data, seed and budget; print one table.
    Compare(CompareArgs),
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

/// Architecture family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ArchKind {
    /// Fully connected (hidden widths from --hidden).
    Mlp,
    /// Two stride-2 convolutions (32/64) and a dense layer.
    Conv,
}

/// Likelihood family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LikelihoodKind {
    /// Bernoulli pixels (BCE with logits).
    Bernoulli,
    /// Gaussian pixels, σ from --sigma (learned with --learn-sigma).
    Gaussian,
}

/// KL schedule family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScheduleKind {
    /// Weight 1 throughout.
    Constant,
    /// Linear warm-up over --warmup-steps.
    Linear,
    /// Cyclical annealing (Fu et al. 2019): --cycles, --cycle-ratio, --cycle-shape.
    Cyclical,
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
    /// Objective.
    #[arg(long, value_enum, default_value_t = VariantKind::Vae)]
    pub variant: VariantKind,
    /// Architecture.
    #[arg(long, value_enum, default_value_t = ArchKind::Mlp)]
    pub arch: ArchKind,
    /// MLP hidden widths, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "400")]
    pub hidden: Vec<usize>,
    /// Latent dimensions.
    #[arg(long, default_value_t = 20)]
    pub latent: usize,
    /// Decoder likelihood.
    #[arg(long, value_enum, default_value_t = LikelihoodKind::Bernoulli)]
    pub likelihood: LikelihoodKind,
    /// Gaussian likelihood σ (fixed, or initial when learned).
    #[arg(long, default_value_t = 0.1)]
    pub sigma: f32,
    /// Learn the Gaussian σ.
    #[arg(long)]
    pub learn_sigma: bool,
    /// Epochs.
    #[arg(long, default_value_t = 10)]
    pub epochs: usize,
    /// Batch size.
    #[arg(long, default_value_t = 128)]
    pub batch: usize,
    /// Adam learning rate.
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f64,
    /// Adam β₁.
    #[arg(long, default_value_t = 0.9)]
    pub adam_beta1: f32,
    /// Adam β₂.
    #[arg(long, default_value_t = 0.999)]
    pub adam_beta2: f32,
    /// L2 weight decay.
    #[arg(long, default_value_t = 0.0)]
    pub weight_decay: f32,
    /// L1 weight penalty.
    #[arg(long, default_value_t = 0.0)]
    pub l1: f64,
    /// KL weight β (default: the variant's: 1 for VAE, 4 for β-VAE).
    #[arg(long)]
    pub beta: Option<f64>,
    /// KL weight schedule.
    #[arg(long, value_enum, default_value_t = ScheduleKind::Constant)]
    pub kl_schedule: ScheduleKind,
    /// Warm-up steps for the linear schedule.
    #[arg(long, default_value_t = 1000)]
    pub warmup_steps: u64,
    /// Cycles M of the cyclical schedule (over the whole run).
    #[arg(long, default_value_t = 4)]
    pub cycles: u32,
    /// Rising fraction R of each cycle.
    #[arg(long, default_value_t = 0.5)]
    pub cycle_ratio: f64,
    /// Shape of each cycle's rise.
    #[arg(long, value_enum, default_value_t = CycleShape::Linear)]
    pub cycle_shape: CycleShape,
    /// Free-bits floor λ per latent dimension (nats).
    #[arg(long)]
    pub free_bits: Option<f64>,
    /// IWAE: importance samples per image in the training bound.
    #[arg(long, default_value_t = 5)]
    pub iwae_k: usize,
    /// WAE-MMD: weight λ of the MMD term.
    #[arg(long, default_value_t = 10.0)]
    pub mmd_lambda: f64,
    /// WAE-MMD: kernel.
    #[arg(long, value_enum, default_value_t = Kernel::Imq)]
    pub mmd_kernel: Kernel,
    /// WAE-Sinkhorn: weight λ of the transport cost.
    #[arg(long, default_value_t = 1.0)]
    pub sinkhorn_lambda: f64,
    /// WAE-Sinkhorn: entropic temperature ε.
    #[arg(long, default_value_t = 1.0)]
    pub sinkhorn_eps: f64,
    /// AAE: weight γ of the discriminator's R1 gradient penalty (0: off).
    #[arg(long, default_value_t = 10.0)]
    pub aae_r1: f64,
    /// VAE-GAN: weight γ of the generator's adversarial loss.
    #[arg(long, default_value_t = 10.0)]
    pub gan_weight: f64,
    /// VQ-VAE: codebook entries K.
    #[arg(long, default_value_t = 512)]
    pub vq_codes: usize,
    /// VQ-VAE: dimensions per codebook entry (divides --latent).
    #[arg(long, default_value_t = 4)]
    pub vq_code_dim: usize,
    /// VQ-VAE: commitment weight β.
    #[arg(long, default_value_t = 0.25)]
    pub vq_commitment: f64,
    /// Two-layer VAE: dimensions of the lower latent z1 (--latent sets the top z2).
    #[arg(long, default_value_t = 50)]
    pub bottom_latent: usize,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Importance samples for an IWAE bound after every epoch (0: skip).
    #[arg(long, default_value_t = 0)]
    pub eval_iwae_k: usize,
    /// Importance samples for the final IWAE NLL estimate (0: skip).
    #[arg(long, default_value_t = 500)]
    pub final_iwae_k: usize,
    /// Checkpoint file (rewritten atomically after every epoch).
    #[arg(long, default_value = "checkpoints/vae.safetensors")]
    pub out: PathBuf,
    /// Print one JSON object per epoch instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Data and backend.
    #[command(flatten)]
    pub data: DataArgs,
}

impl TrainArgs {
    /// The training configuration these options describe (image size set from `data`).
    pub fn config(&self, data: &Dataset, steps_per_epoch: u64) -> TrainConfig {
        let arch = match self.arch {
            ArchKind::Mlp => ArchConfig::Mlp {
                hidden: self.hidden.clone(),
            },
            ArchKind::Conv => ArchConfig::conv_default(),
        };
        let likelihood = match self.likelihood {
            LikelihoodKind::Bernoulli => Likelihood::Bernoulli,
            LikelihoodKind::Gaussian => Likelihood::Gaussian {
                sigma: self.sigma,
                learned: self.learn_sigma,
            },
        };
        let schedule = match self.kl_schedule {
            ScheduleKind::Constant => KlSchedule::Constant,
            ScheduleKind::Linear => KlSchedule::Linear {
                warmup_steps: self.warmup_steps,
            },
            ScheduleKind::Cyclical => KlSchedule::Cyclical {
                total_steps: steps_per_epoch * self.epochs as u64,
                cycles: self.cycles,
                ratio: self.cycle_ratio,
                shape: self.cycle_shape,
            },
        };
        TrainConfig {
            model: VaeConfig {
                arch,
                latent_dim: self.latent,
                likelihood,
                rows: data.rows(),
                cols: data.cols(),
                latent: self.variant.latent_kind(&self.variant_params()),
            },
            variant: self.variant,
            optim: OptimConfig {
                lr: self.lr,
                beta1: self.adam_beta1,
                beta2: self.adam_beta2,
                weight_decay: self.weight_decay,
                l1: self.l1,
            },
            beta: self.beta.unwrap_or(self.variant.default_beta()),
            schedule,
            free_bits: self.free_bits,
            batch_size: self.batch,
            epochs: self.epochs,
            seed: self.seed,
            eval_iwae_k: self.eval_iwae_k,
            variant_params: self.variant_params(),
        }
    }

    /// The variant hyperparameters these options set (the rest at their defaults).
    pub fn variant_params(&self) -> VariantParams {
        VariantParams {
            iwae_k: self.iwae_k,
            mmd_lambda: self.mmd_lambda,
            mmd_kernel: self.mmd_kernel,
            sinkhorn_lambda: self.sinkhorn_lambda,
            sinkhorn_eps: self.sinkhorn_eps,
            aae_r1: self.aae_r1,
            vaegan_gan_weight: self.gan_weight,
            vq_codes: self.vq_codes,
            vq_code_dim: self.vq_code_dim,
            vq_commitment: self.vq_commitment,
            two_layer_bottom: self.bottom_latent,
            ..VariantParams::default()
        }
    }
}

/// `app` options.
#[derive(Debug, Clone, Args, Default)]
pub struct AppArgs {
    /// Where to train and decode (default: the saved setting, initially auto).
    #[arg(long, value_enum)]
    pub device: Option<DeviceArg>,
    /// Measure instead of exploring: after a 10 s warm-up, move a latent slider every few
    /// frames for this many seconds, print frame-time and slider-latency figures as JSON,
    /// and close.
    #[arg(long)]
    pub measure: Option<f64>,
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
    /// Checkpoint file.
    pub checkpoint: PathBuf,
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
    /// Checkpoint file.
    pub checkpoint: PathBuf,
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
    /// Checkpoint file.
    pub checkpoint: PathBuf,
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
        Some(Commands::Bench(a)) => bench_cmd(&a),
        Some(Commands::Compare(a)) => compare_cmd(&a),
    }
}

fn app(a: &AppArgs) -> Result<()> {
    use crate::ui::{AppOptions, DeviceChoice, ExplorerApp};
    let measure_secs = a.measure;
    let device = a.device.map(|d| match d {
        DeviceArg::Auto => DeviceChoice::Auto,
        DeviceArg::Gpu => DeviceChoice::Gpu,
        DeviceArg::Cpu => DeviceChoice::Cpu,
    });
    let options = eframe::NativeOptions {
        renderer: eframe::Renderer::Wgpu,
        wgpu_options: crate::gpu::wgpu_configuration(),
        viewport: eframe::egui::ViewportBuilder::default()
            .with_inner_size([1600.0, 1000.0])
            .with_title("Latent Explorer"),
        ..Default::default()
    };
    eframe::run_native(
        "Latent Explorer",
        options,
        Box::new(move |cc| {
            Ok(Box::new(ExplorerApp::new(
                cc,
                AppOptions {
                    device,
                    measure_secs,
                    ..AppOptions::default()
                },
            )))
        }),
    )
    .map_err(|e| {
        let e = e.to_string();
        if e.contains("DISPLAY") {
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
    let steps = a.batch.max(1);
    let cfg = a.config(&data, data.train.len().div_ceil(steps) as u64);
    let mut trainer = Trainer::new(cfg, data.clone(), &device).context("setting up training")?;
    let cfg = trainer.config().clone();
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
    let per_epoch = trainer.steps_per_epoch();
    let mut last = None;
    for epoch in 1..=cfg.epochs {
        let bar = if a.json {
            ProgressBar::hidden()
        } else {
            ProgressBar::new(per_epoch)
        };
        bar.set_style(
            ProgressStyle::with_template("epoch {msg} [{bar:30}] {pos}/{len} {per_sec} ETA {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_message(format!("{epoch}/{}", cfg.epochs));
        let t0 = std::time::Instant::now();
        let (mut samples, mut loss_sum, mut n) = (0usize, 0.0, 0usize);
        loop {
            let out = match trainer.step() {
                Ok(o) => o,
                Err(e @ TrainError::NonFinite { .. }) => {
                    bar.abandon();
                    save_checkpoint(a, &trainer, &data, last.clone())?;
                    bail!(
                        "{e}; the last finite weights were saved to {}",
                        a.out.display()
                    );
                }
                Err(e) => return Err(e).context("training step"),
            };
            samples += out.metrics.batch;
            loss_sum += out.metrics.get("loss").unwrap_or(0.0);
            n += 1;
            bar.inc(1);
            if out.epoch_done {
                break;
            }
        }
        bar.finish_and_clear();
        let secs = t0.elapsed().as_secs_f64();
        let m = trainer.evaluate(cfg.eval_iwae_k);
        if a.json {
            println!(
                "{}",
                serde_json::json!({
                    "epoch": epoch, "train_loss": loss_sum / n as f64,
                    "samples_per_sec": samples as f64 / secs, "test": m,
                })
            );
        } else {
            print_eval(
                &format!(
                    "epoch {epoch:>2}/{}  train loss {:.2}  {:.0} img/s ",
                    cfg.epochs,
                    loss_sum / n as f64,
                    samples as f64 / secs
                ),
                &m,
                cfg.variant,
            );
        }
        last = Some(m);
        save_checkpoint(a, &trainer, &data, last.clone())?;
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
        last = Some(m);
        save_checkpoint(a, &trainer, &data, last)?;
    }
    if !a.json {
        println!("checkpoint: {}", a.out.display());
    }
    Ok(())
}

fn save_checkpoint(
    a: &TrainArgs,
    trainer: &Trainer,
    data: &Dataset,
    metrics: Option<EvalMetrics>,
) -> Result<()> {
    let meta = CheckpointMeta::new(
        trainer.config().clone(),
        DatasetInfo::of(data),
        trainer.epoch(),
        trainer.step_count(),
        metrics,
    );
    checkpoint::save(
        &a.out,
        &trainer.inference_model(),
        &trainer.aux().valid(),
        &meta,
    )
    .context("saving the checkpoint")
}

fn load_checkpoint(path: &Path, device: &Device) -> Result<checkpoint::Loaded> {
    checkpoint::load(path, device).context("loading the checkpoint")
}

fn check_image_size(meta: &CheckpointMeta, data: &Dataset) -> Result<()> {
    let m = &meta.train.model;
    if (m.rows, m.cols) != (data.rows(), data.cols()) {
        bail!(
            "the checkpoint's model takes {}x{} images but the data has {}x{}",
            m.rows,
            m.cols,
            data.rows(),
            data.cols()
        );
    }
    Ok(())
}

fn eval(a: &EvalArgs) -> Result<()> {
    let (data, device) = a.data.load()?;
    let loaded = load_checkpoint(&a.checkpoint, &device)?;
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
    let loaded = load_checkpoint(&a.checkpoint, &device)?;
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
    let loaded = load_checkpoint(&a.checkpoint, &device)?;
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
