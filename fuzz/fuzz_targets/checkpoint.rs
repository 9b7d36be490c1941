//! The checkpoint loader (safetensors + our JSON header): any bytes give a model whose
//! weights match its header, or an error naming the file, never a panic or an abort.
#![no_main]

use std::path::Path;
use std::sync::LazyLock;

use burn::tensor::Device;
use latent_explorer::checkpoint;
use libfuzzer_sys::fuzz_target;

static DEVICE: LazyLock<Device> = LazyLock::new(Device::flex);

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.safetensors");
    let _ = checkpoint::read_meta(path, data);
    let _ = checkpoint::from_bytes(path, data.to_vec(), &DEVICE);
});
