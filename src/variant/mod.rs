//! Training objectives ("variants") behind one trait, and the KL schedules they share.
//!
//! # How a new variant plugs in
//!
//! A variant is a type implementing [`Objective`], in its own file here, plus one entry in
//! [`VariantKind`] (name, CLI value, and `build`). The trainer owns the [`Vae`] (encoder and
//! decoder), an [`AuxModules`] holding whatever extra trainable parts the variant asks for
//! in [`Objective::init_aux`] (discriminator networks, codebooks, …), and one optimiser per
//! [`Phase`] the variant declares. Each training step runs the phases in order: for phase
//! `i` the trainer calls [`Objective::loss`] with `phase = i`, back-propagates the returned
//! `total`, and steps only the parameters of that phase's [`ParamGroup`] with that phase's
//! own optimiser. So the plain VAE has one phase over the model; an AAE declares
//! `[discriminator on Aux, generator on Model]` and alternates the two; a VAE-GAN adds a
//! third. The `terms` a loss returns are named scalars that the trainer reports as metrics
//! (prefixed by the phase name when there is more than one phase). Everything here is pure
//! tensor code and is tested on the CPU backend.

mod iwae;
mod regularize;
mod schedule;
mod sinkhorn;
mod tcvae;
mod vae;
mod wae;

pub use iwae::{Iwae, iwae_bound};
pub use regularize::l1_norm;
pub use schedule::{CycleShape, KlSchedule};
pub use sinkhorn::{WaeSinkhorn, sinkhorn_cost};
pub use tcvae::{BetaTcVae, TcTerms, tc_decomposition};
pub use vae::{Elbo, elbo_parts, kl_term};
pub use wae::{Kernel, WaeMmd, mmd2_unbiased, pairwise_sq_dists};

use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::data::Batch;
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Phase {
    /// Short name, used to prefix metric names ("disc", "gen").
    pub name: &'static str,
    /// What this phase's optimiser updates.
    pub group: ParamGroup,
}

/// The single phase of a one-optimiser objective.
pub const MODEL_PHASE: [Phase; 1] = [Phase {
    name: "model",
    group: ParamGroup::Model,
}];

/// Extra trainable parts a variant may need beside the VAE: networks (e.g. discriminators)
/// and free parameter matrices (e.g. codebooks). Empty for the VAE and β-VAE.
#[derive(Module, Debug)]
pub struct AuxModules {
    /// Extra networks, in the order the variant created them.
    pub nets: Vec<ReluStack>,
    /// Extra parameter matrices.
    pub tables: Vec<Param<Tensor<2>>>,
}

impl AuxModules {
    /// No extra parts.
    pub fn empty() -> Self {
        Self {
            nets: Vec::new(),
            tables: Vec::new(),
        }
    }
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
pub trait Objective: Send {
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

/// The variants this build knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum VariantKind {
    /// Kingma & Welling's VAE (ELBO, β = 1).
    Vae,
    /// β-VAE: KL weighted by β.
    BetaVae,
    /// IWAE: the k-sample importance-weighted bound.
    Iwae,
    /// WAE-MMD: reconstruction + λ·MMD²(q(z), p(z)).
    WaeMmd,
    /// β-TCVAE: the KL split into index-code MI, total correlation and dimension-wise KL,
    /// with β on the total correlation only.
    BetaTcvae,
    /// WAE-Sinkhorn: reconstruction + λ · entropic OT between codes and prior samples.
    WaeSinkhorn,
}

/// Hyperparameters of the variants beyond β and the KL schedule, with the papers' defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct VariantParams {
    /// IWAE importance samples (Burda et al.: k = 5 and 50 in their tables).
    pub iwae_k: usize,
    /// WAE-MMD weight λ (Tolstikhin et al.: 10 on MNIST).
    pub mmd_lambda: f64,
    /// WAE-MMD kernel (Tolstikhin et al.: inverse multiquadratic).
    pub mmd_kernel: Kernel,
    /// WAE-Sinkhorn weight λ.
    pub sinkhorn_lambda: f64,
    /// WAE-Sinkhorn entropic temperature ε (in squared-distance units).
    pub sinkhorn_eps: f64,
    /// WAE-Sinkhorn iterations (unrolled and differentiated).
    pub sinkhorn_iters: usize,
}

