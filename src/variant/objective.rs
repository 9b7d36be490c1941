//! The [`Objective`] trait every variant implements, the phases of a step, the extra modules
//! a variant may train, and what a step's loss receives and returns.

use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor};

use super::critic::Critic;
use super::kind::VariantKind;
use crate::data::Batch;
use crate::model::gaussian::{reparameterize, standard_noise};
use crate::model::{Likelihood, ReluStack, Vae, VaeConfig};

/// Which parameters an optimisation phase updates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamGroup {
    /// The VAE's encoder and decoder (and learned σ).
    Model,
    /// The variant's extra modules ([`AuxModules`]).
    Aux,
}

/// One optimisation phase of a training step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Phase {
    /// Short name, used to prefix metric names ("disc", "gen").
    pub name: &'static str,
    /// What this phase's optimiser updates.
    pub group: ParamGroup,
    /// This phase's learning rate as a multiple of the run's.
    pub lr_scale: f64,
    /// Adam β₁ for this phase's optimiser, if not the run's.
    pub beta1: Option<f32>,
}

impl Phase {
    /// A phase at the run's learning rate and Adam settings.
    pub const fn new(name: &'static str, group: ParamGroup) -> Self {
        Self {
            name,
            group,
            lr_scale: 1.0,
            beta1: None,
        }
    }

    /// A phase of an adversarial game: Adam β₁ = 0.5, the setting Radford et al. (2016)
    /// found necessary for stable GAN training, at `lr_scale` times the run's rate.
    pub const fn adversarial(name: &'static str, group: ParamGroup, lr_scale: f64) -> Self {
        Self {
            name,
            group,
            lr_scale,
            beta1: Some(0.5),
        }
    }
}

/// The single phase of a one-optimiser objective.
pub const MODEL_PHASE: [Phase; 1] = [Phase::new("model", ParamGroup::Model)];

/// Extra trainable parts a variant may need beside the VAE: networks (e.g. discriminators)
/// and free parameter matrices (e.g. codebooks). Empty for the VAE and β-VAE.
#[derive(Module, Debug)]
pub struct AuxModules {
    /// Extra networks, in the order the variant created them.
    pub nets: Vec<ReluStack>,
    /// Extra parameter matrices.
    pub tables: Vec<Param<Tensor<2>>>,
    /// Discriminators of the adversarial variants.
    pub critics: Vec<Critic>,
}

impl AuxModules {
    /// No extra parts.
    pub fn empty() -> Self {
        Self {
            nets: Vec::new(),
            tables: Vec::new(),
            critics: Vec::new(),
        }
    }

    /// Just one critic.
    pub fn critic(critic: Critic) -> Self {
        Self {
            critics: vec![critic],
            ..Self::empty()
        }
    }
}

/// One draw z ~ q(z | x) per image, `[batch, latent]`, by the reparameterisation trick
/// (for an implicit posterior, with fresh encoder noise too).
pub fn posterior_sample(model: &Vae, x: Tensor<2>) -> Tensor<2> {
    if model.noise > 0 {
        // An implicit posterior (AVB): noise through the encoder as well.
        return crate::model::implicit::implicit_sample(model, x, None);
    }
    let (mu, logvar) = model.encode(x);
    reparameterize(mu.clone(), logvar, standard_noise(&mu))
}

/// [`posterior_sample`] and as many draws from the prior N(0, I): `(codes, prior)`.
pub fn posterior_and_prior(model: &Vae, x: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
    let z = posterior_sample(model, x);
    let prior = standard_noise(&z);
    (z, prior)
}

/// Read-only per-step inputs to an objective.
#[derive(Debug, Clone, Copy)]
pub struct StepContext {
    /// Global 0-based step.
    pub step: u64,
    /// β (weight on the KL term for β-VAE; 1 for the VAE).
    pub beta: f64,
    /// The KL schedule's weight at this step, in `[0, 1]`.
    pub kl_weight: f64,
    /// Free-bits floor λ per latent dimension, in nats.
    pub free_bits: Option<f64>,
    /// Observation model.
    pub likelihood: Likelihood,
    /// Training images (for estimators of the aggregate posterior, e.g. β-TCVAE's).
    pub dataset_size: usize,
}

/// What an objective returns for one phase: the scalar to minimise and named terms to report.
#[derive(Debug, Clone)]
pub struct LossTerms {
    /// The loss to back-propagate, `[1]`.
    pub total: Tensor<1>,
    /// Named scalar terms `[1]` for metrics (e.g. "rec", "kl").
    pub terms: Vec<(&'static str, Tensor<1>)>,
}

/// A VAE training objective. See the module docs for how variants plug in.
pub trait Objective: Send + Sync {
    /// Which variant this is.
    fn kind(&self) -> VariantKind;

    /// The optimisation phases of one step, in order.
    fn phases(&self) -> &[Phase] {
        &MODEL_PHASE
    }

    /// Build the variant's extra trainable modules.
    fn init_aux(&self, _model: &VaeConfig, _device: &Device) -> AuxModules {
        AuxModules::empty()
    }

    /// A non-gradient update of the model or aux modules after every phase of a step has
    /// been applied (e.g. codebook moving averages). Nothing by default.
    fn after_step(
        &self,
        _model: &mut Vae,
        _aux: &mut AuxModules,
        _batch: &Batch,
        _ctx: &StepContext,
    ) {
    }

    /// Whether, under `ctx`, every phase's loss and reported terms are batch means of
    /// per-image quantities and [`Objective::after_step`] does nothing: then the parts of a
    /// batch, each weighted by its share of the images, add up to the whole batch's loss
    /// and gradient, and the trainer may compute them side by side on several cores. False
    /// by default (batch-level estimators: MMD, total correlation, discriminators, …).
    fn per_sample(&self, _ctx: &StepContext) -> bool {
        false
    }

    /// The loss for `phase` of the step described by `ctx`.
    fn loss(
        &self,
        model: &Vae,
        aux: &AuxModules,
        batch: &Batch,
        phase: usize,
        ctx: &StepContext,
    ) -> LossTerms;
}
