//! Run directories (written by `train --run-dir`, followed by the app), the run
//! specification shared by the CLI and the app, and the step gate runs share the CPU through.

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use latent_explorer::checkpoint::DatasetInfo;
use latent_explorer::rundir::{Follower, METRICS_FILE, Record, RunDirReader, RunDirWriter};
use latent_explorer::train::{Event, RunSpec, StepGate, Trainer, WorkerState};

use crate::common::{cpu, param_values, small};

#[derive(Parser)]
struct SpecOnly {
    #[command(flatten)]
    spec: RunSpec,
}

#[test]
fn run_spec_defaults_are_the_command_lines_and_build_the_same_config() {
    let parsed = SpecOnly::try_parse_from(["x"]).unwrap().spec;
    assert_eq!(parsed, RunSpec::default());
    let custom = SpecOnly::try_parse_from([
        "x",
        "--variant",
        "beta-vae",
        "--hidden",
        "300,100",
        "--kl-schedule",
        "cyclical",
        "--epochs",
        "4",
        "--batch",
        "100",
    ])
    .unwrap()
    .spec;
    let data = small(1000, 10);
    let cfg = custom.train_config(&data);
    assert_eq!(cfg.beta, 4.0, "β-VAE's default β");
    assert_eq!(cfg.model.arch.to_string(), "mlp[300-100]");
    match cfg.schedule {
        latent_explorer::variant::KlSchedule::Cyclical { total_steps, .. } => {
            assert_eq!(total_steps, 4 * 10, "1000 images / batch 100 × 4 epochs")
        }
        other => panic!("expected a cyclical schedule, got {other:?}"),
    }
    // Zero epochs is refused with a message, not run.
    let zero = RunSpec {
        epochs: 0,
        ..RunSpec::default()
    };
    let err = Trainer::new(zero.train_config(&data), data.clone(), &cpu())
        .err()
        .expect("zero epochs refused")
        .to_string();
    assert!(err.contains("epochs"), "{err}");
}

