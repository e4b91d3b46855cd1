//! Fenghua District disability case registry: one person, one file (一人一档), and the district
//! plan's coverage indicators derived from those files.
//!
//! Layers, top to bottom. A module may import its own layer or any layer below it, never one
//! above. Where a folder straddles two layers, its named submodule sits higher and "the rest"
//! of the folder lower; an indented line continues the layer above it. `tests/layers.rs` reads
//! this list and checks every `crate::`, `self::` and `super::` path of `src/`, and every path
//! through a child module a file declares (`mod name;`, then `use name::…`), against it, and
//! that no two files import each other in a loop (a folder's `mod.rs` and its files included).
//!
//! - wiring: `startup`, `demo`, `telemetry`
//! - HTTP: `api`, `state`, `auth::guard`, `http::observe`
//! - settings: `config`, `cli`
//! - reports: `use_cases::reports`
//! - use cases across areas: `use_cases::whole_file`, `use_cases::work_queues`,
//!   `use_cases::indicators`, `use_cases::integration`
//! - use cases: `use_cases` (the rest: one module per area of the file, accounts, the area
//!   tree, district data, corrections), `auth` (the rest)
//! - policy and audit: `access`, `audit`, `audit_checkpoint`
//! - storage: `db`
//! - domain and input: `domain`, `input`, `csv_file`, `xlsx_file`, `http` (the rest)
//! - base: `error`, `messages`, `protect`, `files`, `secrets`
//!
//! `api` holds the routes and wire types, `state` what every handler, the auth guard and the
//! middlewares reach (`AppState`), `startup` wires them. The use cases reach a resident's file
//! only through `access`, the policy of who may see and change which file; `whole_file` reads
//! a whole file above the areas it gathers, none of which imports it. `domain` holds validated
//! types and rules, `db` the schema and queries, `input` reads what clients send into types
//! with every fault named, `error` maps every failure to problem+json and `messages` says each
//! error in the client's language.

pub mod access;
pub mod api;
pub mod audit;
pub mod audit_checkpoint;
pub mod auth;
pub mod cli;
pub mod config;
pub mod csv_file;
pub mod db;
pub mod demo;
pub mod domain;
pub mod error;
pub mod files;
pub mod http;
pub mod input;
pub mod messages;
pub mod protect;
pub mod secrets;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod use_cases;
pub mod xlsx_file;
