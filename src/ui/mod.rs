//! The desktop app: panels (one per file) that only draw and emit [`UiCommand`]s, and the
//! logic ([`ExplorerApp::logic_step`]) that reads worker and decoder events and applies those
//! commands. The worker trains, the decoder decodes; the UI thread never waits for either.

mod curves;
pub mod decoder;
mod grid;
mod prior;
mod recon;
mod sliders;
mod status;
mod tiles;
mod training;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use burn::tensor::Device;
use eframe::egui;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr_free::normal;
use serde::{Deserialize, Serialize};

use crate::data::Dataset;
use crate::explore::{self, Spacing};
use crate::gpu::{self, Colormap};
use crate::model::{ArchConfig, Likelihood, VaeConfig};
use crate::train::{
    Command, EvalMetrics, Event, OptimConfig, TrainConfig, WorkerHandle, WorkerState, spawn,
};
use crate::variant::{CycleShape, KlSchedule, VariantKind};
use decoder::{Decoder, Images, Job, LatentStats, Output, ViewKey};

/// Small standard-normal sampler on top of any RNG (Box–Muller), to avoid another crate.
mod rand_distr_free {
    use rand::Rng;

    /// One standard-normal draw.
    pub fn normal<R: Rng>(rng: &mut R) -> f32 {
        let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
        let u2: f64 = rng.random::<f64>();
        ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32
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

/// Architecture family in the settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ArchChoice {
    /// MLP.
    #[default]
    Mlp,
    /// Convolutional.
    Conv,
}

/// KL schedule family in the settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ScheduleChoice {
    /// Constant.
    #[default]
    Constant,
    /// Linear warm-up.
    Linear,
    /// Cyclical.
    Cyclical,
}

/// How the interpolation grid picks its two directions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum GridAxes {
    /// Two latent dimensions.
    #[default]
    Dims,
    /// The top two principal directions of the encoded test set.
    Principal,
}

/// Everything the user sets; persisted between runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Directory of MNIST-format files to train on; empty for the bundled digits.
    pub data_dir: String,
    /// Objective.
    pub variant: VariantKind,
    /// Architecture.
    pub arch: ArchChoice,
    /// MLP hidden width.
    pub hidden: usize,
    /// Latent dimensions.
    pub latent: usize,
    /// β.
    pub beta: f64,
    /// KL schedule.
    pub schedule: ScheduleChoice,
    /// Linear warm-up steps.
    pub warmup_steps: u64,
    /// Cyclical: cycles.
    pub cycles: u32,
    /// Cyclical: rising ratio.
    pub cycle_ratio: f64,
    /// Free bits enabled.
    pub free_bits_on: bool,
    /// Free bits λ.
    pub free_bits: f64,
    /// Learning rate.
    pub lr: f64,
    /// Batch size.
    pub batch: usize,
    /// Epochs.
    pub epochs: usize,
    /// Seed.
    pub seed: u64,
    /// Device.
    pub device: DeviceChoice,
    /// Colour map of image panels.
    pub colormap: Colormap,
    /// Interpolation grid side (2..=32).
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
    /// Test digits in the reconstruction row.
    pub recon_count: usize,
    /// The label a conditional VAE decodes under.
    pub label: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            data_dir: String::new(),
            variant: VariantKind::Vae,
            arch: ArchChoice::Mlp,
            hidden: 400,
            latent: 20,
            beta: 1.0,
            schedule: ScheduleChoice::Constant,
            warmup_steps: 1000,
            cycles: 4,
            cycle_ratio: 0.5,
            free_bits_on: false,
            free_bits: 0.1,
            lr: 1e-3,
            batch: 128,
            epochs: 50,
            seed: 0,
            device: DeviceChoice::Auto,
            colormap: Colormap::Gray,
            grid_size: 15,
            grid_spacing: Spacing::InverseCdf,
            grid_range: 2.5,
            grid_axes: GridAxes::Principal,
            grid_dims: [0, 1],
            smoothing: 0.9,
            log_scale: false,
            recon_count: 12,
            label: 0,
        }
    }
}

impl Settings {
    /// The KL schedule these settings describe, for a run of `total_steps`.
    pub fn kl_schedule(&self, total_steps: u64) -> KlSchedule {
        match self.schedule {
            ScheduleChoice::Constant => KlSchedule::Constant,
            ScheduleChoice::Linear => KlSchedule::Linear {
                warmup_steps: self.warmup_steps.max(1),
            },
            ScheduleChoice::Cyclical => KlSchedule::Cyclical {
                total_steps: total_steps.max(self.cycles.max(1) as u64),
                cycles: self.cycles.max(1),
                ratio: self.cycle_ratio.clamp(0.01, 1.0),
                shape: CycleShape::Linear,
            },
        }
    }

