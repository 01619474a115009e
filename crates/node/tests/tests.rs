//! Integration tests of govmesh-node, one test binary (modules below): real data
//! directories in temp dirs, real servers on loopback ports picked at run time, real
//! HTTP over the socket, real signatures.

mod acks;
mod close_loop;
mod closed;
mod concurrency;
mod council;
mod dashboard;
mod gossip;
mod hostile;
mod init;
mod lists;
mod ops;
mod peers;
mod refusals;
mod replicate;
mod routes;
mod seed_schemas;
mod story;
mod tls;

mod trust;
mod util;
mod witness;
