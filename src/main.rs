//! `forum`: the GraphQL forum service and its operator commands.

use std::{process::ExitCode, time::Duration};

use api::{App, Config, auth::dev, database, telemetry};
use clap::{Parser, Subcommand};
use entity::user::Role;

/// A GraphQL response is hundreds of small short-lived allocations (values, maps, boxed
/// futures); under glibc's malloc they cost a third of the front page's server CPU
/// (measured with perf). Built without transparent huge pages, which would otherwise add
/// ~9 MiB of idle RSS.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(version, about = "A GraphQL forum service")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve,
    /// Apply pending migrations (or revert them all with --down) and exit.
    Migrate {
        #[arg(long)]
        down: bool,
    },
    /// Insert demo data into an empty database.
    Seed {
        #[arg(long, required = true)]
        demo: bool,
    },
    /// Print a session token for USER, signed with the local development key (only for a
    /// server that runs without Clerk, on loopback).
    Token {
        /// The user id (the token's `sub`), e.g. user_demo_alice.
        #[arg(long)]
        user: String,
        /// A display name for a user the server has not seen yet.
        #[arg(long)]
        name: Option<String>,
        /// How long the token is valid, e.g. 30m, 24h.
        #[arg(long, default_value = "24h", value_parser = parse_ttl)]
        ttl: Duration,
    },
    /// Set or clear the role an operator gives a user (it wins over Clerk's metadata).
    Role {
        #[command(subcommand)]
        action: RoleAction,
    },
    /// Rewrite ./schema.graphql with the schema's SDL (or print it with --stdout).
    PrintSchema {
        #[arg(long)]
        stdout: bool,
    },
}

#[derive(Subcommand)]
enum RoleAction {
    /// Give USER a role: member, moderator or admin.
    Set { user: String, role: RoleArg },
    /// Go back to the role Clerk's metadata gives.
    Clear { user: String },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum RoleArg {
    Member,
    Moderator,
    Admin,
}

fn parse_ttl(value: &str) -> Result<Duration, String> {
    api::config::parse_duration(value).ok_or_else(|| format!("not a duration: {value}"))
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::PrintSchema { stdout }) = cli.command {
        return print_schema(stdout);
    }
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(config.log_format);
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config).await,
        Command::Migrate { down } => migrate(&config, down).await,
        Command::Seed { .. } => seed(config).await,
        Command::Token { user, name, ttl } => token(&config, &user, name.as_deref(), ttl),
        Command::Role { action } => role(config, action).await,
        Command::PrintSchema { .. } => Ok(()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

type BoxError = Box<dyn std::error::Error>;

async fn serve(config: Config) -> Result<(), BoxError> {
    let app = App::build(config).await?;
    let addr = app.local_addr()?;
    tracing::info!("GraphiQL at http://{addr}/graphql");
    app.serve(api::shutdown_signal()).await?;
    Ok(())
}

async fn migrate(config: &Config, down: bool) -> Result<(), BoxError> {
    let url = config.database.direct_url();
    if down {
        database::migrate_down(&url).await?;
        tracing::info!("all migrations reverted");
    } else {
        database::migrate(&url).await?;
        tracing::info!("migrations applied");
    }
    Ok(())
}

async fn seed(config: Config) -> Result<(), BoxError> {
    database::migrate(&config.database.direct_url()).await?;
    let db = database::open(&config.database, &config.pool, &Default::default()).await?;
    if service::seed::demo_if_empty(&db).await? {
        tracing::info!("seeded the demo forum");
    } else {
        tracing::info!("the database already has categories; nothing seeded");
    }
    Ok(())
}

fn token(config: &Config, user: &str, name: Option<&str>, ttl: Duration) -> Result<(), BoxError> {
    if !config.identity.is_local_dev() {
        return Err(
            "a Clerk key is configured: tokens come from Clerk, not from this command".into(),
        );
    }
    let key = dev::load_or_create(&config.identity.dev_key_path)?;
    let token = dev::mint(&key, user, name, ttl)?;
    #[allow(clippy::print_stdout)]
    {
        println!("{token}");
    }
    Ok(())
}

async fn role(config: Config, action: RoleAction) -> Result<(), BoxError> {
    database::migrate(&config.database.direct_url()).await?;
    let db = database::open(&config.database, &config.pool, &Default::default()).await?;
    let (user, role) = match action {
        RoleAction::Set { user, role } => (
            user,
            Some(match role {
                RoleArg::Member => Role::Member,
                RoleArg::Moderator => Role::Moderator,
                RoleArg::Admin => Role::Admin,
            }),
        ),
        RoleAction::Clear { user } => (user, None),
    };
    let row = service::user::set_role_override(&db, &user, role).await?;
    tracing::info!(user = %row.id, role = ?row.effective_role(), "role set");
    Ok(())
}

fn print_schema(stdout: bool) -> ExitCode {
    let sdl = api::graphql::sdl();
    if stdout {
        #[allow(clippy::print_stdout)]
        {
            print!("{sdl}");
        }
    } else {
        let path = "schema.graphql";
        if let Err(e) = std::fs::write(path, &sdl) {
            eprintln!("cannot write {path}: {e}");
            return ExitCode::FAILURE;
        }
        eprintln!("wrote {path}");
    }
    ExitCode::SUCCESS
}
