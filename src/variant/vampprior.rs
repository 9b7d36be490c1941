//! VampPrior (Tomczak & Welling 2018): the VAE with the prior replaced by the mixture of
//! the encoder's posteriors at K learned pseudo-inputs, `p(z) = (1/K) Σ_k q(z | u_k)`
//! ([`crate::model::vamp`]). The KL term has no closed form and is estimated by Monte
//! Carlo at the sampled z: `log q(z|x) − log p(z)`. β is held at 1 (the KL schedule's
//! warm-up still applies, as in the paper); free bits do not apply (the KL does not split
//! by dimension).

use burn::tensor::Tensor;

use super::{AuxModules, LossTerms, Objective, StepContext, VariantKind};
use crate::data::Batch;
use crate::model::gaussian::{log_mean_exp, log_normal, reparameterize, standard_noise};
use crate::model::vamp::{log_prior, mixture_log_marginals};
use crate::model::{Likelihood, Vae};

/// One Monte-Carlo sample of the VampPrior ELBO's pieces, per image.
#[derive(Debug, Clone)]
pub struct VampParts {
    /// `−log p(x | z)`, `[batch]`.
    pub rec: Tensor<1>,
    /// `log q(z|x) − log p(z)` at the sampled z, `[batch]`.
    pub kl: Tensor<1>,
    /// The sampled z, `[batch, latent]`.
    pub z: Tensor<2>,
    /// `(μ, log σ²)` of q(z | x), each `[batch, latent]`.
    pub posterior: (Tensor<2>, Tensor<2>),
}

/// The pieces of the VampPrior ELBO with explicit noise `eps` `[batch, latent]` (drawn when
/// `None`): `z = μ + σ ε`, `rec = −log p(x|z)`, `kl = log q(z|x) − log p(z)` with p the
/// model's prior ([`log_prior`]: N(0, I) for a model without pseudo-inputs).
pub fn vamp_parts(
    model: &Vae,
    likelihood: Likelihood,
    x: Tensor<2>,
    eps: Option<Tensor<2>>,
) -> VampParts {
    let b = x.dims()[0];
    let (mu, logvar) = model.encode_image(x.clone(), None);
    let eps = eps.unwrap_or_else(|| standard_noise(&mu));
    let z = reparameterize(mu.clone(), logvar.clone(), eps);
    let rec = model.nll(likelihood, model.decode_image(z.clone(), None), x);
    let log_q: Tensor<1> = log_normal(z.clone(), mu.clone(), logvar.clone())
        .sum_dim(1)
        .reshape([b]);
    let kl = log_q - log_prior(model, z.clone());
    VampParts {
        rec,
        kl,
        z,
        posterior: (mu, logvar),
    }
}

/// Per image and dimension, `log q(z_j|x) − log p_j(z_j)` at the sampled z of `parts`,
/// with `p_j` the prior's marginal in dimension j: `[batch, latent]`. Each column
/// estimates the KL of one dimension; their sum differs from the joint [`VampParts::kl`]
/// by what the mixture's dimensions share (for N(0, I), nothing).
pub fn vamp_kl_per_dim(model: &Vae, parts: &VampParts) -> Tensor<2> {
    let (mu, logvar) = parts.posterior.clone();
    let log_q = log_normal(parts.z.clone(), mu, logvar);
    match model.vamp_components() {
        Some((m, lv)) => log_q - mixture_log_marginals(parts.z.clone(), m, lv),
        None => log_q - crate::model::gaussian::log_std_normal(parts.z.clone()),
    }
}

/// The k-sample importance-weighted bound under the model's prior,
/// `log (1/k) Σ_i p(x|z_i) p(z_i) / q(z_i|x)` per image `[batch]`, with `z_i = μ + ε_i σ`.
/// `eps` is `[k, batch, latent]` (drawn when `None`).
pub fn vamp_iwae(
    model: &Vae,
    likelihood: Likelihood,
    x: Tensor<2>,
    k: usize,
    eps: Option<Tensor<3>>,
) -> Tensor<1> {
    let [b, p] = x.dims();
    let k = k.max(1);
    let (mu, logvar) = model.encode_image(x.clone(), None);
    let d = mu.dims()[1];
    let mu = mu.unsqueeze_dim::<3>(0).expand([k, b, d]);
    let logvar = logvar.unsqueeze_dim::<3>(0).expand([k, b, d]);
    let eps = eps.unwrap_or_else(|| standard_noise(&mu));
    let z = reparameterize(mu.clone(), logvar.clone(), eps);
    let flat = z.clone().reshape([k * b, d]);
    let xk = x
        .unsqueeze_dim::<3>(0)
        .expand([k, b, p])
        .reshape([k * b, p]);
    let log_px: Tensor<2> = model
        .nll(likelihood, model.decode_image(flat.clone(), None), xk)
        .neg()
        .reshape([k, b]);
    let log_pz: Tensor<2> = log_prior(model, flat).reshape([k, b]);
    let log_qz: Tensor<2> = log_normal(z, mu, logvar).sum_dim(2).reshape([k, b]);
    log_mean_exp(log_px + log_pz - log_qz, 0).reshape([b])
}

/// The VampPrior objective: `mean rec + w · mean (log q(z|x) − log p(z))`, one sample of z,
/// w the KL schedule's weight.
#[derive(Debug, Clone)]
pub struct VampPrior;

impl Objective for VampPrior {
    fn kind(&self) -> VariantKind {
        VariantKind::VampPrior
    }

    fn per_sample(&self, _ctx: &StepContext) -> bool {
        true
    }

    fn loss(
        &self,
        model: &Vae,
        _aux: &AuxModules,
        batch: &Batch,
        _phase: usize,
        ctx: &StepContext,
    ) -> LossTerms {
        let t = vamp_parts(model, ctx.likelihood, batch.images.clone(), None);
        let rec = t.rec.mean();
        let kl = t.kl.mean();
        let total = rec.clone() + kl.clone().mul_scalar(ctx.kl_weight);
        LossTerms {
            total,
            terms: vec![("rec", rec), ("kl", kl)],
        }
    }
}
