//! Where the monitor's filesystem calls run: a small pool of worker threads, so that a stuck
//! filesystem (a stopped FUSE daemon, a hung NFS server) blocks one worker, not the engine.
//!
//! The engine hands over a batch of jobs, one per directory, and waits for their answers. A
//! worker that has been asleep in the kernel on one job for [`STALL`] (or on one job at all
//! for [`SLOW_LIMIT`]) is abandoned: its job's quarantine key (the directory's device, or the
//! directory) is reported stuck, a fresh worker takes over the rest of the queue, and the stuck
//! thread is left to finish whenever the kernel lets it; its late answer goes nowhere, and it
//! sends [`Command::FsRecovered`] and exits. Workers are never joined, so nothing waits for a
//! stuck call, also not the monitor's shutdown.
//!
//! Asleep, not merely slow: on a loaded machine a probe can take longer than `STALL` while it
//! waits for a CPU (runnable), and calling that filesystem "not responding" would be false.
//! A stopped FUSE daemon or a hung NFS server leaves the worker asleep in the kernel.

use super::Command;
use super::sys::{thread_id, thread_is_waiting};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long a worker may sleep in the kernel on one job before it is abandoned and the rest
/// of the batch goes on without it. Short, because the engine waits this long once per stuck
/// episode.
pub(super) const STALL: Duration = Duration::from_millis(200);

/// How long one job may take at all, runnable or not (a machine so loaded that a probe waits
/// this long for a CPU is indistinguishable from a stuck one). Where a thread's state cannot
/// be read, `STALL` is the limit.
pub(super) const SLOW_LIMIT: Duration = Duration::from_secs(2);

/// Live workers (stuck ones are replaced, not counted).
const WORKERS: usize = 2;

/// What a stuck job is quarantined by: no more jobs are run for it until the stuck call
/// returns.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum StuckKey {
    /// A filesystem (stat's device): every directory on it waits.
    Device(u64),
    /// A directory whose device is not known yet.
    Dir(std::path::PathBuf),
}

type Work = Box<dyn FnOnce() + Send>;

/// One batch's answers, filled in by the workers.
struct Answers<T> {
    slots: Vec<Slot<T>>,
    /// Slots still `Pending`.
    left: usize,
}

enum Slot<T> {
    Pending,
    Done(T),
    /// Its worker got stuck (or it was dropped with a stuck key): a late answer is ignored.
    GivenUp,
}

struct Job {
    id: u64,
    key: StuckKey,
    work: Work,
}

#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    closed: bool,
}

struct Shared {
    queue: Mutex<Queue>,
    ready: Condvar,
}

struct Worker {
    /// The job it is on (id, key), and since when.
    busy: Arc<Mutex<Option<(u64, StuckKey, Instant)>>>,
    abandoned: Arc<AtomicBool>,
    /// The thread's id (`sys::thread_id`), set by the thread itself; 0 until then.
    tid: Arc<AtomicI64>,
    /// Since when the engine has seen it asleep in the kernel on job `.0`, sample after sample.
    asleep: Option<(u64, Instant)>,
}

pub(super) struct FsPool {
    shared: Arc<Shared>,
    workers: Vec<Worker>,
    next_id: u64,
    /// The engine's inbox, for recoveries of abandoned workers.
    inbox: Sender<Command>,
}