impl Default for VariantParams {
    fn default() -> Self {
        Self {
            iwae_k: 5,
            mmd_lambda: 10.0,
            mmd_kernel: Kernel::Imq,
            sinkhorn_lambda: 1.0,
            sinkhorn_eps: 1.0,
            sinkhorn_iters: 20,
        }
    }
}

impl VariantParams {
    /// Check the values; the message names the bad one.
    pub fn validate(&self) -> Result<(), String> {
        if self.iwae_k == 0 || self.iwae_k > 5000 {
            return Err(format!("IWAE k {} must be in 1..=5000", self.iwae_k));
        }
        if !(self.mmd_lambda.is_finite() && self.mmd_lambda >= 0.0) {
            return Err(format!("MMD λ {} must be finite and ≥ 0", self.mmd_lambda));
        }
        if !(self.sinkhorn_lambda.is_finite() && self.sinkhorn_lambda >= 0.0) {
            return Err(format!(
                "Sinkhorn λ {} must be finite and ≥ 0",
                self.sinkhorn_lambda
            ));
        }
        if !(self.sinkhorn_eps.is_finite() && self.sinkhorn_eps > 0.0) {
            return Err(format!(
                "Sinkhorn ε {} must be finite and > 0",
                self.sinkhorn_eps
            ));
        }
        if self.sinkhorn_iters == 0 || self.sinkhorn_iters > 10_000 {
            return Err(format!(
                "Sinkhorn iterations {} must be in 1..=10000",
                self.sinkhorn_iters
            ));
        }
        Ok(())
    }
}

impl VariantKind {
    /// Every variant, in menu order.
    pub const ALL: [VariantKind; 6] = [
        VariantKind::Vae,
        VariantKind::BetaVae,
        VariantKind::Iwae,
        VariantKind::WaeMmd,
        VariantKind::BetaTcvae,
        VariantKind::WaeSinkhorn,
    ];

    /// Display name.
    pub fn label(self) -> &'static str {
        match self {
            Self::Vae => "VAE",
            Self::BetaVae => "β-VAE",
            Self::Iwae => "IWAE",
            Self::WaeMmd => "WAE-MMD",
            Self::BetaTcvae => "β-TCVAE",
            Self::WaeSinkhorn => "WAE-Sinkhorn",
        }
    }

    /// The paper default for β.
    pub fn default_beta(self) -> f64 {
        match self {
            Self::BetaVae => 4.0,
            Self::BetaTcvae => 6.0,
            _ => 1.0,
        }
    }

    /// Whether the variant's test loss is a bound on −log p(x) (so IWAE NLL is meaningful).
    pub fn has_likelihood_bound(self) -> bool {
        !matches!(self, Self::WaeMmd | Self::WaeSinkhorn)
    }

    /// Build the objective.
    pub fn build(self, params: &VariantParams) -> Box<dyn Objective> {
        match self {
            Self::Vae => Box::new(Elbo::vae()),
            Self::BetaVae => Box::new(Elbo::beta_vae()),
            Self::Iwae => Box::new(Iwae { k: params.iwae_k }),
            Self::WaeMmd => Box::new(WaeMmd {
                lambda: params.mmd_lambda,
                kernel: params.mmd_kernel,
            }),
            Self::BetaTcvae => Box::new(BetaTcVae),
            Self::WaeSinkhorn => Box::new(WaeSinkhorn {
                lambda: params.sinkhorn_lambda,
                eps: params.sinkhorn_eps,
                iters: params.sinkhorn_iters,
            }),
        }
    }
}

impl std::fmt::Display for VariantKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}
