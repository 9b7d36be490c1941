//! One engine, reproducible runs: the training loop's random streams are the run's own (a
//! run trained beside another ends bit for bit where it ends alone), a checkpoint with its
//! training state resumes exactly (2 epochs, then 2 more = 4 straight, for a split-batch
//! and an adversarial variant), a run's configuration file trains the same run again, and
//! configuration files with unknown keys or bad values are refused with the key named.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::Tensor;
use latent_explorer::checkpoint::{self, CheckpointSink, DatasetInfo};
use latent_explorer::cpu::AdamRule;
use latent_explorer::data::Dataset;
use latent_explorer::train::optim::{PhaseOptim, TensorAdam, param_paths};
use latent_explorer::train::{
    ConfigError, LossHistory, OptimConfig, Policy, RunConfig, Snapshot, TrainConfig, TrainLoop,
    Trainer,
};
use latent_explorer::variant::VariantKind;

use crate::common::{cpu, small, vec_of};
use crate::explore_tools::{fixture, s};

const BIN: &str = env!("CARGO_BIN_EXE_latent-explorer");

/// Every float parameter of the model and the extra modules, by path, as raw bits.
fn weights(snap: &Snapshot) -> Vec<(String, Vec<u32>)> {
    fn of<M: Module>(prefix: &str, m: &M) -> Vec<(String, Vec<u32>)> {
        struct Values(Vec<Vec<u32>>);
        impl ModuleVisitor for Values {
            fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
                self.0
                    .push(vec_of(p.val()).iter().map(|v| v.to_bits()).collect());
            }
        }
        let mut v = Values(Vec::new());
        m.visit(&mut v);
        param_paths(m)
            .into_iter()
            .zip(v.0)
            .map(|((_, path, _), bits)| (format!("{prefix}{path}"), bits))
            .collect()
    }
    let mut all = of("model.", &snap.model);
    all.extend(of("aux.", &snap.aux));
    all
}

/// The first parameter whose bits differ, if any.
fn first_difference(a: &Snapshot, b: &Snapshot) -> Option<String> {
    let (wa, wb) = (weights(a), weights(b));
    assert_eq!(wa.len(), wb.len());
    wa.iter().zip(&wb).find_map(|((pa, va), (pb, vb))| {
        assert_eq!(pa, pb);
        (va != vb).then(|| {
            let n = va.iter().zip(vb).filter(|(x, y)| x != y).count();
            format!("{pa}: {n} of {} values differ", va.len())
        })
    })
}

fn config(variant: VariantKind, epochs: usize, seed: u64) -> TrainConfig {
    let mut cfg = TrainConfig {
        variant,
        epochs,
        seed,
        batch_size: 64,
        beta: variant.default_beta(),
        ..TrainConfig::default()
    };
    cfg.model.arch = latent_explorer::model::ArchConfig::Mlp { hidden: vec![64] };
    cfg.model.latent_dim = 8;
    if variant == VariantKind::Aae {
        cfg.variant_params.aae_disc_hidden = vec![32];
    }
    cfg
}

fn quiet() -> Policy {
    Policy {
        evaluate_epochs: false,
        ..Policy::default()
    }
}

/// Train `cfg` on `data` to the end: its last weights.
fn train(cfg: &TrainConfig, data: &Arc<Dataset>) -> Snapshot {
    let trainer = Trainer::new(cfg.clone(), data.clone(), &cpu()).unwrap();
    let mut run = TrainLoop::new(trainer, quiet());
    run.run().unwrap();
    (*run.full_snapshot()).clone()
}

