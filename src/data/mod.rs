//! Datasets and batching: IDX (MNIST-format) files, the bundled MNIST subset, deterministic
//! shuffling, and batches as tensors. No autodiff and no UI here.

mod batch;
mod binarize;
mod dataset;
mod factors;
pub mod folder;
pub mod idx;
pub mod input;
pub mod shapes;
pub mod shift;
pub mod source;

pub use batch::{Batch, Batcher, epoch_permutation};
pub use binarize::{BINARIZE_SEED, Binarize, binarize_in_place, image_seed};
pub use dataset::{
    DataMismatch, Dataset, DatasetError, FILE_NAMES, ImageShape, ImageSizeMismatch,
    LabelOutOfRange, Pixels, Split,
};
pub use shift::Shift;
pub use source::{Opened, Source, SourceError};
