//! The nearest training images of one decoded image (a slider image, a grid cell, a prior
//! sample, a path frame, a traversal cell: any tile decoded from a latent vector), asked
//! for from the image's context menu and run on the run's decode thread: is the model
//! generating, or remembering?

use std::sync::Arc;
use std::time::Instant;

use burn::tensor::Device;

use crate::data::{Dataset, ImageShape};
use crate::explore::{self, CodeLabels, Neighbour};
use crate::model::Vae;

/// Nearest training images found in each space.
pub const NEAREST_K: usize = 6;

/// What the user asked about: a latent vector of the run, and which image it was.
#[derive(Debug, Clone, PartialEq)]
pub struct NearestJob {
    /// The latent vector decoded.
    pub z: Vec<f32>,
    /// The label a conditional model decodes it under.
    pub label: Option<usize>,
    /// Which image it is ("grid cell 17"), for the window's title.
    pub source: String,
}

/// The decoded image and its nearest training images.
#[derive(Debug, Clone)]
pub struct NearestResult {
    /// The job it answers.
    pub job: NearestJob,
    /// The decoded image (host values, `shape.len()`).
    pub pixels: Arc<Vec<f32>>,
    /// The images' shape.
    pub shape: ImageShape,
    /// Its nearest training images in pixel space (Euclidean over every value).
    pub near_pixels: Vec<Neighbour>,
    /// The training images whose codes (posterior means) are nearest to `z`.
    pub near_codes: Vec<Neighbour>,
    /// Snapshot step.
    pub step: u64,
    /// Time taken.
    pub micros: u64,
}

/// Decode `job.z` with `model` and search `data`'s training split, by brute force, for the
/// images nearest to the decode in pixel space and for those whose codes are nearest to z.
pub fn run_nearest(
    job: &NearestJob,
    model: &Vae,
    data: &Dataset,
    device: &Device,
    step: u64,
) -> Result<NearestResult, String> {
    let t0 = Instant::now();
    let dim = job.z.len();
    let labels = job.label.map_or(CodeLabels::None, CodeLabels::All);
    let pixels = explore::decode_codes(model, job.z.clone(), dim, labels, device)
        .map_err(|e| e.to_string())?;
    let shape = data.shape();
    let train = data.train.pixels.to_f32();
    let near_pixels = explore::nearest(&train, &pixels, shape.len(), NEAREST_K)
        .map_err(|e| e.to_string())?
        .into_iter()
        .next()
        .unwrap_or_default();
    let codes = explore::encode_split(model, &data.train, device, explore::ENCODE_BATCH);
    if codes.dim != dim {
        return Err(format!(
            "a {dim}-d vector for a model of {} latent dimensions",
            codes.dim
        ));
    }
    let near_codes = explore::nearest(&codes.mu, &job.z, dim, NEAREST_K)
        .map_err(|e| e.to_string())?
        .into_iter()
        .next()
        .unwrap_or_default();
    Ok(NearestResult {
        job: job.clone(),
        pixels: Arc::new(pixels),
        shape,
        near_pixels,
        near_codes,
        step,
        micros: t0.elapsed().as_micros() as u64,
    })
}
