//! The CPU backend's counterpart of [`crate::gpu`]: the only place outside it that reaches
//! below burn's tensor API, here to burn-flex's buffers. Work that burn does as a chain of
//! whole-tensor operations (Adam is eleven per parameter; summing the gradients of a split
//! batch and their norm, three more) is done in one pass over flat `f32` buffers, on the
//! training lanes of [`lanes`]. The linear layer ([`linear`]) is one
//! operation with its own backward step, and skips the zeros of sparse inputs; so are the
//! convolutions and transposed convolutions ([`conv2d`], [`conv_transpose2d`]: im2col and
//! `gemm`, with the bias and ReLU in the same pass).
//!
//! The hot kernels are compiled once per level of vector instructions (baseline x86-64,
//! AVX2 + FMA, AVX-512) and pick at run time ([`simd`]). Every kernel here is tested against burn's own operations
//! (`tests/engine/cpu.rs`).

mod adam;
mod bce;
mod conv;
mod flex;
mod grads;
pub mod lanes;
mod linear;
pub mod priority;
pub mod simd;
mod transpose;

pub use adam::{AdamRule, FlatAdam};
pub use bce::{bce_with_logits_rows, exp_nonpositive, log1p_unit};
pub use conv::{Activation, conv_transpose2d, conv2d};
pub use grads::sum_grads;
pub use linear::{SPARSE_MAX_DENSITY, linear, linear_with_density};
pub use transpose::transpose;
