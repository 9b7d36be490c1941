//! The built binary as a user runs it: the app in a real X window (under Xvfb, which
//! `scripts/test` installs) reporting its frames, and the `variants` cards.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_latent-explorer");

#[test]
fn the_app_opens_a_real_window_and_reports_its_frames() {
    // Settings and runtime files go to a scratch home, not the user's.
    let home = tempfile::tempdir().unwrap();
    let out = Command::new("xvfb-run")
        .args(["-a", "-s", "-screen 0 1280x800x24", BIN])
        // Free sharing: the default policy's idle-class training thread may get no CPU at
        // all in these two seconds while the other tests keep both cores busy (the policy
        // itself is tested in rundir.rs).
        .args([
            "app",
            "--measure",
            "1",
            "--device",
            "cpu",
            "--sharing",
            "free",
        ])
        .env("HOME", home.path())
        .env("XDG_DATA_HOME", home.path().join("data"))
        .env("XDG_CONFIG_HOME", home.path().join("config"))
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("RUST_LOG")
        .output()
        .expect("xvfb-run (scripts/test installs it)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "exit {:?}\n{stdout}\n{stderr}",
        out.status
    );
    let envelope: serde_json::Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("not one JSON report ({e}): {stdout}"));
    crate::json_shape::check_envelope(&envelope, "app");
    let report = &envelope["data"];
    for phase in ["watch", "drag"] {
        let frames = report[phase]["frames"].as_u64().unwrap_or(0);
        assert!(frames > 0, "{phase}: no frames drawn: {report}");
    }
    assert_eq!(report["runs"], 1, "{report}");
    // The default run trains (in either phase: under a loaded machine the low-priority
    // training thread can take no step in one second of continuous drawing, as seen once
    // in CI with 0 steps while dragging and 9 while watching).
    let steps = |phase: &str| report[phase]["runs"][0]["steps"].as_u64().unwrap_or(0);
    assert!(
        steps("watch") + steps("drag") > 0,
        "the default run did not train: {report}"
    );
    // The default log stays quiet: no warnings on a normal start (the graphics stack's
    // probing and the missing runtime directory included).
    assert!(
        !stderr.contains("WARN")
            && !stderr.contains("ERROR")
            && !stderr.contains("XDG_RUNTIME_DIR"),
        "log noise on a normal start:\n{stderr}"
    );
}

/// `app --epochs` refuses what `train --epochs` refuses, before any window opens.
#[test]
fn app_epochs_must_be_positive() {
    let out = Command::new(BIN)
        .args(["app", "--epochs", "0"])
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--epochs") && stderr.contains('0'),
        "{stderr}"
    );
}

/// Output into a pipe whose reader has gone (`variants | head -1`) ends the output quietly:
/// no "Broken pipe" panic, success, and nothing on standard error.
#[test]
fn a_closed_output_pipe_is_not_a_panic() {
    let (reader, writer) = std::io::pipe().unwrap();
    // Closed before the command starts: its first write fails, whatever the timing.
    drop(reader);
    let out = Command::new(BIN)
        .arg("variants")
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}: {stderr}", out.status);
    assert!(stderr.is_empty(), "{stderr}");
}

