//! WAE-MMD (Tolstikhin et al. 2017): reconstruction plus λ·MMD²(q(z), p(z)) between the
//! batch's codes and as many prior samples, with an inverse multiquadratic (the paper's
//! choice) or RBF kernel. The WAE is not a likelihood model: its loss is no bound on
//! −log p(x).

use burn::tensor::Tensor;

use super::kind::Kernel;
use super::{AuxModules, LossTerms, Objective, StepContext, VariantKind, posterior_sample};
use crate::data::Batch;
use crate::model::gaussian::standard_noise;
use crate::model::{Vae, pairwise_sq_dists};

fn kernel_matrix(kernel: Kernel, d2: Tensor<2>, dim: usize) -> Tensor<2> {
    let c = 2.0 * dim as f64;
    match kernel {
        Kernel::Imq => {
            let mut acc: Option<Tensor<2>> = None;
            for s in [0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0] {
                let k = d2.clone().add_scalar(s * c).recip().mul_scalar(s * c);
                acc = Some(match acc {
                    Some(a) => a + k,
                    None => k,
                });
            }
            // Invariant: the scale list above is not empty.
            acc.expect("at least one scale")
        }
        Kernel::Rbf => d2.div_scalar(c).neg().exp(),
    }
}

/// Unbiased estimate of MMD²(P, Q) from samples `x` `[n, d]` ~ P and `y` `[m, d]` ~ Q
/// (n, m ≥ 2): the within-sample means leave out the diagonal.
pub fn mmd2_unbiased(kernel: Kernel, x: Tensor<2>, y: Tensor<2>) -> Tensor<1> {
    let [n, d] = x.dims();
    let m = y.dims()[0];
    let kxx = kernel_matrix(kernel, pairwise_sq_dists(x.clone(), x.clone()), d);
    let kyy = kernel_matrix(kernel, pairwise_sq_dists(y.clone(), y.clone()), d);
    let kxy = kernel_matrix(kernel, pairwise_sq_dists(x, y), d);
    // Off-diagonal sums: total minus trace (the diagonal of a kernel matrix is k(0) = const).
    let diag = match kernel {
        Kernel::Imq => 7.0,
        Kernel::Rbf => 1.0,
    };
    let sxx = kxx.sum().sub_scalar(diag * n as f64);
    let syy = kyy.sum().sub_scalar(diag * m as f64);
    sxx.div_scalar((n * (n - 1)) as f64) + syy.div_scalar((m * (m - 1)) as f64)
        - kxy.sum().mul_scalar(2.0 / (n * m) as f64)
}

/// What both WAE objectives start from: the mean reconstruction loss of the batch, the
/// batch's codes `z ~ q(z|x)` and as many prior samples.
pub(super) fn codes_and_prior(
    model: &Vae,
    batch: &Batch,
    ctx: &StepContext,
) -> (Tensor<1>, Tensor<2>, Tensor<2>) {
    let x = batch.images.clone();
    let z = posterior_sample(model, x.clone());
    let rec = model.nll(ctx.likelihood, model.decode(z.clone()), x).mean();
    // Drawn after the decode, as always: the order of random draws fixes the run.
    let prior = standard_noise(&z);
    (rec, z, prior)
}

/// The WAE-MMD objective.
#[derive(Debug, Clone)]
pub struct WaeMmd {
    /// Weight λ of the MMD term.
    pub lambda: f64,
    /// Kernel.
    pub kernel: Kernel,
}

impl Objective for WaeMmd {
    fn kind(&self) -> VariantKind {
        VariantKind::WaeMmd
    }

    fn loss(
        &self,
        model: &Vae,
        _aux: &AuxModules,
        batch: &Batch,
        _phase: usize,
        ctx: &StepContext,
    ) -> LossTerms {
        let (rec, z, prior) = codes_and_prior(model, batch, ctx);
        let mmd = if z.dims()[0] >= 2 {
            mmd2_unbiased(self.kernel, z, prior)
        } else {
            rec.clone().mul_scalar(0.0)
        };
        LossTerms {
            total: rec.clone() + mmd.clone().mul_scalar(self.lambda),
            terms: vec![("rec", rec), ("mmd", mmd)],
        }
    }
}
