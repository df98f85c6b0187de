//! The health-state database (`ayadns::state`) against real SQLite files in temporary folders:
//! round trips through a reopened file, the background writer's batching, retention, files
//! that cannot be opened, and a writer process killed with SIGKILL mid-write.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ayadns::state::{
    EndpointState, Retention, SCHEMA_VERSION, StateError, StateStore, StateWriter, Transition,
};

// ---------------------------------------------------------------------------------------------
// helpers

/// Milliseconds since the epoch: what the store keeps of a time.
fn ms(t: SystemTime) -> i128 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_millis() as i128,
        Err(e) => -(e.duration().as_millis() as i128),
    }
}

/// `s` as the store gives it back: times truncated to whole milliseconds.
fn at_ms_precision(mut s: EndpointState) -> EndpointState {
    let trunc = |t: SystemTime| {
        let m = ms(t);
        if m >= 0 {
            UNIX_EPOCH + Duration::from_millis(m as u64)
        } else {
            UNIX_EPOCH - Duration::from_millis((-m) as u64)
        }
    };
    s.last_change = trunc(s.last_change);
    s.updated_at = trunc(s.updated_at);
    s
}

fn state(endpoint: &str, region: &str, n: u32) -> EndpointState {
    EndpointState {
        endpoint: endpoint.into(),
        region: region.into(),
        up: n % 2 == 1,
        successes: n,
        failures: n * 2,
        last_rtt_ms: (!n.is_multiple_of(4)).then(|| f64::from(n) * 1.5),
        // Sub-millisecond parts on purpose: they must be truncated, not rounded or kept.
        last_change: UNIX_EPOCH + Duration::new(1_700_000_000 + u64::from(n), 123_456_789),
        last_error: n
            .is_multiple_of(3)
            .then(|| format!("connect: refused ({n})")),
        updated_at: UNIX_EPOCH + Duration::new(1_700_000_100 + u64::from(n), 999_999_999),
    }
}

fn transition(endpoint: &str, region: &str, at_ms: u64, reason: &str) -> Transition {
    Transition {
        endpoint: endpoint.into(),
        region: region.into(),
        from_up: at_ms.is_multiple_of(2),
        to_up: at_ms % 2 == 1,
        at: UNIX_EPOCH + Duration::from_millis(at_ms),
        reason: reason.into(),
    }
}

fn reasons(ts: &[Transition]) -> Vec<&str> {
    ts.iter().map(|t| t.reason.as_str()).collect()
}

/// Open a database expected to fail, and return the error.
fn open_err(path: &Path) -> StateError {
    match StateStore::open(path) {
        Ok(_) => panic!("{} opened, expected an error", path.display()),
        Err(e) => e,
    }
}

fn transitions_count(path: &Path) -> usize {
    let c = rusqlite::Connection::open(path).unwrap();
    c.query_row("SELECT count(*) FROM transitions", [], |r| {
        r.get::<_, i64>(0)
    })
    .unwrap() as usize
}

// ---------------------------------------------------------------------------------------------
// round trip

