//! VAE-GAN (Larsen et al. 2016): a VAE whose decoder doubles as a GAN generator, with a
//! discriminator on images whose hidden features give a learned similarity measure. Each
//! step has two updates, each with its own Adam:
//! 1. discriminator: real images against reconstructions x̃ = Dec(Enc(x)) and prior
//!    samples x_p = Dec(z), z ~ N(0, I);
//! 2. encoder and decoder: `rec + w·β·KL + fm + γ·gan`, where `fm` is the paper's
//!    feature-matching reconstruction ½‖Dis_l(x) − Dis_l(x̃)‖² on the discriminator's last
//!    hidden layer and `gan` the non-saturating generator loss on x̃ and x_p.
//!
//! As in the paper, the GAN term does not reach the encoder (its x̃ is decoded from a
//! detached code). Departures, for stability on a 10-epoch budget: the pixel likelihood
//! term `rec` is kept beside the feature-matching one (so the loss is still a bound-like
//! −ELBO plus the adversarial terms), one-sided label smoothing (real target 0.9, Salimans
//! et al. 2016), and Adam β₁ = 0.5 in both phases (Radford et al. 2016). The
//! discriminator is an MLP on the mean image for both architectures.

use burn::tensor::{Device, Tensor};

use super::critic::{Critic, critic_accuracy, gan_bce};
use super::{AuxModules, LossTerms, Objective, ParamGroup, Phase, StepContext, VariantKind};
use crate::data::Batch;
use crate::model::gaussian::{kl_std_normal, reparameterize, standard_noise};
use crate::model::likelihood::mean_image;
use crate::model::{Vae, VaeConfig};

const PHASES: [Phase; 2] = [
    Phase::adversarial("disc", ParamGroup::Aux, 1.0),
    Phase::adversarial("vae", ParamGroup::Model, 1.0),
];

/// Target for real images in the discriminator loss (one-sided label smoothing).
pub const REAL_TARGET: f64 = 0.9;

/// The VAE-GAN objective.
#[derive(Debug, Clone)]
pub struct VaeGan {
    /// Hidden widths of the image discriminator.
    pub disc_hidden: Vec<usize>,
    /// Weight γ of the generator's adversarial loss.
    pub gan_weight: f64,
    /// Weight of the feature-matching reconstruction.
    pub fm_weight: f64,
}

impl Objective for VaeGan {
    fn kind(&self) -> VariantKind {
        VariantKind::VaeGan
    }

    fn phases(&self) -> &[Phase] {
        &PHASES
    }

    fn init_aux(&self, model: &VaeConfig, device: &Device) -> AuxModules {
        AuxModules::critic(Critic::new(model.pixels(), &self.disc_hidden, device))
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
        let zp = standard_noise(&z);
        let Some(disc) = aux.critics.first() else {
            // Invariant of init_aux; without a critic this is the plain VAE.
            let rec = model.nll(ctx.likelihood, model.decode(z), x).mean();
            let kl = kl_std_normal(mu, logvar).sum_dim(1).mean();
            return LossTerms {
                total: rec.clone() + kl.clone(),
                terms: vec![("rec", rec), ("kl", kl)],
            };
        };
        if phase == 0 {
            let x_rec = mean_image(model.decode(z.detach()));
            let x_p = mean_image(model.decode(zp));
            let real = disc.logits(x);
            let fake = disc.logits(Tensor::cat(vec![x_rec, x_p], 0).detach());
            let loss = gan_bce(real.clone(), REAL_TARGET) + gan_bce(fake.clone(), 0.0);
            return LossTerms {
                total: loss.clone(),
                terms: vec![("d_loss", loss), ("d_acc", critic_accuracy(real, fake))],
            };
        }
        let out = model.decode(z.clone());
        let rec = model.nll(ctx.likelihood, out.clone(), x.clone()).mean();
        let kl = kl_std_normal(mu, logvar).sum_dim(1).mean();
        let (f_real, _) = disc.forward(x);
        let (f_rec, _) = disc.forward(mean_image(out));
        let fm = (f_real.detach() - f_rec)
            .square()
            .sum_dim(1)
            .mean()
            .mul_scalar(0.5);
        // The adversarial term reaches the decoder only.
        let x_tilde = mean_image(model.decode(z.detach()));
        let x_p = mean_image(model.decode(zp));
        let gan = gan_bce(disc.logits(Tensor::cat(vec![x_tilde, x_p], 0)), 1.0);
        let total = rec.clone()
            + kl.clone().mul_scalar(ctx.beta * ctx.kl_weight)
            + fm.clone().mul_scalar(self.fm_weight)
            + gan.clone().mul_scalar(self.gan_weight);
        LossTerms {
            total,
            terms: vec![("rec", rec), ("kl", kl), ("fm", fm), ("g_loss", gan)],
        }
    }
}
