//! BiGAN / ALI (Donahue et al. 2017; Dumoulin et al. 2017): an encoder E and a generator G
//! trained only adversarially, against a discriminator on joint pairs: real `(x, E(x))`
//! against fake `(G(z), z)`, z ~ N(0, I). At the optimum E and G invert each other, so
//! G(E(x)) reconstructs x although no reconstruction loss is ever used. As in ALI, the
//! encoder is stochastic (z = μ + σε). Each step has two updates, each with its own Adam:
//! the discriminator, then encoder and generator together with swapped labels (the
//! non-saturating form). Stabilisers used, all published: Adam β₁ = 0.5 (Radford et al.
//! 2016); a slower discriminator (0.2 × the run's learning rate, 2e-4, against 1e-3 for
//! encoder and generator: two time scales, Heusel et al. 2017); one-sided label smoothing
//! at 0.9 (Salimans et al. 2016); leaky ReLUs; the minibatch standard-deviation feature
//! (Karras et al. 2018); and instance noise σ = 0.2 on the discriminator's inputs (Sønderby
//! et al. 2017). Measured on the bundled data: without the last three the discriminator
//! wins outright (accuracy 0.99) and every sample is the same digit for 1000+ steps; with
//! them the samples still start collapsed but spread out after ~600 steps. No likelihood
//! bound.

use burn::tensor::{Device, Tensor};

use super::critic::{Critic, critic_accuracy, gan_bce};
use super::vaegan::REAL_TARGET;
use super::{
    AuxModules, LossTerms, Objective, ParamGroup, Phase, StepContext, VariantKind,
    posterior_and_prior,
};
use crate::data::Batch;
use crate::model::likelihood::mean_image;
use crate::model::{Vae, VaeConfig};

const PHASES: [Phase; 2] = [
    Phase::adversarial("disc", ParamGroup::Aux, 0.2),
    Phase::adversarial("gen", ParamGroup::Model, 1.0),
];

/// The BiGAN / ALI objective.
#[derive(Debug, Clone)]
pub struct Bigan {
    /// Hidden widths of the joint discriminator on `[x, z]`.
    pub disc_hidden: Vec<usize>,
}

/// Real pairs `[x, E(x)]` and fake pairs `[G(z), z]`, each `[batch, pixels + latent]`.
pub fn joint_pairs(model: &Vae, x: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
    let (z_hat, z) = posterior_and_prior(model, x.clone());
    let x_gen = mean_image(model.decode(z.clone()));
    (
        Tensor::cat(vec![x, z_hat], 1),
        Tensor::cat(vec![x_gen, z], 1),
    )
}

/// Standard deviation of the instance noise added to every discriminator input.
pub const INSTANCE_NOISE: f64 = 0.2;

/// Instance noise (Sønderby et al. 2017): Gaussian noise on the discriminator's inputs, so
/// that real and generated distributions overlap and it cannot win on trivial differences
/// (binary-looking real pixels against smooth generated ones).
fn instance_noise(t: Tensor<2>) -> Tensor<2> {
    let noise = crate::model::noise::normal(t.shape(), INSTANCE_NOISE, &t.device());
    t + noise
}

impl Objective for Bigan {
    fn kind(&self) -> VariantKind {
        VariantKind::Bigan
    }

    fn phases(&self) -> &[Phase] {
        &PHASES
    }

    fn init_aux(&self, model: &VaeConfig, device: &Device) -> AuxModules {
        AuxModules::critic(Critic::with_minibatch_std(
            model.pixels() + model.latent_dim,
            &self.disc_hidden,
            device,
        ))
    }

    fn loss(
        &self,
        model: &Vae,
        aux: &AuxModules,
        batch: &Batch,
        phase: usize,
        _ctx: &StepContext,
    ) -> LossTerms {
        let (real, fake) = joint_pairs(model, batch.images.clone());
        let (real, fake) = (instance_noise(real), instance_noise(fake));
        let Some(disc) = aux.critics.first() else {
            // Invariant of init_aux; nothing to train against.
            let zero = real.sum().mul_scalar(0.0);
            return LossTerms {
                total: zero,
                terms: vec![],
            };
        };
        if phase == 0 {
            let lr = disc.logits(real.detach());
            let lf = disc.logits(fake.detach());
            let loss = gan_bce(lr.clone(), REAL_TARGET) + gan_bce(lf.clone(), 0.0);
            LossTerms {
                total: loss.clone(),
                terms: vec![("d_loss", loss), ("d_acc", critic_accuracy(lr, lf))],
            }
        } else {
            let g = gan_bce(disc.logits(real), 0.0) + gan_bce(disc.logits(fake), 1.0);
            LossTerms {
                total: g.clone(),
                terms: vec![("g_loss", g)],
            }
        }
    }
}