#[test]
fn round_trip_through_a_reopened_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data/nested/ayadns.db"); // folders are created
    {
        let mut store = StateStore::open(&path).unwrap();
        assert_eq!(store.path(), path);
        store
            .write_batch(
                &[
                    state("web1", "eu", 1),
                    state("web1", "us", 2),
                    state("web2", "eu", 3),
                ],
                &[
                    transition("web1", "eu", 1000, "a"),
                    transition("web2", "*", 2000, "b"),
                ],
            )
            .unwrap();
        // A second batch: an upsert of an existing key, a new key, more transitions (one at
        // the same millisecond as an earlier one: insertion order breaks the tie).
        store
            .write_batch(
                &[state("web1", "us", 8), state("api", "ap", 4)],
                &[
                    transition("web1", "*", 3000, "c"),
                    transition("web1", "us", 3000, "d"),
                    transition("web2", "eu", 2500, "e"),
                ],
            )
            .unwrap();
        // Empty batches are fine.
        store.write_batch(&[], &[]).unwrap();
    }
    let store = StateStore::open(&path).unwrap();
    let want: Vec<_> = [
        state("api", "ap", 4),
        state("web1", "eu", 1),
        state("web1", "us", 8),
        state("web2", "eu", 3),
    ]
    .into_iter()
    .map(at_ms_precision)
    .collect();
    assert_eq!(store.load_states().unwrap(), want);
    // The sub-millisecond parts were really there, and are gone.
    assert_ne!(store.load_states().unwrap()[0], state("api", "ap", 4));

    let all = store.history(100, None).unwrap();
    assert_eq!(reasons(&all), ["d", "c", "e", "b", "a"], "newest first");
    assert_eq!(
        all[0],
        transition("web1", "us", 3000, "d"),
        "every field survives"
    );
    assert_eq!(reasons(&store.history(2, None).unwrap()), ["d", "c"]);
    assert!(store.history(0, None).unwrap().is_empty());
    assert_eq!(
        reasons(&store.history(100, Some("web1")).unwrap()),
        ["d", "c", "a"]
    );
    assert_eq!(reasons(&store.history(1, Some("web2")).unwrap()), ["e"]);
    assert!(store.history(100, Some("nope")).unwrap().is_empty());
}

#[test]
fn an_empty_new_database_has_nothing_and_the_current_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let store = StateStore::open(&path).unwrap();
    assert!(store.load_states().unwrap().is_empty());
    assert!(store.history(10, None).unwrap().is_empty());
    drop(store);
    let c = rusqlite::Connection::open(&path).unwrap();
    let v: i64 = c
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(v, SCHEMA_VERSION);
    let mode: String = c
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal", "WAL mode is persistent in the file");
}

// ---------------------------------------------------------------------------------------------
// the writer

#[test]
fn the_writer_coalesces_and_flush_makes_it_visible() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    // A flush interval that never comes: only flush() (or 1000 updates) writes.
    let writer = StateWriter::spawn(
        StateStore::open(&path).unwrap(),
        Duration::from_secs(3600),
        Retention::default(),
    );
    let other = StateStore::open(&path).unwrap(); // a second connection
    let h2 = writer.clone(); // handles are cheap clones, usable from any thread
    let sent: Vec<Transition> = (0..300)
        .map(|i| transition("web1", "eu", 10_000 + i, &format!("t{i}")))
        .collect();
    std::thread::scope(|s| {
        s.spawn(|| {
            for n in 1..=400 {
                h2.record(state("web1", "eu", n));
            }
        });
        for t in &sent {
            writer.transition(t.clone());
        }
        for n in 1..=50 {
            writer.record(state("web2", "us", n));
        }
    });
    assert!(
        other.load_states().unwrap().is_empty() && other.history(10, None).unwrap().is_empty(),
        "nothing is written before the batch is due"
    );
    writer.flush();
    assert_eq!(
        other.load_states().unwrap(),
        [
            at_ms_precision(state("web1", "eu", 400)),
            at_ms_precision(state("web2", "us", 50))
        ],
        "one row per key, with the newest values"
    );
    let mut got = other.history(1000, None).unwrap();
    got.reverse();
    assert_eq!(got, sent, "every transition, in the order sent");

    // More after a flush, then close(): close flushes too.
    writer.record(state("web1", "eu", 401));
    writer.transition(transition("web1", "eu", 20_000, "last"));
    writer.close();
    assert_eq!(
        other.load_states().unwrap()[0],
        at_ms_precision(state("web1", "eu", 401))
    );
    assert_eq!(reasons(&other.history(1, None).unwrap()), ["last"]);
    // Updates through a handle after close are dropped, not a panic or a hang.
    h2.record(state("web1", "eu", 999));
    h2.flush();
}

