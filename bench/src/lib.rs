//! The benchmark's parts: a deterministic generator of realistic forums, the workloads
//! (each through the service and as hand-written SQL), the load driver, and PgBouncer.

pub mod cpu;
pub mod driver;
pub mod generate;
pub mod pgbouncer;
pub mod rng;
pub mod server;
pub mod workload;
