//! The synchronous training core: one [`Trainer`] owns the model, the variant's extra
//! modules and one optimiser per phase, and advances one batch per [`Trainer::step`]. The
//! background [`super::Worker`] and the CLI both drive it.

use std::sync::Arc;

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::decay::WeightDecayConfig;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::metrics::{EvalMetrics, evaluate_with_codes, host_vec};
use super::worker::Snapshot;
use crate::cpu::{self, FlatAdam};
use crate::data::{Batch, Batcher, Dataset, epoch_permutation};
use crate::limits::{self, LimitError};
use crate::model::gaussian::with_noise_stream;
use crate::model::{ArchConfig, ModelError, Vae, VaeConfig};
use crate::variant::{
    AuxModules, KlSchedule, Objective, ParamGroup, StepContext, VariantKind, VariantParams, l1_norm,
};

impl From<LimitError> for TrainError {
    fn from(e: LimitError) -> Self {
        Self::Limit(e)
    }
}

/// Adam and parameter-penalty settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OptimConfig {
    /// Learning rate.
    pub lr: f64,
    /// Adam β₁.
    pub beta1: f32,
    /// Adam β₂.
    pub beta2: f32,
    /// L2 weight decay (added to the gradient by Adam); 0 disables it.
    pub weight_decay: f32,
    /// Weight of the L1 penalty Σ|θ| on the model's parameters; 0 disables it.
    pub l1: f64,
}

impl Default for OptimConfig {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            weight_decay: 0.0,
            l1: 0.0,
        }
    }
}

/// Everything that defines a training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Model architecture (image size is overwritten from the data).
    pub model: VaeConfig,
    /// Objective.
    pub variant: VariantKind,
    /// Optimiser.
    pub optim: OptimConfig,
    /// β: the KL weight (β-VAE; held at 1 by the plain VAE).
    pub beta: f64,
    /// KL-weight schedule.
    pub schedule: KlSchedule,
    /// Free-bits floor per latent dimension (nats), if any.
    pub free_bits: Option<f64>,
    /// Images per batch.
    pub batch_size: usize,
    /// Epochs to train.
    pub epochs: usize,
    /// Seed for initialisation, shuffling and sampling.
    pub seed: u64,
    /// Importance samples for the per-epoch IWAE bound (0: skip it).
    pub eval_iwae_k: usize,
    /// Variant hyperparameters (IWAE k, WAE λ and kernel, …).
    #[serde(default)]
    pub variant_params: VariantParams,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            model: VaeConfig::default(),
            variant: VariantKind::Vae,
            optim: OptimConfig::default(),
            beta: 1.0,
            schedule: KlSchedule::Constant,
            free_bits: None,
            batch_size: 128,
            epochs: 10,
            seed: 0,
            eval_iwae_k: 0,
            variant_params: VariantParams::default(),
        }
    }
}

impl TrainConfig {
    /// Check every hyperparameter; the message names the bad one.
    pub fn validate(&self) -> Result<(), TrainError> {
        let bad = |m: String| Err(TrainError::InvalidConfig(m));
        self.model.validate()?;
        let o = &self.optim;
        if !(o.lr.is_finite() && o.lr > 0.0) {
            return bad(format!("learning rate {} must be finite and > 0", o.lr));
        }
        if !(0.0..1.0).contains(&o.beta1) || !(0.0..1.0).contains(&o.beta2) {
            return bad(format!(
                "Adam betas ({}, {}) must be in [0, 1)",
                o.beta1, o.beta2
            ));
        }
        if !(o.weight_decay.is_finite() && o.weight_decay >= 0.0) {
            return bad(format!("weight decay {} must be ≥ 0", o.weight_decay));
        }
        if !(o.l1.is_finite() && o.l1 >= 0.0) {
            return bad(format!("L1 weight {} must be ≥ 0", o.l1));
        }
        if !(self.beta.is_finite() && self.beta >= 0.0) {
            return bad(format!("β {} must be finite and ≥ 0", self.beta));
        }
        if let Some(fb) = self.free_bits
            && !(fb.is_finite() && fb >= 0.0)
        {
            return bad(format!("free bits {fb} must be finite and ≥ 0"));
        }
        self.check_sizes()?;
        self.variant_params
            .validate()
            .map_err(TrainError::InvalidConfig)?;
        let expected = self.variant.latent_kind(&self.variant_params);
        if self.model.latent != expected {
            return bad(format!(
                "variant {} needs the latent {expected:?}, but the model's latent is {:?}",
                self.variant, self.model.latent
            ));
        }
        self.schedule.validate().map_err(TrainError::InvalidConfig)
    }

