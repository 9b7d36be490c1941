//! Crash-safe file writes: write a temporary file beside the target, flush it to disk, then
//! rename it over the target. A reader sees either the old file or the new one, never half.
//!
//! The temporary file is `.NAME.tmp-PID`. A process killed while writing (SIGKILL, a power
//! cut) leaves its one behind; the next write to the same target removes every such file
//! whose process no longer runs, so they never pile up.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The temporary path used while writing `path`.
pub fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// Write `path` atomically with `write`. On any error the target is untouched and the
/// temporary file is removed.
pub fn atomic_write<F>(path: &Path, write: F) -> io::Result<()>
where
    F: FnOnce(&mut File) -> io::Result<()>,
{
    // A directory in the target's place, or a file in a parent's, said plainly.
    crate::paths::output_file(path).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)?;
    }
    remove_stale_temps(path);
    let tmp = temp_path(path);
    let result = (|| {
        let mut f = File::create(&tmp)?;
        write(&mut f)?;
        f.flush()?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
            && let Ok(d) = File::open(dir)
        {
            // Persist the rename; failure here does not undo a completed write.
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Write `bytes` to `path` atomically.
pub fn atomic_write_bytes(path: &Path, bytes: &[u8]) -> io::Result<()> {
    atomic_write(path, |f| f.write_all(bytes))
}

/// The process id in `file_name` if it is a temporary file of `target_name`'s writes
/// (`.NAME.tmp-PID`).
fn temp_owner(file_name: &str, target_name: &str) -> Option<u32> {
    file_name
        .strip_prefix('.')?
        .strip_prefix(target_name)?
        .strip_prefix(".tmp-")?
        .parse()
        .ok()
}

/// Whether process `pid` is running (or exists under another user).
fn process_alive(pid: u32) -> bool {
    #[cfg(unix)]
    {
        let Ok(pid) = libc::pid_t::try_from(pid) else {
            return false;
        };
        // SAFETY: signal 0 only checks that the process exists; nothing is sent.
        let r = unsafe { libc::kill(pid, 0) };
        r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
    }
    #[cfg(not(unix))]
    {
        // Without a cheap check, only our own temporary files are known to be ours.
        pid == std::process::id()
    }
}

/// Remove the temporary files that writes of `path` by processes no longer running left
/// behind. Best effort: a file that cannot be removed is left for the next write.
pub fn remove_stale_temps(path: &Path) -> usize {
    let Some(name) = path.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return 0;
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(pid) = temp_owner(&file_name.to_string_lossy(), &name) else {
            continue;
        };
        if pid != std::process::id()
            && !process_alive(pid)
            && entry.file_type().is_ok_and(|t| t.is_file())
            && std::fs::remove_file(entry.path()).is_ok()
        {
            removed += 1;
        }
    }
    removed
}
