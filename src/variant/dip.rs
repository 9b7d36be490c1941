//! DIP-VAE (Kumar, Sattigeri & Balakrishnan 2018, "Variational Inference of Disentangled
//! Latent Concepts from Unlabeled Observations"): the ELBO plus a penalty that pulls a
//! covariance of the aggregate posterior toward the prior's identity,
//!
//! `λ_od · Σ_{i≠j} C_ij² + λ_d · Σ_i (C_ii − 1)²`,
//!
//! with `C = Cov_batch[μ(x)]` for DIP-VAE-I and `C = Cov_batch[μ(x)] + E_batch[diag σ²(x)]`
//! (the covariance of q(z) itself) for DIP-VAE-II. The paper's defaults: λ_d = 10 λ_od for
//! DIP-VAE-I, λ_d = λ_od for DIP-VAE-II.

use burn::tensor::Tensor;

use super::vae::kl_term;
use super::{AuxModules, LossTerms, Objective, StepContext, VariantKind};
use crate::data::Batch;
use crate::model::Vae;
use crate::model::gaussian::{kl_std_normal, reparameterize, standard_noise};

/// The covariance a DIP-VAE penalises, `[d, d]`, from a batch's posterior means and
/// log-variances `[B, d]`: `Cov[μ]` (the batch's, divided by B), plus `E[diag exp(logvar)]`
/// when `second` (DIP-VAE-II).
pub fn dip_covariance(mu: Tensor<2>, logvar: Tensor<2>, second: bool) -> Tensor<2> {
    let [b, d] = mu.dims();
    let centred = mu.clone() - mu.mean_dim(0);
    let cov = centred
        .clone()
        .transpose()
        .matmul(centred)
        .div_scalar(b as f64);
    if !second {
        return cov;
    }
    let var: Tensor<1> = logvar.exp().mean_dim(0).reshape([d]);
    let eye: Tensor<2> = Tensor::eye(d, &cov.device());
    cov + eye * var.reshape([1, d])
}

/// `λ_od · Σ_{i≠j} C_ij² + λ_d · Σ_i (C_ii − 1)²` for a covariance `C` `[d, d]`.
pub fn dip_penalty(cov: Tensor<2>, lambda_od: f64, lambda_d: f64) -> Tensor<1> {
    let [d, _] = cov.dims();
    let eye: Tensor<2> = Tensor::eye(d, &cov.device());
    let diag = cov.clone() * eye.clone();
    let off = cov - diag.clone();
    let off_sq: Tensor<1> = off.square().sum();
    let diag_sq: Tensor<1> = (diag - eye).square().sum();
    off_sq.mul_scalar(lambda_od) + diag_sq.mul_scalar(lambda_d)
}

/// The DIP-VAE objective.
#[derive(Debug, Clone)]
pub struct DipVae {
    /// DIP-VAE-II (the covariance of q(z)) rather than DIP-VAE-I (that of μ).
    pub second: bool,
    /// Weight λ_od of the off-diagonal entries.
    pub lambda_od: f64,
    /// Weight λ_d of the diagonal's distance from 1.
    pub lambda_d: f64,
}

impl Objective for DipVae {
    fn kind(&self) -> VariantKind {
        if self.second {
            VariantKind::DipVaeII
        } else {
            VariantKind::DipVaeI
        }
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
        let labels = Some(&batch.labels);
        let (mu, logvar) = model.encode_image(x.clone(), labels);
        let z = reparameterize(mu.clone(), logvar.clone(), standard_noise(&mu));
        let rec = model.nll(ctx.likelihood, model.decode_image(z, labels), x);
        let kl = kl_std_normal(mu.clone(), logvar.clone());
        let cov = dip_covariance(mu, logvar, self.second);
        let penalty = dip_penalty(cov, self.lambda_od, self.lambda_d);
        let rec = rec.mean();
        let kl_raw = kl.clone().sum_dim(1).mean();
        let kl_obj = kl_term(kl, ctx.free_bits);
        let total = rec.clone() + kl_obj.mul_scalar(ctx.kl_weight) + penalty.clone();
        LossTerms {
            total,
            terms: vec![("rec", rec), ("kl", kl_raw), ("dip", penalty)],
        }
    }
}
