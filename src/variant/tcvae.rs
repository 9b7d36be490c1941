//! β-TCVAE (Chen et al. 2018): the ELBO's KL term split, with minibatch-weighted sampling
//! (MWS) estimates of the aggregate posterior q(z) and its marginals, into
//! index-code mutual information, total correlation and dimension-wise KL:
//!
//! `E[log q(z|x) − log p(z)] = E[log q(z|x) − log q(z)] + E[log q(z) − log Πⱼ q(zⱼ)]
//!  + E[log Πⱼ q(zⱼ) − log p(z)]`
//!
//! The loss is `rec + MI + β·TC + DWKL` (α = γ = 1, β = 6 by default, as in the paper).

use burn::tensor::Tensor;

use super::{AuxModules, LossTerms, Objective, StepContext, VariantKind};
use crate::data::Batch;
use crate::model::gaussian::{
    log_mean_exp, log_normal, log_std_normal, reparameterize, standard_noise,
};
use crate::model::{Likelihood, Vae};

/// The three batch-averaged terms (and their sum's reference) of the KL decomposition.
#[derive(Debug, Clone)]
pub struct TcTerms {
    /// Index-code mutual information `E[log q(z|x) − log q(z)]`.
    pub mi: Tensor<1>,
    /// Total correlation `E[log q(z) − log Πⱼ q(zⱼ)]`.
    pub tc: Tensor<1>,
    /// Dimension-wise KL `E[log Πⱼ q(zⱼ) − log p(z)]`.
    pub dwkl: Tensor<1>,
    /// The sampled KL `E[log q(z|x) − log p(z)]` that the three sum to.
    pub kl: Tensor<1>,
}

/// MWS estimates for codes `z` `[B, d]` drawn from `N(μ, exp(logvar))` (row i from row i),
/// for a dataset of `n_data` images.
pub fn tc_decomposition(z: Tensor<2>, mu: Tensor<2>, logvar: Tensor<2>, n_data: usize) -> TcTerms {
    let [b, d] = z.dims();
    // log q(z_i,k | x_j) for all i, j, k: [B, B, d].
    let zi = z.clone().unsqueeze_dim::<3>(1).expand([b, b, d]);
    let mj = mu.clone().unsqueeze_dim::<3>(0).expand([b, b, d]);
    let lj = logvar.clone().unsqueeze_dim::<3>(0).expand([b, b, d]);
    let mat = log_normal(zi, mj, lj);
    // logsumexp_j − log(N·B) = log_mean_exp_j + log B − log(N·B) = log_mean_exp_j − log N.
    let log_n = (n_data.max(b) as f64).ln();
    let log_qz: Tensor<1> = log_mean_exp(mat.clone().sum_dim(2), 1)
        .sub_scalar(log_n)
        .reshape([b]);
    let log_prod_qzk: Tensor<1> = log_mean_exp(mat, 1)
        .sub_scalar(log_n)
        .sum_dim(2)
        .reshape([b]);
    let log_qzx: Tensor<1> = log_normal(z.clone(), mu, logvar).sum_dim(1).reshape([b]);
    let log_pz: Tensor<1> = log_std_normal(z).sum_dim(1).reshape([b]);
    TcTerms {
        mi: (log_qzx.clone() - log_qz.clone()).mean(),
        tc: (log_qz - log_prod_qzk.clone()).mean(),
        dwkl: (log_prod_qzk - log_pz.clone()).mean(),
        kl: (log_qzx - log_pz).mean(),
    }
}

/// The β-TCVAE objective (β from the step context, applied to the total correlation).
#[derive(Debug, Clone)]
pub struct BetaTcVae;

impl Objective for BetaTcVae {
    fn kind(&self) -> VariantKind {
        VariantKind::BetaTcvae
    }

    fn loss(
        &self,
        model: &Vae,
        _aux: &AuxModules,
        batch: &Batch,
        _phase: usize,
        ctx: &StepContext,
    ) -> LossTerms {
        let x = batch.images.clone();
        let (mu, logvar) = model.encode(x.clone());
        let z = reparameterize(mu.clone(), logvar.clone(), standard_noise(&mu));
        let rec = nll(model, ctx.likelihood, z.clone(), x);
        let t = tc_decomposition(z, mu, logvar, ctx.dataset_size);
        let w = ctx.kl_weight;
        let total = rec.clone()
            + (t.mi.clone() + t.tc.clone().mul_scalar(ctx.beta) + t.dwkl.clone()).mul_scalar(w);
        LossTerms {
            total,
            terms: vec![
                ("rec", rec),
                ("kl", t.kl),
                ("mi", t.mi),
                ("tc", t.tc),
                ("dwkl", t.dwkl),
            ],
        }
    }
}

fn nll(model: &Vae, likelihood: Likelihood, z: Tensor<2>, x: Tensor<2>) -> Tensor<1> {
    model.nll(likelihood, model.decode(z), x).mean()
}
