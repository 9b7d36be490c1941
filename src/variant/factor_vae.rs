//! FactorVAE (Kim & Mnih 2018, "Disentangling by Factorising"): the ELBO plus γ times the
//! total correlation TC(z) = KL(q(z) ‖ Π_j q(z_j)) of the aggregate posterior, estimated by
//! a discriminator D that tells codes z ~ q(z) from codes whose dimensions were each
//! shuffled across the batch (samples of Π_j q(z_j)): TC ≈ E_q[log D(z) / (1 − D(z))], the
//! mean logit. Two updates per step, each with its own Adam:
//! 1. the VAE (encoder and decoder) on `rec + β·KL + γ·TC`, the discriminator held;
//! 2. the discriminator on telling the batch's codes (real) from their per-dimension
//!    permutation (fake), codes detached.
//!
//! The paper draws the permuted codes from a second batch; here the same batch's codes are
//! permuted (as in common implementations), which samples the same product of marginals.
//! γ = 40 (the paper's choice for dSprites among 10…100); the discriminator is an MLP with
//! leaky ReLUs (the paper: 6 layers of 1000; here 2 of 500 by default, for 2-core CPUs).

use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::SeedableRng;
use rand::seq::SliceRandom;

use super::critic::{Critic, critic_accuracy, gan_bce};
use super::vae::elbo_loss;
use super::{AuxModules, LossTerms, Objective, ParamGroup, Phase, StepContext, VariantKind};
use crate::data::Batch;
use crate::model::gaussian::{kl_std_normal, reparameterize, standard_noise};
use crate::model::{Vae, VaeConfig};

const PHASES: [Phase; 2] = [
    Phase::new("vae", ParamGroup::Model),
    Phase::adversarial("disc", ParamGroup::Aux, 1.0),
];

/// The FactorVAE objective.
#[derive(Debug, Clone)]
pub struct FactorVae {
    /// Weight γ of the total-correlation term.
    pub gamma: f64,
    /// Hidden widths of the discriminator on z.
    pub disc_hidden: Vec<usize>,
}

/// Shuffle each column of `z` `[batch, latent]` across the batch, independently (seeded
/// by `seed`): every dimension keeps its values, the dependence between dimensions is gone.
pub fn permute_dims(z: Tensor<2>, seed: u64) -> Tensor<2> {
    let [b, d] = z.dims();
    let mut rng = rand::rngs::ChaCha8Rng::seed_from_u64(seed);
    let mut idx = vec![0i64; b * d];
    let mut perm: Vec<i64> = (0..b as i64).collect();
    for j in 0..d {
        perm.shuffle(&mut rng);
        for (i, &p) in perm.iter().enumerate() {
            idx[i * d + j] = p;
        }
    }
    let device: Device = z.device();
    let idx: Tensor<2, Int> = Tensor::from_data(TensorData::new(idx, [b, d]), &device);
    z.gather(0, idx)
}

impl Objective for FactorVae {
    fn kind(&self) -> VariantKind {
        VariantKind::FactorVae
    }

    fn phases(&self) -> &[Phase] {
        &PHASES
    }

    fn init_aux(&self, model: &VaeConfig, device: &Device) -> AuxModules {
        AuxModules::critic(Critic::new(model.latent_dim, &self.disc_hidden, device))
    }

    fn loss(
        &self,
        model: &Vae,
        aux: &AuxModules,
        batch: &Batch,
        phase: usize,
        ctx: &StepContext,
    ) -> LossTerms {
        let x = batch.images.clone();
        let (mu, logvar) = model.encode(x.clone());
        let z = reparameterize(mu.clone(), logvar.clone(), standard_noise(&mu));
        let Some(disc) = aux.critics.first() else {
            // Invariant of init_aux; without a discriminator this is the ELBO.
            return elbo(model, x, z, mu, logvar, ctx);
        };
        match phase {
            0 => {
                let mut terms = elbo(model, x, z.clone(), mu, logvar, ctx);
                // log D/(1 − D) is the logit itself.
                let tc = disc.logits(z).mean();
                terms.total = terms.total + tc.clone().mul_scalar(self.gamma);
                terms.terms.push(("tc", tc));
                terms
            }
            _ => {
                let z = z.detach();
                let shuffled = permute_dims(z.clone(), ctx.step);
                let real = disc.logits(z);
                let fake = disc.logits(shuffled);
                let loss = gan_bce(real.clone(), 1.0) + gan_bce(fake.clone(), 0.0);
                LossTerms {
                    total: loss.clone(),
                    terms: vec![("d_loss", loss), ("d_acc", critic_accuracy(real, fake))],
                }
            }
        }
    }
}

/// `rec + β·KL` (β and the KL schedule from the step context), from the batch's encoding.
fn elbo(
    model: &Vae,
    x: Tensor<2>,
    z: Tensor<2>,
    mu: Tensor<2>,
    logvar: Tensor<2>,
    ctx: &StepContext,
) -> LossTerms {
    let rec = model.nll(ctx.likelihood, model.decode(z), x);
    elbo_loss(rec, kl_std_normal(mu, logvar), ctx.beta, ctx)
}