/// Locks `m`, ignoring poisoning: every critical section here leaves its data consistent.
pub(super) fn locked<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl FsPool {
    pub(super) fn new(inbox: Sender<Command>) -> FsPool {
        FsPool {
            shared: Arc::new(Shared {
                queue: Mutex::new(Queue::default()),
                ready: Condvar::new(),
            }),
            workers: Vec::new(),
            next_id: 0,
            inbox,
        }
    }

    /// Runs each job (`key`, `work`) on the pool and returns the answers in order: `None` for a
    /// job whose worker got stuck, or that was dropped because another job with its key got
    /// stuck (the caller quarantines those keys), or when no worker thread could be started.
    pub(super) fn run<T: Send + 'static>(
        &mut self,
        jobs: Vec<(StuckKey, Box<dyn FnOnce() -> T + Send>)>,
    ) -> Vec<Option<T>> {
        let count = jobs.len();
        let first = self.next_id;
        self.next_id += count as u64;
        // Answers go into slots; the engine is woken once, by the last one (not per answer:
        // a thread round trip per directory would cost more than the probes).
        let answers = Arc::new((
            Mutex::new(Answers {
                slots: (0..count).map(|_| Slot::Pending).collect(),
                left: count,
            }),
            Condvar::new(),
        ));
        {
            let mut queue = locked(&self.shared.queue);
            for (i, (key, work)) in jobs.into_iter().enumerate() {
                let answers = answers.clone();
                queue.jobs.push_back(Job {
                    id: first + i as u64,
                    key,
                    work: Box::new(move || {
                        let answer = work();
                        let (slots, all_in) = &*answers;
                        let mut a = locked(slots);
                        // `get_mut`: a job given up after STALL may answer after `run` has
                        // returned and taken the slots; that late answer goes nowhere.
                        if let Some(slot @ Slot::Pending) = a.slots.get_mut(i) {
                            *slot = Slot::Done(answer);
                            a.left -= 1;
                            if a.left == 0 {
                                all_in.notify_one();
                            }
                        }
                    }),
                });
            }
        }
        self.shared.ready.notify_all();
        self.top_up();
        let (slots, all_in) = &*answers;
        let mut a = locked(slots);
        while a.left > 0 && !self.workers.is_empty() {
            let (guard, waited) = all_in
                .wait_timeout(a, STALL / 4)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            a = guard;
            if a.left == 0 || !waited.timed_out() {
                continue;
            }
            drop(a);
            let given_up = self.abandon_stuck();
            self.top_up();
            a = locked(slots);
            for id in given_up {
                if let Some(slot @ Slot::Pending) = id
                    .checked_sub(first)
                    .and_then(|i| a.slots.get_mut(usize::try_from(i).ok()?))
                {
                    *slot = Slot::GivenUp;
                    a.left -= 1;
                }
            }
        }
        std::mem::take(&mut a.slots)
            .into_iter()
            .map(|slot| match slot {
                Slot::Done(answer) => Some(answer),
                Slot::Pending | Slot::GivenUp => None,
            })
            .collect()
    }

    /// Abandons the workers that are stuck on a job (see the module's header), and drops the
    /// queued jobs with the same keys (they would only get stuck too). Returns the ids of the
    /// jobs given up. Called every `STALL / 4` while a batch waits: each call is one sample of
    /// the busy workers' states.
    fn abandon_stuck(&mut self) -> Vec<u64> {
        let mut given_up = Vec::new();
        let mut keys = Vec::new();
        self.workers.retain_mut(|w| {
            let busy = locked(&w.busy).clone();
            let Some((id, key, since)) = busy else {
                w.asleep = None;
                return true;
            };
            let stuck = match thread_is_waiting(w.tid.load(Ordering::SeqCst)) {
                Some(true) => {
                    let asleep_since = match w.asleep {
                        Some((job, at)) if job == id => at,
                        _ => Instant::now(),
                    };
                    w.asleep = Some((id, asleep_since));
                    asleep_since.elapsed() >= STALL || since.elapsed() >= SLOW_LIMIT
                }
                Some(false) => {
                    w.asleep = None;
                    since.elapsed() >= SLOW_LIMIT
                }
                None => since.elapsed() >= STALL,
            };
            if stuck {
                w.abandoned.store(true, Ordering::SeqCst);
                given_up.push(id);
                keys.push(key);
            }
            !stuck
        });
        if !keys.is_empty() {
            locked(&self.shared.queue).jobs.retain(|job| {
                let drop = keys.contains(&job.key);
                if drop {
                    given_up.push(job.id);
                }
                !drop
            });
        }
        given_up
    }

    fn top_up(&mut self) {
        while self.workers.len() < WORKERS {
            match spawn_worker(self.shared.clone(), self.inbox.clone()) {
                Some(w) => self.workers.push(w),
                None => break,
            }
        }
    }
}

