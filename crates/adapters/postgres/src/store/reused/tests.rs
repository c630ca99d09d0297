#![allow(clippy::unwrap_used)]

use diesel::prelude::*;
use diesel::sql_types::BigInt;
use diesel_async::RunQueryDsl;

use super::Reused;
use crate::testing::TestDb;

diesel::table! {
    reuse_probe (id) {
        id -> Integer,
        n -> Integer,
        note -> Nullable<Text>,
    }
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[tokio::test]
async fn a_reused_write_is_prepared_once_per_connection_and_each_shape_apart() {
    let db = TestDb::new().await;
    let mut conn = db.pool().get().await.unwrap();
    let conn = &mut *conn;
    diesel::sql_query(
        "CREATE TEMP TABLE reuse_probe (id int PRIMARY KEY, n int NOT NULL, note text)",
    )
    .execute(conn)
    .await
    .unwrap();
    diesel::sql_query("INSERT INTO reuse_probe VALUES (1, 0, NULL)")
        .execute(conn)
        .await
        .unwrap();
    let prepared = async |conn: &mut diesel_async::AsyncPgConnection| {
        diesel::sql_query(
            "SELECT count(*) AS n FROM pg_prepared_statements \
             WHERE statement LIKE 'UPDATE \"reuse_probe\"%'",
        )
        .get_result::<Count>(conn)
        .await
        .unwrap()
        .n
    };
    use reuse_probe::dsl::{id, n, note, reuse_probe as probe};

    // diesel's own update is prepared anew each time, and closed after it runs.
    for i in 0..3 {
        diesel::update(probe.filter(id.eq(1)))
            .set(n.eq(i))
            .execute(conn)
            .await
            .unwrap();
    }
    assert_eq!(prepared(conn).await, 0);

    // Reused: one prepared statement for every run of the same shape.
    for i in 0..3 {
        Reused(diesel::update(probe.filter(id.eq(1))).set(n.eq(i)))
            .execute(conn)
            .await
            .unwrap();
    }
    assert_eq!(prepared(conn).await, 1);

    // A changeset that skips a column is other SQL: its own statement, and each run
    // writes what it says.
    let row = async |conn: &mut diesel_async::AsyncPgConnection| {
        probe
            .select((n, note))
            .filter(id.eq(1))
            .get_result::<(i32, Option<String>)>(conn)
            .await
            .unwrap()
    };
    let with_note = |v: i32, text: Option<&str>| {
        Reused(
            diesel::update(probe.filter(id.eq(1)))
                .set((n.eq(v), text.map(|t| note.eq(t.to_owned())))),
        )
    };
    with_note(7, Some("first")).execute(conn).await.unwrap();
    assert_eq!(row(conn).await, (7, Some("first".to_owned())));
    with_note(8, None).execute(conn).await.unwrap();
    assert_eq!(row(conn).await, (8, Some("first".to_owned())));
    with_note(9, Some("second")).execute(conn).await.unwrap();
    assert_eq!(row(conn).await, (9, Some("second".to_owned())));
    assert_eq!(prepared(conn).await, 2, "`n` alone, and `n` with `note`");
}
