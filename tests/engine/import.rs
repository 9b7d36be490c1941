//! PyTorch models, checked against PyTorch itself: the fixtures in
//! `tests/fixtures/pytorch/` were made once by `make_fixture.py` there (torch 2.15) — a
//! PyTorch-examples-layout VAE (`.pt`), a VAE of another layout (safetensors written from
//! PyTorch), and what PyTorch computed with them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use burn::module::Module;
use burn::tensor::{Tensor, TensorData};
use latent_explorer::checkpoint;
use latent_explorer::checkpoint::{CheckpointMeta, DatasetInfo, Loaded};
use latent_explorer::data::Dataset;
use latent_explorer::import::{self, ImportError, ImportOptions, KeyMap, RawTensor};
use latent_explorer::model::{ArchConfig, Likelihood};
use latent_explorer::model_file::{self, Format, OpenError};
use latent_explorer::train::metrics::evaluate_run;
use latent_explorer::train::{TrainConfig, Trainer};
use latent_explorer::variant::{VariantKind, elbo_parts};

use crate::common::{bundled, cpu, max_abs_diff, param_values, small, vec_of};
use crate::explore_tools::{fails, ok, s};

/// Open a model file as the CLI and the app do.
fn open(path: &Path, opts: &ImportOptions) -> Result<Loaded, OpenError> {
    model_file::open(path, &cpu(), opts).map(|o| o.loaded)
}

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
    let loaded = open(&fixture("examples_vae.pt"), &ImportOptions::default())
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
    let err = open(&path, &ImportOptions::default()).unwrap_err();
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
    let loaded = open(&path, &opts).unwrap();
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
    let a = open(&fixture("examples_vae.pt"), &ImportOptions::default()).unwrap();
    let meta = &a.meta;
    let bytes = checkpoint::to_bytes(&a.model, &a.aux, meta, Path::new("imported")).unwrap();
    assert!(
        meta.dataset.name.contains("examples_vae.pt"),
        "{}",
        meta.dataset.name
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("imported.safetensors");
    std::fs::write(&out, &bytes).unwrap();
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
    let err = import::convert(path, t, &ImportOptions::default(), &cpu())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("fc3.weight (model.decoder.body.layers.0.weight)")
            && err.contains("[50, 8]")
            && err.contains("[50, 9]"),
        "{err}"
    );

    // A common prefix (DataParallel's `module.`) is recognised.
    let prefixed: BTreeMap<String, RawTensor> = classic(784, 50, 8)
        .into_iter()
        .map(|(k, v)| (format!("module.{k}"), v))
        .collect();
    let meta = import::convert(path, prefixed, &ImportOptions::default(), &cpu())
        .unwrap()
        .meta;
    assert_eq!(meta.train.model.latent_dim, 8);

    // A non-square input needs the image size, and a wrong one is refused.
    let e =
        import::convert(path, classic(600, 50, 8), &ImportOptions::default(), &cpu()).unwrap_err();
    assert!(e.to_string().contains("--image-size"), "{e}");
    let opts = ImportOptions {
        map: None,
        image_size: Some((20, 30)),
    };
    let meta = import::convert(path, classic(600, 50, 8), &opts, &cpu())
        .unwrap()
        .meta;
    assert_eq!((meta.train.model.rows, meta.train.model.cols), (20, 30));
    let bad = ImportOptions {
        map: None,
        image_size: Some((20, 20)),
    };
    let e = import::convert(path, classic(600, 50, 8), &bad, &cpu()).unwrap_err();
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
    let loaded = open(&f16, &ImportOptions::default()).unwrap();
    assert_eq!(loaded.meta.train.model.latent_dim, 2);
    let ints = write("ints.safetensors", safetensors::Dtype::I32, 4, &|x| {
        (x as i32).to_le_bytes().to_vec()
    });
    let e = open(&ints, &ImportOptions::default()).unwrap_err();
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
    let e = open(&empty, &ImportOptions::default()).unwrap_err();
    assert!(
        e.to_string().contains("empty.pt") && e.to_string().contains("empty"),
        "{e}"
    );

    let text = dir.path().join("notes.pt");
    std::fs::write(&text, b"hello, this is not a model").unwrap();
    let e = open(&text, &ImportOptions::default()).unwrap_err();
    assert!(e.to_string().contains("notes.pt"), "{e}");

    // A truncated PyTorch archive.
    let full = std::fs::read(fixture("examples_vae.pt")).unwrap();
    let cut = dir.path().join("cut.pt");
    std::fs::write(&cut, &full[..full.len() / 3]).unwrap();
    let e = open(&cut, &ImportOptions::default()).unwrap_err();
    assert!(e.to_string().contains("cut.pt"), "{e}");

    let missing = dir.path().join("missing.pt");
    let e = open(&missing, &ImportOptions::default()).unwrap_err();
    assert!(e.to_string().contains("missing.pt"), "{e}");
}

