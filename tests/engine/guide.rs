//! The user guide (`docs/`) against the program: its generated pages equal what the binary
//! prints, every internal link and image resolves, and every command on the
//! getting-started page runs as written.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use clap::CommandFactory;
use latent_explorer::cli::Cli;

use crate::cli_docs::subcommands;
use latent_explorer::cli_docs;

const BIN: &str = env!("CARGO_BIN_EXE_latent-explorer");

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn guide_src() -> PathBuf {
    repo().join("docs/src")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn the_generated_reference_pages_are_what_the_binary_prints() {
    let regenerate = "regenerate with `latent-explorer reference --out docs/src/reference`";
    let cli = read(&guide_src().join("reference/cli.md"));
    assert!(
        cli == cli_docs::cli_reference_markdown(Cli::command()),
        "docs/src/reference/cli.md differs from the CLI's definition: {regenerate}"
    );
    let variants = read(&guide_src().join("reference/variants.md"));
    assert!(
        variants == cli_docs::variants_markdown(),
        "docs/src/reference/variants.md differs from the variants' cards: {regenerate}"
    );
    // The page holds each command's help exactly as the built binary prints it.
    let subs = subcommands();
    assert!(subs.len() >= 15, "too few subcommands: {subs:?}");
    let mut paths = vec![Vec::new()];
    paths.extend(subs);
    for path in paths {
        let out = Command::new(BIN)
            .args(&path)
            .arg("--help")
            .env("COLUMNS", cli_docs::REFERENCE_WIDTH.to_string())
            .output()
            .unwrap();
        assert!(out.status.success(), "{path:?} --help failed");
        let help = String::from_utf8(out.stdout).unwrap();
        let block = format!("```text\n{}\n```", help.trim_end());
        assert!(
            cli.contains(&block),
            "the reference lacks `latent-explorer {} --help` as the binary prints it: {regenerate}\n{help}",
            path.join(" ")
        );
        let heading = format!(
            "`latent-explorer{}{}`",
            if path.is_empty() { "" } else { " " },
            path.join(" ")
        );
        assert!(
            cli.contains(&heading),
            "no heading {heading} in the reference"
        );
    }
    // Every variant has its card on the page.
    for v in latent_explorer::variant::VariantKind::ALL {
        assert!(
            variants.contains(&format!("## {}", v.label())) && variants.contains(v.about().paper),
            "no card for {} in variants.md",
            v.label()
        );
    }
}

/// The anchor mdBook gives a heading: its text without Markdown code marks, lower case,
/// letters, digits, `_` and `-` kept, whitespace as `-`, everything else dropped.
fn anchor(heading: &str) -> String {
    let text: String = heading.replace('`', "");
    let mut id = String::new();
    for c in text.trim().chars() {
        if c.is_alphanumeric() || c == '_' || c == '-' {
            id.extend(c.to_lowercase());
        } else if c.is_whitespace() {
            id.push('-');
        }
    }
    id
}

/// The lines of a Markdown text outside fenced code blocks.
fn prose_lines(md: &str) -> impl Iterator<Item = &str> {
    let mut fence = false;
    md.lines().filter(move |line| {
        if line.starts_with("```") {
            fence = !fence;
            return false;
        }
        !fence
    })
}

/// The anchors of a Markdown file's headings (outside code blocks), numbered on repeats as
/// mdBook numbers them.
fn anchors(md: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    for line in prose_lines(md) {
        let hashes = line.chars().take_while(|&c| c == '#').count();
        if (1..=6).contains(&hashes) && line[hashes..].starts_with(' ') {
            let base = anchor(&line[hashes + 1..]);
            let mut id = base.clone();
            let mut n = 1;
            while seen.contains(&id) {
                id = format!("{base}-{n}");
                n += 1;
            }
            seen.insert(id);
        }
    }
    seen
}

/// The link targets of a Markdown text, outside code blocks and code spans:
/// `[text](target)` and `![alt](target)`.
fn links(md: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in prose_lines(md) {
        // Drop code spans: a `](x)` inside backticks is text.
        let mut plain = String::new();
        for (i, part) in line.split('`').enumerate() {
            if i % 2 == 0 {
                plain.push_str(part);
            }
        }
        let mut rest = plain.as_str();
        while let Some(i) = rest.find("](") {
            let after = &rest[i + 2..];
            let Some(end) = after.find(')') else { break };
            out.push(after[..end].trim().to_string());
            rest = &after[end..];
        }
    }
    out
}

/// Check every relative link of `file` (a Markdown file under `root`): the file it names
/// exists, and its `#anchor` is a heading there. Returns the problems.
fn check_links(file: &Path, problems: &mut Vec<String>) -> usize {
    let md = read(file);
    let dir = file.parent().unwrap();
    let mut n = 0;
    for target in links(&md) {
        if target.contains("://") || target.starts_with("mailto:") {
            continue;
        }
        n += 1;
        let (path, frag) = match target.split_once('#') {
            Some((p, f)) => (p, Some(f)),
            None => (target.as_str(), None),
        };
        let dest = if path.is_empty() {
            file.to_path_buf()
        } else {
            dir.join(path)
        };
        if !dest.exists() {
            problems.push(format!("{}: link to missing {target}", file.display()));
            continue;
        }
        if let Some(frag) = frag
            && !anchors(&read(&dest)).contains(frag)
        {
            problems.push(format!(
                "{}: link {target}: no heading with the anchor #{frag} in {}",
                file.display(),
                dest.display()
            ));
        }
    }
    n
}

fn markdown_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            markdown_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "md") {
            out.push(path);
        }
    }
}

