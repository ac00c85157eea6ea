//! The `cppcc` command's parts, shared with the benchmark: the local data
//! folder and its PostgreSQL, the suite started in one process, and the
//! demo committee.

#![forbid(unsafe_code)]

pub mod demo;
pub mod local;
pub mod up;
