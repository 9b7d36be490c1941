//! Sweeps: a sweep file expanded and checked (bad keys, variants and values named with
//! their entry, before anything is written), planned whole or refused, run by the local
//! launcher (a stopped sweep resumes to the same weights as an uninterrupted run) and by a
//! real one-node Slurm cluster (`scripts/slurm-local`, Debian's packages), including a task
//! requeued mid-run; `sweep status` and `compare --from` read the results back.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use latent_explorer::compare::mean_sd;
use latent_explorer::sweep::plan::{Planned, write_plan};
use latent_explorer::sweep::{Plan, RunState, SpecError, SweepSpec, sweep_status};

const BIN: &str = env!("CARGO_BIN_EXE_latent-explorer");
const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/sweep-small.toml");

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(BIN);
    c.args(args).env_remove("RUST_LOG").stdin(Stdio::null());
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn ok(args: &[&str], env: &[(&str, &str)]) -> String {
    let out = run(args, env);
    assert!(
        out.status.success(),
        "{args:?}: {:?}\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn fails(args: &[&str], env: &[(&str, &str)]) -> String {
    let out = run(args, env);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "{args:?} succeeded");
    assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    stderr
}

/// The tensors of a safetensors file by name, as raw bytes.
fn tensors(path: &Path) -> Vec<(String, Vec<u8>)> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut v: Vec<(String, Vec<u8>)> = st
        .tensors()
        .into_iter()
        .map(|(n, t)| (n, t.data().to_vec()))
        .collect();
    v.sort();
    v
}

#[test]
fn a_sweep_file_expands_into_named_runs_and_bad_entries_are_named() {
    let spec = SweepSpec::from_toml(
        r#"
        [base]
        epochs = 1
        [axes]
        variant = ["vae", "beta-vae"]
        beta = [1, 4.0]
        seed = [0, 1]
        [[exclude]]
        variant = "vae"
        beta = 4
        [[include]]
        variant = "iwae"
        iwae_k = 10
        "#,
    )
    .unwrap();
    assert_eq!(spec.axis_keys(), ["variant", "beta", "seed"]);
    let runs = spec.expand().unwrap();
    let names: Vec<&str> = runs.iter().map(|r| r.name.as_str()).collect();
    // The grid (first axis slowest) less vae × β=4, then the include.
    assert_eq!(
        names,
        [
            "vae_beta1_seed0",
            "vae_beta1_seed1",
            "beta-vae_beta1_seed0",
            "beta-vae_beta1_seed1",
            "beta-vae_beta4_seed0",
            "beta-vae_beta4_seed1",
            "iwae_iwae_k10",
        ]
    );
    let b4 = &runs[4].config;
    assert_eq!((b4.run.beta, b4.run.seed, b4.run.epochs), (Some(4.0), 0, 1));
    assert_eq!(runs[6].config.run.iwae_k, 10);
    // Every run's configuration is resolved (β explicit).
    assert_eq!(runs[0].config.run.beta, Some(1.0));

    let refused = |text: &str| {
        SweepSpec::from_toml(text)
            .and_then(|s| s.expand())
            .unwrap_err()
    };
    for (text, says) in [
        (
            "[base]\nlrr = 1\n",
            "base: unknown key `lrr`, did you mean `lr`?",
        ),
        (
            "[axes]\nvariant = [\"vae\", \"beta_vaee\"]\n",
            "axes.variant[1]: variant =",
        ),
        (
            "[axes]\nseed = [0]\nbeta = [1, -2]\n",
            "run seed0_beta-2: beta = -2: must be finite and ≥ 0",
        ),
        ("[axes]\nseed = []\n", "axes.seed: an empty list"),
        ("[axes]\nseed = 3\n", "axes.seed: a list of values expected"),
        (
            "[axes]\nseed = [0]\n[[exclude]]\nbeta = 1\n",
            "exclude[0]: `beta` is not an axis",
        ),
        ("[axs]\nseed = [0]\n", "unknown section `axs`"),
        ("[axes]\nseed = [0, 0]\n", "two runs are named seed0"),
        (
            "[axes]\nseed = [0]\n[[include]]\nseed = 0\n",
            "two runs are named seed0",
        ),
        (
            "[axes]\nseed = [0]\n[[exclude]]\nseed = 0\n",
            "the sweep has no runs",
        ),
    ] {
        let e = refused(text).to_string();
        assert!(e.contains(says), "{text:?}: {e}");
    }
    assert!(matches!(refused("[base"), SpecError::Parse(_)));
    // Runs that differ only in a key their variant ignores train the same model: named.
    let runs = SweepSpec::from_toml(
        "[axes]\nvariant = [\"vae\", \"beta-vae\"]\nbeta = [1, 4]\niwae_k = [5, 10]\n",
    )
    .unwrap()
    .expand()
    .unwrap();
    let same = latent_explorer::sweep::spec::same_models(&runs);
    assert_eq!(
        same,
        vec![
            (
                vec![
                    "vae_beta1_iwae_k5".to_string(),
                    "vae_beta1_iwae_k10".into(),
                    "vae_beta4_iwae_k5".into(),
                    "vae_beta4_iwae_k10".into(),
                ],
                vec!["beta", "iwae_k"],
            ),
            (
                vec![
                    "beta-vae_beta1_iwae_k5".to_string(),
                    "beta-vae_beta1_iwae_k10".into()
                ],
                vec!["iwae_k"],
            ),
            (
                vec![
                    "beta-vae_beta4_iwae_k5".to_string(),
                    "beta-vae_beta4_iwae_k10".into()
                ],
                vec!["iwae_k"],
            ),
        ]
    );
}

