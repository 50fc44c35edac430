//! Writes a day of flight-recorder history into a history file, for the screenshot of the app's
//! timeline (scripts/gui-shots): a recorder cannot record a day inside a screenshot run, so this
//! day is made up, written through the same `Store::record` as `lockscope record` writes. What
//! recording real certbot gives is tested in tests/suite/history.rs.
//!
//!     cargo run --example history_day -- STORE DIR...
//!
//! For each DIR, the 24 hours before now: certbot's timer renewals at 00:40 and 12:40 local time
//! (20-40 s each), a few manual runs, and one night where a renewal hung at its hook for 25
//! minutes while three timer retries were refused ("Another instance of Certbot is already
//! running").

use jiff::{SignedDuration, Timestamp, ToSpan, Zoned};
use lockscope::history::{EndedBy, Hold, Recorded, Refused, Source, Store};
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args_os().skip(1);
    let store = PathBuf::from(args.next().ok_or("usage: history_day STORE DIR...")?);
    let dirs: Vec<PathBuf> = args.map(PathBuf::from).collect();
    let mut store = Store::open(&store)?;
    let now = Zoned::now();
    let day_ago = now.checked_sub(24.hours())?;
    let mut pid = 41_200u32;
    for (d, dir) in dirs.iter().enumerate() {
        let mut events = Vec::new();
        let mut hold = |start: Timestamp, seconds: i64, command: &str, ended_by: EndedBy| {
            pid += 37;
            let hold = Hold {
                dir: dir.clone(),
                pid: Some(pid),
                command: Some(command.to_string()),
                user: Some("root".into()),
                start,
                start_seen: true,
                end: None,
                ended_by: None,
                source: Source::Kernel,
            };
            let end = start + SignedDuration::from_secs(seconds);
            events.push((start, Recorded::Began(hold.clone())));
            events.push((end, Recorded::Ended(hold.ended(end, ended_by))));
            pid
        };
        // The timer's renewals, each directory a few seconds after the last (one certbot
        // takes the three locks in turn).
        for (hour, minute) in [(0, 40), (12, 40)] {
            let mut at = day_ago.with().hour(hour).minute(minute).second(3).build()?;
            if at < day_ago {
                at = at.checked_add(1.day())?;
            }
            let start = at.timestamp() + SignedDuration::from_secs(d as i64 * 2);
            hold(
                start,
                22 + (d as i64 * 7) % 18,
                "/usr/bin/python3 /usr/bin/certbot -q renew",
                EndedBy::Released,
            );
        }
        // Manual runs in the afternoon.
        for (h, m, secs, command) in [
            (
                15,
                12,
                48,
                "/usr/bin/python3 /usr/bin/certbot certonly --nginx -d shop.example.org",
            ),
            (16, 5, 9, "/usr/bin/python3 /usr/bin/certbot certificates"),
        ] {
            let mut at = day_ago.with().hour(h).minute(m).second(30).build()?;
            if at < day_ago {
                at = at.checked_add(1.day())?;
            }
            hold(at.timestamp(), secs, command, EndedBy::Released);
        }
        // The night a renewal hung at its deploy hook: 25 minutes, three retries refused, then
        // killed by the operator.
        let mut hung = day_ago.with().hour(3).minute(0).second(12).build()?;
        if hung < day_ago {
            hung = hung.checked_add(1.day())?;
        }
        let hung_start = hung.timestamp() + SignedDuration::from_secs(d as i64);
        let holder = hold(
            hung_start,
            25 * 60,
            "/usr/bin/python3 /usr/bin/certbot renew --deploy-hook /etc/letsencrypt/renewal-hooks/deploy/reload.sh",
            EndedBy::HolderExited,
        );
        for retry in 1..=3i64 {
            let time = hung_start + SignedDuration::from_mins(retry * 6);
            events.push((
                time,
                Recorded::Refused(Refused {
                    dir: dir.clone(),
                    pid: Some(holder + 1000 + retry as u32),
                    command: Some("/usr/bin/python3 /usr/bin/certbot -q renew".into()),
                    user: Some("root".into()),
                    time,
                    holder_pid: Some(holder),
                    source: Source::Kernel,
                }),
            ));
        }
        events.sort_by_key(|(t, _)| *t);
        for (_, event) in &events {
            store.record(event)?;
        }
    }
    Ok(())
}