    /// The training configuration for `data`.
    pub fn train_config(&self, data: &Dataset) -> TrainConfig {
        let steps = data.train.len().div_ceil(self.batch.max(1)) as u64 * self.epochs as u64;
        TrainConfig {
            model: VaeConfig {
                arch: match self.arch {
                    ArchChoice::Mlp => ArchConfig::Mlp {
                        hidden: vec![self.hidden.max(1)],
                    },
                    ArchChoice::Conv => ArchConfig::conv_default(),
                },
                latent_dim: self.latent.max(1),
                likelihood: Likelihood::Bernoulli,
                rows: data.rows(),
                cols: data.cols(),
                latent: self
                    .variant
                    .latent_kind(&crate::variant::VariantParams::default()),
            },
            variant: self.variant,
            optim: OptimConfig {
                lr: self.lr,
                ..OptimConfig::default()
            },
            beta: self.beta,
            schedule: self.kl_schedule(steps),
            free_bits: self.free_bits_on.then_some(self.free_bits),
            batch_size: self.batch.max(1),
            epochs: self.epochs.max(1),
            seed: self.seed,
            eval_iwae_k: 0,
            variant_params: crate::variant::VariantParams::default(),
        }
    }
}

/// What panels ask for; applied by the logic step.
#[derive(Debug, Clone, PartialEq)]
pub enum UiCommand {
    /// Forward to the worker.
    Worker(Command),
    /// Start training (a new run if none is running).
    Start,
    /// Discard the run and start a fresh one with the current settings.
    Reset,
    /// Set one latent coordinate.
    SetLatent(usize, f32),
    /// Draw the latent vector from the prior.
    RandomizeLatent,
    /// Set the latent vector to zero.
    ZeroLatent,
    /// Start the sliders from test digit `i`'s code.
    EncodeDigit(usize),
    /// Decode under this label (conditional VAE).
    SetLabel(usize),
    /// New prior samples.
    ResamplePrior,
    /// The grid settings changed.
    GridChanged,
    /// The reconstruction settings changed.
    ReconChanged,
    /// Forget the errors shown.
    ClearErrors,
}

/// Loss history for the curves.
#[derive(Debug, Default, Clone)]
pub struct History {
    /// Per step: `[step, loss, rec, kl]`.
    pub steps: Vec<[f64; 4]>,
    /// Per step: `[step, kl weight]`.
    pub kl_weight: Vec<[f64; 2]>,
    /// Per epoch: `(epoch, step, metrics)`.
    pub epochs: Vec<(usize, u64, EvalMetrics)>,
}

/// Worker status for the status line.
#[derive(Debug, Clone)]
pub struct Status {
    /// Worker state.
    pub state: WorkerState,
    /// Last step seen.
    pub step: u64,
    /// Last epoch reported.
    pub epoch: usize,
    /// Training speed.
    pub samples_per_sec: f64,
    /// Errors (newest last), never swallowed.
    pub errors: Vec<String>,
    /// Informational notes (hyperparameter changes).
    pub notes: VecDeque<String>,
}

impl Default for Status {
    fn default() -> Self {
        Self {
            state: WorkerState::Idle,
            step: 0,
            epoch: 0,
            samples_per_sec: 0.0,
            errors: Vec::new(),
            notes: VecDeque::new(),
        }
    }
}

/// Frame timing and slider latency.
#[derive(Debug, Default, Clone)]
pub struct FrameStats {
    /// Recent frame-to-frame times (ms).
    pub frame_ms: VecDeque<f32>,
    /// Frame counter.
    pub frame: u64,
    /// Recent slider → image latencies in frames.
    pub slider_frames: VecDeque<u64>,
    /// Recent time spent building the UI per frame (ms).
    pub ui_ms: VecDeque<f32>,
    last: Option<Instant>,
    slider_pending: Option<(u64, u64)>,
}

impl FrameStats {
    /// A percentile of the recent frame times.
    pub fn percentile(&self, p: f32) -> f32 {
        if self.frame_ms.is_empty() {
            return 0.0;
        }
        let mut v: Vec<f32> = self.frame_ms.iter().copied().collect();
        v.sort_by(f32::total_cmp);
        let i = ((v.len() - 1) as f32 * p).round() as usize;
        v[i.min(v.len() - 1)]
    }
}