#[test]
fn a_sweep_directory_is_planned_whole_or_not_at_all() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("small");
    // --dry-run checks and prints, and writes nothing.
    let said = ok(
        &["sweep", "plan", EXAMPLE, "--out", s(&out), "--dry-run"],
        &[],
    );
    assert!(
        said.contains("4 runs") && said.contains("beta-vae_seed1"),
        "{said}"
    );
    assert!(!out.exists());
    ok(&["sweep", "plan", EXAMPLE, "--out", s(&out)], &[]);
    let plan = Plan::read(&out).unwrap();
    assert_eq!(plan.runs.len(), 4);
    for r in &plan.runs {
        let cfg = plan.config(&r.name).unwrap();
        assert_eq!(cfg.run.epochs, 2, "{}", r.name);
    }
    // The same sweep again: nothing changes; another sweep: refused, naming the directory.
    let again = ok(&["sweep", "plan", EXAMPLE, "--out", s(&out)], &[]);
    assert!(again.contains("already holds this sweep"), "{again}");
    let other = dir.path().join("other.toml");
    std::fs::write(&other, "[axes]\nseed = [5]\n").unwrap();
    let e = fails(&["sweep", "plan", s(&other), "--out", s(&out)], &[]);
    assert!(e.contains("holds a different sweep"), "{e}");
    assert_eq!(Plan::read(&out).unwrap().runs.len(), 4);
    // A bad spec is refused before anything is written, naming the key and the entry.
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[axes]\nvariant = [\"vae\", \"vaee\"]\n").unwrap();
    let fresh = dir.path().join("fresh");
    let e = fails(&["sweep", "plan", s(&bad), "--out", s(&fresh)], &[]);
    assert!(e.contains("axes.variant[1]") && e.contains("vaee"), "{e}");
    assert!(!fresh.exists());
    // A directory holding something else is refused; a failed plan leaves nothing behind.
    let busy = dir.path().join("busy");
    std::fs::create_dir(&busy).unwrap();
    std::fs::write(busy.join("notes.txt"), "mine").unwrap();
    let e = fails(&["sweep", "plan", EXAMPLE, "--out", s(&busy)], &[]);
    assert!(e.contains("is not empty and holds no sweep"), "{e}");
    let spec = SweepSpec::from_toml(&std::fs::read_to_string(EXAMPLE).unwrap()).unwrap();
    let runs = spec.expand().unwrap();
    let blocked = dir.path().join("file-not-dir");
    std::fs::write(&blocked, "").unwrap();
    assert!(write_plan(&blocked.join("sweep"), "x", &runs).is_err());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".planning-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    assert_eq!(
        write_plan(&out, &std::fs::read_to_string(EXAMPLE).unwrap(), &runs).unwrap(),
        Planned::AlreadyThere
    );
}