#[test]
fn flush_returns_only_once_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let writer = StateWriter::spawn(
        StateStore::open(&path).unwrap(),
        Duration::from_secs(3600),
        Retention::default(),
    );
    writer.flush(); // the start-up prune is done
    // Another connection holds the write lock for 300 ms: the write has to wait for it
    // (within the busy timeout), and so must flush().
    let other = rusqlite::Connection::open(&path).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let release = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        other.execute_batch("COMMIT").unwrap();
    });
    writer.record(state("web1", "eu", 1));
    let start = Instant::now();
    writer.flush();
    let waited = start.elapsed();
    let reader = StateStore::open(&path).unwrap();
    assert_eq!(
        reader.load_states().unwrap(),
        [at_ms_precision(state("web1", "eu", 1))],
        "flush() returned after {waited:?}, before the write"
    );
    assert!(waited >= Duration::from_millis(250), "{waited:?}");
    release.join().unwrap();
    writer.close();
}

#[test]
fn the_writer_flushes_by_itself_after_flush_every() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let writer = StateWriter::spawn(
        StateStore::open(&path).unwrap(),
        Duration::from_millis(50),
        Retention::default(),
    );
    let other = StateStore::open(&path).unwrap();
    let start = Instant::now();
    writer.record(state("web1", "eu", 1));
    writer.transition(transition("web1", "eu", 1, "up"));
    while other.history(1, None).unwrap().is_empty() {
        assert!(start.elapsed() < Duration::from_secs(10), "never flushed");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(other.load_states().unwrap().len(), 1);
    writer.close();
}

// ---------------------------------------------------------------------------------------------
// retention

#[test]
fn prune_by_age() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let mut store = StateStore::open(&path).unwrap();
    let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let day = Duration::from_secs(86_400);
    let ago = |d: Duration, r: &str| Transition {
        at: now - d,
        ..transition("e", "*", 0, r)
    };
    store
        .write_batch(
            &[state("e", "eu", 1)],
            &[
                ago(day * 30, "30d"),
                ago(day * 8, "8d"),
                ago(day * 6, "6d"),
                ago(Duration::ZERO, "now"),
            ],
        )
        .unwrap();
    let deleted = store.prune(&Retention::default(), now).unwrap();
    assert_eq!(deleted, 2);
    assert_eq!(reasons(&store.history(10, None).unwrap()), ["now", "6d"]);
    assert_eq!(
        store.prune(&Retention::default(), now).unwrap(),
        0,
        "idempotent"
    );
    assert_eq!(
        store.load_states().unwrap().len(),
        1,
        "states are not pruned"
    );
}

#[test]
fn prune_by_row_count_keeps_the_newest() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let mut store = StateStore::open(&path).unwrap();
    // Inserted out of time order: "oldest" means by time, not by insertion.
    let ts: Vec<_> = [5u64, 1, 9, 3, 7, 2, 8]
        .iter()
        .map(|&s| transition("e", "*", s * 1000, &format!("{s}")))
        .collect();
    store.write_batch(&[], &ts).unwrap();
    let now = UNIX_EPOCH + Duration::from_secs(10);
    let r = Retention {
        max_age: Duration::from_secs(3600),
        max_rows: 4,
    };
    assert_eq!(store.prune(&r, now).unwrap(), 3);
    assert_eq!(
        reasons(&store.history(10, None).unwrap()),
        ["9", "8", "7", "5"]
    );
    // Both limits at once: age removes 5 (cutoff 6 s), the count leaves the newest 2.
    let r = Retention {
        max_age: Duration::from_secs(4),
        max_rows: 2,
    };
    assert_eq!(store.prune(&r, now).unwrap(), 2);
    assert_eq!(reasons(&store.history(10, None).unwrap()), ["9", "8"]);
    assert_eq!(transitions_count(&path), 2);
}

// ---------------------------------------------------------------------------------------------
// files that cannot be opened

