//! A fault-injecting TCP proxy for HTTP between nodes (`govmesh bench chaos` and the
//! CLI's fault tests, which include this file). Each hub's registry address is
//! a proxy in front of it; cutting a node off drops every request to it and every
//! request from it to anyone: those it signs (its `Govmesh-Node` header) and those on
//! a connection its process opened (found through `/proc/net/tcp` and the process's
//! file descriptors, for unsigned requests such as a forwarded submission; once per
//! connection, as that lookup is slow while a node is cut off). Connections
//! open at the cut are closed, and requests are read one by one (by Content-Length) so a
//! kept-alive connection cannot carry traffic across the cut.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// The faults shared by every proxy of a test.
#[derive(Default)]
pub struct Faults {
    /// The cut-off node: its id and its process.
    cut: Mutex<Option<(String, u32)>>,
    /// The open relayed connections (both sockets), to close at a cut; each relay
    /// removes its own when it ends, so no descriptor outlives its connection.
    conns: Mutex<std::collections::HashMap<u64, [TcpStream; 2]>>,
    next: std::sync::atomic::AtomicU64,
}

impl Faults {
    pub fn new() -> Arc<Faults> {
        Arc::new(Faults::default())
    }

    /// Cuts `node_id`, served by process `pid`, off from the other nodes.
    pub fn cut_off(&self, node_id: &str, pid: u32) {
        *self.cut.lock().unwrap() = Some((node_id.to_owned(), pid));
        for pair in self.conns.lock().unwrap().values() {
            for c in pair {
                let _ = c.shutdown(Shutdown::Both);
            }
        }
    }

    pub fn heal(&self) {
        *self.cut.lock().unwrap() = None;
    }

    /// Whether a request to `target` on `conn` is dropped. A signed request names its
    /// sender (`source`, which only that node can sign for); an unsigned one is the cut
    /// node's if its process opened `conn`, looked up once per connection and cut
    /// (`opener`). That lookup reads the whole `/proc/net/tcp`, which can hold thousands
    /// of closed connections while a node is cut off (each dropped request is one), and
    /// then takes 0.1 to 3 s: done for every request, it made the requests between the
    /// hubs left in the majority outlast their Raft RPC timeout (the heartbeat interval,
    /// 150 ms), so their new leader could not replicate.
    fn blocked(
        &self,
        target: &str,
        source: Option<&str>,
        conn: &TcpStream,
        opener: &mut Option<(u32, bool)>,
    ) -> bool {
        let cut = self.cut.lock().unwrap().clone();
        let Some((id, pid)) = cut else {
            return false;
        };
        if id == target || source == Some(id.as_str()) {
            return true;
        }
        if source.is_some() {
            return false;
        }
        match *opener {
            Some((p, by_cut)) if p == pid => by_cut,
            _ => {
                let by_cut = opened_by(pid, conn);
                *opener = Some((pid, by_cut));
                by_cut
            }
        }
    }

    /// Registers a relayed connection until the returned guard drops.
    fn track<'a>(&'a self, client: &TcpStream, server: &TcpStream) -> Option<Tracked<'a>> {
        let pair = [client.try_clone().ok()?, server.try_clone().ok()?];
        let id = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.conns.lock().unwrap().insert(id, pair);
        Some(Tracked { faults: self, id })
    }
}

struct Tracked<'a> {
    faults: &'a Faults,
    id: u64,
}

impl Drop for Tracked<'_> {
    fn drop(&mut self) {
        self.faults.conns.lock().unwrap().remove(&self.id);
    }
}

/// A proxy listening on a loopback port picked at run time, in front of `target`.
pub struct Proxy {
    /// `http://127.0.0.1:PORT`, the address to put in the registry.
    pub url: String,
    target_id: Arc<Mutex<String>>,
}

impl Proxy {
    pub fn start(target: &str, faults: Arc<Faults>) -> std::io::Result<Proxy> {
        let l = TcpListener::bind("127.0.0.1:0")?;
        let url = format!("http://{}", l.local_addr()?);
        let target_id = Arc::new(Mutex::new(String::new()));
        let (target, tid) = (target.to_owned(), target_id.clone());
        // The accept thread lives as long as the process.
        std::thread::spawn(move || {
            for client in l.incoming().flatten() {
                let (target, tid, faults) = (target.clone(), tid.clone(), faults.clone());
                std::thread::spawn(move || relay(client, &target, &tid, &faults));
            }
        });
        Ok(Proxy { url, target_id })
    }

    /// Names the node behind the proxy (known once the mesh is founded).
    pub fn set_target_id(&self, id: &str) {
        *self.target_id.lock().unwrap() = id.to_owned();
    }
}

fn relay(client: TcpStream, target: &str, target_id: &Mutex<String>, faults: &Faults) {
    let Ok(server) = TcpStream::connect(target) else {
        return;
    };
    let Some(_tracked) = faults.track(&client, &server) else {
        return;
    };
    let (Ok(mut from_server), Ok(mut to_client)) = (server.try_clone(), client.try_clone()) else {
        return;
    };
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut from_server, &mut to_client);
        let _ = to_client.shutdown(Shutdown::Both);
    });
    let close = || {
        let _ = client.shutdown(Shutdown::Both);
        let _ = server.shutdown(Shutdown::Both);
    };
    let Ok(c) = client.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(c);
    let mut to_server = &server;
    let mut opener = None;
    loop {
        let mut head = Vec::new();
        let mut length = 0usize;
        let mut source = None;
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return close(),
                Ok(_) => {}
            }
            head.extend_from_slice(line.as_bytes());
            let t = line.trim_end();
            if t.is_empty() {
                break;
            }
            if let Some((k, v)) = t.split_once(':') {
                let k = k.trim().to_ascii_lowercase();
                if k == "content-length" {
                    length = v.trim().parse().unwrap_or(0);
                } else if k == "govmesh-node" {
                    source = Some(v.trim().to_owned());
                }
            }
        }
        let target_id = target_id.lock().unwrap().clone();
        if faults.blocked(&target_id, source.as_deref(), &client, &mut opener) {
            return close();
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err()
            || to_server.write_all(&head).is_err()
            || to_server.write_all(&body).is_err()
        {
            return close();
        }
    }
}

/// Whether process `pid` holds the other end of `conn` (a loopback connection into
/// this proxy): the socket whose local port is `conn`'s peer port and whose remote
/// port is ours, looked up in `/proc/net/tcp`, is one of the process's descriptors.
fn opened_by(pid: u32, conn: &TcpStream) -> bool {
    let (Ok(peer), Ok(local)) = (conn.peer_addr(), conn.local_addr()) else {
        return false;
    };
    let want_local = format!(":{:04X}", peer.port());
    let want_remote = format!(":{:04X}", local.port());
    let mut inodes = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() > 9 && f[1].ends_with(&want_local) && f[2].ends_with(&want_remote) {
                inodes.push(format!("socket:[{}]", f[9]));
            }
        }
    }
    if inodes.is_empty() {
        return false;
    }
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten().any(|fd| {
        std::fs::read_link(fd.path())
            .map(|l| inodes.iter().any(|i| l.to_string_lossy() == *i))
            .unwrap_or(false)
    })
}