/// Each figure of `compare --from --json`'s rows equals mean ± sd over the runs' own
/// newest metrics.
fn check_summary(dir: &Path, env: &[(&str, &str)]) {
    let plan = Plan::read(dir).unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&ok(&["compare", "--from", s(dir), "--json"], env)).unwrap();
    let groups = json["data"].as_array().unwrap();
    assert_eq!(groups.len(), 2, "{json}");
    let statuses = sweep_status(&plan);
    for g in groups {
        let runs: Vec<&str> = g["runs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap())
            .collect();
        assert_eq!((runs.len(), g["done"].as_u64()), (2, Some(2)), "{g}");
        let elbo: Vec<f64> = statuses
            .iter()
            .filter(|st| runs.contains(&st.entry.name.as_str()))
            .map(|st| st.metrics.as_ref().unwrap().neg_elbo)
            .collect();
        let (mean, sd) = mean_sd(&elbo);
        let fig = g["figures"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f[0] == "test −ELBO")
            .unwrap_or_else(|| panic!("{g}"));
        // JSON's decimal text: equal to the last bits or so.
        let close = |v: &serde_json::Value, want: f64| {
            v.as_f64()
                .is_some_and(|x| (x - want).abs() <= 1e-12 * want.abs().max(1.0))
        };
        assert!(
            close(&fig[1]["mean"], mean) && close(&fig[1]["sd"], sd),
            "{fig} vs {mean} ± {sd}"
        );
        assert_eq!(fig[1]["n"].as_u64(), Some(2));
    }
    let table = ok(&["compare", "--from", s(dir)], env);
    assert!(
        table.contains("| vae | 2 | 2 |") && table.contains("| beta-vae | 2 | 2 |"),
        "{table}"
    );
    let csv = ok(&["compare", "--from", s(dir), "--csv"], env);
    assert!(
        csv.starts_with("configuration,runs,done,test −ELBO mean,"),
        "{csv}"
    );
    assert_eq!(csv.lines().count(), 3, "{csv}");
}

/// A sweep of the example's runs with `epochs` epochs, planned into `dir`.
fn plan_example(dir: &Path, epochs: usize) {
    let text = std::fs::read_to_string(EXAMPLE)
        .unwrap()
        .replace("epochs = 2", &format!("epochs = {epochs}"));
    let spec = dir.with_extension("toml");
    std::fs::write(&spec, text).unwrap();
    ok(&["sweep", "plan", s(&spec), "--out", s(dir)], &[]);
}

/// `train --config` of `name`'s run.toml into a directory of its own: the uninterrupted
/// run, to compare with.
fn straight(plan: &Plan, name: &str, into: &Path) -> PathBuf {
    let cfg = plan.run_dir(name).join("run.toml");
    let dir = into.join(format!("straight-{name}"));
    ok(&["train", "--config", s(&cfg), "--run-dir", s(&dir)], &[]);
    dir
}