#[test]
fn a_run_trained_beside_another_ends_with_the_same_weights_as_alone() {
    let data = small(1024, 64);
    // A batch-level objective: its steps are never split, so every draw comes from the
    // step's stream (before, from the process-wide generator both runs drew from).
    let a = config(VariantKind::WaeMmd, 2, 7);
    let alone = train(&a, &data);
    // As the app trains: two workers stepping at once in one process (low priority, the
    // lanes shared), each through the loop.
    let b = config(VariantKind::Iwae, 2, 8);
    let worker = |cfg: &TrainConfig| {
        let t = Trainer::new(cfg.clone(), data.clone(), &cpu()).unwrap();
        let opts = latent_explorer::train::WorkerOptions {
            low_priority: true,
            ..Default::default()
        };
        let h = latent_explorer::train::spawn_trainer(t, opts).unwrap();
        assert!(h.send(latent_explorer::train::Command::Start));
        h
    };
    let (ha, hb) = (worker(&a), worker(&b));
    let finished = |h: &latent_explorer::train::WorkerHandle| loop {
        match h.recv_timeout(std::time::Duration::from_secs(120)) {
            Some(latent_explorer::train::Event::State(
                latent_explorer::train::WorkerState::Finished,
            )) => break (*h.snapshot().unwrap()).clone(),
            Some(latent_explorer::train::Event::Error(e)) => panic!("{e}"),
            Some(_) => {}
            None => panic!("no event for two minutes"),
        }
    };
    let (beside, other) = (finished(&ha), finished(&hb));
    assert_eq!(first_difference(&alone, &beside), None);
    // And beside a neighbour that reseeds burn's process-wide generator and draws from it
    // all along: nothing of the run comes from that generator.
    let stop = std::sync::atomic::AtomicBool::new(false);
    let noisy = std::thread::scope(|scope| {
        scope.spawn(|| {
            let mut i = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                cpu().seed(i);
                let _ = vec_of(Tensor::<2>::random(
                    [64, 64],
                    burn::tensor::Distribution::Normal(0.0, 1.0),
                    &cpu(),
                ));
                i += 1;
            }
        });
        let run = train(&a, &data);
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        run
    });
    assert_eq!(first_difference(&alone, &noisy), None);
    // A different seed is a different run, and the streams are not one shared generator.
    let mut a9 = a.clone();
    a9.seed = 9;
    assert!(first_difference(&alone, &train(&a9, &data)).is_some());
    assert_eq!(other.step, alone.step);
}

/// 2 epochs saved to a checkpoint, loaded and resumed to 4, against 4 straight.
fn resume_matches_straight(variant: VariantKind) {
    let data = small(512, 64);
    let straight = train(&config(variant, 4, 3), &data);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("half.safetensors");
    let trainer = Trainer::new(config(variant, 2, 3), data.clone(), &cpu()).unwrap();
    let mut first = TrainLoop::new(trainer, quiet())
        .with_sink(CheckpointSink::new(&path, DatasetInfo::of(&data)));
    first.run().unwrap();
    let loaded = checkpoint::load(&path, &cpu()).unwrap();
    let state = loaded
        .state
        .clone()
        .expect("the checkpoint carries its training state");
    assert_eq!((loaded.meta.epoch, state.cursor), (2, 0));
    assert!(state.optim.iter().all(|a| !a.params.is_empty()));
    assert!(
        !loaded.meta.history.steps.is_empty(),
        "no loss history in the checkpoint"
    );
    let snap = loaded.snapshot();
    let trainer = Trainer::new(config(variant, 4, 3), data.clone(), &cpu())
        .unwrap()
        .resume(
            snap.model,
            snap.aux,
            loaded.meta.step,
            loaded.meta.epoch,
            &state,
        )
        .unwrap();
    let mut rest = TrainLoop::new(trainer, quiet()).with_history(loaded.meta.history.clone());
    rest.run().unwrap();
    let resumed = rest.full_snapshot();
    assert_eq!(
        (resumed.epoch, resumed.step),
        (straight.epoch, straight.step)
    );
    assert_eq!(first_difference(&straight, &resumed), None, "{variant}");
    // Without the optimiser state the same weights go elsewhere: the state matters.
    let snap = loaded.snapshot();
    let fresh = Trainer::new(config(variant, 4, 3), data.clone(), &cpu())
        .unwrap()
        .with_weights(snap.model, snap.aux, loaded.meta.step, loaded.meta.epoch);
    let mut fresh = TrainLoop::new(fresh, quiet());
    fresh.run().unwrap();
    assert!(first_difference(&straight, &fresh.full_snapshot()).is_some());
}

