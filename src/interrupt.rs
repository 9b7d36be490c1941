//! Ctrl-C (SIGINT) and SIGTERM for long commands: the first asks the command to stop at its
//! next safe point (for `train`, the next step boundary, where it saves and says where);
//! a second exits at once with status 130. Nothing is lost by the second either: saves are
//! atomic, so the file on disk is the previous complete one.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Signals received since [`install`].
static RECEIVED: AtomicUsize = AtomicUsize::new(0);
/// Whether the first signal already exits (nothing unsaved is at stake).
static IMMEDIATE: AtomicBool = AtomicBool::new(false);

/// Exit status of a process stopped by SIGINT (128 + 2), as shells report it.
pub const EXIT_INTERRUPTED: u8 = 130;

#[cfg(unix)]
extern "C" fn on_signal(_signal: libc::c_int) {
    // Only async-signal-safe calls here: an atomic add, write(2) and _exit(2).
    if RECEIVED.fetch_add(1, Ordering::SeqCst) >= 1 || IMMEDIATE.load(Ordering::SeqCst) {
        const MSG: &[u8] = b"\ninterrupted: exiting now (the last saved file is intact)\n";
        // SAFETY: write and _exit are async-signal-safe; MSG outlives the call.
        unsafe {
            libc::write(2, MSG.as_ptr().cast(), MSG.len());
            libc::_exit(EXIT_INTERRUPTED as libc::c_int);
        }
    }
}

/// Route SIGINT and SIGTERM to the counter. A signal this process was started ignoring
/// stays ignored (a shell starts background jobs with SIGINT ignored, so that Ctrl-C at the
/// terminal leaves them running). Returns the OS error if a handler could not be installed
/// (the command then stops the default way).
pub fn install() -> std::io::Result<()> {
    #[cfg(unix)]
    for signal in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: `on_signal` is an `extern "C" fn(c_int)` that only does async-signal-safe
        // work; sigaction is given zeroed, then filled, structs.
        unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(signal, std::ptr::null(), &mut old) == 0
                && old.sa_sigaction == libc::SIG_IGN
            {
                continue;
            }
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            libc::sigemptyset(&mut action.sa_mask);
            action.sa_flags = libc::SA_RESTART;
            if libc::sigaction(signal, &action, std::ptr::null_mut()) != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
    }
    Ok(())
}

/// From now on, the first signal exits at once (`true`: everything is saved, e.g. while a
/// final evaluation runs), or asks for a stop at the next safe point (`false`).
pub fn set_immediate(immediate: bool) {
    IMMEDIATE.store(immediate, Ordering::SeqCst);
}

/// Whether a stop was asked for.
pub fn requested() -> bool {
    RECEIVED.load(Ordering::SeqCst) > 0
}

/// The command stopped because it was asked to; the message says what was kept.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Interrupted(pub String);
