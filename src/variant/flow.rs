//! Flow posteriors: the VAE with `q(z|x)` a diagonal Gaussian followed by a normalizing
//! flow (IAF, Kingma et al. 2016; planar, Rezende & Mohamed 2015; see
//! [`crate::model::flow`]; the IAF's steps read each image's context `h = [μ, log σ²]`).
//! With `z₀ = μ + σ ε` and `z_T = f(z₀; h)`,
//!
//! `log q(z_T | x) = log N(z₀; μ, σ²) − Σ_t log |det_t|`,
//!
//! and the negative ELBO is `rec + KL_T`, `rec = −log p(x | z_T)`,
//! `KL_T = E[log q(z_T | x) − log p(z_T)]`. Since `E_q₀[log q₀(z₀) − log p(z₀)]` is the
//! closed-form `KL(q₀ ‖ N(0, I))`, the one-sample estimate used here is
//!
//! `KL_T ≈ KL(q₀ ‖ N(0, I)) + [log p(z₀) − log p(z_T) − Σ_t log |det_t|]`,
//!
//! unbiased, and exactly the VAE's analytic KL when the flow is the identity. The IWAE
//! bound weighs samples by `log p(x | z_T) + log p(z_T) − log q₀(z₀) + Σ_t log |det_t|`.

use burn::tensor::Tensor;

use super::{AuxModules, LossTerms, Objective, StepContext, VariantKind};
use crate::data::Batch;
use crate::model::flow::flow_context;
use crate::model::gaussian::{
    kl_std_normal, log_mean_exp, log_normal, log_std_normal, reparameterize, standard_noise,
};
use crate::model::{Likelihood, Vae};

/// One sample of the flow ELBO's pieces, per image.
#[derive(Debug, Clone)]
pub struct FlowParts {
    /// `−log p(x | z_T)`, `[batch]`.
    pub rec: Tensor<1>,
    /// The base posterior's closed-form `KL(q₀(z₀|x) ‖ N(0, I))` per dimension,
    /// `[batch, latent]`.
    pub kl_base: Tensor<2>,
    /// The flow's correction `log p(z₀) − log p(z_T) − Σ_t log |det_t|`, `[batch]`:
    /// `kl_base` summed plus this is the sampled `KL_T`.
    pub kl_flow: Tensor<1>,
    /// `Σ_t log |det_t|` at the sample, `[batch]`.
    pub log_det: Tensor<1>,
}

/// The flow ELBO's pieces with explicit base noise `eps` `[batch, latent]` (drawn when
/// `None`). A model without a flow gives the VAE's pieces and a zero correction.
pub fn flow_parts(
    model: &Vae,
    likelihood: Likelihood,
    x: Tensor<2>,
    eps: Option<Tensor<2>>,
) -> FlowParts {
    let (mu, logvar) = model.encode_image(x.clone(), None);
    let b = mu.dims()[0];
    let eps = eps.unwrap_or_else(|| standard_noise(&mu));
    let z0 = reparameterize(mu.clone(), logvar.clone(), eps);
    let (zt, log_det) = match &model.flow {
        Some(f) => f.forward(z0.clone(), flow_context(mu.clone(), logvar.clone())),
        None => (z0.clone(), Tensor::zeros([b], &z0.device())),
    };
    let rec = model.nll(likelihood, model.decode_image(zt.clone(), None), x);
    let log_p0: Tensor<1> = log_std_normal(z0).sum_dim(1).reshape([b]);
    let log_pt: Tensor<1> = log_std_normal(zt).sum_dim(1).reshape([b]);
    FlowParts {
        rec,
        kl_base: kl_std_normal(mu, logvar),
        kl_flow: log_p0 - log_pt - log_det.clone(),
        log_det,
    }
}

/// The k-sample importance-weighted bound of a flow model, `[batch]`:
/// `log (1/k) Σ_i p(x, z_T,i) / q(z_T,i | x)`, with base noise `eps` `[k·batch, latent]`
/// for the k copies of the batch, sample-major (drawn when `None`).
pub fn flow_iwae_with(
    model: &Vae,
    likelihood: Likelihood,
    x: Tensor<2>,
    k: usize,
    eps: Option<Tensor<2>>,
) -> Tensor<1> {
    let [b, p] = x.dims();
    let k = k.max(1);
    let xk = x
        .unsqueeze_dim::<3>(0)
        .expand([k, b, p])
        .reshape([k * b, p]);
    let (mu, logvar) = model.encode_image(xk.clone(), None);
    let n = mu.dims()[0];
    let eps = eps.unwrap_or_else(|| standard_noise(&mu));
    let z0 = reparameterize(mu.clone(), logvar.clone(), eps);
    let (zt, log_det) = match &model.flow {
        Some(f) => f.forward(z0.clone(), flow_context(mu.clone(), logvar.clone())),
        None => (z0.clone(), Tensor::zeros([n], &z0.device())),
    };
    let log_px = model
        .nll(likelihood, model.decode_image(zt.clone(), None), xk)
        .neg();
    let log_pt: Tensor<1> = log_std_normal(zt).sum_dim(1).reshape([n]);
    let log_q0: Tensor<1> = log_normal(z0, mu, logvar).sum_dim(1).reshape([n]);
    let log_w: Tensor<2> = (log_px + log_pt - log_q0 + log_det).reshape([k, b]);
    log_mean_exp(log_w, 0).reshape([b])
}

/// [`flow_iwae_with`] with fresh noise.
pub fn flow_iwae(model: &Vae, likelihood: Likelihood, x: Tensor<2>, k: usize) -> Tensor<1> {
    flow_iwae_with(model, likelihood, x, k, None)
}

/// The ELBO of a flow posterior: `rec + w · KL_T` (w the KL schedule's weight; β is 1).
#[derive(Debug, Clone)]
pub struct FlowElbo {
    /// [`VariantKind::Iaf`] or [`VariantKind::PlanarFlow`].
    pub kind: VariantKind,
}

impl Objective for FlowElbo {
    fn kind(&self) -> VariantKind {
        self.kind
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
        let t = flow_parts(model, ctx.likelihood, batch.images.clone(), None);
        let b = t.rec.dims()[0];
        let rec = t.rec.mean();
        let kl = (t.kl_base.sum_dim(1).reshape([b]) + t.kl_flow).mean();
        let total = rec.clone() + kl.clone().mul_scalar(ctx.kl_weight);
        LossTerms {
            total,
            terms: vec![("rec", rec), ("kl", kl), ("log_det", t.log_det.mean())],
        }
    }
}