/// Poll `cond` until it holds; the deadline only fails the test.
fn eventually(what: &str, cond: impl Fn() -> bool) {
    let t = Instant::now();
    while !cond() {
        assert!(t.elapsed() < Duration::from_secs(10), "timed out: {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn the_gate_admits_at_most_its_slots_first_come_first_served() {
    let gate = Arc::new(StepGate::new(1));
    let order = Arc::new(Mutex::new(Vec::new()));
    // Hold the gate while four threads queue up in a known order.
    let first = gate.enter();
    let mut threads = Vec::new();
    for i in 0..4 {
        let (g, order) = (gate.clone(), order.clone());
        threads.push(std::thread::spawn(move || {
            let _t = g.enter();
            // Inside: nobody else is (one slot).
            assert_eq!(g.active(), 1, "two inside a one-slot gate");
            order.lock().unwrap().push(i);
        }));
        // Thread i queues before thread i + 1.
        eventually("a thread to queue", || gate.waiting() == i + 1);
    }
    // While the slot is held, all four wait and none is inside.
    assert_eq!((gate.active(), gate.waiting()), (1, 4));
    assert!(
        order.lock().unwrap().is_empty(),
        "one got in past a full gate"
    );
    drop(first);
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(
        *order.lock().unwrap(),
        vec![0, 1, 2, 3],
        "not first come first served"
    );
    assert_eq!((gate.active(), gate.waiting()), (0, 0));

    // Two slots: two at once, and a third waits until one leaves.
    let gate = Arc::new(StepGate::new(2));
    let (a, b) = (gate.enter(), gate.enter());
    assert_eq!((gate.active(), gate.waiting()), (2, 0), "two fit at once");
    let entered = Arc::new(AtomicUsize::new(0));
    let third = {
        let (g, entered) = (gate.clone(), entered.clone());
        std::thread::spawn(move || {
            let _t = g.enter();
            entered.store(1, Ordering::SeqCst);
            assert!(g.active() <= 2, "three inside a two-slot gate");
        })
    };
    eventually("the third to wait", || gate.waiting() == 1);
    assert_eq!(entered.load(Ordering::SeqCst), 0, "a third got in");
    drop(a);
    eventually("the third to enter", || entered.load(Ordering::SeqCst) == 1);
    third.join().unwrap();
    drop(b);
    assert_eq!((gate.active(), gate.waiting()), (0, 0));
}

/// A training thread lowers itself to the idle policy (Linux): it then runs only on a core
/// the window leaves idle. What it reports is what the kernel says of the thread.
#[test]
fn a_lowered_thread_takes_the_idle_policy_and_says_so() {
    use latent_explorer::cpu::priority::{Lowered, TRAINING_NICENESS, lower_thread_priority};
    let (lowered, policy, nice, main_policy) = std::thread::spawn(|| {
        let lowered = lower_thread_priority();
        // SAFETY: plain queries of this thread's scheduling.
        let (policy, nice) = unsafe {
            let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
            (
                libc::sched_getscheduler(0),
                libc::getpriority(libc::PRIO_PROCESS, tid),
            )
        };
        // SAFETY: as above, for the process's main thread.
        let main_policy = unsafe { libc::sched_getscheduler(libc::getpid()) };
        (lowered, policy, nice, main_policy)
    })
    .join()
    .expect("thread");
    match lowered {
        Lowered::Idle => assert_eq!(policy, libc::SCHED_IDLE),
        Lowered::Nice => {
            assert_eq!(policy, libc::SCHED_OTHER);
            assert_eq!(nice, TRAINING_NICENESS);
        }
        Lowered::Unchanged => panic!("neither the idle policy nor nice was taken"),
    }
    // Linux lets any thread lower itself to SCHED_IDLE; the fallback is for other kernels'
    // refusals, not this one's.
    assert_eq!(lowered, Lowered::Idle);
    // Only the calling thread changed.
    assert_eq!(main_policy, libc::SCHED_OTHER);
}

/// What the kernel says of a thread of this process: its scheduling policy and nice value,
/// and its name (`/proc/self/task/ID/comm`, which also shows it is one of ours).
pub(crate) fn thread_scheduling(tid: i32) -> (i32, i32, String) {
    let comm = std::fs::read_to_string(format!("/proc/self/task/{tid}/comm"))
        .unwrap_or_else(|e| panic!("thread {tid} is not a thread of this process: {e}"));
    // SAFETY: plain queries of one thread's scheduling.
    let (policy, nice) = unsafe {
        (
            libc::sched_getscheduler(tid),
            libc::getpriority(libc::PRIO_PROCESS, tid as libc::id_t),
        )
    };
    (policy, nice, comm.trim().to_string())
}

/// Check that every thread in `ids` is lowered to the idle policy (`low`) or schedules as
/// the process's main thread does.
#[track_caller]
pub(crate) fn assert_threads_scheduled(ids: &[i32], low: bool, what: &str) {
    // SAFETY: plain queries of the main thread's scheduling.
    let main = unsafe {
        (
            libc::sched_getscheduler(libc::getpid()),
            libc::getpriority(libc::PRIO_PROCESS, libc::getpid() as libc::id_t),
        )
    };
    assert_ne!(
        main.0,
        libc::SCHED_IDLE,
        "the test process itself runs idle"
    );
    for &tid in ids {
        let (policy, nice, name) = thread_scheduling(tid);
        if low {
            assert_eq!(
                policy,
                libc::SCHED_IDLE,
                "{what}: thread {tid} ({name}) is not at the idle policy"
            );
        } else {
            assert_eq!(
                (policy, nice),
                main,
                "{what}: thread {tid} ({name}) is not scheduled as the main thread (policy, nice)"
            );
        }
    }
}

/// Two workers in one process, one asking for lowered priority and one not: every thread
/// the lowered one trains on (its own, its compute pool's, the CPU lanes its batches are
/// split over) is at the idle policy, and every thread of the other one is as the process
/// is. The policy belongs to each worker, not to whoever set a process-wide switch first.
#[test]
fn a_workers_training_threads_take_its_priority_and_only_its() {
    use latent_explorer::train::{Command, TrainConfig, WorkerOptions, spawn_trainer};
    let data = small(512, 64);
    let spawn = |low: bool| {
        let mut cfg = TrainConfig {
            epochs: 1000,
            batch_size: 64,
            ..TrainConfig::default()
        };
        cfg.model.arch = latent_explorer::model::ArchConfig::Mlp { hidden: vec![64] };
        cfg.model.latent_dim = 4;
        let t = Trainer::new(cfg, data.clone(), &cpu()).unwrap();
        let h = spawn_trainer(
            t,
            WorkerOptions {
                low_priority: low,
                ..WorkerOptions::default()
            },
        )
        .unwrap();
        assert!(h.send(Command::Start));
        h
    };
    // The unlowered worker first and then the lowered one, and the other way round: the
    // first to start decides nothing for the other.
    for order in [[false, true], [true, false]] {
        let workers: Vec<_> = order.iter().map(|&low| (low, spawn(low))).collect();
        for (low, h) in &workers {
            // Steps taken: the pools and the lanes have started and trained.
            let mut steps = 0;
            let deadline = Instant::now() + Duration::from_secs(120);
            while steps < 3 {
                assert!(
                    Instant::now() < deadline,
                    "no steps from the worker (low {low})"
                );
                match h.recv_timeout(Duration::from_secs(5)) {
                    Some(Event::Step(_)) => steps += 1,
                    Some(Event::Error(e)) => panic!("{e}"),
                    _ => {}
                }
            }
        }
        let lanes = latent_explorer::cpu::lanes::count();
        let mut all = Vec::new();
        for (low, h) in &workers {
            // Its own thread, its pool's threads and the lanes (one per core each). A pool
            // thread registers when it first runs, which on a loaded machine can come after
            // the first steps: wait for all of them.
            let want = 1 + 2 * lanes;
            let deadline = Instant::now() + Duration::from_secs(30);
            while h.training_threads().len() < want && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let ids = h.training_threads();
            assert_eq!(
                ids.len(),
                want,
                "worker (low {low}): training threads {ids:?}"
            );
            assert_threads_scheduled(&ids, *low, &format!("the worker asking low {low}"));
            all.extend(ids);
        }
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n, "the two workers share a training thread");
        for (_, h) in workers {
            h.shutdown();
        }
    }
}

#[test]
fn a_reader_sees_only_complete_lines_and_names_a_bad_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(METRICS_FILE);
    let mut r = RunDirReader::new(dir.path());
    assert!(r.poll().is_empty(), "no file yet: nothing, no error");
    let mut f = std::fs::File::create(&path).unwrap();
    let end = Record::End {
        epoch: 3,
        step: 30,
        error: None,
    };
    let line = serde_json::to_string(&end).unwrap();
    // Half a line: nothing yet.
    f.write_all(&line.as_bytes()[..10]).unwrap();
    f.flush().unwrap();
    assert!(r.poll().is_empty());
    f.write_all(&line.as_bytes()[10..]).unwrap();
    f.write_all(b"\n{not json}\n").unwrap();
    f.write_all(line.as_bytes()).unwrap();
    f.write_all(b"\n").unwrap();
    f.flush().unwrap();
    let got = r.poll();
    assert_eq!(got.len(), 3);
    assert_eq!(got[0].as_ref().unwrap(), &end);
    let e = got[1].as_ref().unwrap_err();
    assert!(e.contains(METRICS_FILE) && e.contains("line 2"), "{e}");
    assert_eq!(got[2].as_ref().unwrap(), &end);
    assert!(r.poll().is_empty(), "nothing new");
    // Another run started in the directory: the reader says so and stops.
    std::fs::write(&path, b"").unwrap();
    let got = r.poll();
    assert_eq!(got.len(), 1);
    let e = got[0].as_ref().unwrap_err();
    assert!(e.contains("shrank"), "{e}");
    assert!(r.stopped());
    std::fs::write(&path, format!("{line}\n")).unwrap();
    assert!(r.poll().is_empty(), "a stopped reader reads nothing more");
}

