//! The learned pseudo-inputs of a VampPrior model ([`super::LatentKind::Vamp`]): how many
//! there may be and how they start. (The prior they define is in [`super::vamp`].)

use burn::module::Param;
use burn::tensor::{Device, Tensor};

use super::noise;

/// Most pseudo-inputs a VampPrior model may have (Tomczak & Welling use 500 on MNIST).
pub const MAX_PSEUDO_INPUTS: usize = 10_000;

/// Mean of the pseudo-inputs' initial pixel values: the authors' code for MNIST
/// (`pseudoinputs_mean = 0.05`).
pub const PSEUDO_INIT_MEAN: f64 = 0.05;

/// Standard deviation of the pseudo-inputs' initial pixel values: the authors' code for
/// MNIST (`pseudoinputs_std = 0.01`).
pub const PSEUDO_INIT_STD: f64 = 0.01;

/// `k` pseudo-inputs of `values` values each, `[k, values]`, drawn from
/// N([`PSEUDO_INIT_MEAN`], [`PSEUDO_INIT_STD`]²) (the paper's initialisation; they are
/// clamped to `[0, 1]` where used, the authors' hard-tanh).
pub fn init_pseudo_inputs(k: usize, values: usize, device: &Device) -> Param<Tensor<2>> {
    Param::from_tensor(
        noise::normal([k, values], PSEUDO_INIT_STD, device).add_scalar(PSEUDO_INIT_MEAN),
    )
}
