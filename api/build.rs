//! Embeds GraphiQL in the binary so that it works with no internet. The bundles come from
//! the pinned npm packages in `graphiql/` (installed with `npm ci` into OUT_DIR, never
//! into the repository) and are stored gzipped beside the originals.

use std::{
    error::Error,
    fs,
    io::Write,
    path::{Path, PathBuf},
    process::Command,
};

const ASSETS: [(&str, &str); 4] = [
    ("graphiql.min.js", "node_modules/graphiql/graphiql.min.js"),
    ("graphiql.min.css", "node_modules/graphiql/graphiql.min.css"),
    (
        "react.production.min.js",
        "node_modules/react/umd/react.production.min.js",
    ),
    (
        "react-dom.production.min.js",
        "node_modules/react-dom/umd/react-dom.production.min.js",
    ),
];

fn main() -> Result<(), Box<dyn Error>> {
    println!("cargo::rerun-if-changed=graphiql/package.json");
    println!("cargo::rerun-if-changed=graphiql/package-lock.json");
    println!("cargo::rustc-check-cfg=cfg(graphiql_missing)");
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    let npm_dir = out.join("graphiql-npm");
    let assets = out.join("graphiql-assets");
    fs::create_dir_all(&npm_dir)?;
    fs::create_dir_all(&assets)?;
    for file in ["package.json", "package-lock.json"] {
        fs::copy(Path::new("graphiql").join(file), npm_dir.join(file))?;
    }
    let installed = Command::new("npm")
        .args([
            "ci",
            "--ignore-scripts",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
        ])
        .current_dir(&npm_dir)
        .status();
    let npm_missing = matches!(&installed, Err(e) if e.kind() == std::io::ErrorKind::NotFound);
    let installed = installed.is_ok_and(|status| status.success());
    for (name, source) in ASSETS {
        let bytes = if installed {
            fs::read(npm_dir.join(source))?
        } else {
            Vec::new()
        };
        fs::write(assets.join(name), &bytes)?;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&bytes)?;
        fs::write(assets.join(format!("{name}.gz")), gz.finish()?)?;
    }
    if !installed {
        println!(
            "cargo::warning=npm ci failed: GraphiQL is not embedded; /graphql still serves POST"
        );
        println!("cargo::rustc-cfg=graphiql_missing");
        // Without npm at all, a path that is never there makes Cargo run this script again
        // on the next build (at no cost: npm is not found at once), so that GraphiQL comes
        // once npm is installed, without a `cargo clean`. An npm that failed (offline, say)
        // is not retried on every build: each try could wait on the network.
        if npm_missing {
            println!(
                "cargo::rerun-if-changed={}",
                out.join("npm-is-not-installed").display()
            );
        }
    }
    Ok(())
}
