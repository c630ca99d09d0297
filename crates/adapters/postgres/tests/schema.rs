//! The checked-in diesel schema matches what the migrations create.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use diesel_async::AsyncConnection;
use diesel_async::AsyncPgConnection;
use multivio_postgres::schema_gen;
use multivio_postgres::testing::TestDb;

const SCHEMA_RS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/schema.rs");

#[tokio::test]
async fn checked_in_schema_matches_the_migrations() {
    let db = TestDb::new().await;
    let mut conn = AsyncPgConnection::establish(db.url()).await.unwrap();
    let rendered = schema_gen::render(&mut conn).await;
    if std::env::var_os("MULTIVIO_BLESS").is_some() {
        std::fs::write(SCHEMA_RS, &rendered).unwrap();
    }
    let checked_in = std::fs::read_to_string(SCHEMA_RS).unwrap();
    assert!(
        checked_in == rendered,
        "src/schema.rs is stale: run `just schema` and commit the result.\n{}",
        line_diff(&checked_in, &rendered)
    );
}

/// The changes from the checked-in schema to the generated one, as a unified diff.
fn line_diff(checked_in: &str, generated: &str) -> String {
    similar::TextDiff::from_lines(checked_in, generated)
        .unified_diff()
        .context_radius(3)
        .header("crates/adapters/postgres/src/schema.rs", "generated")
        .to_string()
}
