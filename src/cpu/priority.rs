//! Lowering a thread's scheduling priority, for training threads that share the machine
//! with a window. Only the calling thread changes, never the process: each app (each
//! worker) asks for its own training threads, and work those threads hand to helper threads
//! goes to helpers of the same priority ([`crate::cpu::lanes::lanes`] picks them by
//! [`lowered_here`]).

use std::cell::Cell;

thread_local! {
    /// Whether [`lower_thread_priority`] lowered this thread.
    static LOWERED: Cell<bool> = const { Cell::new(false) };
}

/// Whether [`lower_thread_priority`] lowered the calling thread (to the idle policy or a
/// nice value).
pub fn lowered_here() -> bool {
    LOWERED.with(Cell::get)
}

/// The kernel's id of the calling thread (Linux: `gettid`; 0 elsewhere), as
/// `/proc/self/task/` and `sched_getscheduler` name it.
pub fn thread_id() -> i32 {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: gettid has no preconditions and cannot fail.
        unsafe { libc::syscall(libc::SYS_gettid) as i32 }
    }
    #[cfg(not(target_os = "linux"))]
    {
        0
    }
}

/// Niceness given to training threads by [`lower_thread_priority`] where the idle policy
/// is refused.
pub const TRAINING_NICENESS: i32 = 10;

/// How [`lower_thread_priority`] lowered the calling thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lowered {
    /// Linux `SCHED_IDLE`: the thread runs only when a core would otherwise idle, and the
    /// UI thread or the software rasteriser's threads take the core back at once.
    Idle,
    /// Nice +[`TRAINING_NICENESS`] (the idle policy was refused).
    Nice,
    /// Unchanged (not Linux, or both were refused).
    Unchanged,
}

/// Lower the calling thread's scheduling priority, so that the window (its UI thread and a
/// software rasteriser's threads) wins the CPU whenever it wants it: Linux `SCHED_IDLE`, or
/// nice +[`TRAINING_NICENESS`] where that is refused; elsewhere nothing changes.
///
/// `SCHED_IDLE` rather than a nice value: under nice +10 a dragging user's frames still
/// waited behind training (p95 58–68 ms against 43 ms at 1600×1000 under lavapipe, the guide's measurements);
/// a thread may always lower itself to it, no privilege needed.
pub fn lower_thread_priority() -> Lowered {
    let lowered = lower_os_priority();
    if lowered != Lowered::Unchanged {
        LOWERED.with(|l| l.set(true));
    }
    lowered
}

/// [`lower_thread_priority`]'s request to the kernel.
fn lower_os_priority() -> Lowered {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: gettid has no preconditions; sched_setscheduler and setpriority on our
        // own thread id change only this thread's scheduling.
        unsafe {
            let tid = libc::syscall(libc::SYS_gettid) as libc::pid_t;
            let param = libc::sched_param { sched_priority: 0 };
            if libc::sched_setscheduler(tid, libc::SCHED_IDLE, &param) == 0 {
                return Lowered::Idle;
            }
            if libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, TRAINING_NICENESS) == 0 {
                return Lowered::Nice;
            }
            Lowered::Unchanged
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        Lowered::Unchanged
    }
}
