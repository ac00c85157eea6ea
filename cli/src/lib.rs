//! The `cppcc` command's parts, shared with the benchmark: the local data
//! folder and its PostgreSQL, the suite started in one process, the demo
//! committee, and the annual report's table and workbook.

#![forbid(unsafe_code)]

pub mod demo;
pub mod local;
pub mod report;
pub mod up;