/// Options for starting the app (tests use a CPU device and small data).
#[derive(Clone)]
pub struct AppOptions {
    /// Dataset (default: the bundled subset).
    pub data: Option<Arc<Dataset>>,
    /// Override the persisted device choice.
    pub device: Option<DeviceChoice>,
    /// Start training at once.
    pub autostart: bool,
    /// Override settings entirely (ignores persisted ones).
    pub settings: Option<Settings>,
    /// Measurement mode: repaint continuously, move a latent slider every few frames after a
    /// warm-up, print frame-time and slider-latency figures after this many seconds, and close.
    pub measure_secs: Option<f64>,
}

impl Default for AppOptions {
    fn default() -> Self {
        Self {
            data: None,
            device: None,
            autostart: true,
            settings: None,
            measure_secs: None,
        }
    }
}

/// The explorer application.
pub struct ExplorerApp {
    /// User settings.
    pub settings: Settings,
    data: Arc<Dataset>,
    /// The directory `data` came from ("" for the bundled or given data).
    data_source: String,
    device: Device,
    device_label: String,
    adapter_label: String,
    gpu_buffers: bool,
    render_state: Option<eframe::egui_wgpu::RenderState>,
    worker: Option<WorkerHandle>,
    decoder: Option<Decoder>,
    waker: Arc<dyn Fn() + Send + Sync>,
    worker_waker: Arc<dyn Fn() + Send + Sync>,
    /// Loss history.
    pub history: History,
    /// Worker status.
    pub status: Status,
    latent: Vec<f32>,
    digit: usize,
    /// The sliders show the chosen digit's code and follow it as the encoder trains, until
    /// the user moves a slider.
    follow_digit: bool,
    stats: Option<LatentStats>,
    images: HashMap<ViewKey, Images>,
    image_versions: HashMap<ViewKey, u64>,
    prior_seed: u64,
    commands: Vec<UiCommand>,
    /// Frame timing.
    pub frames: FrameStats,
    latent_dirty: bool,
    grid_dirty: bool,
    recon_dirty: bool,
    prior_dirty: bool,
    inline_decode: bool,
    measure: Option<Measure>,
    /// The variant of the current run (the settings may have changed since it started).
    pub running_variant: VariantKind,
}

/// State of the measurement mode.
struct Measure {
    start: Instant,
    secs: f64,
    all_frames: Vec<f32>,
    all_ui: Vec<f32>,
    latencies: Vec<u64>,
    flip: bool,
    steps_at_warmup: Option<(u64, Instant)>,
}

/// Longest a slider decode may take on the UI thread before decoding moves off it.
const INLINE_DECODE_BUDGET: std::time::Duration = std::time::Duration::from_millis(3);

/// Longest delay between a training event and the redraw that shows it.
const WORKER_REPAINT: std::time::Duration = std::time::Duration::from_millis(50);

/// Seconds of warm-up before the measurement mode starts recording.
const MEASURE_WARMUP: f64 = 10.0;

/// Drop every other point of the older half of a series (the newer half stays whole).
fn thin_older_half<T: Copy>(v: &mut Vec<T>) {
    let half = v.len() / 2;
    let mut out: Vec<T> = v[..half].iter().step_by(2).copied().collect();
    out.extend_from_slice(&v[half..]);
    *v = out;
}

fn percentile(v: &mut [f32], p: f32) -> f32 {
    if v.is_empty() {
        return f32::NAN;
    }
    v.sort_by(f32::total_cmp);
    v[(((v.len() - 1) as f32) * p).round() as usize]
}