impl Drop for FsPool {
    fn drop(&mut self) {
        locked(&self.shared.queue).closed = true;
        self.shared.ready.notify_all();
    }
}

fn spawn_worker(shared: Arc<Shared>, inbox: Sender<Command>) -> Option<Worker> {
    let busy = Arc::new(Mutex::new(None));
    let abandoned = Arc::new(AtomicBool::new(false));
    let tid = Arc::new(AtomicI64::new(0));
    let worker = Worker {
        busy: busy.clone(),
        abandoned: abandoned.clone(),
        tid: tid.clone(),
        asleep: None,
    };
    std::thread::Builder::new()
        .name("lockscope-fs".into())
        .spawn(move || {
            tid.store(thread_id(), Ordering::SeqCst);
            loop {
                let job = {
                    let mut queue = locked(&shared.queue);
                    loop {
                        if abandoned.load(Ordering::SeqCst) || queue.closed {
                            return;
                        }
                        if let Some(job) = queue.jobs.pop_front() {
                            break job;
                        }
                        queue = shared
                            .ready
                            .wait(queue)
                            .unwrap_or_else(|poisoned| poisoned.into_inner());
                    }
                };
                *locked(&busy) = Some((job.id, job.key.clone(), Instant::now()));
                (job.work)();
                *locked(&busy) = None;
                if abandoned.load(Ordering::SeqCst) {
                    // The engine gave up on this job: tell it the filesystem answers again.
                    let _ = inbox.send(Command::FsRecovered(job.key));
                    return;
                }
            }
        })
        .ok()?;
    Some(worker)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    /// A job slower than STALL is given up; when it finally returns, its late answer must be
    /// dropped (not written into slots the batch no longer owns) and the engine told that the
    /// filesystem answers again, so the directory is retried. Before the fix, the late answer
    /// indexed the taken (empty) slots and the worker panicked, so no recovery ever came.
    #[test]
    fn a_late_answer_is_dropped_and_the_key_recovers() {
        let (inbox, commands) = mpsc::channel();
        let mut pool = FsPool::new(inbox);
        let key = StuckKey::Dir("/slow".into());
        let slow: Box<dyn FnOnce() -> u32 + Send> = Box::new(|| {
            std::thread::sleep(STALL * 2);
            1
        });
        let fast: Box<dyn FnOnce() -> u32 + Send> = Box::new(|| 2);
        let answers = pool.run(vec![
            (key.clone(), slow),
            (StuckKey::Dir("/fast".into()), fast),
        ]);
        assert_eq!(answers, vec![None, Some(2)]);
        match commands.recv_timeout(STALL * 20) {
            Ok(Command::FsRecovered(k)) => assert_eq!(k, key),
            Ok(_) => panic!("an unexpected command instead of the recovery"),
            Err(e) => {
                panic!("no recovery after the slow job returned ({e}): did its worker panic?")
            }
        }
        // The pool still works afterwards.
        let again: Box<dyn FnOnce() -> u32 + Send> = Box::new(|| 3);
        assert_eq!(pool.run(vec![(key, again)]), vec![Some(3)]);
    }

    /// On a loaded machine a probe can take longer than STALL while it waits for a CPU: that
    /// is not a stuck filesystem, and its answer must be used (before, every job over 200 ms
    /// was given up and its directory said `not-responding`).
    #[cfg(target_os = "linux")]
    #[test]
    fn a_job_that_is_slow_but_running_is_not_given_up() {
        let (inbox, _commands) = mpsc::channel();
        let mut pool = FsPool::new(inbox);
        let busy: Box<dyn FnOnce() -> u64 + Send> = Box::new(|| {
            let start = Instant::now();
            let mut spins = 0u64;
            while start.elapsed() < STALL * 3 {
                spins = std::hint::black_box(spins + 1);
            }
            spins
        });
        let answers = pool.run(vec![(StuckKey::Dir("/busy".into()), busy)]);
        assert!(answers[0].is_some(), "a running job was given up");
    }
}
