//! Bad input of every class the hardening issue found: sizes over their limits (from files
//! and arguments), checkpoints whose dtype, header or values are wrong, labels outside a
//! conditional model's classes, paths of the wrong kind, unreadable settings, leftover
//! temporary files. Each is refused with a message naming what is wrong, before anything
//! is allocated or trained.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use burn::module::Module;
use latent_explorer::checkpoint::{self, CheckpointError, CheckpointMeta, DatasetInfo};
use latent_explorer::limits::{self, LimitError};
use latent_explorer::model::ArchConfig;
use latent_explorer::train::{ArchKind, LikelihoodKind, RunSpec, TrainConfig, Trainer};
use latent_explorer::ui::settings::Persisted;
use latent_explorer::variant::{AuxModules, VariantKind};
use safetensors::{Dtype, tensor::TensorView};

use crate::common::{bundled, cpu, small};
use crate::explore_tools::{fails, fixture, s};

#[test]
fn limits_name_the_field_the_value_and_the_limit() {
    assert_eq!(limits::check("batch size", 5, 1, 10), Ok(5));
    let e = limits::check("batch size", 11, 1, 10).unwrap_err();
    assert_eq!(
        e.to_string(),
        "batch size = 11 is too large: the limit is 10"
    );
    let e = limits::check("epochs", 0, 1, 10).unwrap_err();
    assert_eq!(
        e.to_string(),
        "epochs = 0 is too small: it must be at least 1"
    );
    // Products are exact past usize: no wrap-around lets an overflowing size through.
    let e = limits::product("pixels", &[usize::MAX, 2], usize::MAX).unwrap_err();
    match e {
        LimitError::TooLarge { value, .. } => assert_eq!(value, usize::MAX as u128 * 2),
        other => panic!("{other:?}"),
    }
    let e = limits::product("pixels", &[1 << 32, 1 << 32], limits::MAX_PIXELS).unwrap_err();
    assert!(
        e.to_string().contains("4294967296 × 4294967296")
            && e.to_string().contains("18446744073709551616")
            && e.to_string().contains(&limits::MAX_PIXELS.to_string()),
        "{e}"
    );
    assert_eq!(limits::product("pixels", &[28, 28], 784), Ok(784));
    assert!(limits::sum("width", &[usize::MAX, 1], usize::MAX).is_err());
}

#[test]
fn parameter_count_is_what_init_builds_for_every_variant_and_architecture() {
    let data = small(64, 16);
    for v in VariantKind::ALL {
        for arch in ["mlp", "conv"] {
            for learned_sigma in [false, true] {
                let spec = RunSpec {
                    variant: v,
                    hidden: vec![24, 12],
                    latent: 8,
                    vq_codes: 16,
                    bottom_latent: 6,
                    likelihood: if learned_sigma {
                        LikelihoodKind::Gaussian
                    } else {
                        LikelihoodKind::Bernoulli
                    },
                    learn_sigma: learned_sigma,
                    arch: if arch == "mlp" {
                        ArchKind::Mlp
                    } else {
                        ArchKind::Conv
                    },
                    ..RunSpec::default()
                };
                let cfg = spec.train_config(&data).model;
                let built = cfg.init(&cpu()).unwrap().num_params();
                assert_eq!(
                    cfg.parameter_count().unwrap(),
                    built,
                    "{v} {arch} learned σ {learned_sigma}"
                );
            }
        }
    }
}

/// A tiny plain VAE checkpoint (hidden 8, latent 2) as bytes.
fn tiny_checkpoint() -> Vec<u8> {
    let mut cfg = TrainConfig::default();
    cfg.model.arch = ArchConfig::Mlp { hidden: vec![8] };
    cfg.model.latent_dim = 2;
    let model = cfg.model.init(&cpu()).unwrap();
    let meta = CheckpointMeta::new(cfg, DatasetInfo::of(&bundled()), 1, 10, None);
    checkpoint::to_bytes(&model, &AuxModules::empty(), &meta, Path::new("tiny")).unwrap()
}

type Tensors = Vec<(String, Dtype, Vec<usize>, Vec<u8>)>;

