//! `forum-bench`: generates a forum, runs the service against it (directly and through
//! PgBouncer), drives each workload through the service and as hand-written SQL at the
//! same concurrency, and reports throughput, latency, errors, statements per request and
//! the server's memory, as a table and as JSON.

use std::{
    path::PathBuf,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use bench::{
    cpu::{Clock, Split},
    driver::{Sample, Stats, drive},
    generate::{self, BoxError, Scale, with_database},
    pgbouncer::Pgbouncer,
    rng::Rng,
    server::{Counters, Server, http_client},
    workload::{self, Ceiling, Data, Source, Targets, Workload},
};
use clap::Parser;
use serde::Serialize;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

#[derive(Parser)]
#[command(about = "Benchmarks the forum service against hand-written SQL")]
struct Args {
    /// smoke (seconds), default (10k users, 50k threads, 1M replies, 3M votes) or large.
    #[arg(long, default_value = "default")]
    scale: String,
    /// A Postgres URL whose server the benchmark may create databases on.
    #[arg(
        long,
        env = "BENCH_DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    database_url: String,
    /// Measured time per workload and target.
    #[arg(long, default_value = "20s", value_parser = duration)]
    duration: Duration,
    /// Slices per workload: the service and the SQL take turns, `duration / rounds` each.
    #[arg(long, default_value_t = 4)]
    rounds: u32,
    /// Uncounted warm-up before each measurement.
    #[arg(long, default_value = "2s", value_parser = duration)]
    warmup: Duration,
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Reuse the generated database from an earlier run of the same scale.
    #[arg(long)]
    reuse: bool,
    /// The PgBouncer (>= 1.21) binary for the pooled run; without it only the direct run.
    #[arg(long, env = "PGBOUNCER")]
    pgbouncer: Option<PathBuf>,
    /// The `forum` binary; by default the one next to this binary, built if missing.
    #[arg(long)]
    server_bin: Option<PathBuf>,
    /// Where to write the JSON report.
    #[arg(long, default_value = "bench-results.json")]
    out: PathBuf,
    /// Only these workloads (comma-separated kebab-case names).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// How the hand-written SQL takes its connections.
    #[arg(long, value_enum, default_value_t = Ceiling::Pool)]
    ceiling: Ceiling,
}

/// One request of hand-written SQL, on connections taken as `how` says.
async fn ceiling(
    workload: Workload,
    targets: &Targets,
    how: Ceiling,
    rng: &mut Rng,
) -> Result<(), String> {
    match how {
        Ceiling::Pool => {
            let mut source = Source::pooled(&targets.pool);
            workload::sql(workload, &targets.data, &mut source, rng).await
        }
        Ceiling::Kept => {
            let mut source = Source::kept(targets).await?;
            workload::sql(workload, &targets.data, &mut source, rng).await?;
            source.keep(targets);
            Ok(())
        }
    }
}

fn duration(value: &str) -> Result<Duration, String> {
    api::config::parse_duration(value).ok_or_else(|| format!("not a duration: {value}"))
}

#[derive(Serialize)]
struct Row {
    endpoint: &'static str,
    workload: Workload,
    target: &'static str,
    statements_per_request: f64,
    /// Where the machine's CPU went, per request.
    cpu_ms_per_request: Split,
    #[serde(flatten)]
    stats: Stats,
}

#[derive(Serialize)]
struct Memory {
    endpoint: &'static str,
    idle_rss_kib: u64,
    peak_rss_kib: u64,
}

#[derive(Serialize)]
struct Report {
    machine: String,
    cores: usize,
    scale: Scale,
    generated: Option<generate::Summary>,
    concurrency: usize,
    seconds_per_run: f64,
    ceiling: Ceiling,
    rows: Vec<Row>,
    memory: Vec<Memory>,
}

/// Each workload is measured through the service and as hand-written SQL.
const TARGETS: [&str; 2] = ["service", "sql"];

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args = Args::parse();
    let scale = Scale::named(&args.scale).ok_or("--scale is smoke, default or large")?;
    let database = format!("forum_bench_{}", scale.name);
    let url = with_database(&args.database_url, &database);
    let server_bin = server_binary(args.server_bin.clone())?;

    let generated = if args.reuse && database_exists(&args.database_url, &database).await? {
        eprintln!("reusing database {database}");
        None
    } else {
        eprintln!("generating the {} forum into {database}…", scale.name);
        let summary = generate::generate(&args.database_url, &database, &scale, args.seed).await?;
        eprintln!("{summary:?}");
        Some(summary)
    };

    let key_path = std::env::temp_dir().join(format!("forum-bench-key-{}.pem", std::process::id()));
    let key = api::auth::dev::load_or_create(&key_path)?;
    let tokens = |user: &str| {
        api::auth::dev::mint(&key, user, None, Duration::from_secs(24 * 3600)).unwrap_or_default()
    };
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .connect(&url)
        .await?;
    let data = Arc::new(Data::load(&pool, tokens).await?);
    pool.close().await;
    eprintln!(
        "{} categories, thread sample {}, 5k thread has {} replies",
        data.slugs.len(),
        data.threads.len(),
        data.big_thread.1
    );

    let workloads: Vec<Workload> = Workload::ALL
        .into_iter()
        .filter(|w| {
            args.only.is_empty()
                || args
                    .only
                    .iter()
                    .any(|o| serde_json::to_value(w).is_ok_and(|v| v == o.as_str()))
        })
        .collect();
    let mut report = Report {
        machine: machine(),
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        scale: scale.clone(),
        generated,
        concurrency: args.concurrency,
        seconds_per_run: args.duration.as_secs_f64(),
        ceiling: args.ceiling,
        rows: Vec::new(),
        memory: Vec::new(),
    };

    let bouncer = match &args.pgbouncer {
        Some(bin) => Some(Pgbouncer::start(
            &bin.to_string_lossy(),
            &args.database_url,
            20,
            1000,
        )?),
        None => {
            eprintln!("no PgBouncer given (--pgbouncer or PGBOUNCER): direct run only");
            None
        }
    };
    let mut endpoints = vec![("direct", url.clone())];
    if let Some(b) = &bouncer {
        endpoints.push(("pgbouncer", b.url(&database)));
    }
    // Votes change the database: a salt per run keeps a reused database from replaying
    // the votes of the run before (which would measure only the no-op path).
    let salt = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    // A seed per endpoint and target, so that no run replays another's votes.
    let seed = |e: usize, target: u64, workload: Workload| {
        let salt = if workload == Workload::CastVote {
            salt
        } else {
            0
        };
        args.seed + 1000 * e as u64 + target + salt
    };
    // One server per endpoint, all started before the first measurement: each workload
    // then takes its slices on every endpoint in turn, so that the pooled-to-direct
    // ratio, like the service-to-SQL one, is not the machine's drift.
    let mut started = Vec::new();
    for (endpoint, endpoint_url) in endpoints {
        let env = [
            ("DATABASE_URL", endpoint_url.clone()),
            ("DIRECT_DATABASE_URL", url.clone()),
            ("SEED_DEMO", "false".to_owned()),
            ("DATABASE_MAX_CONNECTIONS", args.concurrency.to_string()),
            ("DEV_SIGNING_KEY_FILE", key_path.display().to_string()),
            // castVote's 1,000 voters average more than the default 120 mutations a
            // minute each on a fast machine: the limiter still runs (its cost is measured)
            // but is not what refuses a vote.
            ("RATE_LIMIT_PER_MINUTE", "1000000".to_owned()),
        ];
        let server = Server::start(&server_bin, &env).await?;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let idle = server.rss_kb().unwrap_or(0);
        let targets = Arc::new(Targets {
            data: data.clone(),
            client: http_client(args.concurrency),
            graphql_url: format!("{}/graphql", server.base),
            // sqlx pings a connection on every acquire by default: a second round trip per
            // statement that the service (which pings only after 30 s idle) does not pay.
            // The ceiling must not pay it either. Like the service, it leaves out the
            // `extra_float_digits` start-up parameter that a stock PgBouncer refuses.
            pool: PgPoolOptions::new()
                .max_connections(args.concurrency as u32)
                .test_before_acquire(false)
                .connect_with(
                    endpoint_url
                        .parse::<PgConnectOptions>()?
                        .extra_float_digits(None),
                )
                .await?,
            kept: Mutex::default(),
        });
        started.push((endpoint, server, targets, idle));
    }
    let metrics = http_client(1);
    let mut rows: Vec<Vec<Row>> = started.iter().map(|_| Vec::new()).collect();
    for &workload in &workloads {
        let run = |targets: &Arc<Targets>, target: &'static str, seed: u64, duration: Duration| {
            let shared = targets.clone();
            drive(args.concurrency, duration, seed, move |mut rng| {
                let shared = shared.clone();
                async move {
                    let result = match target {
                        "service" => workload::service(workload, &shared, &mut rng).await,
                        _ => ceiling(workload, &shared, args.ceiling, &mut rng).await,
                    };
                    (rng, result)
                }
            })
        };
        // The service and its ceiling, on each endpoint, take turns in short slices, so
        // that the machine's drift (it is shared) falls on both sides of a ratio alike.
        let mut samples: Vec<[Vec<Sample>; 2]> =
            started.iter().map(|_| Default::default()).collect();
        let mut clocks = vec![[Clock::default(); 2]; started.len()];
        let mut counted = vec![Counters::default(); started.len()];
        for round in 0..args.rounds {
            for (e, (_, server, targets, _)) in started.iter().enumerate() {
                for (t, target) in TARGETS.into_iter().enumerate() {
                    let seed = seed(e, t as u64, workload) + 100 * u64::from(round);
                    if round == 0 {
                        run(targets, target, seed + 50, args.warmup).await;
                    }
                    let before = (
                        server.counters(&metrics).await?,
                        Clock::now(Some(server.pid())),
                    );
                    let sample = run(targets, target, seed, args.duration / args.rounds).await;
                    let after = (
                        server.counters(&metrics).await?,
                        Clock::now(Some(server.pid())),
                    );
                    clocks[e][t] = clocks[e][t].plus(after.1.since(before.1));
                    if target == "service" {
                        counted[e] = counted[e].plus(after.0.since(before.0));
                    }
                    samples[e][t].push(sample);
                }
            }
        }
        for (e, (endpoint, ..)) in started.iter().enumerate() {
            let samples = std::mem::take(&mut samples[e]);
            for ((target, samples), clock) in TARGETS.into_iter().zip(samples).zip(clocks[e]) {
                let stats = Stats::of(samples);
                let per_request = match target {
                    "service" => counted[e].statements_per_request(),
                    _ => f64::from(workload.sql_statements()),
                };
                let cpu = clock.per_request(stats.requests as f64);
                print_row(endpoint, workload, target, per_request, cpu, &stats);
                rows[e].push(Row {
                    endpoint,
                    workload,
                    target,
                    statements_per_request: per_request,
                    cpu_ms_per_request: cpu,
                    stats,
                });
            }
        }
    }
    report.rows = rows.into_iter().flatten().collect();
    for (endpoint, server, targets, idle) in started {
        let peak = server.peak_rss_kb().unwrap_or(0);
        report.memory.push(Memory {
            endpoint,
            idle_rss_kib: idle,
            peak_rss_kib: peak,
        });
        // `close` waits for every connection, the ceiling's kept ones too.
        if let Ok(mut kept) = targets.kept.lock() {
            kept.clear();
        }
        targets.pool.close().await;
        server.stop();
    }
    drop(bouncer);

    #[allow(clippy::print_stdout)]
    {
        println!("{}", table(&report));
    }
    std::fs::write(&args.out, serde_json::to_vec_pretty(&report)?)?;
    eprintln!("wrote {}", args.out.display());
    let errors: u64 = report.rows.iter().map(|r| r.stats.errors).sum();
    if errors > 0 {
        return Err(format!("{errors} requests failed").into());
    }
    Ok(())
}

