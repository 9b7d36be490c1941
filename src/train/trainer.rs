//! The synchronous training core: one [`Trainer`] owns the model, the variant's extra
//! modules and one optimiser per phase, and advances one batch per [`Trainer::step`]. The
//! training loop ([`super::run_loop`]) drives it for the CLI, the app's worker and benches.
//!
//! Every random draw of a run comes from streams derived from its seed
//! ([`crate::model::noise`]): the initial weights from one, each step's phase (and each part
//! of a split batch) from its own. So a run is reproducible whatever else the process is
//! doing, and [`Trainer::train_state`] with the weights is all it takes to resume it exactly.

use std::sync::Arc;

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor};

use super::config::TrainConfig;
use super::error::TrainError;
use super::lane_policy::LanePolicy;
use super::metrics::{EvalMetrics, evaluate_run, host_vec};
use super::optim::PhaseOptim;
use super::protocol::Snapshot;
use super::state::TrainState;
use super::step::{StepMetrics, StepOutcome};
use crate::cpu::{self, lanes};
use crate::data::{Batch, Batcher, Binarize, Dataset, epoch_permutation};
use crate::model::Vae;
use crate::model::noise::{Purpose, stream_seed, with_noise_stream};
use crate::variant::{
    AuxModules, KlSchedule, LabelledPool, Objective, ParamGroup, StepContext, VariantKind, l1_norm,
};

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
    /// Most parts a batch is split into: one per CPU lane, or as set by
    /// [`Trainer::set_parts`] or a resumed run's state.
    lanes: usize,
    /// Whether split steps run on the lanes or inline.
    lane_policy: LanePolicy,
    /// Weights at the start of the previous successful step: the fallback if its update
    /// left a non-finite weight.
    previous: Option<(Vae, AuxModules)>,
    /// The labelled images of a semi-supervised (M2) run, which join every batch.
    labelled: Option<LabelledPool>,
}

impl Trainer {
    /// Build a fresh model and optimisers for `cfg` on `device` (autodiff is added here).
    /// The initial weights come from the run's own stream ([`Purpose::Init`]).
    pub fn new(cfg: TrainConfig, data: Arc<Dataset>, device: &Device) -> Result<Self, TrainError> {
        let objective = cfg.variant.build(&cfg.variant_params);
        Self::with_objective(cfg, objective, data, device)
    }

