#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use super::{CHECK_AFTER, JobListener};
use crate::testing::TestDb;

#[tokio::test]
async fn a_long_quiet_wait_checks_the_connection() {
    let db = TestDb::new().await;
    let mut listener = JobListener::connect(&db.worker_url()).await.unwrap();
    let long_ago = Instant::now() - CHECK_AFTER - Duration::from_secs(1);
    listener.heard = long_ago;
    assert!(!listener.wait(Duration::from_millis(50)).await.unwrap());
    assert!(listener.heard > long_ago, "the server answered the check");

    // A listener whose database goes away says so instead of waiting on for ever.
    drop(db);
    listener.heard = long_ago;
    let mut failed = false;
    for _ in 0..100 {
        match listener.wait(Duration::from_millis(50)).await {
            Err(_) => {
                failed = true;
                break;
            }
            Ok(_) => listener.heard = long_ago,
        }
    }
    assert!(failed);
}
