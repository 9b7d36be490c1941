//! Crash-safe file writes: write a temporary file beside the target, flush it to disk, then
//! rename it over the target. A reader sees either the old file or the new one, never half.
//!
//! The temporary file is `.NAME.tmp-HOST-PID-N`: the writer's host, its process, and the
//! lowest counter no other write of the target in this process holds, so that two threads
//! writing one target, or two hosts writing one shared folder, never share a temporary file
//! (a shared one could publish a mix of both writers' bytes). A process killed while writing (SIGKILL, a power cut) leaves its
//! one behind; the next write to the same target removes every such file that is provably
//! stale — written on this host by a process that no longer runs. Another host's files are
//! left alone: its live writer cannot be told from a dead one from here.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// This host's name as it appears in temporary file names: letters, digits, `.`, `_` and
/// `-` kept, anything else `_`; `localhost` where the name cannot be read.
pub fn host_name() -> &'static str {
    static HOST: OnceLock<String> = OnceLock::new();
    HOST.get_or_init(|| {
        let raw = read_host_name().unwrap_or_default();
        let clean: String = raw
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        if clean.is_empty() {
            "localhost".into()
        } else {
            clean
        }
    })
}

#[cfg(unix)]
fn read_host_name() -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at most that many
    // bytes and the result is read only up to the first NUL within the buffer.
    let r = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if r != 0 {
        return None;
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    Some(String::from_utf8_lossy(&buf[..end]).into_owned())
}

#[cfg(not(unix))]
fn read_host_name() -> Option<String> {
    std::env::var("COMPUTERNAME").ok()
}

/// The temporary paths of this process's writes in progress: each write takes the lowest
/// counter no write of the same target holds.
static IN_FLIGHT: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());

/// The temporary path of `path`'s `n`-th concurrent write in this process.
fn temp_name(path: &Path, n: usize) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    path.with_file_name(format!(
        ".{name}.tmp-{}-{}-{n}",
        host_name(),
        std::process::id()
    ))
}

/// The temporary path the next write of `path` would use: the first free counter among
/// this process's writes of `path` in progress (`…-0` when none is).
pub fn temp_path(path: &Path) -> PathBuf {
    first_free(path, &IN_FLIGHT.lock().unwrap_or_else(|e| e.into_inner()))
}

/// The temporary path of `path` with the lowest counter that `held` does not hold.
fn first_free(path: &Path, held: &BTreeSet<PathBuf>) -> PathBuf {
    (0..)
        .map(|n| temp_name(path, n))
        .find(|p| !held.contains(p))
        .unwrap_or_else(|| temp_name(path, usize::MAX))
}

/// A temporary path held by one write until dropped: no other write, in this process or
/// any other on any host, uses it meanwhile.
struct Reserved(PathBuf);

impl Reserved {
    fn new(path: &Path) -> Self {
        let mut held = IN_FLIGHT.lock().unwrap_or_else(|e| e.into_inner());
        let tmp = first_free(path, &held);
        held.insert(tmp.clone());
        Self(tmp)
    }
}

impl Drop for Reserved {
    fn drop(&mut self) {
        IN_FLIGHT
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.0);
    }
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
    let reserved = Reserved::new(path);
    let tmp = &reserved.0;
    let result = (|| {
        let mut f = File::create(tmp)?;
        write(&mut f)?;
        f.flush()?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(tmp, path)?;
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
        let _ = std::fs::remove_file(tmp);
    }
    result
}

/// Write `bytes` to `path` atomically.
pub fn atomic_write_bytes(path: &Path, bytes: &[u8]) -> io::Result<()> {
    atomic_write(path, |f| f.write_all(bytes))
}

/// The host and process id in `file_name` if it is a temporary file of `target_name`'s
/// writes (`.NAME.tmp-HOST-PID-N`). The host name may itself hold `-`: the fields are read
/// from the right.
fn temp_owner<'a>(file_name: &'a str, target_name: &str) -> Option<(&'a str, u32)> {
    let rest = file_name
        .strip_prefix('.')?
        .strip_prefix(target_name)?
        .strip_prefix(".tmp-")?;
    let mut fields = rest.rsplitn(3, '-');
    fields.next()?.parse::<u64>().ok()?;
    let pid = fields.next()?.parse().ok()?;
    let host = fields.next().filter(|h| !h.is_empty())?;
    Some((host, pid))
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

/// Remove the temporary files that writes of `path` by processes of this host that no
/// longer run left behind. Another host's files, and files not named as this module names
/// them, are never removed. Best effort: a file that cannot be removed is left for the next
/// write.
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
        let file_name = file_name.to_string_lossy();
        let Some((host, pid)) = temp_owner(&file_name, &name) else {
            continue;
        };
        if host == host_name()
            && pid != std::process::id()
            && !process_alive(pid)
            && entry.file_type().is_ok_and(|t| t.is_file())
            && std::fs::remove_file(entry.path()).is_ok()
        {
            removed += 1;
        }
    }
    removed
}
