//! `schema.graphql` is the printed SDL of the running schema.

#[test]
fn schema_file_matches_the_running_schema() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql");
    let file = std::fs::read_to_string(path).unwrap_or_default();
    let sdl = api::graphql::sdl();
    assert!(
        file == sdl,
        "schema.graphql differs from the running schema: run `cargo run -- print-schema`"
    );
}