#[test]
fn the_local_launcher_runs_a_sweep_and_a_stopped_sweep_resumes_to_the_same_weights() {
    let dir = tempfile::tempdir().unwrap();
    let small = dir.path().join("small");
    plan_example(&small, 2);
    let said = String::from_utf8_lossy(
        &run(
            &[
                "sweep",
                "run",
                s(&small),
                "--launcher",
                "local",
                "--jobs",
                "2",
            ],
            &[],
        )
        .stderr,
    )
    .into_owned();
    let plan = Plan::read(&small).unwrap();
    for st in sweep_status(&plan) {
        assert_eq!(
            st.state,
            RunState::Done { epoch: 2 },
            "{}: {said}",
            st.entry.name
        );
        assert!(
            plan.run_dir(&st.entry.name)
                .join("epoch-0002.safetensors")
                .is_file()
        );
        // Each child's output is kept in its run directory.
        let log = std::fs::read_to_string(plan.run_dir(&st.entry.name).join("train.log"))
            .unwrap_or_default();
        assert!(log.contains("epoch  2/2"), "{}: {log}", st.entry.name);
    }
    check_summary(&small, &[]);
    // Again: every run is done, nothing trains.
    let again = run(&["sweep", "run", s(&small), "--launcher", "local"], &[]);
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(again.status.success(), "{stderr}");
    assert_eq!(stderr.matches(": done").count(), 4, "{stderr}");
    let status = ok(&["sweep", "status", s(&small)], &[]);
    assert!(status.contains("4 runs: 4 done"), "{status}");

    // Stopped once a run has finished an epoch, then run again: every run ends where an
    // uninterrupted run ends, bit for bit. The launcher is started as a script's background
    // job is (SIGINT ignored) and stopped with SIGTERM: its runs still hear the request.
    let long = dir.path().join("long");
    plan_example(&long, 8);
    let mut launcher = Command::new(BIN);
    launcher
        .args([
            "sweep",
            "run",
            s(&long),
            "--launcher",
            "local",
            "--jobs",
            "1",
        ])
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    // SAFETY: only `signal`, async-signal-safe, between fork and exec.
    unsafe {
        use std::os::unix::process::CommandExt;
        launcher.pre_exec(|| {
            libc::signal(libc::SIGINT, libc::SIG_IGN);
            Ok(())
        });
    }
    let mut child = launcher.spawn().unwrap();
    let first = Plan::read(&long)
        .unwrap()
        .run_dir("vae_seed0")
        .join("metrics.jsonl");
    let deadline = Instant::now() + Duration::from_secs(120);
    while !std::fs::read_to_string(&first).is_ok_and(|t| t.contains("\"type\":\"epoch\"")) {
        assert!(Instant::now() < deadline, "no epoch in two minutes");
        std::thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: kill with a valid pid of our own child and a valid signal number.
    assert_eq!(
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) },
        0
    );
    let mut stderr = String::new();
    for line in std::io::BufReader::new(child.stderr.take().unwrap()).lines() {
        stderr.push_str(&line.unwrap());
        stderr.push('\n');
    }
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("the sweep was stopped"), "{stderr}");
    let plan = Plan::read(&long).unwrap();
    let states = sweep_status(&plan);
    // The running run stopped mid-way, at a point it resumes from; the rest never started.
    assert!(
        matches!(states[0].state, RunState::Started { epoch, .. } if epoch < 8)
            && states[0].resumable,
        "{states:?}"
    );
    assert!(
        states[1..].iter().all(|st| st.state == RunState::Planned),
        "{states:?}"
    );
    ok(
        &[
            "sweep",
            "run",
            s(&long),
            "--launcher",
            "local",
            "--jobs",
            "2",
        ],
        &[],
    );
    for st in sweep_status(&plan) {
        assert_eq!(st.state, RunState::Done { epoch: 8 }, "{}", st.entry.name);
    }
    let reference = straight(&plan, "vae_seed0", dir.path());
    assert_eq!(
        tensors(&plan.run_dir("vae_seed0").join("epoch-0008.safetensors")),
        tensors(&reference.join("epoch-0008.safetensors"))
    );
}

/// Stops the one-node cluster when the test ends, however it ends.
struct Cluster;

