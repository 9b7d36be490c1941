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
    /// Writing a page's file failed.
    #[error("could not write the manual page {}: {source}", path.display())]
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
