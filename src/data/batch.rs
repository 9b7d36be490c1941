//! Deterministic shuffling and batching of a [`Split`] into tensors.

use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;
use rand::seq::SliceRandom;

use super::binarize::{binarize_in_place, image_seed};
use super::dataset::Split;

/// The order in which epoch `epoch` of a run seeded with `seed` visits `n` items.
///
/// The same `(seed, epoch, n)` always gives the same permutation, on every platform.
pub fn epoch_permutation(seed: u64, epoch: usize, n: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    // Mix the epoch into the seed so each epoch has its own order.
    let mixed = seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut rng = ChaCha8Rng::seed_from_u64(mixed);
    order.shuffle(&mut rng);
    order
}

/// A batch of images on a device.
#[derive(Debug, Clone)]
pub struct Batch {
    /// Images flattened to `[batch, channels * rows * cols]`, values in `[0, 1]`.
    pub images: Tensor<2>,
    /// Labels, `[batch]`.
    pub labels: Tensor<1, Int>,
    /// Image height.
    pub rows: usize,
    /// Image width.
    pub cols: usize,
    /// Colour channels.
    pub channels: usize,
}

impl Batch {
    /// Number of images in the batch.
    pub fn len(&self) -> usize {
        self.images.dims()[0]
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The images as `[batch, channels, rows, cols]`.
    pub fn images_4d(&self) -> Tensor<4> {
        let b = self.len();
        self.images
            .clone()
            .reshape([b, self.channels, self.rows, self.cols])
    }
}

/// Builds batches from a split on one device.
#[derive(Debug, Clone)]
pub struct Batcher {
    device: Device,
}

impl Batcher {
    /// A batcher that puts tensors on `device`.
    pub fn new(device: Device) -> Self {
        Self { device }
    }

    /// Gather the images at `indices` into one batch.
    pub fn batch(&self, split: &Split, indices: &[usize]) -> Batch {
        self.batch_drawn(split, indices, None)
    }

    /// Gather the images at `indices` into one batch; with `draw`, each image drawn from
    /// Bernoulli(pixel), image i from the stream [`image_seed`]`(draw, i)` (dynamic
    /// binarization: the same images whichever batch or part they are gathered in).
    pub fn batch_drawn(&self, split: &Split, indices: &[usize], draw: Option<u64>) -> Batch {
        let n = split.image_len();
        let mut pixels = Vec::with_capacity(indices.len() * n);
        for &i in indices {
            let at = pixels.len();
            split.extend_image(i, &mut pixels);
            if let Some(seed) = draw {
                binarize_in_place(&mut pixels[at..], image_seed(seed, i as u64));
            }
        }
        let labels: Vec<i64> = indices.iter().map(|&i| split.labels[i] as i64).collect();
        let images = Tensor::from_data(TensorData::new(pixels, [indices.len(), n]), &self.device);
        let labels = Tensor::from_data(TensorData::new(labels, [indices.len()]), &self.device);
        Batch {
            images,
            labels,
            rows: split.rows,
            cols: split.cols,
            channels: split.channels,
        }
    }

    /// Contiguous batches `[0, size), [size, 2 size), …` covering the whole split, in order.
    pub fn sequential<'a>(
        &'a self,
        split: &'a Split,
        size: usize,
    ) -> impl Iterator<Item = Batch> + 'a {
        let size = size.max(1);
        (0..split.len()).step_by(size).map(move |start| {
            let idx: Vec<usize> = (start..(start + size).min(split.len())).collect();
            self.batch(split, &idx)
        })
    }
}
