//! An image folder's decoder and the input image's: any bytes give an image of the asked
//! size or an error, never a panic, and never an allocation beyond the decoders' limits
//! (libFuzzer's RSS limit would report one).
#![no_main]

use std::path::Path;

use latent_explorer::data::{folder, input};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The side from the length, so the seeds stay valid files from their first byte.
    let side = 1 + data.len() % 16;
    if let Ok(img) = folder::decode_image(data, side) {
        assert_eq!(img.dimensions(), (side as u32, side as u32));
    }
    if let Ok(img) = input::image_from_bytes(data, Path::new("fuzz.png"), side, side) {
        assert_eq!(img.pixels.len(), side * side);
        assert!(img.pixels.iter().all(|v| (0.0..=1.0).contains(v)));
    }
});