impl ExplorerApp {
    /// Build the app from eframe's creation context.
    pub fn new(cc: &eframe::CreationContext<'_>, opts: AppOptions) -> Self {
        let mut settings = opts.settings.clone().unwrap_or_else(|| {
            cc.storage
                .and_then(|s| eframe::get_value(s, eframe::APP_KEY))
                .unwrap_or_default()
        });
        if let Some(d) = opts.device {
            settings.device = d;
        }
        let mut status = Status::default();
        let data = match opts.data.clone() {
            Some(d) => d,
            None => match Dataset::bundled() {
                Ok(d) => Arc::new(d),
                Err(e) => {
                    status.errors.push(format!("loading the bundled data: {e}"));
                    Arc::new(Dataset {
                        name: "none".into(),
                        train: crate::data::Split::empty(28, 28),
                        test: crate::data::Split::empty(28, 28),
                    })
                }
            },
        };
        let render_state = cc.wgpu_render_state.clone();
        if let Some(rs) = &render_state {
            gpu::tiles::install(rs);
        }
        let ctx = cc.egui_ctx.clone();
        let waker: Arc<dyn Fn() + Send + Sync> = Arc::new(move || ctx.request_repaint());
        // Training events arrive at every step; redrawing the curves 20 times a second is
        // plenty and leaves the CPU to training (frames cost ~170 ms on a software rasteriser).
        let ctx = cc.egui_ctx.clone();
        let worker_waker: Arc<dyn Fn() + Send + Sync> =
            Arc::new(move || ctx.request_repaint_after(WORKER_REPAINT));
        let mut app = Self {
            latent: vec![0.0; settings.latent.max(1)],
            settings,
            data,
            data_source: String::new(),
            device: Device::flex(),
            device_label: String::new(),
            adapter_label: render_state
                .as_ref()
                .map(|rs| gpu::describe(&rs.adapter.get_info()))
                .unwrap_or_else(|| "none (no wgpu renderer)".into()),
            gpu_buffers: false,
            render_state,
            worker: None,
            decoder: None,
            waker,
            worker_waker,
            history: History::default(),
            status,
            digit: 0,
            follow_digit: true,
            stats: None,
            images: HashMap::new(),
            image_versions: HashMap::new(),
            prior_seed: 1,
            commands: Vec::new(),
            frames: FrameStats::default(),
            latent_dirty: true,
            grid_dirty: true,
            recon_dirty: true,
            prior_dirty: true,
            inline_decode: true,
            running_variant: VariantKind::Vae,
            measure: opts.measure_secs.map(|secs| Measure {
                start: Instant::now(),
                secs,
                all_frames: Vec::new(),
                all_ui: Vec::new(),
                latencies: Vec::new(),
                flip: false,
                steps_at_warmup: None,
            }),
        };
        app.choose_device();
        if opts.autostart {
            app.commands.push(UiCommand::Start);
        }
        app
    }

    /// Pick the training/decoding device from the settings and the adapter.
    fn choose_device(&mut self) {
        let hardware = self
            .render_state
            .as_ref()
            .is_some_and(|rs| !gpu::is_software(&rs.adapter.get_info()));
        let want_gpu = match self.settings.device {
            DeviceChoice::Cpu => false,
            DeviceChoice::Auto => hardware,
            DeviceChoice::Gpu => true,
        };
        let shared = if want_gpu {
            match self.render_state.as_ref().map(gpu::shared_burn_device) {
                Some(Ok(d)) => Some(d),
                Some(Err(e)) => {
                    self.status.errors.push(format!(
                        "cannot share the wgpu device with burn: {e}; using the CPU"
                    ));
                    None
                }
                None => {
                    self.status
                        .errors
                        .push("no wgpu renderer: training on the CPU".into());
                    None
                }
            }
        } else {
            None
        };
        match shared {
            Some(d) => {
                self.device = d;
                self.gpu_buffers = true;
                self.device_label =
                    format!("GPU (wgpu, shared with the UI: {})", self.adapter_label);
            }
            None => {
                self.device = Device::flex();
                self.gpu_buffers = false;
                self.device_label = "CPU (burn flex)".into();
            }
        }
        self.decoder = Some(Decoder::spawn(
            self.data.clone(),
            self.device.clone(),
            self.gpu_buffers,
            self.waker.clone(),
        ));
        self.images.clear();
    }

    /// Queue a command (panels call this; tests may too).
    pub fn push_command(&mut self, cmd: UiCommand) {
        self.commands.push(cmd);
    }

    /// The latent vector driving the sliders.
    pub fn latent(&self) -> &[f32] {
        &self.latent
    }

    /// Encoder statistics of the latest snapshot, if computed.
    pub fn stats(&self) -> Option<&LatentStats> {
        self.stats.as_ref()
    }

    /// Whether the sliders follow the chosen test digit's code.
    pub fn follows_digit(&self) -> bool {
        self.follow_digit
    }

    /// The latest images of a view.
    pub fn image(&self, key: ViewKey) -> Option<&Images> {
        self.images.get(&key)
    }

    /// How many times a view's image has been replaced.
    pub fn image_version(&self, key: ViewKey) -> u64 {
        self.image_versions.get(&key).copied().unwrap_or(0)
    }

    /// Training device description.
    pub fn device_label(&self) -> &str {
        &self.device_label
    }

