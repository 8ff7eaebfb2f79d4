//! The SQLite and PostgreSQL migrations are kept as two folders (sqlx runs
//! one folder per backend, and applied migrations are pinned by checksum, so
//! the files can never be rewritten to share text). This test keeps them in
//! step: the same files, and the same statements, except for the blocks the
//! dialects must write differently: triggers (SQLite's `RAISE(ABORT)` in a
//! trigger body, PostgreSQL's PL/pgSQL function), which must still guard the
//! same tables against the same operations.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

fn folder(dialect: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("migrations").join(dialect)
}

fn files(dialect: &str) -> BTreeMap<String, String> {
    std::fs::read_dir(folder(dialect))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read_to_string(&p).unwrap()))
        .collect()
}

/// A migration as compared: its statements outside trigger blocks (comment
/// lines dropped, whitespace at line ends ignored), and what its trigger
/// blocks guard: (table, operation) pairs.
#[derive(Debug, PartialEq)]
struct Shape {
    statements: Vec<String>,
    guarded: BTreeSet<(String, &'static str)>,
}

fn shape(sql: &str) -> Shape {
    let lines: Vec<&str> = sql.lines().map(str::trim_end).filter(|l| !l.trim_start().starts_with("--")).collect();
    let mut statements = Vec::new();
    let mut guarded = BTreeSet::new();
    // Blocks are separated by blank lines; a block that starts by creating a
    // trigger or a trigger function is the dialect's own.
    for block in lines.split(|l| l.trim().is_empty()).filter(|b| !b.is_empty()) {
        let first = block[0].trim_start().to_ascii_uppercase();
        if first.starts_with("CREATE TRIGGER") || first.starts_with("CREATE FUNCTION") || first.starts_with("CREATE OR REPLACE FUNCTION") {
            for line in block.iter().map(|l| l.to_ascii_uppercase()).filter(|l| l.trim_start().starts_with("CREATE TRIGGER")) {
                let table = line.split(" ON ").nth(1).and_then(|rest| rest.split_whitespace().next()).expect("a trigger names its table").to_ascii_lowercase();
                for op in ["INSERT", "UPDATE", "DELETE"] {
                    if line.contains(&format!(" {op} ")) {
                        guarded.insert((table.clone(), op));
                    }
                }
            }
        } else {
            statements.push(block.join("\n"));
        }
    }
    Shape { statements, guarded }
}

#[test]
fn sqlite_and_postgres_migrations_differ_only_where_the_dialects_must() {
    let (sqlite, postgres) = (files("sqlite"), files("postgres"));
    assert!(!sqlite.is_empty(), "no migrations found in {}", folder("sqlite").display());
    assert_eq!(
        sqlite.keys().collect::<Vec<_>>(),
        postgres.keys().collect::<Vec<_>>(),
        "every migration must exist for both backends, under the same name"
    );
    let mut triggers = 0;
    for (name, sqlite_sql) in &sqlite {
        let (a, b) = (shape(sqlite_sql), shape(&postgres[name]));
        for (i, (x, y)) in a.statements.iter().zip(&b.statements).enumerate() {
            assert_eq!(x, y, "{name}: statement block {} differs between SQLite and PostgreSQL", i + 1);
        }
        assert_eq!(a.statements.len(), b.statements.len(), "{name}: the backends have a different number of statement blocks");
        assert_eq!(a.guarded, b.guarded, "{name}: the triggers guard different tables or operations");
        triggers += a.guarded.len();
    }
    // The one place the dialects differ today: the audit log is append-only.
    assert!(triggers >= 2, "the audit log's append-only triggers were not recognised");
}

#[test]
fn a_changed_statement_is_noticed() {
    let base = "CREATE TABLE t (\n    id TEXT PRIMARY KEY\n);\n\nCREATE TRIGGER t_no_update BEFORE UPDATE ON t\nBEGIN\n    SELECT RAISE(ABORT, 'no');\nEND;\n";
    let pg = "-- a comment of its own\nCREATE TABLE t (\n    id TEXT PRIMARY KEY\n);\n\nCREATE FUNCTION f() RETURNS trigger AS $$\nBEGIN\n    RAISE EXCEPTION 'no';\nEND;\n$$ LANGUAGE plpgsql;\nCREATE TRIGGER t_no_change BEFORE UPDATE ON t\n    FOR EACH ROW EXECUTE FUNCTION f();\n";
    assert_eq!(shape(base), shape(pg));
    assert_ne!(shape(base), shape(&pg.replace("id TEXT", "id BIGINT")));
    assert_ne!(shape(base), shape(&pg.replace("BEFORE UPDATE ON t", "BEFORE DELETE ON t")));
}
