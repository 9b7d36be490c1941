//! Decoder likelihoods p(x | z): Bernoulli on logits, Gaussian with fixed or learned σ.

use burn::tensor::Tensor;
use burn::tensor::activation::{log_sigmoid, sigmoid};
use serde::{Deserialize, Serialize};

use super::gaussian::LN_2PI;

/// Which observation model the decoder's output parameterises.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Likelihood {
    /// Independent Bernoulli pixels; the decoder outputs logits.
    #[default]
    Bernoulli,
    /// Independent Gaussian pixels with mean `sigmoid(output)` and standard deviation σ,
    /// fixed at `sigma` or learned (a single scalar log σ initialised at `ln sigma`).
    Gaussian {
        /// Fixed σ, or the initial σ when learned.
        sigma: f32,
        /// Whether σ is a trained parameter.
        learned: bool,
    },
}

impl std::fmt::Display for Likelihood {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Bernoulli => write!(f, "bernoulli"),
            Self::Gaussian {
                sigma,
                learned: false,
            } => write!(f, "gaussian(σ={sigma})"),
            Self::Gaussian {
                sigma,
                learned: true,
            } => write!(f, "gaussian(learned σ, init {sigma})"),
        }
    }
}

/// Numerically stable element-wise binary cross-entropy with logits,
/// `softplus(l) − x·l`, written as `(1 − x)·l − log σ(l)` (because
/// `log σ(l) = l − softplus(l)`): exact and finite for any finite logit. burn computes
/// `log σ` stably in one operation with a one-operation gradient, so this is four
/// element-wise passes forward instead of eight (`max(l,0) + log1p(exp(−|l|)) − x·l`).
pub fn bce_with_logits<const D: usize>(logits: Tensor<D>, x: Tensor<D>) -> Tensor<D> {
    let keep = x.neg().add_scalar(1.0);
    keep * logits.clone() - log_sigmoid(logits)
}

/// Element-wise Gaussian negative log-likelihood `½((x−μ)²/σ² + 2 log σ + ln 2π)`, where
/// `log_sigma` broadcasts against `x`.
pub fn gaussian_nll<const D: usize>(
    mean: Tensor<D>,
    x: Tensor<D>,
    log_sigma: Tensor<D>,
) -> Tensor<D> {
    let inv_var = log_sigma.clone().mul_scalar(-2.0).exp();
    ((x - mean).square() * inv_var + log_sigma.mul_scalar(2.0))
        .add_scalar(LN_2PI)
        .mul_scalar(0.5)
}

/// `−log p(x | output)` summed over the last dimension: `[.., pixels] → [..]` kept as `[.., 1]`.
///
/// `log_sigma` is `[1]`-shaped (fixed or learned) for the Gaussian likelihood and ignored for
/// Bernoulli.
pub fn neg_log_likelihood<const D: usize>(
    likelihood: Likelihood,
    output: Tensor<D>,
    x: Tensor<D>,
    log_sigma: Option<Tensor<1>>,
) -> Tensor<D> {
    let last = D - 1;
    match (likelihood, log_sigma) {
        (Likelihood::Gaussian { .. }, Some(ls)) => {
            let ls: Tensor<D> = ls.reshape([1; D]);
            gaussian_nll(sigmoid(output), x.clone(), ls.expand(x.shape())).sum_dim(last)
        }
        _ => match crate::cpu::bce_with_logits_rows(output, x) {
            Ok(rows) => rows,
            Err(inputs) => {
                let (output, x) = *inputs;
                bce_with_logits(output, x).sum_dim(last)
            }
        },
    }
}

/// The mean image `E[x | z]` for display: `sigmoid(output)` for both likelihoods.
pub fn mean_image<const D: usize>(output: Tensor<D>) -> Tensor<D> {
    sigmoid(output)
}