/// One of our checkpoints of `cfg` (freshly initialised weights), saved at `epoch` with the
/// test figures its weights give on `data` in the header or not: (file, header, its test
/// −ELBO, its extra modules' values).
fn our_checkpoint(
    dir: &Path,
    name: &str,
    cfg: TrainConfig,
    epoch: usize,
    with_metrics: bool,
    data: &Arc<Dataset>,
) -> (PathBuf, CheckpointMeta, f64, Vec<f32>) {
    let t = Trainer::new(cfg, data.clone(), &cpu()).unwrap();
    let (model, aux) = (t.inference_model(), t.aux().valid());
    let step = 40;
    let metrics = evaluate_run(&model, t.config(), step, data, &cpu(), 0);
    let meta = CheckpointMeta::new(
        t.config().clone(),
        DatasetInfo::of(data),
        epoch,
        step,
        with_metrics.then(|| metrics.clone()),
    );
    let path = dir.join(format!("{name}.safetensors"));
    checkpoint::save(&path, &model, &aux, &meta).unwrap();
    (path, meta, metrics.neg_elbo, param_values(&aux))
}

#[test]
fn our_checkpoints_keep_their_header_and_test_elbo_when_imported_or_opened() {
    let data = small(64, 64);
    let dir = tempfile::tempdir().unwrap();
    let arch = ArchConfig::Mlp { hidden: vec![32] };
    let mut gaussian = TrainConfig::default();
    gaussian.model.arch = arch.clone();
    gaussian.model.latent_dim = 4;
    gaussian.model.likelihood = Likelihood::Gaussian {
        sigma: 0.1,
        learned: false,
    };
    // A variant with modules of its own, a learned σ, and a run that has done 3 epochs and
    // has test figures.
    let mut aae = TrainConfig {
        variant: VariantKind::Aae,
        beta: VariantKind::Aae.default_beta(),
        epochs: 5,
        ..gaussian.clone()
    };
    aae.model.likelihood = Likelihood::Gaussian {
        sigma: 0.3,
        learned: true,
    };
    aae.variant_params.aae_disc_hidden = vec![16];
    for (name, cfg, epoch, with_metrics) in
        [("gaussian", gaussian, 0, false), ("aae", aae, 3, true)]
    {
        let (src, meta, neg_elbo, aux) =
            our_checkpoint(dir.path(), name, cfg, epoch, with_metrics, &data);
        // The one entry every caller opens files through.
        let opened = model_file::open(&src, &cpu(), &ImportOptions::default()).unwrap();
        assert_eq!(opened.format, Format::Checkpoint, "{name}");
        assert_eq!(
            opened.loaded.meta, meta,
            "{name}: the header changed on opening"
        );

        // `import` of it: the header kept, the weights and extra modules as they were. The
        // options for PyTorch files are said to be unused, not applied.
        let out = dir.path().join(format!("{name}-imported.safetensors"));
        let text = ok(&["import", s(&src), "--out", s(&out), "--image-size", "20x30"]);
        assert!(
            text.contains("already a latent-explorer checkpoint") && text.contains("were not used"),
            "{text}"
        );
        let back = checkpoint::load(&out, &cpu()).unwrap();
        let m = &back.meta;
        assert_eq!(
            (
                &m.train.model.likelihood,
                m.train.variant,
                m.epoch,
                &m.metrics
            ),
            (
                &meta.train.model.likelihood,
                meta.train.variant,
                meta.epoch,
                &meta.metrics
            ),
            "{name}: likelihood, variant, epoch or metrics changed by import"
        );
        assert_eq!(*m, meta, "{name}: another header field changed by import");
        assert_eq!(
            param_values(&back.aux),
            aux,
            "{name}: extra modules changed"
        );
        let after = evaluate_run(
            &back.model,
            &back.meta.train,
            back.meta.step,
            &data,
            &cpu(),
            0,
        );
        assert_eq!(
            after.neg_elbo, neg_elbo,
            "{name}: test −ELBO {} after import, {neg_elbo} before",
            after.neg_elbo
        );
        eprintln!(
            "{name}: {} likelihood, {} variant, epoch {}, test −ELBO {neg_elbo:.2} before and {:.2} after import",
            m.train.model.likelihood, m.train.variant, m.epoch, after.neg_elbo
        );
    }
}