    /// Batch, epochs and the largest activations and discriminators within
    /// [`crate::limits`] (the model's own sizes are checked by its `validate`).
    fn check_sizes(&self) -> Result<(), LimitError> {
        use limits::{MAX_ELEMENTS, check, product};
        let b = check("batch size", self.batch_size, 1, limits::MAX_BATCH)?;
        check("epochs", self.epochs, 1, limits::MAX_EPOCHS)?;
        check("IWAE k", self.variant_params.iwae_k, 0, limits::MAX_IWAE_K)?;
        check("evaluation IWAE k", self.eval_iwae_k, 0, limits::MAX_IWAE_K)?;
        // Validated by the model config before this runs.
        let pixels = self.model.pixels();
        let k = if self.variant == VariantKind::Iwae {
            self.variant_params.iwae_k.max(1)
        } else {
            1
        };
        product("batch × samples × pixels", &[b, k, pixels], MAX_ELEMENTS)?;
        let widest = match &self.model.arch {
            ArchConfig::Mlp { hidden } => hidden.iter().copied().max().unwrap_or(0),
            ArchConfig::Conv { channels, dense } => (*dense)
                .max(channels[0].max(channels[1]) * (self.model.rows / 2) * (self.model.cols / 2)),
        };
        product(
            "batch × samples × widest layer",
            &[b, k, widest],
            MAX_ELEMENTS,
        )?;
        // A discriminator sees at most an image and a code.
        let input = limits::sum(
            "discriminator inputs",
            &[pixels, self.model.latent_dim],
            MAX_ELEMENTS,
        )?;
        let p = &self.variant_params;
        for (name, hidden) in [
            ("AAE discriminator parameters", &p.aae_disc_hidden),
            ("VAE-GAN discriminator parameters", &p.vaegan_disc_hidden),
            ("BiGAN discriminator parameters", &p.bigan_disc_hidden),
            ("FactorVAE discriminator parameters", &p.factor_disc_hidden),
        ] {
            check(
                &format!("{name}: layers"),
                hidden.len(),
                0,
                limits::MAX_LAYERS,
            )?;
            let mut widths = vec![input];
            widths.extend(hidden.iter().map(|&w| w.min(limits::MAX_WIDTH + 1)));
            widths.push(1);
            let mut total = 0;
            for w in widths.windows(2) {
                let layer = product(name, &[w[0], w[1]], limits::MAX_PARAMETERS)?;
                total = limits::sum(name, &[total, layer], limits::MAX_PARAMETERS)?;
            }
        }
        Ok(())
    }

    /// Steps in one epoch over `n` training images (the last batch may be short).
    pub fn steps_per_epoch(&self, n: usize) -> u64 {
        n.div_ceil(self.batch_size.max(1)) as u64
    }
}

