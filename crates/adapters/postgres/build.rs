//! Rebuilds the crate when a migration changes (they are embedded), and exports a hash of
//! their contents so the test harness can tell a stale template database from a current one.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::Path;
use std::{env, fs};

fn main() {
    let dir =
        Path::new(&env::var("CARGO_MANIFEST_DIR").unwrap_or_default()).join("../../../migrations");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut hasher = DefaultHasher::new();
    let mut entries: Vec<_> = fs::read_dir(&dir)
        .map(|rd| rd.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    entries.sort();
    for migration in entries {
        println!("cargo:rerun-if-changed={}", migration.display());
        for file in ["up.sql", "down.sql"] {
            let path = migration.join(file);
            println!("cargo:rerun-if-changed={}", path.display());
            path.file_name().hash(&mut hasher);
            migration.file_name().hash(&mut hasher);
            fs::read(&path).unwrap_or_default().hash(&mut hasher);
        }
    }
    println!(
        "cargo:rustc-env=MULTIVIO_MIGRATIONS_HASH={:016x}",
        hasher.finish()
    );
}
