//! Throughput and latency figures for the engine: training samples/s of the classic MLP VAE
//! and decode latency for 1, 256 and 1024 latent vectors, on a chosen backend.

use std::sync::Arc;
use std::time::Instant;

use burn::tensor::{Device, Distribution, Tensor};
use serde::Serialize;

use crate::data::Dataset;
use crate::train::{TrainConfig, TrainError, Trainer};

/// Benchmark settings.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// Training configuration (model, batch size, …).
    pub train: TrainConfig,
    /// Epochs over the training set to time (after a warm-up).
    pub epochs: usize,
    /// Warm-up steps not timed.
    pub warmup_steps: usize,
    /// Decode batch sizes and repetitions.
    pub decode: Vec<(usize, usize)>,
}

impl Default for BenchConfig {
    fn default() -> Self {
        Self {
            train: TrainConfig::default(),
            epochs: 3,
            warmup_steps: 5,
            decode: vec![(1, 2000), (256, 200), (1024, 50)],
        }
    }
}

/// One timed training epoch.
#[derive(Debug, Clone, Serialize)]
pub struct EpochFigure {
    /// 1-based epoch.
    pub epoch: usize,
    /// Images per second.
    pub samples_per_sec: f64,
    /// Mean milliseconds per step.
    pub ms_per_step: f64,
    /// Training loss of the last step.
    pub last_loss: f64,
}

/// Decode latency for one batch size.
#[derive(Debug, Clone, Serialize)]
pub struct DecodeFigure {
    /// Latent vectors per decode.
    pub batch: usize,
    /// Mean milliseconds per decode (to finished output).
    pub ms: f64,
}

/// All figures.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// Device description.
    pub device: String,
    /// Per-epoch training throughput.
    pub epochs: Vec<EpochFigure>,
    /// Decode latencies.
    pub decode: Vec<DecodeFigure>,
}

impl BenchReport {
    /// Mean training throughput over the timed epochs.
    pub fn mean_samples_per_sec(&self) -> f64 {
        if self.epochs.is_empty() {
            return 0.0;
        }
        self.epochs.iter().map(|e| e.samples_per_sec).sum::<f64>() / self.epochs.len() as f64
    }
}

/// Run the benchmark on `device`.
pub fn run(
    cfg: &BenchConfig,
    data: Arc<Dataset>,
    device: &Device,
    device_name: &str,
) -> Result<BenchReport, TrainError> {
    let mut trainer = Trainer::new(cfg.train.clone(), data, device)?;
    for _ in 0..cfg.warmup_steps {
        trainer.step()?;
    }
    // Align to an epoch boundary so each timed epoch is a whole pass.
    while trainer.step_count() % trainer.steps_per_epoch() != 0 {
        trainer.step()?;
    }
    let mut epochs = Vec::new();
    for epoch in 1..=cfg.epochs {
        let t0 = Instant::now();
        let (mut samples, mut steps) = (0usize, 0usize);
        let last_loss = loop {
            let out = trainer.step()?;
            samples += out.metrics.batch;
            steps += 1;
            if out.epoch_done {
                break out.metrics.get("loss").unwrap_or(f64::NAN);
            }
        };
        let dt = t0.elapsed().as_secs_f64();
        epochs.push(EpochFigure {
            epoch,
            samples_per_sec: samples as f64 / dt,
            ms_per_step: dt * 1000.0 / steps as f64,
            last_loss,
        });
    }
    let model = trainer.inference_model();
    let infer = device.clone().inner();
    let latent = cfg.train.model.latent_dim;
    let mut decode = Vec::new();
    for &(n, reps) in &cfg.decode {
        let z: Tensor<2> = Tensor::random([n, latent], Distribution::Normal(0.0, 1.0), &infer);
        // Warm-up (kernel compilation, allocation).
        let _ = model.decode_mean(z.clone()).into_data();
        let t0 = Instant::now();
        for _ in 0..reps {
            let _ = model.decode_mean(z.clone()).into_data();
        }
        decode.push(DecodeFigure {
            batch: n,
            ms: t0.elapsed().as_secs_f64() * 1000.0 / reps.max(1) as f64,
        });
    }
    Ok(BenchReport {
        device: device_name.to_string(),
        epochs,
        decode,
    })
}