#[test]
fn a_file_that_is_not_sqlite_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in [
        (
            "garbage.db",
            (0..8192u32)
                .map(|i| (i * 7919 % 251) as u8)
                .collect::<Vec<u8>>(),
        ),
        ("notes.db", b"these are my notes, not a database\n".to_vec()),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, &bytes).unwrap();
        let e = open_err(&path);
        assert!(
            matches!(e, StateError::NotADatabase { .. }),
            "{name}: {e:?}"
        );
        assert_eq!(e.path(), path);
        assert_eq!(
            e.to_string(),
            format!("{}: cannot open: not an SQLite database", path.display())
        );
        assert_eq!(
            std::fs::read(&path).unwrap(),
            bytes,
            "{name} was left alone"
        );
    }
}

#[test]
fn a_path_under_a_regular_file_is_not_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain");
    std::fs::write(&file, "x").unwrap();
    // Directly under the file, and deeper (the folder cannot be created).
    for path in [file.join("ayadns.db"), file.join("data/more/ayadns.db")] {
        let e = open_err(&path);
        assert!(matches!(e, StateError::NotADirectory { .. }), "{e:?}");
        assert_eq!(e.path(), path);
        assert_eq!(
            e.to_string(),
            format!(
                "{}: cannot open: {} is not a directory",
                path.display(),
                file.display()
            )
        );
    }
}

#[test]
fn a_directory_is_not_a_database_file() {
    let dir = tempfile::tempdir().unwrap();
    let e = open_err(dir.path());
    assert!(e.to_string().contains("is a directory"), "{e}");
    assert_eq!(e.path(), dir.path());
}

#[test]
fn a_read_only_folder_gives_permission_denied() {
    // Root ignores permission bits; there, the not-a-directory test above covers the
    // "cannot create" path instead.
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        eprintln!("running as root: permissions are not enforced, skipping the read-only case");
        return;
    }
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let ro = dir.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o500)).unwrap();
    let path = ro.join("ayadns.db");
    let e = open_err(&path);
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o700)).unwrap();
    assert_eq!(
        e.to_string(),
        format!("{}: cannot open: permission denied", path.display())
    );
    let e = open_err(&ro.join("sub/ayadns.db"));
    assert!(e.to_string().contains("permission denied"), "{e}");
}

#[test]
fn a_corrupt_database_is_reported_as_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    {
        let mut store = StateStore::open(&path).unwrap();
        let states: Vec<_> = (0..5000)
            .map(|i| state(&format!("ep{i:05}"), "eu", i))
            .collect();
        store.write_batch(&states, &[]).unwrap();
    } // the last connection closing checkpoints the WAL into the file
    assert!(std::fs::metadata(&path).unwrap().len() > 48 * 4096);
    // Overwrite pages in the middle; page 1 (header and schema) stays intact.
    let mut bytes = std::fs::read(&path).unwrap();
    for b in &mut bytes[8 * 4096..40 * 4096] {
        *b = 0xA5;
    }
    std::fs::write(&path, &bytes).unwrap();
    let e = open_err(&path);
    assert!(matches!(e, StateError::Corrupt { .. }), "{e:?}");
    assert!(
        e.to_string()
            .starts_with(&format!("{}: database is corrupt: ", path.display())),
        "{e}"
    );
}

#[test]
fn a_database_locked_by_another_process_is_reported_as_locked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    // Another program holds an exclusive lock on a (rollback-journal) database.
    let other = rusqlite::Connection::open(&path).unwrap();
    other
        .execute_batch("CREATE TABLE x (a); BEGIN EXCLUSIVE; INSERT INTO x VALUES (1);")
        .unwrap();
    let start = Instant::now();
    let e = open_err(&path);
    assert!(matches!(e, StateError::Locked { .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        format!(
            "{}: cannot open: database is locked by another process",
            path.display()
        )
    );
    assert!(start.elapsed() < Duration::from_secs(30));
    other.execute_batch("ROLLBACK").unwrap();
    drop(other);
    StateStore::open(&path).expect("opens once the lock is gone");
}

#[test]
fn a_database_from_a_newer_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    drop(StateStore::open(&path).unwrap());
    let c = rusqlite::Connection::open(&path).unwrap();
    c.pragma_update(None, "user_version", SCHEMA_VERSION + 5)
        .unwrap();
    drop(c);
    let e = open_err(&path);
    assert!(matches!(e, StateError::TooNew { .. }), "{e:?}");
    assert!(
        e.to_string()
            .starts_with(&format!("{}: schema version", path.display()))
    );
}