/// A checkpoint's header (as JSON) and tensors.
fn parts(bytes: &[u8]) -> (serde_json::Value, Tensors) {
    let st = safetensors::SafeTensors::deserialize(bytes).unwrap();
    let (_, md) = safetensors::SafeTensors::read_metadata(bytes).unwrap();
    let json = &md.metadata().as_ref().unwrap()[checkpoint::META_KEY];
    let mut tensors: Tensors = st
        .tensors()
        .into_iter()
        .map(|(n, v)| (n, v.dtype(), v.shape().to_vec(), v.data().to_vec()))
        .collect();
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    (serde_json::from_str(json).unwrap(), tensors)
}

fn assemble(meta: &serde_json::Value, tensors: &Tensors) -> Vec<u8> {
    let views: Vec<(String, TensorView<'_>)> = tensors
        .iter()
        .map(|(n, d, s, b)| (n.clone(), TensorView::new(*d, s.clone(), b).unwrap()))
        .collect();
    let md = HashMap::from([(checkpoint::META_KEY.to_string(), meta.to_string())]);
    safetensors::serialize(views, Some(md)).unwrap()
}

fn load_err(bytes: Vec<u8>) -> CheckpointError {
    match checkpoint::from_bytes(Path::new("bad.safetensors"), bytes, &cpu()) {
        Ok(_) => panic!("a bad checkpoint loaded"),
        Err(e) => e,
    }
}

fn f32s(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

#[test]
fn checkpoint_tensors_must_be_f32_and_finite_and_are_named() {
    let good = tiny_checkpoint();
    assert!(checkpoint::from_bytes(Path::new("good"), good.clone(), &cpu()).is_ok());
    let (meta, tensors) = parts(&good);
    // The same values stored as f64, f16 or bf16: refused, naming the tensor (these passed
    // the loader and panicked inside burn's matmul).
    for (dtype, width) in [(Dtype::F64, 8), (Dtype::F16, 2), (Dtype::BF16, 2)] {
        let mut t = tensors.clone();
        let (name, d, _, data) = &mut t[3];
        let values = f32s(data);
        *d = dtype;
        *data = values
            .iter()
            .flat_map(|&v| match dtype {
                Dtype::F64 => (v as f64).to_le_bytes().to_vec(),
                Dtype::F16 => half::f16::from_f32(v).to_le_bytes().to_vec(),
                _ => half::bf16::from_f32(v).to_le_bytes().to_vec(),
            })
            .collect();
        assert_eq!(data.len(), values.len() * width);
        let name = name.clone();
        match load_err(assemble(&meta, &t)) {
            CheckpointError::DType {
                tensor, dtype: d, ..
            } => {
                assert_eq!(tensor, name);
                assert_eq!(d, format!("{dtype:?}").to_lowercase());
            }
            other => panic!("{dtype:?}: {other}"),
        }
    }
    // Non-finite values: every NaN in one tensor, then a single +inf at index 5 of another.
    let mut t = tensors.clone();
    let n = t[0].3.len() / 4;
    t[0].3 = f32::NAN.to_le_bytes().repeat(n);
    match load_err(assemble(&meta, &t)) {
        CheckpointError::NonFinite {
            tensor,
            count,
            total,
            first,
            ..
        } => assert_eq!((tensor, count, total, first), (t[0].0.clone(), n, n, 0)),
        other => panic!("{other}"),
    }
    let mut t = tensors.clone();
    let last = t.len() - 1;
    t[last].3[20..24].copy_from_slice(&f32::INFINITY.to_le_bytes());
    let e = load_err(assemble(&meta, &t));
    assert!(
        matches!(&e, CheckpointError::NonFinite { tensor, count: 1, first: 5, .. } if *tensor == t[last].0),
        "{e}"
    );
    assert!(e.to_string().contains("inf"), "{e}");
}

#[test]
fn checkpoint_headers_are_checked_against_the_limits_themselves_and_the_tensors() {
    let (meta, tensors) = parts(&tiny_checkpoint());
    let with = |edit: &dyn Fn(&mut serde_json::Value)| {
        let mut m = meta.clone();
        edit(&mut m);
        load_err(assemble(&m, &tensors)).to_string()
    };
    // Sizes whose product overflows, and absurd widths: refused by the limits, naming them.
    let e = with(&|m| {
        m["train"]["model"]["rows"] = (1u64 << 32).into();
        m["train"]["model"]["cols"] = (1u64 << 32).into();
    });
    assert!(
        e.contains("image rows = 4294967296") && e.contains("limit is 1024"),
        "{e}"
    );
    let e = with(&|m| m["train"]["model"]["arch"]["hidden"] = vec![1u64 << 32].into());
    assert!(
        e.contains("hidden width = 4294967296") && e.contains("65536"),
        "{e}"
    );
    let e = with(&|m| m["train"]["model"]["arch"]["hidden"] = vec![60_000; 3].into());
    assert!(
        e.contains("model parameters") && e.contains("limit is 100000000"),
        "{e}"
    );
    // Within the limits but more than the file holds: refused before a model is built.
    let e = with(&|m| m["train"]["model"]["arch"]["hidden"] = vec![4000].into());
    assert!(
        e.contains("the header contradicts the tensors") && e.contains("parameters"),
        "{e}"
    );
    // A header that says conditional over a plain VAE's tensors.
    let e = with(&|m| m["train"]["variant"] = "cvae".into());
    assert!(
        e.contains("variant Conditional VAE needs the latent Conditional")
            && e.contains("Gaussian"),
        "{e}"
    );
    let e = with(&|m| {
        m["train"]["variant"] = "cvae".into();
        m["train"]["model"]["latent"] = serde_json::json!({"kind": "conditional", "classes": 10});
    });
    assert!(e.contains("model.encoder") || e.contains("tensor"), "{e}");
    // The dataset it names has another image size than the model.
    let e = with(&|m| m["dataset"]["rows"] = 14.into());
    assert!(e.contains("28x28") && e.contains("14x28"), "{e}");
}

#[test]
fn labels_outside_a_conditional_models_classes_are_named() {
    let mut data = (*small(200, 50)).clone();
    data.train.labels[7] = 12;
    let spec = RunSpec {
        variant: VariantKind::Cvae,
        hidden: vec![16],
        latent: 2,
        ..RunSpec::default()
    };
    let cfg = spec.train_config(&data);
    assert_eq!(cfg.model.classes(), 10);
    let e = match Trainer::new(cfg.clone(), std::sync::Arc::new(data.clone()), &cpu()) {
        Ok(_) => panic!("trained on a label the model does not know"),
        Err(e) => e.to_string(),
    };
    assert!(
        e.contains("label 12 at train image 7") && e.contains("10 classes"),
        "{e}"
    );
    assert!(data.check_model(&cfg.model).is_err());
    // The test split is checked too; an unconditional model does not care.
    data.train.labels[7] = 1;
    data.test.labels[3] = 10;
    let e = data.check_model(&cfg.model).unwrap_err().to_string();
    assert!(e.contains("label 10 at test image 3"), "{e}");
    let plain = RunSpec::default().train_config(&data);
    assert!(data.check_model(&plain.model).is_ok());
}

#[test]
fn saved_settings_are_clamped_to_their_controls_or_refused() {
    let d = Persisted::default();
    let text = ron::to_string(&d).unwrap();
    assert_eq!(Persisted::from_ron(&text).unwrap(), d);
    // Absurd values from a hand-edited or corrupt file.
    let mut wild = d.clone();
    wild.view.grid_size = 1 << 40;
    wild.view.matrix_rows = usize::MAX;
    wild.view.explore.traversal_steps = 0;
    wild.view.explore.fps = f32::INFINITY;
    wild.view.smoothing = f32::NAN;
    wild.view.grid_dims = [usize::MAX, 3];
    wild.workspace.recent = (0..100).map(|i| format!("/x/{i}").into()).collect();
    let p = Persisted::from_ron(&ron::to_string(&wild).unwrap()).unwrap();
    assert_eq!(p.view.grid_size, 32);
    assert_eq!(p.view.matrix_rows, 32);
    assert_eq!(p.view.explore.traversal_steps, 2);
    assert_eq!(p.view.explore.fps, d.view.explore.fps);
    assert_eq!(p.view.smoothing, d.view.smoothing);
    assert_eq!(p.view.grid_dims, [limits::MAX_LATENT - 1, 3]);
    assert_eq!(
        p.workspace.recent.len(),
        latent_explorer::ui::settings::MAX_RECENT
    );
    for bad in ["", "(", "(view: 3)", "\u{0}garbage"] {
        assert!(Persisted::from_ron(bad).is_err(), "{bad:?} was accepted");
    }
}

#[test]
fn stale_temporary_files_of_dead_writers_are_removed_by_the_next_save() {
    use latent_explorer::atomic::host_name;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ckpt.safetensors");
    // A process that has exited (its pid is free) and one that is running.
    let dead = {
        let mut c = Command::new("true").spawn().unwrap();
        let pid = c.id();
        c.wait().unwrap();
        pid
    };
    let mut alive = Command::new("sleep").arg("30").spawn().unwrap();
    let host = host_name();
    let name = |target: &str, host: &str, pid: u32| {
        dir.path().join(format!(".{target}.tmp-{host}-{pid}-7"))
    };
    let stale = name("ckpt.safetensors", host, dead);
    let live = name("ckpt.safetensors", host, alive.id());
    let other = name("other.safetensors", host, dead);
    // Another host's writer with the same pid as a dead one here: alive for all we know.
    let elsewhere = name("ckpt.safetensors", &format!("not-{host}"), dead);
    // A file of the old naming, by pid alone: its host is unknown.
    let unnamed = dir.path().join(format!(".ckpt.safetensors.tmp-{dead}"));
    for p in [&stale, &live, &other, &elsewhere, &unnamed] {
        std::fs::write(p, b"half a checkpoint").unwrap();
    }
    latent_explorer::atomic::atomic_write_bytes(&path, b"new").unwrap();
    alive.kill().unwrap();
    alive.wait().unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"new");
    assert!(!stale.exists(), "a dead writer's temporary file was left");
    assert!(
        live.exists(),
        "a running writer's temporary file was removed"
    );
    assert!(
        other.exists(),
        "another target's temporary file was removed"
    );
    assert!(
        elsewhere.exists(),
        "another host's temporary file was removed"
    );
    assert!(unnamed.exists(), "a file of unknown host was removed");
}

#[test]
fn concurrent_writers_of_one_path_each_publish_only_their_own_bytes() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.safetensors");
    const WRITERS: u8 = 8;
    const WRITES: usize = 12;
    const LEN: usize = 256 * 1024;
    let done = AtomicBool::new(false);
    let seen = std::thread::scope(|scope| {
        let reader = scope.spawn(|| {
            let mut seen = 0usize;
            while !done.load(Ordering::Acquire) {
                if let Ok(bytes) = std::fs::read(&path) {
                    assert_eq!(bytes.len(), LEN, "a published file of the wrong length");
                    let first = bytes[0];
                    assert!(
                        bytes.iter().all(|&b| b == first),
                        "a published file mixes writers' bytes"
                    );
                    seen += 1;
                }
            }
            seen
        });
        let writers: Vec<_> = (1..=WRITERS)
            .map(|w| {
                let path = &path;
                scope.spawn(move || {
                    for _ in 0..WRITES {
                        // Written in small pieces, so that two writers of one temporary
                        // file would interleave.
                        latent_explorer::atomic::atomic_write(path, |f| {
                            use std::io::Write;
                            let chunk = [w; 4096];
                            for _ in 0..LEN / chunk.len() {
                                f.write_all(&chunk)?;
                            }
                            Ok(())
                        })
                        .unwrap();
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        done.store(true, Ordering::Release);
        reader.join().unwrap()
    });
    assert!(seen > 0, "the reader never saw the file");
    let last = std::fs::read(&path).unwrap();
    assert!(
        last.len() == LEN
            && last
                .iter()
                .all(|&b| b == last[0] && (1..=WRITERS).contains(&b))
    );
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n != "shared.safetensors")
        .collect();
    assert!(left.is_empty(), "temporary files left: {left:?}");
}

#[test]
fn the_cli_refuses_sizes_over_their_limits_before_allocating() {
    let f = fixture();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("x.safetensors");
    let png = tmp.path().join("x.png");
    let d = s(&f.data);
    let o = s(&out);
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["train", "--data", d, "--hidden", "4294967296", "--out", o],
            "hidden = [4294967296]: must be widths in 1..=65536",
        ),
        (
            vec!["train", "--data", d, "--batch", "100000000", "--out", o],
            "batch = 100000000: must be in 1..=65536",
        ),
        (
            vec![
                "train",
                "--data",
                d,
                "--variant",
                "iwae",
                "--iwae-k",
                "5000",
                "--out",
                o,
            ],
            "batch × samples × pixels",
        ),
        (
            vec!["train", "--data", d, "--epochs", "0", "--out", o],
            "epochs = 0",
        ),
        (
            vec!["sample", s(&f.ckpt), "--n", "100000000", "--out", s(&png)],
            "100000000 is not in 1..=10000",
        ),
        (
            vec!["eval", s(&f.ckpt), "--data", d, "--iwae-k", "100000000"],
            "100000000 is not in 0..=10000",
        ),
    ];
    for (args, want) in cases {
        let e = fails(&args);
        assert!(e.contains(want), "{args:?}: {e}");
        // Said once, not once per layer of the error chain.
        assert_eq!(e.matches(want).count(), 1, "{args:?}: {e}");
    }
    assert!(
        !out.exists() && !png.exists(),
        "a refused command wrote a file"
    );
}

#[test]
fn paths_of_the_wrong_kind_are_said_to_be_so() {
    let f = fixture();
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("afile");
    std::fs::write(&file, b"x").unwrap();
    let dir = tmp.path().join("adir");
    std::fs::create_dir(&dir).unwrap();
    let under_file = file.join("x.safetensors");
    // A file given as the data directory, a directory as a checkpoint, and the reverse.
    let e = fails(&["eval", s(&f.ckpt), "--data", s(&file)]);
    assert!(e.contains("afile is a file, not a directory"), "{e}");
    let e = fails(&["eval", s(&dir)]);
    assert!(e.contains("adir is a directory, not a file"), "{e}");
    let e = fails(&["eval", s(&tmp.path().join("missing.safetensors"))]);
    assert!(e.contains("not found"), "{e}");
    let e = fails(&["sample", s(&f.ckpt), "--out", s(&dir)]);
    assert!(e.contains("adir is a directory, not a file"), "{e}");
    let e = fails(&["sample", s(&f.ckpt), "--out", s(&under_file)]);
    assert!(e.contains("afile is a file, not a directory"), "{e}");
    // Training checks where its results go before it trains.
    let out = Command::new(env!("CARGO_BIN_EXE_latent-explorer"))
        .args([
            "train",
            "--data",
            s(&f.data),
            "--epochs",
            "1",
            "--out",
            s(&dir),
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("adir is a directory, not a file"),
        "{stderr}"
    );
    assert!(!stdout.contains("epoch"), "it trained first:\n{stdout}");
    let e = fails(&["train", "--data", s(&f.data), "--run-dir", s(&file)]);
    assert!(e.contains("afile is a file, not a directory"), "{e}");
}

#[test]
fn wgpu_without_any_usable_runtime_directory_says_so_once() {
    let f = fixture();
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_latent-explorer"))
        .args([
            "sample",
            s(&f.ckpt),
            "--n",
            "4",
            "--backend",
            "wgpu",
            "--out",
        ])
        .arg(tmp.path().join("w.png"))
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("XDG_CACHE_HOME")
        .env_remove("RUST_LOG")
        .env("TMPDIR", "/proc/no-such-dir")
        .env("HOME", "/proc/no-such-dir")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        stderr.matches("XDG_RUNTIME_DIR").count(),
        1,
        "the runtime directory's problem is not said exactly once:\n{stderr}"
    );
    assert!(stderr.contains("cannot serve instead"), "{stderr}");
}

#[test]
fn idx_image_sizes_are_bounded_before_the_pixels_become_floats() {
    use latent_explorer::data::idx::{self, IdxError};
    // One image 2000 pixels tall and 1 wide: a valid IDX file, over the side limit.
    let mut bytes = 0x803u32.to_be_bytes().to_vec();
    for d in [1u32, 2000, 1] {
        bytes.extend(d.to_be_bytes());
    }
    bytes.extend(vec![7u8; 2000]);
    match idx::parse_images(Path::new("tall.idx"), &bytes) {
        Err(e @ IdxError::Limit { .. }) => {
            let m = e.to_string();
            assert!(
                m.contains("tall.idx") && m.contains("image rows = 2000") && m.contains("1024"),
                "{m}"
            );
        }
        other => panic!("{other:?}"),
    }
    // 1024 × 1 is accepted.
    let mut ok = 0x803u32.to_be_bytes().to_vec();
    for d in [1u32, 1024, 1] {
        ok.extend(d.to_be_bytes());
    }
    ok.extend(vec![7u8; 1024]);
    assert_eq!(
        idx::parse_images(Path::new("ok.idx"), &ok).unwrap().rows,
        1024
    );
}

#[test]
fn an_output_path_ending_in_a_separator_is_a_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let out = format!("{}/not-yet/", tmp.path().display());
    let e = latent_explorer::paths::output_file(Path::new(&out)).unwrap_err();
    assert!(e.to_string().contains("is a directory, not a file"), "{e}");
    assert!(latent_explorer::paths::output_file(&tmp.path().join("a/b/c.png")).is_ok());
}

#[test]
fn outputs_and_followed_directories_of_the_wrong_kind_are_refused_before_any_work() {
    let f = fixture();
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("afile");
    std::fs::write(&file, b"x").unwrap();
    let dir = tmp.path().join("adir");
    std::fs::create_dir(&dir).unwrap();
    let png = tmp.path().join("t.png");
    // The grid would be written before the frames: nothing is written at all.
    let e = fails(&[
        "traverse",
        s(&f.ckpt),
        "--data",
        s(&f.data),
        "--out",
        s(&png),
        "--frames",
        s(&file),
    ]);
    assert!(
        e.contains("--frames") && e.contains("afile is a file, not a directory"),
        "{e}"
    );
    assert!(!png.exists(), "the grid was written before the error");
    for cmd in [
        vec!["encode", s(&f.ckpt), "--data", s(&f.data), "--out", s(&dir)],
        vec!["import", s(&f.ckpt), "--out", s(&dir)],
        vec![
            "reconstruct",
            s(&f.ckpt),
            "--data",
            s(&f.data),
            "--out",
            s(&dir),
        ],
    ] {
        let e = fails(&cmd);
        assert!(
            e.contains("--out") && e.contains("adir is a directory, not a file"),
            "{cmd:?}: {e}"
        );
    }
    let e = match latent_explorer::rundir::Follower::spawn(&file, cpu(), None) {
        Ok(_) => panic!("followed a file"),
        Err(e) => e.to_string(),
    };
    assert!(e.contains("afile is a file, not a directory"), "{e}");
    // A directory that does not exist yet is followed (the training process makes it).
    assert!(
        latent_explorer::rundir::Follower::spawn(&tmp.path().join("later"), cpu(), None).is_ok()
    );
}

/// The repeated segments of a one-line message: each `: `-separated part long enough to
/// mean something that occurs more than once.
fn repeated_segments(message: &str) -> Vec<String> {
    let parts: Vec<&str> = message.trim().split(": ").map(str::trim).collect();
    let mut out: Vec<String> = parts
        .iter()
        .filter(|p| p.len() >= 8 && parts.iter().filter(|q| q == p).count() > 1)
        .map(|p| p.to_string())
        .collect();
    out.dedup();
    out
}

#[test]
fn no_message_says_a_cause_twice() {
    let f = fixture();
    let tmp = tempfile::tempdir().unwrap();
    let spec = |name: &str, text: &str| {
        let p = tmp.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_string_lossy().into_owned()
    };
    let key = spec(
        "key.toml",
        "[base]\nvariant = \"vae\"\n[axes]\nbetaa = [1, 2]\n",
    );
    let variant = spec("variant.toml", "[axes]\nvariant = [\"vae\", \"nope\"]\n");
    let value = spec("value.toml", "[axes]\nbeta = [1, -2]\n");
    let run_toml = spec("run.toml", "variant = \"vae\"\nepochs = \"two\"\n");
    let plan = tmp.path().join("plan");
    let o = tmp.path().join("o.safetensors");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["train", "--data", "shapes:0", "--out", s(&o)],
            "image side = 0",
        ),
        (
            vec!["train", "--data", "shapes:32:bogus", "--out", s(&o)],
            "the grid is",
        ),
        (vec!["sweep", "plan", &key, "--out", s(&plan)], "betaa"),
        (vec!["sweep", "plan", &variant, "--out", s(&plan)], "nope"),
        (
            vec!["sweep", "plan", &value, "--out", s(&plan)],
            "beta = -2",
        ),
        (
            vec![
                "train",
                "--config",
                &run_toml,
                "--data",
                s(&f.data),
                "--out",
                s(&o),
            ],
            "epochs",
        ),
        (vec!["sample", s(&f.data), "--out", s(&o)], ""),
    ];
    for (args, want) in cases {
        let e = fails(&args);
        assert!(e.contains(want), "{args:?}: {e}");
        let line = e.lines().rfind(|l| l.starts_with("error: ")).unwrap_or(&e);
        let twice = repeated_segments(line);
        assert!(twice.is_empty(), "{args:?} repeats {twice:?}:\n{e}");
    }
    assert!(!plan.exists() && !o.exists(), "a refused command wrote");
}