    fn start_worker(&mut self) {
        let cfg = self.settings.train_config(&self.data);
        self.running_variant = cfg.variant;
        match spawn(
            cfg,
            self.data.clone(),
            self.device.clone(),
            Some(self.worker_waker.clone()),
        ) {
            Ok(h) => {
                if let Some(d) = &self.decoder {
                    d.set_source(Some(h.snapshot_slot()));
                }
                h.send(Command::Start);
                self.worker = Some(h);
                self.history = History::default();
                self.status.state = WorkerState::Idle;
                self.status.step = 0;
                self.status.epoch = 0;
                self.stats = None;
                if self.latent.len() != self.settings.latent.max(1) {
                    self.latent = vec![0.0; self.settings.latent.max(1)];
                }
                self.latent_dirty = true;
                self.grid_dirty = true;
                self.recon_dirty = true;
                self.prior_dirty = true;
            }
            Err(e) => self
                .status
                .errors
                .push(format!("cannot start training: {e}")),
        }
    }

    fn apply(&mut self, cmd: UiCommand) {
        match cmd {
            UiCommand::Worker(c) => match &self.worker {
                Some(w) => {
                    if !w.send(c) {
                        self.status
                            .errors
                            .push("the training worker has ended".into());
                    }
                }
                None => self
                    .status
                    .errors
                    .push("no training run: press Start".into()),
            },
            UiCommand::Start => {
                let alive = self.worker.is_some()
                    && !matches!(
                        self.status.state,
                        WorkerState::Stopped | WorkerState::Failed | WorkerState::Finished
                    );
                if alive {
                    if let Some(w) = &self.worker {
                        w.send(Command::Resume);
                    }
                } else {
                    self.start_worker();
                }
            }
            UiCommand::Reset => {
                if let Some(w) = self.worker.take() {
                    w.shutdown();
                }
                let want = self.settings.data_dir.trim().to_string();
                if want != self.data_source {
                    let dir = (!want.is_empty()).then(|| std::path::PathBuf::from(&want));
                    match Dataset::load(dir.as_deref()) {
                        Ok(d) => {
                            self.data = Arc::new(d);
                            self.data_source = want;
                            self.recon_dirty = true;
                        }
                        Err(e) => self.status.errors.push(format!("loading the dataset: {e}")),
                    }
                }
                if let Some(d) = &self.decoder {
                    d.set_source(None);
                }
                self.choose_device();
                self.start_worker();
            }
            UiCommand::SetLatent(j, v) => {
                if let Some(z) = self.latent.get_mut(j) {
                    *z = v;
                    self.latent_dirty = true;
                    self.follow_digit = false;
                }
            }
            UiCommand::RandomizeLatent => {
                self.follow_digit = false;
                let mut rng = ChaCha8Rng::seed_from_u64(self.frames.frame ^ 0x5EED);
                self.latent.iter_mut().for_each(|z| *z = normal(&mut rng));
                self.latent_dirty = true;
            }
            UiCommand::ZeroLatent => {
                self.follow_digit = false;
                self.latent.iter_mut().for_each(|z| *z = 0.0);
                self.latent_dirty = true;
            }
            UiCommand::SetLabel(l) => {
                self.settings.label = l;
                self.latent_dirty = true;
                self.prior_dirty = true;
            }
            UiCommand::EncodeDigit(i) => {
                self.digit = i;
                self.follow_digit = true;
                // A conditional model reconstructs a digit under its own label.
                if self.settings.variant == VariantKind::Cvae
                    && let Some(&l) = self.data.test.labels.get(i)
                    && l as usize != self.settings.label
                {
                    self.settings.label = l as usize;
                    self.prior_dirty = true;
                }
                if let Some(s) = &self.stats {
                    let d = s.latent;
                    if d == self.latent.len() && (i + 1) * d <= s.codes.len() {
                        self.latent = s.codes[i * d..(i + 1) * d].to_vec();
                        self.latent_dirty = true;
                    }
                }
            }
            UiCommand::ResamplePrior => {
                self.prior_seed += 1;
                self.prior_dirty = true;
            }
            UiCommand::GridChanged => self.grid_dirty = true,
            UiCommand::ReconChanged => self.recon_dirty = true,
            UiCommand::ClearErrors => self.status.errors.clear(),
        }
    }