// ---------------------------------------------------------------------------------------------
// kill -9

/// Set (to the database path) when this test binary runs as the kill -9 child.
const CHILD_ENV: &str = "AYADNS_STATE_KILL9_DB";
/// What the child prints after each flush it waited for, before the batch number.
const FLUSHED: &str = "AYADNS-STATE-FLUSHED ";
/// Endpoints written per batch.
const PER_BATCH: u32 = 16;
/// Batches between the child's explicit flushes; between them the writer flushes by itself
/// (every 1000 updates, about 59 batches of 17).
const FLUSH_EVERY_BATCHES: u64 = 200;

fn batch_state(i: u32, n: u64) -> EndpointState {
    let t = UNIX_EPOCH + Duration::from_millis(1_000_000 + n);
    EndpointState {
        endpoint: format!("ep{i:02}"),
        region: "eu".into(),
        up: n.is_multiple_of(2),
        successes: n as u32,
        failures: n as u32,
        last_rtt_ms: Some(n as f64),
        last_change: t,
        last_error: Some(format!("batch {n}")),
        updated_at: t,
    }
}

fn batch_of(s: &EndpointState) -> u64 {
    u64::from(s.successes)
}

/// The child half of [`kill9_keeps_every_flushed_batch_and_never_half_a_transaction`]: writes
/// numbered batches through a `StateWriter` until killed. Does nothing when run on its own.
#[test]
#[ignore = "run as a child process by kill9_keeps_every_flushed_batch_and_never_half_a_transaction"]
fn kill9_child_writer() {
    let Some(path) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let store = StateStore::open(Path::new(&path)).expect("child: open");
    // Continue after what an earlier child wrote.
    let last = store
        .history(1, None)
        .expect("child: history")
        .first()
        .map_or(0, |t| {
            t.reason
                .trim_start_matches("batch ")
                .parse::<u64>()
                .unwrap()
        });
    // Keep all history: the batch times are in 1970.
    let keep_all = Retention {
        max_age: Duration::MAX,
        max_rows: usize::MAX,
    };
    let writer = StateWriter::spawn(store, Duration::from_millis(20), keep_all);
    let give_up = Instant::now() + Duration::from_secs(60); // never outlive a dead parent
    let mut out = std::io::stdout();
    for n in last + 1.. {
        // Full speed: the writer is busy most of the time (so the kill usually lands inside a
        // write), and its MAX_PENDING flushes cut batches at arbitrary points.
        for i in 0..PER_BATCH {
            writer.record(batch_state(i, n));
        }
        writer.transition(Transition {
            endpoint: "batch".into(),
            region: "*".into(),
            from_up: n % 2 == 1,
            to_up: n % 2 == 0,
            at: UNIX_EPOCH + Duration::from_millis(1_000_000 + n),
            reason: format!("batch {n}"),
        });
        if n % FLUSH_EVERY_BATCHES == 0 {
            writer.flush();
            writeln!(out, "{FLUSHED}{n}").unwrap();
            out.flush().unwrap();
        }
        if Instant::now() > give_up {
            break;
        }
    }
}

