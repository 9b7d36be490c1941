//! One validation layer for sizes. Every size that comes from a file (an IDX header, a
//! checkpoint's header, a PyTorch state dict, saved settings) or from an argument is checked
//! here, with overflow-checked arithmetic, against a stated limit *before* anything is
//! allocated from it. The error names the field, the value and the limit, so allocation
//! failure is never how the program finds out that a size is absurd.
//!
//! The limits are generous for what a VAE explorer trains on a desktop (MNIST is 28×28 with
//! ~0.6 M parameters) and small enough that reaching one never exhausts memory.

use thiserror::Error;

/// Largest image side in pixels.
pub const MAX_IMAGE_SIDE: usize = 1024;
/// Largest number of pixels (times channels) of one image: 1024×1024.
pub const MAX_PIXELS: usize = 1 << 20;
/// Most colour channels of an image (1 grey, 3 RGB, 4 with alpha).
pub const MAX_CHANNELS: usize = 4;
/// Largest latent dimension.
pub const MAX_LATENT: usize = 4096;
/// Largest hidden layer width.
pub const MAX_WIDTH: usize = 65_536;
/// Most hidden layers in one network.
pub const MAX_LAYERS: usize = 32;
/// Most trainable parameters in one model (400 MB of f32 weights; training needs about
/// four times that for gradients and Adam's moments).
pub const MAX_PARAMETERS: usize = 100_000_000;
/// Largest batch.
pub const MAX_BATCH: usize = 65_536;
/// Most elements of one activation tensor (1 GiB of f32): batch × samples × pixels and the
/// like.
pub const MAX_ELEMENTS: usize = 1 << 28;
/// Most importance samples per image (evaluation and anomaly scores; training's bound is
/// further limited by [`MAX_ELEMENTS`]).
pub const MAX_IWAE_K: usize = 10_000;
/// Most images drawn into one grid (`sample --n`, `reconstruct --n`).
pub const MAX_GRID_IMAGES: usize = 10_000;
/// Most epochs of one run.
pub const MAX_EPOCHS: usize = 1_000_000;
/// Most 8-bit pixel values in one dataset (4 GiB, as they are held). Full MNIST's
/// training split is 47 M; dSprites' whole grid at 64×64 is 3.0 G.
pub const MAX_DATASET_VALUES: usize = 1 << 32;
/// Most label classes.
pub const MAX_CLASSES: usize = 1000;

/// A size outside its limit.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LimitError {
    /// Above the limit.
    #[error("{field} = {value} is too large: the limit is {limit}")]
    TooLarge {
        /// What the size is (`--hidden`, `header: model.rows`, …).
        field: String,
        /// The value given.
        value: u128,
        /// The largest value accepted.
        limit: u128,
    },
    /// Below the smallest value accepted (usually 0).
    #[error("{field} = {value} is too small: it must be at least {min}")]
    TooSmall {
        /// What the size is.
        field: String,
        /// The value given.
        value: u128,
        /// The smallest value accepted.
        min: u128,
    },
}

/// `value` if `min <= value <= max`, else the error naming `field`.
pub fn check(field: &str, value: usize, min: usize, max: usize) -> Result<usize, LimitError> {
    if value < min {
        return Err(LimitError::TooSmall {
            field: field.into(),
            value: value as u128,
            min: min as u128,
        });
    }
    if value > max {
        return Err(LimitError::TooLarge {
            field: field.into(),
            value: value as u128,
            limit: max as u128,
        });
    }
    Ok(value)
}

/// The product of `factors` if it is at most `max`. Computed in `u128`, so no product of
/// `usize` factors can overflow before it is compared; the message shows the factors and
/// the exact product.
pub fn product(field: &str, factors: &[usize], max: usize) -> Result<usize, LimitError> {
    let mut p: u128 = 1;
    for &f in factors {
        // A u128 holds the product of two usizes; saturating keeps longer lists exact up
        // to the point where they are over every limit anyway.
        p = p.saturating_mul(f as u128);
    }
    if p > max as u128 {
        let shown: Vec<String> = factors.iter().map(|f| f.to_string()).collect();
        return Err(LimitError::TooLarge {
            field: format!("{field} ({})", shown.join(" × ")),
            value: p,
            limit: max as u128,
        });
    }
    // p <= max, which is a usize.
    Ok(p as usize)
}

/// `a + b` for sizes, with the same check as [`product`].
pub fn sum(field: &str, terms: &[usize], max: usize) -> Result<usize, LimitError> {
    let s: u128 = terms.iter().map(|&t| t as u128).sum();
    if s > max as u128 {
        return Err(LimitError::TooLarge {
            field: field.into(),
            value: s,
            limit: max as u128,
        });
    }
    Ok(s as usize)
}
