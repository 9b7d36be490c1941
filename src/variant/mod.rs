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

mod aae;
pub mod about;
mod bigan;
mod critic;
mod factor_vae;
mod iwae;
mod regularize;
mod schedule;
mod sinkhorn;
mod tcvae;
mod two_layer;
mod vae;
mod vaegan;
mod vq;
mod wae;

pub use crate::model::pairwise_sq_dists;
pub use aae::Aae;
pub use about::About;
pub use bigan::{Bigan, joint_pairs};
pub use critic::{Critic, LEAKY_SLOPE, critic_accuracy, gan_bce, r1_penalty};
pub use factor_vae::{FactorVae, permute_dims};
pub use iwae::{Iwae, iwae_bound};
pub use regularize::l1_norm;
pub use schedule::{CycleShape, KlSchedule};
pub use sinkhorn::{WaeSinkhorn, sinkhorn_cost};
pub use tcvae::{BetaTcVae, TcTerms, tc_decomposition};
pub use two_layer::{
    TwoLayer, TwoLayerParts, two_layer_iwae, two_layer_iwae_with, two_layer_parts,
};
pub use vae::{Elbo, elbo_loss, elbo_parts, kl_term};
pub use vaegan::{REAL_TARGET, VaeGan};
pub use vq::{CodeUsage, VqVae, code_counts, perplexity, usage_from_counts};
pub use wae::{Kernel, WaeMmd, mmd2_unbiased};

use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::data::Batch;
use crate::model::gaussian::{reparameterize, standard_noise};
use crate::model::{LatentKind, Likelihood, ReluStack, Vae, VaeConfig};

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

/// One draw z ~ q(z | x) per image, `[batch, latent]`, by the reparameterisation trick.
pub fn posterior_sample(model: &Vae, x: Tensor<2>) -> Tensor<2> {
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
    /// Adversarial autoencoder: a discriminator on z instead of the KL term.
    Aae,
    /// VAE-GAN: a VAE with an image discriminator and feature-matching reconstruction.
    VaeGan,
    /// BiGAN / ALI: encoder and generator against a discriminator on (x, z) pairs.
    Bigan,
    /// Conditional VAE: encoder and decoder see the label.
    Cvae,
    /// VQ-VAE: a learned codebook, straight-through gradients.
    VqVae,
    /// Two stochastic layers z1 → z2.
    TwoLayer,
    /// FactorVAE: the ELBO plus γ · total correlation, estimated by a discriminator
    /// between codes and their per-dimension permutation.
    FactorVae,
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
    /// AAE discriminator hidden widths (Makhzani et al.'s MNIST model: 1000-1000).
    pub aae_disc_hidden: Vec<usize>,
    /// AAE weight γ of the R1 gradient penalty on the discriminator (Mescheder et al.
    /// 2018); 0 turns it off.
    pub aae_r1: f64,
    /// VAE-GAN image discriminator hidden widths.
    pub vaegan_disc_hidden: Vec<usize>,
    /// VAE-GAN weight γ of the generator's adversarial loss.
    pub vaegan_gan_weight: f64,
    /// VAE-GAN weight of the feature-matching reconstruction.
    pub vaegan_fm_weight: f64,
    /// BiGAN joint discriminator hidden widths.
    pub bigan_disc_hidden: Vec<usize>,
    /// Conditional VAE label classes.
    pub cvae_classes: usize,
    /// VQ-VAE codebook entries K (van den Oord et al.: 512).
    pub vq_codes: usize,
    /// VQ-VAE dimensions D per codebook entry; divides the latent size.
    pub vq_code_dim: usize,
    /// VQ-VAE commitment weight β (van den Oord et al.: 0.25).
    pub vq_commitment: f64,
    /// Two-layer VAE: dimensions of the lower latent z1 (the top z2 is the latent size).
    pub two_layer_bottom: usize,
    /// Two-layer VAE: hidden widths between z1 and z2 (Burda et al.: 100-100).
    pub two_layer_hidden: Vec<usize>,
    /// FactorVAE weight γ of the total correlation (Kim & Mnih: 40 on dSprites).
    pub factor_gamma: f64,
    /// FactorVAE discriminator hidden widths.
    pub factor_disc_hidden: Vec<usize>,
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
            aae_disc_hidden: vec![1000, 1000],
            aae_r1: 10.0,
            vaegan_disc_hidden: vec![512, 256],
            vaegan_gan_weight: 10.0,
            vaegan_fm_weight: 1.0,
            bigan_disc_hidden: vec![512, 512],
            cvae_classes: 10,
            vq_codes: 512,
            vq_code_dim: 4,
            vq_commitment: 0.25,
            two_layer_bottom: 50,
            two_layer_hidden: vec![100, 100],
            factor_gamma: 40.0,
            factor_disc_hidden: vec![500, 500],
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
        for (name, widths) in [
            ("AAE discriminator", &self.aae_disc_hidden),
            ("VAE-GAN discriminator", &self.vaegan_disc_hidden),
            ("BiGAN discriminator", &self.bigan_disc_hidden),
            ("FactorVAE discriminator", &self.factor_disc_hidden),
        ] {
            if widths.contains(&0) || widths.iter().any(|&w| w > 65_536) {
                return Err(format!(
                    "{name} hidden widths {widths:?} must be in 1..=65536"
                ));
            }
        }
        for (name, w) in [
            ("VAE-GAN γ", self.vaegan_gan_weight),
            ("VAE-GAN feature-matching weight", self.vaegan_fm_weight),
            ("VQ commitment β", self.vq_commitment),
            ("AAE R1 γ", self.aae_r1),
            ("FactorVAE γ", self.factor_gamma),
        ] {
            if !(w.is_finite() && w >= 0.0) {
                return Err(format!("{name} {w} must be finite and ≥ 0"));
            }
        }
        // The codebook, class count and two-layer sizes are checked with the model
        // config they go into (see `VaeConfig::validate`).
        Ok(())
    }
}