/// A safetensors file of `tensors` (name, dtype, shape, little-endian bytes).
fn write_safetensors(path: &Path, tensors: &[(String, safetensors::Dtype, Vec<usize>, Vec<u8>)]) {
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = tensors
        .iter()
        .map(|(k, dtype, shape, b)| {
            (
                k.clone(),
                safetensors::tensor::TensorView::new(*dtype, shape.clone(), b).unwrap(),
            )
        })
        .collect();
    std::fs::write(path, safetensors::serialize(views, None).unwrap()).unwrap();
}

/// The classic layout's tensors with sizes (pixels, hidden, latent) as f32 safetensors
/// entries, values distinct.
fn classic_f32(
    p: usize,
    h: usize,
    l: usize,
) -> Vec<(String, safetensors::Dtype, Vec<usize>, Vec<u8>)> {
    classic(p, h, l)
        .into_iter()
        .map(|(k, v)| {
            let b = (0..v.values.len())
                .flat_map(|i| ((i % 17) as f32 * 0.01 - 0.08).to_le_bytes())
                .collect();
            (k, safetensors::Dtype::F32, v.shape, b)
        })
        .collect()
}

#[test]
fn a_tensor_with_the_wrong_shape_is_named_in_the_source_file_with_both_shapes() {
    let dir = tempfile::tempdir().unwrap();
    // Fewer values than the architecture needs (the parameter count used to report these),
    // more, and another rank: each names the file's tensor, our name and both shapes.
    for (tensor, ours, expected, found) in [
        (
            "fc3.weight",
            "model.decoder.body.layers.0.weight",
            vec![50, 8],
            vec![50, 7],
        ),
        ("fc4.bias", "model.decoder.out.bias", vec![784], vec![700]),
        (
            "fc22.weight",
            "model.encoder.logvar.weight",
            vec![8, 50],
            vec![8, 50, 1],
        ),
        (
            "fc4.weight",
            "model.decoder.out.weight",
            vec![784, 50],
            vec![784, 60],
        ),
    ] {
        let mut t = classic_f32(784, 50, 8);
        for e in t.iter_mut().filter(|e| e.0 == tensor) {
            let n: usize = found.iter().product();
            e.2 = found.clone();
            e.3 = vec![0; n * 4];
        }
        let src = dir.path().join("short.safetensors");
        write_safetensors(&src, &t);
        let want = [
            "short.safetensors".to_string(),
            format!("tensor {tensor} ({ours})"),
            format!("expected shape {expected:?}"),
            format!("found {found:?}"),
        ];
        let e = open(&src, &ImportOptions::default()).unwrap_err();
        assert!(
            matches!(e, OpenError::Import(ImportError::Shape { .. })),
            "{e:?}"
        );
        let msg = e.to_string();
        assert!(want.iter().all(|w| msg.contains(w.as_str())), "{msg}");
        assert!(!msg.contains("contradicts"), "{msg}");

        // `import` names the source file, never the output it did not write.
        let out = dir.path().join("converted.safetensors");
        let stderr = fails(&["import", s(&src), "--out", s(&out)]);
        assert!(want.iter().all(|w| stderr.contains(w.as_str())), "{stderr}");
        assert!(!stderr.contains("converted.safetensors"), "{stderr}");
        assert!(!out.exists(), "a file was written for a failed import");
        eprintln!("{}", stderr.trim());
    }
}

#[test]
fn an_invalid_map_regex_is_one_line_with_the_rule_as_typed() {
    let rule = r"encoder\.(0\.(weight|bias)=model.encoder.body.layers.0.$1";
    let e = KeyMap::parse(&[rule]).unwrap_err();
    assert!(matches!(e, ImportError::BadRule { .. }), "{e:?}");
    let msg = e.to_string();
    assert_eq!(msg.lines().count(), 1, "{msg}");
    assert!(
        msg.contains(&format!("'{rule}'"))
            && msg.contains("unclosed group")
            && msg.contains("character 10"),
        "{msg}"
    );
    // On the command line: the rule as the user typed it (no doubled backslashes), in one or
    // two lines, and nothing written.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.safetensors");
    let stderr = fails(&[
        "import",
        s(&fixture("examples_vae.pt")),
        "--out",
        s(&out),
        "--map",
        rule,
    ]);
    assert!(
        stderr.contains(rule) && !stderr.contains(r"\\."),
        "{stderr}"
    );
    assert!(stderr.trim().lines().count() <= 2, "{stderr}");
    assert!(!out.exists());
    eprintln!("{}", stderr.trim());
}

/// The PyTorch examples' layout at toy size as `fuzz/make_seeds.sh` saved it with torch
/// (the same state dict as safetensors, `torch.save` zip, legacy pickle, and halved).
fn torch_seed(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/seeds/torch")
        .join(name)
}