    /// Like [`Trainer::new`] with an explicit objective (for objectives outside
    /// [`crate::variant::VariantKind`], e.g. while developing a new variant).
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
        // Binarized runs train and are evaluated on binary data (a fixed draw; dynamic
        // binarization draws the training images again at every step).
        let data = match cfg.binarize {
            Binarize::None => data,
            how => Arc::new(data.binarized(how)),
        };
        // M2 keeps a few labels, balanced and chosen with the seed; the rest is unlabelled.
        let labelled = match objective.kind() {
            VariantKind::M2 => Some(
                LabelledPool::new(
                    &data.train.labels,
                    cfg.model.classes(),
                    cfg.variant_params.m2_labelled,
                    cfg.seed,
                    cfg.batch_size,
                )
                .map_err(|e| TrainError::InvalidConfig(e.to_string()))?,
            ),
            _ => None,
        };
        let device = device.clone().autodiff();
        let cpu = device == Device::flex();
        let (model, aux) = with_noise_stream(stream_seed(cfg.seed, Purpose::Init, &[]), || {
            let model = cfg.model.init(&device)?;
            let aux = objective.init_aux(&cfg.model, &device);
            Ok::<_, TrainError>((model, aux))
        })?;
        let optims = objective
            .phases()
            .iter()
            .map(|p| PhaseOptim::new(&cfg.optim, p.beta1, cpu))
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
            lanes: if cpu { lanes::count().max(1) } else { 1 },
            lane_policy: LanePolicy::new(),
            previous: None,
            labelled,
        })
    }

    /// Go on from loaded weights at `step` after `epoch` completed epochs, with fresh
    /// optimiser state (Adam's moments start from zero): for weights that carry no
    /// [`TrainState`]. See [`Trainer::resume`] for an exact continuation.
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

    /// Go on exactly where a run stopped: its weights at `step` after `epoch` completed
    /// epochs, and its [`TrainState`] (optimiser moments, position in the epoch, the split
    /// of its batches). The steps that follow are the ones the uninterrupted run took.
    /// Refused, with the reason, when the state does not fit this run's model or data.
    pub fn resume(
        self,
        model: Vae,
        aux: AuxModules,
        step: u64,
        epoch: usize,
        state: &TrainState,
    ) -> Result<Self, TrainError> {
        let mut t = self.with_weights(model, aux, step, epoch);
        let n = t.data.train.len();
        if state.cursor >= n {
            return Err(TrainError::Resume(format!(
                "the state is {} images into an epoch, the training split has {n}",
                state.cursor
            )));
        }
        let phases = t.objective.phases().to_vec();
        if state.optim.len() != phases.len() {
            return Err(TrainError::Resume(format!(
                "the state holds {} optimisers, {} has {} phases",
                state.optim.len(),
                t.cfg.variant,
                phases.len()
            )));
        }
        for (i, phase) in phases.iter().enumerate() {
            let result = match phase.group {
                ParamGroup::Model => t.optims[i].import(&t.model, &state.optim[i]),
                ParamGroup::Aux => t.optims[i].import(&t.aux, &state.optim[i]),
            };
            result.map_err(|e| TrainError::Resume(format!("phase {}: {e}", phase.name)))?;
        }
        t.cursor = state.cursor;
        t.lanes = state.lanes.max(1);
        Ok(t)
    }

    /// A trainer that goes on from `snap` — its weights, step and epoch, on `data` — to
    /// `epochs` epochs in all: exactly ([`Trainer::resume`]) when the snapshot carries its
    /// training state, else with a fresh optimiser ([`Trainer::with_weights`]). Returns it
    /// with whether it goes on exactly.
    pub fn continue_from(
        snap: &Snapshot,
        data: Arc<Dataset>,
        device: &Device,
        epochs: usize,
    ) -> Result<(Self, bool), TrainError> {
        let cfg = TrainConfig {
            epochs,
            ..snap.config.clone()
        };
        let t = Self::new(cfg, data, device)?;
        let (model, aux) = (snap.model.clone(), snap.aux.clone());
        match &snap.state {
            Some(state) => Ok((t.resume(model, aux, snap.step, snap.epoch, state)?, true)),
            None => Ok((t.with_weights(model, aux, snap.step, snap.epoch), false)),
        }
    }

    /// The training state beyond the weights (the optimisers' moments copied to the host):
    /// with [`Trainer::snapshot`], what an exact resume needs.
    pub fn train_state(&self) -> TrainState {
        let optim = self
            .objective
            .phases()
            .iter()
            .zip(&self.optims)
            .map(|(phase, o)| match phase.group {
                ParamGroup::Model => o.export(&self.model),
                ParamGroup::Aux => o.export(&self.aux),
            })
            .collect();
        TrainState {
            cursor: self.cursor,
            lanes: self.lanes,
            optim,
        }
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
        Snapshot::new(
            self.inference_model(),
            self.aux.valid(),
            self.cfg.clone(),
            self.step,
            self.epoch,
        )
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

    /// Evaluate the current model on the test split ([`evaluate_run`]: the run's evaluation
    /// stream for this step; on data with known factors, the MIG and the FactorVAE score).
    pub fn evaluate(&self, iwae_k: usize) -> EvalMetrics {
        let device = self.device.clone().inner();
        evaluate_run(
            &self.inference_model(),
            &self.cfg,
            self.step,
            &self.data,
            &device,
            iwae_k,
        )
    }

    /// How many parts this step's batch of `len` images is split into, one per CPU lane
    /// (see [`crate::cpu::lanes`]): more than one only on the CPU backend, for objectives
    /// whose loss is a per-image mean ([`Objective::per_sample`]), without the L1 penalty
    /// (a whole-model term), and with at least [`MIN_PART`] images per part.
    fn parts(&self, len: usize, ctx: &StepContext) -> usize {
        if !self.cpu
            || self.cfg.optim.l1 > 0.0
            || !self.objective.per_sample(ctx)
            || self.labelled.is_some()
        {
            return 1;
        }
        self.lanes.min(len / MIN_PART).max(1)
    }

    /// Split batches into `parts` where splitting applies (see [`Trainer::step`]) instead of
    /// one part per CPU lane; parts beyond the lanes run one after another. `None` goes back
    /// to one per lane. For comparing the two ways, e.g. in tests.
    pub fn set_parts(&mut self, parts: Option<usize>) {
        self.lanes = parts.unwrap_or_else(lanes::count).max(1);
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
        let (seed, step) = (self.cfg.seed, self.step);
        let draw = self.draw();
        let part = |p: usize| {
            let (a, b) = (p * len / parts, (p + 1) * len / parts);
            let run = || {
                let own;
                let (model, aux, batch) = match whole {
                    Some(batch) => (model.clone(), aux.clone(), batch),
                    None => {
                        own = batcher.batch_drawn(&data.train, &indices[a..b], draw);
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
            let coords = [step, i as u64, p as u64];
            with_noise_stream(stream_seed(seed, Purpose::Step, &coords), run)
        };
        let mut results = if parts > 1 {
            lanes::lanes().run(parts, part)
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

    /// The seed of this step's draws of its training images under dynamic binarization.
    fn draw(&self) -> Option<u64> {
        (self.cfg.binarize == Binarize::Dynamic)
            .then(|| stream_seed(self.cfg.seed, Purpose::Binarize, &[self.step]))
    }

    /// Take one optimisation step on the next batch.
    ///
    /// On the CPU backend, a batch of an objective that is a per-image mean
    /// ([`Objective::per_sample`]) is split into parts computed side by side on the
    /// training lanes ([`crate::cpu::lanes`]); their gradients, weighted by the parts'
    /// sizes, sum to the whole batch's. Each phase (and each part) draws its noise from a
    /// stream of its own, seeded by the run's seed, the step, the phase and the part
    /// ([`Purpose::Step`]), so runs are reproducible.
    ///
    /// If any loss term or the gradient norm is NaN or infinite, no update is applied and
    /// [`TrainError::NonFinite`] names the term; the weights stay the last finite ones.
    /// Under dynamic binarization each training image is drawn from Bernoulli(pixel) from a
    /// stream of the run's seed, the step ([`Purpose::Binarize`]) and the image's index.
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
            let sweep = &self.order[self.cursor..end];
            match &self.labelled {
                Some(pool) => pool.batch(
                    &self.batcher,
                    &self.data.train,
                    sweep,
                    self.step,
                    self.draw(),
                ),
                None => self
                    .batcher
                    .batch_drawn(&self.data.train, sweep, self.draw()),
            }
        });
        let timer = std::time::Instant::now();
        // A split step's parts run here, one after another, when the policy says so.
        let here = parts > 1 && !self.lane_policy.lanes();
        let start = (self.model.clone(), self.aux.clone());
        let phases = self.objective.phases().to_vec();
        let multi = phases.len() > 1;
        let mut terms: Vec<(String, f64)> = Vec::new();
        for (i, phase) in phases.iter().enumerate() {
            let range = (self.cursor, end);
            let (gp, reported) = lanes::inline_if(here, || {
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
            lanes::inline_if(here, apply);
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

    /// The labelled images of a semi-supervised (M2) run; `None` for other variants.
    pub fn labelled(&self) -> Option<&LabelledPool> {
        self.labelled.as_ref()
    }

    /// Whether every parameter of the model is finite (one read-back).
    pub fn weights_finite(&self) -> bool {
        all_finite(&self.model) && all_finite(&self.aux)
    }
}
