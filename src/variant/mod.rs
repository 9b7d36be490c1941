//! Training objectives ("variants") behind one trait, and the KL schedules they share.
//!
//! # How a new variant plugs in
//!
//! A variant is a type implementing [`Objective`], in its own file here, plus one entry in
//! [`VariantKind`] (name, CLI value, and `build`). The trainer owns the
//! [`Vae`](crate::model::Vae) (encoder and
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
mod avb;
mod bigan;
mod capacity;
mod critic;
mod dip;
mod factor_vae;
mod flow;
mod iwae;
mod kind;
mod m2;
mod objective;
mod regularize;
mod schedule;
mod sinkhorn;
mod tcvae;
mod two_layer;
mod vae;
mod vaegan;
mod vampprior;
mod vq;
mod wae;

pub use crate::model::pairwise_sq_dists;
pub use aae::Aae;
pub use about::About;
pub use avb::{Avb, avb_disc_loss, avb_kl_estimate, avb_pairs};
pub use bigan::{Bigan, joint_pairs};
pub use capacity::CapacityVae;
pub use critic::{Critic, LEAKY_SLOPE, critic_accuracy, gan_bce, r1_penalty};
pub use dip::{DipVae, dip_covariance, dip_penalty};
pub use factor_vae::{FactorVae, permute_dims};
pub use flow::{FlowElbo, FlowParts, flow_iwae, flow_iwae_with, flow_parts};
pub use iwae::{Iwae, iwae_bound, iwae_log_weights};
pub use kind::{Kernel, VariantKind, VariantParams};
pub use m2::{
    ClassParts, LabelledError, LabelledPool, M2, Marginal, UNLABELLED, class_parts,
    classifier_accuracy, correct_predictions, m2_iwae, m2_loss, marginal, select_labelled,
};
pub use objective::{
    AuxModules, LossTerms, MODEL_PHASE, Objective, ParamGroup, Phase, StepContext,
    posterior_and_prior, posterior_sample,
};
pub use regularize::l1_norm;
pub use schedule::{CycleShape, KlSchedule};
pub use sinkhorn::{WaeSinkhorn, sinkhorn_cost};
pub use tcvae::{BetaTcVae, TcTerms, tc_decomposition};
pub use two_layer::{
    TwoLayer, TwoLayerParts, two_layer_iwae, two_layer_iwae_with, two_layer_parts,
};
pub use vae::{Elbo, elbo_loss, elbo_parts, kl_term};
pub use vaegan::{REAL_TARGET, VaeGan};
pub use vampprior::{VampParts, VampPrior, vamp_iwae, vamp_kl_per_dim, vamp_parts};
pub use vq::{CodeUsage, VqVae, code_counts, perplexity, usage_from_counts};
pub use wae::{WaeMmd, mmd2_unbiased};

impl VariantKind {
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
            Self::CapacityVae => Box::new(CapacityVae {
                gamma: params.capacity_gamma,
                c_max: params.capacity_max,
                steps: params.capacity_steps,
            }),
            Self::DipVaeI | Self::DipVaeII => {
                let second = self == Self::DipVaeII;
                Box::new(DipVae {
                    second,
                    lambda_od: params.dip_lambda_od,
                    lambda_d: params.dip_lambda_d(second),
                })
            }
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
            Self::VampPrior => Box::new(VampPrior),
            Self::FactorVae => Box::new(FactorVae {
                gamma: params.factor_gamma,
                disc_hidden: params.factor_disc_hidden.clone(),
            }),
            Self::Avb => Box::new(Avb::new(params.avb_disc_hidden.clone(), params.avb_disc_lr)),
            Self::Iaf | Self::PlanarFlow => Box::new(FlowElbo { kind: self }),
            Self::M2 => Box::new(M2 {
                labelled: params.m2_labelled,
                alpha: params.m2_alpha,
            }),
        }
    }
}