    fn on_event(&mut self, ev: Event) {
        match ev {
            Event::State(s) => self.status.state = s,
            Event::Step(m) => {
                self.status.step = m.step;
                let g = |n: &str| m.get(n).unwrap_or(f64::NAN);
                self.history
                    .steps
                    .push([m.step as f64, g("loss"), g("rec"), g("kl")]);
                self.history.kl_weight.push([m.step as f64, m.kl_weight]);
                // Keep long runs drawable: thin the oldest half when too long.
                if self.history.steps.len() > 40_000 {
                    thin_older_half(&mut self.history.steps);
                    thin_older_half(&mut self.history.kl_weight);
                }
            }
            Event::Epoch {
                epoch,
                step,
                metrics,
            } => {
                self.status.epoch = epoch;
                self.history.epochs.push((epoch, step, metrics));
            }
            Event::Throughput {
                samples_per_sec, ..
            } => self.status.samples_per_sec = samples_per_sec,
            Event::Changed(s) => {
                self.status.notes.push_back(s);
                while self.status.notes.len() > 5 {
                    self.status.notes.pop_front();
                }
            }
            Event::NonFinite { step, term, value } => self.status.errors.push(format!(
                "{term} became {value} at step {step}: training paused with the last finite weights (lower the learning rate, then Resume)"
            )),
            Event::Error(e) => self.status.errors.push(e),
        }
    }

    /// Measurement mode: drive a slider, record, report, close.
    fn measure_step(&mut self, ctx: &egui::Context) {
        let Some(m) = self.measure.as_mut() else {
            return;
        };
        ctx.request_repaint();
        let t = m.start.elapsed().as_secs_f64();
        if t < MEASURE_WARMUP {
            return;
        }
        if m.steps_at_warmup.is_none() {
            m.steps_at_warmup = Some((self.status.step, Instant::now()));
            self.frames.slider_frames.clear();
        }
        if let (Some(&f), Some(&u)) = (self.frames.frame_ms.back(), self.frames.ui_ms.back()) {
            m.all_frames.push(f);
            m.all_ui.push(u);
        }
        m.latencies.extend(self.frames.slider_frames.drain(..));
        if self.frames.slider_pending.is_none() && self.frames.frame.is_multiple_of(10) {
            m.flip = !m.flip;
            let v = if m.flip { 2.0 } else { -2.0 };
            self.commands.push(UiCommand::SetLatent(0, v));
        }
        if t >= MEASURE_WARMUP + m.secs {
            let (s0, t0) = m.steps_at_warmup.unwrap_or((0, Instant::now()));
            let steps_per_sec = (self.status.step - s0) as f64 / t0.elapsed().as_secs_f64();
            let mut lat: Vec<f32> = m.latencies.iter().map(|&v| v as f32).collect();
            let mean_lat = lat.iter().sum::<f32>() / lat.len().max(1) as f32;
            let report = serde_json::json!({
                "device": self.device_label,
                "adapter": self.adapter_label,
                "seconds": m.secs,
                "frames": m.all_frames.len(),
                "frame_ms_p50": percentile(&mut m.all_frames, 0.5),
                "frame_ms_p95": percentile(&mut m.all_frames, 0.95),
                "ui_build_ms_p50": percentile(&mut m.all_ui, 0.5),
                "ui_build_ms_p95": percentile(&mut m.all_ui, 0.95),
                "slider_changes": lat.len(),
                "slider_latency_frames_mean": mean_lat,
                "slider_latency_frames_p50": percentile(&mut lat, 0.5),
                "slider_latency_frames_p95": percentile(&mut lat, 0.95),
                "slider_latency_frames_max": lat.last().copied().unwrap_or(f32::NAN),
                "training_steps_per_sec": steps_per_sec,
                "training_samples_per_sec": self.status.samples_per_sec,
                "grid_decode_ms": self.images.get(&ViewKey::Grid).map(|i| i.micros as f64 / 1000.0),
                "grid_images": self.images.get(&ViewKey::Grid).map(|i| i.n),
            });
            println!("{report}");
            self.measure = None;
            ctx.send_viewport_cmd(egui::ViewportCommand::Close);
        }
    }

    /// On the CPU, decode the slider's single image on the UI thread when that is fast
    /// (it usually takes ~0.1 ms), so the image changes in the same frame as the drag. A
    /// decode slower than [`INLINE_DECODE_BUDGET`] turns this off; the decode thread then
    /// delivers the image a frame later. Returns whether the image was decoded here.
    fn decode_slider_inline(&mut self, id: u64, job: &Job) -> bool {
        if !self.inline_decode || self.gpu_buffers {
            return false;
        }
        let Some(snap) = self.worker.as_ref().and_then(|w| w.snapshot()) else {
            return false;
        };
        let t0 = Instant::now();
        let out = decoder::execute(
            ViewKey::Slider,
            id,
            job,
            &snap,
            &self.data,
            &self.device,
            false,
            t0,
        );
        if t0.elapsed() > INLINE_DECODE_BUDGET {
            self.inline_decode = false;
        }
        match out {
            Output::Images(key, img) => {
                self.frames.slider_frames.push_back(0);
                while self.frames.slider_frames.len() > 100 {
                    self.frames.slider_frames.pop_front();
                }
                self.frames.slider_pending = None;
                *self.image_versions.entry(key).or_insert(0) += 1;
                self.images.insert(key, img);
                true
            }
            _ => false,
        }
    }

