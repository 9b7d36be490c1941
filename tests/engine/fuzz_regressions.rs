//! Every input the fuzz targets (fuzz/) start from or found a crash with, run through the
//! same entry points in the normal test binary: the seeds (fuzz/seeds/TARGET/, real files
//! of each format) must give their known results, and each crash the fuzzers found
//! (tests/fixtures/fuzz/TARGET/) must now give an error or a value, never a panic.

use std::path::{Path, PathBuf};

use latent_explorer::checkpoint;
use latent_explorer::data::{folder, idx, input};
use latent_explorer::import::ImportOptions;
use latent_explorer::model_file;
use latent_explorer::ui::settings::Persisted;

use crate::common::cpu;

/// The seed and regression inputs of `target`, by file name.
fn inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for dir in [
        root.join("fuzz/seeds").join(target),
        root.join("tests/fixtures/fuzz").join(target),
    ] {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries {
            let p: PathBuf = e.unwrap().path();
            if p.is_file() {
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                out.push((name, std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn idx_fuzz_inputs_parse_or_fail_with_an_error() {
    let all = inputs("idx");
    assert!(all.len() >= 4, "the seeds are missing");
    for (name, bytes) in &all {
        let file = Path::new(name);
        let images = idx::parse_images(file, bytes);
        let labels = idx::parse_labels(file, bytes);
        match name.as_str() {
            "images" | "images.gz" => {
                let i = images.unwrap();
                assert_eq!((i.count, i.rows, i.cols, i.pixels.len()), (3, 4, 4, 48));
                assert!(labels.is_err());
            }
            "labels" | "labels.gz" => {
                assert_eq!(labels.unwrap(), vec![0, 1, 2]);
                assert!(images.is_err());
            }
            _ => {}
        }
    }
}

#[test]
fn checkpoint_fuzz_inputs_load_or_fail_with_an_error() {
    let all = inputs("checkpoint");
    assert!(all.len() >= 3, "the seeds are missing");
    for (name, bytes) in all {
        let path = Path::new(&name);
        let meta = checkpoint::read_meta(path, &bytes);
        let loaded = checkpoint::from_bytes(path, bytes, &cpu());
        match name.as_str() {
            "vae.safetensors" | "cvae.safetensors" => {
                let l = loaded.unwrap();
                assert_eq!((l.meta.train.model.rows, l.meta.train.model.cols), (4, 4));
                assert_eq!(l.meta.train.model.classes() > 0, name.starts_with("cvae"));
            }
            "header-only" => {
                assert!(meta.is_err() && loaded.is_err());
            }
            _ => {}
        }
    }
}

#[test]
fn pytorch_fuzz_inputs_import_or_fail_with_an_error() {
    let all = inputs("torch");
    let dir = tempfile::tempdir().unwrap();
    let opts = ImportOptions::default();
    for (name, bytes) in all {
        let path = dir.path().join(&name);
        std::fs::write(&path, &bytes).unwrap();
        let opened = model_file::open(&path, &cpu(), &opts);
        if name.starts_with("examples") {
            // The PyTorch examples' layout at toy size: a 4x4 image, 3 hidden, 1 latent.
            let meta = opened.unwrap_or_else(|e| panic!("{name}: {e}")).loaded.meta;
            assert_eq!((meta.train.model.rows, meta.train.model.latent_dim), (4, 1));
        }
    }
}

#[test]
fn settings_fuzz_inputs_read_or_fail_with_an_error() {
    let all = inputs("settings");
    assert!(all.len() >= 3, "the seeds or the regressions are missing");
    for (name, bytes) in all {
        let Ok(text) = String::from_utf8(bytes) else {
            continue;
        };
        let read = Persisted::from_ron(&text);
        if name == "app" || name == "empty" {
            read.as_ref().unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        // What is read lies in the controls' ranges and saves and reads back the same
        // (as text: a NaN hyperparameter of the next run is refused when it starts).
        if let Ok(p) = read {
            assert!(p.view.explore.traversal_range.validate().is_ok(), "{name}");
            assert!((2..=32).contains(&p.view.grid_size), "{name}");
            let again = ron::to_string(&p).unwrap();
            let back = Persisted::from_ron(&again).unwrap();
            assert_eq!(ron::to_string(&back).unwrap(), again, "{name}");
        }
    }
}

#[test]
fn image_fuzz_inputs_decode_or_fail_with_an_error() {
    let all = inputs("image");
    assert!(all.len() >= 12, "the seeds are missing");
    for (name, bytes) in &all {
        let fitted = folder::decode_image(bytes, 4);
        let grey = input::image_from_bytes(bytes, Path::new(name), 4, 4);
        if name.ends_with(".png") || name.ends_with(".jpg") || name.ends_with(".gif") {
            let img = fitted.unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(img.dimensions(), (4, 4), "{name}");
            assert_eq!(grey.unwrap().pixels.len(), 16, "{name}");
        } else {
            // A crash input: an error or an image, and no panic on the way.
            if let Ok(img) = fitted {
                assert_eq!(img.dimensions(), (4, 4), "{name}");
            }
        }
    }
    // Exact values where they are known: the 1-pixel seed is one colour everywhere.
    let one = all.iter().find(|(n, _)| n == "one-pixel.png").unwrap();
    let img = folder::decode_image(&one.1, 4).unwrap();
    assert!(img.pixels().all(|p| p.0 == [0xc8, 0x0a, 0x5a]));
}
