//! Latent Explorer: train and explore variational autoencoders.
//!
//! The engine, from the bottom up:
//! - [`stats`]: medians, shared by layers that cannot depend on each other.
//! - [`data`]: IDX (MNIST-format) datasets, the bundled MNIST subset, batching.
//! - [`cpu`]: the CPU backend's own kernels (linear layer, Adam, gradient sums) and its
//!   training lanes.
//! - [`model`]: encoder/decoder architectures with configs and `init(&device)`, and the
//!   random streams every draw comes from ([`model::noise`]).
//! - [`variant`]: training objectives behind one trait, and KL schedules.
//! - [`train`]: the training core, the one training loop and its sinks, the background
//!   worker, run configuration files, training state for exact resume, and test metrics.
//! - [`checkpoint`]: safetensors checkpoints with a JSON header, written atomically;
//!   [`import`]: PyTorch state dicts as checkpoints; [`rundir`]: run directories that a
//!   headless `train --run-dir` writes and the app follows; [`metrics_out`]: their metrics
//!   as CSV and TensorBoard event files.
//! - [`backend`]: choosing burn's CPU (flex) or wgpu device.
//! - [`export`]: image grids, animation frames and GIFs; [`bench`](mod@bench): throughput and latency
//!   figures.
//! - [`explore`]: latent math (interpolation, grids, principal directions) and what the CLI
//!   and the app both compute from a model: encodings, dimension statistics, anomaly
//!   reports.
//! - [`gpu`]: the one wgpu device shared by burn and egui, and the tile painter.
//! - [`ui`]: the desktop app; [`cli`]: the command-line edge ([`cli_docs`]: its shell
//!   completions and manual pages); [`report`]: how an error reads there, each cause once;
//!   [`envelope`]: the one JSON shape of every `--json` output.

pub mod atomic;
pub mod backend;
pub mod bench;
pub mod checkpoint;
pub mod cli;
pub mod cli_docs;
pub mod compare;
pub mod cpu;
pub mod data;
pub mod envelope;
pub mod explore;
pub mod export;
pub mod gpu;
pub mod import;
pub mod interrupt;
pub mod limits;
pub mod metrics_out;
pub mod model;
pub mod model_file;
pub mod paths;
pub mod report;
pub mod rundir;
pub mod stats;
pub mod sweep;
pub mod train;
pub mod ui;
pub mod variant;