#[test]
fn a_split_batch_run_resumed_from_its_checkpoint_matches_the_uninterrupted_run() {
    // The VAE's batches are split over the lanes (a per-image objective).
    resume_matches_straight(VariantKind::Vae);
}

#[test]
fn an_adversarial_run_resumed_from_its_checkpoint_matches_the_uninterrupted_run() {
    // Two phases, two optimisers (the discriminator's with β₁ = 0.5).
    resume_matches_straight(VariantKind::Aae);
}

#[test]
fn a_resume_from_the_middle_of_an_epoch_matches_too() {
    let data = small(512, 64);
    let cfg = config(VariantKind::Iwae, 2, 11);
    let straight = train(&cfg, &data);
    let mut t = Trainer::new(cfg.clone(), data.clone(), &cpu()).unwrap();
    for _ in 0..5 {
        t.step().unwrap();
    }
    let (snap, state) = (t.snapshot(), t.train_state());
    assert_eq!(state.cursor, 5 * 64);
    let t = Trainer::new(cfg, data.clone(), &cpu())
        .unwrap()
        .resume(snap.model, snap.aux, snap.step, snap.epoch, &state)
        .unwrap();
    let mut rest = TrainLoop::new(t, quiet());
    rest.run().unwrap();
    assert_eq!(first_difference(&straight, &rest.full_snapshot()), None);
}

#[test]
fn a_state_that_does_not_fit_the_run_is_refused_with_the_reason() {
    let data = small(256, 32);
    let mut vae = Trainer::new(config(VariantKind::Vae, 1, 1), data.clone(), &cpu()).unwrap();
    vae.step().unwrap();
    let state = vae.train_state();
    let aae = Trainer::new(config(VariantKind::Aae, 1, 1), data.clone(), &cpu()).unwrap();
    let snap = aae.snapshot();
    let e = aae
        .resume(snap.model, snap.aux, 0, 0, &state)
        .err()
        .expect("a VAE's state does not fit an AAE")
        .to_string();
    assert!(
        e.contains("cannot resume exactly") && e.contains("phases"),
        "{e}"
    );
    let mut wider = config(VariantKind::Vae, 1, 1);
    wider.model.latent_dim = 9;
    let t = Trainer::new(wider, data, &cpu()).unwrap();
    let snap = t.snapshot();
    let e = t
        .resume(snap.model, snap.aux, 0, 0, &state)
        .err()
        .expect("a state of other sizes does not fit")
        .to_string();
    assert!(e.contains("values, the parameter has"), "{e}");
}

#[test]
fn tensor_adam_agrees_with_flat_adam() {
    let data = small(256, 32);
    let cfg = TrainConfig {
        optim: OptimConfig {
            weight_decay: 0.01,
            ..OptimConfig::default()
        },
        ..config(VariantKind::Vae, 1, 5)
    };
    let t = Trainer::new(cfg.clone(), data.clone(), &cpu()).unwrap();
    let model = t.model().clone();
    let mut flat = PhaseOptim::new(&cfg.optim, None, true);
    let mut tensor = PhaseOptim::Tensor(TensorAdam::new(AdamRule {
        beta1: 0.9,
        beta2: 0.999,
        epsilon: 1e-8,
        weight_decay: 0.01,
    }));
    let (mut a, mut b) = (model.clone(), model);
    let batcher = latent_explorer::data::Batcher::new(cpu().autodiff());
    for step in 0..3 {
        let idx: Vec<usize> = (step * 32..step * 32 + 32).collect();
        let x = batcher.batch(&data.train, &idx).images;
        let grads = |m: &latent_explorer::model::Vae| {
            let loss = m.reconstruct(x.clone(), None).sum();
            burn::optim::GradientsParams::from_grads(loss.backward(), m)
        };
        let (ga, gb) = (grads(&a), grads(&b));
        a = flat.step(1e-3, a, ga);
        b = tensor.step(1e-3, b, gb);
    }
    let (va, vb) = (
        crate::common::param_values(&a),
        crate::common::param_values(&b),
    );
    let worst = crate::common::max_abs_diff(&va, &vb);
    assert!(worst < 1e-6, "largest difference {worst}");
    // Their states agree too, named by the same paths.
    let (sa, sb) = (flat.export(&a), tensor.export(&b));
    assert_eq!(sa.params.len(), sb.params.len());
    for (pa, pb) in sa.params.iter().zip(&sb.params) {
        assert_eq!((&pa.path, pa.time), (&pb.path, pb.time));
        assert!(crate::common::max_abs_diff(&pa.v, &pb.v) < 1e-9);
    }
}