#[test]
fn the_repetition_check_sees_a_repeated_cause() {
    let e = "error: a.toml: unknown key `x`: unknown key `x`";
    assert_eq!(repeated_segments(e), vec!["unknown key `x`".to_string()]);
    assert!(repeated_segments("error: a: b: c").is_empty());
}

#[test]
fn a_run_directory_holding_an_earlier_runs_files_is_refused_and_left_as_it_was() {
    let f = fixture();
    let tmp = tempfile::tempdir().unwrap();
    let train = |dir: &Path| {
        vec![
            "train".to_string(),
            "--data".into(),
            s(&f.data).into(),
            "--epochs".into(),
            "1".into(),
            "--hidden".into(),
            "16".into(),
            "--latent".into(),
            "2".into(),
            "--run-dir".into(),
            s(dir).into(),
        ]
    };
    // Each file a run directory's writer writes, alone, without a metrics file.
    for name in [
        "epoch-0003.safetensors",
        "final.safetensors",
        "resume.safetensors",
        "metrics.jsonl",
    ] {
        let dir = tmp.path().join(name.replace('.', "_"));
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join(name), b"an earlier run's bytes").unwrap();
        let args = train(&dir);
        let e = fails(&args.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(
            e.contains("already holds a run's files") && e.contains(name),
            "{name}: {e}"
        );
        let left: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(left, vec![name.to_string()], "{name}: files were added");
        assert_eq!(
            std::fs::read(dir.join(name)).unwrap(),
            b"an earlier run's bytes"
        );
    }
    // Files that are no run's are not in the way, and an empty metrics file is no run.
    let dir = tmp.path().join("notes");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("notes.txt"), b"mine").unwrap();
    std::fs::write(dir.join("epoch-notes.safetensors"), b"mine").unwrap();
    std::fs::write(dir.join("metrics.jsonl"), b"").unwrap();
    let args = train(&dir);
    let out = crate::explore_tools::run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read(dir.join("notes.txt")).unwrap(), b"mine");
    // A configuration file of another run is not overwritten; the same one is no other run.
    let dir = tmp.path().join("config");
    std::fs::create_dir(&dir).unwrap();
    let other = "data = \"bundled\"\nfinal_iwae_k = 0\nvariant = \"iwae\"\n";
    let cfg_path = dir.join("run.toml");
    let args = train(&dir);
    std::fs::write(&cfg_path, other).unwrap();
    let e = fails(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(e.contains("run.toml describes another run"), "{e}");
    assert_eq!(std::fs::read_to_string(&cfg_path).unwrap(), other);
}