/// Kills the child (SIGKILL) if the test fails before it does.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Run the child against `path` until it has reported `reports` flushes, SIGKILL it, and
/// return the highest batch it reported as flushed.
fn run_child_and_kill(path: &Path, reports: usize, extra_delay: Duration) -> u64 {
    let child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "kill9_child_writer",
            "--nocapture",
            "--include-ignored",
        ])
        .env(CHILD_ENV, path)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut child = KillOnDrop(child);
    let stdout = child.0.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            // libtest may print its own text on the same line; find our marker anywhere.
            if let Some(pos) = line.find(FLUSHED) {
                let n: u64 = line[pos + FLUSHED.len()..].trim().parse().unwrap();
                let _ = tx.send(n);
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    while seen.len() < reports {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(n) => seen.push(n),
            Err(_) => panic!(
                "the child reported {} flushes, wanted {reports}",
                seen.len()
            ),
        }
    }
    std::thread::sleep(extra_delay); // land the kill at different moments of the write loop
    let pid = child.0.id() as libc::pid_t;
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
    let status = child.0.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(libc::SIGKILL),
        "the child ended by itself: {status:?}"
    );
    reader.join().unwrap();
    // Reports printed before the kill but not yet read count too.
    seen.extend(rx.try_iter());
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
    *seen.last().unwrap()
}

/// What the database says after a kill: checked against the update stream the child sent.
/// Returns (the last complete batch, how many endpoints already hold the next batch).
fn check_after_kill(path: &PathBuf, reported: u64, first_batch: u64) -> (u64, usize) {
    let c = rusqlite::Connection::open(path).unwrap();
    let integrity: Vec<String> = c
        .prepare("PRAGMA integrity_check")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(integrity, ["ok"], "integrity_check after kill -9");
    drop(c);

    let store = StateStore::open(path).unwrap();
    // Transitions: exactly batches first_batch..=t, each once, in order.
    let mut ts = store.history(usize::MAX, Some("batch")).unwrap();
    ts.reverse();
    let nums: Vec<u64> = ts
        .iter()
        .map(|t| t.reason.trim_start_matches("batch ").parse().unwrap())
        .collect();
    let t = *nums.last().expect("no batch at all was written");
    assert_eq!(
        nums,
        (first_batch..=t).collect::<Vec<_>>(),
        "a gap or a duplicate"
    );
    for (tr, n) in ts.iter().zip(&nums) {
        assert_eq!(tr.to_up, n % 2 == 0, "transition {n} half-written");
        assert_eq!(ms(tr.at), 1_000_000 + i128::from(*n));
    }
    assert!(
        t >= reported,
        "batch {reported} was reported flushed, the file has only {t}"
    );

    // States: every endpoint holds a whole row of batch t or t+1. The writer sends batch
    // t+1's rows in endpoint order before its transition, and each flush is one transaction
    // over a prefix of what was sent; so the endpoints already at t+1 are a prefix.
    let states = store.load_states().unwrap();
    assert_eq!(states.len(), PER_BATCH as usize);
    let mut ahead = 0;
    for (i, s) in states.iter().enumerate() {
        let n = batch_of(s);
        assert_eq!(*s, batch_state(i as u32, n), "row {i} mixes batches");
        assert!(
            n == t || n == t + 1,
            "endpoint {i} at batch {n}, transitions at {t}"
        );
        if n == t + 1 {
            let batches: Vec<u64> = states.iter().map(batch_of).collect();
            assert_eq!(
                ahead,
                i,
                "endpoints at batch {} are not a prefix: {batches:?}",
                t + 1
            );
            ahead += 1;
        }
    }
    (t, ahead)
}

#[test]
fn kill9_keeps_every_flushed_batch_and_never_half_a_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state/ayadns.db");
    // Rounds against the same file: recovery after a kill, then writing on.
    let delays = [0, 23, 31, 45, 12];
    let mut endings = Vec::new();
    for (round, ms_delay) in delays.into_iter().enumerate() {
        let reported = run_child_and_kill(&path, 20, Duration::from_millis(ms_delay));
        let (t, ahead) = check_after_kill(&path, reported, 1);
        eprintln!(
            "round {round}: reported flushed {reported}; file has batches 1..={t}, {ahead} endpoints at {}",
            t + 1
        );
        endings.push((t - reported, ahead));
    }
    eprintln!("(batches after the last report, endpoints ahead) per round: {endings:?}");
}
