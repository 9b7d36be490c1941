//! A k-nearest-neighbour classifier on a model's codes: a few labelled training images
//! (the same balanced, seeded choice as an M2 run's, [`crate::variant::select_labelled`])
//! encoded to their posterior means, and each test image given the majority label of its
//! k nearest labelled codes. The baseline M2's classifier is measured against: how much of
//! the class a plain VAE's codes already carry.

use burn::tensor::Device;
use thiserror::Error;

use super::encode::host_vec;
use super::nearest::{NearestError, nearest};
use crate::data::{Batcher, Dataset, Split};
use crate::model::Vae;
use crate::variant::{LabelledError, select_labelled};

/// Why the k-NN accuracy could not be measured.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum KnnError {
    /// The labelled selection is impossible on this data.
    #[error(transparent)]
    Labelled(#[from] LabelledError),
    /// The codes do not make whole rows.
    #[error(transparent)]
    Shape(#[from] NearestError),
    /// k is 0.
    #[error("k = 0: the classifier needs at least one neighbour")]
    ZeroK,
    /// The test split is empty.
    #[error("the test split is empty")]
    NoTest,
}

/// The majority label of the `k` nearest rows of `points` (labelled `labels`) to each row
/// of `queries` (row-major, `dim` values each). A tie between labels goes to the one whose
/// nearest member is nearest (so k = 1 is the nearest neighbour's label).
pub fn knn_predict(
    points: &[f32],
    labels: &[u8],
    queries: &[f32],
    dim: usize,
    k: usize,
) -> Result<Vec<u8>, NearestError> {
    let found = nearest(points, queries, dim, k)?;
    Ok(found
        .iter()
        .map(|neighbours| {
            let mut counts = [0usize; 256];
            for n in neighbours {
                counts[labels[n.index] as usize] += 1;
            }
            let top = counts.iter().copied().max().unwrap_or(0);
            // Nearest first: the first neighbour of a most frequent label wins the tie.
            neighbours
                .iter()
                .map(|n| labels[n.index])
                .find(|&l| counts[l as usize] == top)
                .unwrap_or(0)
        })
        .collect())
}

/// The k-NN figure of a model: how it was measured and the accuracy.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct KnnAccuracy {
    /// Labelled training images (balanced across classes, chosen with `seed`).
    pub labelled: usize,
    /// Neighbours that vote.
    pub k: usize,
    /// The seed of the labelled choice.
    pub seed: u64,
    /// Test images classified.
    pub test: usize,
    /// Fraction of test images given their label.
    pub accuracy: f64,
}

/// Posterior means `[n × d]` of `split`'s images at `indices`, encoded without labels (an
/// M2 model under its classifier's class), in batches of 500.
fn codes_of(model: &Vae, split: &Split, indices: &[usize], device: &Device) -> (Vec<f32>, usize) {
    let batcher = Batcher::new(device.clone());
    let mut codes = Vec::new();
    let mut dim = 0;
    for chunk in indices.chunks(500) {
        let batch = batcher.batch(split, chunk);
        let (mu, _) = model.encode(batch.images);
        dim = mu.dims()[1];
        codes.extend(host_vec(mu));
    }
    (codes, dim)
}

/// The test accuracy of a k-NN classifier on `model`'s codes with `labelled` training
/// labels of `data` chosen as an M2 run seeded `seed` chooses them.
pub fn knn_accuracy(
    model: &Vae,
    data: &Dataset,
    labelled: usize,
    k: usize,
    seed: u64,
    device: &Device,
) -> Result<KnnAccuracy, KnnError> {
    if k == 0 {
        return Err(KnnError::ZeroK);
    }
    if data.test.is_empty() {
        return Err(KnnError::NoTest);
    }
    let chosen = select_labelled(&data.train.labels, data.num_classes(), labelled, seed)?;
    let (points, dim) = codes_of(model, &data.train, &chosen, device);
    let labels: Vec<u8> = chosen.iter().map(|&i| data.train.labels[i]).collect();
    let all: Vec<usize> = (0..data.test.len()).collect();
    let (queries, _) = codes_of(model, &data.test, &all, device);
    let predicted = knn_predict(&points, &labels, &queries, dim, k)?;
    let right = predicted
        .iter()
        .zip(&data.test.labels)
        .filter(|(p, l)| p == l)
        .count();
    Ok(KnnAccuracy {
        labelled,
        k,
        seed,
        test: data.test.len(),
        accuracy: right as f64 / data.test.len() as f64,
    })
}
