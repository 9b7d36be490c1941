//! What the shell and `man` know about the command line, generated from its clap definition
//! so they cannot drift from it: completion scripts (clap_complete) and roff manual pages
//! (clap_mangen). The CLI ([`crate::cli`]) passes its own [`clap::Command`] in.

use std::path::{Path, PathBuf};

use thiserror::Error;

/// A manual page that could not be made or written.
#[derive(Debug, Error)]
pub enum DocsError {
    /// Rendering a page failed (clap_mangen writes into memory, so this is not expected).
    #[error("could not render the manual page for `{command}`: {source}")]
    Render {
        /// The (sub)command whose page it was.
        command: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Writing a page's file (a manual page, a page of the guide) failed.
    #[error("could not write {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// The completion script for `shell`: completes the subcommands, their options and the
/// values of enumerated options.
pub fn completions(mut cmd: clap::Command, shell: clap_complete::Shell) -> Vec<u8> {
    let name = cmd.get_name().to_string();
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, name, &mut buf);
    buf
}

/// The manual page of `cmd` itself (section 1, roff), listing its subcommands.
pub fn man_page(cmd: clap::Command) -> Result<Vec<u8>, DocsError> {
    let mut cmd = cmd.disable_help_subcommand(true);
    cmd.build();
    render(&cmd)
}

/// Write `NAME.1` for `cmd` and `NAME-SUB.1` for each of its visible subcommands (theirs
/// too, recursively) into `dir`, each atomically; returns the files written, the main page
/// first.
pub fn write_man_pages(cmd: clap::Command, dir: &Path) -> Result<Vec<PathBuf>, DocsError> {
    let mut cmd = cmd.disable_help_subcommand(true);
    // Building gives each subcommand its display name (`latent-explorer-train`), which is
    // the page's name and what its synopsis shows.
    cmd.build();
    let mut pages = Vec::new();
    collect(&cmd, &mut pages);
    let mut written = Vec::new();
    for page in pages {
        let man = clap_mangen::Man::new(page.clone());
        let path = dir.join(man.get_filename());
        let bytes = render(&page)?;
        crate::atomic::atomic_write_bytes(&path, &bytes).map_err(|source| DocsError::Write {
            path: path.clone(),
            source,
        })?;
        written.push(path);
    }
    Ok(written)
}

/// `cmd` and its visible subcommands, depth first, `cmd` first.
fn collect(cmd: &clap::Command, out: &mut Vec<clap::Command>) {
    out.push(cmd.clone());
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        collect(sub, out);
    }
}

fn render(cmd: &clap::Command) -> Result<Vec<u8>, DocsError> {
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd.clone())
        .render(&mut buf)
        .map_err(|source| DocsError::Render {
            command: cmd
                .get_display_name()
                .unwrap_or_else(|| cmd.get_name())
                .to_string(),
            source,
        })?;
    Ok(buf)
}

/// Width, in columns, of the help texts in the generated reference (the binary prints the
/// same with `COLUMNS=100`).
pub const REFERENCE_WIDTH: usize = 100;

/// The user guide's command-line reference, as Markdown: every visible command's `--help`
/// text as the binary prints it at [`REFERENCE_WIDTH`] columns, in a code block under a
/// heading naming the command, depth first.
pub fn cli_reference_markdown(cmd: clap::Command) -> String {
    /// Every visible command's path of names, depth first (clap's `help` left out).
    fn paths(cmd: &clap::Command, path: &[String], out: &mut Vec<Vec<String>>) {
        out.push(path.to_vec());
        for sub in cmd
            .get_subcommands()
            .filter(|s| !s.is_hide_set() && s.get_name() != "help")
        {
            let mut p = path.to_vec();
            p.push(sub.get_name().to_string());
            paths(sub, &p, out);
        }
    }
    let cmd = cmd
        .term_width(REFERENCE_WIDTH)
        .max_term_width(REFERENCE_WIDTH);
    let bin = cmd.get_name().to_string();
    let mut all = Vec::new();
    paths(&cmd, &[], &mut all);
    let mut md = String::from(
        "# Command-line reference\n\n\
         Every command's `--help`, generated from the program's own definition \
         (`latent-explorer reference --out docs/src/reference`); a test fails when this page \
         differs from what the binary prints. Shorter help: `-h`.\n",
    );
    for path in all {
        // Exactly what the binary prints for `BIN PATH… --help`: clap's own parse of those
        // words, which ends in its help "error" (short or long help as clap picks).
        let args = std::iter::once(bin.clone())
            .chain(path.iter().cloned())
            .chain(std::iter::once("--help".to_string()));
        let help = match cmd.clone().try_get_matches_from(args) {
            Err(e) => e.render().to_string(),
            // `--help` always stops the parse; no page if it ever did not.
            Ok(_) => continue,
        };
        let name = std::iter::once(bin.as_str())
            .chain(path.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" ");
        md.push_str(&format!(
            "\n{} `{name}`\n\n```text\n{}\n```\n",
            "#".repeat(path.len().min(3) + 2),
            help.trim_end()
        ));
    }
    md
}

/// The user guide's variants page, as Markdown: each variant's card (the text the app's
/// "About this variant" and `latent-explorer variants` show).
pub fn variants_markdown() -> String {
    use crate::variant::VariantKind;
    let mut md = String::from(
        "# Variants\n\n\
         What each variant optimises, its paper and what to look for in the app: the cards \
         the app shows under *About this variant* (`A`) and `latent-explorer variants` prints, \
         generated from the same text (`latent-explorer reference --out docs/src/reference`).\n",
    );
    for v in VariantKind::ALL {
        let about = v.about();
        let flag = clap::ValueEnum::to_possible_value(&v)
            .map(|p| format!(" (`--variant {}`)", p.get_name()))
            .unwrap_or_default();
        md.push_str(&format!("\n## {}{flag}\n\n{}\n\n", v.label(), about.idea));
        md.push_str("Objective:\n\n```text\n");
        for line in about.objective.lines() {
            md.push_str(line.trim_start());
            md.push('\n');
        }
        md.push_str("```\n\n");
        md.push_str(&format!("Paper: {}\n\nWhat to look for:\n\n", about.paper));
        for l in about.look_for {
            md.push_str(&format!("- {l}\n"));
        }
    }
    md
}

/// Write the generated pages of the user guide ([`cli_reference_markdown`] as `cli.md`,
/// [`variants_markdown`] as `variants.md`) into `dir`, each atomically; returns the files.
pub fn write_reference(cmd: clap::Command, dir: &Path) -> Result<Vec<PathBuf>, DocsError> {
    let mut written = Vec::new();
    for (name, text) in [
        ("cli.md", cli_reference_markdown(cmd)),
        ("variants.md", variants_markdown()),
    ] {
        let path = dir.join(name);
        crate::atomic::atomic_write_bytes(&path, text.as_bytes()).map_err(|source| {
            DocsError::Write {
                path: path.clone(),
                source,
            }
        })?;
        written.push(path);
    }
    Ok(written)
}