impl VariantKind {
    /// Every variant, in menu order.
    pub const ALL: [VariantKind; 13] = [
        VariantKind::Vae,
        VariantKind::BetaVae,
        VariantKind::Iwae,
        VariantKind::WaeMmd,
        VariantKind::WaeSinkhorn,
        VariantKind::Aae,
        VariantKind::VaeGan,
        VariantKind::Bigan,
        VariantKind::Cvae,
        VariantKind::BetaTcvae,
        VariantKind::VqVae,
        VariantKind::TwoLayer,
        VariantKind::FactorVae,
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
            Self::Aae => "AAE",
            Self::VaeGan => "VAE-GAN",
            Self::Bigan => "BiGAN/ALI",
            Self::Cvae => "Conditional VAE",
            Self::VqVae => "VQ-VAE",
            Self::TwoLayer => "Two-layer VAE",
            Self::FactorVae => "FactorVAE",
        }
    }

    /// The latent structure this variant trains.
    pub fn latent_kind(self, params: &VariantParams) -> LatentKind {
        match self {
            Self::Cvae => LatentKind::Conditional {
                classes: params.cvae_classes,
            },
            Self::VqVae => LatentKind::Quantized {
                codes: params.vq_codes,
                code_dim: params.vq_code_dim,
            },
            Self::TwoLayer => LatentKind::TwoLayer {
                bottom: params.two_layer_bottom,
                hidden: params.two_layer_hidden.clone(),
            },
            _ => LatentKind::Gaussian,
        }
    }

    /// Whether the variant trains a discriminator.
    pub fn is_adversarial(self) -> bool {
        matches!(
            self,
            Self::Aae | Self::VaeGan | Self::Bigan | Self::FactorVae
        )
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
        !matches!(
            self,
            Self::WaeMmd | Self::WaeSinkhorn | Self::Aae | Self::Bigan | Self::VqVae
        )
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
            Self::Aae => Box::new(Aae {
                disc_hidden: params.aae_disc_hidden.clone(),
                r1: params.aae_r1,
            }),
            Self::VaeGan => Box::new(VaeGan {
                disc_hidden: params.vaegan_disc_hidden.clone(),
                gan_weight: params.vaegan_gan_weight,
                fm_weight: params.vaegan_fm_weight,
            }),
            Self::Bigan => Box::new(Bigan {
                disc_hidden: params.bigan_disc_hidden.clone(),
            }),
            Self::Cvae => Box::new(Elbo::cvae()),
            Self::VqVae => Box::new(VqVae {
                commitment: params.vq_commitment,
                ema_decay: 0.99,
            }),
            Self::TwoLayer => Box::new(TwoLayer),
            Self::FactorVae => Box::new(FactorVae {
                gamma: params.factor_gamma,
                disc_hidden: params.factor_disc_hidden.clone(),
            }),
        }
    }
}

impl std::fmt::Display for VariantKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}