#[test]
fn training_on_a_software_wgpu_adapter_says_so_at_once_and_shows_the_kernel_compilation() {
    use std::io::BufRead;
    use std::time::{Duration, Instant};
    let f = fixture();
    let tmp = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_latent-explorer"))
        .args(["train", "--data", s(&f.data), "--backend", "wgpu"])
        .args(["--epochs", "1", "--hidden", "16", "--latent", "2", "--out"])
        .arg(tmp.path().join("w.safetensors"))
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // What this machine's adapters are, asked independently of the command.
    let software = latent_explorer::gpu::software_only_adapter();
    let started = Instant::now();
    let mut lines = Vec::new();
    // Both lines come before the first step: within seconds, not after the compilation.
    while started.elapsed() < Duration::from_secs(60)
        && !lines
            .iter()
            .any(|l: &String| l.starts_with("wgpu: compiling kernels"))
    {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(l) => lines.push(l),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(_) => break,
        }
    }
    let took = started.elapsed();
    let _ = child.kill();
    let _ = child.wait();
    let text = lines.join("\n");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("wgpu: compiling kernels")),
        "no word of the kernel compilation within {took:?}:\n{text}"
    );
    let noted = text.contains("no GPU adapter, only a software rasteriser")
        && text.contains("Use `--backend cpu`");
    assert_eq!(
        noted,
        software.is_some(),
        "adapters: {software:?}; the command said:\n{text}"
    );
    assert_eq!(
        text.matches("software rasteriser").count(),
        usize::from(noted),
        "said more than once:\n{text}"
    );
}
