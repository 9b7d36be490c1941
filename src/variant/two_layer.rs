//! The two-layer VAE of Burda et al. (2015, §5): two stochastic layers,
//! `q(z1|x) q(z2|z1)` and `p(z2) p(z1|z2) p(x|z1)`, all diagonal Gaussians but p(x|z1).
//!
//! The negative ELBO decomposes as `rec + KL₁ + KL₂` with
//! - `rec = −log p(x | z1)`,
//! - `KL₁ = log q(z1|x) − log p(z1|z2)` (one sample; no closed form, since z2 depends on z1),
//! - `KL₂ = KL(q(z2|z1) ‖ N(0, I))` (closed form given z1).

use burn::tensor::Tensor;

use super::{AuxModules, LossTerms, Objective, StepContext, VariantKind, elbo_parts};
use crate::data::Batch;
use crate::model::gaussian::{
    kl_std_normal, log_mean_exp, log_normal, log_std_normal, reparameterize, standard_noise,
};
use crate::model::{Likelihood, Vae};

/// One sample of the two-layer ELBO's pieces, per image.
#[derive(Debug, Clone)]
pub struct TwoLayerParts {
    /// `−log p(x | z1)`, `[batch]`.
    pub rec: Tensor<1>,
    /// `log q(z1|x) − log p(z1|z2)` at the sampled z1, z2, `[batch]`.
    pub kl1: Tensor<1>,
    /// `KL(q(z2|z1) ‖ N(0, I))` per dimension, closed form given z1, `[batch, latent]`.
    pub kl2: Tensor<2>,
    /// `log q(z2|z1) − log p(z2)` at the sampled z2, `[batch]` (the sampled counterpart of
    /// `kl2`, for importance weights).
    pub kl2_sample: Tensor<1>,
}

/// The pieces of the two-layer ELBO with explicit noise `eps1` `[batch, bottom]` and `eps2`
/// `[batch, latent]` (drawn when `None`). On a one-layer model, `kl1` is its analytic KL and
/// the top-layer terms are zero.
pub fn two_layer_parts(
    model: &Vae,
    likelihood: Likelihood,
    x: Tensor<2>,
    eps1: Option<Tensor<2>>,
    eps2: Option<Tensor<2>>,
) -> TwoLayerParts {
    let Some(top) = &model.top else {
        let (rec, kl) = elbo_parts(model, likelihood, x, None, eps1);
        let b = rec.dims()[0];
        let zero = rec.zeros_like();
        return TwoLayerParts {
            kl1: kl.sum_dim(1).reshape([b]),
            kl2: zero.clone().reshape([b, 1]),
            kl2_sample: zero,
            rec,
        };
    };
    let b = x.dims()[0];
    let (mu1, lv1) = model.encode_image(x.clone(), None);
    let eps1 = eps1.unwrap_or_else(|| standard_noise(&mu1));
    let z1 = reparameterize(mu1.clone(), lv1.clone(), eps1);
    let (mu2, lv2) = top.q.forward(z1.clone());
    let eps2 = eps2.unwrap_or_else(|| standard_noise(&mu2));
    let z2 = reparameterize(mu2.clone(), lv2.clone(), eps2);
    let (pm1, plv1) = top.p.forward(z2.clone());
    let rec = model.nll(likelihood, model.decode_image(z1.clone(), None), x);
    let kl1 = (log_normal(z1.clone(), mu1, lv1) - log_normal(z1, pm1, plv1))
        .sum_dim(1)
        .reshape([b]);
    let kl2_sample = (log_normal(z2.clone(), mu2.clone(), lv2.clone()) - log_std_normal(z2))
        .sum_dim(1)
        .reshape([b]);
    TwoLayerParts {
        rec,
        kl1,
        kl2: kl_std_normal(mu2, lv2),
        kl2_sample,
    }
}

/// The k-sample importance-weighted bound of the two-layer model, `[batch]`:
/// `log (1/k) Σ_i p(x, z1_i, z2_i) / q(z1_i, z2_i | x)`.
pub fn two_layer_iwae(model: &Vae, likelihood: Likelihood, x: Tensor<2>, k: usize) -> Tensor<1> {
    two_layer_iwae_with(model, likelihood, x, k, None, None)
}

/// [`two_layer_iwae`] with given noise for the k copies of the batch, sample-major:
/// `e1` `[k·batch, bottom]` for z1 and `e2` `[k·batch, latent]` for z2 (drawn when `None`).
pub fn two_layer_iwae_with(
    model: &Vae,
    likelihood: Likelihood,
    x: Tensor<2>,
    k: usize,
    e1: Option<Tensor<2>>,
    e2: Option<Tensor<2>>,
) -> Tensor<1> {
    let [b, p] = x.dims();
    let k = k.max(1);
    let xk = x
        .unsqueeze_dim::<3>(0)
        .expand([k, b, p])
        .reshape([k * b, p]);
    let t = two_layer_parts(model, likelihood, xk, e1, e2);
    let log_w: Tensor<2> = (t.rec + t.kl1 + t.kl2_sample).neg().reshape([k, b]);
    log_mean_exp(log_w, 0).reshape([b])
}

/// The two-layer VAE objective: `rec + w·β·(KL₁ + KL₂)`.
#[derive(Debug, Clone)]
pub struct TwoLayer;

impl Objective for TwoLayer {
    fn kind(&self) -> VariantKind {
        VariantKind::TwoLayer
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
        let t = two_layer_parts(model, ctx.likelihood, batch.images.clone(), None, None);
        let rec = t.rec.mean();
        let kl1 = t.kl1.mean();
        let kl2 = t.kl2.sum_dim(1).mean();
        let total = rec.clone() + (kl1.clone() + kl2.clone()).mul_scalar(ctx.beta * ctx.kl_weight);
        LossTerms {
            total,
            terms: vec![("rec", rec), ("kl_z1", kl1), ("kl_z2", kl2)],
        }
    }
}
