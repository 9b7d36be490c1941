//! The ELBO objective: the VAE of Kingma & Welling, and β-VAE (Higgins et al. 2017), which
//! is the same objective with the KL term weighted by β. Optional free bits (Kingma et al.
//! 2016) floor each latent dimension's batch-averaged KL at λ nats. The conditional VAE is
//! the same objective on a model whose encoder and decoder also see the label.

use burn::tensor::{Int, Tensor};

use super::{LossTerms, Objective, StepContext, VariantKind};
use crate::data::Batch;
use crate::model::gaussian::{kl_std_normal, reparameterize, standard_noise};
use crate::model::{Likelihood, Vae};

/// One Monte-Carlo sample of the ELBO's pieces for a batch, with explicit noise `eps`:
/// returns `(−log p(x|z) per image [batch], KL per image and dimension [batch, latent])`.
/// `labels` condition a conditional model (its bound is then on −log p(x | y)) and are
/// ignored by an unconditional one.
pub fn elbo_parts(
    model: &Vae,
    likelihood: Likelihood,
    x: Tensor<2>,
    labels: Option<&Tensor<1, Int>>,
    eps: Option<Tensor<2>>,
) -> (Tensor<1>, Tensor<2>) {
    let (mu, logvar) = model.encode_image(x.clone(), labels);
    let eps = eps.unwrap_or_else(|| standard_noise(&mu));
    let z = reparameterize(mu.clone(), logvar.clone(), eps);
    let rec = model.nll(likelihood, model.decode_image(z, labels), x);
    (rec, kl_std_normal(mu, logvar))
}

/// Reduce per-dimension KL `[batch, latent]` to the KL term: the sum over dimensions of the
/// batch mean, each floored at `free_bits` nats when set.
pub fn kl_term(kl: Tensor<2>, free_bits: Option<f64>) -> Tensor<1> {
    let per_dim: Tensor<1> = kl.mean_dim(0).squeeze_dim(0);
    match free_bits {
        Some(lambda) if lambda > 0.0 => per_dim.clamp_min(lambda).sum(),
        _ => per_dim.sum(),
    }
}

/// ELBO with a β-weighted KL term.
#[derive(Debug, Clone)]
pub struct Elbo {
    kind: VariantKind,
}

impl Elbo {
    /// The plain VAE (β is held at 1).
    pub fn vae() -> Self {
        Self {
            kind: VariantKind::Vae,
        }
    }

    /// β-VAE: β comes from the step context and may change live.
    pub fn beta_vae() -> Self {
        Self {
            kind: VariantKind::BetaVae,
        }
    }

    /// The conditional VAE (Sohn et al. 2015): the ELBO of p(x | y), with the batch's
    /// labels fed to encoder and decoder; β as for the β-VAE (1 by default).
    pub fn cvae() -> Self {
        Self {
            kind: VariantKind::Cvae,
        }
    }
}

impl Objective for Elbo {
    fn kind(&self) -> VariantKind {
        self.kind
    }

    /// Free bits floor the batch-averaged KL per dimension, which couples the images.
    fn per_sample(&self, ctx: &StepContext) -> bool {
        ctx.free_bits.is_none_or(|lambda| lambda <= 0.0)
    }

    fn loss(
        &self,
        model: &Vae,
        _aux: &super::AuxModules,
        batch: &Batch,
        _phase: usize,
        ctx: &StepContext,
    ) -> LossTerms {
        let (rec, kl) = elbo_parts(
            model,
            ctx.likelihood,
            batch.images.clone(),
            Some(&batch.labels),
            None,
        );
        let beta = match self.kind {
            VariantKind::Vae => 1.0,
            _ => ctx.beta,
        };
        elbo_loss(rec, kl, beta, ctx)
    }
}

/// The (β-weighted) negative ELBO from one sample's pieces, `rec` per image `[batch]` and
/// KL per image and dimension `[batch, latent]`: `mean rec + β · w · KL term` (w the KL
/// schedule's weight, the KL term floored by free bits), reporting `rec` and the raw `kl`.
pub fn elbo_loss(rec: Tensor<1>, kl: Tensor<2>, beta: f64, ctx: &StepContext) -> LossTerms {
    let rec = rec.mean();
    let kl_raw = kl.clone().sum_dim(1).mean();
    let kl_obj = kl_term(kl, ctx.free_bits);
    let total = rec.clone() + kl_obj.mul_scalar(beta * ctx.kl_weight);
    LossTerms {
        total,
        terms: vec![("rec", rec), ("kl", kl_raw)],
    }
}
