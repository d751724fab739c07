//! Where the machine's CPU time goes during a run: the server, the load generator (this
//! process: HTTP client or sqlx), Postgres's processes, PgBouncer, and the rest (the
//! kernel's own work, such as loopback networking in softirqs, and anything else running).
//! On two shared cores a ratio of throughputs is a ratio of these sums, so the split says
//! which part a change has to shrink.

use std::process::Command;

/// CPU seconds consumed so far, by part.
#[derive(Clone, Copy, Debug, Default)]
pub struct Clock {
    server: f64,
    generator: f64,
    postgres: f64,
    pgbouncer: f64,
    machine: f64,
}

/// CPU milliseconds per request, by part (of a `Clock::since` difference).
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct Split {
    pub server: f64,
    pub generator: f64,
    pub postgres: f64,
    pub pgbouncer: f64,
    /// The rest of the machine's busy time.
    pub other: f64,
}

impl Split {
    /// "load gen / Postgres / PgBouncer / rest", in milliseconds.
    pub fn rest(&self) -> String {
        format!(
            "{:.3} / {:.3} / {:.3} / {:.3}",
            self.generator, self.postgres, self.pgbouncer, self.other
        )
    }

    /// "server / " and the rest.
    pub fn server_and_rest(&self) -> String {
        format!("{:.3} / {}", self.server, self.rest())
    }
}

impl Clock {
    /// Now, for the server process `server_pid` (none for a run without it).
    pub fn now(server_pid: Option<u32>) -> Self {
        Self {
            server: server_pid
                .and_then(|pid| process_seconds(&pid.to_string()))
                .unwrap_or(0.0),
            generator: process_seconds("self").unwrap_or(0.0),
            postgres: named_seconds("postgres"),
            pgbouncer: named_seconds("pgbouncer"),
            machine: machine_busy_seconds().unwrap_or(0.0),
        }
    }

    pub fn since(self, before: Clock) -> Clock {
        Clock {
            server: self.server - before.server,
            generator: self.generator - before.generator,
            postgres: self.postgres - before.postgres,
            pgbouncer: self.pgbouncer - before.pgbouncer,
            machine: self.machine - before.machine,
        }
    }

    pub fn plus(self, other: Clock) -> Clock {
        Clock {
            server: self.server + other.server,
            generator: self.generator + other.generator,
            postgres: self.postgres + other.postgres,
            pgbouncer: self.pgbouncer + other.pgbouncer,
            machine: self.machine + other.machine,
        }
    }

    /// Milliseconds per request over `requests`.
    pub fn per_request(self, requests: f64) -> Split {
        if requests <= 0.0 {
            return Split::default();
        }
        let ms = |s: f64| s * 1000.0 / requests;
        let named = self.server + self.generator + self.postgres + self.pgbouncer;
        Split {
            server: ms(self.server),
            generator: ms(self.generator),
            postgres: ms(self.postgres),
            pgbouncer: ms(self.pgbouncer),
            other: ms((self.machine - named).max(0.0)),
        }
    }
}

/// User + system CPU time of a process (`self` or a pid), from `/proc/<pid>/stat`.
pub fn process_seconds(pid: &str) -> Option<f64> {
    process_times(pid).map(|(own, _)| own)
}

/// A process's own CPU time and that of its children it has reaped.
fn process_times(pid: &str) -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces:
    // state is field 3, utime 14, stime 15, cutime 16, cstime 17.
    let mut fields = stat
        .rsplit_once(')')?
        .1
        .split_whitespace()
        .skip(11)
        .map(|f| f.parse::<f64>().ok());
    let mut next = || fields.next().flatten();
    let (utime, stime, cutime, cstime) = (next()?, next()?, next()?, next()?);
    let ticks = clock_ticks_per_second();
    Some(((utime + stime) / ticks, (cutime + cstime) / ticks))
}

/// CPU time of every process whose command is `name`, with the children they reaped: a
/// Postgres backend that exits between two readings leaves the live sum, and its time
/// reappears in the postmaster's reaped children, so the difference stays its own.
fn named_seconds(name: &str) -> f64 {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    entries
        .filter_map(|entry| {
            let pid = entry.ok()?.file_name().into_string().ok()?;
            pid.bytes().all(|b| b.is_ascii_digit()).then_some(())?;
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
            let (own, reaped) = (comm.trim_end() == name).then(|| process_times(&pid))??;
            Some(own + reaped)
        })
        .sum()
}

/// Busy time of all cores (everything but idle and iowait), from `/proc/stat`.
fn machine_busy_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let ticks: Vec<f64> = stat
        .lines()
        .next()?
        .strip_prefix("cpu ")?
        .split_whitespace()
        .filter_map(|t| t.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal: idle, iowait and steal (time the
    // hypervisor gave to other machines) are not ours; guest time is already in user.
    let busy: f64 = [0, 1, 2, 5, 6].iter().filter_map(|&i| ticks.get(i)).sum();
    Some(busy / clock_ticks_per_second())
}

/// `CLK_TCK`, the unit of `/proc` CPU times (100 on every common Linux build).
fn clock_ticks_per_second() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8_lossy(&out.stdout).trim().parse().ok())
            .unwrap_or(100.0)
    })
}

#[cfg(test)]
mod tests {
    /// A child that burns CPU and is reaped moves its time into the parent's reaped
    /// column (the fields after `stime`), and not into the parent's own.
    #[test]
    fn a_reaped_childs_time_is_counted_as_reaped() {
        let (own_before, reaped_before) = super::process_times("self").unwrap();
        let status = std::process::Command::new("sh")
            .args(["-c", "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done"])
            .status()
            .unwrap();
        assert!(status.success());
        let (own_after, reaped_after) = super::process_times("self").unwrap();
        assert!(
            reaped_after - reaped_before >= 0.05,
            "reaped {reaped_before} -> {reaped_after}"
        );
        assert!(
            own_after - own_before < 0.05,
            "own {own_before} -> {own_after}"
        );
    }
}
