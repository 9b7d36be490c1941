//! What the built binary tells the shell and `man` about itself: completion scripts and
//! manual pages generated from the clap definition, and help wrapped to the terminal's width.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

use clap::CommandFactory;
use latent_explorer::cli::Cli;

const BIN: &str = env!("CARGO_BIN_EXE_latent-explorer");

fn run(args: &[&str]) -> Output {
    let out = Command::new(BIN)
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "latent-explorer {args:?}: exit {:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Every subcommand a user can type, as its path of names (`["sweep", "run"]`), read from
/// the clap definition itself: hidden ones (`man`, `sweep task`) and clap's `help` aside.
pub(crate) fn subcommands() -> Vec<Vec<String>> {
    fn walk(cmd: &clap::Command, path: &[String], out: &mut Vec<Vec<String>>) {
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            let mut p = path.to_vec();
            p.push(sub.get_name().to_string());
            out.push(p.clone());
            walk(sub, &p, out);
        }
    }
    let mut out = Vec::new();
    walk(&Cli::command(), &[], &mut out);
    // The definition is what is tested here: it must hold the commands the README names.
    for name in ["train", "eval", "sweep", "completions"] {
        assert!(
            out.iter().any(|p| p == &[name.to_string()]),
            "no `{name}` subcommand in {out:?}"
        );
    }
    assert!(
        out.iter().any(|p| p.len() == 2),
        "no nested subcommand: {out:?}"
    );
    out
}

#[test]
fn completion_scripts_offer_every_subcommand() {
    let subs = subcommands();
    // bash: each command's `opts="…"` lists its options and its subcommands' names.
    let bash = String::from_utf8(run(&["completions", "bash"]).stdout).unwrap();
    assert!(
        bash.contains("complete -F _latent__explorer") && bash.contains("latent-explorer"),
        "not a bash completion script for latent-explorer:\n{bash}"
    );
    let offered: BTreeSet<&str> = bash
        .lines()
        .filter_map(|l| l.trim().strip_prefix("opts=\""))
        .flat_map(|l| l.trim_end_matches('"').split_whitespace())
        .collect();
    for path in &subs {
        let name = path.last().unwrap();
        assert!(
            offered.contains(name.as_str()),
            "the bash completion offers no `{}` (offered: {offered:?})",
            path.join(" ")
        );
    }
    // zsh and fish: every subcommand named with its description.
    for shell in ["zsh", "fish"] {
        let script = String::from_utf8(run(&["completions", shell]).stdout).unwrap();
        for path in &subs {
            let name = path.last().unwrap();
            assert!(
                script.contains(&format!("'{name}:"))
                    || script.contains(&format!("-a \"{name}\""))
                    || script.contains(&format!("-f -a \"{name}\"")),
                "the {shell} completion offers no `{}`:\n{script}",
                path.join(" ")
            );
        }
    }
    // A shell it does not know is refused, naming the ones it does.
    let out = Command::new(BIN)
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("tcsh") && stderr.contains("bash"),
        "{stderr}"
    );
}