    fn grid_latents(&self) -> (Vec<f32>, usize) {
        let n = self.settings.grid_size.clamp(2, 32);
        let d = self.latent.len();
        let (u, v) = match (self.settings.grid_axes, &self.stats) {
            (GridAxes::Principal, Some(s)) if s.principal.len() == 2 && s.latent == d => {
                (s.principal[0].clone(), s.principal[1].clone())
            }
            _ => (
                explore::axis(d, self.settings.grid_dims[0].min(d - 1)),
                explore::axis(d, self.settings.grid_dims[1].min(d - 1)),
            ),
        };
        let vals = explore::axis_values(n, self.settings.grid_spacing, self.settings.grid_range);
        // The grid spans directions u and v around the slider vector, with those
        // components replaced (not added), so the grid is centred on the prior's mode.
        let mut base = self.latent.clone();
        let pu: f32 = base.iter().zip(&u).map(|(a, b)| a * b).sum();
        let pv: f32 = base.iter().zip(&v).map(|(a, b)| a * b).sum();
        for j in 0..d {
            base[j] -= pu * u[j] + pv * v[j];
        }
        (explore::grid_latents(&base, &u, &v, &vals, &vals), n * n)
    }

    /// One logic step: events in, commands applied, decode requests out. Never blocks.
    pub fn logic_step(&mut self) {
        let now = Instant::now();
        if let Some(last) = self.frames.last {
            self.frames
                .frame_ms
                .push_back(now.duration_since(last).as_secs_f32() * 1000.0);
            while self.frames.frame_ms.len() > 600 {
                self.frames.frame_ms.pop_front();
            }
        }
        self.frames.last = Some(now);
        self.frames.frame += 1;
        let events = self.worker.as_ref().map(|w| w.drain()).unwrap_or_default();
        for ev in events {
            self.on_event(ev);
        }
        for cmd in std::mem::take(&mut self.commands) {
            self.apply(cmd);
        }
        let outputs = self.decoder.as_ref().map(|d| d.drain()).unwrap_or_default();
        for out in outputs {
            match out {
                Output::Images(key, img) => {
                    if key == ViewKey::Slider
                        && let Some((req, frame)) = self.frames.slider_pending
                        && img.request >= req
                    {
                        self.frames
                            .slider_frames
                            .push_back(self.frames.frame - frame);
                        while self.frames.slider_frames.len() > 100 {
                            self.frames.slider_frames.pop_front();
                        }
                        self.frames.slider_pending = None;
                    }
                    *self.image_versions.entry(key).or_insert(0) += 1;
                    self.images.insert(key, img);
                }
                Output::Stats(mut s) => {
                    // Principal directions have no sign; keep the grid's orientation stable
                    // by pointing each new one the way the previous one pointed.
                    if let Some(prev) = &self.stats {
                        for (new, old) in s.principal.iter_mut().zip(&prev.principal) {
                            let dot: f32 = new.iter().zip(old).map(|(a, b)| a * b).sum();
                            if dot < 0.0 {
                                new.iter_mut().for_each(|v| *v = -*v);
                            }
                        }
                    }
                    let grid_principal = self.settings.grid_axes == GridAxes::Principal;
                    self.stats = Some(s);
                    if self.follow_digit {
                        self.apply(UiCommand::EncodeDigit(self.digit));
                    }
                    if grid_principal {
                        self.grid_dirty = true;
                    }
                }
                Output::Error(key, e) => self.status.errors.push(format!("{key:?} view: {e}")),
            }
        }
        self.request_views();
    }

