//! A model's codes of test items and images of codes: the posterior of every image of a
//! split, the codes of chosen test images, their reconstructions, and codes decoded to mean
//! images. The CLI's commands and the app's decode thread both call these, so a command and
//! the view it mirrors encode and decode the same way.

use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::data::{Batcher, Split};
use crate::model::Vae;

/// Images per batch when a whole split (or the first images of one) is encoded: what the
/// CLI's commands and the app's statistics both use, so they see the same codes.
pub const ENCODE_BATCH: usize = 500;

/// Copy a float tensor to the host.
pub fn host_vec<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        // Invariant: the data was just converted to f32, so reading it as f32 cannot fail.
        .expect("converted tensor data is f32")
}

/// Why codes could not be decoded or test images not encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    /// The values do not make whole latent vectors (or there are none).
    #[error("{values} values do not make latent vectors of {dim} dimensions")]
    Shape {
        /// Values given.
        values: usize,
        /// The model's latent dimensions.
        dim: usize,
    },
    /// No test image was named.
    #[error("no test images to encode")]
    NoImages,
    /// A test-image index past the end of the split.
    #[error("test image {index} is out of range: the test set has {len} images")]
    NoSuchImage {
        /// The index.
        index: usize,
        /// Images in the split.
        len: usize,
    },
}

/// The posterior q(z | x) = N(μ, diag σ²) of every image of a split, in the explored latent
/// space ([`Vae::encode_with`], labels given to a conditional model). Row-major `n × dim`.
#[derive(Debug, Clone, PartialEq)]
pub struct Posterior {
    /// Latent dimensions.
    pub dim: usize,
    /// Posterior means, `n × dim`.
    pub mu: Vec<f32>,
    /// Posterior log-variances, `n × dim` (0 for a VQ-VAE's deterministic codes).
    pub logvar: Vec<f32>,
}

impl Posterior {
    /// Images encoded.
    pub fn len(&self) -> usize {
        self.mu.len().checked_div(self.dim).unwrap_or(0)
    }

    /// Whether no image was encoded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The posterior mean of image `i` (`None` past the end).
    pub fn mean(&self, i: usize) -> Option<&[f32]> {
        self.mu.get(i * self.dim..(i + 1) * self.dim)
    }

    /// The mean over images of KL(q(z_j | x) ‖ N(0, 1)) per dimension `j`, in nats: the
    /// closed form ½ (μ² + σ² − 1 − log σ²). (For a VQ-VAE's codes, with log σ² = 0, this
    /// is `½ E[z_j²]`, which is no KL: see [`super::DimensionScore`].)
    pub fn kl_per_dim(&self) -> Vec<f64> {
        let d = self.dim;
        let mut sum = vec![0.0f64; d];
        for (m, lv) in self.mu.chunks_exact(d).zip(self.logvar.chunks_exact(d)) {
            for j in 0..d {
                let (m, lv) = (m[j] as f64, lv[j] as f64);
                sum[j] += 0.5 * (m * m + lv.exp() - 1.0 - lv);
            }
        }
        let n = self.len().max(1) as f64;
        sum.into_iter().map(|s| s / n).collect()
    }
}

/// Encode every image of `split` (in batches of `batch_size`) into its posterior.
pub fn encode_split(model: &Vae, split: &Split, device: &Device, batch_size: usize) -> Posterior {
    encode_first(model, split, split.len(), device, batch_size)
}

/// Encode the first `n` images of `split` (all of them if it has fewer), in batches of
/// `batch_size`, into their posterior.
pub fn encode_first(
    model: &Vae,
    split: &Split,
    n: usize,
    device: &Device,
    batch_size: usize,
) -> Posterior {
    let batcher = Batcher::new(device.clone());
    let n = n.min(split.len());
    let size = batch_size.max(1);
    let (mut mu, mut logvar) = (Vec::new(), Vec::new());
    let mut dim = 0;
    for start in (0..n).step_by(size) {
        let idx: Vec<usize> = (start..(start + size).min(n)).collect();
        let batch = batcher.batch(split, &idx);
        let (m, lv) = model.encode_with(batch.images, Some(&batch.labels));
        dim = m.dims()[1];
        mu.extend(host_vec(m));
        logvar.extend(host_vec(lv));
    }
    Posterior { dim, mu, logvar }
}

/// Check that every index names an image of `split` (at least one).
pub fn check_indices(split: &Split, indices: &[usize]) -> Result<(), CodeError> {
    if indices.is_empty() {
        return Err(CodeError::NoImages);
    }
    match indices.iter().find(|&&i| i >= split.len()) {
        Some(&index) => Err(CodeError::NoSuchImage {
            index,
            len: split.len(),
        }),
        None => Ok(()),
    }
}

/// The posterior means and labels of the images of `split` at `indices`.
pub fn test_codes(
    model: &Vae,
    split: &Split,
    indices: &[usize],
    device: &Device,
) -> Result<(Vec<f32>, Vec<u8>), CodeError> {
    check_indices(split, indices)?;
    let batch = Batcher::new(device.clone()).batch(split, indices);
    let (mu, _) = model.encode_with(batch.images, Some(&batch.labels));
    let labels = indices.iter().map(|&i| split.labels[i]).collect();
    Ok((host_vec(mu), labels))
}

/// The images of `split` at `indices` and their mean reconstructions through
/// [`Vae::reconstruct`] (each under its own label for a conditional model: what the test
/// figures' MSE measures), `[n, pixels]` each.
pub fn reconstructions(
    model: &Vae,
    split: &Split,
    indices: &[usize],
    device: &Device,
) -> Result<(Tensor<2>, Tensor<2>), CodeError> {
    check_indices(split, indices)?;
    let batch = Batcher::new(device.clone()).batch(split, indices);
    let recon = model.reconstruct(batch.images.clone(), Some(&batch.labels));
    Ok((batch.images, recon))
}

/// The labels a conditional model decodes codes under (other models ignore them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeLabels<'a> {
    /// No label (a conditional model sees an all-zero one-hot vector).
    None,
    /// The same label for every code.
    All(usize),
    /// One label per code (ignored unless there is exactly one per code).
    Each(&'a [u8]),
}

/// Decode `codes` (row-major, `dim` per code) to mean images `[n, pixels]`, on `device`.
pub fn decode_means(
    model: &Vae,
    codes: Vec<f32>,
    dim: usize,
    labels: CodeLabels<'_>,
    device: &Device,
) -> Result<Tensor<2>, CodeError> {
    let values = codes.len();
    let n = values.checked_div(dim).unwrap_or(0);
    if n == 0 || n * dim != values {
        return Err(CodeError::Shape { values, dim });
    }
    let z: Tensor<2> = Tensor::from_data(TensorData::new(codes, [n, dim]), device);
    let labels: Option<Vec<i64>> = match labels {
        CodeLabels::None => None,
        CodeLabels::All(l) => Some(vec![l as i64; n]),
        CodeLabels::Each(l) => (l.len() == n).then(|| l.iter().map(|&l| l as i64).collect()),
    };
    let labels = labels.map(|l| Tensor::<1, Int>::from_data(TensorData::new(l, [n]), device));
    Ok(model.decode_mean_with(z, labels.as_ref()))
}

/// [`decode_means`], copied to the host: `n × pixels` values.
pub fn decode_codes(
    model: &Vae,
    codes: Vec<f32>,
    dim: usize,
    labels: CodeLabels<'_>,
    device: &Device,
) -> Result<Vec<f32>, CodeError> {
    decode_means(model, codes, dim, labels, device).map(host_vec)
}
