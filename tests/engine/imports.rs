//! The architecture's rule that no two source files import each other, directly or round a
//! loop: `scripts/import-cycles` resolves every path a file names (re-exports followed to
//! the file that defines the item) and fails on any strongly connected component of more
//! than one file.

use std::process::Command;

#[test]
fn no_source_file_imports_another_that_imports_it_back() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/import-cycles");
    let out = Command::new("python3")
        .arg(script)
        .output()
        .expect("python3 runs scripts/import-cycles");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // It saw the crate: dozens of files and hundreds of imports between them.
    let files: usize = stdout
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(files > 50, "{stdout}");
}

#[test]
fn the_cycle_check_finds_a_loop_through_a_re_export() {
    // a.rs uses b's item; b.rs uses an item of c.rs through lib.rs's re-export; c.rs uses a.
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    std::fs::write(
        src.join("lib.rs"),
        "mod a;\nmod b;\nmod c;\npub use c::Gamma;\n",
    )
    .unwrap();
    std::fs::write(
        src.join("a.rs"),
        "use crate::b::Beta;\npub struct Alpha(Beta);\n",
    )
    .unwrap();
    std::fs::write(
        src.join("b.rs"),
        "use crate::Gamma;\npub struct Beta(Gamma);\n",
    )
    .unwrap();
    std::fs::write(src.join("c.rs"), "pub struct Gamma(crate::a::Alpha);\n").unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/import-cycles");
    let out = Command::new("python3")
        .arg(script)
        .arg("--src")
        .arg(src)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("cycle of 3 files"), "{stdout}");
    for edge in ["a.rs -> ", "b.rs -> ", "c.rs -> "] {
        assert!(stdout.contains(edge), "{edge}: {stdout}");
    }
    // Break the loop: no cycle.
    std::fs::write(src.join("c.rs"), "pub struct Gamma(u8);\n").unwrap();
    let out = Command::new("python3")
        .arg(script)
        .arg("--src")
        .arg(src)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
