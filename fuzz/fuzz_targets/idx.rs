//! The IDX reader (raw and gzip): any bytes give images/labels or an error, never a panic,
//! and what parses is consistent with its header.
#![no_main]

use std::path::Path;

use latent_explorer::data::idx;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let file = Path::new("fuzz.idx");
    if let Ok(images) = idx::parse_images(file, data) {
        assert_eq!(images.pixels.len(), images.count * images.rows * images.cols);
    }
    let _ = idx::parse_labels(file, data);
});