#[test]
fn a_followed_directory_delivers_steps_and_each_epochs_weights_as_they_land() {
    let data = small(256, 64);
    let cfg = RunSpec {
        batch: 64,
        epochs: 3,
        ..RunSpec::default()
    }
    .train_config(&data);
    let dir = tempfile::tempdir().unwrap();
    let mut trainer = Trainer::new(cfg.clone(), data.clone(), &cpu()).unwrap();
    let mut writer = RunDirWriter::create(dir.path(), &cfg, DatasetInfo::of(&data), None).unwrap();
    // A second writer refuses the same directory.
    assert!(RunDirWriter::create(dir.path(), &cfg, DatasetInfo::of(&data), None).is_err());
    let follower = Follower::spawn(dir.path(), cpu(), None).unwrap();
    let mut saved = Vec::new();
    for epoch in 1..=2 {
        loop {
            let out = trainer.step().unwrap();
            writer.step(&out.metrics).unwrap();
            if out.epoch_done {
                break;
            }
        }
        let snap = trainer.snapshot();
        let m = trainer.evaluate(0);
        writer.epoch(&snap, &m, 1000.0).unwrap();
        saved.push(param_values(&snap.model));
        // The follower delivers this epoch before the next is trained.
        // Generous: it bounds a failure only, and the suite runs other training beside it.
        let deadline = Instant::now() + Duration::from_secs(90);
        let mut steps = 0;
        loop {
            // A quiet 200 ms is no failure (the follower polls, and the suite trains
            // beside it); only the deadline is.
            let ev = follower.recv_timeout(Duration::from_millis(200));
            if ev.is_none() && Instant::now() < deadline {
                continue;
            }
            match ev {
                Some(Event::Step(_)) => steps += 1,
                Some(Event::Epoch {
                    epoch: e, snapshot, ..
                }) => {
                    assert_eq!(e, epoch);
                    assert_eq!(snapshot.epoch, epoch);
                    assert_eq!(
                        param_values(&snapshot.model),
                        saved[epoch - 1],
                        "the followed weights are the epoch's weights"
                    );
                    break;
                }
                Some(Event::Error(e)) => panic!("the follower failed: {e}"),
                Some(_) => {}
                None => panic!("epoch {epoch} did not arrive"),
            }
        }
        assert!(
            epoch > 1 || steps == 4,
            "{steps} step records before epoch 1"
        );
    }
    assert_eq!(follower.info().start.map(|(c, _)| c), Some(cfg));
    writer.end(2, trainer.step_count(), None).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match follower.recv_timeout(Duration::from_millis(200)) {
            Some(Event::State(WorkerState::Finished)) => break,
            _ if Instant::now() > deadline => panic!("no end of training"),
            _ => {}
        }
    }
}
