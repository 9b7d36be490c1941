//! A fixed digit classifier used as a probe of generated images: the conditional VAE's
//! label test and the sample-quality column of `compare` (how confidently, and how
//! diversely, decoded prior samples are recognised as digits — the idea of the Inception
//! score of Salimans et al. 2016 with an MNIST classifier in place of Inception).

use burn::module::Module;
use burn::nn::Linear;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::activation::{log_softmax, relu, softmax};
use burn::tensor::{Device, Tensor};

use super::metrics::host_vec;
use crate::data::{Batcher, Split, epoch_permutation};
use crate::model::noise::{Purpose, stream_seed, with_noise_stream};
use crate::model::{init, one_hot};

/// The coordinate of the probe's initialisation stream.
const PROBE_STREAM: u64 = 0x9_20BE;

/// Classes the probe distinguishes.
pub const CLASSES: usize = 10;

/// An MLP `pixels → 256 → 10`.
#[derive(Module, Debug)]
pub struct ProbeNet {
    /// Hidden layer.
    pub hidden: Linear,
    /// Class logits.
    pub out: Linear,
}

impl ProbeNet {
    /// `[batch, pixels] → [batch, 10]` logits.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.out.forward(relu(self.hidden.forward(x)))
    }
}

/// A trained digit classifier on one device.
#[derive(Debug, Clone)]
pub struct DigitProbe {
    net: ProbeNet,
    device: Device,
}

/// What the probe says about a set of generated images.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SampleScore {
    /// Mean of the largest class probability: how digit-like the images look.
    pub confidence: f64,
    /// `exp(E_x KL(p(y|x) ‖ p(y)))`, in `[1, 10]`: confident *and* varied classes score high.
    pub inception: f64,
}

impl DigitProbe {
    /// Train on `split` (labels `0..10`) for `epochs` with Adam (lr 1e-3, batch 128), its
    /// initial weights from a stream of `seed`'s own.
    pub fn train(split: &Split, device: &Device, epochs: usize, seed: u64) -> Self {
        let ad = device.clone().autodiff();
        let p = split.image_len();
        // The probe's stream: a VAE run seeded `seed` initialises from `&[]`.
        let stream = stream_seed(seed, Purpose::Init, &[PROBE_STREAM]);
        let mut net = with_noise_stream(stream, || ProbeNet {
            hidden: init::linear(p, 256, &ad),
            out: init::linear(256, CLASSES, &ad),
        });
        let mut opt = AdamConfig::new().init();
        let batcher = Batcher::new(ad.clone());
        for epoch in 0..epochs {
            let order = epoch_permutation(seed, epoch, split.len());
            for idx in order.chunks(128) {
                let b = batcher.batch(split, idx);
                let logp = log_softmax(net.forward(b.images), 1);
                let loss = (logp * one_hot(b.labels, CLASSES)).sum_dim(1).mean().neg();
                let grads = GradientsParams::from_grads(loss.backward(), &net);
                net = opt.step(1e-3, net, grads);
            }
        }
        Self {
            net: net.valid(),
            device: device.clone(),
        }
    }

    /// Class probabilities `[n, 10]` of images `[n, pixels]` in `[0, 1]`.
    pub fn probabilities(&self, images: Tensor<2>) -> Vec<f32> {
        host_vec(softmax(self.net.forward(images.to_device(&self.device)), 1))
    }

    /// The most likely class of each image.
    pub fn predict(&self, images: Tensor<2>) -> Vec<usize> {
        self.probabilities(images)
            .chunks(CLASSES)
            .map(|row| {
                row.iter()
                    .enumerate()
                    .max_by(|a, b| a.1.total_cmp(b.1))
                    .map_or(0, |(i, _)| i)
            })
            .collect()
    }

    /// Fraction of `split` classified correctly.
    pub fn accuracy(&self, split: &Split) -> f64 {
        let batcher = Batcher::new(self.device.clone());
        let mut right = 0usize;
        for b in batcher.sequential(split, 500) {
            let labels = host_vec(b.labels.float());
            right += self
                .predict(b.images)
                .iter()
                .zip(&labels)
                .filter(|(p, l)| **p == **l as usize)
                .count();
        }
        right as f64 / split.len().max(1) as f64
    }

    /// Confidence and Inception-style score of images `[n, pixels]`.
    pub fn score(&self, images: Tensor<2>) -> SampleScore {
        let probs = self.probabilities(images);
        let rows: Vec<&[f32]> = probs.chunks(CLASSES).collect();
        let n = rows.len().max(1) as f64;
        let mut marginal = [0.0f64; CLASSES];
        let mut confidence = 0.0;
        for r in &rows {
            confidence += r.iter().copied().fold(0.0f32, f32::max) as f64;
            for (m, &p) in marginal.iter_mut().zip(r.iter()) {
                *m += p as f64 / n;
            }
        }
        let mut kl = 0.0;
        for r in &rows {
            for (&p, &m) in r.iter().zip(&marginal) {
                let p = p as f64;
                if p > 0.0 && m > 0.0 {
                    kl += p * (p / m).ln();
                }
            }
        }
        SampleScore {
            confidence: confidence / n,
            inception: (kl / n).exp(),
        }
    }
}