#[test]
fn a_loss_history_thins_to_its_bound_and_keeps_the_last_point() {
    let mut h = LossHistory::default();
    for step in 0..10_000u64 {
        h.steps.push([step as f64, 1.0, f64::NAN, 0.5]);
    }
    let t = h.thinned();
    assert!(t.steps.len() <= latent_explorer::train::history::SAVED_STEP_POINTS);
    assert!(t.steps.len() > latent_explorer::train::history::SAVED_STEP_POINTS / 2);
    assert_eq!(t.steps.last().unwrap()[0], 9_999.0);
    // NaN (no such term) survives JSON, which has no NaN.
    let back: LossHistory = serde_json::from_str(&serde_json::to_string(&t).unwrap()).unwrap();
    assert!(back.steps[0][2].is_nan() && back.steps[0][3] == 0.5);
}

#[test]
fn configuration_files_refuse_unknown_keys_and_bad_values_naming_the_key() {
    let refused = |text: &str| RunConfig::from_toml(text).unwrap_err();
    match refused("lrr = 0.01\n") {
        ConfigError::UnknownKey { key, hint } => {
            assert_eq!(key, "lrr");
            assert!(hint.contains("`lr`"), "{hint}");
        }
        e => panic!("{e}"),
    }
    for (text, key) in [
        ("lr = -1.0", "lr"),
        ("epochs = 0", "epochs"),
        ("epochs = \"ten\"", "epochs"),
        ("variant = \"beta_vaee\"", "variant"),
        ("adam_beta2 = 1.0", "adam_beta2"),
        ("hidden = [400, 0]", "hidden"),
        (
            "variant = \"vq-vae\"\nlatent = 10\nvq_code_dim = 4",
            "vq_code_dim",
        ),
        ("final_iwae_k = 100000", "final_iwae_k"),
        ("data = \"shapes:big\"", "data"),
    ] {
        let e = refused(text).to_string();
        assert!(e.starts_with(key), "{text}: {e}");
    }
    assert!(matches!(refused("lr = "), ConfigError::Parse(_)));
    // What is written reads back the same, every key explicit.
    let cfg = RunConfig::default().resolved();
    let text = cfg.to_toml();
    assert_eq!(RunConfig::from_toml(&text).unwrap(), cfg);
    for key in [
        "data",
        "variant",
        "beta",
        "lr",
        "seed",
        "epochs",
        "batch",
        "kl_schedule",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(&format!("{key} ="))),
            "{key}: {text}"
        );
    }
}

