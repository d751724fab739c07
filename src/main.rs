//! `forum`: the GraphQL forum service and its operator commands.

use std::process::ExitCode;

use api::{App, Config, database, telemetry};
use clap::{Parser, Subcommand};

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
    /// Rewrite ./schema.graphql with the schema's SDL (or print it with --stdout).
    PrintSchema {
        #[arg(long)]
        stdout: bool,
    },
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
    let metrics = Default::default();
    let db = database::open(&config.database, &config.pool, &metrics).await?;
    if service::seed::demo_if_empty(&db).await? {
        tracing::info!("seeded the demo forum");
    } else {
        tracing::info!("the database already has categories; nothing seeded");
    }
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
