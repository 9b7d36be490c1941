//! Throughput and latency figures for the engine: training samples/s of a VAE (the classic
//! MLP one by default, or the convolutional one) and decode latency for 1, 256 and 1024
//! latent vectors, on a chosen backend.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use burn::tensor::{Device, Tensor};
use serde::Serialize;

use crate::data::Dataset;
use crate::model::noise::{self, Purpose, stream_seed, with_noise_stream};
use crate::train::{
    EpochReport, LoopError, Policy, Sink, SinkError, TrainConfig, TrainLoop, Trainer,
};

/// Benchmark settings.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// Training configuration (model, batch size, …).
    pub train: TrainConfig,
    /// Epochs over the training set to time (after a warm-up).
    pub epochs: usize,
    /// Decode batch sizes and repetitions.
    pub decode: Vec<(usize, usize)>,
}

impl Default for BenchConfig {
    fn default() -> Self {
        Self {
            train: TrainConfig::default(),
            epochs: 3,
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

/// Run the benchmark on `device`: one untimed epoch (kernel compilation, allocation,
/// the lane policy's first probes), then `cfg.epochs` timed ones, through the training
/// loop without evaluations.
pub fn run(
    cfg: &BenchConfig,
    data: Arc<Dataset>,
    device: &Device,
    device_name: &str,
) -> Result<BenchReport, LoopError> {
    /// Collects each epoch's figures.
    struct Figures(Arc<Mutex<Vec<EpochFigure>>>);
    impl Sink for Figures {
        fn epoch(&mut self, r: &EpochReport) -> Result<(), SinkError> {
            let mut v = self.0.lock().unwrap_or_else(|p| p.into_inner());
            v.push(EpochFigure {
                epoch: r.epoch,
                samples_per_sec: r.samples_per_sec,
                ms_per_step: r.train_secs * 1000.0 / r.steps.max(1) as f64,
                last_loss: r.last_loss,
            });
            Ok(())
        }
    }
    let train = TrainConfig {
        epochs: cfg.epochs + 1,
        ..cfg.train.clone()
    };
    let trainer = Trainer::new(train, data, device)?;
    let figures = Arc::new(Mutex::new(Vec::new()));
    let policy = Policy {
        evaluate_epochs: false,
        ..Policy::default()
    };
    let mut run = TrainLoop::new(trainer, policy).with_sink(Figures(figures.clone()));
    run.run()?;
    let mut epochs = std::mem::take(&mut *figures.lock().unwrap_or_else(|p| p.into_inner()));
    // The first epoch warms up; the timed ones are numbered from 1.
    epochs.remove(0);
    for (i, e) in epochs.iter_mut().enumerate() {
        e.epoch = i + 1;
    }
    let trainer = run.trainer();
    let model = trainer.inference_model();
    let infer = device.clone().inner();
    let latent = cfg.train.model.latent_dim;
    let mut decode = Vec::new();
    for &(n, reps) in &cfg.decode {
        let seed = stream_seed(cfg.train.seed, Purpose::Sample, &[n as u64]);
        let z: Tensor<2> = with_noise_stream(seed, || noise::normal([n, latent], 1.0, &infer));
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
