//! Renders the diesel `schema.rs` from a migrated database, in the shape `diesel
//! print-schema` gives, so the checked-in schema can be verified (and regenerated) without
//! installing diesel's CLI or libpq.
#![allow(clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::fmt::Write as _;

use diesel::sql_types::{Bool, Integer, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

#[derive(diesel::QueryableByName)]
struct Column {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Text)]
    type_name: String,
    #[diesel(sql_type = Integer)]
    typmod: i32,
    #[diesel(sql_type = Bool)]
    not_null: bool,
    #[diesel(sql_type = Bool)]
    in_primary_key: bool,
}

#[derive(diesel::QueryableByName)]
struct ForeignKey {
    #[diesel(sql_type = Text)]
    child: String,
    #[diesel(sql_type = Text)]
    parent: String,
    #[diesel(sql_type = Text)]
    column_name: String,
}

/// The `schema.rs` text for every table of the `public` schema (diesel's own bookkeeping
/// table excluded).
pub async fn render(conn: &mut AsyncPgConnection) -> String {
    let columns: Vec<Column> = diesel::sql_query(
        "SELECT c.relname::text AS table_name, a.attname::text AS column_name,
                t.typname::text AS type_name, a.atttypmod AS typmod, a.attnotnull AS not_null,
                COALESCE(a.attnum = ANY (pk.indkey::int2[]), false) AS in_primary_key
         FROM pg_attribute a
         JOIN pg_class c ON c.oid = a.attrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
         JOIN pg_type t ON t.oid = a.atttypid
         LEFT JOIN pg_index pk ON pk.indrelid = c.oid AND pk.indisprimary
         WHERE n.nspname = 'public' AND c.relkind = 'r' AND a.attnum > 0
           AND NOT a.attisdropped AND c.relname NOT LIKE '\\_\\_diesel%'
         ORDER BY c.relname, a.attnum",
    )
    .load(conn)
    .await
    .expect("reading columns");
    let fks: Vec<ForeignKey> = diesel::sql_query(
        "SELECT ch.relname::text AS child, pa.relname::text AS parent,
                a.attname::text AS column_name
         FROM pg_constraint k
         JOIN pg_class ch ON ch.oid = k.conrelid
         JOIN pg_class pa ON pa.oid = k.confrelid
         JOIN pg_namespace n ON n.oid = ch.relnamespace
         JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1]
         WHERE k.contype = 'f' AND n.nspname = 'public' AND array_length(k.conkey, 1) = 1
         ORDER BY ch.relname, pa.relname",
    )
    .load(conn)
    .await
    .expect("reading foreign keys");

    let mut tables: BTreeMap<&str, Vec<&Column>> = BTreeMap::new();
    for c in &columns {
        tables.entry(c.table_name.as_str()).or_default().push(c);
    }
    let mut out =
        String::from("// @generated from the migrations by `just schema`; do not edit by hand.\n");
    for (table, cols) in &tables {
        let pk: Vec<&str> = cols
            .iter()
            .filter(|c| c.in_primary_key)
            .map(|c| c.column_name.as_str())
            .collect();
        let _ = writeln!(
            out,
            "\ndiesel::table! {{\n    {table} ({}) {{",
            pk.join(", ")
        );
        for c in cols {
            if c.type_name == "varchar" && c.typmod > 4 {
                let _ = writeln!(out, "        #[max_length = {}]", c.typmod - 4);
            }
            let ty = diesel_type(&c.type_name);
            let ty = if c.not_null {
                ty
            } else {
                format!("Nullable<{ty}>")
            };
            let _ = writeln!(out, "        {} -> {ty},", c.column_name);
        }
        out.push_str("    }\n}\n");
    }
    if !fks.is_empty() {
        out.push('\n');
    }
    for fk in &fks {
        let _ = writeln!(
            out,
            "diesel::joinable!({} -> {} ({}));",
            fk.child, fk.parent, fk.column_name
        );
    }
    out.push_str("\ndiesel::allow_tables_to_appear_in_same_query!(\n");
    for table in tables.keys() {
        let _ = writeln!(out, "    {table},");
    }
    out.push_str(");\n");
    out
}

fn diesel_type(type_name: &str) -> String {
    let ty = match type_name {
        "int2" => "Int2",
        "int4" => "Int4",
        "int8" => "Int8",
        "float4" => "Float4",
        "float8" => "Float8",
        "bool" => "Bool",
        "text" => "Text",
        "varchar" => "Varchar",
        "bpchar" => "Bpchar",
        "uuid" => "Uuid",
        "jsonb" => "Jsonb",
        "json" => "Json",
        "bytea" => "Bytea",
        "date" => "Date",
        "timestamp" => "Timestamp",
        "timestamptz" => "Timestamptz",
        "inet" => "Inet",
        array if array.starts_with('_') => {
            return format!("Array<Nullable<{}>>", diesel_type(&array[1..]));
        }
        other => panic!("no diesel type known for PostgreSQL type {other}"),
    };
    ty.to_owned()
}