    fn request_views(&mut self) {
        let Some(dec) = self.decoder.as_mut() else {
            return;
        };
        let d = self.latent.len();
        if self.recon_dirty {
            let n = self.settings.recon_count.clamp(1, 32);
            dec.request(ViewKey::Recon, Job::Recon((0..n).collect()));
            dec.request(ViewKey::Stats, Job::Stats(1000));
            self.recon_dirty = false;
        }
        if self.latent_dirty {
            let job = Job::Decode {
                z: self.latent.clone(),
                n: 1,
                label: Some(self.settings.label),
            };
            // The decode thread keeps the job to redo it on newer snapshots.
            let id = dec.request(ViewKey::Slider, job.clone());
            self.latent_dirty = false;
            self.grid_dirty = true;
            if !self.decode_slider_inline(id, &job) {
                if self.frames.slider_pending.is_none() {
                    self.frames.slider_pending = Some((id, self.frames.frame));
                } else if let Some(p) = self.frames.slider_pending.as_mut() {
                    p.0 = id;
                }
            }
        }
        if self.grid_dirty {
            let (z, n) = self.grid_latents();
            if let Some(dec) = self.decoder.as_mut() {
                let label = Some(self.settings.label);
                dec.request(ViewKey::Grid, Job::Decode { z, n, label });
            }
            self.grid_dirty = false;
        }
        if self.prior_dirty {
            let mut rng = ChaCha8Rng::seed_from_u64(self.prior_seed);
            let n = 64;
            let z: Vec<f32> = (0..n * d).map(|_| normal(&mut rng)).collect();
            if let Some(dec) = self.decoder.as_mut() {
                let label = Some(self.settings.label);
                dec.request(ViewKey::Prior, Job::Decode { z, n, label });
            }
            self.prior_dirty = false;
        }
    }
}

impl eframe::App for ExplorerApp {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        self.logic_step();
        self.measure_step(ctx);
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let ui_start = Instant::now();
        let mut cmds = Vec::new();
        egui::Panel::left("training")
            .resizable(true)
            .default_size(290.0)
            .show(ui, |ui| {
                egui::ScrollArea::vertical().show(ui, |ui| {
                    training::show(
                        ui,
                        &mut self.settings,
                        &self.status,
                        self.data.train.len(),
                        &mut cmds,
                    );
                    ui.separator();
                    status::show(ui, self, &mut cmds);
                });
            });
        egui::CentralPanel::default_margins().show(ui, |ui| {
            let w = ui.available_width();
            let h = ui.available_height();
            let top_h = (h * 0.46).max(240.0);
            let spacing = ui.spacing().item_spacing;
            ui.allocate_ui(egui::vec2(w, top_h), |ui| {
                ui.horizontal_top(|ui| {
                    ui.allocate_ui(egui::vec2(w * 0.55, top_h), |ui| {
                        ui.vertical(|ui| {
                            curves::show(
                                ui,
                                &mut self.settings,
                                &self.history,
                                self.running_variant.has_likelihood_bound(),
                            )
                        });
                    });
                    ui.separator();
                    ui.allocate_ui(egui::vec2(ui.available_width(), top_h), |ui| {
                        ui.vertical(|ui| {
                            let v = self.image_version(ViewKey::Recon);
                            recon::show(
                                ui,
                                &mut self.settings,
                                self.images.get(&ViewKey::Recon),
                                v,
                                &mut cmds,
                            );
                            ui.separator();
                            let v = self.image_version(ViewKey::Prior);
                            prior::show(
                                ui,
                                &self.settings,
                                self.images.get(&ViewKey::Prior),
                                v,
                                &mut cmds,
                            );
                        });
                    });
                });
            });
            ui.separator();
            let bottom_h = ui.available_height() - spacing.y;
            ui.horizontal_top(|ui| {
                ui.allocate_ui(egui::vec2(w * 0.42, bottom_h), |ui| {
                    ui.vertical(|ui| {
                        sliders::show(
                            ui,
                            &self.settings,
                            &self.latent,
                            self.stats.as_ref(),
                            self.images.get(&ViewKey::Slider),
                            self.image_version(ViewKey::Slider),
                            self.digit,
                            &mut cmds,
                        );
                    });
                });
                ui.separator();
                let v = self.image_version(ViewKey::Grid);
                ui.allocate_ui(egui::vec2(ui.available_width(), bottom_h), |ui| {
                    ui.vertical(|ui| {
                        grid::show(
                            ui,
                            &mut self.settings,
                            self.latent.len(),
                            self.stats.is_some(),
                            self.images.get(&ViewKey::Grid),
                            v,
                            &mut cmds,
                        );
                    });
                });
            });
        });
        self.commands.extend(cmds);
        if !self.commands.is_empty() {
            ui.ctx().request_repaint();
        }
        self.frames
            .ui_ms
            .push_back(ui_start.elapsed().as_secs_f32() * 1000.0);
        while self.frames.ui_ms.len() > 600 {
            self.frames.ui_ms.pop_front();
        }
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, eframe::APP_KEY, &self.settings);
    }
}