/// Training failures.
#[derive(Debug, Error)]
pub enum TrainError {
    /// A hyperparameter is invalid.
    #[error("invalid training config: {0}")]
    InvalidConfig(String),
    /// The model config is invalid.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// A label the conditional model does not know.
    #[error(transparent)]
    Label(#[from] crate::data::LabelOutOfRange),
    /// A size is outside [`crate::limits`] (shown in the message, not as a source, so a
    /// chain of causes prints it once).
    #[error("invalid training config: {0}")]
    Limit(LimitError),
    /// The dataset has no training images.
    #[error("the dataset has no training images")]
    EmptyData,
    /// A loss term or the gradient went NaN or infinite; the weights were kept.
    #[error("{term} became {value} at step {step}; training paused with the last finite weights")]
    NonFinite {
        /// Global step at which it happened.
        step: u64,
        /// Which term ("total", "rec", "kl", "grad_norm", …), prefixed by phase if several.
        term: String,
        /// The value seen (NaN or ±inf).
        value: f64,
    },
}

/// Metrics of one training step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepMetrics {
    /// Global 0-based step that was just taken.
    pub step: u64,
    /// 0-based epoch it belongs to.
    pub epoch: usize,
    /// Images in the batch.
    pub batch: usize,
    /// Named loss terms: "loss" (the optimised total), the variant's terms, "grad_norm".
    pub terms: Vec<(String, f64)>,
    /// KL schedule weight at this step.
    pub kl_weight: f64,
    /// Learning rate used.
    pub lr: f64,
}

impl StepMetrics {
    /// The value of a named term.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.terms.iter().find(|(n, _)| n == name).map(|&(_, v)| v)
    }
}

/// What a step did.
#[derive(Debug, Clone)]
pub struct StepOutcome {
    /// The step's metrics.
    pub metrics: StepMetrics,
    /// Whether this step finished an epoch.
    pub epoch_done: bool,
}

/// Sum of squared gradients over a module's float parameters.
struct GradSquares<'a> {
    grads: &'a GradientsParams,
    total: Option<Tensor<1>>,
}

impl ModuleVisitor for GradSquares<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = self.grads.get::<D>(param.id) {
            let s = g.square().sum();
            self.total = Some(match self.total.take() {
                Some(t) => t + s,
                None => s,
            });
        }
    }
}

fn grad_sq_sum<M: Module>(module: &M, grads: &GradientsParams) -> Option<Tensor<1>> {
    let mut v = GradSquares { grads, total: None };
    module.visit(&mut v);
    v.total
}

/// Adam's ε.
const ADAM_EPSILON: f32 = 1e-8;

/// One phase's Adam: burn's, or on the CPU backend the same rule over flat buffers
/// ([`FlatAdam`], one pass per parameter instead of eleven tensor operations).
enum PhaseOptim {
    Burn(ModuleOptimizer),
    Flat(FlatAdam),
}

impl PhaseOptim {
    fn step<M: Module>(&mut self, lr: f64, module: M, grads: GradientsParams) -> M {
        match self {
            Self::Burn(o) => o.step(lr, module, grads),
            Self::Flat(o) => o.step(lr, module, grads),
        }
    }
}

fn adam(cfg: &OptimConfig, beta1: Option<f32>, cpu: bool) -> PhaseOptim {
    let beta1 = beta1.unwrap_or(cfg.beta1);
    if cpu {
        return PhaseOptim::Flat(FlatAdam::new(
            beta1,
            cfg.beta2,
            ADAM_EPSILON,
            cfg.weight_decay,
        ));
    }
    let mut c = AdamConfig::new()
        .with_beta_1(beta1)
        .with_beta_2(cfg.beta2)
        .with_epsilon(ADAM_EPSILON);
    if cfg.weight_decay > 0.0 {
        c = c.with_weight_decay(Some(WeightDecayConfig::new(cfg.weight_decay)));
    }
    PhaseOptim::Burn(c.init())
}

/// All finite?
fn all_finite<M: Module>(module: &M) -> bool {
    struct Check {
        sums: Vec<Tensor<1>>,
    }
    impl ModuleVisitor for Check {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.sums.push(param.val().sum());
        }
    }
    let mut c = Check { sums: Vec::new() };
    module.visit(&mut c);
    if c.sums.is_empty() {
        return true;
    }
    host_vec(Tensor::cat(c.sums, 0))
        .iter()
        .all(|v| v.is_finite())
}

