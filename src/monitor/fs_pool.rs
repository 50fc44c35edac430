//! Where the monitor's filesystem calls run: a small pool of worker threads, so that a stuck
//! filesystem (a stopped FUSE daemon, a hung NFS server) blocks one worker, not the engine.
//!
//! The engine hands over a batch of jobs, one per directory, and waits for their answers. A
//! worker that has been on one job longer than [`STALL`] is abandoned: its job's quarantine
//! key (the directory's device, or the directory) is reported stuck, a fresh worker takes over
//! the rest of the queue, and the stuck thread is left to finish whenever the kernel lets it;
//! it then sends [`Command::FsRecovered`] and exits. Workers are never joined, so nothing
//! waits for a stuck call, also not the monitor's shutdown.

use super::Command;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long one filesystem job may take before its worker is abandoned and the rest of the
/// batch goes on without it. Short, because the engine waits this long once per stuck episode.
pub(super) const STALL: Duration = Duration::from_millis(200);

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
                        if matches!(a.slots[i], Slot::Pending) {
                            a.slots[i] = Slot::Done(answer);
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
                if let Some(i) = id.checked_sub(first).map(|i| i as usize)
                    && i < count
                    && matches!(a.slots[i], Slot::Pending)
                {
                    a.slots[i] = Slot::GivenUp;
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

    /// Abandons the workers that have been on one job longer than [`STALL`], and drops the
    /// queued jobs with the same keys (they would only get stuck too). Returns the ids of the
    /// jobs given up.
    fn abandon_stuck(&mut self) -> Vec<u64> {
        let mut given_up = Vec::new();
        let mut keys = Vec::new();
        self.workers.retain(|w| {
            let busy = locked(&w.busy);
            match busy.as_ref() {
                Some((id, key, since)) if since.elapsed() >= STALL => {
                    w.abandoned.store(true, Ordering::SeqCst);
                    given_up.push(*id);
                    keys.push(key.clone());
                    false
                }
                _ => true,
            }
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
    let worker = Worker {
        busy: busy.clone(),
        abandoned: abandoned.clone(),
    };
    std::thread::Builder::new()
        .name("lockscope-fs".into())
        .spawn(move || {
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
