//! Fault injection: writes that fail (a full disk, a read-only directory), processes killed
//! in the middle of a save (SIGKILL, 50 times), Ctrl-C during training's saves (10 times, and
//! twice in a row), and a worker that panics. Each checks that the file that was there is
//! intact, that the message says what happened, and that no temporary file is left behind
//! once the next save to the same path has run.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use latent_explorer::atomic::{atomic_write, atomic_write_bytes};
use latent_explorer::checkpoint;

use crate::common::cpu;
use crate::explore_tools::{fixture, s};

const BIN: &str = env!("CARGO_BIN_EXE_latent-explorer");

/// Temporary files of our naming in `dir`.
fn temps(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.') && n.contains(".tmp-"))
        .collect()
}

/// `train` on the fixture's data into `out`, with `extra` arguments.
fn train_cmd(out: &Path, epochs: &str) -> Command {
    let f = fixture();
    let mut c = Command::new(BIN);
    c.args(["train", "--data", s(&f.data), "--epochs", epochs])
        .args([
            "--hidden",
            "32",
            "--latent",
            "4",
            "--final-iwae-k",
            "0",
            "--json",
        ])
        .arg("--out")
        .arg(out)
        .env_remove("RUST_LOG");
    c
}

/// A directory whose contents cannot change while the guard lives: `chattr +i` as root
/// (root ignores permission bits), mode 0555 otherwise.
struct ReadOnly(PathBuf);

impl ReadOnly {
    fn new(dir: &Path) -> Self {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            let st = Command::new("chattr").arg("+i").arg(dir).status();
            assert!(
                st.is_ok_and(|s| s.success()),
                "chattr +i {} failed (e2fsprogs, a filesystem with attributes)",
                dir.display()
            );
        } else {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o555)).unwrap();
        }
        Self(dir.to_path_buf())
    }
}

impl Drop for ReadOnly {
    fn drop(&mut self) {
        // SAFETY: as above.
        if unsafe { libc::geteuid() } == 0 {
            let _ = Command::new("chattr").arg("-i").arg(&self.0).status();
        } else {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&self.0, std::fs::Permissions::from_mode(0o755));
        }
    }
}

#[test]
fn a_full_disk_or_a_read_only_directory_leaves_the_previous_checkpoint_intact() {
    let f = fixture();
    let old = std::fs::read(&f.ckpt).unwrap();
    for case in ["full disk", "read-only directory"] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.safetensors");
        std::fs::write(&path, &old).unwrap();
        let mut cmd = train_cmd(&path, "1");
        let guard = if case == "full disk" {
            // A file-size limit far below a checkpoint's size: every write past 16 KiB fails
            // with EFBIG, as on a full disk (SIGXFSZ ignored, so the write returns the error).
            // SAFETY: only async-signal-safe calls (setrlimit, signal) between fork and exec.
            unsafe {
                cmd.pre_exec(|| {
                    let lim = libc::rlimit {
                        rlim_cur: 16 << 10,
                        rlim_max: 16 << 10,
                    };
                    if libc::setrlimit(libc::RLIMIT_FSIZE, &lim) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
                    Ok(())
                });
            }
            None
        } else {
            Some(ReadOnly::new(dir.path()))
        };
        let out = cmd.output().unwrap();
        drop(guard);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{case}: {stderr}");
        assert!(!stderr.contains("panicked"), "{case}: {stderr}");
        let why = if case == "full disk" {
            "File too large"
        } else {
            "ermission denied"
        };
        let why_alt = "Operation not permitted";
        assert!(
            stderr.contains("saving the checkpoint")
                && stderr.contains("model.safetensors")
                && (stderr.contains(why) || stderr.contains(why_alt)),
            "{case}: {stderr}"
        );
        assert_eq!(
            std::fs::read(&path).unwrap(),
            old,
            "{case}: the old file changed"
        );
        assert!(
            temps(dir.path()).is_empty(),
            "{case}: {:?}",
            temps(dir.path())
        );
        checkpoint::load(&path, &cpu()).unwrap();
    }
}