impl Cluster {
    fn start() -> (Self, String) {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/slurm-local");
        let out = Command::new(script).arg("start").output().unwrap();
        assert!(
            out.status.success(),
            "scripts/slurm-local start: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let conf = String::from_utf8_lossy(&out.stdout)
            .lines()
            .find_map(|l| l.strip_prefix("export SLURM_CONF=").map(str::to_string))
            .expect("slurm-local prints SLURM_CONF");
        (Self, conf)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/slurm-local");
        let _ = Command::new(script).arg("stop").status();
    }
}

/// Wait (at most `secs`) until every run of `dir` is done.
fn wait_done(dir: &Path, env: &[(&str, &str)], secs: u64) {
    let plan = Plan::read(dir).unwrap();
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let states = sweep_status(&plan);
        if states
            .iter()
            .all(|st| matches!(st.state, RunState::Done { .. }))
        {
            return;
        }
        assert!(
            !states
                .iter()
                .any(|st| matches!(st.state, RunState::Failed { .. })),
            "{states:?}"
        );
        assert!(
            Instant::now() < deadline,
            "not done in {secs} s: {}",
            ok(&["sweep", "status", s(dir)], env)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn slurm(program: &str, args: &[&str], conf: &str) -> String {
    let out = Command::new(program)
        .args(args)
        .env("SLURM_CONF", conf)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_sweep_runs_on_a_real_slurm_and_a_requeued_task_resumes_to_the_same_weights() {
    let dir = tempfile::tempdir().unwrap();
    // Without Slurm's client, the launcher says so and records nothing.
    let small = dir.path().join("small");
    plan_example(&small, 2);
    let e = fails(
        &["sweep", "run", s(&small), "--launcher", "slurm"],
        &[("PATH", "/nonexistent")],
    );
    assert!(
        e.contains("`sbatch` was not found") && e.contains("--launcher local"),
        "{e}"
    );
    assert!(!small.join("slurm-job.json").exists());

    let (_cluster, conf) = Cluster::start();
    let env = [("SLURM_CONF", conf.as_str())];
    // An option sbatch rejects comes back with Slurm's own message; nothing is recorded.
    let e = fails(
        &[
            "sweep",
            "run",
            s(&small),
            "--launcher",
            "slurm",
            "--partition",
            "nosuchpartition",
        ],
        &env,
    );
    assert!(
        e.contains("sbatch") && e.to_lowercase().contains("partition"),
        "{e}"
    );
    assert!(!small.join("slurm-job.json").exists());

    let said = ok(&["sweep", "run", s(&small), "--launcher", "slurm"], &env);
    assert!(said.contains("submitted job"), "{said}");
    let script = std::fs::read_to_string(small.join("sweep.sbatch")).unwrap();
    assert!(script.contains("#SBATCH --array=0-3") && script.contains("#SBATCH --requeue"));
    wait_done(&small, &env, 300);
    check_summary(&small, &env);

    // A task requeued mid-run (SIGTERM, then queued again) goes on from its resume point
    // and ends with the weights of an uninterrupted run.
    let long = dir.path().join("long");
    std::fs::write(
        long.with_extension("toml"),
        "[base]\nepochs = 5\nhidden = [64]\nlatent = 8\nfinal_iwae_k = 0\n[axes]\nseed = [3]\n",
    )
    .unwrap();
    ok(
        &[
            "sweep",
            "plan",
            s(&long.with_extension("toml")),
            "--out",
            s(&long),
        ],
        &[],
    );
    ok(&["sweep", "run", s(&long), "--launcher", "slurm"], &env);
    let job: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(long.join("slurm-job.json")).unwrap())
            .unwrap();
    let task = format!("{}_0", job["job_id"].as_str().unwrap());
    let plan = Plan::read(&long).unwrap();
    let metrics = plan.run_dir("seed3").join("metrics.jsonl");
    let deadline = Instant::now() + Duration::from_secs(120);
    while !std::fs::read_to_string(&metrics).is_ok_and(|t| t.contains("\"type\":\"epoch\"")) {
        assert!(
            Instant::now() < deadline,
            "the task wrote no epoch in two minutes"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    slurm("scontrol", &["requeue", &task], &conf);
    // A requeued job waits about two minutes before it may start again: start it now.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let state = slurm(
            "squeue",
            &["--noheader", "--jobs", &task, "--format=%T %r"],
            &conf,
        );
        if state.contains("PENDING") {
            slurm(
                "scontrol",
                &["update", &format!("JobId={task}"), "StartTime=now"],
                &conf,
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the task was not requeued: {state}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    wait_done(&long, &env, 300);
    let shown = slurm("scontrol", &["show", "job", &task], &conf);
    assert!(shown.contains("Restarts=1"), "{shown}");
    let out = std::fs::read_to_string(long.join("slurm").join(format!("{task}.out"))).unwrap();
    assert!(
        out.contains("interrupted at step") && out.contains("from epoch"),
        "{out}"
    );
    let reference = straight(&plan, "seed3", dir.path());
    assert_eq!(
        tensors(&plan.run_dir("seed3").join("epoch-0005.safetensors")),
        tensors(&reference.join("epoch-0005.safetensors"))
    );
}
