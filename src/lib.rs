//! Fenghua District disability case registry: one person, one file (一人一档), and the district
//! plan's coverage indicators derived from those files.
//!
//! Layers: `api` (HTTP routes and wire types) over `domain` (validated types and rules) and `db`
//! (schema and queries); `state` is what every handler, the auth guard and the middlewares
//! reach (`AppState`), `startup` wires them, `error` maps every failure to problem+json,
//! `input` reads what clients send (JSON bodies, query strings, merge patches) into types with
//! every fault named, and `messages` says each error in the client's language.
//!
//! The use cases (`residents`, `subsidies`, `home_modifications`, `sections`, ...) reach a
//! resident's file only through `access`, the policy of who may see and change which file, and
//! `whole_file` reads a whole file above the areas it gathers, none of which imports it.

pub mod access;
pub mod accounts;
pub mod api;
pub mod areas;
pub mod audit;
pub mod audit_checkpoint;
pub mod auth;
pub mod cli;
pub mod config;
pub mod corrections;
pub mod csv_file;
pub mod db;
pub mod demo;
pub mod district;
pub mod domain;
pub mod error;
pub mod files;
pub mod home_modifications;
pub mod http;
pub mod indicators;
pub mod input;
pub mod integration;
pub mod messages;
pub mod protect;
pub mod reports;
pub mod residents;
pub mod secrets;
pub mod sections;
pub mod startup;
pub mod state;
pub mod subsidies;
pub mod telemetry;
pub mod whole_file;
pub mod work_queues;
pub mod xlsx_file;