/// Environment variable that turns [`save_loop_child`] into an endless save loop.
const LOOP_ENV: &str = "LATENT_EXPLORER_SAVE_LOOP";

/// Saves two checkpoints' bytes to one path in turn, atomically, announcing each save on
/// stdout before it starts. Under [`LOOP_ENV`] (a directory holding `a`, `b` and the
/// target), it loops until killed; as a normal test it saves three times and checks the
/// file holds the last.
#[test]
fn save_loop_child() {
    let (dir, looping) = match std::env::var_os(LOOP_ENV) {
        Some(d) => (PathBuf::from(d), true),
        None => {
            let d = tempfile::tempdir().unwrap().keep();
            write_pair(&d);
            (d, false)
        }
    };
    let (a, b) = (
        std::fs::read(dir.join("a")).unwrap(),
        std::fs::read(dir.join("b")).unwrap(),
    );
    let target = dir.join("model.safetensors");
    let mut i = 0u64;
    loop {
        let bytes = if i.is_multiple_of(2) { &a } else { &b };
        // The same atomic write every checkpoint save goes through; the announcement comes
        // from inside it, once the temporary file exists.
        atomic_write(&target, |f| {
            if looping {
                println!("saving {i}");
            }
            f.write_all(bytes)
        })
        .unwrap();
        i += 1;
        if !looping && i == 3 {
            assert_eq!(std::fs::read(&target).unwrap(), a);
            assert!(temps(&dir).is_empty());
            std::fs::remove_dir_all(&dir).unwrap();
            return;
        }
    }
}

/// Two different valid checkpoints, `a` and `b`, in `dir`: 12 MB each (hidden width 2000),
/// so that a save takes long enough for a kill to land inside it.
fn write_pair(dir: &Path) {
    let mut cfg = latent_explorer::train::TrainConfig::default();
    cfg.model.arch = latent_explorer::model::ArchConfig::Mlp { hidden: vec![2000] };
    cfg.model.latent_dim = 4;
    let model = cfg.model.init(&cpu()).unwrap();
    let info = checkpoint::DatasetInfo::of(&crate::common::bundled());
    let aux = latent_explorer::variant::AuxModules::empty();
    let bytes = |step| {
        let meta = checkpoint::CheckpointMeta::new(cfg.clone(), info.clone(), 0, step, None);
        checkpoint::to_bytes(&model, &aux, &meta, Path::new("pair")).unwrap()
    };
    let (a, b) = (bytes(1), bytes(2));
    assert_ne!(a, b);
    std::fs::write(dir.join("a"), a).unwrap();
    std::fs::write(dir.join("b"), b).unwrap();
}

