//! The PyTorch state-dict loader (zip or legacy pickle, and foreign safetensors files): any
//! bytes give a converted checkpoint or an error, never a panic or an abort. burn's PyTorch
//! reader takes a path, so each input is written to a file first.
#![no_main]

use std::path::PathBuf;
use std::sync::LazyLock;

use burn::tensor::Device;
use latent_explorer::import::ImportOptions;
use latent_explorer::model_file;
use libfuzzer_sys::fuzz_target;

static DEVICE: LazyLock<Device> = LazyLock::new(Device::flex);
static FILE: LazyLock<PathBuf> = LazyLock::new(|| {
    std::env::temp_dir().join(format!("latent-explorer-fuzz-{}.pt", std::process::id()))
});

fuzz_target!(|data: &[u8]| {
    if std::fs::write(&*FILE, data).is_err() {
        return;
    }
    let _ = model_file::open(&FILE, &DEVICE, &ImportOptions::default());
});