#[test]
fn variants_prints_every_card() {
    let out = Command::new(BIN).arg("variants").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for v in latent_explorer::variant::VariantKind::ALL {
        let a = v.about();
        assert!(text.contains(v.label()), "{v:?} missing");
        assert!(text.contains(a.paper), "{v:?}: paper missing");
    }
    let one = Command::new(BIN)
        .args(["variants", "iwae"])
        .output()
        .unwrap();
    let one = String::from_utf8(one.stdout).unwrap();
    assert!(one.contains("Importance Weighted") && !one.contains("Adversarial"));
    let bad = Command::new(BIN)
        .args(["variants", "gan"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("invalid value 'gan'"));
}

// ---------------------------------------------------------------------------------------
// Every subcommand as a user runs it: the happy path with its output checked against the
// library, one bad input refused with a message (no panic), and `--json` parsed. The data
// and checkpoints are the exploring tools' fixture (1,000 / 300 bundled digits as IDX
// files; a 1-epoch 784-32-4 VAE; a checkpoint for 14×14 images).

use burn::tensor::{Distribution, Tensor};
use latent_explorer::checkpoint;
use latent_explorer::model::Likelihood;
use latent_explorer::train::evaluate;
use latent_explorer::train::metrics::host_vec;

use crate::common::cpu;
use crate::explore_tools::{fails, fixture, fixture_data, ok, s};

/// One JSON value per line of `out`.
fn json_lines(out: &str) -> Vec<serde_json::Value> {
    out.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// The tile `i` of a grid image with `gap`-pixel gaps, `side`×`side` tiles, `cols` per row.
fn tile(img: &image::GrayImage, i: usize, cols: usize, side: usize, gap: usize) -> Vec<u8> {
    let (x0, y0) = (
        gap + (i % cols) * (side + gap),
        gap + (i / cols) * (side + gap),
    );
    let mut v = Vec::with_capacity(side * side);
    for r in 0..side {
        for c in 0..side {
            v.push(img.get_pixel((x0 + c) as u32, (y0 + r) as u32).0[0]);
        }
    }
    v
}

/// `tile` against float pixels in [0, 1], to the nearest grey level.
fn assert_tile(got: &[u8], want: &[f32], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (j, (&g, &w)) in got.iter().zip(want).enumerate() {
        let w = (w.clamp(0.0, 1.0) * 255.0).round() as i32;
        assert!(
            (g as i32 - w).abs() <= 1,
            "{what}: pixel {j} is {g}, want {w}"
        );
    }
}

#[test]
fn cli_train_reports_each_epoch_as_json_and_writes_the_checkpoint() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("t.safetensors");
    let stdout = ok(&[
        "train",
        "--data",
        s(&f.data),
        "--epochs",
        "2",
        "--hidden",
        "16",
        "--latent",
        "3",
        "--final-iwae-k",
        "5",
        "--json",
        "--out",
        s(&out),
    ]);
    let lines = json_lines(&stdout);
    assert_eq!(
        lines.len(),
        3,
        "two epochs and the final evaluation: {stdout}"
    );
    for l in &lines {
        crate::json_shape::check_envelope(l, "train");
    }
    let lines: Vec<&serde_json::Value> = lines.iter().map(|l| &l["data"]).collect();
    for (i, l) in lines[..2].iter().enumerate() {
        assert_eq!(l["event"], "epoch");
        assert_eq!(l["epoch"], i + 1);
        assert!(l["samples_per_sec"].as_f64().unwrap() > 0.0);
        assert_eq!(l["test"]["images"], 300);
        assert_eq!(l["test"]["kl_per_dim"].as_array().unwrap().len(), 3);
    }
    let e1 = lines[0]["test"]["neg_elbo"].as_f64().unwrap();
    let e2 = lines[1]["test"]["neg_elbo"].as_f64().unwrap();
    assert!(e2 < e1, "the second epoch did not improve: {e1} → {e2}");
    assert_eq!(lines[2]["event"], "final");
    let fin = &lines[2]["test"];
    assert_eq!(fin["iwae_k"], 5);
    let iwae = fin["iwae_nll"].as_f64().unwrap();
    assert!(iwae < fin["neg_elbo"].as_f64().unwrap() + 2.0, "{fin}");
    // The checkpoint holds the trained weights: the library scores them as the run did.
    let loaded = checkpoint::load(&out, &cpu()).unwrap();
    assert_eq!(
        (loaded.meta.epoch, loaded.meta.train.model.latent_dim),
        (2, 3)
    );
    let m = evaluate(
        &loaded.model,
        Likelihood::Bernoulli,
        &fixture_data().test,
        &cpu(),
        500,
        0,
    );
    assert!(
        (m.neg_elbo - e2).abs() < 0.02 * e2,
        "the checkpoint scores {} where its run reported {e2}",
        m.neg_elbo
    );
    // Text mode names the checkpoint.
    let text = ok(&[
        "train",
        "--data",
        s(&f.data),
        "--epochs",
        "1",
        "--hidden",
        "16",
        "--latent",
        "3",
        "--final-iwae-k",
        "0",
        "--out",
        s(&out),
    ]);
    assert!(text.contains("epoch  1/1"), "{text}");
    assert!(
        text.contains(&format!("checkpoint: {}", out.display())),
        "{text}"
    );
    // Bad input: a batch of 0, and data that is not there.
    let e = fails(&[
        "train",
        "--data",
        s(&f.data),
        "--batch",
        "0",
        "--epochs",
        "1",
    ]);
    assert!(e.contains("batch"), "{e}");
    let missing = dir.path().join("no-such-data");
    let e = fails(&["train", "--data", s(&missing), "--epochs", "1"]);
    assert!(e.contains("no-such-data"), "{e}");
}

#[test]
fn cli_eval_agrees_with_the_library_and_names_a_corrupt_checkpoint() {
    let f = fixture();
    let json = ok(&[
        "eval",
        s(&f.ckpt),
        "--data",
        s(&f.data),
        "--iwae-k",
        "20",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let v = &v["data"];
    let loaded = checkpoint::load(&f.ckpt, &cpu()).unwrap();
    let m = evaluate(
        &loaded.model,
        Likelihood::Bernoulli,
        &fixture_data().test,
        &cpu(),
        500,
        20,
    );
    let got = v["neg_elbo"].as_f64().unwrap();
    assert!(
        (got - m.neg_elbo).abs() < 0.02 * m.neg_elbo,
        "{got} vs {}",
        m.neg_elbo
    );
    let iwae = v["iwae_nll"].as_f64().unwrap();
    assert!(
        (iwae - m.iwae_nll.unwrap()).abs() < 0.02 * iwae,
        "{iwae} vs {m:?}"
    );
    assert_eq!(v["kl_per_dim"].as_array().unwrap().len(), 4);
    assert_eq!(
        (v["images"].as_u64(), v["iwae_k"].as_u64()),
        (Some(300), Some(20))
    );
    let text = ok(&["eval", s(&f.ckpt), "--data", s(&f.data), "--iwae-k", "0"]);
    assert!(text.contains("KL per dimension:"), "{text}");
    // A corrupt file and a model for other images.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("corrupt.safetensors");
    std::fs::write(&bad, b"\x08\x00\x00\x00\x00\x00\x00\x00{not json").unwrap();
    let e = fails(&["eval", s(&bad), "--data", s(&f.data)]);
    assert!(e.contains("corrupt.safetensors"), "{e}");
    let e = fails(&["eval", s(&f.wrong_size), "--data", s(&f.data)]);
    assert!(e.contains("14x14"), "{e}");
}

#[test]
fn cli_sample_writes_the_prior_draws_it_decodes() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("s.png");
    let text = ok(&[
        "sample",
        s(&f.ckpt),
        "--out",
        s(&png),
        "--n",
        "9",
        "--seed",
        "3",
    ]);
    assert!(text.contains("9 samples"), "{text}");
    let img = image::open(&png).unwrap().to_luma8();
    assert_eq!(img.dimensions(), (3 * 28 + 4 * 2, 3 * 28 + 4 * 2));
    // The same draws through the library: the seed's prior noise, decoded to means.
    let loaded = checkpoint::load(&f.ckpt, &cpu()).unwrap();
    let z: Tensor<2> = Tensor::from_data(
        burn::tensor::TensorData::new(latent_explorer::explore::prior_noise(3, 9, 4), [9, 4]),
        &cpu(),
    );
    let want = host_vec(loaded.model.decode_mean(z));
    for i in 0..9 {
        assert_tile(
            &tile(&img, i, 3, 28, 2),
            &want[i * 784..(i + 1) * 784],
            &format!("sample {i}"),
        );
    }
    // The gaps are mid grey.
    assert_eq!(img.get_pixel(0, 0).0[0], 128);
    assert_eq!(img.get_pixel(30, 40).0[0], 128);
    // Another seed, other samples.
    let other = dir.path().join("o.png");
    ok(&[
        "sample",
        s(&f.ckpt),
        "--out",
        s(&other),
        "--n",
        "9",
        "--seed",
        "4",
    ]);
    assert_ne!(std::fs::read(&png).unwrap(), std::fs::read(&other).unwrap());
    let e = fails(&["sample", s(&f.ckpt), "--out", s(&png), "--n", "0"]);
    assert!(e.contains("'--n <N>': 0 is not in 1..=10000"), "{e}");
    // Under a file, where no directory can be made.
    let nowhere = f.ckpt.join("s.png");
    let e = fails(&["sample", s(&f.ckpt), "--out", s(&nowhere)]);
    assert!(e.contains("tiny.safetensors/s.png"), "{e}");
}

#[test]
fn cli_reconstruct_puts_test_digits_over_their_reconstructions() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("r.png");
    ok(&[
        "reconstruct",
        s(&f.ckpt),
        "--data",
        s(&f.data),
        "--out",
        s(&png),
        "--n",
        "5",
    ]);
    let img = image::open(&png).unwrap().to_luma8();
    assert_eq!(img.dimensions(), (5 * 28 + 6 * 2, 2 * 28 + 3 * 2));
    let data = fixture_data();
    let loaded = checkpoint::load(&f.ckpt, &cpu()).unwrap();
    let batch = latent_explorer::data::Batcher::new(cpu()).batch(&data.test, &[0, 1, 2, 3, 4]);
    let (mu, _) = loaded.model.encode(batch.images);
    let recon = host_vec(loaded.model.decode_mean(mu));
    for i in 0..5 {
        let digit = &data.test.image(i);
        assert_tile(&tile(&img, i, 5, 28, 2), digit, &format!("test digit {i}"));
        assert_tile(
            &tile(&img, 5 + i, 5, 28, 2),
            &recon[i * 784..(i + 1) * 784],
            &format!("reconstruction {i}"),
        );
    }
    let e = fails(&[
        "reconstruct",
        s(&f.wrong_size),
        "--data",
        s(&f.data),
        "--out",
        s(&png),
    ]);
    assert!(e.contains("14x14"), "{e}");
}

#[test]
fn cli_import_converts_a_pytorch_model_and_writes_nothing_for_a_bad_one() {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pytorch");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("imported.safetensors");
    let text = ok(&[
        "import",
        s(&fixtures.join("examples_vae.pt")),
        "--out",
        s(&out),
    ]);
    assert!(text.contains("imported.safetensors"), "{text}");
    let loaded = checkpoint::load(&out, &cpu()).unwrap();
    let direct = latent_explorer::model_file::open(
        &fixtures.join("examples_vae.pt"),
        &cpu(),
        &Default::default(),
    )
    .unwrap()
    .loaded;
    let z: Tensor<2> = Tensor::random(
        [4, loaded.meta.train.model.latent_dim],
        Distribution::Normal(0.0, 1.0),
        &cpu(),
    );
    assert_eq!(
        host_vec(loaded.model.decode(z.clone())),
        host_vec(direct.model.decode(z)),
        "the converted file decodes differently from the PyTorch file"
    );
    // The converted checkpoint is usable by the other commands.
    ok(&["eval", s(&out), "--iwae-k", "0", "--json"]);
    // Not a model: a message naming the file, and no output written.
    let text_file = dir.path().join("notes.pt");
    std::fs::write(&text_file, "just some text").unwrap();
    let bad_out = dir.path().join("bad.safetensors");
    let e = fails(&["import", s(&text_file), "--out", s(&bad_out)]);
    assert!(e.contains("notes.pt"), "{e}");
    assert!(!bad_out.exists(), "a file was written for a failed import");
}

#[test]
fn cli_bench_prints_its_figures_as_json_and_text() {
    let f = fixture();
    let json = ok(&[
        "bench",
        "--data",
        s(&f.data),
        "--epochs",
        "2",
        "--batch",
        "100",
        "--threads",
        "1",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let v = &v["data"];
    let epochs = v["epochs"].as_array().unwrap();
    assert_eq!(epochs.len(), 2, "{v}");
    for e in epochs {
        let (sps, ms) = (
            e["samples_per_sec"].as_f64().unwrap(),
            e["ms_per_step"].as_f64().unwrap(),
        );
        assert!(
            sps > 0.0 && ms > 0.0 && e["last_loss"].as_f64().unwrap().is_finite(),
            "{e}"
        );
        // samples/s and ms/step describe the same steps of 100 images.
        assert!(
            (sps * ms / 1000.0 - 100.0).abs() < 10.0,
            "{sps} samples/s at {ms} ms/step"
        );
    }
    let decode = v["decode"].as_array().unwrap();
    assert!(
        !decode.is_empty() && decode.iter().all(|d| d["ms"].as_f64().unwrap() > 0.0),
        "{v}"
    );
    // The convolutional model, named in the header.
    let text = ok(&[
        "bench",
        "--data",
        s(&f.data),
        "--epochs",
        "1",
        "--batch",
        "100",
        "--threads",
        "1",
        "--arch",
        "conv",
        "--simd",
        "baseline",
    ]);
    assert!(
        text.contains("samples/s") && text.contains("mean") && text.contains("ms/decode"),
        "{text}"
    );
    assert!(text.contains("conv[32-64, dense 256] VAE"), "{text}");
    // The kernels' level, capped by --simd, in the header.
    assert!(text.contains("baseline kernels"), "{text}");
    let e = fails(&[
        "bench",
        "--data",
        s(&f.data),
        "--epochs",
        "1",
        "--batch",
        "0",
    ]);
    assert!(e.contains("batch"), "{e}");
}

#[test]
fn cli_compare_prints_the_table_and_json_rows() {
    let f = fixture();
    let base = [
        "compare",
        "--data",
        s(&f.data),
        "--epochs",
        "1",
        "--latent",
        "3",
        "--iwae-k",
        "5",
        "--variants",
        "vae,wae-mmd",
    ];
    let mut args = base.to_vec();
    args.extend(["--json", "--no-probe"]);
    let v: serde_json::Value = serde_json::from_str(&ok(&args)).unwrap();
    let rows = v["data"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(
        rows[0]["variant"],
        serde_json::to_value(latent_explorer::variant::VariantKind::Vae).unwrap()
    );
    assert_eq!(
        rows[1]["variant"],
        serde_json::to_value(latent_explorer::variant::VariantKind::WaeMmd).unwrap()
    );
    let (elbo, iwae) = (
        rows[0]["neg_elbo"].as_f64().unwrap(),
        rows[0]["iwae_nll"].as_f64().unwrap(),
    );
    assert!(iwae < elbo + 2.0 && elbo > 0.0, "{}", rows[0]);
    assert!(
        rows[1]["neg_elbo"].is_null() && rows[1]["iwae_nll"].is_null(),
        "{}",
        rows[1]
    );
    assert!(
        rows.iter()
            .all(|r| r["samples"].is_null() && r["latent"] == 3)
    );
    // Text, with the sample probe: a markdown table with a row per variant.
    let text = ok(&base);
    assert!(text.contains("| variant |"), "{text}");
    assert!(
        text.contains("| VAE |") && text.contains("| WAE-MMD | n/a (no likelihood bound)"),
        "{text}"
    );
    let e = fails(&["compare", "--variants", "gan"]);
    assert!(e.contains("gan"), "{e}");
    let e = fails(&["compare", "--data", s(&f.ckpt), "--epochs", "1"]);
    assert!(e.contains("tiny.safetensors"), "{e}");
}

#[test]
fn window_sizes_parse_and_bad_ones_are_named() {
    use latent_explorer::cli::parse_window_size;
    assert_eq!(parse_window_size("1600x1000"), Ok([1600.0, 1000.0]));
    assert_eq!(parse_window_size("800X600"), Ok([800.0, 600.0]));
    for bad in [
        "1600",
        "x1000",
        "1600x",
        "0x100",
        "100x100",
        "99999x1000",
        "a x b",
    ] {
        let e = parse_window_size(bad).unwrap_err();
        assert!(e.contains(bad) && e.contains("WIDTHxHEIGHT"), "{bad}: {e}");
    }
}
