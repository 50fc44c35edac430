//! Saved watch lists across processes: the shipped example file, and saves killed mid-write.
//! (Single-process behaviour is tested in `src/watchlist.rs`.)

use crate::common;

use lockscope::watchlist::{Settings, State, Store, WatchList, export, import};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

fn example_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config/certbot-watchlist.toml")
}

#[test]
fn example_config_file_is_the_linux_certbot_preset() {
    let list = import(&example_file()).expect("config/certbot-watchlist.toml must import");
    let no_web_server = lockscope::watchlist::certbot_defaults_with(|_| false);
    assert_eq!(list, WatchList::new("certbot", no_web_server).unwrap());
    // Its web-server roots are the preset's, left for the user to uncomment.
    let text = std::fs::read_to_string(example_file()).unwrap();
    for root in lockscope::watchlist::certbot_defaults_with(|_| true)
        .iter()
        .skip(3)
    {
        assert!(
            text.contains(&format!("# \"{}\"", root.display())),
            "{root:?}"
        );
    }
    // Exporting it and importing the result gives the same list.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("copy.toml");
    export(&list, &copy).unwrap();
    assert_eq!(import(&copy).unwrap(), list);
}

/// The two states `examples/watchlist_writer.rs` alternates between (keep in step).
fn writer_state(which: usize) -> State {
    let mut state = State::default();
    let (count, name) = [(2000, "alpha"), (5000, "beta")][which];
    let dirs = (0..count).map(|i| PathBuf::from(format!("/srv/{name}/site-{i}")));
    state.insert(WatchList::new(name, dirs).unwrap()).unwrap();
    state.create(&format!("{name}-empty")).unwrap();
    state.switch(&format!("{name}-empty")).unwrap();
    state
        .set_settings(Settings {
            interval: Duration::from_millis(500 * (which as u64 + 1)),
            lock_name: format!(".lock-{which}"),
        })
        .unwrap();
    state
}

/// xorshift64: random kill delays without a dependency; the seed is printed on failure.
fn next(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

#[test]
fn sigkilled_writer_always_leaves_a_complete_state() {
    let writer = common::example_bin("watchlist_writer");
    let dir = tempfile::tempdir().unwrap();
    let store = Store::new(dir.path());
    let states = [writer_state(0), writer_state(1)];
    store.save(&states[0]).unwrap();

    let mut seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    let start_seed = seed;
    let started = Instant::now();
    let mut seen = [0; 2];
    let temp_files = || {
        std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".tmp")
            })
            .count()
    };
    // A kill that leaves a temp file behind landed between its creation and the rename: the
    // moment this test is about. At least 30 kills, and on until 5 of them landed there (about
    // one in seven does), at most 300.
    const MID_WRITE: usize = 5;
    let mut mid_write = 0;
    let mut kills = 0;
    while kills < 30 || (mid_write < MID_WRITE && kills < 300) {
        let kill = kills;
        kills += 1;
        let temps_before = temp_files();
        let before = std::fs::metadata(store.file()).unwrap().ino();
        let mut child = Command::new(&writer)
            .arg(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("start watchlist_writer");
        // Wait until the writer has replaced the file once: it is inside its save loop.
        let waiting = Instant::now();
        while std::fs::metadata(store.file()).unwrap().ino() == before {
            if let Some(status) = child.try_wait().unwrap() {
                panic!("watchlist_writer exited early: {status}");
            }
            assert!(
                waiting.elapsed() < Duration::from_secs(10),
                "watchlist_writer never saved"
            );
            std::thread::sleep(Duration::from_micros(200));
        }
        std::thread::sleep(Duration::from_micros(next(&mut seed) % 20_000));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        mid_write += temp_files().saturating_sub(temps_before);

        let loaded = store.load().unwrap_or_else(|e| {
            panic!("kill {kill} (seed {start_seed}): load failed: {e}");
        });
        assert_eq!(
            loaded.warnings,
            [],
            "kill {kill} (seed {start_seed}): the file was damaged"
        );
        let which = states
            .iter()
            .position(|s| *s == loaded.state)
            .unwrap_or_else(|| {
                panic!("kill {kill} (seed {start_seed}): loaded a state that was never saved")
            });
        seen[which] += 1;
    }
    eprintln!(
        "{kills} kills in {:?}: state 0 loaded {} times, state 1 {} times; {mid_write} kills \
         landed mid-write (temp files left)",
        started.elapsed(),
        seen[0],
        seen[1]
    );
    assert!(
        mid_write >= MID_WRITE,
        "only {mid_write} of {kills} kills landed mid-write (seed {start_seed}): the test did not \
         exercise an interrupted save"
    );
    assert!(
        !dir.path().join("lockscope.toml.bak").exists(),
        "nothing was ever set aside"
    );
}
