//! Picking loopback ports for nodes whose addresses must be known before they start
//! (a genesis names them): the demo, the benchmarks and the tests.

use std::collections::BTreeSet;
use std::hash::{BuildHasher, Hasher};
use std::net::{TcpListener, UdpSocket};
use std::sync::Mutex;

/// Ports this process has handed out already.
static HANDED_OUT: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());

/// A loopback port free for TCP and UDP (a node's API and its gossip) right now.
/// Picked at random below the kernel's ephemeral port range, which `bind(0)` and
/// outgoing connections draw from, so that another socket of this machine cannot take
/// it between this check and the node's bind; never the same port twice in one
/// process.
pub fn free_loopback_port() -> std::io::Result<u16> {
    let ephemeral_from = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    let (from, to) = (ephemeral_from / 2, ephemeral_from);
    for _ in 0..10_000 {
        let random = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        // Without room below the ephemeral range, any free port.
        let port = if to > from + 1000 {
            from + (random % u64::from(to - from)) as u16
        } else {
            0
        };
        let Ok(tcp) = TcpListener::bind(("127.0.0.1", port)) else {
            continue;
        };
        let port = tcp.local_addr()?.port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok()
            && HANDED_OUT
                .lock()
                .map_err(|_| std::io::Error::other("the port list's lock is poisoned"))?
                .insert(port)
        {
            return Ok(port);
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::AddrNotAvailable,
        "no free loopback port found (10,000 tries)",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_picked_port_is_bindable_and_never_handed_out_twice() {
        let ports: Vec<u16> = (0..50).map(|_| free_loopback_port().unwrap()).collect();
        let distinct: BTreeSet<u16> = ports.iter().copied().collect();
        assert_eq!(distinct.len(), ports.len());
        let p = ports[0];
        TcpListener::bind(("127.0.0.1", p)).unwrap();
        UdpSocket::bind(("127.0.0.1", p)).unwrap();
    }
}
