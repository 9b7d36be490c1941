//! IWAE (Burda et al. 2015): train on the importance-weighted bound with k samples, which
//! tightens towards log p(x) as k grows. With k = 1 it is the ELBO (one sample).

use burn::tensor::{Int, Tensor};

use super::{AuxModules, LossTerms, Objective, StepContext, VariantKind};
use crate::data::Batch;
use crate::model::gaussian::{log_mean_exp, log_normal, log_std_normal, standard_noise};
use crate::model::{Likelihood, Vae};

/// The IWAE bound `log (1/k) Σ_i p(x, z_i) / q(z_i | x)` per image `[batch]`, with
/// `z_i = μ + ε_i σ`. `eps` is `[k, batch, latent]`; drawn here when `None`. `labels`
/// condition a conditional model (the bound is then on log p(x | y)). A two-layer model
/// has its own bound, [`super::two_layer_iwae`].
pub fn iwae_bound(
    model: &Vae,
    likelihood: Likelihood,
    x: Tensor<2>,
    labels: Option<&Tensor<1, Int>>,
    k: usize,
    eps: Option<Tensor<3>>,
) -> Tensor<1> {
    let b = x.dims()[0];
    log_mean_exp(iwae_log_weights(model, likelihood, x, labels, k, eps), 0).reshape([b])
}

/// The log importance weights `log p(x, z_i) − log q(z_i | x)` of [`iwae_bound`], `[k, batch]`
/// (the same samples: their log-mean-exp over `k` is the IWAE bound, their mean an ELBO
/// estimate).
pub fn iwae_log_weights(
    model: &Vae,
    likelihood: Likelihood,
    x: Tensor<2>,
    labels: Option<&Tensor<1, Int>>,
    k: usize,
    eps: Option<Tensor<3>>,
) -> Tensor<2> {
    let [b, p] = x.dims();
    let (mu, logvar) = model.encode_image(x.clone(), labels);
    let d = mu.dims()[1];
    let mu = mu.unsqueeze_dim::<3>(0).expand([k, b, d]);
    let logvar = logvar.unsqueeze_dim::<3>(0).expand([k, b, d]);
    let eps = eps.unwrap_or_else(|| standard_noise(&mu));
    let z = mu.clone() + eps * logvar.clone().mul_scalar(0.5).exp();
    let lk = labels.map(|l| {
        l.clone()
            .unsqueeze_dim::<2>(0)
            .expand([k, b])
            .reshape([k * b])
    });
    let out = model.decode_image(z.clone().reshape([k * b, d]), lk.as_ref());
    let xk = x
        .unsqueeze_dim::<3>(0)
        .expand([k, b, p])
        .reshape([k * b, p]);
    let log_px: Tensor<2> = model.nll(likelihood, out, xk).neg().reshape([k, b]);
    let log_pz: Tensor<2> = log_std_normal(z.clone()).sum_dim(2).reshape([k, b]);
    let log_qz: Tensor<2> = log_normal(z, mu, logvar).sum_dim(2).reshape([k, b]);
    log_px + log_pz - log_qz
}

/// The IWAE objective with `k` importance samples.
#[derive(Debug, Clone)]
pub struct Iwae {
    /// Importance samples per image.
    pub k: usize,
}

impl Objective for Iwae {
    fn kind(&self) -> VariantKind {
        VariantKind::Iwae
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
        let bound = iwae_bound(
            model,
            ctx.likelihood,
            batch.images.clone(),
            None,
            self.k.max(1),
            None,
        );
        let nll = bound.mean().neg();
        LossTerms {
            total: nll.clone(),
            terms: vec![("iwae_nll", nll)],
        }
    }
}