fn run_ok(args: &[&str]) -> String {
    let out = Command::new(BIN)
        .args(args)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

/// `train` of a small MLP (784-32-4) for `epochs` epochs without a final evaluation, a
/// JSON line per epoch, writing `out` (`to`: `--out` or `--run-dir`); on `data`, else the
/// bundled digits.
fn small_train(data: Option<&str>, epochs: &str, to: &str, out: &Path) -> Vec<String> {
    let mut args = vec![
        "train", "--epochs", epochs, "--hidden", "32", "--latent", "4",
    ];
    if let Some(d) = data {
        args.extend(["--data", d]);
    }
    args.extend(["--final-iwae-k", "0", "--json", to, s(out)]);
    args.into_iter().map(String::from).collect()
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// Start `args` and return the child once its `n`-th epoch line is out (its stdout read,
/// its stderr piped).
fn spawn_after_epochs(args: &[String], n: usize) -> std::process::Child {
    use std::io::BufRead;
    let mut child = Command::new(BIN)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut epochs = 0;
    for line in lines {
        if line.unwrap().contains("\"event\":\"epoch\"") {
            epochs += 1;
            if epochs == n {
                break;
            }
        }
    }
    child
}

fn same_tensors(a: &Path, b: &Path) -> Result<(), String> {
    let (ba, bb) = (std::fs::read(a).unwrap(), std::fs::read(b).unwrap());
    let (ta, tb) = (
        safetensors::SafeTensors::deserialize(&ba).unwrap(),
        safetensors::SafeTensors::deserialize(&bb).unwrap(),
    );
    let mut names = ta.names();
    names.sort();
    let mut other = tb.names();
    other.sort();
    if names != other {
        return Err(format!("tensors {names:?} against {other:?}"));
    }
    for n in names {
        if ta.tensor(n).unwrap().data() != tb.tensor(n).unwrap().data() {
            return Err(format!("{n} differs"));
        }
    }
    Ok(())
}

#[test]
fn train_config_of_a_run_directory_trains_the_same_run_again() {
    let dir = tempfile::tempdir().unwrap();
    let (first, again) = (dir.path().join("first"), dir.path().join("again"));
    let data = s(&fixture().data);
    run_ok(&[
        "train",
        "--data",
        data,
        "--epochs",
        "2",
        "--hidden",
        "32",
        "--latent",
        "4",
        "--variant",
        "beta-vae",
        "--seed",
        "5",
        "--final-iwae-k",
        "0",
        "--run-dir",
        s(&first),
    ]);
    let toml = first.join("run.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    assert!(
        text.contains("variant = \"beta-vae\"") && text.contains("beta = 4.0"),
        "{text}"
    );
    // `--print-config` prints the same configuration without training.
    let printed = run_ok(&["train", "--config", s(&toml), "--print-config"]);
    assert_eq!(
        RunConfig::from_toml(&printed).unwrap(),
        RunConfig::from_toml(&text).unwrap()
    );
    run_ok(&["train", "--config", s(&toml), "--run-dir", s(&again)]);
    for name in ["epoch-0002.safetensors", "resume.safetensors"] {
        same_tensors(&first.join(name), &again.join(name))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    // The checkpoints carry the same configuration text.
    let meta = checkpoint::load(&again.join("epoch-0002.safetensors"), &cpu())
        .unwrap()
        .meta;
    assert_eq!(meta.run_config.as_deref(), Some(text.as_str()));
    // `eval` of those weights gives the figures training reported: one evaluation stream.
    let said = run_ok(&[
        "eval",
        s(&again.join("epoch-0002.safetensors")),
        "--data",
        data,
        "--json",
    ]);
    let json = &said[..said.rfind('}').unwrap() + 1];
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    let v = &v["data"];
    let trained = meta.metrics.expect("the epoch's metrics");
    assert_eq!(v["neg_elbo"].as_f64(), Some(trained.neg_elbo));
    assert_eq!(v["kl"].as_f64(), Some(trained.kl));
    // A flag beside the file overrides its key, and says so.
    let said = run_ok(&[
        "train",
        "--config",
        s(&toml),
        "--seed",
        "6",
        "--print-config",
    ]);
    assert!(
        said.contains("seed = 6") && said.contains("override its keys: seed"),
        "{said}"
    );
    // A file with an unknown key is refused before any work, naming it.
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, text.replace("seed = 5", "sed = 5")).unwrap();
    let out = Command::new(BIN)
        .args([
            "train",
            "--config",
            s(&bad),
            "--run-dir",
            s(&dir.path().join("never")),
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("unknown key `sed`") && stderr.contains("`seed`"),
        "{stderr}"
    );
    assert!(!dir.path().join("never").exists());
}

#[test]
fn a_run_directory_killed_mid_run_resumes_to_the_same_weights() {
    let dir = tempfile::tempdir().unwrap();
    let (straight, killed) = (dir.path().join("straight"), dir.path().join("killed"));
    let data = Some(s(&fixture().data));
    run_ok(&strs(&small_train(data, "4", "--run-dir", &straight)));
    // SIGKILL once the second epoch's line is out: no chance to save anything more.
    let mut child = spawn_after_epochs(&small_train(data, "4", "--run-dir", &killed), 2);
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        !killed.join("epoch-0004.safetensors").exists(),
        "finished before the kill"
    );
    let said = run_ok(&["train", "--resume", s(&killed), "--json"]);
    assert!(!said.contains("warning"), "{said}");
    same_tensors(
        &straight.join("epoch-0004.safetensors"),
        &killed.join("epoch-0004.safetensors"),
    )
    .unwrap();
    // The metrics file says where it went on.
    let metrics = std::fs::read_to_string(killed.join("metrics.jsonl")).unwrap();
    assert!(metrics.contains("\"type\":\"resumed\""), "{metrics}");
    // Nothing left to do: it says so instead of training.
    let out = Command::new(BIN)
        .args(["train", "--resume", s(&killed)])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("give --epochs N"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A checkpoint of `epochs` epochs of the app tests' run (their data, batch 64), with its
/// training state when `with_state`.
fn app_checkpoint(dir: &Path, epochs: usize, with_state: bool) -> std::path::PathBuf {
    let data = small(2000, 300);
    let cfg = latent_explorer::train::RunSpec {
        batch: 64,
        epochs,
        ..latent_explorer::train::RunSpec::default()
    }
    .train_config(&data);
    let trainer = Trainer::new(cfg, data.clone(), &cpu()).unwrap();
    let mut run = TrainLoop::new(trainer, quiet());
    run.run().unwrap();
    let mut snap = (*run.full_snapshot()).clone();
    if !with_state {
        snap.state = None;
    }
    let path = dir.join(if with_state {
        "state.safetensors"
    } else {
        "weights.safetensors"
    });
    checkpoint::save_snapshot(&path, &snap, DatasetInfo::of(&data), None).unwrap();
    path
}

#[test]
fn the_apps_continue_resumes_exactly_when_the_file_has_the_training_state() {
    use crate::app::{harness, nth_run, options, run_id, run_until};
    use latent_explorer::train::WorkerState;
    use latent_explorer::ui::{RunAction, UiCommand};
    let dir = tempfile::tempdir().unwrap();
    // What the app's Continue must reach: 1 + 2 epochs, straight.
    let data = small(2000, 300);
    let straight_cfg = latent_explorer::train::RunSpec {
        batch: 64,
        epochs: 3,
        ..latent_explorer::train::RunSpec::default()
    }
    .train_config(&data);
    let straight = train(&straight_cfg, &data);
    for with_state in [true, false] {
        let path = app_checkpoint(dir.path(), 1, with_state);
        let mut opts = options(2000, 64, 2);
        opts.open = vec![path];
        let mut h = harness(opts);
        run_until(&mut h, 30, "the loaded run", |a| a.runs.len() == 1);
        // The file's loss curves are drawn.
        assert!(!nth_run(h.state(), 0).history.steps.is_empty());
        let id = run_id(h.state(), 0);
        let step = nth_run(h.state(), 0).status.step;
        h.state_mut()
            .push_command(UiCommand::Run(id, RunAction::Continue));
        run_until(&mut h, 180, "the continued run to finish", |a| {
            let r = nth_run(a, 0);
            matches!(r.source, latent_explorer::ui::run::RunSource::Training(_))
                && r.status.step > step
                && r.status.state == WorkerState::Finished
        });
        let run = nth_run(h.state(), 0);
        assert!(run.status.errors.is_empty(), "{:?}", run.status.errors);
        let said: Vec<&String> = run.status.notes.iter().collect();
        let resumed = run.latest().unwrap();
        assert_eq!(resumed.epoch, 3);
        if with_state {
            assert!(
                said.iter().any(|n| n.contains("exactly where it stopped")),
                "{said:?}"
            );
            assert_eq!(first_difference(&straight, &resumed), None);
        } else {
            assert!(
                said.iter().any(|n| n.contains("fresh optimiser")),
                "{said:?}"
            );
            assert!(first_difference(&straight, &resumed).is_some());
        }
    }
}

#[test]
fn a_checkpoint_saved_by_ctrl_c_mid_epoch_resumes_to_the_same_weights() {
    let dir = tempfile::tempdir().unwrap();
    let (straight, stopped) = (
        dir.path().join("straight.safetensors"),
        dir.path().join("stopped.safetensors"),
    );
    // The bundled digits: 125 steps an epoch, so the signal lands inside one.
    run_ok(&strs(&small_train(None, "3", "--out", &straight)));
    let child = spawn_after_epochs(&small_train(None, "3", "--out", &stopped), 1);
    // SAFETY: kill with a valid pid of our own child and a valid signal number.
    assert_eq!(
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) },
        0
    );
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("go on with `latent-explorer train --resume"),
        "{stderr}"
    );
    let saved = checkpoint::load(&stopped, &cpu()).unwrap();
    let state = saved.state.expect("Ctrl-C saves the training state");
    assert!(saved.meta.epoch < 3, "finished before the interrupt");
    // Wherever in the epoch it stopped, it goes on from there to the same end.
    eprintln!(
        "interrupted {} images into epoch {}",
        state.cursor,
        saved.meta.epoch + 1
    );
    run_ok(&["train", "--resume", s(&stopped), "--json"]);
    same_tensors(&straight, &stopped).unwrap();
}

#[test]
fn the_apps_next_run_saves_to_and_loads_from_a_run_configuration_file() {
    use crate::app::{harness, options, run_until};
    use latent_explorer::ui::UiCommand;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("next.toml");
    let mut opts = options(256, 64, 1);
    opts.autostart = false;
    let mut h = harness(opts);
    {
        let d = &mut h.state_mut().persisted.draft;
        d.spec.variant = VariantKind::BetaTcvae;
        d.spec.seed = 7;
        d.spec.lr = 2e-3;
        d.spec.kl_schedule = latent_explorer::train::ScheduleKind::Cyclical;
        d.data_dir = "shapes:16".into();
    }
    let saved = h.state().persisted.draft.clone();
    h.state_mut()
        .push_command(UiCommand::SaveDraft(Some(path.clone())));
    run_until(&mut h, 30, "the settings file", |_| path.is_file());
    // The file is a run configuration: what `train --config` reads, with the draft's values.
    let text = std::fs::read_to_string(&path).unwrap();
    let cfg = RunConfig::from_toml(&text).unwrap();
    assert_eq!(cfg.data, "shapes:16");
    assert_eq!(cfg.run, saved.spec);
    let printed = run_ok(&["train", "--config", s(&path), "--print-config"]);
    assert!(
        printed.contains("variant = \"beta-tcvae\"") && printed.contains("seed = 7"),
        "{printed}"
    );
    // Changed here, then loaded back.
    {
        let d = &mut h.state_mut().persisted.draft;
        d.spec = latent_explorer::train::RunSpec::default();
        d.data_dir.clear();
    }
    h.state_mut()
        .push_command(UiCommand::LoadDraft(Some(path.clone())));
    run_until(&mut h, 30, "the settings loaded", |a| {
        a.persisted.draft.spec.seed == 7
    });
    assert_eq!(h.state().persisted.draft.spec, saved.spec);
    assert_eq!(h.state().persisted.draft.data_dir, "shapes:16");
    // A file with an unknown key is refused, naming it, and the draft stays as it was.
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "seed = 3\nlrr = 0.1\n").unwrap();
    h.state_mut().push_command(UiCommand::LoadDraft(Some(bad)));
    run_until(&mut h, 30, "the refusal", |a| {
        a.errors.iter().any(|e| e.contains("unknown key `lrr`"))
    });
    assert_eq!(h.state().persisted.draft.spec, saved.spec);
}