/// Warnings groff gives on `page` read as a manual page (`-ww`: all of them; `-k`: UTF-8
/// input, as `man` reads it), and the text it typesets.
fn groff(page: &Path) -> (String, String) {
    let out = Command::new("groff")
        // `-P-cbou`: plain text, no overstriking for bold and underline.
        .args(["-k", "-man", "-Tutf8", "-ww", "-P-cbou"])
        .arg(page)
        .env("LC_ALL", "C.UTF-8")
        .output()
        .expect("groff (scripts/test installs it)");
    assert!(out.status.success(), "groff {}: {:?}", page.display(), out);
    (
        String::from_utf8_lossy(&out.stderr).into_owned(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// The page's `.TH` line: its first request other than clap_mangen's string definitions
/// (`.ie`/`.el`) and comments.
fn title_line(roff: &str) -> &str {
    roff.lines()
        .find(|l| {
            let l = l.trim_start();
            l.starts_with('.')
                && !l.starts_with(".ie")
                && !l.starts_with(".el")
                && !l.starts_with(".\\\"")
        })
        .unwrap_or("")
}

#[test]
fn man_pages_are_roff_and_cover_every_subcommand() {
    let subs = subcommands();
    let dir = tempfile::tempdir().unwrap();

    // `man`: the main page on standard output.
    let page = String::from_utf8(run(&["man"]).stdout).unwrap();
    assert!(
        title_line(&page).starts_with(".TH latent-explorer 1"),
        "the page does not start with `.TH latent-explorer 1`: {:?}",
        title_line(&page)
    );
    for section in [".SH NAME", ".SH SYNOPSIS", ".SH OPTIONS", ".SH SUBCOMMANDS"] {
        assert!(
            page.contains(section),
            "no `{section}` in the page:\n{page}"
        );
    }
    let main = dir.path().join("stdout.1");
    std::fs::write(&main, &page).unwrap();
    let (warnings, text) = groff(&main);
    assert!(warnings.is_empty(), "groff on the main page:\n{warnings}");
    let top: Vec<&Vec<String>> = subs.iter().filter(|p| p.len() == 1).collect();
    for path in &top {
        let name = format!("latent-explorer-{}(1)", path[0]);
        assert!(text.contains(&name), "the page lists no {name}:\n{text}");
    }

    // `man --out DIR`: one page per command, each named in the listing and typeset cleanly.
    let out_dir = dir.path().join("man1");
    let listed =
        String::from_utf8(run(&["man", "--out", out_dir.to_str().unwrap()]).stdout).unwrap();
    // Each page's file name and the command line its synopsis starts with.
    let mut pages: Vec<(String, String)> = subs
        .iter()
        .map(|p| {
            (
                format!("latent-explorer-{}.1", p.join("-")),
                format!("latent-explorer {}", p.join(" ")),
            )
        })
        .collect();
    pages.push(("latent-explorer.1".into(), "latent-explorer".into()));
    let want: BTreeSet<String> = pages.iter().map(|(f, _)| f.clone()).collect();
    let written: BTreeSet<String> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(written, want, "the pages written");
    let listed: BTreeSet<String> = listed
        .lines()
        .map(|l| {
            Path::new(l)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(listed, want, "the pages the command listed");
    assert_eq!(
        std::fs::read_to_string(out_dir.join("latent-explorer.1")).unwrap(),
        page,
        "the main page written differs from the one printed"
    );
    for (file, synopsis) in &pages {
        let path = out_dir.join(file);
        let roff = std::fs::read_to_string(&path).unwrap();
        let stem = file.trim_end_matches(".1");
        assert!(
            title_line(&roff).starts_with(&format!(".TH {stem} 1")),
            "{file}: the title line is {:?}",
            title_line(&roff)
        );
        let (warnings, text) = groff(&path);
        assert!(warnings.is_empty(), "groff on {file}:\n{warnings}");
        // Justified text: runs of spaces read as one.
        let after = text.split("SYNOPSIS").nth(1).unwrap_or("");
        let after = after.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            after.starts_with(&format!("{synopsis} ")),
            "{file}: the synopsis does not start with `{synopsis}`:\n{text}"
        );
    }
}

/// Help follows the terminal's width: with standard output not a terminal (as here), clap
/// reads `COLUMNS`. Every line of every command's `--help` fits in 60 columns, counted in
/// characters, except the `Usage:` line, which clap never wraps.
#[test]
fn help_is_wrapped_to_the_width_in_columns() {
    let width = |columns: usize, path: &[String]| -> (usize, Vec<String>) {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let out = Command::new(BIN)
            .args(&args)
            .env("COLUMNS", columns.to_string())
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {out:?}");
        let text = String::from_utf8(out.stdout).unwrap();
        let wrapped: Vec<&str> = text.lines().filter(|l| !l.starts_with("Usage:")).collect();
        let widest = wrapped.iter().map(|l| l.chars().count()).max().unwrap_or(0);
        let over = wrapped
            .iter()
            .filter(|l| l.chars().count() > columns)
            .map(|l| l.to_string())
            .collect();
        (widest, over)
    };
    let mut paths = vec![Vec::new()];
    paths.extend(subcommands());
    let mut widest_wide = 0;
    for path in &paths {
        let (_, over) = width(60, path);
        assert!(
            over.is_empty(),
            "`{} --help` at COLUMNS=60 has lines wider than 60:\n{}",
            path.join(" "),
            over.join("\n")
        );
        widest_wide = widest_wide.max(width(200, path).0);
    }
    // The same help at 200 columns has longer lines: the width came from COLUMNS.
    assert!(
        widest_wide > 100,
        "at COLUMNS=200 the widest help line is {widest_wide} characters: the width is not read"
    );
}

#[test]
fn the_desktop_entry_installs_validates_and_registers_the_model_file_types() {
    let data = tempfile::tempdir().unwrap();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/install-desktop");
    let bin = env!("CARGO_BIN_EXE_latent-explorer");
    let run = |args: &[&str]| {
        let out = std::process::Command::new(&script)
            .args(args)
            .env("XDG_DATA_HOME", data.path())
            .env("LATENT_EXPLORER_BIN", bin)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&[]);
    let entry = data.path().join("applications/latent-explorer.desktop");
    let text = std::fs::read_to_string(&entry).unwrap();
    let bin = std::fs::canonicalize(bin).unwrap();
    assert!(
        text.contains(&format!("Exec={} app %F", bin.display())),
        "{text}"
    );
    assert!(text.contains("MimeType=application/x-safetensors;application/x-pytorch-model;"));
    assert!(
        data.path()
            .join("icons/hicolor/scalable/apps/latent-explorer.svg")
            .is_file()
    );
    // The desktop's own checker accepts the entry (scripts/test installs it).
    let check = std::process::Command::new("desktop-file-validate")
        .arg(&entry)
        .output()
        .expect("desktop-file-validate (desktop-file-utils; scripts/test installs it)");
    let said = String::from_utf8_lossy(&check.stdout);
    assert!(check.status.success() && !said.contains("error"), "{said}");
    // The types are registered: the MIME database maps the extensions to them.
    let globs = std::fs::read_to_string(data.path().join("mime/globs2"))
        .expect("update-mime-database ran (shared-mime-info; scripts/test installs it)");
    for (ty, glob) in [
        ("application/x-safetensors", "*.safetensors"),
        ("application/x-pytorch-model", "*.pt"),
        ("application/x-pytorch-model", "*.pth"),
    ] {
        assert!(globs.contains(&format!("{ty}:{glob}")), "{glob}: {globs}");
    }
    // And out again.
    run(&["--uninstall"]);
    assert!(!entry.exists());
}
