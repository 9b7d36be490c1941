//! PyTorch models, checked against PyTorch itself: the fixtures in
//! `tests/fixtures/pytorch/` were made once by `make_fixture.py` there (torch 2.15) — a
//! PyTorch-examples-layout VAE (`.pt`), a VAE of another layout (safetensors written from
//! PyTorch), and what PyTorch computed with them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::tensor::{Tensor, TensorData};
use latent_explorer::checkpoint;
use latent_explorer::import::{self, ImportError, ImportOptions, KeyMap, RawTensor};
use latent_explorer::model::Likelihood;
use latent_explorer::variant::elbo_parts;

use crate::common::{bundled, cpu, max_abs_diff, vec_of};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/pytorch")
        .join(name)
}

/// Tensors by name: (shape, values).
type Tensors = BTreeMap<String, (Vec<usize>, Vec<f32>)>;

/// PyTorch's outputs, and the file's metadata.
fn expected() -> (Tensors, BTreeMap<String, String>) {
    let bytes = std::fs::read(fixture("expected.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut out = BTreeMap::new();
    for (name, view) in st.tensors() {
        let values: Vec<f32> = view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        out.insert(name, (view.shape().to_vec(), values));
    }
    let (_, md) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let meta = md
        .metadata()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    (out, meta)
}

fn t2(values: &[f32], shape: &[usize]) -> Tensor<2> {
    Tensor::from_data(
        TensorData::new(values.to_vec(), [shape[0], shape[1]]),
        &cpu(),
    )
}

#[test]
fn pytorch_examples_vae_loads_with_no_options_and_matches_pytorch() {
    let (exp, meta) = expected();
    let loaded = import::load_any(
        &fixture("examples_vae.pt"),
        &cpu(),
        &ImportOptions::default(),
    )
    .expect("the PyTorch examples' VAE loads with no options");
    let m = &loaded.meta.train.model;
    assert_eq!(m.latent_dim, 20, "latent size read from the tensors");
    assert_eq!((m.rows, m.cols), (28, 28));
    assert_eq!(m.arch.to_string(), "mlp[400]");

    // Decoded logits for fixed latents, against PyTorch's.
    let (zs, z) = &exp["z"];
    let logits = vec_of(loaded.model.decode(t2(z, zs)));
    let d = max_abs_diff(&logits, &exp["logits"].1);
    assert!(d < 1e-4, "decoded logits differ from PyTorch's by {d}");

    // −ELBO on the first 100 test digits with PyTorch's noise.
    let data = bundled();
    let x: Vec<f32> = (0..100).flat_map(|i| data.test.image(i).to_vec()).collect();
    let (es, eps) = &exp["eps"];
    let (rec, kl) = elbo_parts(
        &loaded.model,
        Likelihood::Bernoulli,
        t2(&x, &[100, 784]),
        None,
        Some(t2(eps, es)),
    );
    let ours = vec_of(rec + kl.sum_dim(1).squeeze_dim(1));
    let ours_mean = ours.iter().map(|&v| v as f64).sum::<f64>() / 100.0;
    let theirs: f64 = meta["neg_elbo_mean"].parse().unwrap();
    assert!(
        (ours_mean - theirs).abs() < 0.01,
        "−ELBO {ours_mean:.4} vs PyTorch's {theirs:.4} nats"
    );
    // Per image too, not only on average.
    let per_image = max_abs_diff(&ours, &exp["neg_elbo"].1);
    assert!(
        per_image < 0.01,
        "per-image −ELBO differs by up to {per_image} nats"
    );
    eprintln!(
        "PyTorch examples VAE: logits max |diff| {d:.2e}; -ELBO {ours_mean:.4} vs {theirs:.4} nats (|diff| {:.2e}); per image max |diff| {per_image:.2e}",
        (ours_mean - theirs).abs()
    );
}

fn sequential_map() -> KeyMap {
    KeyMap::parse(&[
        r"encoder\.0\.(weight|bias)=model.encoder.body.layers.0.$1",
        r"to_mu\.(weight|bias)=model.encoder.mu.$1",
        r"to_logvar\.(weight|bias)=model.encoder.logvar.$1",
        r"decoder\.0\.(weight|bias)=model.decoder.body.layers.0.$1",
        r"decoder\.2\.(weight|bias)=model.decoder.out.$1",
    ])
    .unwrap()
}

#[test]
fn another_layout_written_by_pytorch_as_safetensors_loads_with_a_key_map() {
    let path = fixture("sequential_vae.safetensors");
    // Without a map the layout is unknown, and the message lists the file's tensors.
    let err = import::load_any(&path, &cpu(), &ImportOptions::default()).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("sequential_vae.safetensors"), "{msg}");
    assert!(
        msg.contains("unknown layout") && msg.contains("to_mu.weight"),
        "{msg}"
    );

    let opts = ImportOptions {
        map: Some(sequential_map()),
        image_size: None,
    };
    let loaded = import::load_any(&path, &cpu(), &opts).unwrap();
    assert_eq!(loaded.meta.train.model.latent_dim, 4);
    assert_eq!(loaded.meta.train.model.arch.to_string(), "mlp[64]");
    let (exp, _) = expected();
    let (zs, z) = &exp["seq_z"];
    let logits = vec_of(loaded.model.decode(t2(z, zs)));
    let d = max_abs_diff(&logits, &exp["seq_logits"].1);
    assert!(d < 1e-4, "decoded logits differ from PyTorch's by {d}");
}

#[test]
fn an_imported_model_saved_as_our_checkpoint_decodes_bit_identically() {
    let (bytes, meta) =
        import::import_file(&fixture("examples_vae.pt"), &ImportOptions::default()).unwrap();
    assert!(
        meta.dataset.name.contains("examples_vae.pt"),
        "{}",
        meta.dataset.name
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("imported.safetensors");
    std::fs::write(&out, &bytes).unwrap();
    let a = import::load_any(
        &fixture("examples_vae.pt"),
        &cpu(),
        &ImportOptions::default(),
    )
    .unwrap();
    let b = checkpoint::load(&out, &cpu()).unwrap();
    let z = t2(&[0.3; 40], &[2, 20]);
    assert_eq!(vec_of(a.model.decode(z.clone())), vec_of(b.model.decode(z)));
}

fn raw(shape: &[usize]) -> RawTensor {
    RawTensor {
        shape: shape.to_vec(),
        values: vec![0.01; shape.iter().product()],
    }
}

/// The classic layout's tensors with sizes (pixels, hidden, latent).
fn classic(p: usize, h: usize, l: usize) -> BTreeMap<String, RawTensor> {
    let mut t = BTreeMap::new();
    for (name, out, inp) in [
        ("fc1", h, p),
        ("fc21", l, h),
        ("fc22", l, h),
        ("fc3", h, l),
        ("fc4", p, h),
    ] {
        t.insert(format!("{name}.weight"), raw(&[out, inp]));
        t.insert(format!("{name}.bias"), raw(&[out]));
    }
    t
}

#[test]
fn a_mismatched_tensor_is_named_with_expected_and_found_shapes() {
    let path = Path::new("model.pt");
    let mut t = classic(784, 50, 8);
    t.insert("fc3.weight".into(), raw(&[50, 9]));
    let (bytes, _) = import::convert(path, t, &ImportOptions::default()).unwrap();
    let err = checkpoint::from_bytes(path, bytes, &cpu())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("model.decoder.body.layers.0.weight")
            && err.contains("[50, 8]")
            && err.contains("[50, 9]"),
        "{err}"
    );

    // A common prefix (DataParallel's `module.`) is recognised.
    let prefixed: BTreeMap<String, RawTensor> = classic(784, 50, 8)
        .into_iter()
        .map(|(k, v)| (format!("module.{k}"), v))
        .collect();
    let (_, meta) = import::convert(path, prefixed, &ImportOptions::default()).unwrap();
    assert_eq!(meta.train.model.latent_dim, 8);

    // A non-square input needs the image size, and a wrong one is refused.
    let e = import::convert(path, classic(600, 50, 8), &ImportOptions::default()).unwrap_err();
    assert!(e.to_string().contains("--image-size"), "{e}");
    let opts = ImportOptions {
        map: None,
        image_size: Some((20, 30)),
    };
    let (_, meta) = import::convert(path, classic(600, 50, 8), &opts).unwrap();
    assert_eq!((meta.train.model.rows, meta.train.model.cols), (20, 30));
    let bad = ImportOptions {
        map: None,
        image_size: Some((20, 20)),
    };
    let e = import::convert(path, classic(600, 50, 8), &bad).unwrap_err();
    assert!(e.to_string().contains("600 inputs"), "{e}");
}

#[test]
fn key_maps_rename_drop_and_reject_bad_rules() {
    let m = KeyMap::parse(&["a\\.(\\w+)=model.x.$1", "opt\\..*="]).unwrap();
    assert_eq!(m.rename("a.weight").as_deref(), Some("model.x.weight"));
    assert_eq!(
        m.rename("opt.state"),
        None,
        "an empty name drops the tensor"
    );
    assert_eq!(m.rename("b.weight").as_deref(), Some("b.weight"));
    // Whole-key match: a rule does not rename a key it only matches in part.
    assert_eq!(m.rename("xa.weight").as_deref(), Some("xa.weight"));
    assert!(matches!(
        KeyMap::parse(&["no-separator"]),
        Err(ImportError::BadRule { .. })
    ));
    assert!(matches!(
        KeyMap::parse(&["(unclosed=x"]),
        Err(ImportError::BadRule { .. })
    ));
}

#[test]
fn half_precision_tensors_convert_and_integer_tensors_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let write =
        |name: &str, dtype: safetensors::Dtype, width: usize, enc: &dyn Fn(f32) -> Vec<u8>| {
            let t = classic(16, 6, 2);
            let bufs: Vec<(String, Vec<u8>, Vec<usize>)> = t
                .into_iter()
                .map(|(k, v)| {
                    let b: Vec<u8> = v.values.iter().flat_map(|&x| enc(x)).collect();
                    assert_eq!(b.len(), v.values.len() * width);
                    (k, b, v.shape)
                })
                .collect();
            let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = bufs
                .iter()
                .map(|(k, b, s)| {
                    (
                        k.clone(),
                        safetensors::tensor::TensorView::new(dtype, s.clone(), b).unwrap(),
                    )
                })
                .collect();
            let path = dir.path().join(name);
            std::fs::write(&path, safetensors::serialize(views, None).unwrap()).unwrap();
            path
        };
    let f16 = write("half.safetensors", safetensors::Dtype::F16, 2, &|x| {
        half::f16::from_f32(x).to_le_bytes().to_vec()
    });
    let loaded = import::load_any(&f16, &cpu(), &ImportOptions::default()).unwrap();
    assert_eq!(loaded.meta.train.model.latent_dim, 2);
    let ints = write("ints.safetensors", safetensors::Dtype::I32, 4, &|x| {
        (x as i32).to_le_bytes().to_vec()
    });
    let e = import::load_any(&ints, &cpu(), &ImportOptions::default()).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("ints.safetensors") && msg.contains("i32"),
        "{msg}"
    );
}

#[test]
fn files_that_are_not_models_are_named_and_described() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.pt");
    std::fs::write(&empty, b"").unwrap();
    let e = import::load_any(&empty, &cpu(), &ImportOptions::default()).unwrap_err();
    assert!(
        e.to_string().contains("empty.pt") && e.to_string().contains("empty"),
        "{e}"
    );

    let text = dir.path().join("notes.pt");
    std::fs::write(&text, b"hello, this is not a model").unwrap();
    let e = import::load_any(&text, &cpu(), &ImportOptions::default()).unwrap_err();
    assert!(e.to_string().contains("notes.pt"), "{e}");

    // A truncated PyTorch archive.
    let full = std::fs::read(fixture("examples_vae.pt")).unwrap();
    let cut = dir.path().join("cut.pt");
    std::fs::write(&cut, &full[..full.len() / 3]).unwrap();
    let e = import::load_any(&cut, &cpu(), &ImportOptions::default()).unwrap_err();
    assert!(e.to_string().contains("cut.pt"), "{e}");

    let missing = dir.path().join("missing.pt");
    let e = import::load_any(&missing, &cpu(), &ImportOptions::default()).unwrap_err();
    assert!(e.to_string().contains("missing.pt"), "{e}");
}
