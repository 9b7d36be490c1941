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
        .args(["app", "--measure", "1", "--device", "cpu"])
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
    let report: serde_json::Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("not one JSON report ({e}): {stdout}"));
    for phase in ["watch", "drag"] {
        let frames = report[phase]["frames"].as_u64().unwrap_or(0);
        assert!(frames > 0, "{phase}: no frames drawn: {report}");
    }
    assert_eq!(report["runs"], 1, "{report}");
    assert!(
        report["drag"]["runs"][0]["steps"].as_u64().unwrap_or(0) > 0,
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
