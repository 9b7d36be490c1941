//! Latent Explorer: train and explore variational autoencoders.
//!
//! The engine, from the bottom up:
//! - [`data`]: IDX (MNIST-format) datasets, the bundled MNIST subset, batching.
//! - [`model`]: encoder/decoder architectures with configs and `init(&device)`.
//! - [`variant`]: training objectives behind one trait, and KL schedules.
//! - [`train`]: the training core, the background worker, and test metrics.
//! - [`checkpoint`]: safetensors checkpoints with a JSON header, written atomically;
//!   [`import`]: PyTorch state dicts as checkpoints; [`rundir`]: run directories that a
//!   headless `train --run-dir` writes and the app follows.
//! - [`backend`]: choosing burn's CPU (flex) or wgpu device.
//! - [`export`]: image grids as PNG; [`bench`]: throughput and latency figures.
//! - [`explore`]: latent math (interpolation, grids, principal directions).
//! - [`gpu`]: the one wgpu device shared by burn and egui, and the tile painter.
//! - [`ui`]: the desktop app; [`cli`]: the command-line edge.

pub mod atomic;
pub mod backend;
pub mod bench;
pub mod checkpoint;
pub mod cli;
pub mod compare;
pub mod cpu;
pub mod data;
pub mod explore;
pub mod export;
pub mod gpu;
pub mod import;
pub mod interrupt;
pub mod limits;
pub mod model;
pub mod paths;
pub mod rundir;
pub mod train;
pub mod ui;
pub mod variant;
