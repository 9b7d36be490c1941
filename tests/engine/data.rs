//! IDX reader error cases, the bundled dataset, and batching.

use std::io::Write;
use std::path::Path;

use latent_explorer::data::idx::{IdxError, parse_images, parse_labels};
use latent_explorer::data::{Batcher, Dataset, DatasetError, epoch_permutation};

use crate::common::{bundled, cpu, vec_of};

fn idx(magic: u32, dims: &[u32], payload_len: usize) -> Vec<u8> {
    let mut v = magic.to_be_bytes().to_vec();
    for d in dims {
        v.extend_from_slice(&d.to_be_bytes());
    }
    v.extend((0..payload_len).map(|i| (i % 251) as u8));
    v
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

const F: &str = "imgs.idx";

#[test]
fn valid_images_raw_and_gzip() {
    let raw = idx(0x803, &[3, 2, 4], 24);
    for bytes in [raw.clone(), gz(&raw)] {
        let im = parse_images(Path::new(F), &bytes).unwrap();
        assert_eq!((im.count, im.rows, im.cols), (3, 2, 4));
        assert_eq!(im.pixels, (0..24).map(|i| i as u8).collect::<Vec<_>>());
    }
    let labels = parse_labels(Path::new("l"), &idx(0x801, &[5], 5)).unwrap();
    assert_eq!(labels, vec![0, 1, 2, 3, 4]);
}

#[test]
fn empty_file() {
    let e = parse_images(Path::new(F), &[]).unwrap_err();
    assert!(matches!(e, IdxError::Empty { .. }), "{e}");
    assert!(e.to_string().contains(F) && e.to_string().contains("empty"));
}

#[test]
fn truncated_header_and_data() {
    let e = parse_images(Path::new(F), &[0, 0, 8]).unwrap_err();
    assert!(matches!(e, IdxError::Truncated { len: 3, .. }), "{e}");
    let e = parse_images(Path::new(F), &idx(0x803, &[3], 0)[..8]).unwrap_err();
    assert!(matches!(e, IdxError::Truncated { needed: 16, .. }), "{e}");
    let mut full = idx(0x803, &[3, 2, 4], 24);
    full.truncate(30);
    let e = parse_images(Path::new(F), &full).unwrap_err();
    assert!(
        matches!(
            e,
            IdxError::Truncated {
                len: 30,
                needed: 40,
                ..
            }
        ),
        "{e}"
    );
    let msg = e.to_string();
    assert!(
        msg.contains("truncated at byte 30") && msg.contains(F),
        "{msg}"
    );
    // Truncated inside a gzip stream.
    let z = gz(&idx(0x803, &[3, 2, 4], 24));
    let e = parse_images(Path::new(F), &z[..z.len() - 12]).unwrap_err();
    assert!(
        matches!(e, IdxError::Gzip { .. } | IdxError::Truncated { .. }),
        "{e}"
    );
}

#[test]
fn bad_magic() {
    let e = parse_images(Path::new(F), &idx(0x801, &[3], 3)).unwrap_err();
    assert!(
        matches!(
            e,
            IdxError::BadMagic {
                found: 0x801,
                expected: 0x803,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("bad magic 0x00000801"), "{e}");
    let e = parse_labels(Path::new("l"), &idx(0x0D03, &[1, 1, 1], 4)).unwrap_err();
    assert!(matches!(e, IdxError::BadMagic { .. }), "{e}");
}

#[test]
fn dims_and_length_mismatch() {
    // More bytes than the header describes.
    let e = parse_images(Path::new(F), &idx(0x803, &[2, 2, 2], 9)).unwrap_err();
    assert!(matches!(e, IdxError::TrailingBytes { extra: 1, .. }), "{e}");
    // A zero item dimension.
    let e = parse_images(Path::new(F), &idx(0x803, &[2, 0, 2], 0)).unwrap_err();
    assert!(matches!(e, IdxError::BadDims { .. }), "{e}");
    // A header claiming an absurd size is rejected before any allocation.
    let e = parse_images(Path::new(F), &idx(0x803, &[u32::MAX, u32::MAX, 28], 10)).unwrap_err();
    assert!(matches!(e, IdxError::BadDims { .. }), "{e}");
    // Zero images.
    let e = parse_images(Path::new(F), &idx(0x803, &[0, 28, 28], 0)).unwrap_err();
    assert!(matches!(e, IdxError::BadDims { .. }), "{e}");
}

#[test]
fn image_label_count_mismatch() {
    let names: Vec<std::path::PathBuf> = ["a", "b", "c", "d"].iter().map(|s| s.into()).collect();
    let imgs = idx(0x803, &[6, 2, 2], 24);
    let labs5 = idx(0x801, &[5], 5);
    let labs6 = idx(0x801, &[6], 6);
    let e = Dataset::from_bytes("t".into(), &names, [&imgs, &labs5, &imgs, &labs6]).unwrap_err();
    let msg = e.to_string();
    assert!(
        matches!(
            e,
            DatasetError::Idx(IdxError::CountMismatch {
                images: 6,
                labels: 5,
                ..
            })
        ),
        "{msg}"
    );
    assert!(msg.contains("5 labels for 6 images"), "{msg}");
}

#[test]
fn missing_file_in_directory() {
    let dir = tempfile::tempdir().unwrap();
    let e = Dataset::from_dir(dir.path()).unwrap_err();
    assert!(matches!(e, DatasetError::Missing { .. }), "{e}");
    assert!(e.to_string().contains("train-images-idx3-ubyte"), "{e}");
}

#[test]
fn directory_with_raw_files_and_other_image_sizes() {
    let dir = tempfile::tempdir().unwrap();
    let w = |n: &str, b: Vec<u8>| std::fs::write(dir.path().join(n), b).unwrap();
    w("train-images-idx3-ubyte", idx(0x803, &[4, 3, 5], 60));
    w("train-labels-idx1-ubyte", idx(0x801, &[4], 4));
    w("t10k-images-idx3-ubyte.gz", gz(&idx(0x803, &[2, 3, 5], 30)));
    w("t10k-labels-idx1-ubyte", idx(0x801, &[2], 2));
    let d = Dataset::from_dir(dir.path()).unwrap();
    assert_eq!(
        (d.rows(), d.cols(), d.train.len(), d.test.len()),
        (3, 5, 4, 2)
    );
    assert!(
        d.train
            .pixels
            .to_f32()
            .iter()
            .all(|p| (0.0..=1.0).contains(p))
    );
}

#[test]
fn bundled_subset_matches_its_readme() {
    let d = bundled();
    assert_eq!(
        (d.train.len(), d.test.len(), d.rows(), d.cols()),
        (8000, 2000, 28, 28)
    );
    let mut counts = [0usize; 10];
    for &l in &d.test.labels {
        counts[l as usize] += 1;
    }
    assert_eq!(counts, [207, 227, 198, 198, 186, 172, 202, 216, 182, 212]);
    assert_eq!(d.num_classes(), 10);
}

#[test]
fn permutation_is_deterministic_and_complete() {
    let a = epoch_permutation(42, 3, 1000);
    assert_eq!(a, epoch_permutation(42, 3, 1000));
    assert_ne!(a, epoch_permutation(42, 4, 1000));
    assert_ne!(a, epoch_permutation(43, 3, 1000));
    let mut s = a.clone();
    s.sort();
    assert_eq!(s, (0..1000).collect::<Vec<_>>());
}

#[test]
fn batches_hold_the_chosen_images() {
    let d = bundled();
    let b = Batcher::new(cpu()).batch(&d.test, &[5, 0, 17]);
    assert_eq!(b.images.dims(), [3, 784]);
    assert_eq!(b.images_4d().dims(), [3, 1, 28, 28]);
    let px = vec_of(b.images);
    assert_eq!(&px[..784], &*d.test.image(5));
    assert_eq!(&px[784 * 2..], &*d.test.image(17));
    let labels: Vec<i64> = b
        .labels
        .into_data()
        .convert::<i64>()
        .try_into_vec()
        .unwrap();
    assert_eq!(
        labels,
        vec![
            d.test.labels[5] as i64,
            d.test.labels[0] as i64,
            d.test.labels[17] as i64
        ]
    );
}

#[test]
fn the_data_are_called_digits_only_when_they_are_mnist_digits() {
    let mnist = Dataset::bundled().unwrap();
    assert!(mnist.is_digits());
    assert_eq!((mnist.noun(), mnist.nouns()), ("digit", "digits"));
    // The same 28×28 grey images under the name of another set in MNIST's format, or of a
    // plain directory: images.
    for name in ["/data/fashion-mnist", "kmnist", "/home/me/letters"] {
        let other = Dataset {
            name: name.into(),
            ..mnist.clone()
        };
        assert_eq!((other.noun(), other.nouns()), ("image", "images"), "{name}");
    }
    // Procedural shapes (64×64, known factors).
    let shapes = latent_explorer::data::shapes::generate(
        &latent_explorer::data::shapes::ShapesConfig::small(),
    )
    .unwrap()
    .data;
    assert!(!shapes.is_digits());
    assert_eq!(shapes.noun(), "image");
}