/// The fewest images in a part of a batch split over CPU lanes: smaller parts cost more in
/// per-operation overhead than a second core gains.
pub const MIN_PART: usize = 32;

/// The seed of the noise streams of step `step`'s phase `phase` when its batch is split
/// (splitmix64 of the three), so split steps are reproducible whatever order lanes run in.
fn split_seed(seed: u64, step: u64, phase: usize) -> u64 {
    let mut z = seed
        .wrapping_add(step.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .wrapping_add((phase as u64) << 56);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Chooses, by measured step time, whether a split batch's parts run side by side on the
/// lanes or one after another on the trainer's thread (the same numbers either way). On an
/// idle machine the lanes win; while a software-rendered window takes both cores, the
/// low-priority lanes get the CPU late and every hand-off waits, and the trainer's own
/// thread wins. After a stretch of [`LanePolicy::PERIOD`] steps (doubled, up to
/// [`LanePolicy::LONGEST`], each time a probe confirms the choice) the other way is tried
/// for [`LanePolicy::PROBE`] steps.
#[derive(Debug, Clone)]
struct LanePolicy {
    /// Smoothed seconds per image of recent steps, on the lanes and inline.
    cost: [Option<f64>; 2],
    /// Whether steps now run on the lanes.
    lanes: bool,
    /// Steps left in the current stretch.
    left: u32,
    /// Whether the current stretch is a probe of the other way.
    probing: bool,
    /// Steps of the next stretch between probes.
    period: u32,
    /// The chosen way's cost when it was chosen: a stretch ends early (with a probe) when
    /// its cost grows half as much again, e.g. when a window starts taking the CPU.
    chosen: Option<f64>,
}

impl LanePolicy {
    const PERIOD: u32 = 96;
    const LONGEST: u32 = 16 * Self::PERIOD;
    const PROBE: u32 = 3;

    fn new() -> Self {
        Self {
            cost: [None, None],
            lanes: true,
            left: Self::PERIOD,
            probing: false,
            period: Self::PERIOD,
            chosen: None,
        }
    }

    /// Record a split step's seconds per image, then pick the way of the next step.
    fn record(&mut self, secs_per_image: f64) {
        let slot = &mut self.cost[usize::from(!self.lanes)];
        *slot = Some(match *slot {
            Some(c) => 0.7 * c + 0.3 * secs_per_image,
            None => secs_per_image,
        });
        self.left = self.left.saturating_sub(1);
        let now = self.cost[usize::from(!self.lanes)];
        if !self.probing
            && let (Some(now), Some(chosen)) = (now, self.chosen)
            && now > 1.5 * chosen
        {
            // The machine changed: look again now, and often for a while.
            self.left = 0;
            self.period = Self::PERIOD;
        }
        if self.left > 0 {
            return;
        }
        if self.probing {
            // Back to the faster way for a stretch: longer each time the way stays.
            let before = !self.lanes;
            if let [Some(on_lanes), Some(inline)] = self.cost {
                self.lanes = on_lanes <= inline;
            }
            self.period = if self.lanes == before {
                (self.period * 2).min(Self::LONGEST)
            } else {
                Self::PERIOD
            };
            self.probing = false;
            self.left = self.period;
            self.chosen = self.cost[usize::from(!self.lanes)];
        } else {
            self.lanes = !self.lanes;
            self.probing = true;
            self.left = Self::PROBE;
        }
    }
}

/// The name the squared gradient norm travels under until its square root is taken.
const GRAD_SQ: &str = "grad_sq";

/// The training state machine for one run.
pub struct Trainer {
    cfg: TrainConfig,
    objective: Box<dyn Objective>,
    model: Vae,
    aux: AuxModules,
    optims: Vec<PhaseOptim>,
    device: Device,
    data: Arc<Dataset>,
    batcher: Batcher,
    step: u64,
    epoch: usize,
    cursor: usize,
    order: Vec<usize>,
    /// Whether the device is the CPU backend (where batches may be split over lanes).
    cpu: bool,
    /// Parts per split batch, if not one per lane ([`Trainer::set_parts`]).
    parts_override: Option<usize>,
    /// Whether split steps run on the lanes or inline.
    lane_policy: LanePolicy,
    /// Weights at the start of the previous successful step: the fallback if its update
    /// left a non-finite weight.
    previous: Option<(Vae, AuxModules)>,
}

impl Trainer {
    /// Build a fresh model and optimisers for `cfg` on `device` (autodiff is added here).
    pub fn new(cfg: TrainConfig, data: Arc<Dataset>, device: &Device) -> Result<Self, TrainError> {
        let objective = cfg.variant.build(&cfg.variant_params);
        Self::with_objective(cfg, objective, data, device)
    }

    /// Like [`Trainer::new`] with an explicit objective (for objectives outside
    /// [`VariantKind`], e.g. while developing a new variant).
    pub fn with_objective(
        mut cfg: TrainConfig,
        objective: Box<dyn Objective>,
        data: Arc<Dataset>,
        device: &Device,
    ) -> Result<Self, TrainError> {
        cfg.model.rows = data.rows();
        cfg.model.cols = data.cols();
        cfg.model.channels = data.channels();
        cfg.model.latent = cfg.variant.latent_kind(&cfg.variant_params);
        cfg.validate()?;
        if data.train.is_empty() {
            return Err(TrainError::EmptyData);
        }
        data.check_labels(cfg.model.classes())?;
        let device = device.clone().autodiff();
        let cpu = device == Device::flex();
        device.seed(cfg.seed);
        let model = cfg.model.init(&device)?;
        let aux = objective.init_aux(&cfg.model, &device);
        let optims = objective
            .phases()
            .iter()
            .map(|p| adam(&cfg.optim, p.beta1, cpu))
            .collect();
        let order = epoch_permutation(cfg.seed, 0, data.train.len());
        Ok(Self {
            batcher: Batcher::new(device.clone()),
            cfg,
            objective,
            model,
            aux,
            optims,
            device,
            data,
            step: 0,
            epoch: 0,
            cursor: 0,
            order,
            cpu,
            parts_override: None,
            lane_policy: LanePolicy::new(),
            previous: None,
        })
    }

    /// Resume from loaded weights (optimiser state starts fresh).
    pub fn with_weights(mut self, model: Vae, aux: AuxModules, step: u64, epoch: usize) -> Self {
        // `train` turns gradient tracking back on for weights that come from an inference
        // copy (a checkpoint, a snapshot).
        self.model = model.to_device(&self.device).train();
        self.aux = aux.to_device(&self.device).train();
        self.step = step;
        self.epoch = epoch;
        self.order = epoch_permutation(self.cfg.seed, epoch, self.data.train.len());
        self.cursor = 0;
        self
    }

    /// The run's configuration (with live changes applied).
    pub fn config(&self) -> &TrainConfig {
        &self.cfg
    }

    /// The dataset.
    pub fn data(&self) -> &Arc<Dataset> {
        &self.data
    }

    /// Global steps taken.
    pub fn step_count(&self) -> u64 {
        self.step
    }

    /// Completed epochs.
    pub fn epoch(&self) -> usize {
        self.epoch
    }

    /// Steps per epoch.
    pub fn steps_per_epoch(&self) -> u64 {
        self.cfg.steps_per_epoch(self.data.train.len())
    }

    /// Apply a live change to the configuration if the result is valid; else keep it.
    fn change(&mut self, edit: impl FnOnce(&mut TrainConfig)) -> Result<(), TrainError> {
        let mut c = self.cfg.clone();
        edit(&mut c);
        c.validate()?;
        self.cfg = c;
        Ok(())
    }

    /// Set the learning rate for the following steps.
    pub fn set_lr(&mut self, lr: f64) -> Result<(), TrainError> {
        self.change(|c| c.optim.lr = lr)
    }

    /// Set β for the following steps.
    pub fn set_beta(&mut self, beta: f64) -> Result<(), TrainError> {
        self.change(|c| c.beta = beta)
    }

    /// Set the KL schedule for the following steps.
    pub fn set_schedule(&mut self, schedule: KlSchedule) -> Result<(), TrainError> {
        self.change(|c| c.schedule = schedule)
    }

    /// Set the free-bits floor for the following steps.
    pub fn set_free_bits(&mut self, free_bits: Option<f64>) -> Result<(), TrainError> {
        self.change(|c| c.free_bits = free_bits)
    }

    /// An inference copy of the model (no autodiff), cheap to take.
    pub fn inference_model(&self) -> Vae {
        self.model.valid()
    }

    /// An inference copy of everything a checkpoint holds but the metrics: model, aux
    /// modules, the live configuration, step and epoch.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            model: self.inference_model(),
            aux: self.aux.valid(),
            config: self.cfg.clone(),
            step: self.step,
            epoch: self.epoch,
        }
    }

    /// The training model (autodiff device).
    pub fn model(&self) -> &Vae {
        &self.model
    }

    /// The variant's extra modules.
    pub fn aux(&self) -> &AuxModules {
        &self.aux
    }

    /// The training device (with autodiff).
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Evaluate the current model on the test split; on data with known factors of
    /// variation, with the MIG and the FactorVAE score.
    pub fn evaluate(&self, iwae_k: usize) -> EvalMetrics {
        let model = self.inference_model();
        let device = self.device.clone().inner();
        let (mut m, codes) = evaluate_with_codes(
            &model,
            self.cfg.model.likelihood,
            &self.data.test,
            &device,
            500,
            iwae_k,
        );
        if let Some(scores) = super::metrics::disentanglement(&codes, &self.data) {
            m.push_disentanglement(&scores);
        }
        m
    }

    /// How many parts this step's batch of `len` images is split into, one per CPU lane
    /// (see [`super::parallel`]): more than one only on the CPU backend, for objectives
    /// whose loss is a per-image mean ([`Objective::per_sample`]), without the L1 penalty
    /// (a whole-model term), and with at least [`MIN_PART`] images per part.
    fn parts(&self, len: usize, ctx: &StepContext) -> usize {
        if !self.cpu || self.cfg.optim.l1 > 0.0 || !self.objective.per_sample(ctx) {
            return 1;
        }
        let wanted = self
            .parts_override
            .unwrap_or_else(|| super::parallel::lanes().len());
        wanted.min(len / MIN_PART).max(1)
    }

    /// Split batches into `parts` where splitting applies (see [`Trainer::step`]) instead of
    /// one part per CPU lane; parts beyond the lanes run one after another. `None` goes back
    /// to one per lane. For comparing the two ways, e.g. in tests.
    pub fn set_parts(&mut self, parts: Option<usize>) {
        self.parts_override = parts;
    }

    /// The gradients of phase `i` and its reported values (`loss`, the variant's terms,
    /// the squared gradient norm, in that order), over the images `order[start..end]`: the
    /// whole batch at once, or `parts` parts side by side, each on a copy of the modules
    /// with an autodiff graph of its own and weighted by its share of the images. `whole` is
    /// the batch, built, when it is not split (`parts` is 1), and `None` when it is.
    fn phase_grads(
        &self,
        i: usize,
        group: ParamGroup,
        (start, end): (usize, usize),
        parts: usize,
        whole: Option<&Batch>,
        ctx: &StepContext,
    ) -> (GradientsParams, Vec<(&'static str, f64)>) {
        let (model, aux, objective) = (&self.model, &self.aux, &self.objective);
        let (device, batcher, data) = (&self.device, &self.batcher, &self.data);
        let indices = &self.order[start..end];
        let l1 = self.cfg.optim.l1;
        let len = indices.len();
        let noise_seed = split_seed(self.cfg.seed, self.step, i);
        let part = |p: usize| {
            let (a, b) = (p * len / parts, (p + 1) * len / parts);
            let run = || {
                let own;
                let (model, aux, batch) = match whole {
                    Some(batch) => (model.clone(), aux.clone(), batch),
                    None => {
                        own = batcher.batch(&data.train, &indices[a..b]);
                        (model.clone().fork(device), aux.clone().fork(device), &own)
                    }
                };
                let out = objective.loss(&model, &aux, batch, i, ctx);
                let mut total = out.total;
                if group == ParamGroup::Model
                    && l1 > 0.0
                    && let Some(l1_sum) = l1_norm(&model)
                {
                    total = total + l1_sum.mul_scalar(l1);
                }
                let weight = (b - a) as f64 / len as f64;
                if parts > 1 {
                    total = total.mul_scalar(weight);
                }
                let mut names: Vec<&'static str> = vec!["loss"];
                let mut values: Vec<Tensor<1>> = vec![total.clone().inner()];
                for (name, t) in out.terms {
                    names.push(name);
                    values.push(if parts > 1 {
                        t.inner().mul_scalar(weight)
                    } else {
                        t.inner()
                    });
                }
                let grads = total.backward();
                let gp = match group {
                    ParamGroup::Model => GradientsParams::from_grads(grads, &model),
                    ParamGroup::Aux => GradientsParams::from_grads(grads, &aux),
                };
                if parts == 1 {
                    // Unsplit, the gradient norm joins the one read-back.
                    let gsq = match group {
                        ParamGroup::Model => grad_sq_sum(&model, &gp),
                        ParamGroup::Aux => grad_sq_sum(&aux, &gp),
                    };
                    if let Some(g) = gsq {
                        names.push(GRAD_SQ);
                        values.push(g);
                    }
                }
                let host = host_vec(Tensor::cat(values, 0));
                (gp, names, host)
            };
            if parts > 1 {
                with_noise_stream(noise_seed.wrapping_add(p as u64), run)
            } else {
                run()
            }
        };
        let mut results = if parts > 1 {
            super::parallel::lanes().run(parts, part)
        } else {
            vec![part(0)]
        };
        let (mut gp, mut names, mut host) = results.remove(0);
        if !results.is_empty() {
            // Split batches only happen on the CPU backend: sum the parts' gradients and
            // take their norm in one pass over the buffers.
            let mut all = vec![gp];
            for (g, _, values) in results {
                all.push(g);
                for (sum, v) in host.iter_mut().zip(values) {
                    *sum += v;
                }
            }
            let (sum, sq) = match group {
                ParamGroup::Model => cpu::sum_grads(model, all),
                ParamGroup::Aux => cpu::sum_grads(aux, all),
            };
            gp = sum;
            names.push(GRAD_SQ);
            host.push(sq as f32);
        }
        let reported = names
            .into_iter()
            .zip(host)
            .map(|(n, v)| {
                if n == GRAD_SQ {
                    ("grad_norm", (v as f64).sqrt())
                } else {
                    (n, v as f64)
                }
            })
            .collect();
        (gp, reported)
    }

    /// Take one optimisation step on the next batch.
    ///
    /// On the CPU backend, a batch of an objective that is a per-image mean
    /// ([`Objective::per_sample`]) is split into parts computed side by side on the
    /// training lanes ([`super::parallel`]); their gradients, weighted by the parts' sizes,
    /// sum to the whole batch's. Each part draws its noise from a stream of its own, seeded
    /// by the run's seed, the step and the part, so runs stay reproducible.
    ///
    /// If any loss term or the gradient norm is NaN or infinite, no update is applied and
    /// [`TrainError::NonFinite`] names the term; the weights stay the last finite ones.
    pub fn step(&mut self) -> Result<StepOutcome, TrainError> {
        let n = self.data.train.len();
        let end = (self.cursor + self.cfg.batch_size).min(n);
        let ctx = StepContext {
            step: self.step,
            beta: self.cfg.beta,
            kl_weight: self.cfg.schedule.weight(self.step),
            free_bits: self.cfg.free_bits,
            likelihood: self.cfg.model.likelihood,
            dataset_size: n,
        };
        let parts = self.parts(end - self.cursor, &ctx);
        // The whole batch is built only when some work needs it whole.
        let whole = (parts == 1).then(|| {
            self.batcher
                .batch(&self.data.train, &self.order[self.cursor..end])
        });
        let timer = std::time::Instant::now();
        // A split step's parts run here, one after another, when the policy says so.
        let here = parts > 1 && !self.lane_policy.lanes;
        let start = (self.model.clone(), self.aux.clone());
        let phases = self.objective.phases().to_vec();
        let multi = phases.len() > 1;
        let mut terms: Vec<(String, f64)> = Vec::new();
        for (i, phase) in phases.iter().enumerate() {
            let range = (self.cursor, end);
            let (gp, reported) = super::parallel::inline_if(here, || {
                self.phase_grads(i, phase.group, range, parts, whole.as_ref(), &ctx)
            });
            for (name, v) in reported {
                let full = if multi {
                    format!("{}/{}", phase.name, name)
                } else {
                    name.to_string()
                };
                if !v.is_finite() {
                    // No update of this step is applied. If the previous update itself
                    // produced a non-finite weight, roll back to the weights before it,
                    // which gave a finite loss.
                    self.model = start.0;
                    self.aux = start.1;
                    if !self.weights_finite()
                        && let Some((m, a)) = self.previous.take()
                    {
                        self.model = m;
                        self.aux = a;
                    }
                    return Err(TrainError::NonFinite {
                        step: self.step,
                        term: full,
                        value: v,
                    });
                }
                terms.push((full, v));
            }
            let lr = self.cfg.optim.lr * phase.lr_scale;
            let optim = &mut self.optims[i];
            let (model, aux) = (&mut self.model, &mut self.aux);
            let apply = || match phase.group {
                ParamGroup::Model => *model = optim.step(lr, model.clone(), gp),
                ParamGroup::Aux => *aux = optim.step(lr, aux.clone(), gp),
            };
            super::parallel::inline_if(here, apply);
        }
        if multi {
            // Unprefixed summaries for curves and logs: the model phases' losses summed, and
            // the first reported reconstruction and KL terms.
            let model_loss: f64 = phases
                .iter()
                .filter(|p| p.group == ParamGroup::Model)
                .filter_map(|p| {
                    let key = format!("{}/loss", p.name);
                    terms.iter().find(|(n, _)| *n == key).map(|&(_, v)| v)
                })
                .sum();
            let mut summary = vec![("loss".to_string(), model_loss)];
            for name in ["rec", "kl"] {
                let suffix = format!("/{name}");
                if let Some(&(_, v)) = terms.iter().find(|(n, _)| n.ends_with(&suffix)) {
                    summary.push((name.to_string(), v));
                }
            }
            terms.extend(summary);
        }
        if let Some(batch) = &whole {
            // Objectives split by sample have no after-step update (see `per_sample`).
            self.objective
                .after_step(&mut self.model, &mut self.aux, batch, &ctx);
        }
        let metrics = StepMetrics {
            step: self.step,
            epoch: self.epoch,
            batch: end - self.cursor,
            terms,
            kl_weight: ctx.kl_weight,
            lr: self.cfg.optim.lr,
        };
        if parts > 1 {
            let images = (end - self.cursor).max(1) as f64;
            self.lane_policy
                .record(timer.elapsed().as_secs_f64() / images);
        }
        self.previous = Some(start);
        self.step += 1;
        self.cursor = end;
        let epoch_done = self.cursor >= n;
        if epoch_done {
            self.epoch += 1;
            self.cursor = 0;
            self.order = epoch_permutation(self.cfg.seed, self.epoch, n);
        }
        Ok(StepOutcome {
            metrics,
            epoch_done,
        })
    }

    /// Whether every parameter of the model is finite (one read-back).
    pub fn weights_finite(&self) -> bool {
        all_finite(&self.model) && all_finite(&self.aux)
    }
}
