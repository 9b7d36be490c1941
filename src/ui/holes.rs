//! The holes tab's job, run on a run's decode thread: the training codes, the ex-post
//! mixture fitted to them and the prior's holes on their principal plane
//! ([`explore::prior_holes`]), both samplers' draws decoded and scored by the digit probe,
//! and every draw's nearest training images in pixel and latent space.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use burn::tensor::{Device, Tensor, TensorData};

use crate::data::{Dataset, ImageShape};
use crate::explore::{self, CodeLabels, Holes, HolesParams, Neighbour};
use crate::model::Vae;
use crate::train::probe::{CLASSES, DigitProbe, SampleScore};

/// Draws per sampler (a 4 × 8 grid each).
pub const HOLES_SAMPLES: usize = 32;

/// Nearest training images kept per draw, in each space.
pub const HOLES_NEIGHBOURS: usize = 4;

/// Epochs the digit probe trains for (as `compare`'s).
const PROBE_EPOCHS: usize = 5;

/// What the holes tab asks a run for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HolesJob {
    /// The ex-post mixture's components.
    pub components: usize,
    /// Seed of the draws (the prior tab's) and of the mixture's fit.
    pub seed: u64,
}

/// One sampler's draws as the tab shows them.
#[derive(Debug, Clone)]
pub struct SamplerView {
    /// The decoded draws (host values, `samples × shape.len()`).
    pub pixels: Arc<Vec<f32>>,
    /// The probe's verdict on the set (digits only).
    pub score: Option<SampleScore>,
    /// Each draw's largest class probability (digits only).
    pub confidence: Vec<f32>,
    /// Each draw's nearest training images in pixel space (L2 over every value).
    pub near_pixels: Vec<Vec<Neighbour>>,
    /// Each draw's nearest training codes (posterior means) in latent space.
    pub near_codes: Vec<Vec<Neighbour>>,
}

/// The holes tab's result for one run.
#[derive(Debug, Clone)]
pub struct HolesResult {
    /// The plane, both samplers' draws and the fitted mixture.
    pub holes: Holes,
    /// Draws z ~ N(0, I).
    pub prior: SamplerView,
    /// Draws from the ex-post mixture.
    pub gmm: SamplerView,
    /// The images' shape.
    pub shape: ImageShape,
    /// Training codes the mixture was fitted to.
    pub codes: usize,
    /// The job it answers.
    pub job: HolesJob,
    /// Snapshot step.
    pub step: u64,
    /// Time taken, probe training excluded.
    pub micros: u64,
    /// Time the probe took to train (0 when it was cached or there is none).
    pub probe_micros: u64,
}

/// Whether the probe can score `data`: 28×28 grey images of ten classes (as `compare`).
pub fn probed(data: &Dataset) -> bool {
    data.shape() == ImageShape::grey(28, 28) && data.num_classes() == 10 && data.factors.is_none()
}

/// The digit probe for `data`, trained once per process and data set (runs share it; a
/// run asking while another trains it waits for it).
fn probe_for(data: &Dataset, device: &Device) -> (Option<DigitProbe>, u64) {
    /// The trained probe and a fingerprint of the training split it was trained on.
    type Cache = Option<((usize, u64), DigitProbe)>;
    static PROBE: Mutex<Cache> = Mutex::new(None);
    if !probed(data) {
        return (None, 0);
    }
    // The split's size and its first image's values: another data set differs in one.
    let first = if data.train.is_empty() {
        0
    } else {
        data.train
            .image(0)
            .iter()
            .fold(0u64, |h, v| h.rotate_left(5) ^ u64::from(v.to_bits()))
    };
    let key = (data.train.len(), first);
    let mut cache = PROBE.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((k, p)) = cache.as_ref()
        && *k == key
    {
        return (Some(p.clone()), 0);
    }
    let t0 = Instant::now();
    let p = DigitProbe::train(&data.train, device, PROBE_EPOCHS, 0);
    *cache = Some((key, p.clone()));
    (Some(p), t0.elapsed().as_micros() as u64)
}

/// Run the holes job on `model` (trained on `data`).
pub fn run_holes(
    job: HolesJob,
    model: &Vae,
    data: &Dataset,
    device: &Device,
    step: u64,
) -> Result<HolesResult, String> {
    let t0 = Instant::now();
    let codes = explore::encode_split(model, &data.train, device, explore::ENCODE_BATCH);
    let dim = codes.dim;
    let params = HolesParams {
        samples: HOLES_SAMPLES,
        gmm: explore::GmmParams {
            components: job.components,
            seed: job.seed,
            ..explore::GmmParams::default()
        },
        seed: job.seed,
    };
    let holes = explore::prior_holes(&codes.mu, dim, &params).map_err(|e| e.to_string())?;
    let train_pixels: Vec<f32> = data.train.pixels.to_f32();
    let (probe, probe_micros) = probe_for(data, device);
    let shape = data.shape();
    let view = |z: &[f32]| -> Result<SamplerView, String> {
        let t = explore::decode_means(model, z.to_vec(), dim, CodeLabels::None, device)
            .map_err(|e| e.to_string())?;
        let pixels = explore::host_vec(t);
        let (score, confidence) = match &probe {
            Some(p) => {
                let n = pixels.len() / shape.len().max(1);
                let x: Tensor<2> =
                    Tensor::from_data(TensorData::new(pixels.clone(), [n, shape.len()]), device);
                let probs = p.probabilities(x.clone());
                let conf = probs
                    .chunks(CLASSES)
                    .map(|r| r.iter().copied().fold(0.0, f32::max))
                    .collect();
                (Some(p.score(x)), conf)
            }
            None => (None, Vec::new()),
        };
        let near_pixels = explore::nearest(&train_pixels, &pixels, shape.len(), HOLES_NEIGHBOURS)
            .map_err(|e| e.to_string())?;
        let near_codes =
            explore::nearest(&codes.mu, z, dim, HOLES_NEIGHBOURS).map_err(|e| e.to_string())?;
        Ok(SamplerView {
            pixels: Arc::new(pixels),
            score,
            confidence,
            near_pixels,
            near_codes,
        })
    };
    let prior = view(&holes.prior.z)?;
    let gmm = view(&holes.gmm.z)?;
    Ok(HolesResult {
        prior,
        gmm,
        shape,
        codes: codes.len(),
        job,
        step,
        micros: (t0.elapsed().as_micros() as u64).saturating_sub(probe_micros),
        probe_micros,
        holes,
    })
}