#[test]
fn every_internal_link_of_the_guide_and_the_readme_resolves() {
    let src = guide_src();
    let mut files = Vec::new();
    markdown_files(&src, &mut files);
    files.sort();
    assert!(files.len() >= 10, "too few pages in docs/src: {files:?}");
    let mut problems = Vec::new();
    let mut checked = 0;
    for f in files.iter().chain([&repo().join("README.md")]) {
        checked += check_links(f, &mut problems);
    }
    assert!(
        problems.is_empty(),
        "broken links:\n{}",
        problems.join("\n")
    );
    assert!(checked >= 30, "only {checked} internal links found");
    // Every page is in the table of contents, so none is built but unreachable.
    let summary = read(&src.join("SUMMARY.md"));
    let listed: BTreeSet<PathBuf> = links(&summary).iter().map(|l| src.join(l)).collect();
    for f in &files {
        if f.file_name().is_some_and(|n| n == "SUMMARY.md") {
            continue;
        }
        assert!(
            listed.contains(f),
            "{} is not in docs/src/SUMMARY.md",
            f.display()
        );
    }
}

#[test]
fn the_link_checker_finds_a_broken_link_and_a_missing_anchor() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("b.md"), "# B page\n\n## Some `code` here\n").unwrap();
    let a = dir.path().join("a.md");
    std::fs::write(
        &a,
        "[ok](b.md#some-code-here) [gone](c.md) [bad](b.md#nothing) `[code](x.md)` \
         [web](https://example.org)\n```\n[fenced](y.md)\n```\n",
    )
    .unwrap();
    let mut problems = Vec::new();
    let n = check_links(&a, &mut problems);
    assert_eq!(n, 3, "{problems:?}");
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(problems[0].contains("c.md") && problems[1].contains("#nothing"));
}

/// The commands of the page's `sh` blocks, one per line, comments dropped.
fn page_commands(md: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut in_sh = false;
    for line in md.lines() {
        if line.starts_with("```") {
            in_sh = !in_sh && line.trim() == "```sh";
            continue;
        }
        if !in_sh {
            continue;
        }
        let code = line.split(" #").next().unwrap().trim();
        if !code.is_empty() {
            out.push(code.split_whitespace().map(str::to_string).collect());
        }
    }
    out
}

fn run_in(dir: &Path, program: &str, args: &[String], home: &Path) -> Output {
    Command::new(program)
        .args(args)
        .current_dir(dir)
        .env("HOME", home)
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("RUST_LOG")
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"))
}

#[test]
fn every_command_of_the_getting_started_page_runs_as_written() {
    let page = read(&guide_src().join("getting-started.md"));
    let commands = page_commands(&page);
    assert!(commands.len() >= 10, "too few commands: {commands:?}");
    let work = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    for cmd in &commands {
        assert_eq!(
            cmd[0], "latent-explorer",
            "not a latent-explorer command: {cmd:?}"
        );
        let mut args: Vec<String> = cmd[1..].to_vec();
        let is_app = args
            .first()
            .is_none_or(|a| a == "app" || a.starts_with('-'));
        let out = if is_app {
            // The window runs under Xvfb and is closed after a second of measurement.
            if args.first().is_none_or(|a| a != "app") {
                args.insert(0, "app".into());
            }
            args.extend(
                ["--measure", "1", "--device", "cpu", "--sharing", "free"].map(String::from),
            );
            let mut xvfb: Vec<String> = ["-a", "-s", "-screen 0 1280x800x24", BIN]
                .map(String::from)
                .to_vec();
            xvfb.extend(args.clone());
            run_in(work.path(), "xvfb-run", &xvfb, home.path())
        } else {
            run_in(work.path(), BIN, &args, home.path())
        };
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "`{}` failed ({:?}):\n{stdout}\n{}",
            cmd.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        // What each command says it makes is there.
        for (i, a) in args.iter().enumerate() {
            let value = args.get(i + 1).map(|v| work.path().join(v));
            match (a.as_str(), value) {
                ("--out", Some(f)) => assert!(
                    std::fs::metadata(&f).is_ok_and(|m| m.len() > 0),
                    "`{}` wrote no {}",
                    cmd.join(" "),
                    f.display()
                ),
                ("--run-dir", Some(d)) => assert!(
                    d.join("run.toml").is_file() && d.join("metrics.jsonl").is_file(),
                    "`{}` made no run directory",
                    cmd.join(" ")
                ),
                _ => {}
            }
        }
        if args[0] == "export-metrics" {
            assert!(work.path().join(&args[1]).join("metrics.csv").is_file());
        }
        if is_app {
            let report: serde_json::Value = serde_json::from_str(stdout.trim())
                .unwrap_or_else(|e| panic!("`{}`: no JSON report ({e}): {stdout}", cmd.join(" ")));
            // The runs asked for are open: each file and followed directory, or the default
            // run when none is named.
            let named = args[1..]
                .iter()
                .filter(|a| a.ends_with(".safetensors"))
                .count()
                + args.iter().filter(|a| *a == "--follow").count();
            assert_eq!(
                report["data"]["runs"].as_u64(),
                Some(named.max(1) as u64),
                "`{}`: {report}",
                cmd.join(" ")
            );
        }
    }
}