/// The PyTorch layout's names and our names for them.
const EXAMPLES_NAMES: [(&str, &str); 5] = [
    ("fc1", "model.encoder.body.layers.0"),
    ("fc21", "model.encoder.mu"),
    ("fc22", "model.encoder.logvar"),
    ("fc3", "model.decoder.body.layers.0"),
    ("fc4", "model.decoder.out"),
];

/// The imported model's tensors under the file's names, as our checkpoint stores them
/// (PyTorch's layout).
fn imported_values(path: &Path) -> BTreeMap<String, Vec<f32>> {
    let l = open(path, &ImportOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let bytes = checkpoint::to_bytes(&l.model, &l.aux, &l.meta, path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut out = BTreeMap::new();
    for (theirs, ours) in EXAMPLES_NAMES {
        for p in ["weight", "bias"] {
            let v = st.tensor(&format!("{ours}.{p}")).unwrap();
            let values = v
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            out.insert(format!("{theirs}.{p}"), values);
        }
    }
    out
}

#[test]
fn imported_values_equal_the_source_in_every_float_type_and_under_a_prefix() {
    // The source: the f32 safetensors file torch wrote, read with the safetensors crate.
    let bytes = std::fs::read(torch_seed("examples.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let source: Vec<(String, Vec<usize>, Vec<f32>)> = st
        .tensors()
        .into_iter()
        .map(|(k, v)| {
            let values = v
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            (k, v.shape().to_vec(), values)
        })
        .collect();
    let want = |f: &dyn Fn(f32) -> f32| -> BTreeMap<String, Vec<f32>> {
        source
            .iter()
            .map(|(k, _, v)| (k.clone(), v.iter().map(|&x| f(x)).collect()))
            .collect()
    };
    let f16 = |x: f32| half::f16::from_f32(x).to_f32();
    let bf16 = |x: f32| half::bf16::from_f32(x).to_f32();
    // f64 values off the f32 grid by more than half a step: the conversion must round them.
    let wide = |x: f32| x as f64 * (1.0 + 1e-7);
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, prefix: &str, dtype, enc: &dyn Fn(f32) -> Vec<u8>| {
        let t: Vec<_> = source
            .iter()
            .map(|(k, shape, v)| {
                let b = v.iter().flat_map(|&x| enc(x)).collect();
                (format!("{prefix}{k}"), dtype, shape.clone(), b)
            })
            .collect();
        let path = dir.path().join(name);
        write_safetensors(&path, &t);
        path
    };
    use safetensors::Dtype;
    let cases = [
        (
            "torch.save zip, f32",
            torch_seed("examples.pt"),
            want(&|x| x),
        ),
        (
            "legacy pickle, f32",
            torch_seed("examples-legacy.pt"),
            want(&|x| x),
        ),
        (
            "torch.save zip, f16",
            torch_seed("examples-f16.pt"),
            want(&f16),
        ),
        (
            "safetensors, f16",
            write("f16.safetensors", "", Dtype::F16, &|x| f16_bytes(x)),
            want(&f16),
        ),
        (
            "safetensors, bf16",
            write("bf16.safetensors", "", Dtype::BF16, &|x| {
                half::bf16::from_f32(x).to_le_bytes().to_vec()
            }),
            want(&bf16),
        ),
        (
            "safetensors, f64",
            write("f64.safetensors", "", Dtype::F64, &|x| {
                wide(x).to_le_bytes().to_vec()
            }),
            want(&|x| wide(x) as f32),
        ),
        (
            "safetensors under state_dict.",
            write("prefixed.safetensors", "state_dict.", Dtype::F32, &|x| {
                x.to_le_bytes().to_vec()
            }),
            want(&|x| x),
        ),
    ];
    // Each conversion changes values, so each comparison tells the types apart.
    for changed in [want(&f16), want(&bf16), want(&|x| wide(x) as f32)] {
        assert_ne!(changed, want(&|x| x));
    }
    for (what, path, expected) in cases {
        let got = imported_values(&path);
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            expected.keys().collect::<Vec<_>>(),
            "{what}"
        );
        for (name, want) in &expected {
            let g = &got[name];
            let differ: Vec<usize> = (0..want.len())
                .filter(|&i| g[i].to_bits() != want[i].to_bits())
                .collect();
            assert!(
                differ.is_empty(),
                "{what}: {name}: {} of {} values differ from the source's, the first at {}: {} vs {}",
                differ.len(),
                want.len(),
                differ[0],
                g[differ[0]],
                want[differ[0]]
            );
        }
    }
}

fn f16_bytes(x: f32) -> Vec<u8> {
    half::f16::from_f32(x).to_le_bytes().to_vec()
}
