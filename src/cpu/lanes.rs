//! Batch-level data parallelism on the CPU: one single-threaded "lane" per core, each
//! running the forward and backward pass of its part of a batch.
//!
//! burn's CPU backend parallelises inside each operation (the matrix products above a
//! size, a few reductions), and on a training step's small shapes that scales poorly: on
//! two cores the second thread bought 0–8% (`bench --threads 1` against `--threads 2`).
//! Splitting the batch instead keeps every operation serial on its own core and leaves
//! only the gradient sum and the optimiser step to share. Each lane is a rayon pool of one
//! thread, so burn's own `rayon` calls inside a lane run serially there and never queue
//! behind the other lane's work.

use std::cell::Cell;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use super::priority::lower_thread_priority;

/// The lanes, made on first use.
static LANES: OnceLock<Lanes> = OnceLock::new();
/// Lanes wanted (0: one per thread of rayon's global pool), read when they are made.
static WANTED: AtomicUsize = AtomicUsize::new(0);
/// Whether lane threads lower their scheduling priority, read when they are made.
static LOW_PRIORITY: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// Whether [`Lanes::run`] called from this thread runs its parts here, one after another.
    static INLINE: Cell<bool> = const { Cell::new(false) };
}

/// Run `f` with every [`Lanes::run`] it makes on this thread done on this thread, part after
/// part, in the same order: the same results as on the lanes (each part's work is the
/// same), without handing work to other threads. When the machine is busy (a window being
/// drawn by a software rasteriser, other runs) low-priority lanes get the CPU late and
/// every hand-off waits; the trainer measures which way is faster.
pub fn inline<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            INLINE.with(|i| i.set(self.0));
        }
    }
    let _restore = Restore(INLINE.with(|i| i.replace(true)));
    f()
}

/// [`inline`] when `yes`, else `f` as it is.
pub fn inline_if<R>(yes: bool, f: impl FnOnce() -> R) -> R {
    if yes { inline(f) } else { f() }
}

/// Single-threaded pools that run the parts of a batch side by side.
#[derive(Debug)]
pub struct Lanes {
    pools: Vec<rayon::ThreadPool>,
}

/// Set how many lanes to make (0: as many as rayon's global pool has threads) and whether
/// their threads run at lowered priority. Takes effect only before the lanes are first
/// used; returns whether it did.
pub fn configure(lanes: usize, low_priority: bool) -> bool {
    WANTED.store(lanes, Ordering::Relaxed);
    LOW_PRIORITY.store(low_priority, Ordering::Relaxed);
    LANES.get().is_none()
}

/// The process's lanes (made on first call, as [`configure`]d). When no lane thread can be
/// started there are none, and callers run their work on the calling thread.
pub fn lanes() -> &'static Lanes {
    LANES.get_or_init(|| {
        let wanted = match WANTED.load(Ordering::Relaxed) {
            0 => rayon::current_num_threads(),
            n => n,
        };
        let low = LOW_PRIORITY.load(Ordering::Relaxed);
        let pools = (0..wanted)
            .map_while(|i| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(1)
                    .thread_name(move |_| format!("train-lane-{i}"))
                    .start_handler(move |_| {
                        if low {
                            lower_thread_priority();
                        }
                    })
                    .build()
                    .ok()
            })
            .collect();
        Lanes { pools }
    })
}

impl Lanes {
    /// Number of lanes.
    pub fn len(&self) -> usize {
        self.pools.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.pools.is_empty()
    }

    /// Run `work(i)` for `i` in `0..parts`, part `i` on lane `i`, side by side, and return
    /// the results in order. With fewer than two lanes the parts run on the calling thread,
    /// one after another; with more parts than lanes the extra parts share the last lane.
    pub fn run<R, F>(&self, parts: usize, work: F) -> Vec<R>
    where
        R: Send,
        F: Fn(usize) -> R + Sync,
    {
        if parts <= 1 || self.pools.len() <= 1 || INLINE.with(Cell::get) {
            return (0..parts).map(&work).collect();
        }
        let mut slots: Vec<Option<R>> = (0..parts).map(|_| None).collect();
        spread(&self.pools, 0, &mut slots, &work);
        slots
            .into_iter()
            .map(|r| {
                // Every slot is filled by `spread`: each scope waits for the job it spawned.
                r.unwrap_or_else(|| unreachable!("a lane's part did not run"))
            })
            .collect()
    }
}

/// Fill `slots[0]` with part `first` on lane `first` while the later parts run on the later
/// lanes; the calling thread only waits. Rayon spawns into the scope's own pool, so each
/// lane gets a scope of its own, nested.
fn spread<R, F>(pools: &[rayon::ThreadPool], first: usize, slots: &mut [Option<R>], work: &F)
where
    R: Send,
    F: Fn(usize) -> R + Sync,
{
    let Some((slot, rest)) = slots.split_first_mut() else {
        return;
    };
    let lane = &pools[first.min(pools.len() - 1)];
    if rest.is_empty() {
        *slot = Some(lane.install(|| work(first)));
        return;
    }
    if first + 1 >= pools.len() {
        // No lane left for the rest: this lane takes them in turn.
        lane.install(|| {
            *slot = Some(work(first));
            for (j, s) in rest.iter_mut().enumerate() {
                *s = Some(work(first + 1 + j));
            }
        });
        return;
    }
    lane.in_place_scope(|scope| {
        scope.spawn(|_| *slot = Some(work(first)));
        spread(pools, first + 1, rest, work);
    });
}