fn print_row(
    endpoint: &str,
    workload: Workload,
    target: &str,
    statements: f64,
    cpu: Split,
    s: &Stats,
) {
    eprintln!(
        "{endpoint:>9} {:<18} {target:<7} {:>8.0} req/s  p50 {:>6.2} ms  p90 {:>6.2} ms  p99 {:>6.2} ms  errors {}  stmts/req {statements:.2}  CPU ms/req server {:.3} load {:.3} pg {:.3} bouncer {:.3} other {:.3}{}",
        workload.name(),
        s.rps,
        s.p50_ms,
        s.p90_ms,
        s.p99_ms,
        s.errors,
        cpu.server,
        cpu.generator,
        cpu.postgres,
        cpu.pgbouncer,
        cpu.other,
        s.first_error
            .as_deref()
            .map(|e| format!("  first error: {e}"))
            .unwrap_or_default()
    );
}

/// The report as a Markdown table, with the service's share of the SQL ceiling.
fn table(report: &Report) -> String {
    let mut out = format!(
        "{} cores, {}; scale {}; {} clients, {:.0} s per run; SQL connections: {:?}\n\n\
         | endpoint | workload | service req/s | SQL req/s | ratio | service p50/p90/p99 ms | SQL p50/p90/p99 ms | p99 ratio | stmts/req (service, SQL) | CPU ms/req: server / load gen / Postgres / PgBouncer / rest | SQL CPU ms/req: load gen / Postgres / PgBouncer / rest | errors |\n\
         |---|---|---:|---:|---:|---|---|---:|---|---|---|---:|\n",
        report.cores,
        report.machine,
        report.scale.name,
        report.concurrency,
        report.seconds_per_run,
        report.ceiling,
    );
    for pair in report.rows.chunks(2) {
        let [service, sql] = pair else { continue };
        out.push_str(&format!(
            "| {} | {} | {:.0} | {:.0} | {:.2} | {:.2} / {:.2} / {:.2} | {:.2} / {:.2} / {:.2} | {:.2} | {:.1}, {:.0} | {} | {} | {} |\n",
            service.endpoint,
            service.workload.name(),
            service.stats.rps,
            sql.stats.rps,
            service.stats.rps / sql.stats.rps.max(f64::MIN_POSITIVE),
            service.stats.p50_ms,
            service.stats.p90_ms,
            service.stats.p99_ms,
            sql.stats.p50_ms,
            sql.stats.p90_ms,
            sql.stats.p99_ms,
            service.stats.p99_ms / sql.stats.p99_ms.max(f64::MIN_POSITIVE),
            service.statements_per_request,
            sql.statements_per_request,
            service.cpu_ms_per_request.server_and_rest(),
            sql.cpu_ms_per_request.rest(),
            service.stats.errors + sql.stats.errors,
        ));
    }
    let rps = |endpoint: &str, workload: Workload, target: &str| {
        report
            .rows
            .iter()
            .find(|r| r.endpoint == endpoint && r.workload == workload && r.target == target)
            .map(|r| r.stats.rps)
    };
    let pooled: Vec<Workload> = report
        .rows
        .iter()
        .filter(|r| r.endpoint == "pgbouncer" && r.target == "service")
        .map(|r| r.workload)
        .collect();
    if !pooled.is_empty() {
        out.push_str(
            "\n| workload | service through PgBouncer / direct | SQL through PgBouncer / direct |\n|---|---:|---:|\n",
        );
        for workload in pooled {
            let share = |target| match (
                rps("pgbouncer", workload, target),
                rps("direct", workload, target),
            ) {
                (Some(pooled), Some(direct)) => {
                    format!("{:.2}", pooled / direct.max(f64::MIN_POSITIVE))
                }
                _ => "–".to_owned(),
            };
            out.push_str(&format!(
                "| {} | {} | {} |\n",
                workload.name(),
                share("service"),
                share("sql")
            ));
        }
    }
    out.push_str("\n| endpoint | idle RSS | peak RSS |\n|---|---:|---:|\n");
    for m in &report.memory {
        out.push_str(&format!(
            "| {} | {:.1} MiB | {:.1} MiB |\n",
            m.endpoint,
            m.idle_rss_kib as f64 / 1024.0,
            m.peak_rss_kib as f64 / 1024.0
        ));
    }
    out
}

fn machine() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned())
}

/// The `forum` binary beside this one (same profile), built with cargo if missing.
fn server_binary(given: Option<PathBuf>) -> Result<PathBuf, BoxError> {
    if let Some(path) = given {
        return Ok(path);
    }
    let path = std::env::current_exe()?.with_file_name("forum");
    let started = Instant::now();
    let mut build =
        std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    build.args(["build", "--bin", "forum"]);
    if !cfg!(debug_assertions) {
        build.arg("--release");
    }
    if !build.status()?.success() {
        return Err("building the forum binary failed".into());
    }
    eprintln!("forum binary ready in {:?}", started.elapsed());
    Ok(path)
}

async fn database_exists(admin_url: &str, database: &str) -> Result<bool, BoxError> {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect(admin_url)
        .await?;
    let found: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(database)
        .fetch_optional(&pool)
        .await?;
    pool.close().await;
    Ok(found.is_some())
}