fn spawn_save_loop(dir: &Path) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["faults::save_loop_child", "--exact", "--nocapture"])
        .args(["--test-threads", "1"])
        .env(LOOP_ENV, dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn sigkill_during_saves_never_leaves_a_corrupt_file_and_the_next_save_cleans_up() {
    let dir = tempfile::tempdir().unwrap();
    write_pair(dir.path());
    let a = std::fs::read(dir.path().join("a")).unwrap();
    let b = std::fs::read(dir.path().join("b")).unwrap();
    let target = dir.path().join("model.safetensors");
    std::fs::write(&target, &a).unwrap();
    let mut left_behind = 0;
    for trial in 0..50 {
        let mut child = spawn_save_loop(dir.path());
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        // Kill right after the child announced a save: mostly in the middle of writing or
        // syncing the temporary file, sometimes at the rename, sometimes between saves.
        let wanted = 1 + trial % 7;
        let mut seen = 0;
        for line in lines.by_ref() {
            // (libtest's "test … ... " may share the first line.)
            if line.unwrap().contains("saving ") {
                seen += 1;
                if seen == wanted {
                    break;
                }
            }
        }
        assert_eq!(seen, wanted, "trial {trial}: the child stopped early");
        child.kill().unwrap();
        child.wait().unwrap();
        let now = std::fs::read(&target).unwrap();
        assert!(
            now == a || now == b,
            "trial {trial}: the checkpoint is corrupt"
        );
        left_behind += temps(dir.path()).len();
    }
    // Killed writers leave their temporary file (the kernel gives no chance to remove it):
    // most kills landed inside a save. The next save to the same path removes them all.
    eprintln!("kills that landed inside a save (a temporary file left): {left_behind} of 50");
    assert!(
        left_behind >= 10,
        "only {left_behind} of 50 kills landed inside a save"
    );
    atomic_write_bytes(&target, &a).unwrap();
    assert!(temps(dir.path()).is_empty(), "{:?}", temps(dir.path()));
    checkpoint::load(&target, &cpu()).unwrap();
}

fn sigint(child: &Child) {
    // SAFETY: kill with a valid pid of our own child and a valid signal number.
    let r = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    assert_eq!(r, 0);
}

#[test]
fn ctrl_c_during_training_saves_at_the_next_step_and_says_where() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    for trial in 0..10 {
        let mut child = train_cmd(&path, "100")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The epoch's line is printed just before its checkpoint is written: Ctrl-C then
        // lands during that save or the steps right after it.
        let wanted = 1 + trial % 3;
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut epochs = 0;
        for line in lines.by_ref() {
            if line.unwrap().contains("\"event\":\"epoch\"") {
                epochs += 1;
                if epochs == wanted {
                    break;
                }
            }
        }
        sigint(&child);
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(130), "trial {trial}: {stderr}");
        let said = format!("the weights were saved to {}", path.display());
        assert!(
            stderr.contains("interrupted at step") && stderr.contains(&said),
            "trial {trial}: {stderr}"
        );
        // The file holds the weights of the step it names.
        let step: u64 = stderr
            .split("interrupted at step ")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no step in {stderr}"));
        let loaded = checkpoint::load(&path, &cpu()).unwrap();
        assert_eq!(loaded.meta.step, step, "trial {trial}");
        assert!(loaded.meta.epoch >= wanted, "trial {trial}");
        assert!(temps(dir.path()).is_empty(), "trial {trial}");
    }
    // A second Ctrl-C exits at once; the file on disk is a complete checkpoint.
    let mut child = train_cmd(&path, "100")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    for line in lines.by_ref() {
        if line.unwrap().contains("\"event\":\"epoch\"") {
            break;
        }
    }
    sigint(&child);
    sigint(&child);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    checkpoint::load(&path, &cpu()).unwrap();
    // Whatever the second signal cut short is cleaned by the next save.
    let bytes = std::fs::read(&path).unwrap();
    atomic_write_bytes(&path, &bytes).unwrap();
    assert!(temps(dir.path()).is_empty(), "{:?}", temps(dir.path()));
}

/// `report::error_line`: the one line `main` prints for an error chain (it was a unit test
/// in src/report.rs, which never ran: the library's own test target is off).
mod error_line {
    use latent_explorer::report::error_line;

    #[derive(Debug, thiserror::Error)]
    #[error("inner {0}")]
    struct Inner(u32);

    #[derive(Debug, thiserror::Error)]
    #[error("middle: {0}")]
    struct Middle(#[source] Inner);

    #[derive(Debug, thiserror::Error)]
    #[error("separate")]
    struct Separate(#[source] Inner);

    #[test]
    fn a_cause_already_said_is_left_out_and_a_new_one_kept() {
        let e = anyhow::Error::new(Middle(Inner(3))).context("file.toml");
        assert_eq!(format!("{e:#}"), "file.toml: middle: inner 3: inner 3");
        assert_eq!(error_line(e.as_ref()), "file.toml: middle: inner 3");
        let e = anyhow::Error::new(Separate(Inner(4))).context("loading");
        assert_eq!(error_line(e.as_ref()), "loading: separate: inner 4");
    }
}
