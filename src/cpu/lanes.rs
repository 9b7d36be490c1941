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
use std::sync::{Arc, Mutex, OnceLock};

use super::priority::{lower_thread_priority, lowered_here, thread_id};

/// The lanes, made on first use: `[0]` at normal priority, `[1]` lowered. A thread takes
/// the lanes of its own priority ([`lanes`]), so one app's lowered training never lowers
/// another's (or a command's) lanes, and lowered work never waits on normal-priority helpers
/// it would starve.
static LANES: [OnceLock<Lanes>; 2] = [OnceLock::new(), OnceLock::new()];

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

/// Whether a kernel called on this thread may share its loops with the thread's rayon
/// pool: not [`inline`], and in a pool of more than one thread. Inline, the kernels run
/// their loops serially: the inline way's products, split over the pool's two threads,
/// went to 18–31k images/s on the MLP against 40k for the same work on one thread, from
/// the hand-offs.
pub fn may_share() -> bool {
    !INLINE.with(Cell::get) && rayon::current_num_threads() > 1
}

/// [`inline`] when `yes`, else `f` as it is.
pub fn inline_if<R>(yes: bool, f: impl FnOnce() -> R) -> R {
    if yes { inline(f) } else { f() }
}

/// Single-threaded pools that run the parts of a batch side by side.
#[derive(Debug)]
pub struct Lanes {
    pools: Vec<rayon::ThreadPool>,
    /// Whether their threads lowered their priority.
    lowered: bool,
    /// The kernel ids of their threads, as each started.
    threads: Arc<Mutex<Vec<i32>>>,
}

/// How many lanes a set has: one per thread of rayon's global pool.
pub fn count() -> usize {
    rayon::current_num_threads()
}

/// The lanes of the calling thread's priority (made on first call): lowered ones for a
/// thread [`lower_thread_priority`] lowered, else normal ones. When no lane thread can be
/// started there are none, and callers run their work on the calling thread.
pub fn lanes() -> &'static Lanes {
    lanes_of(lowered_here())
}

/// The lanes whose threads run at lowered priority (`low`) or at normal priority, made on
/// first call.
pub fn lanes_of(low: bool) -> &'static Lanes {
    LANES[usize::from(low)].get_or_init(|| {
        let threads = Arc::new(Mutex::new(Vec::new()));
        let pools = (0..count())
            .map_while(|i| {
                let threads = threads.clone();
                rayon::ThreadPoolBuilder::new()
                    .num_threads(1)
                    .thread_name(move |_| {
                        format!("train-lane-{i}{}", if low { "-low" } else { "" })
                    })
                    .start_handler(move |_| {
                        if low {
                            lower_thread_priority();
                        }
                        threads
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .push(thread_id());
                    })
                    .build()
                    .ok()
            })
            .collect();
        Lanes {
            pools,
            lowered: low,
            threads,
        }
    })
}

impl Lanes {
    /// Whether their threads were asked to run at lowered priority.
    pub fn lowered(&self) -> bool {
        self.lowered
    }

    /// The kernel ids of the lane threads started so far (each records itself as it
    /// starts), to check their scheduling from outside.
    pub fn thread_ids(&self) -> Vec<i32> {
        self.threads
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

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
